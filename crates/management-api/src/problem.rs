//! The management API's one error type: RFC 9457 problem details (`application/problem+json`)
//! with a stable `type` per kind of error, so clients branch on `type`, never on the wording of
//! `detail`. Use-case, store and token errors are mapped here and nowhere else.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use store::StoreError;
use token_service::VerifyError;
use utoipa::ToSchema;

/// The media type of every error.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The kinds of problem, each with its stable `type` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: the request is malformed or breaks a rule.
    InvalidRequest,
    /// 401: no valid management API access token.
    Unauthorized,
    /// 403: the token lacks a scope.
    InsufficientScope,
    /// 403: not allowed.
    Forbidden,
    /// 404: no such thing (in this region).
    NotFound,
    /// 409: conflicts with what exists.
    Conflict,
    /// 409: a role in use cannot be removed.
    RoleInUse,
    /// 409: a request with this Idempotency-Key is still running.
    IdempotencyInProgress,
    /// 410: gone (a feed cursor older than the retention).
    Gone,
    /// 412: If-Match does not match.
    PreconditionFailed,
    /// 415: not JSON.
    UnsupportedMediaType,
    /// 422: the Idempotency-Key was used for another request.
    IdempotencyKeyReused,
    /// 429: too many requests.
    RateLimited,
    /// 500: our fault.
    Internal,
    /// 503: a backing service is down; retry.
    Unavailable,
}

impl Kind {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Kind::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
            ),
            Kind::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Kind::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Insufficient scope",
            ),
            Kind::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Kind::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Kind::Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Kind::RoleInUse => (StatusCode::CONFLICT, "role-in-use", "Role in use"),
            Kind::IdempotencyInProgress => (
                StatusCode::CONFLICT,
                "idempotency-key-in-progress",
                "A request with this Idempotency-Key is in progress",
            ),
            Kind::Gone => (StatusCode::GONE, "gone", "Gone"),
            Kind::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Kind::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Kind::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused for another request",
            ),
            Kind::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            Kind::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
            Kind::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
        }
    }
}

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:scimgate:problem:not-found`): stable, branch on it.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// Extra members (`missing_scope`, `used_by`, `earliest_cursor`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
    #[serde(skip)]
    #[schema(ignore)]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        let (status, slug, title) = kind.parts();
        Self {
            kind: format!("urn:scimgate:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: None,
        }
    }

    /// The same problem with an extension member.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// The same problem, telling the client when to retry.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 403 naming the scope the token lacks.
    pub fn missing_scope(scope: &str) -> Self {
        Problem::new(
            Kind::InsufficientScope,
            format!("this request needs the scope '{scope}'"),
        )
        .with("missing_scope", scope)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(Kind::NotFound, detail)
    }

    /// 400.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Problem::new(Kind::InvalidRequest, detail)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        Problem::from(usecases::Error::from(err))
    }
}

impl From<usecases::Error> for Problem {
    fn from(err: usecases::Error) -> Self {
        use usecases::Error;
        match err {
            Error::Scim(scim) => Problem::new(Kind::InvalidRequest, scim.detail),
            Error::NotFound(detail) => Problem::new(Kind::NotFound, detail),
            Error::Conflict(detail) => Problem::new(Kind::Conflict, detail),
            Error::Invalid(detail) => Problem::new(Kind::InvalidRequest, detail),
            Error::Forbidden(detail) => Problem::new(Kind::Forbidden, detail),
            Error::PreconditionFailed(detail) => Problem::new(Kind::PreconditionFailed, detail),
            Error::RateLimited(detail) => Problem::new(Kind::RateLimited, detail).retry_after(60),
            Error::Store(store) if store.is_unavailable() => {
                tracing::error!(error = %store, "management API: a backing service is down");
                Problem::new(
                    Kind::Unavailable,
                    "a backing service is unavailable; retry later",
                )
                .retry_after(5)
            }
            Error::Store(store) => {
                tracing::error!(error = %store, "management API: data layer fault");
                Problem::new(Kind::Internal, "the request failed on our side")
            }
        }
    }
}

impl From<VerifyError> for Problem {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::Unavailable(store) => Problem::from(store),
            other => Problem::new(Kind::Unauthorized, other.to_string()),
        }
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.status == 401 {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="scimgate-management", error="invalid_token""#,
                ),
            ));
        }
        if let Some(scope) = self.extensions.get("missing_scope").and_then(Value::as_str)
            && let Ok(value) = HeaderValue::from_str(&format!(
                r#"Bearer realm="scimgate-management", error="insufficient_scope", scope="{scope}""#
            ))
        {
            res.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        res.body(serde_json::to_string(self).unwrap_or_default())
    }
}

/// Result of a management API handler.
pub type ApiResult<T> = Result<T, Problem>;
