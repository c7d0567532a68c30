//! The SCIM 2.0 API of each organization, under `/scim/v2.0/organizations/{org}` (and the
//! `/scim/v2/…` alias): Users, Groups, `.search`, Bulk and the discovery documents.
//!
//! Handlers are thin: parse the request, call a use case of [`usecases::scim`], shape the
//! response. Every failure is a SCIM Error ([`error::ApiError`]).
#![deny(missing_docs)]

pub mod auth;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod guard;
pub mod handlers;
pub mod observe;
pub mod request_log;

use std::sync::Arc;

use actix_web::web;
use store::ratelimit::SharedLimits;
use token_service::BearerVerifier;
use usecases::Core;

/// Limits and URLs of the SCIM API.
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// This region's auth API URL; the SCIM Base URL of an organization is
    /// `{auth_api_url}/scim/v2.0/organizations/{org}`.
    pub auth_api_url: String,
    /// The page people read about this SCIM API (`ServiceProviderConfig.documentationUri`).
    pub documentation_uri: String,
    /// Paging limits and the cursor key.
    pub paging: usecases::scim::ScimSettings,
    /// Largest number of operations in one Bulk request.
    pub bulk_max_operations: usize,
    /// Largest Bulk request body, in bytes.
    pub bulk_max_payload: usize,
    /// Largest request body of other requests, in bytes.
    pub max_payload: usize,
    /// Request-head and rate limits.
    pub limits: guard::Limits,
}

impl ScimSettings {
    /// The defaults for a region whose auth API is at `auth_api_url`, signing cursors with
    /// `cursor_key`.
    pub fn new(auth_api_url: &str, cursor_key: &[u8]) -> Self {
        let auth_api_url = auth_api_url.trim_end_matches('/').to_owned();
        Self {
            documentation_uri: format!("{auth_api_url}/docs/scim"),
            auth_api_url,
            paging: usecases::scim::ScimSettings::new(cursor_key),
            bulk_max_operations: 1000,
            bulk_max_payload: 4 * 1024 * 1024,
            max_payload: 1024 * 1024,
            limits: guard::Limits::default(),
        }
    }
}

/// The SCIM API's shared state.
#[derive(Debug, Clone)]
pub struct ScimApi {
    /// The use cases.
    pub core: Core,
    /// Checks bearer tokens (API tokens and OAuth access tokens).
    pub verifier: Arc<dyn BearerVerifier>,
    /// Limits and URLs.
    pub settings: Arc<ScimSettings>,
    /// Finds organizations that live in another region, to point IdPs there.
    pub federation: Option<federation::Federation>,
    /// The per-credential and per-organization request limits' counters (see
    /// [`ScimApi::share_rate_limits`]).
    pub rate_limits: Arc<SharedLimits>,
}

impl ScimApi {
    /// Builds the API state.
    pub fn new(core: Core, verifier: Arc<dyn BearerVerifier>, settings: ScimSettings) -> Self {
        Self {
            rate_limits: SharedLimits::new(core.kv().clone()),
            core,
            verifier,
            settings: Arc::new(settings),
            federation: None,
        }
    }

    /// Adds this replica's hits on the request limits to the key-value store, and reads the other
    /// replicas', until dropped; the server runs it in the background. Without it each replica
    /// holds the limits on its own.
    pub fn share_rate_limits(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.rate_limits.clone().share_forever()
    }

    /// Points requests for organizations of other regions to their region.
    pub fn with_federation(mut self, federation: federation::Federation) -> Self {
        self.federation = Some(federation);
        self
    }

    /// The SCIM Base URL of an organization.
    pub fn base_url(&self, org_uid: &str) -> String {
        format!(
            "{}/scim/v2.0/organizations/{org_uid}",
            self.settings.auth_api_url
        )
    }

    /// Mounts the API (both path prefixes) on an actix app.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let data = web::Data::new(self.clone());
        for prefix in [
            "/scim/v2.0/organizations/{org}",
            "/scim/v2/organizations/{org}",
        ] {
            cfg.service(handlers::scope(prefix, data.clone(), &self.settings));
        }
    }
}
