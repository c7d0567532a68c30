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
