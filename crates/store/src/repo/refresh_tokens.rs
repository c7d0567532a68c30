//! Opaque refresh tokens: 256 random bits, stored as a SHA-256 digest. Each use rotates the token
//! (the used one records `used_at`, its child points at it through `parent_id`); all tokens of one
//! authorization share a `family_id`, so reuse of a rotated token revokes the whole family.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::now;
use crate::StoreResult;
use crate::db::{Conn, Raw};
use crate::entity::refresh_tokens::{self, Entity as RefreshTokens};
use crate::ids::{InstallationId, OrgId, RefreshTokenId};
use crate::secret::{random_token, sha256_hex};

/// A refresh-token row (never holds the token itself).
pub type RefreshToken = refresh_tokens::Model;

/// Every refresh token starts with this, so secret scanners recognise it.
pub const TOKEN_PREFIX: &str = "sgr_";

/// What a new refresh token is bound to.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// The issuing region (the token is prefixed with it).
    pub region: String,
    /// The installation it acts for.
    pub installation_id: InstallationId,
    /// The installation's organization.
    pub org_id: OrgId,
    /// The rotation family (one per redeemed code).
    pub family_id: String,
    /// The token this one replaces.
    pub parent_id: Option<RefreshTokenId>,
    /// The digest of the code that started the family.
    pub code_hash: Option<String>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// When it stops working unless rotated before (the idle lifetime).
    pub expires_at: DateTime<Utc>,
}

/// Creates a token; returns its row and the plaintext to hand out once.
pub async fn issue(conn: &impl Conn, new: NewRefreshToken) -> StoreResult<(RefreshToken, String)> {
    let token = format!(
        "{TOKEN_PREFIX}{}",
        crate::grants::regional(&new.region, &random_token(32))
    );
    let row = refresh_tokens::ActiveModel {
        token_hash: Set(sha256_hex(&token)),
        family_id: Set(new.family_id),
        parent_id: Set(new.parent_id),
        installation_id: Set(new.installation_id),
        org_id: Set(new.org_id),
        code_hash: Set(new.code_hash),
        scopes: Set(new.scopes),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    let row = RefreshTokens::insert(row)
        .exec_with_returning(conn.raw())
        .await?;
    Ok((row, token))
}

/// Finds a token by its plaintext, whatever its state.
pub async fn find(conn: &impl Conn, presented: &str) -> StoreResult<Option<RefreshToken>> {
    if !presented.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(RefreshTokens::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(presented)))
        .one(conn.raw())
        .await?)
}

/// Marks a token used, only if nobody did before: of concurrent rotations one wins. True when
/// this call won.
pub async fn mark_used(conn: &impl Conn, id: RefreshTokenId) -> StoreResult<bool> {
    let result = RefreshTokens::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now()))
        .filter(refresh_tokens::Column::Id.eq(id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every live token of a family; returns how many.
pub async fn revoke_family(conn: &impl Conn, family_id: &str) -> StoreResult<u64> {
    revoke_where(conn, refresh_tokens::Column::FamilyId.eq(family_id)).await
}

/// Revokes every live token of an installation; returns how many.
pub async fn revoke_installation(
    conn: &impl Conn,
    installation_id: InstallationId,
) -> StoreResult<u64> {
    revoke_where(
        conn,
        refresh_tokens::Column::InstallationId.eq(installation_id),
    )
    .await
}

async fn revoke_where(
    conn: &impl Conn,
    condition: sea_orm::sea_query::SimpleExpr,
) -> StoreResult<u64> {
    let result = RefreshTokens::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now()))
        .filter(condition)
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected)
}

/// True when any token of the family was revoked (a family dies whole).
pub async fn family_revoked(conn: &impl Conn, family_id: &str) -> StoreResult<bool> {
    Ok(RefreshTokens::find()
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_not_null())
        .one(conn.raw())
        .await?
        .is_some())
}
