//! One SCIM request of an organization, as the request log keeps it.

use sea_orm::entity::prelude::*;

use crate::ids::{OrgId, RequestLogId};

/// One row of `scim_request_log`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_request_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: RequestLogId,
    pub org_id: OrgId,
    pub request_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_us: i64,
    pub credential_kind: Option<String>,
    pub credential_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_name: Option<String>,
    pub user_name_normalized: Option<String>,
    pub external_id: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
