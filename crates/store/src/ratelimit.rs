//! Fixed-window rate limits over the key-value port, shared by every replica: the login form and
//! the token endpoint count attempts per client address (the TCP peer, never a forwarded header
//! an attacker could set) and per client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::StoreResult;
use crate::kv::{Counter, KeyValueStore, Kv};

/// A limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Hits allowed per window.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

impl Limit {
    /// `max` hits per minute.
    pub fn per_minute(max: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }
}

/// Counts one hit on `key` under `limit`; false when the caller is over it. A limit of 0 is off.
pub async fn allow(kv: &dyn KeyValueStore, key: &str, limit: Limit) -> StoreResult<bool> {
    Ok(check(kv, key, limit).await?.is_ok())
}

/// Counts one hit on `key` under `limit`: `Err(retry_after)` when the caller is over it, with how
/// long until the window ends (at least a second). A limit of 0 is off.
pub async fn check(
    kv: &dyn KeyValueStore,
    key: &str,
    limit: Limit,
) -> StoreResult<Result<(), Duration>> {
    if limit.max == 0 {
        return Ok(Ok(()));
    }
    let (count, left) = kv.incr_window(&format!("rate:{key}"), limit.window).await?;
    Ok(if count <= limit.max {
        Ok(())
    } else {
        Err(left.max(Duration::from_secs(1)))
    })
}

/// How long this process's hits may wait before they are added to the shared counters: what a
/// replica may admit beyond a limit another replica has already used up.
pub const SHARE_EVERY: Duration = Duration::from_millis(50);

/// How many counters a process keeps before ended ones are forgotten as new ones come.
const FORGET_FROM: usize = 1024;

/// Rate limits decided without a round trip: from the shared count this process last read plus
/// its own hits since, which a background task ([`SharedLimits::share_forever`]) adds to the
/// key-value store at most [`SHARE_EVERY`] later, reading back what every replica counted.
///
/// On the hot path of every SCIM request this replaces a round trip to Redis (for two limits,
/// two) with a lock held for a few map lookups. The price is precision across replicas: each may
/// admit what it receives in one [`SHARE_EVERY`] beyond a limit the others used up. Within one
/// process the count is exact; while the store is unreachable each replica still holds every
/// limit on its own hits, and they are added once it answers again (if their window has not
/// ended).
#[derive(Debug)]
pub struct SharedLimits {
    kv: Kv,
    counters: Mutex<HashMap<String, LocalCounter>>,
    hits_waiting: Notify,
}

/// One limit's counter as this process knows it.
#[derive(Debug)]
struct LocalCounter {
    window: Duration,
    /// When the window ends (the store's reckoning since the last time it was read).
    ends: Instant,
    /// The store's count when last read, this process's hits included.
    shared: u64,
    /// This process's hits on their way to the store.
    sending: u64,
    /// This process's hits not sent yet.
    waiting: u64,
}

impl LocalCounter {
    fn starting(now: Instant, window: Duration) -> Self {
        Self {
            window,
            ends: now + window,
            shared: 0,
            sending: 0,
            waiting: 0,
        }
    }

    fn count(&self) -> u64 {
        self.shared + self.sending + self.waiting
    }

    /// Whether it still matters: its window runs, or hits of it are still to reach the store.
    fn matters(&self, now: Instant) -> bool {
        now < self.ends || self.waiting > 0 || self.sending > 0
    }
}

impl SharedLimits {
    /// Limits counted in `kv` (shared with the other replicas when it is Redis).
    pub fn new(kv: Kv) -> Arc<Self> {
        Arc::new(Self {
            kv,
            counters: Mutex::default(),
            hits_waiting: Notify::new(),
        })
    }

