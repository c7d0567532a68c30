//! Typed configuration: the embedded `config/default.toml`, then an optional file, then
//! `SCIMGATE_*` environment variables (and `SCIMGATE_*_FILE` secrets), then CLI flags. Validated
//! once at start-up; any error names the key it is about.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");
const REGIONS_TOML: &str = include_str!("../../../config/regions.toml");
/// The region of the embedded default, whose URLs are the listen address itself.
pub const LOCAL_REGION: &str = "local";

/// Everything a deployment is told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The region this deployment serves.
    pub region: String,
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// A regions file replacing the built-in one.
    #[serde(default)]
    pub regions_path: Option<PathBuf>,
    /// The database.
    pub database: DatabaseConfig,
    /// The key-value store.
    pub kv: KvConfig,
    /// Logging.
    pub log: LogConfig,
    /// HTTP server limits.
    pub http: HttpConfig,
    /// Secrets shared by every replica of the region.
    pub secrets: SecretsConfig,
    /// The OAuth authorization server.
    pub oauth: OAuthConfig,
    /// How this region finds organizations that live in other regions.
    pub federation: FederationConfig,
    /// The change feed.
    pub events: EventsConfig,
    /// Webhook delivery.
    pub webhooks: WebhooksConfig,
    /// `[email]`
    pub email: EmailConfig,
    /// Limits of the SCIM API.
    pub scim: ScimConfig,
    /// The SCIM request log.
    pub scim_log: ScimLogConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// How the product presents itself on its pages and in its emails.
    pub branding: BrandingConfig,
}

/// `[branding]`: the product's name, logo, colour, support contact, terms of service and home
/// page on the login, consent, console and invitation pages and in emails. Empty optional values
/// are unset. Becomes a [`mailer::Branding`] ([`Config::branding`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingConfig {
    /// The product's name (default "scimgate").
    pub product_name: String,
    /// An `https://` image shown beside the name (empty: the name alone).
    #[serde(default)]
    pub logo_url: String,
    /// The accent colour, `#rgb` or `#rrggbb`.
    pub primary_color: String,
    /// Where people ask for help (empty: none shown).
    #[serde(default)]
    pub support_email: String,
    /// The terms of service an admin accepts when authorizing an identity provider (empty: none
    /// linked).
    #[serde(default)]
    pub terms_url: String,
    /// The product's home page (empty: the region's app URL).
    #[serde(default)]
    pub app_url: String,
}

/// `[events]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// How long events are kept, in days; a cursor older than that answers 410.
    pub retention_days: u32,
    /// How often the sequencer looks for events when nothing woke it (other replicas' writes),
    /// in milliseconds.
    pub sequencer_poll_ms: u64,
}

/// `[email]`: invitation emails.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` or `smtps://host:port`; empty: no email.
    pub smtp_url: String,
    /// The sender address.
    pub from: String,
    /// SMTP user name (empty: no authentication).
    pub username: String,
    /// SMTP password.
    pub password: String,
    /// Seconds one attempt may take.
    pub timeout_secs: u64,
    /// Hours a link works after it is sent.
    pub link_ttl_hours: u64,
    /// Attempts before a transient failure is final.
    pub max_attempts: u32,
    /// Seconds before the first retry (doubling after).
    pub retry_base_secs: u64,
    /// Emails per minute per organization (0: no limit).
    pub per_organization_per_minute: u64,
    /// Emails per minute for the deployment (0: no limit).
    pub per_deployment_per_minute: u64,
    /// Resends of one person's invitation per hour.
    pub resends_per_hour: u64,
    /// Milliseconds between looks for due invitations.
    pub poll_ms: u64,
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_url", &self.smtp_url)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl EmailConfig {
    /// The mailer's settings.
    pub fn mailer_settings(&self) -> mailer::EmailSettings {
        let non_empty = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        mailer::EmailSettings {
            smtp_url: self.smtp_url.clone(),
            from: self.from.clone(),
            username: non_empty(&self.username),
            password: non_empty(&self.password).map(Into::into),
            timeout: std::time::Duration::from_secs(self.timeout_secs),
        }
    }
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Networks deliveries may reach although they are private, loopback or link-local (CIDR).
    pub allowed_destinations: Vec<ipnet::IpNet>,
    /// Seconds an attempt may take.
    pub timeout_secs: u64,
    /// Seconds before each retry (the Standard Webhooks schedule by default).
    pub retry_schedule_secs: Vec<u64>,
    /// Each delay moves by up to this fraction of itself, at random (0 to 1).
    pub jitter: f64,
    /// Deliveries sent at once by one replica.
    pub concurrency: usize,
    /// An endpoint with no success for this many hours is disabled.
    pub disable_after_hours: u64,
    /// How often a delivery worker looks for due retries, in milliseconds.
    pub poll_ms: u64,
    /// Seconds a claimed delivery stays its replica's before another may take it over (a killed
    /// replica's deliveries wait this long); longer than `timeout_secs`.
    pub lease_secs: u64,
}

