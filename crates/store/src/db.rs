//! Opening the database: one code path for SQLite and PostgreSQL, with the settings each needs to
//! be safe under concurrent writers — and the only handles to it other crates get. [`Database`]
//! and [`Transaction`] wrap sea-orm's connection without exposing it, so no query can be written
//! outside this crate: the repositories are the way in, and tenant repositories take an
//! [`crate::OrgScope`].

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::StoreError;
use crate::migration::Migrator;

/// The region's pooled database connection.
#[derive(Debug, Clone)]
pub struct Database(DatabaseConnection);

/// A write transaction open on the [`Database`]; repositories run on it as on the database.
/// Dropped without [`Transaction::commit`], it rolls back.
#[derive(Debug)]
pub struct Transaction(DatabaseTransaction);

pub(crate) mod sealed {
    /// Proof of being inside this crate: other crates cannot name or build it, so they cannot
    /// call [`Sealed::raw_with`] even through a generic `impl Conn`.
    #[derive(Debug, Clone, Copy)]
    pub struct Token(pub(crate) ());

    /// Gives the repositories the sea-orm connection behind a [`super::Conn`].
    pub trait Sealed {
        /// The sea-orm connection type.
        type Raw: sea_orm::ConnectionTrait;
        /// The sea-orm connection.
        fn raw_with(&self, token: Token) -> &Self::Raw;
    }
}

/// The repositories' way to the sea-orm connection of a [`Conn`] (crate-private).
pub(crate) trait Raw: Conn {
    /// The sea-orm connection.
    fn raw(&self) -> &<Self as sealed::Sealed>::Raw {
        self.raw_with(sealed::Token(()))
    }
}

impl<T: Conn + ?Sized> Raw for T {}

/// What every repository function runs on: the [`Database`], or a [`Transaction`] open on it.
/// Sealed: only those two implement it.
pub trait Conn: sealed::Sealed + Sync {
    /// Whether this is PostgreSQL (some statements differ per backend).
    fn is_postgres(&self) -> bool;
}

impl sealed::Sealed for Database {
    type Raw = DatabaseConnection;
    fn raw_with(&self, _: sealed::Token) -> &DatabaseConnection {
        &self.0
    }
}

impl Conn for Database {
    fn is_postgres(&self) -> bool {
        self.0.get_database_backend() == DbBackend::Postgres
    }
}

impl sealed::Sealed for Transaction {
    type Raw = DatabaseTransaction;
    fn raw_with(&self, _: sealed::Token) -> &DatabaseTransaction {
        &self.0
    }
}

impl Conn for Transaction {
    fn is_postgres(&self) -> bool {
        self.0.get_database_backend() == DbBackend::Postgres
    }
}

impl Transaction {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.map_err(StoreError::from)
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.0.rollback().await.map_err(StoreError::from)
    }
}

/// One statement the database ran, as [`Database::on_statement`] reports it.
#[derive(Debug)]
pub struct StatementInfo<'a> {
    /// The SQL text.
    pub sql: &'a str,
    /// How many bind parameters it carried.
    pub params: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it failed.
    pub failed: bool,
}

impl Database {
    /// Calls `watch` after every statement this pool runs (metrics, and tests that check no
    /// statement's size grows with the input).
    pub fn on_statement(&mut self, watch: impl Fn(&StatementInfo<'_>) + Send + Sync + 'static) {
        self.0.set_metric_callback(move |info| {
            watch(&StatementInfo {
                sql: &info.statement.sql,
                params: info.statement.values.as_ref().map_or(0, |v| v.0.len()),
                elapsed: info.elapsed,
                failed: info.failed,
            });
        });
    }
}

/// How the connection pool is used right now (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Open connections.
    pub size: u32,
    /// Of those, the ones not lent to a request.
    pub idle: u32,
    /// The pool's upper bound.
    pub max: u32,
}

impl Database {
    /// The pool's current use.
    pub fn pool_state(&self) -> PoolState {
        // The backend is checked first: sea-orm's getters panic on the other one.
        let (size, idle, max) = match self.0.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.0.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => {
                let pool = self.0.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
        };
        PoolState {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }
}

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

/// How long a pooled connection may sit idle before it is pinged again when lent.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

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
        // sqlx pings a connection (a round trip) when it returns to the pool, and by default again
        // when it is lent: two round trips per checkout besides the work, on a GET that is one
        // statement. A connection back from its last use a moment ago passed the first ping, so
        // only one idle for a while (a restart, a proxy's idle cut) is pinged before it is lent.
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
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
        .map(Database)
        .map_err(StoreError::Database)
}

