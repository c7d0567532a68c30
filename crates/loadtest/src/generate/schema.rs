//! The schema around a bulk load: secondary indexes, unique constraints and foreign keys of the
//! loaded tables are read from PostgreSQL's catalog, dropped, and re-created from the very
//! definitions read once the rows are in (one sort per index instead of ten million insertions,
//! one join per foreign key instead of ten million lookups). The catalog is compared before and
//! after, so the database ends with exactly the schema the migrations made. Primary keys stay.
//! Plus: id ranges reserved from the sequences, and the statements run on parallel connections.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, ensure};
// Every statement built here is made of the catalog's own definitions and names, or of table
// names of this crate: nothing from outside goes into SQL text.
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Memory for each index build (the server default, 64 MB, sorts ten million keys on disk).
const MAINTENANCE_WORK_MEM: &str = "1GB";

/// What was dropped, to put back.
#[derive(Debug, Default)]
pub struct Deferred {
    /// `CREATE INDEX …` and `ALTER TABLE … ADD CONSTRAINT … UNIQUE …`, with their table.
    builds: Vec<(String, String)>,
    /// (table, quoted name, definition) of each foreign key.
    foreign_keys: Vec<(String, String, String)>,
}

/// Every index and constraint of `tables` with its definition: what must be the same before the
/// load and after.
pub async fn catalog(conn: &mut PgConnection, tables: &[&str]) -> anyhow::Result<BTreeSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT format('index %s: %s', indexrelid::regclass, pg_get_indexdef(indexrelid))
           FROM pg_index WHERE indrelid = ANY($1::text[]::regclass[])
         UNION ALL
         SELECT format('constraint %s on %s: %s (validated %s)', conname, conrelid::regclass,
                       pg_get_constraintdef(oid), convalidated)
           FROM pg_constraint
          WHERE conrelid = ANY($1::text[]::regclass[]) OR confrelid = ANY($1::text[]::regclass[])",
    )
    .bind(tables)
    .fetch_all(conn)
    .await
    .context("reading the catalog")?;
    Ok(rows.into_iter().map(|(line,)| line).collect())
}

/// Drops the secondary indexes, unique constraints and foreign keys of `tables` (and the foreign
/// keys pointing at them, which would otherwise forbid truncating them), in one transaction.
pub async fn defer(conn: &mut PgConnection, tables: &[&str]) -> anyhow::Result<Deferred> {
    let foreign_keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE contype = 'f'
            AND (conrelid = ANY($1::text[]::regclass[]) OR confrelid = ANY($1::text[]::regclass[]))
          ORDER BY 1, 2",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    let uniques: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE contype = 'u' AND conrelid = ANY($1::text[]::regclass[])
          ORDER BY 1, 2",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    // Indexes of their own (not a primary key's or a unique constraint's).
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid)
           FROM pg_index i
          WHERE indrelid = ANY($1::text[]::regclass[])
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                               AND c.contype IN ('p', 'u', 'x'))
          ORDER BY 1, 2",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;

    let mut drops = Vec::new();
    let mut deferred = Deferred::default();
    for (table, name, definition) in foreign_keys {
        drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
        deferred.foreign_keys.push((table, name, definition));
    }
    for (table, name, definition) in uniques {
        drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
        deferred.builds.push((
            table.clone(),
            format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"),
        ));
    }
    for (table, name, definition) in indexes {
        drops.push(format!("DROP INDEX {name}"));
        deferred.builds.push((table, definition));
    }
    let mut txn = conn.begin().await?;
    for drop in &drops {
        sqlx::raw_sql(AssertSqlSafe(drop.as_str()))
            .execute(&mut *txn)
            .await
            .with_context(|| drop.clone())?;
    }
    txn.commit().await?;
    Ok(deferred)
}

impl Deferred {
    /// How many indexes (and unique constraints) and foreign keys were dropped.
    pub fn counts(&self) -> (usize, usize) {
        (self.builds.len(), self.foreign_keys.len())
    }

    /// Builds the indexes and unique constraints (the biggest tables' first, GIN before
    /// B-tree), then adds the foreign keys unvalidated (a catalog change) and validates them
    /// all — on `connections` parallel connections; validations of different tables do not
    /// block each other. Returns the seconds of each phase.
    pub async fn restore(
        mut self,
        url: &str,
        control: &mut PgConnection,
        connections: usize,
    ) -> anyhow::Result<(f64, f64)> {
        let started = Instant::now();
        let sizes: Vec<(String, i64)> =
            sqlx::query_as("SELECT relname::text, pg_relation_size(oid) FROM pg_class")
                .fetch_all(&mut *control)
                .await?;
        let size = |table: &str| {
            sizes
                .iter()
                .find(|(name, _)| name == table)
                .map_or(0, |(_, bytes)| *bytes)
        };
        self.builds.sort_by_key(|(table, sql)| {
            (
                std::cmp::Reverse(size(table)),
                !sql.contains("USING gin"),
                sql.clone(),
            )
        });
        run_parallel(
            url,
            self.builds.into_iter().map(|(_, sql)| sql).collect(),
            connections,
        )
        .await?;
        let built = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let mut txn = control.begin().await?;
        for (table, name, definition) in &self.foreign_keys {
            let add = format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID");
            sqlx::raw_sql(AssertSqlSafe(add.as_str()))
                .execute(&mut *txn)
                .await
                .with_context(|| add.clone())?;
        }
        txn.commit().await?;
        let validations = self
            .foreign_keys
            .iter()
            .map(|(table, name, _)| format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))
            .collect();
        run_parallel(url, validations, connections).await?;
        Ok((built, started.elapsed().as_secs_f64()))
    }
}

/// Runs `statements` on `connections` connections of their own, each taking the next statement
/// when done with one; prints each statement's time.
pub async fn run_parallel(
    url: &str,
    statements: Vec<String>,
    connections: usize,
) -> anyhow::Result<()> {
    let queue = Arc::new(Mutex::new(VecDeque::from(statements)));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let queue = queue.clone();
        let url = url.to_owned();
        workers.spawn(async move {
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"
            )))
            .execute(&mut conn)
            .await?;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(sql) = next else { break };
                let started = Instant::now();
                sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
                    .execute(&mut conn)
                    .await
                    .with_context(|| sql.clone())?;
                eprintln!("  {:>7.1} s  {sql}", started.elapsed().as_secs_f64());
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    Ok(())
}

/// Takes `count` ids from the sequence of `table.id`; the first one (nothing taken: 0).
pub async fn reserve_ids(conn: &mut PgConnection, table: &str, count: u64) -> anyhow::Result<i64> {
    if count == 0 {
        return Ok(0);
    }
    let count = i64::try_from(count)?;
    let (first,): (i64,) = sqlx::query_as("SELECT nextval(pg_get_serial_sequence($1, 'id'))")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("the id sequence of {table}"))?;
    sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)")
        .bind(table)
        .bind(first + count - 1)
        .execute(&mut *conn)
        .await?;
    Ok(first)
}

/// Fails unless every one of `tables` is empty.
pub async fn ensure_empty(conn: &mut PgConnection, tables: &[&str]) -> anyhow::Result<()> {
    for table in tables {
        let (any,): (bool,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table})"
        )))
        .fetch_one(&mut *conn)
        .await?;
        ensure!(
            !any,
            "{table} already has rows: the generator fills a freshly migrated database"
        );
    }
    Ok(())
}
