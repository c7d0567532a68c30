//! The store's one error type. Callers map it to their surface (SCIM, OAuth, page) in one place.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

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
    /// A statement ran past the time limit its transaction set ([`crate::db::begin_bounded`])
    /// and was cancelled: the request asked for more work than the server bounds it to.
    #[error("the query ran past its time limit and was cancelled")]
    TimedOut,
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

    /// True when the failure is the backing service's state, not the request: the database
    /// could not be reached or went away mid-statement (connection refused or reset, pool
    /// timeout, a server shutting down or restarting), or a transient conflict it asks to retry.
    /// The caller should answer "retry later" (503), never a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::KeyValue(_) => true,
            StoreError::Database(err) => db_unavailable(err),
            _ => false,
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => StoreError::NotFound("record"),
            other if sqlstate(&other).as_deref() == Some(QUERY_CANCELED) => StoreError::TimedOut,
            other => StoreError::Database(other),
        }
    }
}

/// PostgreSQL's `query_canceled`, which `statement_timeout` raises.
const QUERY_CANCELED: &str = "57014";

fn sqlstate(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn db_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    use sqlx::Error;
    match err {
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATEs that describe the server's state rather than the statement: class 08 (connection
/// exception), 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now — a restart),
/// 53300 (too many connections), 40001/40P01 (serialization failure, deadlock: retry), and
/// SQLite's SQLITE_BUSY (5) after its busy timeout.
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
        || code == "5"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_and_lost_connections_are_unavailability() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08001", "53300", "40P01",
        ] {
            assert!(transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "22021", "42P01", "54000"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let err = StoreError::Database(DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::Io(io).into(),
        )));
        assert!(err.is_unavailable());
        assert!(!StoreError::VersionMismatch.is_unavailable());
    }
}
