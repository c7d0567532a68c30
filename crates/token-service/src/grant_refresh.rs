//! The `refresh_token` grant (RFC 6749 §6 with RFC 9700 §4.14): each use rotates the token. A
//! rotated token presented again within the grace window gets the same answer (a lost response
//! must not kill an unattended connector); after it, the reuse revokes the whole family.

use chrono::Utc;
use store::repo::installations;
use store::repo::oauth_clients::OauthClient;
use store::repo::refresh_tokens::{self, RefreshToken};

use crate::client_auth::Params;
use crate::error::OAuthError;
use crate::grace;
use crate::issue::{self, PairSpec};
use crate::service::TokenService;

const BAD_TOKEN: &str = "the refresh token is invalid, expired or revoked";

/// Rotates a refresh token into a new pair.
pub(crate) async fn exchange(
    svc: &TokenService,
    client: &OauthClient,
    params: &Params,
) -> Result<Vec<u8>, OAuthError> {
    let presented = params.require("refresh_token")?;
    let db = &svc.inner.db;
    let Some(row) = refresh_tokens::find(db, presented).await? else {
        return Err(svc
            .other_region("refresh token", presented, refresh_tokens::TOKEN_PREFIX)
            .unwrap_or(OAuthError::InvalidGrant(BAD_TOKEN)));
    };
    let installation = installations::find_by_id(db, row.installation_id)
        .await?
        .filter(|i| i.client_id == client.id)
        .ok_or(OAuthError::InvalidGrant(BAD_TOKEN))?;
    if installation.revoked_at.is_some() || row.revoked_at.is_some() || row.expires_at <= Utc::now()
    {
        return Err(OAuthError::InvalidGrant(BAD_TOKEN));
    }
    if let Some(requested) = params.get("scope") {
        let granted: Vec<&str> = row.scopes.split_whitespace().collect();
        if !requested.split_whitespace().all(|s| granted.contains(&s)) {
            return Err(OAuthError::InvalidScope(
                "a scope beyond the original grant".into(),
            ));
        }
    }
    if row.used_at.is_some() || !refresh_tokens::mark_used(db, row.id).await? {
        return replay_or_reuse(svc, presented, &row).await;
    }
    let answer = issue::pair(
        svc,
        PairSpec {
            installation: &installation,
            client,
            family_id: &row.family_id,
            parent_id: Some(row.id),
            code_hash: row.code_hash.clone(),
            scopes: &row.scopes,
        },
    )
    .await?;
    grace::remember(
        svc.inner.kv.as_ref(),
        presented,
        &answer,
        svc.settings().refresh_grace,
    )
    .await?;
    Ok(answer)
}

/// A used token again: the same answer inside the grace window, family revocation after it.
async fn replay_or_reuse(
    svc: &TokenService,
    presented: &str,
    row: &RefreshToken,
) -> Result<Vec<u8>, OAuthError> {
    let used_at = match row.used_at {
        Some(at) => at,
        // We lost the race to mark it used: re-read when the winner did.
        None => refresh_tokens::find(&svc.inner.db, presented)
            .await?
            .and_then(|r| r.used_at)
            .unwrap_or_else(Utc::now),
    };
    let grace = chrono::Duration::from_std(svc.settings().refresh_grace).unwrap_or_default();
    if Utc::now() - used_at <= grace {
        if let Some(answer) = grace::recall(svc.inner.kv.as_ref(), presented).await? {
            return Ok(answer);
        }
        // The first use is still being answered: refuse this one without punishing the family.
        return Err(OAuthError::InvalidGrant(BAD_TOKEN));
    }
    tracing::warn!(family = %row.family_id, "refresh token reused after rotation; revoking the family");
    svc.revoke_family(&row.family_id).await?;
    Err(OAuthError::InvalidGrant(BAD_TOKEN))
}
