//! Every filter runs in the database: users and groups carry a search document (the resource with
//! canonical attribute names and the values that compare case-insensitively folded, see
//! `scim_core::search`), filled in here for the rows that exist. On PostgreSQL a GIN index
//! (`jsonb_path_ops`) over it serves `eq` on any attribute, core or extension, by containment.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows filled in per statement round.
const BATCH: i64 = 1000;

/// How a table's search document is made from its stored resource.
type Document = fn(&str) -> String;

const TABLES: [(&str, Document); 2] = [
    ("scim_users", crate::search::user),
    ("scim_groups", crate::search::group),
];

async fn backfill(
    manager: &SchemaManager<'_>,
    table: &str,
    doc: fn(&str) -> String,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let (select, update) = match backend {
        DbBackend::Postgres => (
            format!(
                r#"SELECT CAST("id" AS bigint) AS "id", "resource" FROM "{table}" WHERE "id" > $1 ORDER BY "id" LIMIT $2"#
            ),
            format!(r#"UPDATE "{table}" SET "search" = $1 WHERE "id" = $2"#),
        ),
        _ => (
            format!(
                r#"SELECT CAST("id" AS bigint) AS "id", "resource" FROM "{table}" WHERE "id" > ? ORDER BY "id" LIMIT ?"#
            ),
            format!(r#"UPDATE "{table}" SET "search" = ? WHERE "id" = ?"#),
        ),
    };
    let mut after: i64 = 0;
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                &select,
                [Value::from(after), Value::from(BATCH)],
            ))
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("", "id")?;
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let resource: String = row.try_get("", "resource")?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                &update,
                [Value::from(doc(&resource)), Value::from(id)],
            ))
            .await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, doc) in TABLES {
            db.execute_unprepared(&format!(
                r#"ALTER TABLE "{table}" ADD COLUMN "search" text NOT NULL DEFAULT '{{}}'"#
            ))
            .await?;
            backfill(manager, table, doc).await?;
            if manager.get_database_backend() == DbBackend::Postgres {
                db.execute_unprepared(&format!(
                    r#"CREATE INDEX "ix_{table}_search" ON "{table}" USING gin (("search"::jsonb) jsonb_path_ops)"#
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, _) in TABLES {
            if manager.get_database_backend() == DbBackend::Postgres {
                db.execute_unprepared(&format!(r#"DROP INDEX IF EXISTS "ix_{table}_search""#))
                    .await?;
            }
            db.execute_unprepared(&format!(r#"ALTER TABLE "{table}" DROP COLUMN "search""#))
                .await?;
        }
        Ok(())
    }
}
