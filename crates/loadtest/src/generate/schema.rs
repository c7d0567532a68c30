//! The schema around a bulk load: secondary indexes, unique constraints and foreign keys of the
//! loaded tables are read from PostgreSQL's catalog, dropped, and re-created from the very
//! definitions read once the rows are in (one sort per index instead of ten million insertions,
//! one join per foreign key instead of ten million lookups). The catalog is compared before and
//! after, so the database ends with exactly the schema the migrations made. Primary keys stay.
//! Plus: id ranges reserved from the sequences.

use std::collections::BTreeSet;

use anyhow::{Context, ensure};
// Every statement built here is made of the catalog's own definitions and names, or of table
// names of this crate: nothing from outside goes into SQL text.
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::restore::Step;

/// What was dropped, to put back.
#[derive(Debug, Default)]
pub struct Deferred {
    /// `CREATE [UNIQUE] INDEX …`, with their table.
    builds: Vec<(String, String)>,
    /// (table, quoted name) of each unique constraint: its index is built like the others (an
    /// `ALTER TABLE … ADD … UNIQUE` would hold an exclusive lock on the table for the whole
    /// build, queueing every other build of the table), then becomes the constraint.
    uniques: Vec<(String, String)>,
    /// (table, referenced table, quoted name, definition) of each foreign key.
    foreign_keys: Vec<(String, String, String, String)>,
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
    let foreign_keys: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, quote_ident(conname),
                pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE contype = 'f'
            AND (conrelid = ANY($1::text[]::regclass[]) OR confrelid = ANY($1::text[]::regclass[]))
          ORDER BY 1, 2",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    let uniques: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_indexdef(conindid)
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
    for (table, referenced, name, definition) in foreign_keys {
        drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
        deferred
            .foreign_keys
            .push((table, referenced, name, definition));
    }
    for (table, name, index) in uniques {
        drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
        deferred.builds.push((table.clone(), index));
        deferred.uniques.push((table, name));
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
    /// How many indexes (unique constraints' included) and foreign keys were dropped.
    pub fn counts(&self) -> (usize, usize) {
        (self.builds.len(), self.foreign_keys.len())
    }

    /// Adds the foreign keys back unvalidated: a catalog change that needs no index and takes
    /// no time, done before any build — added later, a key would wait for every build of both
    /// its tables, the users' GIN build among them.
    pub async fn add_foreign_keys_unvalidated(
        &self,
        conn: &mut PgConnection,
    ) -> anyhow::Result<()> {
        let mut txn = conn.begin().await?;
        for (table, _, name, definition) in &self.foreign_keys {
            let add = format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID");
            sqlx::raw_sql(AssertSqlSafe(add.as_str()))
                .execute(&mut *txn)
                .await
                .with_context(|| add.clone())?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The steps that put the rest back: each index built (the biggest tables' first, GIN
    /// before B-tree: a GIN build is one process, the longest step), each unique index turned
    /// back into its constraint, each foreign key validated. A validation reads the referenced
    /// table under a lock that index builds do not conflict with, but a unique constraint's
    /// exclusive lock does: it comes after those of the referenced table.
    pub fn steps(mut self, table_bytes: impl Fn(&str) -> i64) -> Vec<Step> {
        self.builds.sort_by_key(|(table, sql)| {
            (
                std::cmp::Reverse(table_bytes(table)),
                !sql.contains("USING gin"),
                sql.clone(),
            )
        });
        let mut steps: Vec<Step> = self
            .builds
            .into_iter()
            .map(|(table, sql)| Step::build(sql, &table))
            .collect();
        let mut uniques_of: Vec<(String, usize)> = Vec::new();
        for (table, name) in self.uniques {
            let builds = (0..steps.len())
                .filter(|&i| steps[i].is_build_of(&table))
                .collect();
            uniques_of.push((table.clone(), steps.len()));
            steps.push(
                Step::new(
                    format!("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"),
                    &table,
                )
                .after(builds),
            );
        }
        for (table, referenced, name, _) in self.foreign_keys {
            let uniques = uniques_of
                .iter()
                .filter(|(of, _)| *of == referenced)
                .map(|(_, step)| *step)
                .collect();
            steps.push(
                Step::new(
                    format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
                    &table,
                )
                .after(uniques),
            );
        }
        steps
    }
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
