//! An HTTP worker's own PostgreSQL connections: one set for the statements it runs outside a
//! transaction (a SCIM `GET` is one such statement), one for its transactions.
//!
//! sqlx's pool tests every connection returned to it with a round trip (a `Sync` and its
//! `ReadyForQuery`), unconditionally: its own comment calls it a band-aid for a statement whose
//! future was dropped half-way, which leaves the connection mid-exchange. On a one-statement `GET`
//! that test was a sixth of the server's CPU, and it is one more round trip per transaction. Here
//! the case it guards against is handled where it happens: a connection comes back only from an
//! exchange that ran to its end (or that the server refused, after which sqlx itself waits for the
//! exchange to finish before the next one); one whose exchange was cut off is closed, never lent
//! again. A connection idle for a while (a restart, a proxy's idle cut) is still pinged before it
//! is lent, as the pools do.
//!
//! One worker runs its requests on one thread, so the locks below are never contended; the
//! semaphore bounds how many connections the worker opens, and a request past the bound waits
//! (as long as the pool's acquire timeout) for one to come back.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnAcquireErr, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{PING_IF_IDLE_FOR, StatementInfo, StatementWatch};

/// How long an unused connection stays open (sqlx's pools default to the same).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// One worker's connections for statements outside a transaction.
pub(super) struct OwnConnections {
    connect: PgConnectOptions,
    acquire_timeout: Duration,
    /// The idle connections, the most recently used last (lent first, so the others age out).
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    max: u32,
    /// Open connections, lent or idle.
    open: AtomicU32,
    watch: Option<StatementWatch>,
}

struct Idle {
    conn: PgConnection,
    since: Instant,
}

impl std::fmt::Debug for OwnConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnConnections")
            .field("max", &self.max)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// A connection lent to one statement or one transaction. Dropped before [`Lent::give_back`] (the
/// statement's future was dropped, or the connection failed), it is closed rather than lent again.
struct Lent {
    home: Arc<OwnConnections>,
    conn: Option<PgConnection>,
    _permit: OwnedSemaphorePermit,
}

