//! The outbox: one row per change, written in the change's own transaction; `sequence` and
//! `position` are given later by the sequencer, in the order the rows became visible.

use sea_orm::entity::prelude::*;

use crate::ids::{EventId, OrgId};

/// One row of `events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: EventId,
    pub uid: String,
    pub org_id: Option<OrgId>,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub sequence: Option<i64>,
    pub position: Option<i64>,
    pub subject_version: Option<i64>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub request_id: Option<String>,
    pub previous: Option<String>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
