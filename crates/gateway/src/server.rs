//! Wiring: opens the database and key-value store, mounts the apps and the health endpoints, and
//! serves until SIGTERM/SIGINT, letting in-flight requests finish.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use anyhow::Context;
use serde_json::json;
use store::db::PoolSettings;
use store::kv::Kv;
use store::ratelimit::Limit;
use store::{Database, StoreError};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::config::{Config, Region};

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct Services {
    /// The use cases over the region's database and key-value store.
    pub core: usecases::Core,
    /// The region's database.
    pub db: Database,
    /// The region's key-value store.
    pub kv: Kv,
    /// This deployment's region id.
    pub region_id: String,
    /// This deployment's public URLs.
    pub region: Region,
}

/// Opens the database (creating the SQLite file's folder) and the key-value store.
pub async fn open_services(config: &Config) -> anyhow::Result<Services> {
    let mut db = open_database(config).await?;
    crate::observe::watch_statements(&mut db);
    let kv = store::kv::open(&config.kv.url, &config.kv.namespace)
        .await
        .with_context(|| {
            format!(
                "cannot open the key-value store at {}",
                redact(&config.kv.url)
            )
        })?;
    let core = usecases::Core::new(db.clone(), kv.clone(), core_settings(config));
    Ok(Services {
        core,
        db,
        kv,
        region_id: config.region.clone(),
        region: config.region_urls()?,
    })
}

/// On PostgreSQL, gives the request log writer a connection of its own
/// (`Core::with_request_log_database`).
async fn with_request_log_connection(
    core: usecases::Core,
    db: &Database,
    config: &Config,
) -> anyhow::Result<usecases::Core> {
    if !(store::Conn::is_postgres(db) && config.scim_log.enabled) {
        return Ok(core);
    }
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
    };
    let mut log_db = store::connect(&config.database.url, &settings)
        .await
        .with_context(|| {
            format!(
                "cannot open the request log's connection to {}",
                redact(&config.database.url)
            )
        })?;
    // Its statements count in the database metrics like the pool's (a failing log write too).
    crate::observe::watch_statements(&mut log_db);
    Ok(core.with_request_log_database(log_db))
}

/// The use cases' settings from the configuration.
pub fn core_settings(config: &Config) -> usecases::Settings {
    let oauth = &config.oauth;
    usecases::Settings {
        region: config.region.clone(),
        access_token_ttl: Duration::from_secs(oauth.access_token_ttl_secs),
        code_ttl: Duration::from_secs(oauth.code_ttl_secs),
        terms_version: oauth.terms_version.clone(),
        invitations: invitation_settings(config),
        scim_filter_timeout: Duration::from_millis(config.scim.filter_timeout_ms),
        request_log: request_log_settings(config),
    }
}

/// What the SCIM request log keeps, from `[scim_log]`.
fn request_log_settings(config: &Config) -> usecases::request_log::RequestLogSettings {
    let log = &config.scim_log;
    usecases::request_log::RequestLogSettings {
        enabled: log.enabled,
        retention: chrono::Duration::days(i64::from(log.retention_days)),
        max_rows_per_organization: log.max_rows_per_organization,
        max_body_bytes: log.max_body_bytes,
        queue_capacity: log.queue_capacity,
        queue_max_bytes: log.queue_max_bytes,
        ..usecases::request_log::RequestLogSettings::default()
    }
}

/// How invitations are emailed, from `[email]`.
fn invitation_settings(config: &Config) -> usecases::invitations::InvitationSettings {
    let email = &config.email;
    usecases::invitations::InvitationSettings {
        email_enabled: !email.smtp_url.trim().is_empty(),
        link_ttl: chrono::Duration::hours(i64::try_from(email.link_ttl_hours).unwrap_or(168)),
        max_attempts: i32::try_from(email.max_attempts).unwrap_or(8),
        retry_base: Duration::from_secs(email.retry_base_secs),
        lease: Duration::from_secs(email.timeout_secs.saturating_mul(2).max(60)),
        per_organization_per_minute: email.per_organization_per_minute,
        per_deployment_per_minute: email.per_deployment_per_minute,
        resends_per_hour: email.resends_per_hour,
    }
}

/// Opens the database a configuration names.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    ensure_sqlite_folder(&config.database.url)?;
    let settings = PoolSettings {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
    };
    store::connect(&config.database.url, &settings)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact(&config.database.url)
            )
        })
}

/// Hides the password of a URL for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn ensure_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Ok(())
}

async fn healthz(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "region": services.region_id}))
}

