//! The store's one error type. Callers map it to their surface (SCIM, OAuth, page) in one place.

use sea_orm::{DbErr, SqlErr};

/// What can go wrong in the data layer, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (in this tenant).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule of the database refused the write; nothing was written.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The caller's input broke a rule of the domain (bad email, unknown role, ...).
    #[error("{0}")]
    Invalid(String),
    /// The caller is not allowed to do this in this organization.
    #[error("{0}")]
    Forbidden(String),
    /// A compare-and-swap update lost against a concurrent write.
    #[error("the resource was modified concurrently")]
    VersionMismatch,
    /// The database failed (unreachable, timed out, corrupted): not the caller's fault.
    #[error("database error: {0}")]
    Database(#[source] DbErr),
    /// The key-value store failed: not the caller's fault.
    #[error("key-value store error: {0}")]
    KeyValue(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `what`, anything
    /// else to [`StoreError::Database`].
    pub fn from_db_unique(err: DbErr, what: &'static str) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
            _ => StoreError::Database(err),
        }
    }

    /// True when the database itself could not be reached (connection refused, pool timeout).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
                | StoreError::KeyValue(_)
        )
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => StoreError::NotFound("record"),
            other => StoreError::Database(other),
        }
    }
}
