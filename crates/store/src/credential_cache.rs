//! A replica's memory of the credentials it has verified, so a SCIM request does not read its
//! bearer token from the database every time, without delaying revocation.
//!
//! Every change that can make a cached credential wrong (a token revoked, SCIM switched off, an
//! installation revoked) is [`announce`]d on the key-value store's [`CHANNEL`] after it commits. The
//! replica that made it forgets everything before it answers; the others forget when the message
//! reaches them (Redis pub/sub: milliseconds). While a replica's subscription is not live — before
//! it is established, or after the connection broke and until it is back — its cache is bypassed,
//! since a message may have been missed then. Entries also expire after a short TTL, which bounds
//! what a message lost on a connection that still looks healthy could cost, and what a change made
//! by a process that cannot reach this one (the CLI beside a server on the in-process store) takes
//! to land.
//!
//! A reader takes a [`Ticket`] before it reads the database and presents it to store what it read;
//! an announcement in between voids the ticket, so a read that raced a revocation is never cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::StoreResult;
use crate::kv::{Kv, Listening, Notice};

/// The channel credential changes are announced on.
pub const CHANNEL: &str = "credentials:changed";

/// How long an entry is trusted at most, even when no announcement arrives.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// Entries kept at most; a full cache starts over (only verified credentials are stored, so this
/// is reached only by a very large number of distinct live tokens).
const MAX_ENTRIES: usize = 10_000;

/// Announces that credentials of `org_uid` changed: every replica's cache forgets what it holds.
/// Call it after the change is committed.
pub async fn announce(kv: &Kv, org_uid: &str) -> StoreResult<()> {
    kv.publish(CHANNEL, org_uid.as_bytes()).await
}

/// The right to store what a database read returned, taken before the read.
#[derive(Debug)]
#[must_use = "a ticket is how a read gets cached"]
pub struct Ticket(u64);

#[derive(Debug)]
struct State<V> {
    /// Bumped by every announcement; a ticket of an older epoch is void.
    epoch: u64,
    entries: HashMap<String, (Instant, V)>,
}

#[derive(Debug)]
struct Shared<V> {
    state: Mutex<State<V>>,
    /// Whether announcements from every replica reach this cache.
    live: AtomicBool,
    ttl: Duration,
}

impl<V> Shared<V> {
    fn forget(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.epoch += 1;
            state.entries.clear();
        }
    }

    fn hear(&self, notice: Notice<'_>) {
        match notice {
            Notice::Message(_) => self.forget(),
            Notice::Listening => {
                // Whatever was announced while not listening is unknown: start over.
                self.forget();
                self.live.store(true, Ordering::SeqCst);
            }
            Notice::Lost => {
                self.live.store(false, Ordering::SeqCst);
                self.forget();
            }
        }
    }
}

/// Verified credentials by key (a token's digest, an installation id), with values `V`.
pub struct CredentialCache<V> {
    shared: Arc<Shared<V>>,
    listening: Arc<Listening>,
}

impl<V> Clone for CredentialCache<V> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            listening: self.listening.clone(),
        }
    }
}

impl<V> std::fmt::Debug for CredentialCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("live", &self.shared.live.load(Ordering::Relaxed))
            .field("ttl", &self.shared.ttl)
            .finish_non_exhaustive()
    }
}

