//! The event catalogue: every kind of change the SaaS backend hears about, as one enum, and the
//! events the use cases emit. Documented for consumers in `docs/events.md`; the names are a
//! contract.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use store::OrgScope;
use store::ids::{AccountId, StackId};
use store::repo::accounts;
use store::repo::roles::RoleChange;
use store::repo::stacks;
use store::types::StackRole;

use crate::Result;

macro_rules! catalogue {
    ($($(#[$meta:meta])* $variant:ident => $name:literal),+ $(,)?) => {
        /// A kind of event.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType { $($(#[$meta])* $variant),+ }

        impl EventType {
            /// Every kind, in catalogue order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The name consumers see (`membership.invited`).
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),+ }
            }

            /// The kind with this name.
            pub fn parse(name: &str) -> Option<EventType> {
                match name { $($name => Some(EventType::$variant),)+ _ => None }
            }
        }
    };
}

catalogue! {
    /// A person was added to an organization and invited (not yet accepted).
    MembershipInvited => "membership.invited",
    /// A person accepted an invitation: the membership is active.
    MembershipActivated => "membership.activated",
    /// The IdP deactivated a person: no access, nothing deleted.
    MembershipSuspended => "membership.suspended",
    /// The IdP reactivated a person.
    MembershipRestored => "membership.restored",
    /// A person left the organization (deprovisioned or removed); the account stays.
    MembershipRemoved => "membership.removed",
    /// A person's effective organization role or stack roles changed.
    MemberRolesChanged => "member.roles_changed",
    /// A membership's own attributes changed (manual role, source).
    MemberUpdated => "member.updated",
    /// The IdP created a user.
    DirectoryUserCreated => "directory.user.created",
    /// The IdP changed a user.
    DirectoryUserUpdated => "directory.user.updated",
    /// The IdP deleted a user.
    DirectoryUserDeleted => "directory.user.deleted",
    /// The IdP created a group.
    DirectoryGroupCreated => "directory.group.created",
    /// The IdP changed a group's attributes.
    DirectoryGroupUpdated => "directory.group.updated",
    /// The IdP deleted a group.
    DirectoryGroupDeleted => "directory.group.deleted",
    /// Users joined a group (ids in bounded chunks).
    DirectoryGroupMembersAdded => "directory.group.members_added",
    /// Users left a group (ids in bounded chunks).
    DirectoryGroupMembersRemoved => "directory.group.members_removed",
    /// SCIM was enabled for the organization.
    ScimEnabled => "scim.enabled",
    /// SCIM was disabled for the organization.
    ScimDisabled => "scim.disabled",
    /// An IdP was authorized ("Authorize & Install").
    InstallationCreated => "installation.created",
    /// An IdP's authorization was revoked.
    InstallationRevoked => "installation.revoked",
    /// A bearer token was created.
    ApiTokenCreated => "api_token.created",
    /// A bearer token was revoked.
    ApiTokenRevoked => "api_token.revoked",
    /// A bearer token was replaced by a new one; the old keeps working until its end.
    ApiTokenRotated => "api_token.rotated",
    /// A group's mapping to roles was saved.
    GroupMappingSaved => "group_mapping.saved",
    /// A group's mapping was removed.
    GroupMappingRemoved => "group_mapping.removed",
    /// An organization was created.
    OrganizationCreated => "organization.created",
    /// An organization's name or settings changed.
    OrganizationUpdated => "organization.updated",
    /// An organization was deleted.
    OrganizationDeleted => "organization.deleted",
    /// A stack was created.
    StackCreated => "stack.created",
    /// A stack was renamed.
    StackUpdated => "stack.updated",
    /// A stack was deleted.
    StackDeleted => "stack.deleted",
    /// An invitation email was accepted by the mail server.
    InvitationSent => "invitation.sent",
    /// An invitation email was refused for good.
    InvitationFailed => "invitation.failed",
    /// A webhook endpoint was disabled by delivery: it answered 410 Gone, or nothing was
    /// delivered to it for `webhooks.disable_after_hours` (region-level: no organization).
    WebhookEndpointDisabled => "webhook_endpoint.disabled",
    /// A rule protecting the organization's Owners changed what was asked (recorded so it is
    /// visible: a suspension, removal or demotion of an Owner that did not happen).
    OwnerProtected => "member.owner_protected",
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Its type (`user`, `group`, `membership`, `organization`, …).
    pub kind: &'static str,
    /// Its public id.
    pub id: String,
    /// Its version after the change, when it has one.
    pub version: Option<i64>,
}

