//! The use cases' one error type. Each surface maps it to its own format (SCIM Error, problem
//! details, an HTML page, RFC 6749 JSON) by variant, in one place.

use scim_core::error::ScimError;
use store::StoreError;

/// Why a use case did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A SCIM protocol refusal (bad resource, bad PATCH, precondition), already in SCIM's terms.
    #[error("{}", .0.detail)]
    Scim(ScimError),
    /// The thing asked for does not exist in this organization.
    #[error("{0}")]
    NotFound(String),
    /// The change collides with something that exists (a name in use, a role in use).
    #[error("{0}")]
    Conflict(String),
    /// The input broke a rule of the domain.
    #[error("{0}")]
    Invalid(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The actor asked too often; try again later.
    #[error("{0}")]
    RateLimited(String),
    /// The caller's precondition (`If-Match`, a confirmation) does not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The data layer failed: not the caller's fault. Kept whole so each surface can tell an
    /// outage (retry later) from a fault.
    #[error(transparent)]
    Store(StoreError),
}

/// Result of a use case.
pub type Result<T> = std::result::Result<T, Error>;

impl From<ScimError> for Error {
    fn from(err: ScimError) -> Self {
        Error::Scim(err)
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Error::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => Error::Conflict(format!("{what} already exists")),
            StoreError::Invalid(detail) => Error::Invalid(detail),
            StoreError::Forbidden(detail) => Error::Forbidden(detail),
            StoreError::VersionMismatch => Error::PreconditionFailed(
                "the resource was modified by another request; read it again".into(),
            ),
            other => Error::Store(other),
        }
    }
}
