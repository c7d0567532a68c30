//! Opening the database: one code path for SQLite and PostgreSQL, with the settings each needs to
//! be safe under concurrent writers.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::StoreError;
use crate::migration::Migrator;

/// The pooled database connection every repository runs on.
pub type Database = DatabaseConnection;

/// A transaction open on the [`Database`]; repositories run on it as on the database.
pub type Transaction = DatabaseTransaction;

/// Pool settings that are not part of the URL.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Upper bound of pooled connections (forced to 1 for in-memory SQLite).
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects to `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite runs in WAL mode with a busy timeout and foreign keys on; an in-memory SQLite database
/// gets a pool of one, since every pooled connection would otherwise see its own empty database.
pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Database, StoreError> {
    let in_memory = url.starts_with("sqlite") && url.contains(":memory:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if in_memory {
            1
        } else {
            settings.max_connections
        })
        .min_connections(if in_memory { 1 } else { 0 })
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    sea_orm::Database::connect(options)
        .await
        .map_err(StoreError::Database)
}

/// Applies every pending migration.
pub async fn migrate(db: &Database) -> Result<(), StoreError> {
    Migrator::up(db, None).await.map_err(StoreError::Database)
}

/// Checks the database answers a trivial query (readiness).
pub async fn ping(db: &Database) -> Result<(), StoreError> {
    db.ping().await.map_err(StoreError::Database)
}

/// Opens a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers queue on the busy
/// timeout instead of failing when the second one tries to upgrade its read lock.
pub async fn begin_write(db: &Database) -> Result<Transaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options)
        .await
        .map_err(StoreError::Database)
}

/// Commits a transaction.
pub async fn commit(txn: Transaction) -> Result<(), StoreError> {
    txn.commit().await.map_err(StoreError::from)
}
