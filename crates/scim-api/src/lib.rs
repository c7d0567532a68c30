//! The SCIM 2.0 API of each organization, under `/scim/v2.0/organizations/{org}` (and the
//! `/scim/v2/…` alias): Users, Groups, `.search`, Bulk and the discovery documents.
//!
//! Handlers are thin: parse the request, call a service in [`service`], shape the response. Every
//! failure is a SCIM Error ([`error::ApiError`]).
#![deny(missing_docs)]

pub mod auth;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod handlers;
pub mod resource;
pub mod service;

use std::sync::Arc;

use actix_web::web;
use store::Database;
use store::kv::Kv;
use token_service::BearerVerifier;

/// Limits and URLs of the SCIM API.
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// This region's auth API URL; the SCIM Base URL of an organization is
    /// `{auth_api_url}/scim/v2.0/organizations/{org}`.
    pub auth_api_url: String,
    /// Page size when the client gives no `count`.
    pub default_count: u64,
    /// Largest page (`filter.maxResults`).
    pub max_results: u64,
    /// Largest number of operations in one Bulk request.
    pub bulk_max_operations: usize,
    /// Largest Bulk request body, in bytes.
    pub bulk_max_payload: usize,
    /// Largest request body of other requests, in bytes.
    pub max_payload: usize,
    /// Signs RFC 9865 cursors; every replica of a region must use the same key.
    pub cursor: scim_core::cursor::CursorCodec,
    /// How long a cursor stays valid.
    pub cursor_ttl: chrono::Duration,
}

impl ScimSettings {
    /// The defaults for a region whose auth API is at `auth_api_url`, signing cursors with
    /// `cursor_key`.
    pub fn new(auth_api_url: &str, cursor_key: &[u8]) -> Self {
        Self {
            auth_api_url: auth_api_url.trim_end_matches('/').to_owned(),
            default_count: 100,
            max_results: 1000,
            bulk_max_operations: 1000,
            bulk_max_payload: 4 * 1024 * 1024,
            max_payload: 1024 * 1024,
            cursor: scim_core::cursor::CursorCodec::new(cursor_key),
            cursor_ttl: chrono::Duration::minutes(30),
        }
    }
}

/// The SCIM API's shared state.
#[derive(Debug, Clone)]
pub struct ScimApi {
    /// The region's database.
    pub db: Database,
    /// The region's key-value store.
    pub kv: Kv,
    /// Checks bearer tokens (API tokens and OAuth access tokens).
    pub verifier: Arc<dyn BearerVerifier>,
    /// Limits and URLs.
    pub settings: Arc<ScimSettings>,
    /// Finds organizations that live in another region, to point IdPs there.
    pub federation: Option<federation::Federation>,
}

impl ScimApi {
    /// Builds the API state.
    pub fn new(
        db: Database,
        kv: Kv,
        verifier: Arc<dyn BearerVerifier>,
        settings: ScimSettings,
    ) -> Self {
        Self {
            db,
            kv,
            verifier,
            settings: Arc::new(settings),
            federation: None,
        }
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
