//! `POST /oauth/token` (RFC 6749 §3.2): rate limit, parse, authenticate the client, dispatch on
//! `grant_type` (`authorization_code` and `refresh_token` for IdPs' clients, `client_credentials`
//! for the SaaS backend's), answer with `no-store`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use store::ratelimit;

use crate::client_auth::{self, Params};
use crate::error::{OAuthError, no_store};
use crate::service::TokenService;
use crate::{grant_client, grant_code, grant_refresh};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The rotated refresh token.
    pub refresh_token: String,
    /// Granted scopes.
    pub scope: String,
}

/// The client's address: the TCP peer, or what a trusted proxy forwarded (the gateway records it as
/// a [`ClientAddr`]); never a forwarded header from anyone else, which a client could set to dodge
/// limits.
pub(crate) fn peer(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    usecases::ClientAddr::resolve(
        req.extensions().get::<usecases::ClientAddr>(),
        req.peer_addr(),
    )
    .map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// Counts a request against the token-endpoint limit of this address and presented client.
pub(crate) async fn rate_limit(
    svc: &TokenService,
    req: &HttpRequest,
    params: &Params,
) -> Result<(), OAuthError> {
    let client = params.get("client_id").unwrap_or("-");
    let key = format!("token:{}:{client}", peer(req));
    if ratelimit::allow(svc.inner.kv.as_ref(), &key, svc.settings().token_rate_limit).await? {
        Ok(())
    } else {
        Err(OAuthError::SlowDown)
    }
}

/// The token endpoint.
pub async fn token(
    svc: web::Data<TokenService>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let params = match client_auth::form(&req, &body) {
        Ok(params) => params,
        Err(e) => return Err(counted("unknown", e)),
    };
    // Grants and failures by grant type and error code: bounded sets, never a client id.
    let grant_type = match params.get("grant_type") {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some("client_credentials") => "client_credentials",
        _ => "other",
    };
    let result = grant(&svc, &req, &params).await;
    if result.is_ok() {
        metrics::counter!("scimgate_token_requests_total", "grant_type" => grant_type, "outcome" => "granted")
            .increment(1);
    }
    result.map_err(|e| counted(grant_type, e))
}

fn counted(grant_type: &'static str, error: OAuthError) -> OAuthError {
    metrics::counter!("scimgate_token_requests_total", "grant_type" => grant_type, "outcome" => error.code())
        .increment(1);
    error
}

async fn grant(
    svc: &web::Data<TokenService>,
    req: &HttpRequest,
    params: &Params,
) -> Result<HttpResponse, OAuthError> {
    rate_limit(svc, req, params).await?;
    let grant_type = params.require("grant_type")?;
    let answer = if grant_type == "client_credentials" {
        grant_client::exchange(svc, req, params).await?
    } else {
        let client = match client_auth::authenticate(&svc.inner.db, req, params).await {
            Ok(client) => client,
            // A backend client that authenticates is told its grant type is not for it.
            Err(OAuthError::InvalidClient)
                if grant_client::is_backend_client(svc, req, params).await? =>
            {
                return Err(OAuthError::UnauthorizedClient);
            }
            Err(e) => return Err(e),
        };
        match grant_type {
            "authorization_code" => grant_code::exchange(svc, &client, params).await?,
            "refresh_token" => grant_refresh::exchange(svc, &client, params).await?,
            _ => return Err(OAuthError::UnsupportedGrantType),
        }
    };
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.content_type("application/json").body(answer))
}
