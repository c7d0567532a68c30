//! An organization's bearer tokens. The plaintext is returned once at creation; the database keeps
//! its SHA-256 digest (the lookup key) and a short prefix to recognise it in lists.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::api_tokens::{self, Entity as ApiTokens};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::ids::{AccountId, ApiTokenId};
use crate::secret::{random_token, sha256_hex};
use crate::{OrgScope, StoreError, StoreResult};

/// An API token row (never holds the token itself).
pub type ApiToken = api_tokens::Model;

/// Every token starts with this, so secret scanners and people recognise it.
pub const TOKEN_PREFIX: &str = "sgt_";
/// How many leading characters of a token are kept for display.
pub const DISPLAY_PREFIX_LEN: usize = 12;
/// `last_used_at` is written at most this often per token, so authentication is not a write.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// A token that has just been created: the only moment its plaintext exists.
#[derive(Debug)]
pub struct IssuedToken {
    /// The stored row.
    pub row: ApiToken,
    /// The bearer token to show once.
    pub token: String,
}

/// What a valid token proves, and what is needed to keep checking it without reading it again.
#[derive(Debug, Clone)]
pub struct TokenPrincipal {
    /// The organization the token belongs to.
    pub scope: OrgScope,
    /// The token's public id (for audit rows).
    pub token_uid: String,
    /// Whether the organization has SCIM enabled, read with the token (one round trip).
    pub scim_enabled: bool,
    /// The token's row id.
    pub token_id: ApiTokenId,
    /// When the token expires, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When `last_used_at` was last written.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenPrincipal {
    /// Whether the token is still within its lifetime at `at`.
    pub fn is_current(&self, at: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|exp| exp > at)
    }

    /// Whether a use at `at` should be written to `last_used_at` (at most once a minute).
    pub fn is_use_due(&self, at: DateTime<Utc>) -> bool {
        use_due(self.last_used_at, at)
    }
}

/// Whether a credential last recorded as used at `last` should be recorded again at `at` (at most
/// once a minute, so authentication is rarely a write).
pub fn use_due(last: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    last.is_none_or(|last| at - last >= LAST_USED_GRANULARITY)
}

/// The lookup key of a presented token (its SHA-256 digest), or `None` when it is not one of ours.
pub fn digest(presented: &str) -> Option<String> {
    presented
        .starts_with(TOKEN_PREFIX)
        .then(|| sha256_hex(presented))
}

/// Creates a token for the organization.
pub async fn create(
    conn: &impl Conn,
    scope: &OrgScope,
    name: &str,
    created_by: Option<AccountId>,
    expires_at: Option<DateTime<Utc>>,
) -> StoreResult<IssuedToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "token name must be 1 to 100 characters".into(),
        ));
    }
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(StoreError::Invalid(
            "token expiry must be in the future".into(),
        ));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_token(32));
    let row = api_tokens::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        name: Set(name.to_owned()),
        token_hash: Set(sha256_hex(&token)),
        prefix: Set(token.chars().take(DISPLAY_PREFIX_LEN).collect()),
        created_by: Set(created_by),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    let row = ApiTokens::insert(row)
        .exec_with_returning(conn.raw())
        .await?;
    Ok(IssuedToken { row, token })
}

/// Checks a presented bearer token. Returns the organization it proves, or `None` for an unknown,
/// revoked or expired token (the caller answers all three alike). The use is not recorded here: a
/// request can still be refused (SCIM disabled, another organization); the caller records it with
/// [`record_use`] once the request is accepted.
pub async fn authenticate(
    conn: &impl Conn,
    presented: &str,
) -> StoreResult<Option<TokenPrincipal>> {
    let Some(digest) = digest(presented) else {
        return Ok(None);
    };
    // The token and its organization in one round trip: this runs on every uncached SCIM request.
    let to_org = ApiTokens::belongs_to(Organizations)
        .from(api_tokens::Column::OrgId)
        .to(organizations::Column::Id)
        .into();
    let Some((token, Some(org))) = ApiTokens::find()
        .filter(api_tokens::Column::TokenHash.eq(digest))
        .join(JoinType::InnerJoin, to_org)
        .select_also(Organizations)
        .one(conn.raw())
        .await?
    else {
        return Ok(None);
    };
    let principal = TokenPrincipal {
        scope: OrgScope::new(org.id, org.uid),
        token_uid: token.uid,
        scim_enabled: org.scim_enabled,
        token_id: token.id,
        expires_at: token.expires_at,
        last_used_at: token.last_used_at,
    };
    if token.revoked_at.is_some() || !principal.is_current(now()) {
        return Ok(None);
    }
    Ok(Some(principal))
}

/// Writes a token's `last_used_at`.
pub async fn record_use(
    conn: &impl Conn,
    token_id: ApiTokenId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    ApiTokens::update_many()
        .col_expr(
            api_tokens::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(api_tokens::Column::Id.eq(token_id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// The organization's tokens, newest first.
pub async fn list(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Vec<ApiToken>> {
    Ok(scope
        .select::<ApiTokens>()
        .order_by_desc(api_tokens::Column::Id)
        .all(conn.raw())
        .await?)
}

/// One of the organization's tokens by its public id.
pub async fn get(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<ApiToken> {
    scope
        .select::<ApiTokens>()
        .filter(api_tokens::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("token"))
}

/// Revokes a token at once. Revoking a revoked token is a no-op.
pub async fn revoke(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<ApiToken> {
    let token = get(conn, scope, uid).await?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let mut row: api_tokens::ActiveModel = token.into();
    row.revoked_at = Set(Some(now()));
    Ok(scope.update(row)?.exec(conn.raw()).await?)
}

/// Retires a token replaced by a rotation: it is renamed `name` and, when `ends_at` is given,
/// stops at that time (or at its own expiry, whichever comes first). Only a live token can be
/// retired.
pub async fn retire(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
    name: &str,
    ends_at: Option<DateTime<Utc>>,
) -> StoreResult<ApiToken> {
    let token = get(conn, scope, uid).await?;
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now()) {
        return Err(StoreError::Invalid(
            "only an active token can be rotated; this one no longer works".into(),
        ));
    }
    let ends_at = match (ends_at, token.expires_at) {
        (Some(end), Some(own)) => Some(end.min(own)),
        (end, own) => end.or(own),
    };
    let mut row: api_tokens::ActiveModel = token.into();
    row.name = Set(name.chars().take(100).collect());
    row.expires_at = Set(ends_at);
    Ok(scope.update(row)?.exec(conn.raw()).await?)
}
