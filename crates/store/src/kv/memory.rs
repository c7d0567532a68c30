//! The in-process key-value store of the embedded default: a map behind a mutex, entries expiring
//! lazily on access and in a sweep when the map grows. One process only: it is not shared between
//! replicas, which is why production uses Redis. Published messages reach this process's listeners
//! only, synchronously.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Counter, KeyValueStore, Listener, Listening, LocalListeners, Notice};
use crate::StoreError;

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
}

/// The in-process store.
#[derive(Debug, Default)]
pub struct MemoryKv {
    entries: Mutex<HashMap<String, Entry>>,
    listeners: Arc<LocalListeners>,
}

/// Sweep expired entries whenever the map has grown past this many since the last sweep.
const SWEEP_EVERY: usize = 4096;

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entries<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> T,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .entries
            .lock()
            .map_err(|_| StoreError::KeyValue("in-process store lock poisoned".into()))?;
        let now = Instant::now();
        if guard.len() >= SWEEP_EVERY && guard.len().is_power_of_two() {
            guard.retain(|_, e| e.expires_at > now);
        }
        Ok(f(&mut guard, now))
    }
}

fn live<'a>(map: &'a mut HashMap<String, Entry>, key: &str, now: Instant) -> Option<&'a mut Entry> {
    if map.get(key).is_some_and(|e| e.expires_at <= now) {
        map.remove(key);
    }
    map.get_mut(key)
}

/// Adds `by` to the counter under `key`, which starts a `window` when this creates it; answers the
/// new count and how long the window has left.
fn add(
    map: &mut HashMap<String, Entry>,
    now: Instant,
    key: &str,
    by: u64,
    window: Duration,
) -> (u64, Duration) {
    let entry = match live(map, key, now) {
        Some(entry) => entry,
        None => map.entry(key.to_owned()).or_insert(Entry {
            value: 0u64.to_be_bytes().to_vec(),
            expires_at: now + window,
        }),
    };
    let count = entry
        .value
        .as_slice()
        .try_into()
        .map(u64::from_be_bytes)
        .unwrap_or(0)
        .saturating_add(by);
    entry.value = count.to_be_bytes().to_vec();
    (count, entry.expires_at.saturating_duration_since(now))
}

fn revoked_key(id: &str) -> String {
    format!("revoked:{id}")
}

#[async_trait::async_trait]
impl KeyValueStore for MemoryKv {
    async fn put_once(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        self.with_entries(|map, now| {
            if live(map, key, now).is_some() {
                return false;
            }
            map.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: now + ttl,
                },
            );
            true
        })
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_entries(|map, now| {
            map.remove(key)
                .filter(|e| e.expires_at > now)
                .map(|e| e.value)
        })
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.with_entries(|map, now| {
            map.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: now + ttl,
                },
            );
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_entries(|map, now| live(map, key, now).map(|e| e.value.clone()))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.with_entries(|map, now| map.remove(key).is_some_and(|e| e.expires_at > now))
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        Ok(self.incr_window(key, window).await?.0)
    }

    async fn incr_window(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, Duration), StoreError> {
        self.with_entries(|map, now| add(map, now, key, 1, window))
    }

    async fn add_to_counters(
        &self,
        counters: &[Counter<'_>],
    ) -> Result<Vec<(u64, Duration)>, StoreError> {
        self.with_entries(|map, now| {
            counters
                .iter()
                .map(|counter| add(map, now, counter.key, counter.by, counter.window))
                .collect()
        })
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> Result<(), StoreError> {
        self.set(&revoked_key(id), b"1", ttl).await
    }

    async fn is_revoked(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.get(&revoked_key(id)).await?.is_some())
    }

    async fn any_revoked_if(&self, marker: &str, ids: &[&str]) -> Result<Option<bool>, StoreError> {
        self.with_entries(|map, now| {
            live(map, &revoked_key(marker), now)?;
            Some(
                ids.iter()
                    .any(|id| live(map, &revoked_key(id), now).is_some()),
            )
        })
    }

    async fn any_revoked(&self, ids: &[&str]) -> Result<bool, StoreError> {
        self.with_entries(|map, now| {
            ids.iter()
                .any(|id| live(map, &revoked_key(id), now).is_some())
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_entries(|_, _| ())
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.listeners.deliver(channel, message);
        Ok(())
    }

    fn listen(&self, channel: &str, listener: Listener) -> Listening {
        // Every publisher is in this process, so nothing published can be missed.
        listener(Notice::Listening);
        Listening::new(self.listeners.add(channel, listener))
    }
}
