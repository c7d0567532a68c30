//! What an operator watches: `/metrics` in the Prometheus text format and one access-log line per
//! request. Metric labels are small fixed sets — route templates, methods, status codes, outcomes
//! — never an organization, account or token id (those go to the access log only). The metric
//! names and what each means are listed in `docs/operations.md`; the dashboard and alerts under
//! `deploy/observability/` read them.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use scim_api::auth::CallerInfo;
use tracing_actix_web::RequestId;

use crate::server::Services;

/// Latency buckets, seconds: SCIM calls take milliseconds; anything past a few seconds is an
/// outage.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The change feed's lag, in seconds: the age of the oldest committed event the sequencer has not
/// published yet (set by the sequencer, `crate::workers`), read by the dashboard and the
/// `ScimgateFeedLagging` alert.
pub const FEED_LAG_SECONDS: &str = "scimgate_feed_lag_seconds";
/// Events the sequencer published.
pub const EVENTS_PUBLISHED: &str = "scimgate_events_published_total";
/// Webhook attempts by outcome (`delivered`, `failed`).
pub const WEBHOOK_ATTEMPTS: &str = "scimgate_webhook_attempts_total";
/// Invitation email attempts by outcome (`sent`, `retrying`, `failed`).
pub const INVITATION_ATTEMPTS: &str = "scimgate_invitation_attempts_total";
/// Webhook deliveries waiting (pending), region-wide.
pub const WEBHOOK_PENDING: &str = "scimgate_webhook_pending_deliveries";
/// Age of the oldest pending webhook delivery, in seconds.
pub const WEBHOOK_OLDEST_PENDING_SECONDS: &str = "scimgate_webhook_oldest_pending_seconds";

/// The process's Prometheus recorder (one per process: several in-process servers in a test
/// share it). `None` when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: cannot install the recorder");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "scimgate_http_requests_total",
        "HTTP requests by route template, method and status"
    );
    describe_histogram!(
        "scimgate_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by route template, method and status"
    );
    describe_counter!(
        "scimgate_scim_operations_total",
        "SCIM operations by resource, operation and outcome"
    );
    describe_counter!(
        "scimgate_token_requests_total",
        "Token endpoint requests by grant type and outcome"
    );
    describe_counter!(
        "scimgate_credential_cache_lookups_total",
        "Credential cache lookups: hit, miss, bypass"
    );
    describe_counter!(
        "scimgate_rate_limited_total",
        "Requests refused by a rate limit"
    );
    describe_counter!(
        "scimgate_revocation_cache_reloads_total",
        "Reloads of the revocation cache from the database"
    );
    describe_gauge!(
        "scimgate_kv_subscribed",
        "1 while this process hears the key-value store's announcements"
    );
    describe_gauge!(
        "scimgate_db_pool_connections",
        "Database pool connections by state (idle, in_use, max)"
    );
    describe_histogram!(
        "scimgate_db_statement_duration_seconds",
        Unit::Seconds,
        "Database statement latency"
    );
    describe_counter!(
        "scimgate_db_statement_errors_total",
        "Database statements that failed"
    );
    describe_gauge!(
        FEED_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest committed event not yet published to the change feed"
    );
    describe_counter!(EVENTS_PUBLISHED, "Events published to the change feed");
    describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Webhook delivery attempts by outcome (delivered, failed)"
    );
    describe_counter!(
        INVITATION_ATTEMPTS,
        "Invitation email attempts by outcome (sent, retrying, failed)"
    );
    describe_gauge!(
        WEBHOOK_PENDING,
        "Webhook deliveries waiting to be sent (region-wide)"
    );
    describe_gauge!(
        WEBHOOK_OLDEST_PENDING_SECONDS,
        Unit::Seconds,
        "Age of the oldest webhook delivery waiting (region-wide)"
    );
}