impl Subject {
    /// A subject without a version.
    pub fn new(kind: &'static str, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            version: None,
        }
    }

    /// A subject with its version after the change.
    pub fn versioned(kind: &'static str, id: impl Into<String>, version: i64) -> Self {
        Self {
            kind,
            id: id.into(),
            version: Some(version),
        }
    }
}

/// One event a use case emits.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// About what.
    pub subject: Subject,
    /// The event's data (never a secret).
    pub data: Value,
    /// For updates: the previous values of what changed.
    pub previous: Option<Value>,
}

impl Event {
    /// An event about `subject` with `data`.
    pub fn new(kind: EventType, subject: Subject, data: Value) -> Self {
        Self {
            kind,
            subject,
            data,
            previous: None,
        }
    }

    /// The same event with the previous values of what changed.
    pub fn with_previous(mut self, previous: Value) -> Self {
        self.previous = Some(previous);
        self
    }
}

/// The top-level attributes whose values differ between `before` and `after`, with their values
/// before (`null` for an attribute that did not exist): an update's `previous_attributes`.
pub fn changed_attributes(before: &Value, after: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changed = Map::new();
    for (key, old) in before {
        if after.get(key) != Some(old) {
            changed.insert(key.clone(), old.clone());
        }
    }
    for key in after.keys() {
        if !before.contains_key(key) {
            changed.insert(key.clone(), Value::Null);
        }
    }
    changed
}

/// One `member.roles_changed` event per account whose effective roles changed, naming stacks by
/// their public ids.
pub(crate) async fn role_changes(
    conn: &impl store::Conn,
    scope: &OrgScope,
    changes: &[RoleChange],
) -> Result<Vec<Event>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<AccountId> = changes.iter().map(|c| c.account_id).collect();
    let accounts: HashMap<AccountId, accounts::Account> = accounts::by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let stacks: HashMap<StackId, String> = stacks::list(conn, scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.uid))
        .collect();
    let stack_roles = |roles: &BTreeMap<StackId, StackRole>| -> Value {
        roles
            .iter()
            .filter_map(|(id, role)| Some((stacks.get(id)?.clone(), json!(role.as_str()))))
            .collect::<Map<_, _>>()
            .into()
    };
    Ok(changes
        .iter()
        .filter_map(|change| {
            let account = accounts.get(&change.account_id)?;
            let data = json!({
                "account_id": account.uid,
                "email": account.email,
                "role": change.after.org_role.as_str(),
                "stack_roles": stack_roles(&change.after.stacks),
            });
            Some(
                Event::new(
                    EventType::MemberRolesChanged,
                    Subject::new("membership", account.uid.clone()),
                    data,
                )
                .with_previous(json!({
                    "role": change.before.org_role.as_str(),
                    "stack_roles": stack_roles(&change.before.stacks),
                })),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventType::ALL {
            assert!(seen.insert(kind.as_str()), "{} twice", kind.as_str());
            assert_eq!(EventType::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(EventType::parse("membership.nope"), None);
    }

    #[test]
    fn changed_attributes_name_old_values_and_new_keys() {
        let before = json!({"userName": "a", "active": true, "title": "x"});
        let after = json!({"userName": "b", "active": true, "nickName": "n"});
        let changed = changed_attributes(&before, &after);
        assert_eq!(
            Value::Object(changed),
            json!({"userName": "a", "title": "x", "nickName": null})
        );
    }
}
