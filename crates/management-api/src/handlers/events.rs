//! `/events`: the change feed, pulled. Events in commit order with opaque cursors; a reader that
//! asks to `wait` is answered as soon as an event is published.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use usecases::feed::{Cursor, FeedQuery};
use utoipa::{IntoParams, ToSchema};

use super::{Api, json};
use crate::auth::Backend;
use crate::problem::{ApiResult, Kind, Problem};

/// Longest `wait`, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;

/// `GET /events` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEvents {
    /// Continue after this cursor (`next_cursor` of a page, or `feed_cursor` of a listing).
    /// Absent: from the earliest event kept.
    pub after: Option<String>,
    /// Page size (1 to 1000; default 100).
    pub limit: Option<u64>,
    /// Only these event types, comma-separated.
    pub types: Option<String>,
    /// Only this organization's events.
    pub organization: Option<String>,
    /// When no event is there yet, wait up to this many seconds (0 to 30) for one.
    pub wait: Option<u64>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Event envelopes, in commit order (see docs/events.md).
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<serde_json::Value>,
    /// Pass as `after` to continue.
    pub next_cursor: String,
}

/// Read the change feed: events after a cursor, in commit order; per organization, `sequence`
/// has no gaps. With `wait`, an empty page is held until an event is published.
#[utoipa::path(tag = "events", params(ListEvents),
    responses((status = 200, body = EventPage), (status = 400, body = Problem),
        (status = 410, body = Problem)),
    security(("backend" = ["events:read"])))]
#[get("/events")]
pub async fn list(
    api: Api,
    backend: Backend,
    query: web::Query<ListEvents>,
) -> ApiResult<HttpResponse> {
    backend.require("events:read")?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=usecases::feed::MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid(format!(
            "limit must be 1 to {}",
            usecases::feed::MAX_PAGE
        )));
    }
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(Problem::invalid(format!(
            "wait must be 0 to {MAX_WAIT_SECS} seconds"
        )));
    }
    let kinds: Vec<String> = query
        .types
        .as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = kinds
        .iter()
        .find(|k| usecases::events::EventType::parse(k).is_none())
    {
        return Err(Problem::invalid(format!(
            "'{unknown}' is not an event type"
        )));
    }
    let request = FeedQuery {
        after: query.after.as_deref().map(Cursor::decode).transpose()?,
        limit,
        kinds,
        organization: query.organization.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(wait);
    // Subscribed before the first read, so an event published in between is not missed.
    let mut published = api.core.signals().feed();
    loop {
        let page = match usecases::feed::page(&api.core, &request).await? {
            Ok(page) => page,
            Err(expired) => {
                return Err(Problem::new(
                    Kind::Gone,
                    "the cursor is older than the events kept; continue from earliest_cursor \
                     (and reload a snapshot to catch up)",
                )
                .with("earliest_cursor", expired.earliest.encode()));
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !page.events.is_empty() || left.is_zero() {
            return Ok(json(
                StatusCode::OK,
                &EventPage {
                    data: page.events,
                    next_cursor: page.next.encode(),
                },
            ));
        }
        let _ = tokio::time::timeout(left, published.changed()).await;
    }
}

/// `POST /events/{id}/redeliver` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeliver {
    /// Only to this endpoint (default: every endpoint the event matches).
    #[serde(default)]
    pub endpoint_id: Option<String>,
}

/// How many deliveries were scheduled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scheduled {
    /// Deliveries set to go out now.
    pub deliveries: u64,
}

/// Send an event to its webhook endpoints again (with the same `webhook-id`).
#[utoipa::path(tag = "webhooks", request_body(content = Option<Redeliver>),
    params(("id" = String, Path, description = "Event id")),
    responses((status = 202, body = Scheduled), (status = 404, body = Problem)),
    security(("backend" = ["webhooks:write"])))]
#[post("/events/{id}/redeliver")]
pub async fn redeliver(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: Option<web::Json<Redeliver>>,
) -> ApiResult<HttpResponse> {
    backend.require("webhooks:write")?;
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let deliveries = usecases::webhooks::redeliver(
        &api.core,
        &backend.actor,
        &id,
        body.endpoint_id.as_deref(),
        chrono::Utc::now(),
    )
    .await?;
    Ok(json(StatusCode::ACCEPTED, &Scheduled { deliveries }))
}