impl Lent {
    fn give_back(mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.idle().push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// Closes the connection (it failed, or an exchange on it was cut off).
    fn close(&mut self) {
        if self.conn.take().is_some() {
            self.home.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Gives the connection back after an exchange that left it in step, else closes it.
    fn end(mut self, in_step: bool) {
        if in_step {
            self.give_back();
        } else {
            self.close();
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.close();
    }
}

/// Whether an exchange that ended this way left its connection in step: it ran to its end, or the
/// server refused it (sqlx then waits for the exchange to finish before the next one). Any other
/// failure (the socket, the protocol) leaves it unusable.
fn in_step<T>(result: &Result<T, sqlx::Error>) -> bool {
    matches!(result, Ok(_) | Err(sqlx::Error::Database(_)))
}

/// One kind of exchange for a prepared statement, as sea-orm's connections offer them.
trait Exchange {
    type Out: Send;
    /// The error a failure is reported as (sea-orm's: `Exec` for execute, `Query` for queries).
    const ERR: fn(RuntimeErr) -> DbErr;
    fn run(
        conn: &mut PgConnection,
        query: sqlx::query::Query<'_, sqlx::Postgres, SqlxValues>,
    ) -> impl Future<Output = Result<Self::Out, sqlx::Error>> + Send;
}

struct Execute;
struct QueryOne;
struct QueryAll;

impl Exchange for Execute {
    type Out = ExecResult;
    const ERR: fn(RuntimeErr) -> DbErr = DbErr::Exec;
    async fn run(
        conn: &mut PgConnection,
        query: sqlx::query::Query<'_, sqlx::Postgres, SqlxValues>,
    ) -> Result<ExecResult, sqlx::Error> {
        query.execute(conn).await.map(ExecResult::from)
    }
}

impl Exchange for QueryOne {
    type Out = Option<QueryResult>;
    const ERR: fn(RuntimeErr) -> DbErr = DbErr::Query;
    async fn run(
        conn: &mut PgConnection,
        query: sqlx::query::Query<'_, sqlx::Postgres, SqlxValues>,
    ) -> Result<Option<QueryResult>, sqlx::Error> {
        query
            .fetch_optional(conn)
            .await
            .map(|row| row.map(QueryResult::from))
    }
}

impl Exchange for QueryAll {
    type Out = Vec<QueryResult>;
    const ERR: fn(RuntimeErr) -> DbErr = DbErr::Query;
    async fn run(
        conn: &mut PgConnection,
        query: sqlx::query::Query<'_, sqlx::Postgres, SqlxValues>,
    ) -> Result<Vec<QueryResult>, sqlx::Error> {
        query
            .fetch_all(conn)
            .await
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
    }
}

/// Runs SQL text with the simple protocol: no parameters, several statements in one round trip.
async fn unprepared(conn: &mut PgConnection, sql: &str) -> Result<ExecResult, sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .map(ExecResult::from)
}

fn sqlx_err(error: fn(RuntimeErr) -> DbErr) -> impl FnOnce(sqlx::Error) -> DbErr {
    move |e| error(RuntimeErr::SqlxError(e.into()))
}

fn closed() -> DbErr {
    DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
}

impl OwnConnections {
    pub(super) fn new(
        connect: PgConnectOptions,
        max: u32,
        acquire_timeout: Duration,
        watch: Option<StatementWatch>,
    ) -> Arc<Self> {
        Arc::new(Self {
            connect,
            acquire_timeout,
            idle: Mutex::default(),
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            open: AtomicU32::new(0),
            watch,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// (open, idle, max), for the pool metrics.
    pub(super) fn state(&self) -> (u32, u32, u32) {
        let idle = u32::try_from(self.idle().len()).unwrap_or(u32::MAX);
        (self.open.load(Ordering::Relaxed), idle, self.max)
    }

    /// Closes the idle connections (the lent ones close as their statements end).
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle());
        for Idle { conn, .. } in idle {
            self.open.fetch_sub(1, Ordering::Relaxed);
            let _ = conn.close().await;
        }
    }

    async fn lend(self: &Arc<Self>) -> Result<Lent, DbErr> {
        let deadline = Instant::now() + self.acquire_timeout;
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
                .map_err(|_| closed())?;
        let mut lent = Lent {
            home: self.clone(),
            conn: None,
            _permit: permit,
        };
        while let Some(idle) = self.take_idle() {
            let fresh = idle.since.elapsed() < PING_IF_IDLE_FOR;
            let conn = lent.conn.insert(idle.conn);
            let left = deadline.saturating_duration_since(Instant::now());
            if fresh || matches!(tokio::time::timeout(left, conn.ping()).await, Ok(Ok(()))) {
                return Ok(lent);
            }
            // Dead (the server restarted, a proxy cut it) or silent: closed, and the next one
            // tried.
            lent.close();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let conn = tokio::time::timeout(left, PgConnection::connect_with(&self.connect))
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(sqlx_err(DbErr::Conn))?;
        self.open.fetch_add(1, Ordering::Relaxed);
        lent.conn = Some(conn);
        Ok(lent)
    }

    /// The most recently used idle connection, closing on the way the ones idle too long.
    fn take_idle(&self) -> Option<Idle> {
        let mut idle = self.idle();
        while idle
            .first()
            .is_some_and(|i| i.since.elapsed() >= IDLE_TIMEOUT)
        {
            idle.remove(0);
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        idle.pop()
    }

    /// Runs one prepared statement on `conn`, and tells the watch.
    async fn run_on<E: Exchange>(
        &self,
        conn: &mut PgConnection,
        stmt: Statement,
    ) -> Result<E::Out, sqlx::Error> {
        let started = Instant::now();
        let params = stmt.values.as_ref().map_or(0, |v| v.0.len());
        let values = SqlxValues(stmt.values.unwrap_or(sea_orm::Values(Vec::new())));
        let query = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values);
        let result = E::run(conn, query).await;
        if let Some(watch) = &self.watch {
            watch(&StatementInfo {
                sql: &stmt.sql,
                params,
                elapsed: started.elapsed(),
                failed: result.is_err(),
            });
        }
        result
    }

    /// Runs one statement on a lent connection, given back when the exchange finished.
    async fn run<E: Exchange>(self: &Arc<Self>, stmt: Statement) -> Result<E::Out, DbErr> {
        let mut lent = self.lend().await?;
        let conn = lent.conn.as_mut().ok_or_else(closed)?;
        let result = self.run_on::<E>(conn, stmt).await;
        lent.end(in_step(&result));
        result.map_err(sqlx_err(E::ERR))
    }

    pub(super) async fn execute(self: &Arc<Self>, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run::<Execute>(stmt).await
    }

    pub(super) async fn query_one(
        self: &Arc<Self>,
        stmt: Statement,
    ) -> Result<Option<QueryResult>, DbErr> {
        self.run::<QueryOne>(stmt).await
    }

    pub(super) async fn query_all(
        self: &Arc<Self>,
        stmt: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        self.run::<QueryAll>(stmt).await
    }

    /// Runs SQL text with the simple protocol, on a lent connection.
    pub(super) async fn execute_unprepared(
        self: &Arc<Self>,
        sql: &str,
    ) -> Result<ExecResult, DbErr> {
        let mut lent = self.lend().await?;
        let conn = lent.conn.as_mut().ok_or_else(closed)?;
        let result = unprepared(conn, sql).await;
        lent.end(in_step(&result));
        result.map_err(sqlx_err(DbErr::Exec))
    }

    /// Opens a transaction with `begin` (`BEGIN …`, and what the transaction sets, in one round
    /// trip) on a connection lent to it until it ends.
    pub(super) async fn begin(self: &Arc<Self>, begin: &str) -> Result<OwnTransaction, DbErr> {
        let mut lent = self.lend().await?;
        let conn = lent.conn.as_mut().ok_or_else(closed)?;
        match unprepared(conn, begin).await {
            Ok(_) => Ok(OwnTransaction {
                open: tokio::sync::Mutex::new(Some(Open {
                    lent,
                    in_step: true,
                })),
            }),
            Err(e) => {
                lent.end(matches!(e, sqlx::Error::Database(_)));
                Err(sqlx_err(DbErr::Query)(e))
            }
        }
    }
}

/// A transaction on one of a worker's own connections. Like sqlx's, it commits or rolls back
/// with a statement, and without sqlx's ping of the connection when it is given back: dropped
/// without either (an error returned early), it is rolled back by a task of the worker's
/// runtime before its connection is lent again; a statement of it that was cut off closes the
/// connection instead (PostgreSQL rolls back what a closed connection left open).
pub(super) struct OwnTransaction {
    /// `None` once it ended.
    open: tokio::sync::Mutex<Option<Open>>,
}

struct Open {
    lent: Lent,
    /// False while a statement runs: still false after it, the statement was cut off half-way.
    in_step: bool,
}

impl std::fmt::Debug for OwnTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnTransaction").finish_non_exhaustive()
    }
}

impl OwnTransaction {
    /// Runs one statement of the transaction.
    async fn run<E: Exchange>(&self, stmt: Statement) -> Result<E::Out, DbErr> {
        let mut open = self.open.lock().await;
        let open = open.as_mut().filter(|o| o.in_step).ok_or_else(closed)?;
        let conn = open.lent.conn.as_mut().ok_or_else(closed)?;
        open.in_step = false;
        let result = open.lent.home.run_on::<E>(conn, stmt).await;
        open.in_step = in_step(&result);
        result.map_err(sqlx_err(E::ERR))
    }

    pub(super) async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run::<Execute>(stmt).await
    }

    pub(super) async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run::<QueryOne>(stmt).await
    }

    pub(super) async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run::<QueryAll>(stmt).await
    }

