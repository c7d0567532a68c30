//! A deep `startIndex` page is found from in-process marks (the id at every thousandth position,
//! `usecases::scim::positions`) instead of skipping through the organization's index, and the
//! marks hold only while no row has been removed: a new user's id is larger than every other, so
//! inserts add positions at the end, while a deletion moves every position after it. The counts
//! kept since m0009 now also count removals (`removed`, never decreasing), so a replica can tell
//! whether its marks are still right from the row it reads for `totalResults` anyway, whichever
//! replica did the deleting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Shards per organization and kind on PostgreSQL (as in m0009).
const SHARDS: i32 = 64;

/// The counted tables and the `kind` each is kept under (as in m0009).
const TABLES: [&str; 2] = ["scim_users", "scim_groups"];

const ADD_COLUMN: &str =
    "ALTER TABLE scim_resource_counts ADD COLUMN removed BIGINT NOT NULL DEFAULT 0";

/// m0009's PostgreSQL trigger function, with or without counting removals.
fn postgres_function(with_removals: bool) -> String {
    let (column, value, update) = if with_removals {
        (
            ", removed",
            ", CASE TG_OP WHEN 'DELETE' THEN count(*) ELSE 0 END",
            ", removed = c.removed + EXCLUDED.removed",
        )
    } else {
        ("", "", "")
    };
    format!(
        "CREATE OR REPLACE FUNCTION scim_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO scim_resource_counts AS c (org_id, kind, shard, n{column})
            SELECT org_id, CAST(TG_ARGV[0] AS SMALLINT), CAST(pg_backend_pid() % {SHARDS} AS SMALLINT),
                   CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END{value}
            FROM changed GROUP BY org_id
            ON CONFLICT (org_id, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n{update};
            RETURN NULL;
        END $$"
    )
}

/// m0009's SQLite delete triggers, with or without counting removals. Each is dropped and created
/// again in one call, so on one pooled connection: another connection may still hold the schema
/// from before the drop, and SQLite would refuse the new trigger there as already existing.
fn sqlite_delete_triggers(with_removals: bool) -> Vec<String> {
    let removed = if with_removals {
        ", removed = removed + 1"
    } else {
        ""
    };
    TABLES
        .iter()
        .zip(1..)
        .map(|(table, kind)| {
            format!(
                "DROP TRIGGER IF EXISTS {table}_counted_delete;
                CREATE TRIGGER {table}_counted_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN
                    INSERT OR IGNORE INTO scim_resource_counts (org_id, kind, shard, n)
                        VALUES (OLD.org_id, {kind}, 0, 0);
                    UPDATE scim_resource_counts SET n = n - 1{removed}
                        WHERE org_id = OLD.org_id AND kind = {kind} AND shard = 0;
                END"
            )
        })
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = vec![ADD_COLUMN.to_owned()];
        match manager.get_database_backend() {
            DbBackend::Postgres => statements.push(postgres_function(true)),
            _ => statements.extend(sqlite_delete_triggers(true)),
        }
        let db = manager.get_connection();
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = match manager.get_database_backend() {
            DbBackend::Postgres => vec![postgres_function(false)],
            _ => sqlite_delete_triggers(false),
        };
        statements.push("ALTER TABLE scim_resource_counts DROP COLUMN removed".to_owned());
        let db = manager.get_connection();
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }
}
