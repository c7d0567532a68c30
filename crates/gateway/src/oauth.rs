//! Builds the OAuth side of a deployment from its configuration: the token service (token
//! endpoint, keys, bearer verification) and the browser app (login, consent). Built once in
//! `serve`, outside the per-worker app factory, so every worker shares one key ring and cache.

use std::time::Duration;

use authorize_app::{AuthorizeApp, AuthorizeSettings};
use store::ratelimit::Limit;
use token_service::{TokenService, TokenSettings};

use crate::config::Config;
use crate::server::Services;

/// The token-service settings of this deployment: issuer = the region's `auth_api_url`,
/// audience = `{auth_api_url}/scim/v2.0`.
pub fn token_settings(config: &Config, services: &Services) -> TokenSettings {
    let oauth = &config.oauth;
    let mut settings = TokenSettings::new(
        &services.region_id,
        &services.region.auth_api_url,
        &services.region.app_url,
    );
    settings.access_ttl = Duration::from_secs(oauth.access_token_ttl_secs);
    settings.refresh_idle = Duration::from_secs(oauth.refresh_idle_days * 24 * 3600);
    settings.refresh_grace = Duration::from_secs(oauth.refresh_grace_secs);
    settings.key_refresh = Duration::from_secs(oauth.key_refresh_secs);
    settings.token_rate_limit = Limit::per_minute(oauth.token_rate_limit_per_minute);
    settings.credential_cache_ttl = Duration::from_millis(oauth.credential_cache_ms);
    settings.other_regions = config
        .regions()
        .map(|regions| {
            regions
                .into_iter()
                .filter(|(id, _)| *id != services.region_id)
                .map(|(id, r)| (id, r.auth_api_url.trim_end_matches('/').to_owned()))
                .collect()
        })
        .unwrap_or_default();
    settings
}

/// The token service, with its signing keys ensured and loaded.
pub async fn token_service(config: &Config, services: &Services) -> anyhow::Result<TokenService> {
    let service = TokenService::new(
        services.db.clone(),
        services.kv.clone(),
        token_settings(config, services),
    );
    service.start().await?;
    Ok(service)
}

/// The browser app.
pub fn authorize_app(config: &Config, services: &Services) -> AuthorizeApp {
    let oauth = &config.oauth;
    let mut settings =
        AuthorizeSettings::new(&services.region.app_url, &services.region.auth_api_url);
    settings.terms_version.clone_from(&oauth.terms_version);
    settings.session_ttl = Duration::from_secs(oauth.session_ttl_secs);
    settings.code_ttl = Duration::from_secs(oauth.code_ttl_secs);
    settings.login_rate_limit = Limit::per_minute(oauth.login_rate_limit_per_minute);
    settings.login_account_rate_limit =
        Limit::per_minute(oauth.login_account_rate_limit_per_minute);
    settings.region.clone_from(&services.region_id);
    settings.branding = config.branding(&services.region.app_url);
    AuthorizeApp::new(services.core.clone(), settings)
}