async fn readyz(services: web::Data<Services>) -> HttpResponse {
    let check = |result: Result<(), StoreError>| match result {
        Ok(()) => (true, "ok".to_owned()),
        Err(e) => (false, e.to_string()),
    };
    let (db_ok, db) = check(store::db::ping(&services.db).await);
    let (kv_ok, kv) = check(services.kv.ping().await);
    let body = json!({
        "status": if db_ok && kv_ok { "ready" } else { "unavailable" },
        "database": db,
        "kv": kv,
    });
    if db_ok && kv_ok {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(%db, %kv, "not ready");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Paths of machine clients: an unknown one answers JSON. Everything else is a browser's, and
/// gets a page.
const API_PREFIXES: [&str; 6] = [
    "/scim/",
    "/api/",
    "/oauth/",
    "/.well-known/",
    "/internal/",
    "/metrics",
];

async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let path = req.path();
    let browser_path = path == "/oauth/authorize" || path == "/oauth/consent";
    if !browser_path && API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return HttpResponse::NotFound()
            .json(json!({"error": "not_found", "detail": "no such endpoint"}));
    }
    authorize_app::pages::not_found(&req)
}

/// Echoes the request id tracing gave the request, so a caller can quote it.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The SCIM API of this deployment. Bearer tokens are checked by the token service's verifier.
fn scim_api(
    services: &Services,
    config: &Config,
    tokens: &token_service::TokenService,
) -> scim_api::ScimApi {
    // API tokens and OAuth access tokens (JWTs) alike.
    let verifier = std::sync::Arc::new(tokens.clone());
    let cursor_key = &config.secrets.cursor_key;
    let key = if cursor_key.is_empty() {
        store::secret::random_token(32)
    } else {
        cursor_key.to_owned()
    };
    let mut settings = scim_api::ScimSettings::new(&services.region.auth_api_url, key.as_bytes());
    // The page lives with the other browser pages, on the app host.
    settings.documentation_uri = format!(
        "{}/docs/scim",
        services.region.app_url.trim_end_matches('/')
    );
    settings.max_payload = config.http.payload_limit_bytes;
    settings.bulk_max_payload = config.scim.bulk_payload_limit_bytes;
    settings.limits = scim_api::guard::Limits {
        max_url_bytes: config.http.max_url_bytes,
        max_header_bytes: config.http.max_header_bytes,
        max_headers: config.http.max_headers,
        per_credential: Limit::per_minute(config.scim.rate_limit_per_credential_per_minute),
        per_organization: Limit::per_minute(config.scim.rate_limit_per_organization_per_minute),
    };
    scim_api::ScimApi::new(services.core.clone(), verifier, settings)
}

/// This region among the others of the regions file, for pointing requests about organizations
/// that live elsewhere.
fn federation(config: &Config, services: &Services) -> anyhow::Result<federation::Federation> {
    let peers = config
        .regions()?
        .into_iter()
        .map(|(id, region)| federation::Peer {
            id,
            app_url: region.app_url,
            auth_api_url: region.auth_api_url,
        })
        .collect();
    let key = Some(config.federation.key.as_bytes()).filter(|k| !k.is_empty());
    let timeout = Duration::from_millis(config.federation.peer_timeout_ms);
    federation::Federation::new(
        &config.region,
        peers,
        key,
        timeout,
        services.kv.clone(),
        services.db.clone(),
    )
    .map_err(anyhow::Error::msg)
}

/// A server started in this process: its address and the handle that stops it.
#[derive(Debug)]
pub struct RunningApp {
    /// `http://127.0.0.1:PORT`, the URL both hosts answer on.
    pub base_url: String,
    /// What the handlers run against (tests read and seed through it).
    pub services: Services,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Background work that lives as long as the server.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl RunningApp {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        (&mut self.task).await??;
        Ok(())
    }

    /// Waits until the server ends (a shutdown signal).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await??;
        Ok(())
    }
}

