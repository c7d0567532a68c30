//! The `client_credentials` grant (RFC 6749 §4.4) for the SaaS backend's clients: no user, no
//! refresh token — a short-lived access token for the management API, whose audience no SCIM
//! endpoint accepts. IdPs' clients cannot use it, and backend clients can use nothing else: each
//! kind is looked up only in its own table.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::Serialize;
use store::StoreError;
use store::repo::backend_clients;

use crate::client_auth::{self, Params, Presented};
use crate::error::OAuthError;
use crate::jwt;
use crate::service::TokenService;

/// A client-credentials token response (RFC 6749 §4.4.3: no refresh token).
#[derive(Debug, Clone, Serialize)]
struct ClientCredentialsResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

/// Authenticates a backend client and issues its access token.
pub(crate) async fn exchange(
    svc: &TokenService,
    req: &HttpRequest,
    params: &Params,
) -> Result<Vec<u8>, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| OAuthError::InvalidClient))
        .transpose()?;
    let (id, secret) = match client_auth::presented(authorization, params)? {
        Presented::Basic { id, secret } | Presented::Post { id, secret } => (id, secret),
        Presented::Public { .. } => return Err(OAuthError::InvalidClient),
    };
    let Some(principal) = backend_clients::authenticate(&svc.inner.db, &id, &secret).await? else {
        // An IdP's client that authenticates is told its grant type is not for it.
        return Err(
            match client_auth::authenticate(&svc.inner.db, req, params).await {
                Ok(_) => OAuthError::UnauthorizedClient,
                Err(e) => e,
            },
        );
    };
    let granted: Vec<String> = match params.get("scope") {
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            if let Some(missing) = requested.iter().find(|s| !principal.has_scope(s)) {
                return Err(OAuthError::InvalidScope(format!(
                    "the client was not given the scope '{missing}'"
                )));
            }
            requested
        }
        None => principal.scopes().to_vec(),
    };
    let scope = granted.join(" ");
    let (access_token, _) = jwt::issue_backend(
        &svc.inner.keys,
        svc.settings(),
        principal.client_id(),
        &scope,
    )
    .await?;
    let response = ClientCredentialsResponse {
        access_token,
        token_type: "Bearer",
        expires_in: svc.settings().backend_access_ttl.as_secs(),
        scope,
    };
    serde_json::to_vec(&response).map_err(|e| OAuthError::Store(StoreError::Invalid(e.to_string())))
}

/// Whether the request's client credentials are a backend client's.
pub(crate) async fn is_backend_client(
    svc: &TokenService,
    req: &HttpRequest,
    params: &Params,
) -> Result<bool, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Ok(Presented::Basic { id, secret } | Presented::Post { id, secret }) =
        client_auth::presented(authorization, params)
    else {
        return Ok(false);
    };
    Ok(backend_clients::authenticate(&svc.inner.db, &id, &secret)
        .await?
        .is_some())
}
