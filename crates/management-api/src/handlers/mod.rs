//! The handlers of `/api/v1`, one module per resource. Each checks its scope, parses, calls one
//! use case and renders; errors are problem details.

pub mod accounts;
pub mod directory;
pub mod events;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod portal;
pub mod roles;
pub mod scim_requests;
pub mod stacks;
pub mod webhooks;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ManagementApi;
use crate::problem::{ApiResult, Kind, Problem};

/// The API's state, as handlers take it.
pub type Api = web::Data<ManagementApi>;

/// A JSON response.
pub fn json(status: actix_web::http::StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// The weak ETag of something that last changed at `at`.
pub fn etag(at: DateTime<Utc>) -> String {
    format!("W/\"{}\"", at.timestamp_micros())
}

/// A 200 with an `ETag`.
pub fn with_etag(body: &impl Serialize, at: DateTime<Utc>) -> HttpResponse {
    let mut res = json(actix_web::http::StatusCode::OK, body);
    if let Ok(value) = HeaderValue::from_str(&etag(at)) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

/// The version an `If-Match` header names (`None`: no precondition). `*` matches anything.
pub fn if_match(req: &HttpRequest) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::invalid("If-Match is not text"))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    let micros = text
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros);
    micros.map(Some).ok_or_else(|| {
        Problem::new(
            Kind::PreconditionFailed,
            format!("If-Match {text} is not an ETag this API issued"),
        )
    })
}

/// Refuses a change when `If-Match` names another version than `current`.
pub fn check_if_match(req: &HttpRequest, current: DateTime<Utc>) -> ApiResult<()> {
    match if_match(req)? {
        Some(expected) if expected != current => Err(Problem::new(
            Kind::PreconditionFailed,
            format!(
                "If-Match names another version than the current {}; read it again",
                etag(current)
            ),
        )),
        _ => Ok(()),
    }
}
