//! The SCIM surface's one error type and its mapping to HTTP: every failure leaves as a SCIM Error
//! message (`application/scim+json`), a 401 also carries `WWW-Authenticate: Bearer`. Store and
//! verifier errors are mapped here and nowhere else.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use scim_core::error::ScimError;
use store::StoreError;
use token_service::VerifyError;

/// The media type of every SCIM response.
pub const SCIM_JSON: &str = "application/scim+json";

/// A failed SCIM request.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

/// Result of a SCIM handler or service.
pub type ApiResult<T> = Result<T, ApiError>;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.detail)
    }
}

impl From<ScimError> for ApiError {
    fn from(err: ScimError) -> Self {
        Self(err)
    }
}

/// 403: authenticated, but not allowed.
pub fn forbidden(detail: impl Into<String>) -> ScimError {
    ScimError::new(403, None, detail)
}

/// 503: a backing service is down; the IdP should retry.
pub fn unavailable(detail: impl Into<String>) -> ScimError {
    ScimError::new(503, None, detail)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self(match err {
            StoreError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
            StoreError::Conflict(what) => {
                ScimError::uniqueness(format!("{what} is already in use in this organization"))
            }
            StoreError::Invalid(detail) => ScimError::invalid_value(detail),
            StoreError::Forbidden(detail) => forbidden(detail),
            StoreError::VersionMismatch => ScimError::precondition_failed(
                "the resource was modified by another request; read it again",
            ),
            StoreError::Database(ref e) => {
                tracing::error!(error = %e, "database error in SCIM request");
                if err.is_unavailable() {
                    unavailable("the database is unavailable; retry later")
                } else {
                    ScimError::internal()
                }
            }
            StoreError::TimedOut => ScimError::too_many(
                "the request needs more database time than the server gives one request; narrow it",
            ),
            StoreError::KeyValue(e) => {
                tracing::error!(error = %e, "key-value store error in SCIM request");
                unavailable("a backing service is unavailable; retry later")
            }
        })
    }
}

impl From<usecases::Error> for ApiError {
    fn from(err: usecases::Error) -> Self {
        use usecases::Error;
        Self(match err {
            Error::Scim(scim) => scim,
            Error::NotFound(detail) => ScimError::not_found(detail),
            Error::Conflict(detail) => ScimError::uniqueness(detail),
            Error::Invalid(detail) => ScimError::invalid_value(detail),
            Error::Forbidden(detail) => forbidden(detail),
            Error::PreconditionFailed(detail) => ScimError::precondition_failed(detail),
            Error::RateLimited(detail) => ScimError::too_many(detail),
            Error::Store(store) => return ApiError::from(store),
        })
    }
}

impl From<VerifyError> for ApiError {
    fn from(err: VerifyError) -> Self {
        Self(match err {
            VerifyError::Unavailable(store) => return ApiError::from(store),
            other => ScimError::new(401, None, other.to_string()),
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
        if self.0.status == 503 {
            // The outages behind a 503 (database restart, key-value store failover) last seconds.
            res.insert_header((RETRY_AFTER, HeaderValue::from_static("5")));
        }
        if self.0.status == 401 {
            res.insert_header((
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="scimgate", error="invalid_token""#),
            ));
        }
        res.body(serde_json::to_string(&self.0).unwrap_or_default())
    }
}
