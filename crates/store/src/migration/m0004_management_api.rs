//! The management API's tables: the SaaS backend's OAuth clients, the answers of POSTs kept for
//! their `Idempotency-Key`, portal links for a customer's IT admin, the role catalog (seeded with
//! the roles the code knew before it was configurable), and per-organization settings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BackendClients {
    Table,
    Id,
    ClientId,
    Name,
    SecretHash,
    Scopes,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    ClientId,
    Key,
    Fingerprint,
    Status,
    Response,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum PortalLinks {
    Table,
    Id,
    Uid,
    OrgId,
    TokenHash,
    CreatedBy,
    ReturnUrl,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Kind,
    Key,
    Name,
    Description,
    Rank,
    ManagesScim,
    System,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    InvitationsEnabled,
    DeletedAt,
}

/// The catalog the code had before it was configurable: (kind, key, name, description, rank,
/// manages SCIM, system).
const SEED: &[(&str, &str, &str, &str, i32, bool, bool)] = &[
    (
        "organization",
        "member",
        "Member",
        "Uses the stacks they are given roles on.",
        10,
        false,
        false,
    ),
    (
        "organization",
        "admin",
        "Admin",
        "Manages members, SCIM and settings.",
        20,
        true,
        false,
    ),
    (
        "organization",
        "owner",
        "Owner",
        "Everything an Admin can, plus ownership.",
        30,
        true,
        true,
    ),
    (
        "stack",
        "viewer",
        "Viewer",
        "Reads the stack.",
        10,
        false,
        false,
    ),
    (
        "stack",
        "developer",
        "Developer",
        "Builds in the stack.",
        20,
        false,
        false,
    ),
    (
        "stack",
        "admin",
        "Admin",
        "Manages the stack.",
        30,
        false,
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BackendClients::Table)
                    .col(big_pk_auto(BackendClients::Id))
                    .col(string_uniq(BackendClients::ClientId))
                    .col(string(BackendClients::Name))
                    .col(string(BackendClients::SecretHash))
                    .col(string(BackendClients::Scopes))
                    .col(timestamp_with_time_zone(BackendClients::CreatedAt))
                    .col(timestamp_with_time_zone_null(BackendClients::LastUsedAt))
                    .col(timestamp_with_time_zone_null(BackendClients::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(big_pk_auto(IdempotencyKeys::Id))
                    .col(string(IdempotencyKeys::ClientId))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::Fingerprint))
                    .col(integer_null(IdempotencyKeys::Status))
                    .col(text_null(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(IdempotencyKeys::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_client_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ClientId)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_created")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PortalLinks::Table)
                    .col(big_pk_auto(PortalLinks::Id))
                    .col(string_uniq(PortalLinks::Uid))
                    .col(big_integer(PortalLinks::OrgId))
                    .col(string_uniq(PortalLinks::TokenHash))
                    .col(string(PortalLinks::CreatedBy))
                    .col(string_null(PortalLinks::ReturnUrl))
                    .col(timestamp_with_time_zone(PortalLinks::CreatedAt))
                    .col(timestamp_with_time_zone(PortalLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PortalLinks::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_portal_links_org")
                            .from(PortalLinks::Table, PortalLinks::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(big_pk_auto(Roles::Id))
                    .col(string(Roles::Kind))
                    .col(string(Roles::Key))
                    .col(string(Roles::Name))
                    .col(string(Roles::Description))
                    .col(integer(Roles::Rank))
                    .col(boolean(Roles::ManagesScim).default(false))
                    .col(boolean(Roles::System).default(false))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .col(timestamp_with_time_zone(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_roles_kind_key")
                    .table(Roles::Table)
                    .col(Roles::Kind)
                    .col(Roles::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        let now = chrono::Utc::now();
        for (kind, key, name, description, rank, manages_scim, system) in SEED {
            let insert = Query::insert()
                .into_table(Roles::Table)
                .columns([
                    Roles::Kind,
                    Roles::Key,
                    Roles::Name,
                    Roles::Description,
                    Roles::Rank,
                    Roles::ManagesScim,
                    Roles::System,
                    Roles::CreatedAt,
                    Roles::UpdatedAt,
                ])
                .values([
                    (*kind).into(),
                    (*key).into(),
                    (*name).into(),
                    (*description).into(),
                    (*rank).into(),
                    (*manages_scim).into(),
                    (*system).into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned();
            manager.exec_stmt(insert).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(boolean(Organizations::InvitationsEnabled).default(true))
                    .to_owned(),
            )
            .await?;
        // A deleted organization keeps its row (and its change feed, which ends with
        // `organization.deleted`) while everything in it goes.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(timestamp_with_time_zone_null(Organizations::DeletedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::DeletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::InvitationsEnabled)
                    .to_owned(),
            )
            .await?;
        for table in [
            Roles::Table.into_iden(),
            PortalLinks::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            BackendClients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
