//! Fixed-window rate limits over the key-value port, shared by every replica: the login form and
//! the token endpoint count attempts per client address (the TCP peer, never a forwarded header
//! an attacker could set) and per client.

use std::time::Duration;

use crate::StoreResult;
use crate::kv::KeyValueStore;

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
    if limit.max == 0 {
        return Ok(true);
    }
    Ok(kv.incr(&format!("rate:{key}"), limit.window).await? <= limit.max)
}
