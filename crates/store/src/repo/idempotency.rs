//! `Idempotency-Key`: the first answer to a POST, kept so that a retry of the same request gets
//! the same answer instead of doing it twice (a second organization, a second member). The key is
//! claimed before the request runs, so two concurrent tries cannot both run it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::idempotency_keys::{self, Entity as Keys};
use crate::ids::IdempotencyKeyId;
use crate::{StoreError, StoreResult};

/// Longest key accepted (they are UUIDs in practice).
pub const MAX_KEY_LEN: usize = 255;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A new key: run the request, then [`complete`] (or [`release`] when it failed for a reason
    /// a retry may not meet).
    Fresh(IdempotencyKeyId),
    /// The key answered before: send this again.
    Replay {
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Claims `key` of `client_id` for a request whose method, path and body hash to `fingerprint`.
pub async fn claim(
    conn: &impl Conn,
    client_id: &str,
    key: &str,
    fingerprint: &str,
) -> StoreResult<Claim> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable characters"
        )));
    }
    let row = idempotency_keys::ActiveModel {
        client_id: Set(client_id.to_owned()),
        key: Set(key.to_owned()),
        fingerprint: Set(fingerprint.to_owned()),
        status: Set(None),
        response: Set(None),
        created_at: Set(now()),
        completed_at: Set(None),
        ..Default::default()
    };
    let inserted = Keys::insert(row)
        .on_conflict_do_nothing_on([
            idempotency_keys::Column::ClientId,
            idempotency_keys::Column::Key,
        ])
        .exec(conn.raw())
        .await?;
    if let sea_orm::TryInsertResult::Inserted(result) = inserted {
        return Ok(Claim::Fresh(result.last_insert_id));
    }
    let existing = Keys::find()
        .filter(idempotency_keys::Column::ClientId.eq(client_id))
        .filter(idempotency_keys::Column::Key.eq(key))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("idempotency key"))?;
    if existing.fingerprint != fingerprint {
        return Ok(Claim::Mismatch);
    }
    Ok(match (existing.status, existing.response) {
        (Some(status), Some(body)) => Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        _ => Claim::InProgress,
    })
}

/// Records the answer of a claimed key.
pub async fn complete(
    conn: &impl Conn,
    id: IdempotencyKeyId,
    status: u16,
    body: &str,
) -> StoreResult<()> {
    Keys::update_many()
        .col_expr(
            idempotency_keys::Column::Status,
            Expr::value(i32::from(status)),
        )
        .col_expr(idempotency_keys::Column::Response, Expr::value(body))
        .col_expr(idempotency_keys::Column::CompletedAt, Expr::value(now()))
        .filter(idempotency_keys::Column::Id.eq(id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Gives a claimed key up (the request failed on our side): a retry runs it again.
pub async fn release(conn: &impl Conn, id: IdempotencyKeyId) -> StoreResult<()> {
    Keys::delete_many()
        .filter(idempotency_keys::Column::Id.eq(id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Forgets keys created before `before`.
pub async fn prune(conn: &impl Conn, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(Keys::delete_many()
        .filter(idempotency_keys::Column::CreatedAt.lt(before))
        .exec(conn.raw())
        .await?
        .rows_affected)
}
