//! What operating a region needs recorded: the revocation list (the key-value store only caches
//! it, so a revocation outlives the loss of Redis's contents) and the facts a deployment records
//! about itself (which key-value store its servers use, for the CLI to compare).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Revocations {
    Table,
    Key,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum DeploymentFacts {
    Table,
    Name,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Revocations::Table)
                    .col(string(Revocations::Key).primary_key())
                    .col(timestamp_with_time_zone(Revocations::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_revocations_expires_at")
                    .table(Revocations::Table)
                    .col(Revocations::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeploymentFacts::Table)
                    .col(string(DeploymentFacts::Name).primary_key())
                    .col(text(DeploymentFacts::Value))
                    .col(timestamp_with_time_zone(DeploymentFacts::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeploymentFacts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Revocations::Table).to_owned())
            .await
    }
}
