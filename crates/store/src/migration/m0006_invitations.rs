//! Invitations: the email a person receives when they are added to an organization and have not
//! accepted yet. A row is queued in the transaction that invited them, sent by whichever replica
//! leases it, and accepted through a single-use link whose token is stored only as a digest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    Uid,
    OrgId,
    AccountId,
    Email,
    InvitedBy,
    Status,
    TokenHash,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
    ExpiresAt,
    AcceptedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(big_pk_auto(Invitations::Id))
                    .col(string_uniq(Invitations::Uid))
                    .col(big_integer(Invitations::OrgId))
                    .col(big_integer(Invitations::AccountId))
                    .col(string(Invitations::Email))
                    .col(text(Invitations::InvitedBy))
                    // queued | sent | failed | accepted | revoked | not_sent
                    .col(string(Invitations::Status))
                    .col(string_null(Invitations::TokenHash).unique_key())
                    .col(integer(Invitations::Attempts).default(0))
                    .col(timestamp_with_time_zone(Invitations::NextAttemptAt))
                    .col(string_null(Invitations::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Invitations::LeaseUntil))
                    .col(text_null(Invitations::LastError))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone_null(Invitations::SentAt))
                    .col(timestamp_with_time_zone_null(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_org")
                            .from(Invitations::Table, Invitations::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_account")
                            .from(Invitations::Table, Invitations::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The sender's question: what is due now.
        manager
            .create_index(
                Index::create()
                    .name("ix_invitations_due")
                    .table(Invitations::Table)
                    .col(Invitations::Status)
                    .col(Invitations::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // A member's invitations (the console's row, the API's list, superseding on re-invite).
        manager
            .create_index(
                Index::create()
                    .name("ix_invitations_org_account")
                    .table(Invitations::Table)
                    .col(Invitations::OrgId)
                    .col(Invitations::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await
    }
}
