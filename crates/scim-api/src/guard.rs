//! What keeps one IdP from hurting the others, answered as SCIM Errors: request heads bounded
//! (URL, headers) and requests per credential and per organization bounded (429 with
//! `Retry-After`, which Okta and Entra both honour).
//!
//! actix-http refuses request heads over 128 KiB or with more than 96 headers on its own, with a
//! bare 431 before any application code runs (compile-time constants of its codec). Our limits are
//! smaller, so every head an IdP could plausibly send that is too large meets this check and gets
//! a SCIM Error; only heads past actix-http's own bound still get its bare 431.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use scim_core::error::ScimError;
use store::ratelimit::Limit;

use crate::ScimApi;
use crate::error::{ApiError, SCIM_JSON};

/// Bounds of a request's head and rate.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest request target (path and query), in bytes.
    pub max_url_bytes: usize,
    /// Most bytes of header names and values together.
    pub max_header_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Requests per credential (bearer token or installation).
    pub per_credential: Limit,
    /// Requests per organization, all its credentials together.
    pub per_organization: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_url_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 64,
            per_credential: Limit::per_minute(0),
            per_organization: Limit::per_minute(0),
        }
    }
}

/// Refuses a request whose head is over [`Limits`] before anything reads it: 414 for the URL,
/// 431 for the headers, both SCIM Errors.
pub async fn check_head(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limits = req
        .app_data::<actix_web::web::Data<ScimApi>>()
        .map(|api| api.settings.limits.clone())
        .unwrap_or_default();
    let url = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let refusal = if url > limits.max_url_bytes {
        Some(ScimError::new(
            414,
            None,
            format!(
                "the request URL is {url} bytes; the limit is {} (send long filters with POST .search)",
                limits.max_url_bytes
            ),
        ))
    } else if header_bytes > limits.max_header_bytes || req.headers().len() > limits.max_headers {
        Some(ScimError::new(
            431,
            None,
            format!(
                "the request headers are {header_bytes} bytes in {} fields; the limits are {} bytes and {} fields",
                req.headers().len(),
                limits.max_header_bytes,
                limits.max_headers
            ),
        ))
    } else {
        None
    };
    match refusal {
        Some(error) => Ok(req.into_response(ApiError(error).error_response())),
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// A caller over its rate limit.
#[derive(Debug)]
pub struct RateLimited {
    /// Which limit, for the detail.
    pub what: &'static str,
    /// When the window ends.
    pub retry_after: Duration,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many requests for this {}; retry after {} s",
            self.what,
            self.retry_after_secs()
        )
    }
}

impl RateLimited {
    fn retry_after_secs(&self) -> u64 {
        // Whole seconds, rounded up: retrying a moment early would only be refused again.
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

impl ResponseError for RateLimited {
    fn status_code(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn error_response(&self) -> HttpResponse {
        let error = ScimError::new(429, None, self.to_string());
        HttpResponse::build(self.status_code())
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
            .insert_header((RETRY_AFTER, self.retry_after_secs().to_string()))
            .body(serde_json::to_string(&error).unwrap_or_default())
    }
}

/// Counts a request of `credential` in `org_uid` against both limits (in this process: see
/// [`store::ratelimit::SharedLimits`]).
pub fn check_rate(api: &ScimApi, credential: &str, org_uid: &str) -> Result<(), RateLimited> {
    const WHAT: [&str; 2] = ["credential", "organization"];
    let limits = &api.settings.limits;
    let credential_key = format!("scim:cred:{credential}");
    let org_key = format!("scim:org:{org_uid}");
    let checks = [
        (credential_key.as_str(), limits.per_credential),
        (org_key.as_str(), limits.per_organization),
    ];
    api.rate_limits
        .check(&checks)
        .map_err(|(index, retry_after)| {
            let what = WHAT.get(index).copied().unwrap_or("organization");
            metrics::counter!("scimgate_rate_limited_total", "limit" => format!("scim_{what}"))
                .increment(1);
            RateLimited { what, retry_after }
        })
}