    pub(super) async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut open = self.open.lock().await;
        let open = open.as_mut().filter(|o| o.in_step).ok_or_else(closed)?;
        let conn = open.lent.conn.as_mut().ok_or_else(closed)?;
        open.in_step = false;
        let result = unprepared(conn, sql).await;
        open.in_step = in_step(&result);
        result.map_err(sqlx_err(DbErr::Exec))
    }

    pub(super) async fn commit(self) -> Result<(), DbErr> {
        self.end("COMMIT").await
    }

    pub(super) async fn rollback(self) -> Result<(), DbErr> {
        self.end("ROLLBACK").await
    }

    /// Ends the transaction with `sql`; the connection is given back once it answered.
    async fn end(mut self, sql: &str) -> Result<(), DbErr> {
        let open = self.open.get_mut().take();
        let Some(Open {
            mut lent,
            in_step: true,
        }) = open
        else {
            // A statement of it was cut off: its connection closes (and PostgreSQL rolls back).
            return Err(closed());
        };
        let conn = lent.conn.as_mut().ok_or_else(closed)?;
        let result = unprepared(conn, sql).await;
        lent.end(in_step(&result));
        result.map(|_| ()).map_err(sqlx_err(DbErr::Exec))
    }
}

impl Drop for OwnTransaction {
    fn drop(&mut self) {
        let Some(Open {
            mut lent,
            in_step: true,
        }) = self.open.get_mut().take()
        else {
            return;
        };
        // The connection belongs to the runtime of the worker that opened it, which is the one
        // dropping it; without a runtime, the connection closes.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let Some(conn) = lent.conn.as_mut() else {
                return;
            };
            let result = unprepared(conn, "ROLLBACK").await;
            lent.end(in_step(&result));
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn connections(max: u32, acquire_timeout: Duration) -> Arc<OwnConnections> {
        testkit::install_crypto_provider();
        let url = testkit::postgres_admin_url();
        let options = url
            .parse::<PgConnectOptions>()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        OwnConnections::new(options, max, acquire_timeout, None)
    }

