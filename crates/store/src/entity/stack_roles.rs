//! An account's manual and effective role on one stack.

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, OrgId, StackId, StackRoleId};

/// One row of `stack_roles`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stack_roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: StackRoleId,
    pub org_id: OrgId,
    pub stack_id: StackId,
    pub account_id: AccountId,
    pub role: Option<String>,
    pub effective_role: Option<String>,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