/// Applies every pending migration.
pub async fn migrate(db: &Database) -> Result<(), StoreError> {
    Migrator::up(&db.0, None)
        .await
        .map_err(StoreError::Database)
}

/// Checks the database answers a trivial query (readiness).
pub async fn ping(db: &Database) -> Result<(), StoreError> {
    db.0.ping().await.map_err(StoreError::Database)
}

/// Closes the pool (tests that drop their database).
pub async fn close(db: Database) -> Result<(), StoreError> {
    db.0.close().await.map_err(StoreError::Database)
}

/// Opens a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers queue on the busy
/// timeout instead of failing when the second one tries to upgrade its read lock.
pub async fn begin_write(db: &Database) -> Result<Transaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.0.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.0.begin_with_options(options)
        .await
        .map(Transaction)
        .map_err(StoreError::Database)
}

/// Opens a read-only transaction whose reads all see one snapshot of the database (PostgreSQL
/// `REPEATABLE READ`; a SQLite read transaction in WAL mode), for a listing that must agree with
/// a cursor taken in the same transaction.
pub async fn begin_read(db: &Database) -> Result<Transaction, StoreError> {
    let postgres = db.0.get_database_backend() == DbBackend::Postgres;
    let options = TransactionOptions {
        isolation_level: postgres.then_some(sea_orm::IsolationLevel::RepeatableRead),
        access_mode: postgres.then_some(sea_orm::AccessMode::ReadOnly),
        sqlite_transaction_mode: (!postgres).then_some(SqliteTransactionMode::Deferred),
    };
    db.0.begin_with_options(options)
        .await
        .map(Transaction)
        .map_err(StoreError::Database)
}

/// Opens a read transaction whose statements PostgreSQL cancels after `limit` (`SET LOCAL
/// statement_timeout`, so the pool's connections keep their default): for a query whose cost the
/// caller cannot bound by an index, such as a SCIM filter with `co` over a large organization.
/// A statement cut short fails with [`StoreError::TimedOut`]. SQLite has no statement timeout; its
/// cost there is the one documented for such filters (a scan of one organization's rows).
pub async fn begin_bounded(
    db: &Database,
    limit: std::time::Duration,
) -> Result<Transaction, StoreError> {
    let txn = db.0.begin().await.map_err(StoreError::Database)?;
    if db.0.get_database_backend() == DbBackend::Postgres {
        let millis = limit.as_millis().clamp(1, i32::MAX as u128);
        txn.execute_unprepared(&format!("SET LOCAL statement_timeout = {millis}"))
            .await
            .map_err(StoreError::Database)?;
    }
    Ok(Transaction(txn))
}

/// Calls `on_notify` whenever PostgreSQL delivers a notification on `channel` (another replica's
/// sequencer published a batch), reconnecting after a lost connection (and calling it once then,
/// since a notification may have been missed). Runs until the pool closes; does nothing on
/// SQLite, where one process is the only writer (`None`).
pub fn listen(
    db: &Database,
    channel: &'static str,
    on_notify: impl Fn(Option<&str>) + Send + Sync + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    if db.0.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let pool = db.0.get_postgres_connection_pool().clone();
    Some(tokio::spawn(async move {
        use sea_orm::sqlx::postgres::PgListener;
        let mut backoff = Duration::from_millis(100);
        while !pool.is_closed() {
            let listener = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(channel).await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            };
            match listener.await {
                Ok(mut listener) => {
                    backoff = Duration::from_millis(100);
                    // Notifications sent while not listening are lost: wake as for an unknown one.
                    on_notify(None);
                    while let Ok(notification) = listener.recv().await {
                        on_notify(Some(notification.payload()));
                    }
                    tracing::warn!(channel, "lost the notification connection; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, channel, "cannot listen for notifications"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }))
}

/// Commits a transaction.
pub async fn commit(txn: Transaction) -> Result<(), StoreError> {
    txn.commit().await
}