/// `[scim]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// SCIM requests per minute of one credential (bearer token or installation); 0: no limit.
    pub rate_limit_per_credential_per_minute: u64,
    /// SCIM requests per minute of one organization, all credentials together; 0: no limit.
    pub rate_limit_per_organization_per_minute: u64,
    /// Largest Bulk request body, in bytes (other SCIM requests: `http.payload_limit_bytes`).
    pub bulk_payload_limit_bytes: usize,
    /// Database time a filter that no index serves may take (`co`, `ew`, ordering, `not`…), ms.
    pub filter_timeout_ms: u64,
}

/// `[scim_log]`: the SCIM request log (`docs/console.md`, "SCIM request log").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimLogConfig {
    /// Whether SCIM requests are logged.
    pub enabled: bool,
    /// How long a logged request is kept, in days.
    pub retention_days: u32,
    /// The most requests one organization's log keeps (the oldest go first).
    pub max_rows_per_organization: u64,
    /// The most bytes kept of each request and response body.
    pub max_body_bytes: usize,
    /// The most requests waiting to be written; beyond it requests are not logged (counted).
    pub queue_capacity: usize,
    /// The most body bytes waiting to be written; beyond it requests are not logged (counted).
    pub queue_max_bytes: usize,
}

/// `[metrics]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether `/metrics` answers at all.
    pub enabled: bool,
    /// Networks allowed to read `/metrics` (the TCP peer, never a forwarded header).
    pub allow: Vec<ipnet::IpNet>,
}

/// `[federation]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// The key every region signs its lookups with (at least 32 characters). Empty: this region
    /// does not ask others, and refuses their lookups.
    pub key: String,
    /// How long to wait for another region's answer, in milliseconds.
    pub peer_timeout_ms: u64,
}

impl std::fmt::Debug for FederationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationConfig")
            .field("key", &"<redacted>")
            .field("peer_timeout_ms", &self.peer_timeout_ms)
            .finish()
    }
}

/// `[oauth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// Access-token lifetime, seconds.
    pub access_token_ttl_secs: u64,
    /// Refresh-token idle lifetime, days.
    pub refresh_idle_days: u64,
    /// Refresh grace window, seconds.
    pub refresh_grace_secs: u64,
    /// Authorization-code lifetime, seconds.
    pub code_ttl_secs: u64,
    /// Browser-session lifetime, seconds.
    pub session_ttl_secs: u64,
    /// Signing-key re-read interval, seconds.
    pub key_refresh_secs: u64,
    /// Terms version recorded on installations.
    pub terms_version: String,
    /// Token-endpoint requests per minute per address and client (0: no limit).
    pub token_rate_limit_per_minute: u64,
    /// Login attempts per minute per address (0: no limit).
    pub login_rate_limit_per_minute: u64,
    /// Login attempts per minute per account (email), from any address (0: no limit).
    pub login_account_rate_limit_per_minute: u64,
    /// How long a verified bearer token is trusted without reading it again, milliseconds (0:
    /// read on every request). Revocations and SCIM switches are announced and land at once.
    pub credential_cache_ms: u64,
}

/// `[secrets]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Signs SCIM pagination cursors (RFC 9865). Empty: a random key per process, which is only
    /// right for a single process.
    pub cursor_key: String,
    /// Seals webhook signing secrets at rest (at least 32 characters). Empty: stored unsealed.
    #[serde(default)]
    pub webhook_key: String,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsConfig { <redacted> }")
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection.
    pub acquire_timeout_secs: u64,
}

