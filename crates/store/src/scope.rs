//! [`OrgScope`]: the proof that a request acts inside one organization.
//!
//! Its constructor is private to this crate. The only ways to get one are the functions that check a
//! credential: an API token ([`crate::repo::api_tokens::authenticate`]), a console session of an
//! Owner/Admin ([`crate::repo::memberships::admin_scope`]), an active OAuth installation, or the
//! operator's own access to the database ([`crate::repo::organizations::operator_scope`], used by the
//! CLI). Every tenant repository function takes one, so a query without a tenant cannot be written.

/// An organization that authentication proved the caller may act in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgScope {
    org_id: i64,
    org_uid: String,
}

impl OrgScope {
    pub(crate) fn new(org_id: i64, org_uid: String) -> Self {
        Self { org_id, org_uid }
    }

    /// The organization's internal key, the value of every tenant row's `org_id`.
    pub fn org_id(&self) -> i64 {
        self.org_id
    }

    /// The organization's public UID, as it appears in URLs.
    pub fn org_uid(&self) -> &str {
        &self.org_uid
    }
}
