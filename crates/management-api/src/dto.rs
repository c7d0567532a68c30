//! What the management API reads and writes, as JSON: request bodies and responses, each with its
//! OpenAPI schema. Built from the use cases' results; nothing here is stored as is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::repo::organizations::Organization as OrganizationRow;
use store::repo::role_catalog::RoleDef;
use usecases::members::{MemberView, RoleSource, SourcedRole, StackRoleView};
use utoipa::ToSchema;

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    /// Its id: the organization UID, the one in SCIM URLs.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The region it lives in.
    pub region: String,
    /// Whether SCIM provisioning is on.
    pub scim_enabled: bool,
    /// Its settings.
    pub settings: OrganizationSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (also its `ETag`).
    pub updated_at: DateTime<Utc>,
}

/// An organization's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSettings {
    /// Whether invited people get an invitation email from scimgate (off: the SaaS sends its own,
    /// driven by the change feed).
    pub invitations_enabled: bool,
}

impl From<OrganizationRow> for Organization {
    fn from(org: OrganizationRow) -> Self {
        Self {
            id: org.uid,
            name: org.name,
            region: org.home_region,
            scim_enabled: org.scim_enabled,
            settings: OrganizationSettings {
                invitations_enabled: org.invitations_enabled,
            },
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

/// `POST /organizations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// 1 to 200 characters.
    pub name: String,
    /// The first Owner: an existing account is linked, else one is created and invited.
    pub owner_email: String,
    /// Settings (defaults: invitations by email on).
    #[serde(default)]
    pub settings: Option<OrganizationSettings>,
}

/// A created organization and its first Owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedOrganization {
    /// The organization.
    #[serde(flatten)]
    pub organization: Organization,
    /// Its first Owner.
    pub owner: MemberRef,
}

/// A member named by account and state.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRef {
    /// The account's id.
    pub account_id: String,
    /// Its email.
    pub email: String,
    /// invited or active.
    pub status: String,
}

/// `PATCH /organizations/{id}`: what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// New settings.
    #[serde(default)]
    pub settings: Option<UpdateSettings>,
}

/// Settings to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// Whether invitations go out by email.
    #[serde(default)]
    pub invitations_enabled: Option<bool>,
}

/// Where a role comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleGrant {
    /// The role's key.
    pub role: String,
    /// `manual` (set by hand) or `group` (a mapped SCIM group).
    pub source: String,
    /// The group's SCIM id, for a group grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The group's name, for a group grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

impl From<SourcedRole> for RoleGrant {
    fn from(role: SourcedRole) -> Self {
        match role.source {
            RoleSource::Manual => Self {
                role: role.role,
                source: "manual".into(),
                group_id: None,
                group_name: None,
            },
            RoleSource::Group { id, name } => Self {
                role: role.role,
                source: "group".into(),
                group_id: Some(id),
                group_name: Some(name),
            },
        }
    }
}

/// A member's effective role on one stack.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberStackRole {
    /// The stack's id.
    pub stack_id: String,
    /// Its name.
    pub stack_name: String,
    /// The effective role.
    pub role: String,
    /// Every grant of a role on this stack.
    pub sources: Vec<RoleGrant>,
}

impl From<StackRoleView> for MemberStackRole {
    fn from(view: StackRoleView) -> Self {
        Self {
            stack_id: view.stack_id,
            stack_name: view.stack_name,
            role: view.role,
            sources: view.sources.into_iter().map(RoleGrant::from).collect(),
        }
    }
}

/// A member of an organization with effective roles and where each comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    /// The account's id.
    pub account_id: String,
    /// Its email.
    pub email: String,
    /// Its name.
    pub name: String,
    /// `invited`, `active` or `suspended`.
    pub status: String,
    /// `manual`, `scim`, or `both` (added by hand and provisioned).
    pub source: String,
    /// The effective organization role (the highest of every grant).
    pub role: String,
    /// The role set by hand.
    pub manual_role: String,
    /// Every grant of an organization role.
    pub role_sources: Vec<RoleGrant>,
    /// Effective stack roles.
    pub stack_roles: Vec<MemberStackRole>,
    /// The SCIM user, when the identity provider provisioned the person.
    pub scim_user_id: Option<String>,
    /// When the membership was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<MemberView> for Member {
    fn from(view: MemberView) -> Self {
        Self {
            account_id: view.account.uid,
            email: view.account.email,
            name: view.account.name,
            status: view.status,
            source: view.source.to_owned(),
            role: view.role,
            manual_role: view.manual_role,
            role_sources: view.role_sources.into_iter().map(RoleGrant::from).collect(),
            stack_roles: view
                .stack_roles
                .into_iter()
                .map(MemberStackRole::from)
                .collect(),
            scim_user_id: view.scim_user_id,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// `POST /organizations/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The person's email (an account is created and invited when new).
    pub email: String,
    /// The manual organization role (a key of the role catalog).
    pub role: String,
}

/// `PATCH /organizations/{id}/members/{account_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The new manual organization role.
    pub role: String,
}

