//! Webhook deliveries are updated twice in their life (the claim's lease, then the outcome) and
//! carry five indexes. Leaving 30% of each PostgreSQL page free lets the claim's update (it
//! changes no indexed column) stay on its page as a heap-only tuple, so it writes none of the
//! five index entries a new row version would need. SQLite has no such setting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_deliveries SET (fillfactor = 70)")
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_deliveries RESET (fillfactor)")
            .await
            .map(|_| ())
    }
}