    /// Counts one hit on each of `checks` (a key and its limit) in order, and stops at the first
    /// the caller is over: `Err((index, retry_after))`, with how long until its window ends (at
    /// least a second). A refused hit is not counted, nor are the checks after it. Limits of 0
    /// are off.
    pub fn check(&self, checks: &[(&str, Limit)]) -> Result<(), (usize, Duration)> {
        let now = Instant::now();
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counters.len() >= FORGET_FROM && counters.len().is_power_of_two() {
            // Without a shared store nothing else forgets ended windows.
            counters.retain(|_, c| c.matters(now));
        }
        let mut first_waiting = false;
        let mut verdict = Ok(());
        for (index, (key, limit)) in checks.iter().enumerate() {
            if limit.max == 0 {
                continue;
            }
            if !counters.contains_key(*key) {
                counters.insert((*key).to_owned(), LocalCounter::starting(now, limit.window));
            }
            let Some(counter) = counters.get_mut(*key) else {
                continue;
            };
            if now >= counter.ends {
                // The window ended: what was counted in it, sent or not, no longer matters.
                *counter = LocalCounter::starting(now, limit.window);
            }
            if counter.count() >= limit.max {
                let left = counter.ends.saturating_duration_since(now);
                verdict = Err((index, left.max(Duration::from_secs(1))));
                break;
            }
            counter.waiting += 1;
            first_waiting |= counter.waiting == 1;
        }
        drop(counters);
        if first_waiting {
            self.hits_waiting.notify_one();
        }
        verdict
    }

    /// Adds the hits waiting to the store and reads back every replica's counts; the
    /// counters whose window ended with nothing waiting are forgotten.
    pub async fn share(&self) -> StoreResult<()> {
        let batch: Vec<(String, u64, Duration)> = {
            let now = Instant::now();
            let mut counters = self
                .counters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            counters.retain(|_, c| c.matters(now));
            counters
                .iter_mut()
                .filter(|(_, c)| c.waiting > 0)
                .map(|(key, c)| {
                    c.sending += c.waiting;
                    let sent = std::mem::take(&mut c.waiting);
                    (key.clone(), sent, c.window)
                })
                .collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = batch
            .iter()
            .map(|(key, ..)| format!("rate:{key}"))
            .collect();
        let adds: Vec<Counter<'_>> = batch
            .iter()
            .zip(&keys)
            .map(|((_, by, window), key)| Counter {
                key,
                by: *by,
                window: *window,
            })
            .collect();
        let answer = self.kv.add_to_counters(&adds).await;
        let now = Instant::now();
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answer {
            Ok(counts) => {
                for ((key, sent, _), (count, left)) in batch.iter().zip(counts) {
                    if let Some(counter) = counters.get_mut(key) {
                        counter.sending = counter.sending.saturating_sub(*sent);
                        counter.shared = count;
                        counter.ends = now + left;
                    }
                }
                Ok(())
            }
            Err(error) => {
                // Sent again with the next batch; a counter whose window ended meanwhile was
                // started over by `check` and drops them.
                for (key, sent, _) in &batch {
                    if let Some(counter) = counters.get_mut(key) {
                        let back = counter.sending.min(*sent);
                        counter.sending -= back;
                        counter.waiting += back;
                    }
                }
                Err(error)
            }
        }
    }

    /// Shares the hits [`SHARE_EVERY`] after the first of a batch, for as long as it runs;
    /// asleep while no request comes. An in-process store is this process's alone: nothing to
    /// share.
    pub async fn share_forever(self: Arc<Self>) {
        if !self.kv.is_shared() {
            return;
        }
        let mut failing = false;
        loop {
            self.hits_waiting.notified().await;
            tokio::time::sleep(SHARE_EVERY).await;
            match self.share().await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("rate-limit counts reach the key-value store again");
                }
                Ok(()) => {}
                Err(error) => {
                    metrics::counter!("scimgate_rate_limit_share_failures_total").increment(1);
                    if !failing {
                        failing = true;
                        tracing::warn!(%error, "cannot add rate-limit counts to the key-value store; limits hold per replica until it answers");
                    }
                    // Try again with the next hits, or within a second if none come.
                    self.hits_waiting.notify_one();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
