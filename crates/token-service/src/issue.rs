//! Minting a token pair for an installation: a rotating refresh token (database) and a JWT access
//! token (key ring), serialized once so the grace window can replay the exact same answer.

use chrono::Utc;
use store::StoreError;
use store::repo::installations;
use store::repo::installations::Installation;
use store::repo::oauth_clients::OauthClient;
use store::repo::refresh_tokens::{self, NewRefreshToken};

use crate::error::OAuthError;
use crate::jwt::{self, AccessGrant};
use crate::service::{TokenService, family_key};
use crate::token::TokenResponse;

/// Where a new pair comes from.
#[derive(Debug, Clone)]
pub(crate) struct PairSpec<'a> {
    pub installation: &'a Installation,
    pub client: &'a OauthClient,
    pub family_id: &'a str,
    pub parent_id: Option<store::ids::RefreshTokenId>,
    pub code_hash: Option<String>,
    pub scopes: &'a str,
}

/// Issues the pair and returns the serialized token response.
pub(crate) async fn pair(svc: &TokenService, spec: PairSpec<'_>) -> Result<Vec<u8>, OAuthError> {
    let db = &svc.inner.db;
    let org = installations::organization(db, spec.installation)
        .await?
        .ok_or(OAuthError::InvalidGrant(
            "the organization no longer exists",
        ))?;
    let idle = chrono::Duration::from_std(svc.settings().refresh_idle)
        .unwrap_or(chrono::Duration::days(90));
    let (_, refresh_token) = refresh_tokens::issue(
        db,
        NewRefreshToken {
            region: svc.inner.settings.region_id.clone(),
            installation_id: spec.installation.id,
            org_id: spec.installation.org_id,
            family_id: spec.family_id.to_owned(),
            parent_id: spec.parent_id,
            code_hash: spec.code_hash,
            scopes: spec.scopes.to_owned(),
            expires_at: Utc::now() + idle,
        },
    )
    .await?;
    // A replayed code may have revoked this family while we were minting: its revocation is
    // written to the revocation list before the refresh tokens, so checking after our insert closes the
    // race (either its database update saw our row, or we see its entry and revoke the row
    // ourselves). The answer still goes out — this request did win the code — but its tokens are
    // already dead, as RFC 9700 §4.5 wants for a replayed code.
    if svc
        .inner
        .revocations
        .any_revoked(&[&family_key(spec.family_id)])
        .await?
    {
        refresh_tokens::revoke_family(db, spec.family_id).await?;
    }
    let (access_token, _) = jwt::issue(
        &svc.inner.keys,
        svc.settings(),
        &AccessGrant {
            installation_uid: &spec.installation.uid,
            client_id: &spec.client.client_id,
            scope: spec.scopes,
            org_uid: &org.uid,
            family_id: spec.family_id,
        },
    )
    .await?;
    let response = TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: svc.settings().access_ttl.as_secs(),
        refresh_token,
        scope: spec.scopes.to_owned(),
    };
    serde_json::to_vec(&response).map_err(|e| OAuthError::Store(StoreError::Invalid(e.to_string())))
}
