//! The SCIM request log: every SCIM request of an organization, refused ones included, with its
//! status, duration, credential and redacted, truncated bodies — what an admin reads to debug an
//! IdP. Written in batches off the request path; pruned by age and by a per-organization cap.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScimRequestLog {
    Table,
    Id,
    OrgId,
    RequestId,
    Method,
    Path,
    Status,
    DurationUs,
    CredentialKind,
    CredentialId,
    ClientIp,
    UserName,
    UserNameNormalized,
    ExternalId,
    RequestBody,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScimRequestLog::Table)
                    .col(big_pk_auto(ScimRequestLog::Id))
                    .col(big_integer(ScimRequestLog::OrgId))
                    // The request id of the access log and the X-Request-Id header.
                    .col(string_null(ScimRequestLog::RequestId))
                    .col(string(ScimRequestLog::Method))
                    // Path and query, secrets in the query redacted.
                    .col(text(ScimRequestLog::Path))
                    .col(integer(ScimRequestLog::Status))
                    .col(big_integer(ScimRequestLog::DurationUs))
                    // api_token | installation; NULL when the credential was refused (the
                    // presented token itself is never stored).
                    .col(string_null(ScimRequestLog::CredentialKind))
                    .col(string_null(ScimRequestLog::CredentialId))
                    .col(string_null(ScimRequestLog::ClientIp))
                    // The userName / externalId the request was about, when it named one.
                    .col(text_null(ScimRequestLog::UserName))
                    .col(text_null(ScimRequestLog::UserNameNormalized))
                    .col(text_null(ScimRequestLog::ExternalId))
                    // Redacted, truncated to scim_log.max_body_bytes.
                    .col(text_null(ScimRequestLog::RequestBody))
                    .col(text_null(ScimRequestLog::ResponseBody))
                    .col(timestamp_with_time_zone(ScimRequestLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_request_log_org")
                            .from(ScimRequestLog::Table, ScimRequestLog::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The console's and the API's question: an organization's newest requests.
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_request_log_org_id")
                    .table(ScimRequestLog::Table)
                    .col(ScimRequestLog::OrgId)
                    .col(ScimRequestLog::Id)
                    .to_owned(),
            )
            .await?;
        // The janitor's: what is past its retention.
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_request_log_created")
                    .table(ScimRequestLog::Table)
                    .col(ScimRequestLog::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimRequestLog::Table).to_owned())
            .await
    }
}
