//! The key-value port: short-lived state that every replica must see the same way — single-use
//! values (authorization codes), counters with expiry (rate limits), a revocation set, and plain
//! values with a TTL (console sessions). Redis in production; an in-process map for the embedded
//! default. Both pass the same test suite.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryKv;
pub use redis::RedisKv;

use crate::StoreError;

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
    /// Marks `id` revoked for `ttl` (as long as anything it revokes can still be presented).
    async fn revoke(&self, id: &str, ttl: Duration) -> Result<(), StoreError>;
    /// True when `id` is in the revocation set.
    async fn is_revoked(&self, id: &str) -> Result<bool, StoreError>;
    /// Checks the store answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
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
