//! Invitation emails: queued with the invitation, leased while sent, accepted by a link.

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, InvitationId, OrgId};

/// One row of `invitations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: InvitationId,
    pub uid: String,
    pub org_id: OrgId,
    pub account_id: AccountId,
    pub email: String,
    pub invited_by: String,
    pub status: String,
    pub token_hash: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
