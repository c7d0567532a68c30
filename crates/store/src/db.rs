//! Opening the database: one code path for SQLite and PostgreSQL, with the settings each needs to
//! be safe under concurrent writers — and the only handles to it other crates get. [`Database`]
//! and [`Transaction`] wrap sea-orm's connection without exposing it, so no query can be written
//! outside this crate: the repositories are the way in, and tenant repositories take an
//! [`crate::OrgScope`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::StoreError;
use crate::migration::Migrator;

mod own_connections;
use own_connections::{OwnConnections, OwnTransaction};

/// The region's pooled database connection.
#[derive(Clone)]
pub struct Database {
    pools: Pools,
}

/// What a [`Database`] holds, and the sea-orm connection its repositories run on. Other crates
/// can neither build one nor reach the one in a [`Database`] (that takes a [`sealed::Token`]),
/// so no query is written outside this crate.
#[derive(Clone)]
pub struct Pools {
    /// The pool of everything but the HTTP workers (background work, the CLI), and of the HTTP
    /// workers too until [`Database::give_each_worker_a_pool`].
    shared: DatabaseConnection,
    /// Each HTTP worker's own pool, on PostgreSQL once the server sets them up; shared by every
    /// clone, so the handles built before that use them as well.
    workers: Arc<OnceLock<WorkerPools>>,
    /// What [`Database::on_statement`] watches with, for worker pools opened after it.
    watch: Arc<Mutex<Option<StatementWatch>>>,
    /// What the pools are opened with.
    opened_with: Arc<(String, PoolSettings)>,
}

type StatementWatch = Arc<dyn Fn(&StatementInfo<'_>) + Send + Sync>;

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("shared", &self.pools.shared)
            .field("workers", &self.pools.workers)
            .finish_non_exhaustive()
    }
}

/// Pools of their own for the threads that serve requests. A socket is driven by the runtime it
/// was opened on, and each HTTP worker runs a runtime of its own: a connection that one worker
/// (or the background runtime) opened wakes that thread as well on every round trip when another
/// worker uses it. A worker whose connections are all its own wakes nobody else.
#[derive(Debug)]
struct WorkerPools {
    /// Which database's pools a thread's binding is for (several run in one test process).
    family: u64,
    /// The next binding's slot.
    next: AtomicUsize,
    /// One per binding, opened on first use on the worker's own thread. A worker that actix
    /// restarts (after a panic) takes a new slot rather than its predecessor's: those connections
    /// belong to a runtime that is gone. Past the spare slots, a new worker uses the shared pool.
    pools: Vec<OnceLock<WorkerPool>>,
    /// Each worker's share of `max_connections`.
    max_each: u32,
}

/// One HTTP worker's connections: half for its statements outside a transaction (most requests
/// are one such read), half for its transactions, so that transactions waiting on a statement
/// outside them never hold every connection.
#[derive(Debug)]
struct WorkerPool {
    statements: Arc<OwnConnections>,
    transactions: Arc<OwnConnections>,
}

thread_local! {
    /// The worker pool this thread serves requests from: its database's family, and the index.
    static SERVING_FROM: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

/// Worker pools beyond the workers' count, for workers actix restarts.
const SPARE_BINDINGS: usize = 16;

/// Tells families of worker pools apart.
static FAMILIES: AtomicU64 = AtomicU64::new(0);

/// A write transaction open on the [`Database`]; repositories run on it as on the database.
/// Dropped without [`Transaction::commit`], it rolls back.
#[derive(Debug)]
pub struct Transaction(TransactionConn);

/// The sea-orm connection a [`Transaction`] runs on: an HTTP worker's own connection
/// (PostgreSQL), else one of sea-orm's pools.
#[derive(Debug)]
pub struct TransactionConn(OpenOn);

#[derive(Debug)]
enum OpenOn {
    Worker(OwnTransaction),
    Pool(DatabaseTransaction),
}

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
    type Raw = Pools;
    fn raw_with(&self, _: sealed::Token) -> &Pools {
        &self.pools
    }
}