/// An account and the organizations of this region it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    /// Its id.
    pub id: String,
    /// Its email.
    pub email: String,
    /// Its name.
    pub name: String,
    /// Its memberships in this region.
    pub organizations: Vec<AccountMembership>,
}

/// One membership of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountMembership {
    /// The organization's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The effective role.
    pub role: String,
    /// The membership's status.
    pub status: String,
}

/// A role of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    /// `organization` or `stack`.
    pub kind: String,
    /// Its key (what memberships and mappings name).
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    pub description: String,
    /// Privilege order: higher wins when several grants meet.
    pub rank: i32,
    /// Organization roles: whether holders manage SCIM.
    pub manages_scim: bool,
    /// A role the product cannot remove (`owner`).
    pub system: bool,
}

impl From<RoleDef> for Role {
    fn from(role: RoleDef) -> Self {
        Self {
            kind: role.kind.as_str().to_owned(),
            key: role.key,
            name: role.name,
            description: role.description,
            rank: role.rank,
            manages_scim: role.manages_scim,
            system: role.system,
        }
    }
}

/// The role catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleCatalog {
    /// Organization roles, least privileged first.
    pub organization: Vec<Role>,
    /// Stack roles, least privileged first.
    pub stack: Vec<Role>,
}

/// `POST /roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// `organization` or `stack`.
    pub kind: String,
    /// Its key: 1 to 50 of a-z, 0-9, `_`, `-`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    #[serde(default)]
    pub description: String,
    /// Privilege order, unique within its kind; organization roles rank below Owner.
    pub rank: i32,
    /// Organization roles: whether holders manage SCIM.
    #[serde(default)]
    pub manages_scim: bool,
}

/// `PATCH /roles/{kind}/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Privilege order.
    #[serde(default)]
    pub rank: Option<i32>,
    /// Whether holders manage SCIM.
    #[serde(default)]
    pub manages_scim: Option<bool>,
}

/// A stack (workspace).
#[derive(Debug, Serialize, ToSchema)]
pub struct Stack {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<store::repo::stacks::Stack> for Stack {
    fn from(stack: store::repo::stacks::Stack) -> Self {
        Self {
            id: stack.uid,
            name: stack.name,
            created_at: stack.created_at,
            updated_at: stack.updated_at,
        }
    }
}

/// `POST /organizations/{id}/stacks`, `PATCH …/stacks/{stack_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackName {
    /// 1 to 100 characters, unique in the organization ignoring case.
    pub name: String,
}

/// A bearer token's metadata (never the token).
#[derive(Debug, Serialize, ToSchema)]
pub struct BearerToken {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its first characters, to recognise it.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it expires, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A connected identity provider (an OAuth installation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectedIdp {
    /// The installation's id.
    pub id: String,
    /// The IdP's OAuth client.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// Granted scopes.
    pub scopes: String,
    /// When it was authorized.
    pub created_at: DateTime<Utc>,
    /// When its tokens were last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The last change an identity provider made.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastScimChange {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`scim_user.created`, `scim_group.patched`, …).
    pub action: String,
}

/// An organization's directory: SCIM switch, credentials, connected IdPs, what was synced.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryState {
    /// Whether SCIM is on.
    pub scim_enabled: bool,
    /// The SCIM Base URL to give the identity provider.
    pub scim_base_url: String,
    /// Provisioned users.
    pub users: u64,
    /// Provisioned groups.
    pub groups: u64,
    /// Bearer tokens.
    pub bearer_tokens: Vec<BearerToken>,
    /// Connected identity providers.
    pub connected_idps: Vec<ConnectedIdp>,
    /// The last change an identity provider made, if any.
    pub last_scim_change: Option<LastScimChange>,
}

/// `PATCH /organizations/{id}/directory`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDirectory {
    /// Turn SCIM on or off.
    pub scim_enabled: bool,
}