/// `[kv]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// `memory://`, `redis://…` or `rediss://…`.
    pub url: String,
    /// Key prefix.
    pub namespace: String,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Default filter directives.
    pub filter: String,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub payload_limit_bytes: usize,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_timeout_secs: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is believed; from anyone
    /// else the header is ignored and the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest request URL (path and query) on the SCIM API, in bytes.
    pub max_url_bytes: usize,
    /// Most bytes of request headers on the SCIM API.
    pub max_header_bytes: usize,
    /// Most request header fields on the SCIM API.
    pub max_headers: usize,
}

/// One region's public URLs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Human-readable name.
    pub name: String,
    /// Where browsers go (login, consent, console).
    pub app_url: String,
    /// Where IdPs go (token endpoint, SCIM API).
    pub auth_api_url: String,
}

/// Overrides given as CLI flags (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--redis-url` (any key-value URL)
    pub kv_url: Option<String>,
    /// `--region`
    pub region: Option<String>,
    /// The key-value store's key prefix (tests give each test its own).
    pub kv_namespace: Option<String>,
}

/// A configuration error, always about one key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key '{key}': {message}")]
pub struct ConfigError {
    /// The dotted key.
    pub key: String,
    /// What is wrong with it and where the value came from.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Environment variables that are not configuration keys although they share the prefix: the
/// config file's path, and the test suite's own settings (`SCIMGATE_TEST_…`).
fn not_config_env(key: &str) -> bool {
    key == "config" || key.starts_with("test_")
}

/// Flat spellings people reach for, mapped to the nested keys.
fn env_alias(key: &str) -> &str {
    match key {
        "database_url" => "database.url",
        "redis_url" | "kv_url" => "kv.url",
        other => other,
    }
}

fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("SCIMGATE_")?;
    let key = rest.to_ascii_lowercase().replace("__", ".");
    (!not_config_env(&key)).then(|| env_alias(&key).to_owned())
}

impl Config {
    /// The embedded defaults with `overrides`, ignoring the environment: what tests start the
    /// app with in-process.
    pub fn embedded(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::extract(Self::with_overrides(
            Figment::from(Toml::string(DEFAULT_TOML)),
            overrides,
        ))
    }

