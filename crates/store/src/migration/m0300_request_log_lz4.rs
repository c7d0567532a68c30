//! The SCIM request log's bodies are compressed with LZ4 on PostgreSQL. Bodies longer than about
//! 2 KB (a page of users logs its first 16 KiB) are compressed when the row is written; with the
//! default pglz that took ~92 µs of PostgreSQL's CPU per 16 KiB body, with LZ4 ~16 µs, for 8%
//! more bytes (docs/benchmarks.md). The setting applies to rows written from now on; older rows
//! are read as they were stored. A server built without LZ4 (or older than PostgreSQL 14) keeps
//! pglz: `default_toast_compression` lists `lz4` among its values only where it is available.
//! SQLite does not compress.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    let available = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS available FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
        ))
        .await?
        .is_some();
    if !available {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "ALTER TABLE scim_request_log \
         ALTER COLUMN request_body SET COMPRESSION {method}, \
         ALTER COLUMN response_body SET COMPRESSION {method}"
    ))
    .await
    .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "pglz").await
    }
}