/// A SCIM group of the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    /// Its SCIM id.
    pub id: String,
    /// Its name.
    pub display_name: String,
    /// The IdP's id for it.
    pub external_id: Option<String>,
    /// How many members it has.
    pub member_count: u64,
}

/// A stack role granted by a mapping.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackGrant {
    /// The stack's id.
    pub stack_id: String,
    /// The role's key.
    pub role: String,
}

/// A group mapping: what a SCIM group grants its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMapping {
    /// The group's SCIM id.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// The organization role it grants.
    pub role: Option<String>,
    /// The stack roles it grants.
    pub stack_roles: Vec<StackGrant>,
}

/// `PUT /organizations/{id}/group-mappings/{group_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGroupMapping {
    /// An organization role to grant (never `owner`).
    #[serde(default)]
    pub role: Option<String>,
    /// Stack roles to grant.
    #[serde(default)]
    pub stack_roles: Vec<StackGrant>,
}

/// The result of saving a mapping.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedGroupMapping {
    /// The mapping.
    pub mapping: GroupMapping,
    /// How many members' effective roles changed.
    pub members_changed: usize,
}

/// `POST /organizations/{id}/portal-links`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePortalLink {
    /// Minutes until the link stops working (1 to 60; default 10).
    #[serde(default)]
    pub expires_in_minutes: Option<i64>,
    /// Where to send the admin when they are done (shown as a link in the portal).
    #[serde(default)]
    pub return_url: Option<String>,
}

/// A portal link: single use, valid for minutes.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalLink {
    /// Its id (recorded on everything done with it).
    pub id: String,
    /// The URL to hand the customer's IT admin.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// An invitation email and its state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    /// The invitation's id (`invitation_id` in `invitation.*` events).
    pub id: String,
    /// The invited account.
    pub account_id: String,
    /// The address it was sent to.
    pub email: String,
    /// `queued`, `sent`, `failed`, `accepted`, `revoked` (replaced, or the membership ended) or
    /// `not_sent` (the organization or deployment sends no email).
    pub status: String,
    /// Attempts made to send it.
    pub attempts: i32,
    /// The mail server's last refusal, when there was one.
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When its link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was accepted.
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<(store::repo::invitations::Invitation, String)> for Invitation {
    fn from((row, account_id): (store::repo::invitations::Invitation, String)) -> Self {
        Self {
            id: row.uid,
            account_id,
            email: row.email,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
        }
    }
}

/// One SCIM request of the organization, as the request log keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimRequest {
    /// The log row's id.
    pub id: i64,
    /// The request id (the `X-Request-Id` the IdP was answered with).
    pub request_id: Option<String>,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// The HTTP method.
    pub method: String,
    /// Path and query (secrets in the query redacted).
    pub path: String,
    /// The answer's status.
    pub status: i32,
    /// How long the answer took, in milliseconds.
    pub duration_ms: f64,
    /// `api_token` or `installation`; `null` when the credential was refused.
    pub credential_kind: Option<String>,
    /// The bearer token's or installation's id.
    pub credential_id: Option<String>,
    /// The client address.
    pub client_ip: Option<String>,
    /// The userName the request was about, when it named one.
    pub user_name: Option<String>,
    /// The externalId the request was about, when it named one.
    pub external_id: Option<String>,
    /// The request body, redacted and truncated.
    pub request_body: Option<String>,
    /// The response body, redacted and truncated.
    pub response_body: Option<String>,
}

impl From<store::repo::scim_request_log::LoggedRequest> for ScimRequest {
    fn from(row: store::repo::scim_request_log::LoggedRequest) -> Self {
        Self {
            id: row.id.0,
            request_id: row.request_id,
            at: row.created_at,
            method: row.method,
            path: row.path,
            status: row.status,
            duration_ms: row.duration_us as f64 / 1000.0,
            credential_kind: row.credential_kind,
            credential_id: row.credential_id,
            client_ip: row.client_ip,
            user_name: row.user_name,
            external_id: row.external_id,
            request_body: row.request_body,
            response_body: row.response_body,
        }
    }
}
