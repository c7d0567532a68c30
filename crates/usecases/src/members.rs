//! An organization's members, read and changed by hand (console, CLI, management API), under the
//! rules that hold for every caller: the organization always keeps an active Owner, and
//! provisioning's memberships are the identity provider's to change.

use std::collections::HashMap;

use serde_json::json;
use store::OrgScope;
use store::ids::{AccountId, MembershipId, StackId};
use store::repo::accounts::{self, Account};
use store::repo::members::{self, MemberFilter, MemberRecord};
use store::repo::memberships::{self, Membership, NewMembership};
use store::repo::role_catalog;
use store::repo::stacks;
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};

use crate::events::{self, Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// A member to add by hand.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// The person's email: an existing account is linked, else one is created.
    pub email: String,
    /// The manual organization role.
    pub role: OrgRole,
    /// A password to set on the account (the operator's CLI). Without one, a person who has no
    /// password yet is invited; one who has is active at once.
    pub password: Option<String>,
}

/// An added member.
#[derive(Debug, Clone)]
pub struct AddedMember {
    /// The account.
    pub account: Account,
    /// The membership.
    pub membership: Membership,
}

fn membership_event(kind: EventType, account: &Account, membership: &Membership) -> Event {
    Event::new(
        kind,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "role": membership.role,
            "status": membership.status, "source": membership.source}),
    )
}

