//! Organizations: creation with a first Owner, and the SCIM switch.

use serde_json::json;
use store::OrgScope;
use store::repo::accounts::{self, Account};
use store::repo::memberships::{self, NewMembership};
use store::repo::organizations::{self, Organization};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// What creating an organization needs.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Its name.
    pub name: String,
    /// The first Owner's email: an existing account is linked, else one is created.
    pub owner_email: String,
    /// How the first Owner gets in.
    pub owner_access: OwnerAccess,
}

/// How a new organization's first Owner gets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerAccess {
    /// A new account gets this password (refused for an existing account, whose password is
    /// never changed here).
    Password(String),
    /// A new account gets a generated password, returned once (the operator's CLI, the demo).
    GeneratedPassword,
    /// A new account has no password: the Owner is invited and sets one on accepting (the
    /// management API). An existing account with a password is active at once.
    Invitation,
}

/// A created organization.
#[derive(Debug, Clone)]
pub struct CreatedOrganization {
    /// The organization.
    pub organization: Organization,
    /// Its first Owner's account.
    pub owner: Account,
    /// The Owner membership's status (active, or invited).
    pub owner_status: MembershipStatus,
    /// A generated password, shown once.
    pub generated_password: Option<String>,
}

/// Creates an organization in this region, owned by `new.owner_email`.
pub async fn create(
    core: &Core,
    actor: &Actor,
    new: NewOrganization,
) -> Result<CreatedOrganization> {
    let email = Email::parse(&new.owner_email)?;
    let mut unit = Unit::begin(core, actor).await?;
    let (org, scope) =
        organizations::create(unit.conn(), &new.name, &core.settings().region).await?;
    let existing = accounts::find_by_email(unit.conn(), &email).await?;
    let (account, generated) = match (existing, &new.owner_access) {
        (Some(_), OwnerAccess::Password(_)) => {
            return Err(Error::Invalid(format!(
                "{email} already has an account; its password is not changed here"
            )));
        }
        (Some(existing), _) => (existing, None),
        (None, OwnerAccess::Password(password)) => (
            accounts::create(unit.conn(), &email, None, Some(password)).await?,
            None,
        ),
        (None, OwnerAccess::GeneratedPassword) => {
            let password = store::secret::random_token(18);
            let account = accounts::create(unit.conn(), &email, None, Some(&password)).await?;
            (account, Some(password))
        }
        (None, OwnerAccess::Invitation) => (
            accounts::create(unit.conn(), &email, None, None).await?,
            None,
        ),
    };
    let status = if account.password_hash.is_some() {
        MembershipStatus::Active
    } else {
        MembershipStatus::Invited
    };
    let owner = NewMembership {
        account_id: account.id,
        role: OrgRole::owner(),
        status,
        source: MembershipSource::Manual,
    };
    memberships::add(unit.conn(), &scope, owner).await?;
    unit.emit(Event::new(
        EventType::OrganizationCreated,
        Subject::new("organization", org.uid.clone()),
        json!({"id": org.uid, "name": org.name, "region": org.home_region}),
    ));
    let membership_kind = if status == MembershipStatus::Invited {
        EventType::MembershipInvited
    } else {
        EventType::MembershipActivated
    };
    unit.emit(Event::new(
        membership_kind,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "role": OrgRole::OWNER,
            "status": status.as_str(), "source": MembershipSource::Manual.as_str()}),
    ));
    let audit = Audit::new(
        "organization.created",
        "organization",
        &org.uid,
        json!({"name": org.name, "owner": account.uid}),
    );
    unit.commit(Some(&scope), audit).await?;
    Ok(CreatedOrganization {
        organization: org,
        owner: account,
        owner_status: status,
        generated_password: generated,
    })
}

/// Turns SCIM on or off for the organization. Off keeps every token, user and group: SCIM
/// requests are refused until it is turned on again, on every replica at once (the change is
/// announced to their credential caches).
pub async fn set_scim_enabled(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    enabled: bool,
) -> Result<Organization> {
    let mut unit = Unit::begin(core, actor).await?;
    let org = organizations::set_scim_enabled(unit.conn(), scope, enabled).await?;
    let (action, kind) = if enabled {
        ("scim.enabled", EventType::ScimEnabled)
    } else {
        ("scim.disabled", EventType::ScimDisabled)
    };
    unit.emit(Event::new(
        kind,
        Subject::new("organization", org.uid.clone()),
        json!({"organization_id": org.uid, "scim_enabled": enabled}),
    ));
    unit.commit(
        Some(scope),
        Audit::new(action, "organization", &org.uid, json!({})),
    )
    .await?;
    store::credential_cache::announce(core.kv(), scope.org_uid()).await?;
    Ok(org)
}

/// What an organization update asks for.
pub use store::repo::organizations::OrganizationChanges;

fn organization_data(org: &Organization) -> serde_json::Value {
    json!({"id": org.uid, "name": org.name, "region": org.home_region,
        "scim_enabled": org.scim_enabled, "invitations_enabled": org.invitations_enabled})
}

/// Changes an organization's name or settings. `expected` is the `updated_at` the caller read
/// (its ETag): when someone changed the organization since, nothing is written.
pub async fn update(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    changes: &OrganizationChanges,
    expected: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Organization> {
    let mut unit = Unit::begin(core, actor).await?;
    let before = organizations::get(unit.conn(), scope).await?;
    let org = organizations::update(unit.conn(), scope, changes, expected)
        .await
        .map_err(|e| match e {
            store::StoreError::VersionMismatch => Error::PreconditionFailed(
                "the organization changed since it was read (If-Match); read it again".into(),
            ),
            other => other.into(),
        })?;
    let previous =
        crate::events::changed_attributes(&organization_data(&before), &organization_data(&org));
    if !previous.is_empty() {
        unit.emit(
            Event::new(
                EventType::OrganizationUpdated,
                Subject::new("organization", org.uid.clone()),
                organization_data(&org),
            )
            .with_previous(serde_json::Value::Object(previous)),
        );
    }
    unit.commit(
        Some(scope),
        Audit::new(
            "organization.updated",
            "organization",
            &org.uid,
            json!({"name": org.name, "invitations_enabled": org.invitations_enabled}),
        ),
    )
    .await?;
    Ok(org)
}

/// Deletes an organization: memberships, SCIM users and groups, mappings, tokens, connected IdPs
/// and stacks go; accounts stay. `confirm` must be the organization's id — a request cannot
/// delete an organization by accident. Its tokens stop working on every replica at once.
pub async fn delete(core: &Core, actor: &Actor, scope: &OrgScope, confirm: &str) -> Result<()> {
    if confirm != scope.org_uid() {
        return Err(Error::Invalid(
            "to delete an organization, confirm with its id".into(),
        ));
    }
    let mut unit = Unit::begin(core, actor).await?;
    let org = organizations::delete(unit.conn(), scope).await?;
    unit.emit(Event::new(
        EventType::OrganizationDeleted,
        Subject::new("organization", org.uid.clone()),
        json!({"id": org.uid, "name": org.name}),
    ));
    unit.commit(
        Some(scope),
        Audit::new(
            "organization.deleted",
            "organization",
            &org.uid,
            json!({"name": org.name}),
        ),
    )
    .await?;
    store::credential_cache::announce(core.kv(), scope.org_uid()).await?;
    Ok(())
}