/// Binds the listener, builds the apps and starts serving in the background; returns at once.
pub async fn start(config: Config, mut services: Services) -> anyhow::Result<RunningApp> {
    // Here rather than in `open_services`: only a serving process runs the log's writer, and a
    // one-shot admin command has no use for a second connection.
    services.core = with_request_log_connection(services.core, &services.db, &config).await?;
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if config.region == crate::config::LOCAL_REGION {
        // The local region's URLs are the listen address; with port 0 only the bound one is real.
        let base = format!("http://{addr}");
        services.region.app_url.clone_from(&base);
        services.region.auth_api_url = base;
    }
    let payload_limit = config.http.payload_limit_bytes;
    if config.secrets.cursor_key.is_empty() && config.region != crate::config::LOCAL_REGION {
        tracing::warn!(
            "secrets.cursor_key is not set: SCIM cursors only work on the replica that issued them"
        );
    }
    let tokens = crate::oauth::token_service(&config, &services).await?;
    let mut background = vec![record_kv(&config, &services).await?];
    if config.metrics.enabled {
        background.extend(crate::observe::upkeep());
    }
    let metrics_access = web::Data::new(crate::observe::MetricsAccess {
        enabled: config.metrics.enabled,
        allow: config.metrics.allow.clone(),
    });
    let federation = federation(&config, &services)?;
    let browser =
        crate::oauth::authorize_app(&config, &services).with_federation(federation.clone());
    let scim = scim_api(&services, &config, &tokens).with_federation(federation.clone());
    background.push(tokio::spawn(scim.share_rate_limits()));
    let webhook_deps = crate::workers::WebhookDeps::new(&config)?;
    if config.secrets.webhook_key.is_empty() && config.region != crate::config::LOCAL_REGION {
        tracing::warn!(
            "secrets.webhook_key is not set: webhook signing secrets are stored unsealed"
        );
    }
    let management = management_api::ManagementApi::new(
        services.core.clone(),
        tokens.clone(),
        management_api::ManagementSettings {
            app_url: services.region.app_url.clone(),
            auth_api_url: services.region.auth_api_url.clone(),
        },
        management_api::WebhookAccess {
            rules: usecases::webhooks::EndpointRules {
                sealer: webhook_deps.sealer.clone(),
                policy: webhook_deps.policy.clone(),
            },
            transport: std::sync::Arc::new(webhook_deps.sender.clone()),
        },
    );
    let data = web::Data::new(services.clone());
    let trusted = web::Data::new(crate::client_addr::TrustedProxies(
        config.http.trusted_proxies.clone(),
    ));
    // Each HTTP worker gets a database pool of its own (see `Database::give_each_worker_a_pool`):
    // as many as actix starts, which is its default when the configuration leaves it at 0.
    let http_workers = if config.http.workers > 0 {
        config.http.workers
    } else {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    };
    services.db.give_each_worker_a_pool(http_workers);
    let worker_db = services.db.clone();
    let mut server = HttpServer::new(move || {
        // Runs on each worker's thread as it starts.
        worker_db.serve_from_this_thread();
        App::new()
            .app_data(data.clone())
            .app_data(trusted.clone())
            .wrap(actix_web::middleware::from_fn(crate::client_addr::record))
            .app_data(web::PayloadConfig::new(payload_limit))
            .app_data(web::JsonConfig::default().limit(payload_limit))
            .app_data(metrics_access.clone())
            .wrap(actix_web::middleware::from_fn(crate::observe::http))
            .wrap(actix_web::middleware::from_fn(request_id_header))
            .wrap(TracingLogger::<crate::observe::RequestSpan>::new())
            .configure(|cfg| scim.configure(cfg))
            .configure(|cfg| tokens.configure(cfg))
            .configure(|cfg| browser.configure(cfg))
            .configure(|cfg| federation.configure(cfg))
            .configure(|cfg| management.configure(cfg))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(crate::observe::metrics))
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(config.http.shutdown_timeout_secs);
    if config.http.workers > 0 {
        server = server.workers(config.http.workers);
    }
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    background.extend(crate::workers::spawn(
        &services.core,
        &config,
        &webhook_deps,
    ));
    // Links in invitations point at this region's pages; a local deployment's address is known
    // only now that it listens.
    let pages_url = if config.region == crate::config::LOCAL_REGION {
        format!("http://{addr}")
    } else {
        services.region.app_url.clone()
    };
    background.extend(crate::workers::spawn_postman(
        &services.core,
        &config,
        &pages_url,
    )?);
    tracing::info!(%addr, region = %config.region, "scimgate listening");
    Ok(RunningApp {
        base_url: format!("http://{addr}"),
        services,
        handle,
        task,
        background,
    })
}

/// Records in the database which key-value store the servers use (the CLI compares its own), and
/// keeps the store's copy of that identity alive.
async fn record_kv(
    config: &Config,
    services: &Services,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let url = redact(&config.kv.url);
    let id = store::deployment::record_kv(&services.db, &services.kv, &url, &config.kv.namespace)
        .await
        .context("cannot record the key-value store in the database (migrations applied?)")?;
    let kv = services.kv.clone();
    Ok(tokio::spawn(async move {
        let mut every = tokio::time::interval(store::deployment::KV_ID_TTL / 4);
        loop {
            every.tick().await;
            if let Err(e) = store::deployment::renew_kv_id(&kv, &id).await {
                tracing::warn!(error = %e, "cannot renew the deployment's identity in the key-value store");
            }
        }
    }))
}

/// Serves until a shutdown signal.
pub async fn serve(config: Config, services: Services) -> anyhow::Result<()> {
    let running = start(config, services).await?;
    // A plain line on stdout that scripts and tests wait for.
    println!("listening on {}", running.base_url);
    running.wait().await?;
    tracing::info!("scimgate stopped");
    Ok(())
}
