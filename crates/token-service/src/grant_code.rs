//! The `authorization_code` grant (RFC 6749 §4.1.3 with RFC 9700): the code is taken atomically
//! (single use across replicas), must belong to the authenticated client, name the same redirect
//! URI, and pass PKCE. A code presented again after redemption revokes every token it produced.

use store::grants::{self, Redemption};
use store::repo::installations;
use store::repo::oauth_clients::OauthClient;

use crate::client_auth::Params;
use crate::error::OAuthError;
use crate::issue::{self, PairSpec};
use crate::pkce;
use crate::service::TokenService;

const BAD_CODE: &str = "the authorization code is invalid, expired or already used";

/// Redeems a code for a token pair.
pub(crate) async fn exchange(
    svc: &TokenService,
    client: &OauthClient,
    params: &Params,
) -> Result<Vec<u8>, OAuthError> {
    let code = params.require("code")?;
    let grant = match grants::redeem(svc.inner.kv.as_ref(), code).await? {
        Redemption::Granted(grant) => grant,
        Redemption::Replayed { family_id } => {
            tracing::warn!(client = %client.client_id, family = %family_id, "authorization code replayed; revoking its tokens");
            svc.revoke_family(&family_id).await?;
            return Err(OAuthError::InvalidGrant(BAD_CODE));
        }
        Redemption::Unknown => {
            return Err(svc
                .other_region("authorization code", code, "")
                .unwrap_or(OAuthError::InvalidGrant(BAD_CODE)));
        }
    };
    if grant.client_id != client.client_id {
        return Err(OAuthError::InvalidGrant(BAD_CODE));
    }
    let redirect_ok = match params.get("redirect_uri") {
        Some(uri) => uri == grant.redirect_uri,
        None => !grant.redirect_uri_given,
    };
    if !redirect_ok {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if let Err(failure) = pkce::check(grant.code_challenge.as_deref(), params.get("code_verifier"))
    {
        tracing::info!(client = %client.client_id, ?failure, "PKCE check failed");
        return Err(OAuthError::InvalidGrant("PKCE verification failed"));
    }
    let installation = installations::find_active(&svc.inner.db, &grant.installation_uid)
        .await?
        .filter(|i| i.client_id == client.id)
        .ok_or(OAuthError::InvalidGrant("the authorization was revoked"))?;
    issue::pair(
        svc,
        PairSpec {
            installation: &installation,
            client,
            family_id: &grant.family_id,
            parent_id: None,
            code_hash: Some(grants::code_hash(code)),
            scopes: &grant.scopes,
        },
    )
    .await
}
