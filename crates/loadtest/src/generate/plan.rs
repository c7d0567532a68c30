//! What the generator writes: every organization with its users' name prefix and number, and
//! the id every row gets. Id ranges are reserved from the tables' sequences before anything is
//! written, so rows that point at each other (a user at its account, an email at its user, a
//! member at its group) come out of parallel producers without asking the database anything.

use chrono::{DateTime, Duration, Utc};
use store::types::OrgRole;

/// Users per unit of work: a few hundred kilobytes of rows per table.
const USERS_PER_WORK: u64 = 1000;

/// An organization created beforehand (with its token, through `scimgate admin`) that the
/// generator fills: the organizations a benchmark measures.
#[derive(Debug, Clone)]
pub struct MeasuredOrg {
    /// Its public id.
    pub uid: String,
    /// Its users are `{prefix}0`, `{prefix}1`, … as `loadtest create-users --prefix` names them.
    pub prefix: String,
    /// How many users it gets.
    pub users: u64,
}

/// An organization the generator creates, with an Owner who has not accepted yet.
#[derive(Debug, Clone)]
pub struct NewOrg {
    /// Public id.
    pub uid: String,
    /// Name.
    pub name: String,
    /// The Owner's email.
    pub owner_email: String,
    /// The Owner's account id.
    pub owner_account_id: i64,
    /// The Owner's membership id.
    pub owner_membership_id: i64,
}

/// One organization of the plan.
#[derive(Debug, Clone)]
pub struct OrgPlan {
    /// Row id.
    pub id: i64,
    /// `Some` when the generator creates it; `None` for a measured one, which exists.
    pub new: Option<NewOrg>,
    /// Its users' names start with this.
    pub prefix: String,
    /// How many users it gets.
    pub users: u64,
    /// The index (over every generated user) of its first user: its users' ids follow from it.
    pub first_user: u64,
    /// Its position in the plan: its groups' ids follow from it.
    pub index: u64,
}

/// The first id of each reserved range.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstIds {
    pub organization: i64,
    pub account: i64,
    pub membership: i64,
    pub user: i64,
    pub group: i64,
}

/// A unit of work for one producer.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// A new organization's row and its Owner.
    Organization { org: usize },
    /// Users `from..to` of an organization, with their accounts, memberships and emails.
    Users { org: usize, from: u64, to: u64 },
    /// An organization's groups and their members.
    Groups { org: usize },
}

/// Everything the producers need.
#[derive(Debug)]
pub struct Plan {
    pub orgs: Vec<OrgPlan>,
    pub first: FirstIds,
    pub total_users: u64,
    pub groups_per_org: u64,
    pub members_per_group: u64,
    /// The home region of the organizations created here.
    pub region: String,
    /// The role provisioning gives (the catalog's least privileged organization role).
    pub member_role: OrgRole,
    /// When the generation started: the last user was created then, each earlier one a
    /// millisecond before the next, as an import of ~1,000 users/s would have made them.
    pub started: DateTime<Utc>,
    pub work: Vec<Work>,
}

/// How many rows the plan writes that take an id from each sequence.
#[derive(Debug, Clone, Copy)]
pub struct IdsNeeded {
    pub organizations: u64,
    pub accounts: u64,
    pub memberships: u64,
    pub users: u64,
    pub groups: u64,
}

/// Organizations and user counts before ids are known.
#[derive(Debug)]
pub struct Shape {
    /// (row id, prefix, users) of the measured organizations.
    pub measured: Vec<(i64, String, u64)>,
    /// How many organizations the generator creates, and their users in total.
    pub new_orgs: u64,
    pub new_org_users: u64,
    pub groups_per_org: u64,
    pub members_per_group: u64,
}

impl Shape {
    /// Total generated users.
    pub fn total_users(&self) -> u64 {
        self.new_org_users + self.measured.iter().map(|(_, _, n)| n).sum::<u64>()
    }

    /// Ids the plan takes from each sequence.
    pub fn ids_needed(&self) -> IdsNeeded {
        let users = self.total_users();
        let orgs = self.new_orgs + self.measured.len() as u64;
        IdsNeeded {
            organizations: self.new_orgs,
            accounts: users + self.new_orgs,
            memberships: users + self.new_orgs,
            users,
            groups: orgs * self.groups_per_org,
        }
    }