    fn sql(text: &str) -> Statement {
        Statement::from_string(sea_orm::DbBackend::Postgres, text)
    }

    /// The server process behind the connection a statement ran on.
    async fn backend_pid(own: &Arc<OwnConnections>) -> i32 {
        let row = own
            .query_one(sql("SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i32>("", "pid").unwrap()
    }

    #[tokio::test]
    async fn a_connection_is_lent_again_after_its_statement_ends() {
        let own = connections(2, Duration::from_secs(5));
        let first = backend_pid(&own).await;
        assert_eq!(own.state(), (1, 1, 2));
        assert_eq!(
            backend_pid(&own).await,
            first,
            "the same connection, lent again"
        );
        own.close().await;
        assert_eq!(own.state(), (0, 0, 2));
    }

    #[tokio::test]
    async fn a_statement_cut_off_closes_its_connection() {
        let own = connections(2, Duration::from_secs(5));
        let first = backend_pid(&own).await;
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            own.query_one(sql("SELECT pg_sleep(5)")),
        )
        .await;
        assert!(cut.is_err(), "the statement was cut off");
        assert_eq!(
            own.state(),
            (0, 0, 2),
            "its connection was closed, not given back"
        );
        let next = backend_pid(&own).await;
        assert_ne!(next, first, "the next statement runs on a new connection");
        assert_eq!(own.state(), (1, 1, 2));
        own.close().await;
    }

    #[tokio::test]
    async fn a_statement_the_server_refused_leaves_its_connection_in_step() {
        let own = connections(2, Duration::from_secs(5));
        let first = backend_pid(&own).await;
        let refused = own.query_one(sql("SELECT 1 / 0 AS never")).await;
        assert!(
            matches!(refused, Err(DbErr::Query(RuntimeErr::SqlxError(_)))),
            "{refused:?}"
        );
        assert_eq!(own.state(), (1, 1, 2));
        assert_eq!(backend_pid(&own).await, first, "kept, and it still answers");
        own.close().await;
    }

    #[tokio::test]
    async fn past_the_bound_a_statement_waits_for_a_connection_then_times_out() {
        let own = connections(1, Duration::from_millis(300));
        let (slow, waiting) = tokio::join!(own.query_one(sql("SELECT pg_sleep(1.5)")), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            own.query_one(sql("SELECT 1 AS one")).await
        });
        assert!(slow.is_ok(), "{slow:?}");
        assert!(
            matches!(
                waiting,
                Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
            ),
            "{waiting:?}"
        );
        assert_eq!(own.state(), (1, 1, 1), "one connection at most");
        own.close().await;
    }

