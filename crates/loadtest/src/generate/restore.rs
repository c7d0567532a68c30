//! The steps after the load (index builds, constraints, validations, VACUUM) on parallel
//! connections, each as soon as it may run: when the steps it needs are done and no running
//! step holds its tables in a way that would make it wait. Index builds share a table (their
//! SHARE locks do not conflict); every other step has its tables to itself. So the users' GIN
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
    /// A foreign key's referenced table, locked while the key is added.
    also_locks: Option<String>,
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
            also_locks: None,
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

    pub fn also_locking(mut self, table: &str) -> Self {
        self.also_locks = Some(table.to_owned());
        self
    }

    pub fn after(mut self, steps: Vec<usize>) -> Self {
        self.after = steps;
        self
    }

    pub fn is_build_of(&self, tables: &[&str]) -> bool {
        self.build && tables.contains(&self.table.as_str())
    }

    fn tables(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.table.as_str()).chain(self.also_locks.as_deref())
    }

    fn touches(&self, table: &str) -> bool {
        self.tables().any(|t| t == table)
    }

    fn conflicts_with(&self, other: &Step) -> bool {
        !(self.build && other.build) && self.tables().any(|t| other.touches(t))
    }
}

/// `steps` and then a `VACUUM (ANALYZE)` of each of `tables` once nothing else is left to do
/// on it: visibility map set (index-only scans), statistics current, and nothing left for
/// autovacuum to start in the middle of a benchmark.
pub fn with_vacuums(mut steps: Vec<Step>, tables: &[&str]) -> Vec<Step> {
    for table in tables {
        let after = (0..steps.len())
            .filter(|&i| steps[i].touches(table))
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
                Step::build("btree".into(), "emails"),
                Step::new("fk".into(), "emails")
                    .also_locking("users")
                    .after(vec![0, 1, 2]),
            ],
            &["users", "emails"],
        );
        let mut board = Board {
            running: vec![false; steps.len()],
            done: vec![false; steps.len()],
            failed: false,
        };
        board.running[0] = true;
        assert_eq!(board.next(&steps), Some(1), "a second build of the table");
        board.running[1] = true;
        assert_eq!(board.next(&steps), Some(2));
        board.running[2] = true;
        assert_eq!(board.next(&steps), None);
        board.running[2] = false;
        board.done[2] = true;
        assert_eq!(
            board.next(&steps),
            None,
            "the key waits for the users' builds"
        );
        board.running[1] = false;
        board.done[1] = true;
        assert_eq!(
            board.next(&steps),
            None,
            "and the emails' vacuum for the key"
        );
        board.running[0] = false;
        board.done[0] = true;
        assert_eq!(board.next(&steps), Some(3));
        board.running[3] = true;
        assert_eq!(board.next(&steps), None, "both vacuums wait for the key");
        board.running[3] = false;
        board.done[3] = true;
        assert_eq!(board.next(&steps), Some(4));
    }
}
