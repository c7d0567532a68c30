//! The OAuth 2.0 side of scimgate: the token endpoint, JWT access tokens and their signing keys,
//! refresh-token rotation, revocation, introspection and metadata — and the bearer verification
//! API that `scim-api` uses to check every request.
//!
//! The gateway builds one [`TokenService`] from the region's settings, calls
//! [`TokenService::start`] (signing keys), mounts the routes with [`TokenService::configure`], and
//! hands the same value to the SCIM API as its [`BearerVerifier`].
#![deny(missing_docs)]

mod client_auth;
pub mod error;
mod grace;
mod grant_client;
mod grant_code;
mod grant_refresh;
mod introspect;
mod issue;
pub mod jwt;
pub mod keys;
mod metadata;
pub mod pkce;
mod revoke;
pub mod service;
pub mod settings;
mod token;
pub mod verify;

use actix_web::web;

pub use error::OAuthError;
pub use service::TokenService;
pub use settings::TokenSettings;
pub use token::TokenResponse;
pub use verify::{BearerVerifier, Credential, Principal, VerifyError, bearer_token};

/// Largest form body the OAuth endpoints read.
const FORM_LIMIT: usize = 16 * 1024;

impl TokenService {
    /// Mounts `/oauth/token`, `/oauth/revoke`, `/oauth/introspect` and the two well-known
    /// documents.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let form = || web::PayloadConfig::new(FORM_LIMIT);
        cfg.app_data(web::Data::new(self.clone()))
            .service(
                web::resource("/oauth/token")
                    .app_data(form())
                    .route(web::post().to(token::token)),
            )
            .service(
                web::resource("/oauth/revoke")
                    .app_data(form())
                    .route(web::post().to(revoke::revoke)),
            )
            .service(
                web::resource("/oauth/introspect")
                    .app_data(form())
                    .route(web::post().to(introspect::introspect)),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(metadata::metadata),
            )
            .route("/.well-known/jwks.json", web::get().to(metadata::jwks));
    }
}
