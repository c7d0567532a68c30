//! `/webhook-endpoints`: where the change feed is pushed. Each endpoint gets its own signing
//! secret, shown once (at creation and at rotation); messages are Standard Webhooks.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::ids::{WebhookDeliveryId, WebhookEndpointId};
use usecases::webhooks::{DeliveryView, EndpointSpec, EndpointView};
use utoipa::{IntoParams, ToSchema};

use super::{Api, json};
use crate::auth::Backend;
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

const SCOPE: &str = "webhooks:write";

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: String,
    /// Where messages are POSTed.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Event types it receives (empty: all).
    pub event_types: Vec<String>,
    /// Organizations whose events it receives (empty: all).
    pub organizations: Vec<String>,
    /// Each organization's events are delivered one at a time, in order (a failing event holds
    /// back the ones after it).
    pub ordered: bool,
    /// Whether messages are sent.
    pub enabled: bool,
    /// Why it was disabled (410 Gone, or days without a success).
    pub disabled_reason: Option<String>,
    /// Since when deliveries have been failing without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs alongside the current one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointView> for WebhookEndpoint {
    fn from(view: EndpointView) -> Self {
        let e = view.endpoint;
        Self {
            id: e.uid,
            url: e.url,
            description: e.description,
            event_types: view.event_types,
            organizations: view.organizations,
            ordered: e.ordered,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_until,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`, Standard Webhooks). Store it now: it is not shown again.
    pub secret: String,
}

/// `POST /webhook-endpoints` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// An `https` URL (or one the operator's `webhooks.allowed_destinations` allows).
    pub url: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types (empty or absent: all).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Organization ids (empty or absent: all).
    #[serde(default)]
    pub organizations: Option<Vec<String>>,
    /// Deliver each organization's events one at a time, in order (default false).
    #[serde(default)]
    pub ordered: Option<bool>,
}

/// `PATCH /webhook-endpoints/{id}` body: what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New event types (empty: all).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// New organizations (empty: all).
    #[serde(default)]
    pub organizations: Option<Vec<String>>,
    /// Ordered delivery.
    #[serde(default)]
    pub ordered: Option<bool>,
    /// Enable (clears the failure record) or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// The event's id, which is also the message's `webhook-id`.
    pub event_id: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The last attempt.
    pub last_attempt: Option<WebhookAttempt>,
}

/// One attempt: what the receiver answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: i32,
    /// The HTTP status (none when no answer came).
    pub status: Option<i32>,
    /// The start of the answer's body.
    pub response: String,
    /// What went wrong (a timeout, a refused connection, a refused destination).
    pub error: Option<String>,
}

impl From<DeliveryView> for WebhookDelivery {
    fn from(view: DeliveryView) -> Self {
        let d = view.delivery;
        let pending = d.status == store::repo::webhooks::status::PENDING;
        Self {
            event_id: view.event_uid,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: pending.then_some(d.next_attempt_at),
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            last_attempt: view.last_attempt.map(|a| WebhookAttempt {
                at: a.at,
                duration_ms: a.duration_ms,
                status: a.status,
                response: a.response_excerpt,
                error: a.error,
            }),
        }
    }
}

/// `POST /webhook-endpoints/{id}/recover` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// Send again every delivery since this instant that did not succeed.
    pub since: DateTime<Utc>,
}

/// How many deliveries were scheduled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recovered {
    /// Deliveries set to go out now.
    pub deliveries: u64,
}

/// What a test message got back.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// A 2xx came back.
    pub delivered: bool,
    /// The attempt.
    pub attempt: WebhookAttempt,
}

/// Register an endpoint. The answer carries its signing secret, once.
#[utoipa::path(tag = "webhooks", request_body = CreateWebhookEndpoint,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = WebhookEndpointWithSecret), (status = 400, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[post("/webhook-endpoints")]
pub async fn create(
    api: Api,
    backend: Backend,
    body: web::Json<CreateWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let body = body.into_inner();
    let spec = EndpointSpec {
        url: Some(body.url),
        description: body.description,
        event_types: body.event_types,
        organizations: body.organizations,
        ordered: body.ordered,
        enabled: None,
    };
    let (view, secret) =
        usecases::webhooks::create(&api.core, &api.webhooks.rules, &backend.actor, spec).await?;
    Ok(json(
        StatusCode::CREATED,
        &WebhookEndpointWithSecret {
            endpoint: view.into(),
            secret,
        },
    ))
}

/// List endpoints, oldest first.
#[utoipa::path(tag = "webhooks", params(Paging),
    responses((status = 200, body = Page<WebhookEndpoint>), (status = 400, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[get("/webhook-endpoints")]
pub async fn list(
    api: Api,
    backend: Backend,
    query: web::Query<Paging>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let limit = paging::limit(query.limit)?;
    let after =
        paging::decode("webhook-endpoints", query.cursor.as_deref())?.map(WebhookEndpointId);
    let views = usecases::webhooks::list(&api.core, after, limit + 1).await?;
    let page = paging::page(
        views,
        limit,
        "webhook-endpoints",
        |v| v.endpoint.id.0,
        WebhookEndpoint::from,
    );
    Ok(json(StatusCode::OK, &page))
}

/// Read an endpoint (without its secret).
#[utoipa::path(tag = "webhooks", params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[get("/webhook-endpoints/{id}")]
pub async fn get_one(api: Api, backend: Backend, id: web::Path<String>) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let view = usecases::webhooks::get(&api.core, &id).await?;
    Ok(json(StatusCode::OK, &WebhookEndpoint::from(view)))
}

/// Change an endpoint. Enabling a disabled endpoint clears its failure record; what it missed
/// is sent again with `recover`.
#[utoipa::path(tag = "webhooks", request_body = UpdateWebhookEndpoint,
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = Problem),
        (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[patch("/webhook-endpoints/{id}")]
pub async fn update(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: web::Json<UpdateWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let body = body.into_inner();
    let spec = EndpointSpec {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        organizations: body.organizations,
        ordered: body.ordered,
        enabled: body.enabled,
    };
    let view =
        usecases::webhooks::update(&api.core, &api.webhooks.rules, &backend.actor, &id, spec)
            .await?;
    Ok(json(StatusCode::OK, &WebhookEndpoint::from(view)))
}

/// Delete an endpoint and its delivery history.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 204), (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[delete("/webhook-endpoints/{id}")]
pub async fn remove(api: Api, backend: Backend, id: web::Path<String>) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    usecases::webhooks::delete(&api.core, &backend.actor, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signing secret. The previous secret keeps signing alongside the new one for 24
/// hours (messages carry both signatures), so receivers can switch without losing a message.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpointWithSecret), (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let (view, secret) = usecases::webhooks::rotate_secret(
        &api.core,
        &api.webhooks.rules.sealer,
        &backend.actor,
        &id,
        Utc::now(),
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &WebhookEndpointWithSecret {
            endpoint: view.into(),
            secret,
        },
    ))
}

/// The endpoint's deliveries, newest first, each with its last attempt.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path, description = "Endpoint id"), Paging),
    responses((status = 200, body = Page<WebhookDelivery>), (status = 400, body = Problem),
        (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn deliveries(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    query: web::Query<Paging>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let limit = paging::limit(query.limit)?;
    let before = paging::decode("deliveries", query.cursor.as_deref())?.map(WebhookDeliveryId);
    let views = usecases::webhooks::deliveries(&api.core, &id, before, limit + 1).await?;
    let page = paging::page(
        views,
        limit,
        "deliveries",
        |v| v.delivery.id.0,
        WebhookDelivery::from,
    );
    Ok(json(StatusCode::OK, &page))
}

/// Send again every delivery since `since` that did not succeed (after an outage, or after
/// re-enabling an endpoint).
#[utoipa::path(tag = "webhooks", request_body = Recover,
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, body = Recovered), (status = 400, body = Problem),
        (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[post("/webhook-endpoints/{id}/recover")]
pub async fn recover(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: web::Json<Recover>,
) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let now = Utc::now();
    if body.since > now {
        return Err(Problem::invalid("since is in the future"));
    }
    let scheduled =
        usecases::webhooks::recover(&api.core, &backend.actor, &id, body.since, now).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &Recovered {
            deliveries: scheduled,
        },
    ))
}

/// Send a `webhook.test` message now and report what the receiver answered. It is signed like
/// every message but is not part of the feed.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = TestResult), (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[post("/webhook-endpoints/{id}/test")]
pub async fn test(api: Api, backend: Backend, id: web::Path<String>) -> ApiResult<HttpResponse> {
    backend.require(SCOPE)?;
    let attempt = usecases::webhooks::send_test(
        &api.core,
        &api.webhooks.rules.sealer,
        api.webhooks.transport.as_ref(),
        &id,
        Utc::now(),
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &TestResult {
            delivered: attempt.outcome == webhooks::Outcome::Delivered,
            attempt: WebhookAttempt {
                at: Utc::now(),
                duration_ms: i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
                status: attempt.status.map(i32::from),
                response: attempt.response_excerpt,
                error: attempt.error,
            },
        },
    ))
}
