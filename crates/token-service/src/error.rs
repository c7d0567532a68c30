//! `OAuthError`: every failure of the token, revocation and introspection endpoints, answered in
//! one place as RFC 6749 §5.2 JSON with `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use store::StoreError;

/// An RFC 6749 §5.2 error.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Malformed request: missing or repeated parameter, both client authentication methods, …
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed (401, with `WWW-Authenticate`).
    #[error("client authentication failed")]
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, reused, or bound to someone else.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// The code or refresh token was issued by another region: redeem it there.
    #[error(
        "this {what} was issued by region {region}; use that region's token endpoint, {token_url}"
    )]
    OtherRegion {
        /// "authorization code" or "refresh token".
        what: &'static str,
        /// The issuing region's id.
        region: String,
        /// Its token endpoint.
        token_url: String,
    },
    /// The client may not use this grant type.
    #[error("the client is not authorized to use this grant type")]
    UnauthorizedClient,
    /// Not `authorization_code` or `refresh_token`.
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// A scope beyond what was granted.
    #[error("{0}")]
    InvalidScope(String),
    /// Too many requests from this address or client.
    #[error("too many requests; slow down")]
    SlowDown,
    /// The data layer failed: not the caller's fault. An outage (database or key-value store
    /// unreachable) is `temporarily_unavailable` (503, retry); any other fault is `server_error`
    /// (500) — a retry would not help, and calling it an outage would hide it.
    #[error("{}", if .0.is_unavailable() { "temporarily unavailable" } else { "the server failed to handle the request" })]
    Store(#[from] StoreError),
}

impl OAuthError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) | OAuthError::OtherRegion { .. } => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::SlowDown => "slow_down",
            OAuthError::Store(e) if e.is_unavailable() => "temporarily_unavailable",
            OAuthError::Store(_) => "server_error",
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthError::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let OAuthError::Store(e) = self {
            tracing::error!(error = %e, "oauth endpoint failed on the data layer");
        }
        let mut res = HttpResponse::build(self.status_code());
        no_store(&mut res);
        if matches!(self, OAuthError::SlowDown) {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("60")));
        }
        if matches!(self, OAuthError::InvalidClient) {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"scimgate\""),
            ));
        }
        res.json(json!({"error": self.code(), "error_description": self.to_string()}))
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on a response being built.
pub fn no_store(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}
