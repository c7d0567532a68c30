//! OAuth hardening the first schema left to the application: at most one `active` and one `next`
//! signing key, enforced by the database so two replicas starting at once cannot both create one.
//! Partial unique indexes have the same syntax on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE UNIQUE INDEX ux_signing_keys_active ON signing_keys (state) WHERE state = 'active'",
    "CREATE UNIQUE INDEX ux_signing_keys_next ON signing_keys (state) WHERE state = 'next'",
];

const DOWN: &[&str] = &[
    "DROP INDEX ux_signing_keys_active",
    "DROP INDEX ux_signing_keys_next",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
