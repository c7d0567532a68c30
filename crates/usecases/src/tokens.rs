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

/// How long a rotated token keeps working beside its replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// For this long from the rotation (or until its own expiry, if sooner).
    For(chrono::Duration),
    /// Until someone revokes it (or its own expiry).
    UntilRevoked,
}

impl Overlap {
    /// The overlaps the console offers, by form value: `1h`, `24h`, `7d`, `revoked`.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "1h" => Overlap::For(chrono::Duration::hours(1)),
            "24h" => Overlap::For(chrono::Duration::hours(24)),
            "7d" => Overlap::For(chrono::Duration::days(7)),
            "revoked" => Overlap::UntilRevoked,
            _ => return None,
        })
    }
}

/// A rotation's result: the new token (its plaintext exists only here) and the old one's row,
/// renamed and with its end.
#[derive(Debug)]
pub struct Rotated {
    /// The replacement, under the old token's name.
    pub issued: IssuedToken,
    /// The old token as it is now.
    pub old: ApiToken,
}

/// Replaces a live token with a new one of the same name (valid for `expires_in_days`, forever
/// when `None`): the old is renamed "… (replaced)" and keeps working for `overlap`, so the IdP
/// can be given the new token before the old stops. Every replica honours the old token's end,
/// also from its credential cache (the new end is announced, and cached credentials carry it).
pub async fn rotate(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    uid: &str,
    overlap: Overlap,
    expires_in_days: Option<u32>,
) -> Result<Rotated> {
    let now = Utc::now();
    let ends_at = match overlap {
        Overlap::For(duration) => Some(now + duration),
        Overlap::UntilRevoked => None,
    };
    let expires_at = expires_in_days.map(|days| now + chrono::Duration::days(i64::from(days)));
    let mut unit = Unit::begin(core, actor).await?;
    let before = api_tokens::get(unit.conn(), scope, uid).await?;
    let retired_name = format!(
        "{} (replaced {})",
        before.name.chars().take(70).collect::<String>(),
        now.format("%Y-%m-%d %H:%M")
    );
    let old = api_tokens::retire(unit.conn(), scope, uid, &retired_name, ends_at).await?;
    let issued = api_tokens::create(
        unit.conn(),
        scope,
        &before.name,
        actor.account_id(),
        expires_at,
    )
    .await?;
    unit.emit(token_event(EventType::ApiTokenCreated, &issued.row));
    unit.emit(
        Event::new(
            EventType::ApiTokenRotated,
            Subject::new("api_token", old.uid.clone()),
            json!({"id": old.uid, "name": old.name, "prefix": old.prefix,
                "expires_at": old.expires_at, "replaced_by": issued.row.uid}),
        )
        .with_previous(json!({"name": before.name, "expires_at": before.expires_at})),
    );
    let audit = Audit::new(
        "api_token.rotated",
        "api_token",
        &old.uid,
        json!({"name": before.name, "prefix": old.prefix, "ends_at": old.expires_at,
            "replaced_by": issued.row.uid, "new_prefix": issued.row.prefix,
            "new_expires_at": issued.row.expires_at}),
    );
    unit.commit(Some(scope), audit).await?;
    store::credential_cache::announce(core.kv(), scope.org_uid()).await?;
    Ok(Rotated { issued, old })
}