/// Times every statement of `db` (no labels: the SQL text is not a bounded value).
pub fn watch_statements(db: &mut store::Database) {
    db.on_statement(|info| {
        metrics::histogram!("scimgate_db_statement_duration_seconds")
            .record(info.elapsed.as_secs_f64());
        if info.failed {
            metrics::counter!("scimgate_db_statement_errors_total").increment(1);
        }
    });
}

/// Keeps the recorder's histograms drained while nobody scrapes (its samples would pile up).
pub fn upkeep() -> Option<tokio::task::JoinHandle<()>> {
    let handle = handle()?;
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    }))
}

/// Who may read `/metrics`.
#[derive(Debug, Clone)]
pub struct MetricsAccess {
    /// Whether it answers at all.
    pub enabled: bool,
    /// Networks of the TCP peers allowed.
    pub allow: Vec<ipnet::IpNet>,
}

/// `GET /metrics`: a 404 to anyone outside the allowed networks, as if it did not exist.
pub async fn metrics(
    req: HttpRequest,
    access: web::Data<MetricsAccess>,
    services: web::Data<Services>,
) -> HttpResponse {
    let allowed = access.enabled
        && req
            .peer_addr()
            .is_some_and(|peer| access.allow.iter().any(|net| net.contains(&peer.ip())));
    if !allowed {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"error": "not_found", "detail": "no such endpoint"}));
    }
    let Some(handle) = handle() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    // Sampled when scraped: the pool's state is a level, not an event.
    let pool = services.db.pool_state();
    let in_use = pool.size.saturating_sub(pool.idle);
    for (state, value) in [("idle", pool.idle), ("in_use", in_use), ("max", pool.max)] {
        metrics::gauge!("scimgate_db_pool_connections", "state" => state).set(f64::from(value));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request, and writes its access-log line (info, target
/// `scimgate::access`; JSON when `log.format = "json"`).
pub async fn http(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let request = res.request();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let status_label = status.to_string();
    metrics::counter!("scimgate_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status_label.clone())
    .increment(1);
    metrics::histogram!("scimgate_http_request_duration_seconds",
        "method" => method, "route" => route.clone(), "status" => status_label)
    .record(elapsed.as_secs_f64());
    let extensions = request.extensions();
    let caller = extensions.get::<CallerInfo>();
    let org = caller
        .map(|c| c.org_uid.as_str())
        .or_else(|| request.match_info().get("org"))
        .unwrap_or("-");
    let credential = caller.map_or("-", |c| c.credential_kind);
    let request_id = extensions
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::info!(
        target: "scimgate::access",
        method,
        route = %route,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        org,
        credential,
        request_id = %request_id,
        "request"
    );
    drop(extensions);
    Ok(res)
}

/// The root span of every request: tracing-actix-web's fields, except that `http.target` is the
/// path with the secrets some paths carry replaced (`/portal/{token}`, `/invitations/{token}…`)
/// and without the query string, so a log line never holds a usable link.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        use tracing::field::Empty;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redacted_path(request.path()),
            request_id = %request_id,
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Paths whose next segment is a bearer secret (a single-use link's token).
const SECRET_SEGMENT_AFTER: [&str; 2] = ["/portal/", "/invitations/"];

/// `path` with the token segment of a link path replaced by `{token}`.
pub fn redacted_path(path: &str) -> String {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (secret, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            // `/portal/end` names no secret.
            if secret.is_empty() || secret == "end" {
                return path.to_owned();
            }
            return format!("{prefix}{{token}}{tail}");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted_path;

    #[test]
    fn link_tokens_never_reach_the_log() {
        assert_eq!(redacted_path("/portal/sgp_abc"), "/portal/{token}");
        assert_eq!(redacted_path("/portal/end"), "/portal/end");
        assert_eq!(redacted_path("/invitations/sgi_x"), "/invitations/{token}");
        assert_eq!(
            redacted_path("/invitations/sgi_x/accept"),
            "/invitations/{token}/accept"
        );
        assert_eq!(
            redacted_path("/scim/v2.0/organizations/o/Users"),
            "/scim/v2.0/organizations/o/Users"
        );
    }
}
