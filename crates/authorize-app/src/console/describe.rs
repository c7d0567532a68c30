//! The audit log in words an admin reads: who by name or email (a person, a token by its name, a
//! connected IdP by its client's name), what by name (a user's userName, a group's displayName),
//! and what happened as a sentence ("added 3 members to Engineering") — never raw JSON and UUIDs.
//!
//! Names are looked up once per page for the ids on it. What no longer exists is named from what
//! the row recorded (a deleted group's displayName is in its detail), else by its kind alone.

use std::collections::HashMap;

use serde_json::Value;
use store::repo::audit::AuditRow;
use store::repo::{accounts, api_tokens, installations, invitations, oauth_clients, stacks};
use store::repo::{scim_groups, scim_users};

use super::OrgAdmin;
use super::views::{AuditLine, when};
use crate::AuthorizeApp;
use crate::error::PageError;

/// The names of what a page of audit rows mentions.
#[derive(Debug, Default)]
struct Names {
    accounts: HashMap<String, String>,
    tokens: HashMap<String, String>,
    installations: HashMap<String, String>,
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
    stacks: HashMap<String, String>,
    invitations: HashMap<String, String>,
}

impl Names {
    async fn load(
        app: &AuthorizeApp,
        admin: &OrgAdmin,
        rows: &[AuditRow],
    ) -> Result<Self, PageError> {
        let mut names = Names::default();
        let (db, scope) = (&app.db, &admin.scope);
        names.tokens = api_tokens::list(db, scope)
            .await?
            .into_iter()
            .map(|t| (t.uid, t.name))
            .collect();
        names.stacks = stacks::list(db, scope)
            .await?
            .into_iter()
            .map(|s| (s.uid, s.name))
            .collect();
        let mentions = |kind: &str| {
            let mut ids: Vec<String> = rows
                .iter()
                .filter(|r| r.actor_type == kind)
                .map(|r| r.actor_id.clone())
                .chain(rows.iter().filter_map(|r| {
                    (resource_kind(&r.resource_type) == kind)
                        .then(|| r.resource_id.clone())
                        .flatten()
                }))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        if !mentions("installation").is_empty() {
            for i in installations::list(db, scope).await? {
                let client = oauth_clients::find_by_id(db, i.client_id)
                    .await?
                    .map_or_else(|| "a removed IdP client".to_owned(), |c| c.name);
                names.installations.insert(i.uid, client);
            }
        }
        for uid in mentions("account") {
            if let Some(account) = accounts::find_by_uid(db, &uid).await? {
                names.accounts.insert(uid, account.email);
            }
        }
        for uid in mentions("user") {
            if let Some(user) = scim_users::get(db, scope, &uid).await? {
                names.users.insert(uid, user.user_name);
            }
        }
        for uid in mentions("group") {
            if let Some(group) = scim_groups::get(db, scope, &uid).await? {
                names.groups.insert(uid, group.display_name);
            }
        }
        for uid in mentions("invitation") {
            if let Ok(invitation) = invitations::get(db, scope, &uid).await {
                names.invitations.insert(uid, invitation.email);
            }
        }
        Ok(names)
    }

    /// Who acted, in words.
    fn actor(&self, kind: &str, id: &str) -> String {
        match kind {
            "account" => self
                .accounts
                .get(id)
                .cloned()
                .unwrap_or_else(|| "a person whose account was removed".to_owned()),
            "api_token" => self.tokens.get(id).map_or_else(
                || "a bearer token".to_owned(),
                |name| format!("the bearer token “{name}”"),
            ),
            "installation" => self.installations.get(id).map_or_else(
                || "a connected IdP".to_owned(),
                |name| format!("{name} (connected IdP)"),
            ),
            // The SaaS made the link and knows it by its id: the only name it has.
            "portal_link" => format!("the portal link {id} (an IT admin without an account)"),
            "operator" => "the operator (CLI)".to_owned(),
            "backend_client" => "the SaaS backend".to_owned(),
            "system" => "scimgate".to_owned(),
            other => other.replace('_', " "),
        }
    }
}

/// The kind of thing a resource type names: `user`, `group`, `account`, …
fn resource_kind(resource_type: &str) -> &str {
    match resource_type {
        "User" => "user",
        "Group" | "scim_group" => "group",
        "api_token" => "api_token",
        other => other,
    }
}

/// A resource's name: the live one, else the one the row recorded, else its kind.
fn resource_name(names: &Names, row: &AuditRow, detail: &Value) -> String {
    let id = row.resource_id.clone().unwrap_or_default();
    let recorded = |key: &str| detail[key].as_str().map(str::to_owned);
    let found = match resource_kind(&row.resource_type) {
        "user" => names
            .users
            .get(&id)
            .cloned()
            .or_else(|| recorded("userName")),
        "group" => names
            .groups
            .get(&id)
            .cloned()
            .or_else(|| recorded("displayName"))
            .or_else(|| recorded("group")),
        "account" => names.accounts.get(&id).cloned(),
        "api_token" => names.tokens.get(&id).cloned().or_else(|| recorded("name")),
        "installation" => names
            .installations
            .get(&id)
            .cloned()
            .or_else(|| recorded("client_name")),
        "stack" => names.stacks.get(&id).cloned().or_else(|| recorded("name")),
        "invitation" => names.invitations.get(&id).cloned(),
        "organization" => recorded("name"),
        _ => None,
    };
    found.unwrap_or_default()
}

/// "Org role Admin; Production: Developer" from a mapping's recorded grants.
fn grants_words(grants: &Value, names: &Names) -> String {
    let mut parts = Vec::new();
    if let Some(role) = grants["org_role"].as_str() {
        parts.push(format!("Org role {}", title(role)));
    }
    if let Some(stacks) = grants["stack_roles"].as_object() {
        for (uid, role) in stacks {
            let stack = names
                .stacks
                .get(uid)
                .cloned()
                .unwrap_or_else(|| "a deleted stack".to_owned());
            parts.push(format!(
                "{stack}: {}",
                title(role.as_str().unwrap_or_default())
            ));
        }
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

fn title(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What happened, as a sentence (without the actor, who has a column of their own).
fn sentence(row: &AuditRow, detail: &Value, name: &str, names: &Names) -> String {
    let named = |kind: &str| {
        if name.is_empty() {
            format!("a {kind}")
        } else {
            format!("{kind} {name}")
        }
    };
    let members = |detail: &Value| {
        let added = detail["members_added"].as_u64().unwrap_or(0);
        let removed = detail["members_removed"].as_u64().unwrap_or(0);
        let ignored = detail["ignored_member_ids"]
            .as_array()
            .map_or(0, |a| a.len() as u64);
        let mut parts = Vec::new();
        if added > 0 {
            parts.push(format!(
                "added {} to {name}",
                plural(added, "member", "members")
            ));
        }
        if removed > 0 {
            parts.push(format!(
                "removed {} from {name}",
                plural(removed, "member", "members")
            ));
        }
        if ignored > 0 {
            parts.push(format!(
                "ignored {} that {} not users of this organization",
                plural(ignored, "member id", "member ids"),
                if ignored == 1 { "is" } else { "are" }
            ));
        }
        parts
    };
    let mut text = match row.action.as_str() {
        "scim_user.created" => format!("provisioned the {}", named("user")),
        "scim_user.updated" => format!("updated the {}", named("user")),
        "scim_user.deleted" => format!(
            "deprovisioned the {} (removed from the organization; the account stays)",
            named("user")
        ),
        "scim_group.created" => {
            let n = detail["members"]["members_added"].as_u64().unwrap_or(0);
            format!(
                "created the group {name} with {}",
                plural(n, "member", "members")
            )
        }
        "scim_group.patched" | "scim_group.replaced" => {
            // A PATCH records {"attributes", "members": {…}}; a PUT the member counts alone.
            let counts = if detail["members"].is_object() {
                &detail["members"]
            } else {
                detail
            };
            let mut parts = members(counts);
            if let Some(attributes) = detail["attributes"].as_array().filter(|a| !a.is_empty()) {
                let names: Vec<&str> = attributes.iter().filter_map(Value::as_str).collect();
                parts.insert(0, format!("changed {} of {name}", names.join(", ")));
            }
            if parts.is_empty() {
                format!("changed the group {name}")
            } else {
                parts.join("; ")
            }
        }
        "scim_group.deleted" => format!("deleted the group {name}"),
        "group_mapping.saved" => format!(
            "mapped the group {name} to {} (before: {}); {} changed",
            grants_words(&detail["after"], names),
            grants_words(&detail["before"], names),
            plural(
                detail["accounts_changed"].as_u64().unwrap_or(0),
                "person's roles",
                "people's roles"
            )
        ),
        "group_mapping.removed" => format!(
            "removed the mapping of {name} (it granted {}); {} changed",
            grants_words(&detail["before"], names),
            plural(
                detail["accounts_changed"].as_u64().unwrap_or(0),
                "person's roles",
                "people's roles"
            )
        ),
        // A token's name when it happened (a rotation renames the old one afterwards).
        "api_token.created" => {
            let name = detail["name"].as_str().unwrap_or(name);
            match detail["expires_at"].as_str() {
                Some(at) => format!("created the bearer token “{name}”, valid until {}", day(at)),
                None => format!("created the bearer token “{name}”"),
            }
        }
        "api_token.revoked" => format!(
            "revoked the bearer token “{}”",
            detail["name"].as_str().unwrap_or(name)
        ),
        "api_token.rotated" => format!(
            "rotated the bearer token “{}”: a new one was made, the old one works {}",
            detail["name"].as_str().unwrap_or(name),
            detail["ends_at"].as_str().map_or_else(
                || "until revoked".to_owned(),
                |at| format!("until {}", day(at))
            )
        ),
        "installation.created" => format!("connected {name} (Authorize & Install)"),
        "installation.revoked" => format!("disconnected {}", named("IdP")),
        "scim.enabled" => "enabled SCIM".to_owned(),
        "scim.disabled" => "disabled SCIM".to_owned(),
        "stack.created" => format!("created the stack {name}"),
        "stack.renamed" => format!(
            "renamed the stack {} to {}",
            detail["from"].as_str().unwrap_or_default(),
            detail["to"].as_str().unwrap_or_default()
        ),
        "stack.deleted" => format!("deleted the stack {name}"),
        "membership.added" => format!(
            "added {} as {}",
            or_someone(name),
            title(detail["role"].as_str().unwrap_or("member"))
        ),
        "membership.role_set" => match (detail["from"].as_str(), detail["to"].as_str()) {
            (Some(from), Some(to)) => format!(
                "changed {}'s role from {} to {}",
                or_someone(name),
                title(from),
                title(to)
            ),
            _ => format!("set {}'s role", or_someone(name)),
        },
        "membership.removed" => format!("removed {} from the organization", or_someone(name)),
        "invitation.sent" => format!("sent the invitation to {}", or_someone(name)),
        "invitation.deferred" => format!(
            "could not send the invitation to {} yet ({}); will retry",
            or_someone(name),
            detail["error"].as_str().unwrap_or("refused")
        ),
        "invitation.failed" => format!(
            "gave up sending the invitation to {}: {}",
            or_someone(name),
            detail["error"].as_str().unwrap_or("refused")
        ),
        "invitation.accepted" => format!("{} accepted the invitation", or_someone(name)),
        "invitation.resent" | "invitation.queued" => {
            format!("queued a new invitation to {}", or_someone(name))
        }
        "portal_link.created" => "created a portal link for the customer's IT admin".to_owned(),
        "portal_link.redeemed" => "opened a portal link session".to_owned(),
        "organization.created" => format!("created the organization {name}"),
        "organization.updated" => "changed the organization's settings".to_owned(),
        other => {
            let (noun, verb) = other.split_once('.').unwrap_or((other, ""));
            let noun = noun.replace('_', " ");
            let verb = verb.replace('_', " ");
            if name.is_empty() {
                format!("{verb} a {noun}")
            } else {
                format!("{verb} the {noun} {name}")
            }
        }
    };
    if let Some(Value::Array(refused)) = detail.get("owner_protected") {
        for r in refused {
            text.push_str(&format!(
                ". The IdP asked to {} the Owner {}; kept: Owners are managed by hand, never by \
                 provisioning",
                r["asked"].as_str().unwrap_or("change"),
                r["email"].as_str().unwrap_or("(unknown)"),
            ));
        }
    }
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>() + "."
    })
}

fn or_someone(name: &str) -> &str {
    if name.is_empty() { "someone" } else { name }
}

/// A recorded RFC 3339 time as the console shows times.
fn day(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| when(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| at.to_owned())
}

/// Audit rows as a person reads them.
pub async fn lines(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    rows: Vec<AuditRow>,
) -> Result<Vec<AuditLine>, PageError> {
    let names = Names::load(app, admin, &rows).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let detail: Value = serde_json::from_str(&r.detail).unwrap_or(Value::Null);
            let name = resource_name(&names, &r, &detail);
            let kind = resource_kind(&r.resource_type);
            let link = match (kind, &r.resource_id) {
                ("user", Some(id)) if names.users.contains_key(id) => {
                    Some(admin.scim_path(&format!("/users/{id}")))
                }
                ("group", Some(id)) if names.groups.contains_key(id) => {
                    Some(admin.scim_path(&format!("/groups/{id}")))
                }
                _ => None,
            };
            let kind_words = match kind {
                "user" => "user",
                "group" => "group",
                "account" => "person",
                "api_token" => "bearer token",
                "installation" => "connected IdP",
                "invitation" => "invitation",
                other => other,
            }
            .replace('_', " ");
            AuditLine {
                at: when(r.created_at),
                actor: names.actor(&r.actor_type, &r.actor_id),
                detail: sentence(&r, &detail, &name, &names),
                resource: if name.is_empty() {
                    kind_words
                } else {
                    format!("{kind_words} {name}")
                },
                resource_link: link,
                action: r.action,
                request_id: r.request_id.unwrap_or_default(),
                ip: r.ip.unwrap_or_default(),
            }
        })
        .collect())
}