/// A statement outside a transaction runs on the worker's own connections when an HTTP worker
/// runs it (PostgreSQL), else on the shared pool.
#[async_trait::async_trait]
impl ConnectionTrait for Pools {
    fn get_database_backend(&self) -> DbBackend {
        self.shared.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        match self.worker() {
            Some(worker) => worker.statements.execute(stmt).await,
            None => self.shared.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        match self.worker() {
            Some(worker) => worker.statements.execute_unprepared(sql).await,
            None => self.shared.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        match self.worker() {
            Some(worker) => worker.statements.query_one(stmt).await,
            None => self.shared.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        match self.worker() {
            Some(worker) => worker.statements.query_all(stmt).await,
            None => self.shared.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        self.shared.support_returning()
    }
}

impl Conn for Database {
    fn is_postgres(&self) -> bool {
        self.pools.shared.get_database_backend() == DbBackend::Postgres
    }
}

impl Database {
    fn new(shared: DatabaseConnection, url: &str, settings: &PoolSettings) -> Self {
        Self {
            pools: Pools {
                shared,
                workers: Arc::default(),
                watch: Arc::default(),
                opened_with: Arc::new((url.to_owned(), settings.clone())),
            },
        }
    }

    /// Gives each of `workers` HTTP workers a pool of its own (PostgreSQL; nothing on SQLite),
    /// sharing `max_connections` between them; the shared pool keeps serving everything else.
    /// Each worker thread then calls [`Database::serve_from_this_thread`].
    pub fn give_each_worker_a_pool(&self, workers: usize) {
        if !self.is_postgres() || workers == 0 {
            return;
        }
        let max = self.pools.opened_with.1.max_connections;
        let count = u32::try_from(workers).unwrap_or(u32::MAX);
        let _ = self.pools.workers.set(WorkerPools {
            family: FAMILIES.fetch_add(1, Ordering::Relaxed),
            next: AtomicUsize::new(0),
            pools: (0..workers + SPARE_BINDINGS)
                .map(|_| OnceLock::new())
                .collect(),
            // Two at least: one for statements outside a transaction, one for transactions.
            max_each: max.div_ceil(count).max(2),
        });
    }

    /// Binds the calling thread (an HTTP worker starting) to a worker pool of its own.
    pub fn serve_from_this_thread(&self) {
        if let Some(workers) = self.pools.workers.get() {
            let index = workers.next.fetch_add(1, Ordering::Relaxed);
            SERVING_FROM.set(Some((workers.family, index)));
        }
    }
}

impl Pools {
    /// This thread's worker pool, when it is an HTTP worker's (PostgreSQL).
    fn worker(&self) -> Option<&WorkerPool> {
        let (Some(workers), Some((family, index))) = (self.workers.get(), SERVING_FROM.get())
        else {
            return None;
        };
        if family != workers.family {
            return None;
        }
        let slot = workers.pools.get(index)?;
        if let Some(pool) = slot.get() {
            return Some(pool);
        }
        let pool = self.worker_pool(workers.max_each)?;
        Some(slot.get_or_init(|| pool))
    }

    /// A worker's connections, opened lazily: they are opened by the worker that uses them.
    /// `None` if the URL does not parse (the shared pool opened with it, so this does not happen;
    /// if it did, the worker would use the shared pool: correct, only slower).
    fn worker_pool(&self, max: u32) -> Option<WorkerPool> {
        use sea_orm::sqlx::ConnectOptions as _;
        let (url, settings) = &*self.opened_with;
        let connect = url
            .parse::<PgConnectOptions>()
            .ok()?
            .disable_statement_logging();
        let watch = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let statements_max = max.div_ceil(2);
        let open = |max| {
            OwnConnections::new(
                connect.clone(),
                max,
                settings.acquire_timeout,
                watch.clone(),
            )
        };
        Some(WorkerPool {
            statements: open(statements_max),
            transactions: open(max - statements_max),
        })
    }

    /// The workers' pools that are open.
    fn worker_pools(&self) -> impl Iterator<Item = &WorkerPool> {
        self.workers
            .get()
            .into_iter()
            .flat_map(|w| w.pools.iter().filter_map(OnceLock::get))
    }

    /// Opens a transaction with `options`, then runs `set` in it (`SET LOCAL …`, PostgreSQL): on
    /// the worker's own connections with one `BEGIN …; SET …` (PostgreSQL), else on the shared
    /// pool.
    async fn begin(
        &self,
        options: TransactionOptions,
        set: Option<&str>,
    ) -> Result<Transaction, DbErr> {
        let open = match self.worker() {
            Some(worker) => {
                // What sea-orm sends as `SET TRANSACTION …` after its `BEGIN`, in the `BEGIN`.
                let mut begin = String::from("BEGIN");
                if let Some(level) = options.isolation_level {
                    begin.push_str(&format!(" ISOLATION LEVEL {level}"));
                }
                if let Some(mode) = options.access_mode {
                    begin.push_str(&format!(" {mode}"));
                }
                if let Some(set) = set {
                    begin.push_str("; ");
                    begin.push_str(set);
                }
                OpenOn::Worker(worker.transactions.begin(&begin).await?)
            }
            None => {
                let txn = self.shared.begin_with_options(options).await?;
                if let Some(set) = set {
                    txn.execute_unprepared(set).await?;
                }
                OpenOn::Pool(txn)
            }
        };
        Ok(Transaction(TransactionConn(open)))
    }
}

fn statement_info<'a>(info: &'a sea_orm::metric::Info<'a>) -> StatementInfo<'a> {
    StatementInfo {
        sql: &info.statement.sql,
        params: info.statement.values.as_ref().map_or(0, |v| v.0.len()),
        elapsed: info.elapsed,
        failed: info.failed,
    }
}

impl sealed::Sealed for Transaction {
    type Raw = TransactionConn;
    fn raw_with(&self, _: sealed::Token) -> &TransactionConn {
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
        match self.0.0 {
            OpenOn::Worker(txn) => txn.commit().await,
            OpenOn::Pool(txn) => txn.commit().await,
        }
        .map_err(StoreError::from)
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.0.0 {
            OpenOn::Worker(txn) => txn.rollback().await,
            OpenOn::Pool(txn) => txn.rollback().await,
        }
        .map_err(StoreError::from)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TransactionConn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            OpenOn::Worker(_) => DbBackend::Postgres,
            OpenOn::Pool(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        match &self.0 {
            OpenOn::Worker(txn) => txn.execute(stmt).await,
            OpenOn::Pool(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        match &self.0 {
            OpenOn::Worker(txn) => txn.execute_unprepared(sql).await,
            OpenOn::Pool(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        match &self.0 {
            OpenOn::Worker(txn) => txn.query_one(stmt).await,
            OpenOn::Pool(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        match &self.0 {
            OpenOn::Worker(txn) => txn.query_all(stmt).await,
            OpenOn::Pool(txn) => txn.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        match &self.0 {
            OpenOn::Worker(_) => true,
            OpenOn::Pool(txn) => txn.support_returning(),
        }
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
    /// Calls `watch` after every statement the pools run (metrics, and tests that check no
    /// statement's size grows with the input); worker pools opened later are watched alike.
    pub fn on_statement(&mut self, watch: impl Fn(&StatementInfo<'_>) + Send + Sync + 'static) {
        let watch: StatementWatch = Arc::new(watch);
        *self
            .pools
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(watch.clone());
        self.pools
            .shared
            .set_metric_callback(move |info| watch(&statement_info(info)));
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

impl PoolState {
    fn add(&mut self, size: u32, idle: u32, max: u32) {
        self.size += size;
        self.idle += idle;
        self.max += max;
    }
}

impl Database {
    /// The pools' current use, added up.
    pub fn pool_state(&self) -> PoolState {
        let mut state = PoolState {
            size: 0,
            idle: 0,
            max: 0,
        };
        // The backend is checked first: sea-orm's getters panic on the other one.
        let shared = &self.pools.shared;
        let (size, idle, max) = match shared.get_database_backend() {
            DbBackend::Postgres => {
                let pool = shared.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => {
                let pool = shared.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
        };
        state.add(size, u32::try_from(idle).unwrap_or(u32::MAX), max);
        for worker in self.pools.worker_pools() {
            for own in [&worker.statements, &worker.transactions] {
                let (size, idle, max) = own.state();
                state.add(size, idle, max);
            }
        }
        state
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
        .map(|shared| Database::new(shared, url, settings))
        .map_err(StoreError::Database)
}

/// Applies every pending migration.
pub async fn migrate(db: &Database) -> Result<(), StoreError> {
    Migrator::up(&db.pools.shared, None)
        .await
        .map_err(StoreError::Database)
}

/// Checks the database answers a trivial query (readiness).
///
/// An HTTP worker pings over its own connections: a shared-pool connection opened on a worker's
/// runtime dies with that runtime (actix restarts a worker after a panic), and every other
/// statement of a worker already runs on its own.
pub async fn ping(db: &Database) -> Result<(), StoreError> {
    match db.pools.worker() {
        Some(worker) => worker
            .statements
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ()),
        None => db.pools.shared.ping().await,
    }
    .map_err(StoreError::Database)
}

/// Closes the pool (tests that drop their database).
pub async fn close(db: Database) -> Result<(), StoreError> {
    for worker in db.pools.worker_pools() {
        worker.statements.close().await;
        worker.transactions.close().await;
    }
    db.pools
        .shared
        .clone()
        .close()
        .await
        .map_err(StoreError::Database)
}

/// Opens a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers queue on the busy
/// timeout instead of failing when the second one tries to upgrade its read lock.
pub async fn begin_write(db: &Database) -> Result<Transaction, StoreError> {
    begin_write_setting(db, None).await
}

/// A write transaction that runs `set` (PostgreSQL) first.
async fn begin_write_setting(db: &Database, set: Option<&str>) -> Result<Transaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (!db.is_postgres()).then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.pools
        .begin(options, set)
        .await
        .map_err(StoreError::Database)
}

/// Opens a write transaction (as [`begin_write`]) whose statements PostgreSQL plans with
/// sequential scans priced out (`SET LOCAL enable_seqscan = off`), for writes made of keyed
/// statements only, such as a group's membership changes.
///
/// A prepared statement keeps the generic plan it settles on after its fifth run until the table
/// is next analyzed. Settled while the table was a few pages (a new region, its first groups
/// pushed), that plan is a sequential scan, which then reads the whole table on every run as it
/// grows, until autovacuum analyzes it: a one-member PATCH of a group cost twice as much at 10,000
/// members as at 10 (`docs/benchmarks.md`). Priced out, the plan is an index's from the start.
pub async fn begin_write_keyed(db: &Database) -> Result<Transaction, StoreError> {
    let set = db.is_postgres().then_some("SET LOCAL enable_seqscan = off");
    begin_write_setting(db, set).await
}

/// Opens a read-only transaction whose reads all see one snapshot of the database (PostgreSQL
/// `REPEATABLE READ`; a SQLite read transaction in WAL mode), for a listing that must agree with
/// a cursor taken in the same transaction.
pub async fn begin_read(db: &Database) -> Result<Transaction, StoreError> {
    let postgres = db.is_postgres();
    let options = TransactionOptions {
        isolation_level: postgres.then_some(sea_orm::IsolationLevel::RepeatableRead),
        access_mode: postgres.then_some(sea_orm::AccessMode::ReadOnly),
        sqlite_transaction_mode: (!postgres).then_some(SqliteTransactionMode::Deferred),
    };
    db.pools
        .begin(options, None)
        .await
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
    let set = format!(
        "SET LOCAL statement_timeout = {}",
        limit.as_millis().clamp(1, i32::MAX as u128)
    );
    db.pools
        .begin(
            TransactionOptions::default(),
            db.is_postgres().then_some(set.as_str()),
        )
        .await
        .map_err(StoreError::Database)
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
    if !db.is_postgres() {
        return None;
    }
    let pool = db.pools.shared.get_postgres_connection_pool().clone();
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
