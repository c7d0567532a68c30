//! An HTTP worker's own PostgreSQL connections for the statements it runs outside a transaction:
//! a SCIM `GET` is one such statement.
//!
//! sqlx's pool tests every connection returned to it with a round trip (a `Sync` and its
//! `ReadyForQuery`), unconditionally: its own comment calls it a band-aid for a statement whose
//! future was dropped half-way, which leaves the connection mid-exchange. On a one-statement `GET`
//! that test was a sixth of the server's CPU. Here the case it guards against is handled where it
//! happens: a connection comes back only from a statement that ran to its end (or that the server
//! refused, after which sqlx itself waits for the exchange to finish before the next one); one
//! whose statement was cut off is closed, never lent again. A connection idle for a while (a
//! restart, a proxy's idle cut) is still pinged before it is lent, as the pools do.
//!
//! One worker runs its requests on one thread, so the lock below is never contended; the
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

/// A connection lent to one statement. Dropped before [`Lent::give_back`] (the statement's future
/// was dropped, or the connection failed), it is closed rather than lent again.
struct Lent<'a> {
    home: &'a OwnConnections,
    conn: Option<PgConnection>,
    _permit: OwnedSemaphorePermit,
}

impl Lent<'_> {
    fn give_back(mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.idle().push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.home.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl OwnConnections {
    pub(super) fn new(
        connect: PgConnectOptions,
        max: u32,
        acquire_timeout: Duration,
        watch: Option<StatementWatch>,
    ) -> Self {
        Self {
            connect,
            acquire_timeout,
            idle: Mutex::default(),
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            open: AtomicU32::new(0),
            watch,
        }
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

    async fn lend(&self) -> Result<Lent<'_>, DbErr> {
        let deadline = Instant::now() + self.acquire_timeout;
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
                .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let mut lent = Lent {
            home: self,
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
            drop(lent.conn.take());
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let conn = tokio::time::timeout(left, PgConnection::connect_with(&self.connect))
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e.into())))?;
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

    /// Runs one statement on a lent connection and gives the connection back when the exchange
    /// finished: on success, or on an error the server answered (the connection stays in step).
    async fn run<T>(
        &self,
        stmt: Statement,
        run: impl AsyncFnOnce(
            &mut PgConnection,
            sqlx::query::Query<'_, sqlx::Postgres, SqlxValues>,
        ) -> Result<T, sqlx::Error>,
        error: fn(RuntimeErr) -> DbErr,
    ) -> Result<T, DbErr> {
        let mut lent = self.lend().await?;
        let started = Instant::now();
        let params = stmt.values.as_ref().map_or(0, |v| v.0.len());
        let values = SqlxValues(stmt.values.unwrap_or(sea_orm::Values(Vec::new())));
        let query = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values);
        let Some(conn) = lent.conn.as_mut() else {
            return Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        };
        let result = run(conn, query).await;
        if let Some(watch) = &self.watch {
            watch(&StatementInfo {
                sql: &stmt.sql,
                params,
                elapsed: started.elapsed(),
                failed: result.is_err(),
            });
        }
        match result {
            Ok(out) => {
                lent.give_back();
                Ok(out)
            }
            Err(e) => {
                if matches!(e, sqlx::Error::Database(_)) {
                    lent.give_back();
                }
                Err(error(RuntimeErr::SqlxError(e.into())))
            }
        }
    }

    pub(super) async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run(
            stmt,
            async |conn, query| query.execute(conn).await.map(ExecResult::from),
            DbErr::Exec,
        )
        .await
    }

    pub(super) async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run(
            stmt,
            async |conn, query| {
                query
                    .fetch_optional(conn)
                    .await
                    .map(|row| row.map(QueryResult::from))
            },
            DbErr::Query,
        )
        .await
    }

    pub(super) async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run(
            stmt,
            async |conn, query| {
                query
                    .fetch_all(conn)
                    .await
                    .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            },
            DbErr::Query,
        )
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn connections(max: u32, acquire_timeout: Duration) -> OwnConnections {
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
    async fn backend_pid(own: &OwnConnections) -> i32 {
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
}
