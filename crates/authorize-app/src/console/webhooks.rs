//! The Webhooks tab. Endpoints are registered by the SaaS backend for the whole region (the
//! management API); the console has no region operator, so an organization's Owner or Admin sees
//! the endpoints that receive *this organization's* events and the recent deliveries of those
//! events only — read-only, but for sending this organization's events again (one delivery, or
//! everything missed since a time). Test messages are region-level: the management API sends them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use usecases::webhooks::{DeliveryView, EndpointView};

use super::OrgAdmin;
use super::views::{DeliveryLine, EndpointBlock, WebhooksPage, when, when_or};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::pages::render;

/// Deliveries shown per endpoint.
const RECENT: u64 = 20;

fn path(admin: &OrgAdmin) -> String {
    format!("/orgs/{}/settings/webhooks", admin.org.uid)
}

/// Scheme and host of a URL: its path or query may carry the receiver's credential.
fn destination(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "(invalid URL)".to_owned())
}

fn delivery_line(d: DeliveryView) -> DeliveryLine {
    let row = &d.delivery;
    let response = match (&d.last_attempt, row.last_status, &row.last_error) {
        (_, Some(status), _) => format!("HTTP {status}"),
        (_, None, Some(error)) => error.clone(),
        (Some(a), None, None) => a.error.clone().unwrap_or_default(),
        (None, None, None) => String::new(),
    };
    DeliveryLine {
        event: d.event_kind.replace(['.', '_'], " "),
        event_uid: d.event_uid,
        status: row.status.clone(),
        created: when(row.created_at),
        response,
        attempts: row.attempts,
        next_retry: if row.status == "pending" {
            when_or(Some(row.next_attempt_at), "")
        } else {
            String::new()
        },
    }
}

async fn page(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let mut endpoints = Vec::new();
    for EndpointView {
        endpoint,
        event_types,
        ..
    } in usecases::webhooks::receiving(&app.core, &admin.scope).await?
    {
        let deliveries =
            usecases::webhooks::deliveries_in(&app.core, &admin.scope, &endpoint.uid, None, RECENT)
                .await?;
        endpoints.push(EndpointBlock {
            destination: destination(&endpoint.url),
            description: endpoint.description.clone(),
            state: if endpoint.enabled {
                "enabled".to_owned()
            } else {
                format!(
                    "disabled{}",
                    endpoint
                        .disabled_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            },
            enabled: endpoint.enabled,
            events: if event_types.is_empty() {
                "every event".to_owned()
            } else {
                event_types.join(", ")
            },
            deliveries: deliveries.into_iter().map(delivery_line).collect(),
            uid: endpoint.uid,
        });
    }
    Ok(render(
        status,
        &WebhooksPage {
            nav: admin.nav("webhooks"),
            endpoints,
            error,
        },
    ))
}

/// `GET /orgs/{org}/settings/webhooks`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
) -> Result<HttpResponse, PageError> {
    page(&app, &admin, None, StatusCode::OK).await
}

/// `POST …/webhooks/{endpoint}/events/{event}/resend`: this organization's event, again, to
/// that endpoint.
pub async fn resend(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path_ids: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    admin.form(&body)?;
    let (_, endpoint, event) = path_ids.into_inner();
    usecases::webhooks::redeliver_in(
        &app.core,
        &admin.actor,
        &admin.scope,
        &event,
        &endpoint,
        Utc::now(),
    )
    .await?;
    admin
        .done(
            &app,
            &path(&admin),
            "The event is scheduled to be sent again now.",
        )
        .await
}

/// A `datetime-local` value (`2026-12-06T14:30`, read as UTC) or an RFC 3339 time.
fn parse_since(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
                .map(|t| t.and_utc())
        })
}

/// `POST …/webhooks/{endpoint}/recover`: everything of this organization that endpoint missed
/// since a time, sent again.
pub async fn recover(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path_ids: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let fields = admin.form(&body)?;
    let (_, endpoint) = path_ids.into_inner();
    let typed = fields.get("since").map(String::as_str).unwrap_or_default();
    let Some(since) = parse_since(typed) else {
        let error = Some(format!(
            "“{typed}” is not a date and time; pick one, such as 2026-12-06 14:30 (UTC)."
        ));
        return page(&app, &admin, error, StatusCode::BAD_REQUEST).await;
    };
    let count = match usecases::webhooks::recover_in(
        &app.core,
        &admin.actor,
        &admin.scope,
        &endpoint,
        since,
        Utc::now(),
    )
    .await
    {
        Ok(count) => count,
        Err(usecases::Error::Invalid(message)) => {
            return page(&app, &admin, Some(message), StatusCode::BAD_REQUEST).await;
        }
        Err(e) => return Err(e.into()),
    };
    let message = match count {
        0 => format!("Nothing was missed since {}.", when(since)),
        1 => format!(
            "1 delivery missed since {} is being sent again.",
            when(since)
        ),
        n => format!(
            "{n} deliveries missed since {} are being sent again.",
            when(since)
        ),
    };
    admin.done(&app, &path(&admin), &message).await
}
