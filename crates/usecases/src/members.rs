//! An organization's members added, changed and removed by hand (console, CLI, management API),
//! under the rules that hold for every caller: the organization always keeps an active Owner.

use serde_json::json;
use store::OrgScope;
use store::repo::accounts::{self, Account};
use store::repo::role_catalog;
use store::repo::memberships::{self, Membership, NewMembership};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Result};

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
    .await?;
    let kind = if status == MembershipStatus::Invited {
        EventType::MembershipInvited
    } else {
        EventType::MembershipActivated
    };
    unit.emit(Event::new(
        kind,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "role": new.role.as_str(),
            "status": status.as_str(), "source": MembershipSource::Manual.as_str()}),
    ));
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