/// Adds a person to the organization by hand.
pub async fn add(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    new: NewMember,
) -> Result<AddedMember> {
    let email = Email::parse(&new.email)?;
    let mut unit = Unit::begin(core, actor).await?;
    role_catalog::load(unit.conn())
        .await?
        .org_role(new.role.as_str())?;
    let account = match accounts::find_by_email(unit.conn(), &email).await? {
        Some(existing) => match new.password.as_deref() {
            Some(password) => accounts::set_password(unit.conn(), existing, password).await?,
            None => existing,
        },
        None => accounts::create(unit.conn(), &email, None, new.password.as_deref()).await?,
    };
    let status = if account.password_hash.is_some() {
        MembershipStatus::Active
    } else {
        MembershipStatus::Invited
    };
    let membership = memberships::add(
        unit.conn(),
        scope,
        NewMembership {
            account_id: account.id,
            role: new.role.clone(),
            status,
            source: MembershipSource::Manual,
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Conflict(_) => Error::Conflict(format!(
            "{} is already a member of this organization",
            account.email
        )),
        other => other.into(),
    })?;
    let kind = if status == MembershipStatus::Invited {
        EventType::MembershipInvited
    } else {
        EventType::MembershipActivated
    };
    unit.emit(membership_event(kind, &account, &membership));
    let audit = Audit::new(
        "membership.added",
        "account",
        &account.uid,
        json!({"role": new.role.as_str(), "status": status.as_str()}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(AddedMember {
        account,
        membership,
    })
}

/// The active Owners of the organization other than `account_id`.
async fn other_active_owners(
    conn: &impl store::Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> Result<usize> {
    let filter = MemberFilter {
        status: Some(MembershipStatus::Active),
        role: Some(OrgRole::OWNER.to_owned()),
        email: None,
    };
    Ok(members::page(conn, scope, &filter, None, 2)
        .await?
        .iter()
        .filter(|m| m.account.id != account_id)
        .count())
}

/// Refuses a change that would leave the organization without an active Owner.
async fn keep_an_owner(
    conn: &impl store::Conn,
    scope: &OrgScope,
    membership: &Membership,
    what: &str,
) -> Result<()> {
    let is_active_owner = membership.effective_role == OrgRole::OWNER
        && membership.status == MembershipStatus::Active.as_str();
    if is_active_owner && other_active_owners(conn, scope, membership.account_id).await? == 0 {
        return Err(Error::Conflict(format!(
            "cannot {what} the organization's last active Owner; make someone else Owner first"
        )));
    }
    Ok(())
}

/// Changes a member's manual organization role. Effective roles are recomputed (a mapped group
/// may still grant more) and every change is an event.
pub async fn set_role(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    account_id: AccountId,
    role: &OrgRole,
) -> Result<Membership> {
    let mut unit = Unit::begin(core, actor).await?;
    role_catalog::load(unit.conn())
        .await?
        .org_role(role.as_str())?;
    let before = memberships::get(unit.conn(), scope, account_id)
        .await?
        .ok_or_else(|| Error::NotFound("member not found".into()))?;
    if before.role == role.as_str() {
        unit.commit(
            Some(scope),
            Audit::new(
                "membership.role_set",
                "account",
                account_id.to_string(),
                json!({"role": role.as_str(), "changed": false}),
            ),
        )
        .await?;
        return Ok(before);
    }
    if !role.is_owner() {
        keep_an_owner(unit.conn(), scope, &before, "demote").await?;
    }
    let (membership, changes) = memberships::set_role(unit.conn(), scope, account_id, role).await?;
    let account = accounts::find_by_id(unit.conn(), account_id)
        .await?
        .ok_or_else(|| Error::NotFound("account not found".into()))?;
    unit.emit(
        membership_event(EventType::MemberUpdated, &account, &membership)
            .with_previous(json!({"role": before.role})),
    );
    let role_events = events::role_changes(unit.conn(), scope, &changes).await?;
    unit.emit_all(role_events);
    let audit = Audit::new(
        "membership.role_set",
        "account",
        &account.uid,
        json!({"from": before.role, "to": role.as_str()}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(membership)
}

/// Removes a membership added by hand; the account stays. A membership the identity provider
/// manages is removed by deprovisioning there, and the last active Owner is never removed.
pub async fn remove(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    account_id: AccountId,
) -> Result<()> {
    let mut unit = Unit::begin(core, actor).await?;
    let membership = memberships::get(unit.conn(), scope, account_id)
        .await?
        .ok_or_else(|| Error::NotFound("member not found".into()))?;
    if membership.source == MembershipSource::Scim.as_str() {
        return Err(Error::Conflict(
            "this membership is provisioned by the organization's identity provider; remove \
             the person there (or deactivate them) instead"
                .into(),
        ));
    }
    keep_an_owner(unit.conn(), scope, &membership, "remove").await?;
    let account = accounts::find_by_id(unit.conn(), account_id)
        .await?
        .ok_or_else(|| Error::NotFound("account not found".into()))?;
    memberships::remove(unit.conn(), scope, account_id).await?;
    stacks::remove_roles_of(unit.conn(), scope, account_id).await?;
    unit.emit(membership_event(
        EventType::MembershipRemoved,
        &account,
        &membership,
    ));
    unit.commit(
        Some(scope),
        Audit::new(
            "membership.removed",
            "account",
            &account.uid,
            json!({"role": membership.role}),
        ),
    )
    .await
}

/// Where a role comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleSource {
    /// Set by hand.
    Manual,
    /// Granted by a mapped SCIM group.
    Group {
        /// The group's SCIM id.
        id: String,
        /// Its display name.
        name: String,
    },
}

/// A role and what grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedRole {
    /// The role's key.
    pub role: String,
    /// What grants it.
    pub source: RoleSource,
}

/// A member's role on one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRoleView {
    /// The stack's public id.
    pub stack_id: String,
    /// Its name.
    pub stack_name: String,
    /// The role in effect.
    pub role: String,
    /// Every grant of a role on this stack.
    pub sources: Vec<SourcedRole>,
}

/// A member as the API shows it: effective roles and where each comes from.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The membership (its id pages listings).
    pub membership_id: MembershipId,
    /// The account.
    pub account: Account,
    /// invited, active or suspended.
    pub status: String,
    /// manual, scim, or both (added by hand, then linked by provisioning).
    pub source: &'static str,
    /// The effective organization role.
    pub role: String,
    /// The manual organization role.
    pub manual_role: String,
    /// Every grant of an organization role (the manual role first).
    pub role_sources: Vec<SourcedRole>,
    /// Effective stack roles.
    pub stack_roles: Vec<StackRoleView>,
    /// The SCIM user linked to the account, when provisioned.
    pub scim_user_id: Option<String>,
    /// When the membership was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last changed (also its ETag).
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

fn view(record: MemberRecord, stack_names: &HashMap<StackId, (String, String)>) -> MemberView {
    let m = &record.membership;
    let source = match (m.source.as_str(), record.scim_user.is_some()) {
        ("scim", _) => "scim",
        (_, true) => "both",
        _ => "manual",
    };
    let mut role_sources = vec![SourcedRole {
        role: m.role.clone(),
        source: RoleSource::Manual,
    }];
    let mut stack_sources: HashMap<StackId, Vec<SourcedRole>> = HashMap::new();
    for row in &record.stack_roles {
        if let Some(role) = &row.manual {
            stack_sources
                .entry(row.stack_id)
                .or_default()
                .push(SourcedRole {
                    role: role.clone(),
                    source: RoleSource::Manual,
                });
        }
    }
    for group in &record.mapped_groups {
        let source = RoleSource::Group {
            id: group.group_uid.clone(),
            name: group.group_name.clone(),
        };
        if let Some(role) = &group.org_role {
            role_sources.push(SourcedRole {
                role: role.clone(),
                source: source.clone(),
            });
        }
        for (stack, role) in &group.stack_roles {
            stack_sources.entry(*stack).or_default().push(SourcedRole {
                role: role.clone(),
                source: source.clone(),
            });
        }
    }
    let stack_roles = record
        .stack_roles
        .iter()
        .filter_map(|row| {
            let (uid, name) = stack_names.get(&row.stack_id)?.clone();
            Some(StackRoleView {
                stack_id: uid,
                stack_name: name,
                role: row.effective.clone()?,
                sources: stack_sources.remove(&row.stack_id).unwrap_or_default(),
            })
        })
        .collect();
    MemberView {
        membership_id: m.id,
        status: m.status.clone(),
        source,
        role: m.effective_role.clone(),
        manual_role: m.role.clone(),
        role_sources,
        stack_roles,
        scim_user_id: record.scim_user.map(|(uid, _)| uid),
        created_at: m.created_at,
        updated_at: m.updated_at,
        account: record.account,
    }
}

async fn stack_names(core: &Core, scope: &OrgScope) -> Result<HashMap<StackId, (String, String)>> {
    Ok(stacks::list(core.db(), scope)
        .await?
        .into_iter()
        .map(|s| (s.id, (s.uid, s.name)))
        .collect())
}

/// Members after `after` matching `filter`, `limit` at most.
pub async fn list(
    core: &Core,
    scope: &OrgScope,
    filter: &MemberFilter,
    after: Option<MembershipId>,
    limit: u64,
) -> Result<Vec<MemberView>> {
    let records = members::page(core.db(), scope, filter, after, limit).await?;
    let names = stack_names(core, scope).await?;
    Ok(records.into_iter().map(|r| view(r, &names)).collect())
}

/// One member, by account id or by email.
pub async fn get(core: &Core, scope: &OrgScope, key: &MemberKey) -> Result<MemberView> {
    let record = match key {
        MemberKey::Account(uid) => match accounts::find_by_uid(core.db(), uid).await? {
            Some(account) => members::by_account(core.db(), scope, account.id).await?,
            None => None,
        },
        MemberKey::Email(email) => {
            let filter = MemberFilter {
                email: Some(email.clone()),
                ..MemberFilter::default()
            };
            members::page(core.db(), scope, &filter, None, 1)
                .await?
                .into_iter()
                .next()
        }
    }
    .ok_or_else(|| Error::NotFound("no such member in this organization".into()))?;
    Ok(view(record, &stack_names(core, scope).await?))
}

/// How a member is named in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKey {
    /// By the account's public id.
    Account(String),
    /// By email.
    Email(String),
}

impl MemberKey {
    /// An account id, or an email when the value contains `@`.
    pub fn parse(value: &str) -> Self {
        if value.contains('@') {
            MemberKey::Email(value.to_owned())
        } else {
            MemberKey::Account(value.to_owned())
        }
    }
}