    fn with_overrides(mut figment: Figment, overrides: &Overrides) -> Figment {
        let flags = [
            ("listen", &overrides.listen),
            ("database.url", &overrides.database_url),
            ("kv.url", &overrides.kv_url),
            ("kv.namespace", &overrides.kv_namespace),
            ("region", &overrides.region),
        ];
        for (key, value) in flags {
            if let Some(value) = value {
                figment = figment.merge((key, value.clone()));
            }
        }
        figment
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(describe_figment_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Loads and validates the configuration.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(
            Env::prefixed("SCIMGATE_")
                .filter_map(|k| {
                    let key = k.as_str().to_ascii_lowercase();
                    (!key.ends_with("_file") && !not_config_env(&key))
                        .then(|| env_alias(&key.replace("__", ".")).to_owned().into())
                })
                .split("."),
        );
        for (var, path) in std::env::vars().filter(|(k, _)| k.ends_with("_FILE")) {
            let Some(key) = env_key(var.trim_end_matches("_FILE")) else {
                continue;
            };
            let value = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(&key, format!("cannot read {path} (from {var}): {e}"))
            })?;
            figment = figment.merge((key, value.trim().to_owned()));
        }
        Self::extract(Self::with_overrides(figment, overrides))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let oauth = &self.oauth;
        let ranges = [
            (
                "oauth.access_token_ttl_secs",
                oauth.access_token_ttl_secs,
                60,
                86_400,
            ),
            ("oauth.refresh_idle_days", oauth.refresh_idle_days, 1, 3650),
            ("oauth.refresh_grace_secs", oauth.refresh_grace_secs, 0, 300),
            ("oauth.code_ttl_secs", oauth.code_ttl_secs, 1, 600),
            (
                "oauth.session_ttl_secs",
                oauth.session_ttl_secs,
                60,
                7 * 86_400,
            ),
            ("oauth.key_refresh_secs", oauth.key_refresh_secs, 1, 300),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        let db = self.database.url.as_str();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "database.url",
                format!("'{db}' is not a sqlite: or postgres:// URL"),
            ));
        }
        let kv = self.kv.url.as_str();
        if !(kv == "memory://" || kv.starts_with("redis://") || kv.starts_with("rediss://")) {
            return Err(ConfigError::new(
                "kv.url",
                format!("'{kv}' is not memory://, redis:// or rediss://"),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if !self.secrets.cursor_key.is_empty() && self.secrets.cursor_key.len() < 32 {
            return Err(ConfigError::new(
                "secrets.cursor_key",
                "must be at least 32 characters (or empty for a per-process key)",
            ));
        }
        if !self.federation.key.is_empty() && self.federation.key.len() < 32 {
            return Err(ConfigError::new(
                "federation.key",
                "must be at least 32 characters (or empty to turn federation off)",
            ));
        }
        if !self.secrets.webhook_key.is_empty() && self.secrets.webhook_key.len() < 32 {
            return Err(ConfigError::new(
                "secrets.webhook_key",
                "must be at least 32 characters (or empty to store webhook secrets unsealed)",
            ));
        }
        if !(0.0..=1.0).contains(&self.webhooks.jitter) {
            return Err(ConfigError::new(
                "webhooks.jitter",
                "must be between 0 and 1",
            ));
        }
        if !(1..=300).contains(&self.webhooks.timeout_secs) {
            return Err(ConfigError::new(
                "webhooks.timeout_secs",
                "must be 1 to 300",
            ));
        }
        // Building the mailer checks every email.* key (URL, sender, credentials over plain text)
        // and names the one at fault; it needs a runtime only to build, not to check.
        if let Err(mailer::MailerError::InvalidSetting { key, reason }) =
            self.email.mailer_settings().validate()
        {
            return Err(ConfigError::new(key, reason));
        }
        for (key, value, min, max) in [
            ("email.timeout_secs", self.email.timeout_secs, 1, 600),
            (
                "email.link_ttl_hours",
                self.email.link_ttl_hours,
                1,
                24 * 90,
            ),
            (
                "email.max_attempts",
                u64::from(self.email.max_attempts),
                1,
                50,
            ),
            ("email.retry_base_secs", self.email.retry_base_secs, 0, 3600),
            ("email.poll_ms", self.email.poll_ms, 1, 60_000),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        if self.webhooks.lease_secs <= self.webhooks.timeout_secs {
            return Err(ConfigError::new(
                "webhooks.lease_secs",
                "must be longer than webhooks.timeout_secs (an attempt must end inside its lease)",
            ));
        }
        if self.events.retention_days == 0 {
            return Err(ConfigError::new(
                "events.retention_days",
                "must be at least 1",
            ));
        }
        let log = &self.scim_log;
        for (key, value, min, max) in [
            (
                "scim_log.retention_days",
                u64::from(log.retention_days),
                1,
                3650,
            ),
            (
                "scim_log.max_rows_per_organization",
                log.max_rows_per_organization,
                100,
                100_000_000,
            ),
            (
                "scim_log.max_body_bytes",
                log.max_body_bytes as u64,
                256,
                1024 * 1024,
            ),
            (
                "scim_log.queue_capacity",
                log.queue_capacity as u64,
                1,
                1_000_000,
            ),
            (
                "scim_log.queue_max_bytes",
                log.queue_max_bytes as u64,
                64 * 1024,
                4 * 1024 * 1024 * 1024,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        if self.http.payload_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "http.payload_limit_bytes",
                "must be at least 1024",
            ));
        }
        if self.scim.bulk_payload_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "scim.bulk_payload_limit_bytes",
                "must be at least 1024",
            ));
        }
        if !(10..=600_000).contains(&self.scim.filter_timeout_ms) {
            return Err(ConfigError::new(
                "scim.filter_timeout_ms",
                "must be between 10 and 600000 (milliseconds)",
            ));
        }
        // actix-http refuses heads over 128 KiB or 96 fields itself, with a bare 431: ours must
        // be smaller to answer SCIM Errors.
        let heads = [
            (
                "http.max_url_bytes",
                self.http.max_url_bytes,
                256,
                64 * 1024,
            ),
            (
                "http.max_header_bytes",
                self.http.max_header_bytes,
                1024,
                96 * 1024,
            ),
            ("http.max_headers", self.http.max_headers, 8, 90),
        ];
        for (key, value, min, max) in heads {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        self.region_urls()?;
        self.validate_branding()
    }

    fn validate_branding(&self) -> Result<(), ConfigError> {
        let b = &self.branding;
        let name = b.product_name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "branding.product_name",
                "must be 1 to 80 characters, without control characters",
            ));
        }
        if !mailer::is_hex_color(&b.primary_color) {
            return Err(ConfigError::new(
                "branding.primary_color",
                format!("'{}' is not a colour like #2456d6 or #24d", b.primary_color),
            ));
        }
        for (key, value) in [
            ("branding.logo_url", &b.logo_url),
            ("branding.terms_url", &b.terms_url),
            ("branding.app_url", &b.app_url),
        ] {
            if !value.trim().is_empty() {
                mailer::web_url(value).map_err(|e| {
                    ConfigError::new(key, format!("'{value}' is not an http(s) URL: {e}"))
                })?;
            }
        }
        if !b.support_email.trim().is_empty()
            && store::types::Email::parse(&b.support_email).is_err()
        {
            return Err(ConfigError::new(
                "branding.support_email",
                format!("'{}' is not an email address", b.support_email),
            ));
        }
        Ok(())
    }

    /// The product's look for the pages and emails of this deployment, whose region serves
    /// browsers at `app_url` (used when `branding.app_url` is empty).
    pub fn branding(&self, app_url: &str) -> mailer::Branding {
        let b = &self.branding;
        let set = |v: &str| {
            let v = v.trim();
            (!v.is_empty()).then(|| v.to_owned())
        };
        mailer::Branding {
            product_name: b.product_name.trim().to_owned(),
            logo_url: set(&b.logo_url),
            primary_color: b.primary_color.trim().to_ascii_lowercase(),
            support_email: set(&b.support_email),
            app_url: set(&b.app_url)
                .unwrap_or_else(|| app_url.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            terms_url: set(&b.terms_url),
        }
    }

    /// Every known region, from the regions file or the built-in list.
    pub fn regions(&self) -> Result<BTreeMap<String, Region>, ConfigError> {
        let text = match &self.regions_path {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    "regions_path",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
            None => REGIONS_TOML.to_owned(),
        };
        toml::from_str(&text).map_err(|e| ConfigError::new("regions_path", e.to_string()))
    }

    /// This deployment's region with its public URLs. Region `local` serves on the listen address.
    pub fn region_urls(&self) -> Result<Region, ConfigError> {
        if self.region == LOCAL_REGION {
            let base = format!("http://{}", self.listen);
            return Ok(Region {
                name: "Local".into(),
                app_url: base.clone(),
                auth_api_url: base,
            });
        }
        let mut regions = self.regions()?;
        let known = regions.keys().cloned().collect::<Vec<_>>().join(", ");
        regions.remove(&self.region).ok_or_else(|| {
            ConfigError::new(
                "region",
                format!("unknown region '{}' (known: local, {known})", self.region),
            )
        })
    }
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let key = if err.path.is_empty() {
        "(root)".to_owned()
    } else {
        err.path.join(".")
    };
    let source = err
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {} {src})", m.name),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let message = match &err.kind {
        // figment's path already ends with the unknown field's name.
        figment::error::Kind::UnknownField(..) => format!("unknown key{source}"),
        figment::error::Kind::MissingField(field) => {
            return ConfigError::new(&join_key(&key, field), "missing value");
        }
        figment::error::Kind::InvalidType(actual, expected)
        | figment::error::Kind::InvalidValue(actual, expected) => {
            format!(
                "expected {}, found {actual}{source}",
                expected_words(expected)
            )
        }
        figment::error::Kind::InvalidLength(n, expected) => {
            format!(
                "expected {}, found {n} items{source}",
                expected_words(expected)
            )
        }
        figment::error::Kind::UnknownVariant(found, known) => {
            format!("'{found}' is not one of: {}{source}", known.join(", "))
        }
        figment::error::Kind::ISizeOutOfRange(_) | figment::error::Kind::USizeOutOfRange(_) => {
            format!("the number is too large{source}")
        }
        kind => format!("{kind}{source}"),
    };
    ConfigError::new(&key, message)
}

/// What serde expected, in an operator's words instead of Rust's type names.
fn expected_words(expected: &str) -> String {
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a sequence" => "a list (in TOML [\"a\", \"b\"]; in the environment [a, b])",
        "a string" | "a borrowed string" | "string" => "text",
        "a map" => "a table of keys",
        "socket address" => "an address and port (host:port)",
        "char" => "one character",
        other if other.starts_with("struct ") => "a table of keys",
        other if other.starts_with("enum ") => "one of the documented values",
        other => other,
    };
    words.to_owned()
}

fn join_key(parent: &str, field: &str) -> String {
    if parent == "(root)" {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}
