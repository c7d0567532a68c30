//! The token service's settings, built once by the gateway from the region's configuration.
//!
//! Issuer and audience: the issuer is the region's `auth_api_url` (the host that serves the token
//! endpoint and the metadata, RFC 8414 §2), and the audience is that region's SCIM API,
//! `{auth_api_url}/scim/v2.0`. A token from one region is therefore refused by every other region
//! twice over (issuer and audience), and never accepted by anything but the SCIM API.

use std::time::Duration;

use store::ratelimit::Limit;

/// How the token service behaves in this deployment.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// This region's id (`eu`, `local`, …).
    pub region_id: String,
    /// `iss` of every token and of the metadata: the region's `auth_api_url`.
    pub issuer: String,
    /// `aud` of the IdPs' access tokens: the region's SCIM API base.
    pub audience: String,
    /// `aud` of the backend clients' access tokens: the region's management API. The two
    /// audiences differ, so neither kind of token is accepted by the other API.
    pub management_audience: String,
    /// Lifetime of a backend client's access token.
    pub backend_access_ttl: Duration,
    /// Where browsers authorize (`{app_url}/oauth/authorize`).
    pub app_url: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// A refresh token dies if it is not used for this long.
    pub refresh_idle: Duration,
    /// A rotated refresh token presented again within this window gets the same answer again.
    pub refresh_grace: Duration,
    /// How often a process re-reads the signing keys (rotation reaches it within this time).
    pub key_refresh: Duration,
    /// Token-endpoint limit per client address and client id.
    pub token_rate_limit: Limit,
    /// Other regions' ids and issuers, to name the right region for a misrouted token.
    pub other_regions: Vec<(String, String)>,
    /// How long a verified API token or installation is trusted without reading it again, when no
    /// change is announced (zero: always read). Announced changes land at once. Used only with a
    /// shared key-value store (Redis); with the in-process one every request reads.
    pub credential_cache_ttl: Duration,
}

impl TokenSettings {
    /// Defaults for a region: 1 h access tokens, 90-day idle refresh tokens, a 30 s grace window.
    pub fn new(region_id: &str, auth_api_url: &str, app_url: &str) -> Self {
        let issuer = auth_api_url.trim_end_matches('/').to_owned();
        Self {
            region_id: region_id.to_owned(),
            audience: format!("{issuer}/scim/v2.0"),
            management_audience: format!("{issuer}/api/v1"),
            backend_access_ttl: Duration::from_secs(900),
            issuer,
            app_url: app_url.trim_end_matches('/').to_owned(),
            access_ttl: Duration::from_secs(3600),
            refresh_idle: Duration::from_secs(90 * 24 * 3600),
            refresh_grace: Duration::from_secs(30),
            key_refresh: Duration::from_secs(10),
            token_rate_limit: Limit::per_minute(300),
            other_regions: Vec::new(),
            credential_cache_ttl: store::credential_cache::DEFAULT_TTL,
        }
    }
}
