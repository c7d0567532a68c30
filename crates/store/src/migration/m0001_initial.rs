//! The initial schema: every table of DESIGN.md. Tenant tables carry `org_id`; case-insensitive
//! uniqueness lives in `*_normalized` columns with unique indexes, so the database enforces it on
//! both backends; filterable SCIM attributes are real columns, the JSON column holds the resource.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Uid,
    Name,
    HomeRegion,
    ScimEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Uid,
    Email,
    EmailNormalized,
    Name,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgMemberships {
    Table,
    Id,
    OrgId,
    AccountId,
    Role,
    EffectiveRole,
    Status,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Stacks {
    Table,
    Id,
    Uid,
    OrgId,
    Name,
    NameNormalized,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StackRoles {
    Table,
    Id,
    OrgId,
    StackId,
    AccountId,
    Role,
    EffectiveRole,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimUsers {
    Table,
    Id,
    Uid,
    OrgId,
    AccountId,
    UserName,
    UserNameNormalized,
    ExternalId,
    Active,
    GivenName,
    FamilyName,
    DisplayName,
    PrimaryEmail,
    PrimaryEmailNormalized,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimUserEmails {
    Table,
    Id,
    OrgId,
    UserId,
    Kind,
    Value,
    ValueNormalized,
    IsPrimary,
}

#[derive(DeriveIden)]
enum ScimGroups {
    Table,
    Id,
    Uid,
    OrgId,
    DisplayName,
    DisplayNameNormalized,
    ExternalId,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimGroupMembers {
    Table,
    OrgId,
    GroupId,
    UserId,
    Display,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GroupMappings {
    Table,
    Id,
    Uid,
    OrgId,
    GroupId,
    OrgRole,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMappingStackRoles {
    Table,
    MappingId,
    OrgId,
    StackId,
    Role,
}

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    Id,
    ClientId,
    Name,
    SecretHash,
    RedirectUris,
    Scopes,
    InsecureRedirectAllowed,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Installations {
    Table,
    Id,
    Uid,
    OrgId,
    ClientId,
    ApprovedBy,
    Scopes,
    TermsVersion,
    Ip,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    ParentId,
    InstallationId,
    OrgId,
    CodeHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Uid,
    OrgId,
    Name,
    TokenHash,
    Prefix,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    Kid,
    Algorithm,
    PrivateKeyPem,
    PublicJwk,
    State,
    CreatedAt,
    ActivatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Uid,
    OrgId,
    Kind,
    SubjectType,
    SubjectId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrgId,
    ActorType,
    ActorId,
    Action,
    ResourceType,
    ResourceId,
    RequestId,
    Ip,
    Detail,
    CreatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for column in columns {
        stmt.col(Alias::new(*column));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn org_fk(name: &str, table: impl IntoIden) -> ForeignKeyCreateStatement {
    fk(
        name,
        (table, Alias::new("org_id")),
        (Organizations::Table, Organizations::Id),
        ForeignKeyAction::Cascade,
    )
}

impl Migration {
    fn tables() -> Vec<TableCreateStatement> {
        use ForeignKeyAction::{Cascade, SetNull};
        vec![
            Table::create()
                .table(Organizations::Table)
                .col(big_pk_auto(Organizations::Id))
                .col(string_uniq(Organizations::Uid))
                .col(string(Organizations::Name))
                .col(string(Organizations::HomeRegion))
                .col(boolean(Organizations::ScimEnabled).default(false))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                .to_owned(),
            Table::create()
                .table(Accounts::Table)
                .col(big_pk_auto(Accounts::Id))
                .col(string_uniq(Accounts::Uid))
                .col(string(Accounts::Email))
                .col(string_uniq(Accounts::EmailNormalized))
                .col(string(Accounts::Name))
                .col(string_null(Accounts::PasswordHash))
                .col(timestamp_with_time_zone(Accounts::CreatedAt))
                .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                .to_owned(),
            Table::create()
                .table(OrgMemberships::Table)
                .col(big_pk_auto(OrgMemberships::Id))
                .col(big_integer(OrgMemberships::OrgId))
                .col(big_integer(OrgMemberships::AccountId))
                .col(string(OrgMemberships::Role))
                .col(string(OrgMemberships::EffectiveRole))
                .col(string(OrgMemberships::Status))
                .col(string(OrgMemberships::Source))
                .col(timestamp_with_time_zone(OrgMemberships::CreatedAt))
                .col(timestamp_with_time_zone(OrgMemberships::UpdatedAt))
                .foreign_key(&mut org_fk("fk_memberships_org", OrgMemberships::Table))
                .foreign_key(&mut fk(
                    "fk_memberships_account",
                    (OrgMemberships::Table, OrgMemberships::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(Stacks::Table)
                .col(big_pk_auto(Stacks::Id))
                .col(string_uniq(Stacks::Uid))
                .col(big_integer(Stacks::OrgId))
                .col(string(Stacks::Name))
                .col(string(Stacks::NameNormalized))
                .col(timestamp_with_time_zone(Stacks::CreatedAt))
                .col(timestamp_with_time_zone(Stacks::UpdatedAt))
                .foreign_key(&mut org_fk("fk_stacks_org", Stacks::Table))
                .to_owned(),
            Table::create()
                .table(StackRoles::Table)
                .col(big_pk_auto(StackRoles::Id))
                .col(big_integer(StackRoles::OrgId))
                .col(big_integer(StackRoles::StackId))
                .col(big_integer(StackRoles::AccountId))
                .col(string_null(StackRoles::Role))
                .col(string_null(StackRoles::EffectiveRole))
                .col(timestamp_with_time_zone(StackRoles::UpdatedAt))
                .foreign_key(&mut org_fk("fk_stack_roles_org", StackRoles::Table))
                .foreign_key(&mut fk(
                    "fk_stack_roles_stack",
                    (StackRoles::Table, StackRoles::StackId),
                    (Stacks::Table, Stacks::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_stack_roles_account",
                    (StackRoles::Table, StackRoles::AccountId),
                    (Accounts::Table, Accounts::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(ScimUsers::Table)
                .col(big_pk_auto(ScimUsers::Id))
                .col(string_uniq(ScimUsers::Uid))
                .col(big_integer(ScimUsers::OrgId))
                .col(big_integer_null(ScimUsers::AccountId))
                .col(string(ScimUsers::UserName))
                .col(string(ScimUsers::UserNameNormalized))
                .col(string_null(ScimUsers::ExternalId))
                .col(boolean(ScimUsers::Active))
                .col(string_null(ScimUsers::GivenName))
                .col(string_null(ScimUsers::FamilyName))
                .col(string_null(ScimUsers::DisplayName))
                .col(string_null(ScimUsers::PrimaryEmail))
                .col(string_null(ScimUsers::PrimaryEmailNormalized))
                .col(text(ScimUsers::Resource))
                .col(big_integer(ScimUsers::Version))
                .col(timestamp_with_time_zone(ScimUsers::CreatedAt))
                .col(timestamp_with_time_zone(ScimUsers::UpdatedAt))
                .foreign_key(&mut org_fk("fk_scim_users_org", ScimUsers::Table))
                .foreign_key(&mut fk(
                    "fk_scim_users_account",
                    (ScimUsers::Table, ScimUsers::AccountId),
                    (Accounts::Table, Accounts::Id),
                    SetNull,
                ))
                .to_owned(),
            Table::create()
                .table(ScimUserEmails::Table)
                .col(big_pk_auto(ScimUserEmails::Id))
                .col(big_integer(ScimUserEmails::OrgId))
                .col(big_integer(ScimUserEmails::UserId))
                .col(string_null(ScimUserEmails::Kind))
                .col(string(ScimUserEmails::Value))
                .col(string(ScimUserEmails::ValueNormalized))
                .col(boolean(ScimUserEmails::IsPrimary).default(false))
                .foreign_key(&mut org_fk(
                    "fk_scim_user_emails_org",
                    ScimUserEmails::Table,
                ))
                .foreign_key(&mut fk(
                    "fk_scim_user_emails_user",
                    (ScimUserEmails::Table, ScimUserEmails::UserId),
                    (ScimUsers::Table, ScimUsers::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(ScimGroups::Table)
                .col(big_pk_auto(ScimGroups::Id))
                .col(string_uniq(ScimGroups::Uid))
                .col(big_integer(ScimGroups::OrgId))
                .col(string(ScimGroups::DisplayName))
                .col(string(ScimGroups::DisplayNameNormalized))
                .col(string_null(ScimGroups::ExternalId))
                .col(text(ScimGroups::Resource))
                .col(big_integer(ScimGroups::Version))
                .col(timestamp_with_time_zone(ScimGroups::CreatedAt))
                .col(timestamp_with_time_zone(ScimGroups::UpdatedAt))
                .foreign_key(&mut org_fk("fk_scim_groups_org", ScimGroups::Table))
                .to_owned(),
            Table::create()
                .table(ScimGroupMembers::Table)
                .col(big_integer(ScimGroupMembers::OrgId))
                .col(big_integer(ScimGroupMembers::GroupId))
                .col(big_integer(ScimGroupMembers::UserId))
                .col(string_null(ScimGroupMembers::Display))
                .col(timestamp_with_time_zone(ScimGroupMembers::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(ScimGroupMembers::GroupId)
                        .col(ScimGroupMembers::UserId),
                )
                .foreign_key(&mut org_fk(
                    "fk_scim_group_members_org",
                    ScimGroupMembers::Table,
                ))
                .foreign_key(&mut fk(
                    "fk_scim_group_members_group",
                    (ScimGroupMembers::Table, ScimGroupMembers::GroupId),
                    (ScimGroups::Table, ScimGroups::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_scim_group_members_user",
                    (ScimGroupMembers::Table, ScimGroupMembers::UserId),
                    (ScimUsers::Table, ScimUsers::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(GroupMappings::Table)
                .col(big_pk_auto(GroupMappings::Id))
                .col(string_uniq(GroupMappings::Uid))
                .col(big_integer(GroupMappings::OrgId))
                .col(big_integer(GroupMappings::GroupId))
                .col(string_null(GroupMappings::OrgRole))
                .col(timestamp_with_time_zone(GroupMappings::CreatedAt))
                .col(timestamp_with_time_zone(GroupMappings::UpdatedAt))
                .foreign_key(&mut org_fk("fk_group_mappings_org", GroupMappings::Table))
                .foreign_key(&mut fk(
                    "fk_group_mappings_group",
                    (GroupMappings::Table, GroupMappings::GroupId),
                    (ScimGroups::Table, ScimGroups::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(GroupMappingStackRoles::Table)
                .col(big_integer(GroupMappingStackRoles::MappingId))
                .col(big_integer(GroupMappingStackRoles::OrgId))
                .col(big_integer(GroupMappingStackRoles::StackId))
                .col(string(GroupMappingStackRoles::Role))
                .primary_key(
                    Index::create()
                        .col(GroupMappingStackRoles::MappingId)
                        .col(GroupMappingStackRoles::StackId),
                )
                .foreign_key(&mut org_fk(
                    "fk_mapping_stack_roles_org",
                    GroupMappingStackRoles::Table,
                ))
                .foreign_key(&mut fk(
                    "fk_mapping_stack_roles_mapping",
                    (
                        GroupMappingStackRoles::Table,
                        GroupMappingStackRoles::MappingId,
                    ),
                    (GroupMappings::Table, GroupMappings::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_mapping_stack_roles_stack",
                    (
                        GroupMappingStackRoles::Table,
                        GroupMappingStackRoles::StackId,
                    ),
                    (Stacks::Table, Stacks::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(OauthClients::Table)
                .col(big_pk_auto(OauthClients::Id))
                .col(string_uniq(OauthClients::ClientId))
                .col(string(OauthClients::Name))
                .col(string_null(OauthClients::SecretHash))
                .col(text(OauthClients::RedirectUris))
                .col(string(OauthClients::Scopes))
                .col(boolean(OauthClients::InsecureRedirectAllowed).default(false))
                .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                .to_owned(),
            Table::create()
                .table(Installations::Table)
                .col(big_pk_auto(Installations::Id))
                .col(string_uniq(Installations::Uid))
                .col(big_integer(Installations::OrgId))
                .col(big_integer(Installations::ClientId))
                .col(big_integer_null(Installations::ApprovedBy))
                .col(string(Installations::Scopes))
                .col(string(Installations::TermsVersion))
                .col(string_null(Installations::Ip))
                .col(string_null(Installations::UserAgent))
                .col(timestamp_with_time_zone(Installations::CreatedAt))
                .col(timestamp_with_time_zone_null(Installations::LastUsedAt))
                .col(timestamp_with_time_zone_null(Installations::RevokedAt))
                .foreign_key(&mut org_fk("fk_installations_org", Installations::Table))
                .foreign_key(&mut fk(
                    "fk_installations_client",
                    (Installations::Table, Installations::ClientId),
                    (OauthClients::Table, OauthClients::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_installations_approved_by",
                    (Installations::Table, Installations::ApprovedBy),
                    (Accounts::Table, Accounts::Id),
                    SetNull,
                ))
                .to_owned(),
            Table::create()
                .table(RefreshTokens::Table)
                .col(big_pk_auto(RefreshTokens::Id))
                .col(string_uniq(RefreshTokens::TokenHash))
                .col(string(RefreshTokens::FamilyId))
                .col(big_integer_null(RefreshTokens::ParentId))
                .col(big_integer(RefreshTokens::InstallationId))
                .col(big_integer(RefreshTokens::OrgId))
                .col(string_null(RefreshTokens::CodeHash))
                .col(string(RefreshTokens::Scopes))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                .foreign_key(&mut org_fk("fk_refresh_tokens_org", RefreshTokens::Table))
                .foreign_key(&mut fk(
                    "fk_refresh_tokens_installation",
                    (RefreshTokens::Table, RefreshTokens::InstallationId),
                    (Installations::Table, Installations::Id),
                    Cascade,
                ))
                .to_owned(),
            Table::create()
                .table(ApiTokens::Table)
                .col(big_pk_auto(ApiTokens::Id))
                .col(string_uniq(ApiTokens::Uid))
                .col(big_integer(ApiTokens::OrgId))
                .col(string(ApiTokens::Name))
                .col(string_uniq(ApiTokens::TokenHash))
                .col(string(ApiTokens::Prefix))
                .col(big_integer_null(ApiTokens::CreatedBy))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .foreign_key(&mut org_fk("fk_api_tokens_org", ApiTokens::Table))
                .foreign_key(&mut fk(
                    "fk_api_tokens_created_by",
                    (ApiTokens::Table, ApiTokens::CreatedBy),
                    (Accounts::Table, Accounts::Id),
                    SetNull,
                ))
                .to_owned(),
            Table::create()
                .table(SigningKeys::Table)
                .col(big_pk_auto(SigningKeys::Id))
                .col(string_uniq(SigningKeys::Kid))
                .col(string(SigningKeys::Algorithm))
                .col(text(SigningKeys::PrivateKeyPem))
                .col(text(SigningKeys::PublicJwk))
                .col(string(SigningKeys::State))
                .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(SigningKeys::ActivatedAt))
                .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                .to_owned(),
            Table::create()
                .table(Events::Table)
                .col(big_pk_auto(Events::Id))
                .col(string_uniq(Events::Uid))
                .col(big_integer(Events::OrgId))
                .col(string(Events::Kind))
                .col(string(Events::SubjectType))
                .col(string(Events::SubjectId))
                .col(text(Events::Payload))
                .col(timestamp_with_time_zone(Events::CreatedAt))
                .foreign_key(&mut org_fk("fk_events_org", Events::Table))
                .to_owned(),
            // Audit rows outlive nothing they point at: no foreign keys, so deleting an
            // organization's data never erases the record of who deleted it.
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(big_integer_null(AuditLog::OrgId))
                .col(string(AuditLog::ActorType))
                .col(string(AuditLog::ActorId))
                .col(string(AuditLog::Action))
                .col(string(AuditLog::ResourceType))
                .col(string_null(AuditLog::ResourceId))
                .col(string_null(AuditLog::RequestId))
                .col(string_null(AuditLog::Ip))
                .col(text(AuditLog::Detail))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        ]
    }

    fn indexes() -> Vec<IndexCreateStatement> {
        vec![
            index(
                "ux_memberships_org_account",
                OrgMemberships::Table,
                &["org_id", "account_id"],
                true,
            ),
            index(
                "ix_memberships_account",
                OrgMemberships::Table,
                &["account_id"],
                false,
            ),
            index(
                "ux_stacks_org_name",
                Stacks::Table,
                &["org_id", "name_normalized"],
                true,
            ),
            index(
                "ux_stack_roles_stack_account",
                StackRoles::Table,
                &["stack_id", "account_id"],
                true,
            ),
            index(
                "ix_stack_roles_org_account",
                StackRoles::Table,
                &["org_id", "account_id"],
                false,
            ),
            index(
                "ux_scim_users_org_user_name",
                ScimUsers::Table,
                &["org_id", "user_name_normalized"],
                true,
            ),
            index(
                "ix_scim_users_org_external_id",
                ScimUsers::Table,
                &["org_id", "external_id"],
                false,
            ),
            index(
                "ix_scim_users_org_email",
                ScimUsers::Table,
                &["org_id", "primary_email_normalized"],
                false,
            ),
            index(
                "ix_scim_users_org_id",
                ScimUsers::Table,
                &["org_id", "id"],
                false,
            ),
            // One SCIM user per account per organization: two IdP users sharing an email would
            // otherwise share (and fight over) one membership.
            index(
                "ux_scim_users_org_account",
                ScimUsers::Table,
                &["org_id", "account_id"],
                true,
            ),
            index(
                "ix_scim_user_emails_org_value",
                ScimUserEmails::Table,
                &["org_id", "value_normalized"],
                false,
            ),
            index(
                "ix_scim_user_emails_user",
                ScimUserEmails::Table,
                &["user_id"],
                false,
            ),
            index(
                "ux_scim_groups_org_display_name",
                ScimGroups::Table,
                &["org_id", "display_name_normalized"],
                true,
            ),
            index(
                "ix_scim_groups_org_external_id",
                ScimGroups::Table,
                &["org_id", "external_id"],
                false,
            ),
            index(
                "ix_scim_groups_org_id",
                ScimGroups::Table,
                &["org_id", "id"],
                false,
            ),
            index(
                "ix_scim_group_members_user",
                ScimGroupMembers::Table,
                &["user_id"],
                false,
            ),
            index(
                "ux_group_mappings_group",
                GroupMappings::Table,
                &["group_id"],
                true,
            ),
            index(
                "ix_group_mappings_org",
                GroupMappings::Table,
                &["org_id"],
                false,
            ),
            index(
                "ix_installations_org",
                Installations::Table,
                &["org_id"],
                false,
            ),
            index(
                "ix_refresh_tokens_family",
                RefreshTokens::Table,
                &["family_id"],
                false,
            ),
            index(
                "ix_refresh_tokens_code",
                RefreshTokens::Table,
                &["code_hash"],
                false,
            ),
            index(
                "ix_refresh_tokens_installation",
                RefreshTokens::Table,
                &["installation_id"],
                false,
            ),
            index("ix_api_tokens_org", ApiTokens::Table, &["org_id"], false),
            index("ix_events_org_id", Events::Table, &["org_id", "id"], false),
            index(
                "ix_audit_log_org_id",
                AuditLog::Table,
                &["org_id", "id"],
                false,
            ),
        ]
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in Self::tables() {
            manager.create_table(table).await?;
        }
        for index in Self::indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in Self::tables().iter().rev() {
            let name = table
                .get_table_name()
                .cloned()
                .ok_or_else(|| DbErr::Migration("table without a name".into()))?;
            manager
                .drop_table(Table::drop().table(name).to_owned())
                .await?;
        }
        Ok(())
    }
}
