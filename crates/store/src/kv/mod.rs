//! The key-value port: short-lived state that every replica must see the same way — single-use
//! values (authorization codes), counters with expiry (rate limits), a revocation set, and plain
//! values with a TTL (console sessions), and notices every replica must hear (a credential changed).
//! Redis in production; an in-process map for the embedded default. Both pass the same test suite.

mod memory;
mod redis;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use memory::MemoryKv;
pub use redis::RedisKv;

use crate::StoreError;

/// What [`KeyValueStore::add_to_counters`] adds to one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter<'a> {
    /// The counter's key.
    pub key: &'a str,
    /// How much to add.
    pub by: u64,
    /// The expiry window the counter starts when this creates it.
    pub window: Duration,
}

/// A shared handle to the configured key-value store.
pub type Kv = Arc<dyn KeyValueStore>;

/// What scimgate needs from a key-value store. Every operation is atomic on its own.
#[async_trait::async_trait]
pub trait KeyValueStore: Send + Sync + std::fmt::Debug {
    /// Stores `value` under `key` for `ttl` unless the key exists. True when stored.
    async fn put_once(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;
    /// Removes and returns the value under `key`: of any number of concurrent takers, one wins.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key` for `ttl`, replacing what was there.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    /// Reads the value under `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes `key`; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Increments the counter under `key`, starting a `window` expiry when it is created, and
    /// returns the new count (fixed-window rate limiting).
    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError>;
    /// [`KeyValueStore::incr`] that also says how long the current window has left (what a
    /// `Retry-After` tells a caller over its limit).
    async fn incr_window(&self, key: &str, window: Duration)
    -> Result<(u64, Duration), StoreError>;
    /// Adds `by` to each of `counters` as [`KeyValueStore::incr_window`] adds one, and answers
    /// each one's new count and how long its window has left, in order. One round trip for all.
    async fn add_to_counters(
        &self,
        counters: &[Counter<'_>],
    ) -> Result<Vec<(u64, Duration)>, StoreError>;
    /// Marks `id` revoked for `ttl` (as long as anything it revokes can still be presented).
    async fn revoke(&self, id: &str, ttl: Duration) -> Result<(), StoreError>;
    /// True when `id` is in the revocation set.
    async fn is_revoked(&self, id: &str) -> Result<bool, StoreError>;
    /// True when any of `ids` is in the revocation set (one round trip).
    async fn any_revoked(&self, ids: &[&str]) -> Result<bool, StoreError>;
    /// Like [`KeyValueStore::any_revoked`], atomically with a check that `marker` is in the set
    /// too: `None` when it is not (the set may have lost entries and must be reloaded).
    async fn any_revoked_if(&self, marker: &str, ids: &[&str]) -> Result<Option<bool>, StoreError>;
    /// Checks the store answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Whether other processes (replicas, the CLI) share this store, so what they publish
    /// reaches this one.
    fn is_shared(&self) -> bool;
    /// Delivers `message` to every listener of `channel`: this process's before returning, other
    /// replicas' through the store (Redis pub/sub, at most once).
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError>;
    /// Calls `listener` with what is published on `channel` until the returned guard is dropped.
    /// It hears [`Notice::Listening`] once messages from every replica reach it, and
    /// [`Notice::Lost`] when they may no longer (the store's connection broke); a listener that
    /// has not heard `Listening`, or heard `Lost` since, must assume it missed messages.
    fn listen(&self, channel: &str, listener: Listener) -> Listening;
}

/// What a listener of a channel hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// From now on every message published on the channel, by any replica, reaches the listener.
    Listening,
    /// A message.
    Message(&'a [u8]),
    /// Messages published from now until the next `Listening` may be missed.
    Lost,
}

/// A channel listener (called on the store's task: it must not block).
pub type Listener = Arc<dyn Fn(Notice<'_>) + Send + Sync>;

/// Keeps a listener subscribed; dropping it unsubscribes.
pub struct Listening {
    stop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Listening {
    fn new(stop: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            stop: Some(Box::new(stop)),
        }
    }
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening").finish_non_exhaustive()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// This process's listeners, by channel: the synchronous half of [`KeyValueStore::publish`], so
/// the replica that makes a change has acted on it before it answers.
#[derive(Default)]
struct LocalListeners {
    next_id: std::sync::atomic::AtomicU64,
    by_id: Mutex<Vec<(u64, String, Listener)>>,
}

impl std::fmt::Debug for LocalListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalListeners").finish_non_exhaustive()
    }
}

impl LocalListeners {
    fn add(
        self: &Arc<Self>,
        channel: &str,
        listener: Listener,
    ) -> impl FnOnce() + Send + Sync + use<> {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut all) = self.by_id.lock() {
            all.push((id, channel.to_owned(), listener));
        }
        let this = Arc::downgrade(self);
        move || {
            if let Some(this) = this.upgrade()
                && let Ok(mut all) = this.by_id.lock()
            {
                all.retain(|(other, _, _)| *other != id);
            }
        }
    }

    fn deliver(&self, channel: &str, message: &[u8]) {
        // Called outside the lock: a listener may itself listen or publish.
        let listeners: Vec<Listener> = match self.by_id.lock() {
            Ok(all) => all
                .iter()
                .filter(|(_, c, _)| c == channel)
                .map(|(_, _, l)| l.clone())
                .collect(),
            Err(_) => Vec::new(),
        };
        for listener in listeners {
            listener(Notice::Message(message));
        }
    }
}

/// Opens the store a URL names: `memory://` for the in-process one, `redis://` or `rediss://`.
/// Every key is prefixed with `namespace`, so regions or tests can share one Redis.
pub async fn open(url: &str, namespace: &str) -> Result<Kv, StoreError> {
    if url == "memory://" || url == "memory" {
        Ok(Arc::new(MemoryKv::new()))
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(Arc::new(RedisKv::connect(url, namespace).await?))
    } else {
        Err(StoreError::Invalid(format!(
            "unsupported key-value URL '{url}': expected memory://, redis:// or rediss://"
        )))
    }
}
