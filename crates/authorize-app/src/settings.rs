//! The browser side's settings, built once by the gateway from the region's configuration.

use std::time::Duration;

use store::ratelimit::Limit;

/// How the authorize app behaves in this deployment.
#[derive(Debug, Clone)]
pub struct AuthorizeSettings {
    /// Where browsers reach this app; `https://…` makes the session cookie `Secure`.
    pub app_url: String,
    /// The authorization server's issuer (the region's `auth_api_url`), sent as `iss` with every
    /// authorization response (RFC 9207) and equal to the token service's metadata `issuer`.
    pub issuer: String,
    /// The version of the terms an approving admin accepts (recorded on the installation).
    pub terms_version: String,
    /// Lifetime of a browser session.
    pub session_ttl: Duration,
    /// Lifetime of an authorization code.
    pub code_ttl: Duration,
    /// How long a pending authorization request waits for login and consent.
    pub pending_ttl: Duration,
    /// Login attempts per client address.
    pub login_rate_limit: Limit,
    /// Login attempts per account (the email typed), from every address together.
    pub login_account_rate_limit: Limit,
    /// The region this deployment serves (shown in the console).
    pub region: String,
    /// How long a revoked installation stays in the revocation set: longer than an access token
    /// lives.
    pub revocation_ttl: Duration,
    /// The product's name, logo, colour, support contact and terms on every page.
    pub branding: mailer::Branding,
}

impl AuthorizeSettings {
    /// Defaults: 8-hour sessions, 60-second codes, 15 minutes to log in and consent.
    pub fn new(app_url: &str, issuer: &str) -> Self {
        Self {
            branding: mailer::Branding::new(app_url),
            app_url: app_url.trim_end_matches('/').to_owned(),
            issuer: issuer.trim_end_matches('/').to_owned(),
            terms_version: "2026-01".to_owned(),
            session_ttl: Duration::from_secs(8 * 3600),
            code_ttl: store::grants::DEFAULT_CODE_TTL,
            pending_ttl: Duration::from_secs(15 * 60),
            login_rate_limit: Limit::per_minute(20),
            login_account_rate_limit: Limit::per_minute(10),
            region: "local".to_owned(),
            revocation_ttl: Duration::from_secs(3600 + 120),
        }
    }

    /// The region's auth API URL (the issuer): Site URL, token endpoint and SCIM live there.
    pub fn auth_api_url(&self) -> &str {
        &self.issuer
    }

    /// True when the app is served over https: cookies are then `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.app_url.starts_with("https://")
    }
}
