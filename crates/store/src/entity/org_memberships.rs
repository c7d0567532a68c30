//! An account's membership of an organization: manual and effective role, status, source.

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, MembershipId, OrgId};

/// One row of `org_memberships`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: MembershipId,
    pub org_id: OrgId,
    pub account_id: AccountId,
    pub role: String,
    pub effective_role: String,
    pub status: String,
    pub source: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
