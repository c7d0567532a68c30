//! The revocation list: access tokens, refresh families and installations that must be refused
//! until every token they cover has expired. The database is the record; the key-value store's
//! revocation set is a cache of it that every verification reads.
//!
//! The cache is known complete by a marker entry written after a full load. A verification checks
//! the marker and its keys in one atomic step: when the marker is missing (Redis restarted
//! without persistence, was flushed, failed over to an empty replica, or this is the in-process
//! store of a fresh process), the list is reloaded from the database before answering. The marker
//! also expires on its own ([`MARKER_TTL`]), so a cache that lost single entries (eviction) is
//! repaired within that time.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::StoreResult;
use crate::db::{Conn, Database, Raw};
use crate::entity::revocations::{self, Entity as Revocations};
use crate::kv::Kv;
use crate::repo::now;

/// The revocation-set entry that says the set holds the whole list.
const MARKER: &str = "@complete";
/// How long a full load is trusted before the next one.
pub const MARKER_TTL: Duration = Duration::from_secs(300);

/// Records `key` as revoked for `ttl` in the database (in the caller's transaction, when it is
/// one). Call [`cache`] after committing.
pub async fn record(conn: &impl Conn, key: &str, ttl: Duration) -> StoreResult<()> {
    let expires_at = now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let row = revocations::ActiveModel {
        key: Set(key.to_owned()),
        expires_at: Set(expires_at),
    };
    Revocations::insert(row)
        .on_conflict(
            OnConflict::column(revocations::Column::Key)
                .update_column(revocations::Column::ExpiresAt)
                .to_owned(),
        )
        .exec_without_returning(conn.raw())
        .await?;
    Ok(())
}

/// Puts a recorded revocation in the key-value store's set, where verifications look.
pub async fn cache(kv: &Kv, key: &str, ttl: Duration) -> StoreResult<()> {
    kv.revoke(key, ttl).await
}

/// Records and caches a revocation (outside any transaction).
pub async fn revoke(db: &Database, kv: &Kv, key: &str, ttl: Duration) -> StoreResult<()> {
    record(db, key, ttl).await?;
    cache(kv, key, ttl).await
}

/// Answers "is any of these revoked?" from the key-value store, reloading it from the database
/// whenever it may have lost entries.
#[derive(Debug)]
pub struct RevocationList {
    db: Database,
    kv: Kv,
    /// One reload at a time per process: the others wait for it rather than repeat it.
    reload: tokio::sync::Mutex<()>,
}

impl RevocationList {
    /// The list over a region's database and key-value store.
    pub fn new(db: Database, kv: Kv) -> Self {
        Self {
            db,
            kv,
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// True when any of `keys` is revoked.
    pub async fn any_revoked(&self, keys: &[&str]) -> StoreResult<bool> {
        if let Some(found) = self.kv.any_revoked_if(MARKER, keys).await? {
            return Ok(found);
        }
        let _one_at_a_time = self.reload.lock().await;
        // Another task may have reloaded while this one waited.
        if let Some(found) = self.kv.any_revoked_if(MARKER, keys).await? {
            return Ok(found);
        }
        let loaded = self.load().await?;
        tracing::info!(
            entries = loaded,
            "revocation cache was incomplete; reloaded it from the database"
        );
        metrics::counter!("scimgate_revocation_cache_reloads_total").increment(1);
        self.kv.any_revoked(keys).await
    }

    /// Copies every live revocation into the key-value store, then marks it complete. Expired
    /// rows are deleted on the way: the table only ever holds what still matters.
    async fn load(&self) -> StoreResult<usize> {
        let at = now();
        Revocations::delete_many()
            .filter(revocations::Column::ExpiresAt.lte(at))
            .exec(self.db.raw())
            .await?;
        let live = Revocations::find()
            .filter(revocations::Column::ExpiresAt.gt(at))
            .all(self.db.raw())
            .await?;
        for row in &live {
            let left = (row.expires_at - Utc::now()).to_std().unwrap_or_default();
            if !left.is_zero() {
                self.kv.revoke(&row.key, left).await?;
            }
        }
        self.kv.revoke(MARKER, MARKER_TTL).await?;
        Ok(live.len())
    }
}