impl<V: Clone + Send + 'static> CredentialCache<V> {
    /// A cache that listens for announcements on `kv`; entries live at most `ttl` (zero: nothing
    /// is cached).
    pub fn new(kv: &Kv, ttl: Duration) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                epoch: 0,
                entries: HashMap::new(),
            }),
            live: AtomicBool::new(false),
            ttl,
        });
        let weak = Arc::downgrade(&shared);
        let listening = kv.listen(
            CHANNEL,
            Arc::new(move |notice| {
                if let Some(shared) = weak.upgrade() {
                    shared.hear(notice);
                }
            }),
        );
        Self {
            shared,
            listening: Arc::new(listening),
        }
    }

    /// Whether announcements reach this cache (when not, every lookup misses).
    pub fn is_live(&self) -> bool {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// The value under `key`, or the ticket to store one read from the database.
    pub fn get(&self, key: &str) -> Result<V, Ticket> {
        let Ok(mut state) = self.shared.state.lock() else {
            return Err(Ticket(u64::MAX));
        };
        let ticket = Ticket(state.epoch);
        if !self.is_live() {
            lookup("bypass");
            return Err(ticket);
        }
        match state.entries.get(key) {
            Some((at, value)) if at.elapsed() < self.shared.ttl => {
                lookup("hit");
                Ok(value.clone())
            }
            Some(_) => {
                state.entries.remove(key);
                lookup("miss");
                Err(ticket)
            }
            None => {
                lookup("miss");
                Err(ticket)
            }
        }
    }

    /// Stores `value`, read from the database after `ticket` was taken, unless an announcement
    /// came in between (or the cache is not live).
    pub fn insert(&self, ticket: Ticket, key: String, value: V) {
        if !self.is_live() || self.shared.ttl.is_zero() {
            return;
        }
        let Ok(mut state) = self.shared.state.lock() else {
            return;
        };
        if state.epoch != ticket.0 {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(key, (Instant::now(), value));
    }

    /// Changes the value under `key` in place (its age is kept) and returns what `change` did;
    /// `None` when absent. Concurrent callers take turns, so a change is decided once.
    pub fn update<R>(&self, key: &str, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut state = self.shared.state.lock().ok()?;
        state.entries.get_mut(key).map(|(_, value)| change(value))
    }

    /// Forgets everything held here (what an announcement does on every replica).
    pub fn forget(&self) {
        self.shared.forget();
    }
}

/// Counts a lookup: `hit`, `miss`, or `bypass` (the cache is off or not subscribed).
fn lookup(result: &'static str) {
    metrics::counter!("scimgate_credential_cache_lookups_total", "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn cache(ttl: Duration) -> (Kv, CredentialCache<u32>) {
        let kv: Kv = Arc::new(MemoryKv::new());
        let cache = CredentialCache::new(&kv, ttl);
        (kv, cache)
    }

    #[tokio::test]
    async fn a_read_is_served_until_an_announcement() {
        let (kv, cache) = cache(Duration::from_secs(60));
        let ticket = cache.get("a").expect_err("empty");
        cache.insert(ticket, "a".into(), 7);
        assert_eq!(cache.get("a").ok(), Some(7));
        announce(&kv, "org").await.expect("announce");
        assert!(cache.get("a").is_err(), "forgotten at once");
    }

    #[tokio::test]
    async fn a_read_that_raced_an_announcement_is_not_stored() {
        let (kv, cache) = cache(Duration::from_secs(60));
        let ticket = cache.get("a").expect_err("empty");
        // The database is read here, then a revocation commits and is announced.
        announce(&kv, "org").await.expect("announce");
        cache.insert(ticket, "a".into(), 7);
        assert!(cache.get("a").is_err(), "the stale read was dropped");
    }

    #[tokio::test]
    async fn entries_expire_and_zero_ttl_caches_nothing() {
        let (_kv, cache) = cache(Duration::from_millis(30));
        let ticket = cache.get("a").expect_err("empty");
        cache.insert(ticket, "a".into(), 1);
        assert_eq!(cache.get("a").ok(), Some(1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(cache.get("a").is_err());

        let (_kv, none) = self::cache(Duration::ZERO);
        let ticket = none.get("a").expect_err("empty");
        none.insert(ticket, "a".into(), 1);
        assert!(none.get("a").is_err());
    }

    #[tokio::test]
    async fn a_lost_subscription_bypasses_the_cache_until_it_is_back() {
        let (_kv, cache) = cache(Duration::from_secs(60));
        let ticket = cache.get("a").expect_err("empty");
        cache.insert(ticket, "a".into(), 1);
        cache.shared.hear(Notice::Lost);
        assert!(!cache.is_live());
        let ticket = cache.get("a").expect_err("bypassed");
        cache.insert(ticket, "a".into(), 2);
        assert!(cache.get("a").is_err(), "nothing stored while not live");
        cache.shared.hear(Notice::Listening);
        let ticket = cache.get("a").expect_err("started over");
        cache.insert(ticket, "a".into(), 3);
        assert_eq!(cache.get("a").ok(), Some(3));
    }

    #[tokio::test]
    async fn update_changes_a_held_value_only() {
        let (_kv, cache) = cache(Duration::from_secs(60));
        assert_eq!(cache.update("a", |v| *v += 1), None);
        let ticket = cache.get("a").expect_err("empty");
        cache.insert(ticket, "a".into(), 1);
        assert_eq!(cache.update("a", |v| std::mem::replace(v, 2)), Some(1));
        assert_eq!(cache.get("a").ok(), Some(2));
    }
}
