//! [`OrgScope`]: the proof that a request acts inside one organization.
//!
//! Its constructor is private to this crate. The only ways to get one are the functions that check a
//! credential: an API token ([`crate::repo::api_tokens::authenticate`]), a console session of an
//! Owner/Admin ([`crate::repo::memberships::admin_scope`]), an active OAuth installation, or the
//! operator's own access to the database ([`crate::repo::organizations::operator_scope`], used by the
//! CLI). Every tenant repository function takes one, so a query without a tenant cannot be written.

use crate::ids::OrgId;

/// An organization that authentication proved the caller may act in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgScope {
    org_id: OrgId,
    org_uid: String,
}

impl OrgScope {
    pub(crate) fn new(org_id: OrgId, org_uid: String) -> Self {
        Self { org_id, org_uid }
    }

    /// The organization's internal key, the value of every tenant row's `org_id`.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The organization's public UID, as it appears in URLs.
    pub fn org_uid(&self) -> &str {
        &self.org_uid
    }
}

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany,
    ValidatedUpdateOne,
};

/// A table whose rows belong to one organization, through its `org_id` column.
pub(crate) trait TenantEntity: EntityTrait {
    /// The `org_id` column.
    fn org_column() -> Self::Column;
}

macro_rules! tenant_tables {
    ($($table:ident),+ $(,)?) => {
        $(impl TenantEntity for crate::entity::$table::Entity {
            fn org_column() -> Self::Column {
                crate::entity::$table::Column::OrgId
            }
        })+
    };
}

tenant_tables!(
    org_memberships,
    stacks,
    stack_roles,
    scim_users,
    scim_user_emails,
    scim_groups,
    scim_group_members,
    group_mappings,
    group_mapping_stack_roles,
    installations,
    refresh_tokens,
    api_tokens,
    events,
    audit_log,
    portal_links,
    invitations,
    scim_request_log,
);

/// The one way tenant queries start: every read and write of a tenant table through these is
/// limited to the scope's organization, writes by id included.
impl OrgScope {
    /// `SELECT … WHERE org_id = ?`.
    pub(crate) fn select<E: TenantEntity>(&self) -> Select<E> {
        E::find().filter(E::org_column().eq(self.org_id))
    }

    /// `UPDATE … WHERE org_id = ?`.
    pub(crate) fn update_many<E: TenantEntity>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::org_column().eq(self.org_id))
    }

    /// `DELETE … WHERE org_id = ?`.
    pub(crate) fn delete_many<E: TenantEntity>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::org_column().eq(self.org_id))
    }

    /// An update of one row by its primary key, and only if it belongs to the scope.
    pub(crate) fn update<A>(&self, row: A) -> Result<ValidatedUpdateOne<A>, DbErr>
    where
        A: ActiveModelTrait,
        A::Entity: TenantEntity,
    {
        Ok(<A::Entity as EntityTrait>::update(row)
            .validate()?
            .filter(<A::Entity as TenantEntity>::org_column().eq(self.org_id)))
    }
}
