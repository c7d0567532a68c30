//! The steps after the load (index builds, constraints, validations, VACUUM) on parallel
//! connections, each as soon as it may run: when the steps it needs are done and no running
//! step holds its table in a way that would make it wait. Index builds share a table (their
//! SHARE locks do not conflict); every other step has its table to itself. So the users' GIN
//! build — one process, the longest step — runs beside everything the other tables need instead
//! of ahead of it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::Notify;

/// Memory for each index build (the server default, 64 MB, sorts ten million keys on disk),
/// and for each foreign key validation's hash join.
const MAINTENANCE_WORK_MEM: &str = "1GB";
const WORK_MEM: &str = "256MB";

/// One statement, what it waits for and what it locks.
#[derive(Debug)]
pub struct Step {
    /// Built from catalog definitions and this crate's table names only.
    sql: String,
    table: String,
    /// An index build, which shares its table with other builds.
    build: bool,
    /// Steps (indexes into the list) that must be done first.
    after: Vec<usize>,
}

impl Step {
    /// A step with `table` to itself.
    pub fn new(sql: String, table: &str) -> Self {
        Self {
            sql,
            table: table.to_owned(),
            build: false,
            after: Vec::new(),
        }
    }

    /// An index build of `table`.
    pub fn build(sql: String, table: &str) -> Self {
        Self {
            build: true,
            ..Self::new(sql, table)
        }
    }

    pub fn after(mut self, steps: Vec<usize>) -> Self {
        self.after = steps;
        self
    }

    pub fn is_build_of(&self, table: &str) -> bool {
        self.build && self.table == table
    }

    fn conflicts_with(&self, other: &Step) -> bool {
        !(self.build && other.build) && self.table == other.table
    }
}

/// `steps` and then a `VACUUM (ANALYZE)` of each of `tables` once nothing else is left to do
/// on it: visibility map set (index-only scans), statistics current, and nothing left for
/// autovacuum to start in the middle of a benchmark.
pub fn with_vacuums(mut steps: Vec<Step>, tables: &[&str]) -> Vec<Step> {
    for table in tables {
        let after = (0..steps.len())
            .filter(|&i| steps[i].table == *table)
            .collect();
        steps.push(Step::new(format!("VACUUM (ANALYZE) {table}"), table).after(after));
    }
    steps
}

/// Which steps are running and done.
#[derive(Debug)]
struct Board {
    running: Vec<bool>,
    done: Vec<bool>,
    failed: bool,
}

impl Board {
    /// The first step that may start now.
    fn next(&self, steps: &[Step]) -> Option<usize> {
        (0..steps.len()).find(|&i| {
            !self.done[i]
                && !self.running[i]
                && steps[i].after.iter().all(|&j| self.done[j])
                && !(0..steps.len()).any(|j| self.running[j] && steps[i].conflicts_with(&steps[j]))
        })
    }
}

/// Runs `steps` on `connections` connections; prints each step's time.
pub async fn run(url: &str, steps: Vec<Step>, connections: usize) -> anyhow::Result<()> {
    let board = Arc::new(Mutex::new(Board {
        running: vec![false; steps.len()],
        done: vec![false; steps.len()],
        failed: false,
    }));
    let steps = Arc::new(steps);
    let changed = Arc::new(Notify::new());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (url, steps, board, changed) = (
            url.to_owned(),
            steps.clone(),
            board.clone(),
            changed.clone(),
        );
        workers.spawn(async move {
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'; SET work_mem = '{WORK_MEM}'"
            )))
            .execute(&mut conn)
            .await?;
            loop {
                // Registered before looking, so a step finishing in between still wakes us.
                let notified = changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let picked = {
                    let Ok(mut state) = board.lock() else {
                        bail!("a worker panicked")
                    };
                    if state.failed || state.done.iter().all(|&d| d) {
                        return Ok(());
                    }
                    let next = state.next(&steps);
                    if next.is_none() && !state.running.iter().any(|&r| r) {
                        bail!("the remaining steps wait on each other");
                    }
                    if let Some(i) = next {
                        state.running[i] = true;
                    }
                    next
                };
                let Some(i) = picked else {
                    notified.await;
                    continue;
                };
                let sql = steps[i].sql.as_str();
                let started = Instant::now();
                let result = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
                if let Ok(mut state) = board.lock() {
                    state.running[i] = false;
                    state.done[i] = result.is_ok();
                    state.failed |= result.is_err();
                }
                changed.notify_waiters();
                result.with_context(|| sql.to_owned())?;
                eprintln!("  {:>7.1} s  {sql}", started.elapsed().as_secs_f64());
            }
        });
    }
    while let Some(worker) = workers.join_next().await {
        worker??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_share_a_table_everything_else_has_it_alone() {
        let steps = with_vacuums(
            vec![
                Step::build("gin".into(), "users"),
                Step::build("btree".into(), "users"),
                Step::build("btree".into(), "accounts"),
                Step::new("unique".into(), "accounts").after(vec![2]),
                Step::new("validate".into(), "users").after(vec![3]),
            ],
            &["users", "accounts"],
        );
        let (validate, vacuum_users, vacuum_accounts) = (4, 5, 6);
        let mut board = Board {
            running: vec![false; steps.len()],
            done: vec![false; steps.len()],
            failed: false,
        };
        let start = |board: &mut Board, want: Option<usize>, why: &str| {
            assert_eq!(board.next(&steps), want, "{why}");
            if let Some(i) = want {
                board.running[i] = true;
            }
        };
        let finish = |board: &mut Board, i: usize| {
            board.running[i] = false;
            board.done[i] = true;
        };
        start(&mut board, Some(0), "the first build");
        start(&mut board, Some(1), "a second build of the same table");
        start(&mut board, Some(2), "a build of another table");
        start(&mut board, None, "the constraint waits for its index");
        finish(&mut board, 2);
        start(&mut board, Some(3), "the constraint after its index");
        start(&mut board, None, "the validation waits for the constraint");
        finish(&mut board, 3);
        start(
            &mut board,
            Some(vacuum_accounts),
            "not while the users' builds run",
        );
        finish(&mut board, 1);
        start(&mut board, None, "nor beside the GIN build");
        finish(&mut board, 0);
        start(&mut board, Some(validate), "the users' table is free");
        start(&mut board, None, "its vacuum comes last");
        finish(&mut board, validate);
        start(&mut board, Some(vacuum_users), "last");
    }
}
