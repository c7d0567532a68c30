//! JWT signing keys and their lifecycle: `next` (published in the JWKS, not yet signing) →
//! `active` (signing) → `retired` (published until the last token it signed has expired, then
//! deleted). The database allows one `active` and one `next` key (m0002), so replicas that race
//! to create one end up sharing the winner's. Key material is made by the token service.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::signing_keys::{self, Entity as SigningKeys};
use crate::{StoreError, StoreResult};

/// A signing-key row.
pub type SigningKey = signing_keys::Model;

/// Published, not signing yet.
pub const NEXT: &str = "next";
/// The one key that signs.
pub const ACTIVE: &str = "active";
/// No longer signs; published until its last token expires.
pub const RETIRED: &str = "retired";

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    /// Key id (the JWT header's `kid`).
    pub kid: String,
    /// JWS algorithm (`ES256`).
    pub algorithm: String,
    /// PKCS#8 PEM of the private key.
    pub private_key_pem: String,
    /// The public JWK, as JSON.
    pub public_jwk: String,
}

/// Stores a key in `state` (`NEXT` or `ACTIVE`). `None` when another process already holds a key
/// in that state: the caller then uses that one.
pub async fn insert(
    conn: &impl Conn,
    key: NewSigningKey,
    state: &'static str,
) -> StoreResult<Option<SigningKey>> {
    let at = now();
    let row = signing_keys::ActiveModel {
        kid: Set(key.kid),
        algorithm: Set(key.algorithm),
        private_key_pem: Set(key.private_key_pem),
        public_jwk: Set(key.public_jwk),
        state: Set(state.to_owned()),
        created_at: Set(at),
        activated_at: Set((state == ACTIVE).then_some(at)),
        retired_at: Set(None),
        ..Default::default()
    };
    match SigningKeys::insert(row)
        .exec_with_returning(conn.raw())
        .await
    {
        Ok(row) => Ok(Some(row)),
        Err(e) => match StoreError::from_db_unique(e, "signing key") {
            StoreError::Conflict(_) => Ok(None),
            other => Err(other),
        },
    }
}

/// The key in `state` (`NEXT` or `ACTIVE`), if any.
pub async fn in_state(conn: &impl Conn, state: &str) -> StoreResult<Option<SigningKey>> {
    Ok(SigningKeys::find()
        .filter(signing_keys::Column::State.eq(state))
        .one(conn.raw())
        .await?)
}

/// Every key a verifier must know: next, active, and retired ones retired after `cutoff`.
pub async fn published(conn: &impl Conn, cutoff: DateTime<Utc>) -> StoreResult<Vec<SigningKey>> {
    Ok(SigningKeys::find()
        .filter(
            Condition::any()
                .add(signing_keys::Column::State.is_in([NEXT, ACTIVE]))
                .add(signing_keys::Column::RetiredAt.gt(cutoff)),
        )
        .order_by_asc(signing_keys::Column::Id)
        .all(conn.raw())
        .await?)
}

/// Retires the active key and activates the next one, in that order (one `active` at a time).
/// Run inside a transaction. Returns the newly active key, or `None` when there was no next key.
pub async fn promote_next(conn: &impl Conn) -> StoreResult<Option<SigningKey>> {
    let Some(next) = in_state(conn, NEXT).await? else {
        return Ok(None);
    };
    let at = now();
    SigningKeys::update_many()
        .col_expr(signing_keys::Column::State, Expr::value(RETIRED))
        .col_expr(signing_keys::Column::RetiredAt, Expr::value(at))
        .filter(signing_keys::Column::State.eq(ACTIVE))
        .exec(conn.raw())
        .await?;
    SigningKeys::update_many()
        .col_expr(signing_keys::Column::State, Expr::value(ACTIVE))
        .col_expr(signing_keys::Column::ActivatedAt, Expr::value(at))
        .filter(signing_keys::Column::Id.eq(next.id))
        .exec(conn.raw())
        .await?;
    Ok(SigningKeys::find_by_id(next.id).one(conn.raw()).await?)
}

/// Deletes retired keys retired before `cutoff` (no token they signed is still valid).
pub async fn delete_retired_before(conn: &impl Conn, cutoff: DateTime<Utc>) -> StoreResult<u64> {
    let result = SigningKeys::delete_many()
        .filter(signing_keys::Column::State.eq(RETIRED))
        .filter(signing_keys::Column::RetiredAt.lte(cutoff))
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected)
}
