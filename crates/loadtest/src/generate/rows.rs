//! The rows of one unit of work, made by the application's own code: a user is the `POST /Users`
//! body `create-users` sends, turned into columns by `usecases::scim::users::new_user_columns`
//! and into stored values by `store` (`UserColumns::derived`, the account's name and email
//! rules), so a generated row is the row `POST /Users` would have written. Groups likewise.

use chrono::{DateTime, Utc};
use scim_core::schema::ResourceSchema;
use serde_json::json;
use store::ids::AccountId;
use store::repo::accounts::display_name;
use store::repo::memberships::NewMembership;
use store::repo::new_uid;
use store::repo::scim_groups::GroupColumns;
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};
use usecases::scim::resource::group_columns;
use usecases::scim::users::{account_email, new_user_columns};

use super::copy_text::CopyText;
use super::plan::{NewOrg, OrgPlan, Plan, Work, group_members};

/// The tables the generator writes, in the order of [`Batch::tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Organizations,
    Accounts,
    Memberships,
    Users,
    Emails,
    Groups,
    Members,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Organizations,
        Table::Accounts,
        Table::Memberships,
        Table::Users,
        Table::Emails,
        Table::Groups,
        Table::Members,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Organizations => "organizations",
            Table::Accounts => "accounts",
            Table::Memberships => "org_memberships",
            Table::Users => "scim_users",
            Table::Emails => "scim_user_emails",
            Table::Groups => "scim_groups",
            Table::Members => "scim_group_members",
        }
    }

    /// The columns the rows below carry, in their order (an email row's id comes from its
    /// sequence: nothing points at it).
    pub fn columns(self) -> &'static str {
        match self {
            Table::Organizations => {
                "id, uid, name, home_region, scim_enabled, invitations_enabled, deleted_at, \
                 created_at, updated_at"
            }
            Table::Accounts => {
                "id, uid, email, email_normalized, name, password_hash, created_at, updated_at"
            }
            Table::Memberships => {
                "id, org_id, account_id, role, effective_role, status, source, created_at, \
                 updated_at"
            }
            Table::Users => {
                "id, uid, org_id, account_id, user_name, user_name_normalized, external_id, \
                 active, given_name, family_name, display_name, primary_email, \
                 primary_email_normalized, resource, search, version, created_at, updated_at"
            }
            Table::Emails => "org_id, user_id, kind, value, value_normalized, is_primary",
            Table::Groups => {
                "id, uid, org_id, display_name, display_name_normalized, external_id, resource, \
                 search, version, created_at, updated_at"
            }
            Table::Members => "org_id, group_id, user_id, display, created_at",
        }
    }

    /// Tables that hold nothing before the generator runs (it checks): each is truncated and
    /// loaded in one transaction, with `COPY … FREEZE`, so its rows are visible to everyone
    /// from the start and no later VACUUM has to visit them for index-only scans.
    pub fn starts_empty(self) -> bool {
        matches!(
            self,
            Table::Users | Table::Emails | Table::Groups | Table::Members
        )
    }
}

/// The rows of one unit of work, per table.
#[derive(Debug, Default)]
pub struct Batch {
    pub tables: [CopyText; 7],
    /// Users made (for progress).
    pub users: u64,
}

impl Batch {
    fn rows(&mut self, table: Table) -> &mut CopyText {
        &mut self.tables[table as usize]
    }
}

/// `timestamptz` in COPY text.
fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// The rows of `work`.
pub fn build(plan: &Plan, work: Work) -> anyhow::Result<Batch> {
    let mut batch = Batch::default();
    match work {
        Work::Organization { org } => {
            let org = &plan.orgs[org];
            if let Some(new) = &org.new {
                organization(&mut batch, plan, org, new)?;
            }
        }
        Work::Users { org, from, to } => {
            let org = &plan.orgs[org];
            // One creation time per unit: a thousand users a second apart would cost a
            // timestamp formatting per row for no difference any query sees.
            let at = timestamp(plan.created_at(org, from));
            for i in from..to {
                user(&mut batch, plan, org, i, &at)?;
            }
            batch.users = to - from;
        }
        Work::Groups { org } => groups(&mut batch, plan, &plan.orgs[org])?,
    }
    Ok(batch)
}

/// A created organization (SCIM enabled) and its Owner, invited: an account without a password.
fn organization(batch: &mut Batch, plan: &Plan, org: &OrgPlan, new: &NewOrg) -> anyhow::Result<()> {
    // Created just before its first user.
    let at = timestamp(plan.created_at(org, 0));
    batch
        .rows(Table::Organizations)
        .int(org.id)
        .text(&new.uid)
        .text(&new.name)
        .text(&plan.region)
        .boolean(true)
        .boolean(true)
        .null()
        .text(&at)
        .text(&at)
        .end_row();
    let email = Email::parse(&new.owner_email)?;
    account(batch, new.owner_account_id, &email, None, &at);
    let owner = NewMembership {
        account_id: AccountId(new.owner_account_id),
        role: OrgRole::owner(),
        status: MembershipStatus::Invited,
        source: MembershipSource::Manual,
    };
    membership(batch, new.owner_membership_id, org.id, &owner, &at);
    Ok(())
}

