//! An organization's bearer tokens: created (the plaintext exists only in the result), revoked
//! (refused on every replica at once).

use chrono::Utc;
use serde_json::json;
use store::OrgScope;
use store::repo::api_tokens::{self, ApiToken, IssuedToken};

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

fn token_event(kind: EventType, token: &ApiToken) -> Event {
    Event::new(
        kind,
        Subject::new("api_token", token.uid.clone()),
        json!({"id": token.uid, "name": token.name, "prefix": token.prefix,
            "expires_at": token.expires_at}),
    )
}

/// Creates a bearer token, valid for `expires_in_days` (forever when `None`). Its name is unique
/// among the organization's live tokens (ignoring case), so a list of tokens can be told apart.
pub async fn create(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    name: &str,
    expires_in_days: Option<u32>,
) -> Result<IssuedToken> {
    let expires_at =
        expires_in_days.map(|days| Utc::now() + chrono::Duration::days(i64::from(days)));
    let mut unit = Unit::begin(core, actor).await?;
    let wanted = name.trim().to_lowercase();
    let taken = api_tokens::list(unit.conn(), scope)
        .await?
        .into_iter()
        .any(|t| t.revoked_at.is_none() && t.name.trim().to_lowercase() == wanted);
    if taken {
        return Err(Error::Conflict(format!(
            "a token named “{}” already exists; choose another name, or revoke that one first",
            name.trim()
        )));
    }
    let issued =
        api_tokens::create(unit.conn(), scope, name, actor.account_id(), expires_at).await?;
    unit.emit(token_event(EventType::ApiTokenCreated, &issued.row));
    let audit = Audit::new(
        "api_token.created",
        "api_token",
        &issued.row.uid,
        json!({"name": issued.row.name, "prefix": issued.row.prefix,
            "expires_at": issued.row.expires_at}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(issued)
}

/// Revokes a bearer token: the next request with it is refused, on every replica (the revocation
/// is announced to their credential caches). Revoking a revoked token changes nothing.
pub async fn revoke(core: &Core, actor: &Actor, scope: &OrgScope, uid: &str) -> Result<ApiToken> {
    let mut unit = Unit::begin(core, actor).await?;
    let before = api_tokens::get(unit.conn(), scope, uid).await?;
    let token = api_tokens::revoke(unit.conn(), scope, uid).await?;
    if before.revoked_at.is_none() {
        unit.emit(token_event(EventType::ApiTokenRevoked, &token));
    }
    let audit = Audit::new(
        "api_token.revoked",
        "api_token",
        &token.uid,
        json!({"name": token.name, "prefix": token.prefix}),
    );
    unit.commit(Some(scope), audit).await?;
    store::credential_cache::announce(core.kv(), scope.org_uid()).await?;
    Ok(token)
}