    /// Whether the session's temporary table `own_txn_check` exists (on the connection lent).
    async fn check_table_exists(own: &Arc<OwnConnections>) -> bool {
        let row = own
            .query_one(sql(
                "SELECT to_regclass('pg_temp.own_txn_check') IS NOT NULL AS present",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<bool>("", "present").unwrap()
    }

    /// A transaction that has created the session's temporary table `own_txn_check`.
    async fn begin_creating_check_table(own: &Arc<OwnConnections>) -> OwnTransaction {
        let txn = own.begin("BEGIN").await.unwrap();
        txn.execute(sql("CREATE TEMP TABLE own_txn_check (x int)"))
            .await
            .unwrap();
        txn
    }

    /// Waits (bounded) until every open connection is idle again.
    async fn all_idle(own: &Arc<OwnConnections>) {
        for _ in 0..200 {
            let (open, idle, _) = own.state();
            if open == idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("still lent: {:?}", own.state());
    }

    #[tokio::test]
    async fn a_committed_transaction_gives_its_connection_back() {
        let own = connections(2, Duration::from_secs(5));
        let txn = begin_creating_check_table(&own).await;
        let row = txn
            .query_one(sql("SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .unwrap();
        let in_transaction = row.try_get::<i32>("", "pid").unwrap();
        assert_eq!(own.state(), (1, 0, 2), "lent to the transaction");
        txn.commit().await.unwrap();
        assert_eq!(own.state(), (1, 1, 2), "given back at once");
        assert_eq!(
            backend_pid(&own).await,
            in_transaction,
            "the same connection"
        );
        assert!(check_table_exists(&own).await, "what it did is committed");
        own.close().await;
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_before_its_connection_is_lent() {
        let own = connections(2, Duration::from_secs(5));
        let first = backend_pid(&own).await;
        let txn = begin_creating_check_table(&own).await;
        // A statement the server refuses aborts the transaction; the connection stays in step.
        let refused = txn.query_one(sql("SELECT 1 / 0 AS never")).await;
        assert!(matches!(refused, Err(DbErr::Query(_))), "{refused:?}");
        drop(txn);
        all_idle(&own).await;
        assert_eq!(own.state(), (1, 1, 2));
        assert_eq!(backend_pid(&own).await, first, "the same connection");
        assert!(!check_table_exists(&own).await, "rolled back");
        own.close().await;
    }

    #[tokio::test]
    async fn a_statement_cut_off_in_a_transaction_closes_its_connection() {
        let own = connections(2, Duration::from_secs(5));
        let first = backend_pid(&own).await;
        let txn = begin_creating_check_table(&own).await;
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            txn.query_one(sql("SELECT pg_sleep(5)")),
        )
        .await;
        assert!(cut.is_err(), "the statement was cut off");
        let next = txn.query_one(sql("SELECT 1 AS one")).await;
        assert!(
            matches!(next, Err(DbErr::ConnectionAcquire(_))),
            "the transaction runs nothing more: {next:?}"
        );
        let committed = txn.commit().await;
        assert!(committed.is_err(), "nor commits: {committed:?}");
        assert_eq!(own.state(), (0, 0, 2), "its connection was closed");
        assert_ne!(backend_pid(&own).await, first, "a new connection");
        assert!(!check_table_exists(&own).await);
        own.close().await;
    }

    #[tokio::test]
    async fn a_transaction_can_set_what_it_needs_with_its_begin() {
        let own = connections(2, Duration::from_secs(5));
        let timeout = async || {
            let row = own
                .query_one(sql(
                    "SELECT current_setting('statement_timeout') AS timeout",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<String>("", "timeout").unwrap()
        };
        let before = timeout().await;
        let txn = own
            .begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = 150")
            .await
            .unwrap();
        let row = txn
            .query_one(sql(
                "SELECT current_setting('transaction_isolation') AS isolation, \
                 current_setting('transaction_read_only') AS read_only",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<String>("", "isolation").unwrap(),
            "repeatable read"
        );
        assert_eq!(row.try_get::<String>("", "read_only").unwrap(), "on");
        let slow = txn.query_one(sql("SELECT pg_sleep(2)")).await;
        assert!(
            matches!(&slow, Err(DbErr::Query(RuntimeErr::SqlxError(e))) if e.to_string().contains("statement timeout")),
            "{slow:?}"
        );
        txn.rollback().await.unwrap();
        assert_eq!(own.state(), (1, 1, 2), "in step, given back");
        assert_eq!(timeout().await, before, "the setting ended with it");
        own.close().await;
    }
}