fn account(batch: &mut Batch, id: i64, email: &Email, name: Option<&str>, at: &str) {
    batch
        .rows(Table::Accounts)
        .int(id)
        .text(&new_uid())
        .text(email.as_str())
        .text(&email.normalized())
        .text(&display_name(email, name))
        .null()
        .text(at)
        .text(at)
        .end_row();
}

/// A membership row as `memberships::add` writes one: the effective role starts as the role.
fn membership(batch: &mut Batch, id: i64, org_id: i64, new: &NewMembership, at: &str) {
    batch
        .rows(Table::Memberships)
        .int(id)
        .int(org_id)
        .int(new.account_id.0)
        .text(new.role.as_str())
        .text(new.role.as_str())
        .text(new.status.as_str())
        .text(new.source.as_str())
        .text(at)
        .text(at)
        .end_row();
}

/// User `i` of `org` as `POST /Users` with `create-users`' body would have created it: its
/// account (matched by email; every generated email is new), its invited membership (suspended
/// when inactive), the user row and its email rows.
fn user(batch: &mut Batch, plan: &Plan, org: &OrgPlan, i: u64, at: &str) -> anyhow::Result<()> {
    let name = format!("{}{i}", org.prefix);
    let columns = new_user_columns(crate::user(&name))?;
    let derived = columns.derived();
    let offset = plan.user_offset(org, i);
    let user_id = plan.first.user + offset;
    let account_id = match account_email(&columns) {
        Some(email) => {
            let account_id = plan.first.account + offset;
            account(
                batch,
                account_id,
                &email,
                columns.display_name.as_deref(),
                at,
            );
            let invited = NewMembership {
                account_id: AccountId(account_id),
                role: plan.member_role.clone(),
                status: if columns.active {
                    MembershipStatus::Invited
                } else {
                    MembershipStatus::Suspended
                },
                source: MembershipSource::Scim,
            };
            membership(batch, plan.first.membership + offset, org.id, &invited, at);
            Some(account_id)
        }
        None => None,
    };
    let rows = batch.rows(Table::Users);
    rows.int(user_id).text(&new_uid()).int(org.id);
    match account_id {
        Some(id) => rows.int(id),
        None => rows.null(),
    };
    rows.text(&columns.user_name)
        .text(&derived.user_name_normalized)
        .opt(columns.external_id.as_deref())
        .boolean(columns.active)
        .opt(columns.given_name.as_deref())
        .opt(columns.family_name.as_deref())
        .opt(columns.display_name.as_deref())
        .opt(derived.primary_email.as_deref())
        .opt(derived.primary_email_normalized.as_deref())
        .text(&columns.resource)
        .text(&derived.search)
        .int(1)
        .text(at)
        .text(at)
        .end_row();
    let emails = batch.rows(Table::Emails);
    for email in &columns.emails {
        emails
            .int(org.id)
            .int(user_id)
            .opt(email.kind.as_deref())
            .text(&email.value)
            .text(&email.value_normalized())
            .boolean(email.primary)
            .end_row();
    }
    batch.users += 1;
    Ok(())
}

/// The columns of generated group `g`, as `POST /Groups` would store them (its members are
/// rows, never part of the resource).
fn group(g: u64) -> anyhow::Result<GroupColumns> {
    let body =
        json!({"schemas": [crate::GROUP_SCHEMA], "displayName": format!("Generated group {g}")});
    let resource = scim_core::normalize::normalize_resource(ResourceSchema::group(), body)?;
    Ok(group_columns(&resource)?)
}

/// An organization's groups, each with its members (member rows carry no display: the
/// `provision` scenario sends ids only).
fn groups(batch: &mut Batch, plan: &Plan, org: &OrgPlan) -> anyhow::Result<()> {
    // Pushed after the organization's users, as an IdP's first sync does.
    let at = timestamp(plan.created_at(org, org.users));
    for g in 0..plan.groups_per_org {
        let columns = group(g)?;
        let derived = columns.derived();
        let group_id = plan.group_id(org, g);
        batch
            .rows(Table::Groups)
            .int(group_id)
            .text(&new_uid())
            .int(org.id)
            .text(&columns.display_name)
            .text(&derived.display_name_normalized)
            .opt(columns.external_id.as_deref())
            .text(&columns.resource)
            .text(&derived.search)
            .int(1)
            .text(&at)
            .text(&at)
            .end_row();
        let members = batch.rows(Table::Members);
        for i in group_members(org.users, plan.groups_per_org, plan.members_per_group, g) {
            members
                .int(org.id)
                .int(group_id)
                .int(plan.first.user + plan.user_offset(org, i))
                .null()
                .text(&at)
                .end_row();
        }
    }
    Ok(())
}
