//! An organization's authorization of an OAuth client ("Authorize & Install").

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, InstallationId, OauthClientId, OrgId};

/// One row of `installations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "installations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: InstallationId,
    pub uid: String,
    pub org_id: OrgId,
    pub client_id: OauthClientId,
    pub approved_by: Option<AccountId>,
    pub scopes: String,
    pub terms_version: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