    /// The plan, with ids from `first`.
    pub fn plan(
        self,
        first: FirstIds,
        region: String,
        member_role: OrgRole,
        uid: impl Fn() -> String,
    ) -> Plan {
        let total_users = self.total_users();
        let mut orgs = Vec::new();
        let mut next_user = 0;
        for (id, prefix, users) in &self.measured {
            orgs.push(OrgPlan {
                id: *id,
                new: None,
                prefix: prefix.clone(),
                users: *users,
                first_user: next_user,
                index: orgs.len() as u64,
            });
            next_user += users;
        }
        for k in 0..self.new_orgs {
            // The remainder goes to the first organizations, one user each.
            let users = self.new_org_users / self.new_orgs
                + u64::from(k < self.new_org_users % self.new_orgs);
            let offset = i64::try_from(k).unwrap_or(i64::MAX);
            let owner = i64::try_from(total_users).unwrap_or(i64::MAX) + offset;
            orgs.push(OrgPlan {
                id: first.organization + offset,
                new: Some(NewOrg {
                    uid: uid(),
                    name: format!("Generated organization {k}"),
                    owner_email: format!("owner@gen-{k}.load.example"),
                    owner_account_id: first.account + owner,
                    owner_membership_id: first.membership + owner,
                }),
                prefix: format!("gen{k}-"),
                users,
                first_user: next_user,
                index: orgs.len() as u64,
            });
            next_user += users;
        }
        let work = work_units(&orgs);
        Plan {
            orgs,
            first,
            total_users,
            groups_per_org: self.groups_per_org,
            members_per_group: self.members_per_group,
            region,
            member_role,
            started: Utc::now(),
            work,
        }
    }
}

/// New organizations first (every row pointing at one comes after it in the streams), then each
/// organization's users in order, then its groups.
fn work_units(orgs: &[OrgPlan]) -> Vec<Work> {
    let mut work: Vec<Work> = (0..orgs.len())
        .filter(|&org| orgs[org].new.is_some())
        .map(|org| Work::Organization { org })
        .collect();
    for (org, plan) in orgs.iter().enumerate() {
        let mut from = 0;
        while from < plan.users {
            let to = (from + USERS_PER_WORK).min(plan.users);
            work.push(Work::Users { org, from, to });
            from = to;
        }
        work.push(Work::Groups { org });
    }
    work
}

fn offset(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Plan {
    /// Id of the `i`th user of `org` (its account and membership are the same offset into their
    /// ranges).
    pub fn user_offset(&self, org: &OrgPlan, i: u64) -> i64 {
        offset(org.first_user + i)
    }

    /// Id of the `g`th group of `org`.
    pub fn group_id(&self, org: &OrgPlan, g: u64) -> i64 {
        self.first.group + offset(org.index * self.groups_per_org + g)
    }

    /// When the `i`th user of `org` was created.
    pub fn created_at(&self, org: &OrgPlan, i: u64) -> DateTime<Utc> {
        self.started - Duration::milliseconds(offset(self.total_users - (org.first_user + i)))
    }
}

/// The users of group `g` of an organization with `users` users: `members` consecutive users
/// (wrapping around) from g × (users / groups), as the `provision` scenario makes them, so every
/// user is in about `groups × members / users` groups.
pub fn group_members(users: u64, groups: u64, members: u64, g: u64) -> impl Iterator<Item = u64> {
    let stride = users.checked_div(groups).unwrap_or(0).max(1);
    let count = members.min(users);
    (0..count).map(move |j| (g * stride + j) % users.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            measured: vec![(7, "load".into(), 5)],
            new_orgs: 3,
            new_org_users: 8,
            groups_per_org: 2,
            members_per_group: 4,
        }
    }

    #[test]
    fn ids_cover_every_row_once() {
        let shape = shape();
        let needed = shape.ids_needed();
        assert_eq!(needed.users, 13);
        assert_eq!(
            needed.accounts, 16,
            "one account per user and per new Owner"
        );
        assert_eq!(needed.groups, 8);
        let first = FirstIds {
            organization: 100,
            account: 1000,
            membership: 2000,
            user: 3000,
            group: 4000,
        };
        let plan = shape.plan(first, "local".into(), OrgRole::owner(), || "uid".into());
        let users: Vec<u64> = plan.orgs.iter().map(|o| o.users).collect();
        assert_eq!(
            users,
            [5, 3, 3, 2],
            "the remainder goes to the first new ones"
        );
        let firsts: Vec<u64> = plan.orgs.iter().map(|o| o.first_user).collect();
        assert_eq!(firsts, [0, 5, 8, 11]);
        let owners: Vec<i64> = plan
            .orgs
            .iter()
            .filter_map(|o| o.new.as_ref().map(|n| n.owner_account_id))
            .collect();
        assert_eq!(owners, [1013, 1014, 1015], "after the users' accounts");
        let last = &plan.orgs[3];
        assert_eq!(plan.user_offset(last, 1), 12);
        assert_eq!(plan.group_id(last, 1), 4007);
        assert_eq!(plan.orgs[1].id, 100);
        assert!(plan.created_at(&plan.orgs[0], 0) < plan.created_at(last, 1));
    }

    #[test]
    fn group_members_wrap_within_the_organization() {
        let members: Vec<u64> = group_members(5, 2, 4, 1).collect();
        assert_eq!(members, [2, 3, 4, 0]);
        assert_eq!(
            group_members(3, 10, 100, 9).count(),
            3,
            "never more than the users"
        );
        assert_eq!(group_members(0, 2, 4, 1).count(), 0);
    }
}
