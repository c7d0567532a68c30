//! `/organizations/{id}/scim-requests`: the organization's SCIM request log, as the console's
//! Request log page shows it — every SCIM request, refused ones included, with redacted bodies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use usecases::request_log::SearchInput;
use utoipa::IntoParams;

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::ScimRequest;
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

/// `GET …/scim-requests` parameters; every one narrows the listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListScimRequests {
    /// From the page this cursor ends.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
    /// `2xx`, `4xx`, `5xx`, or `refused` (401 and 403).
    pub status: Option<String>,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: Option<String>,
    /// Text the path or a body contains (case-insensitive; at most 200 characters).
    pub q: Option<String>,
    /// The userName (case-insensitive) or externalId the request was about.
    pub user: Option<String>,
    /// Requests at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Requests before this time (RFC 3339).
    pub until: Option<String>,
}

fn time(name: &str, value: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Problem::invalid(format!(
                        "{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// List the organization's SCIM requests, newest first: method, path, status, duration, the
/// credential used (never the token itself), and the request and response bodies with secrets
/// redacted and cut to `scim_log.max_body_bytes`. Requests refused before authentication are
/// listed without a credential.
#[utoipa::path(tag = "directory", params(("id" = String, Path, description = "Organization id"), ListScimRequests),
    responses((status = 200, body = inline(Page<ScimRequest>)), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}/scim-requests")]
pub async fn list(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    query: web::Query<ListScimRequests>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    let limit = paging::limit(query.limit)?;
    let input = SearchInput {
        status: query.status.clone(),
        method: query.method.clone(),
        text: query.q.clone(),
        user: query.user.clone(),
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
        before: paging::decode("scim-requests", query.cursor.as_deref())?,
        limit: limit + 1,
    };
    let found = usecases::request_log::search(&api.core, &scope, &input).await?;
    let page = paging::page(
        found.rows,
        limit,
        "scim-requests",
        |row| row.id.0,
        ScimRequest::from,
    );
    Ok(json(StatusCode::OK, &page))
}
