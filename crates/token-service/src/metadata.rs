//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /.well-known/jwks.json`.
//! The metadata announces RFC 9207's `iss` parameter in authorization responses.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::OAuthError;
use crate::service::TokenService;

/// The authorization server metadata.
pub async fn metadata(svc: web::Data<TokenService>) -> HttpResponse {
    let s = svc.settings();
    let issuer = &s.issuer;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{}/oauth/authorize", s.app_url),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "scopes_supported": ["scim", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "access_token_signing_alg_values_supported": [crate::keys::ALGORITHM],
        }))
}

/// The JWK Set: next, active and still-valid retired keys. Short cache lifetime, so consumers
/// pick up the next key well before it signs.
pub async fn jwks(svc: web::Data<TokenService>) -> Result<HttpResponse, OAuthError> {
    let keys = svc.keys().jwks().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(keys))
}
