//! Every list page answers `totalResults`, and counting a 100,000-user organization's rows on
//! every page of an import cost more than reading the page itself. The database now keeps each
//! organization's number of SCIM users and groups in `scim_resource_counts`, maintained by
//! triggers so that no write path (SCIM, the management API, an organization's deletion, a bulk
//! `COPY`) can forget it, and in the writing transaction, so a count is exactly as current as the
//! rows a page reads.
//!
//! On PostgreSQL each connection adds its changes to its own shard row (`pg_backend_pid()` modulo
//! `SHARDS`), so concurrent creates in one organization do not queue on one counter row; the
//! triggers are per statement over a transition table, so a `COPY` of a million rows is one
//! update per organization. SQLite has one writer: one row, updated per row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Shards per organization and kind on PostgreSQL; a count reads at most this many rows.
const SHARDS: i32 = 64;

/// The counted tables and the `kind` each is kept under (`store::repo::counts::Kind`).
const TABLES: [(&str, i16); 2] = [("scim_users", 1), ("scim_groups", 2)];

/// The same on both databases (SQLite gives these types integer affinity).
const CREATE_TABLE: &str = "CREATE TABLE scim_resource_counts (
    org_id BIGINT NOT NULL,
    kind SMALLINT NOT NULL,
    shard SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (org_id, kind, shard)
)";

fn postgres_up() -> Vec<String> {
    let mut sql = vec![
        CREATE_TABLE.to_owned(),
        format!(
            "CREATE FUNCTION scim_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO scim_resource_counts AS c (org_id, kind, shard, n)
                SELECT org_id, CAST(TG_ARGV[0] AS SMALLINT), CAST(pg_backend_pid() % {SHARDS} AS SMALLINT),
                       CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END
                FROM changed GROUP BY org_id
                ON CONFLICT (org_id, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
                RETURN NULL;
            END $$"
        ),
    ];
    for (table, kind) in TABLES {
        for (op, transition) in [("INSERT", "NEW"), ("DELETE", "OLD")] {
            let lower = op.to_ascii_lowercase();
            sql.push(format!(
                "CREATE TRIGGER {table}_counted_{lower} AFTER {op} ON {table} \
                 REFERENCING {transition} TABLE AS changed FOR EACH STATEMENT \
                 EXECUTE FUNCTION scim_count_changed('{kind}')"
            ));
        }
        sql.push(format!(
            "INSERT INTO scim_resource_counts (org_id, kind, shard, n) \
             SELECT org_id, {kind}, 0, count(*) FROM {table} GROUP BY org_id"
        ));
    }
    sql
}

fn sqlite_up() -> Vec<String> {
    let mut sql = vec![CREATE_TABLE.to_owned()];
    for (table, kind) in TABLES {
        for (op, row, delta) in [("INSERT", "NEW", 1), ("DELETE", "OLD", -1)] {
            let lower = op.to_ascii_lowercase();
            sql.push(format!(
                "CREATE TRIGGER {table}_counted_{lower} AFTER {op} ON {table} FOR EACH ROW BEGIN
                    INSERT OR IGNORE INTO scim_resource_counts (org_id, kind, shard, n)
                        VALUES ({row}.org_id, {kind}, 0, 0);
                    UPDATE scim_resource_counts SET n = n + ({delta})
                        WHERE org_id = {row}.org_id AND kind = {kind} AND shard = 0;
                END"
            ));
        }
        sql.push(format!(
            "INSERT INTO scim_resource_counts (org_id, kind, shard, n) \
             SELECT org_id, {kind}, 0, count(*) FROM {table} GROUP BY org_id"
        ));
    }
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => postgres_up(),
            _ => sqlite_up(),
        };
        let db = manager.get_connection();
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for (table, _) in TABLES {
            for op in ["insert", "delete"] {
                let on = if postgres {
                    format!(" ON {table}")
                } else {
                    String::new()
                };
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {table}_counted_{op}{on}"))
                    .await?;
            }
        }
        if postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS scim_count_changed()")
                .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS scim_resource_counts")
            .await
            .map(|_| ())
    }
}
