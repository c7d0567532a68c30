//! Installations: an organization's authorization of an IdP's OAuth client ("Authorize & Install").
//! The consent page creates one; every token issued through it points at it, so revoking it stops
//! them all. An active installation is also one of the credentials that yield an [`OrgScope`].

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::installations::{self, Entity as Installations};
use crate::entity::organizations::Entity as Organizations;
use crate::ids::{AccountId, InstallationId, OauthClientId};
use crate::{OrgScope, StoreError, StoreResult};

/// An installation row.
pub type Installation = installations::Model;

/// What the consent page records when an Owner/Admin approves.
#[derive(Debug, Clone)]
pub struct NewInstallation {
    /// The OAuth client's internal id.
    pub client_id: OauthClientId,
    /// The approving account's internal id.
    pub approved_by: AccountId,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// The version of the terms the admin accepted.
    pub terms_version: String,
    /// The approving browser's address.
    pub ip: Option<String>,
    /// The approving browser's user agent (truncated).
    pub user_agent: Option<String>,
}

/// Records an approval for the organization.
pub async fn create(
    conn: &impl Conn,
    scope: &OrgScope,
    new: NewInstallation,
) -> StoreResult<Installation> {
    let row = installations::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        client_id: Set(new.client_id),
        approved_by: Set(Some(new.approved_by)),
        scopes: Set(new.scopes),
        terms_version: Set(new.terms_version),
        ip: Set(new.ip),
        user_agent: Set(new.user_agent.map(|ua| ua.chars().take(512).collect())),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    Ok(Installations::insert(row)
        .exec_with_returning(conn.raw())
        .await?)
}

/// The organization's installations, newest first.
pub async fn list(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Vec<Installation>> {
    Ok(scope
        .select::<Installations>()
        .order_by_desc(installations::Column::Id)
        .all(conn.raw())
        .await?)
}

/// One installation of the organization by its public UID.
pub async fn get(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<Installation> {
    scope
        .select::<Installations>()
        .filter(installations::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("installation"))
}

/// Marks an installation revoked (idempotent). The caller also revokes its refresh tokens and
/// publishes the revocation to the key-value store so every replica stops its access tokens.
pub async fn revoke(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<Installation> {
    let existing = get(conn, scope, uid).await?;
    if existing.revoked_at.is_some() {
        return Ok(existing);
    }
    let mut row: installations::ActiveModel = existing.into();
    row.revoked_at = Set(Some(now()));
    Ok(scope.update(row)?.exec(conn.raw()).await?)
}

/// An installation that is not revoked, by UID, whatever its organization (the token endpoint
/// looks it up from a code or refresh token it already trusts).
pub async fn find_active(conn: &impl Conn, uid: &str) -> StoreResult<Option<Installation>> {
    Ok(Installations::find()
        .filter(installations::Column::Uid.eq(uid))
        .filter(installations::Column::RevokedAt.is_null())
        .one(conn.raw())
        .await?)
}

/// An installation by internal id, revoked or not.
pub async fn find_by_id(conn: &impl Conn, id: InstallationId) -> StoreResult<Option<Installation>> {
    Ok(Installations::find_by_id(id).one(conn.raw()).await?)
}

/// The scope an OAuth access token proves: the installation must be active and belong to the
/// organization `org_uid` names. `None` for anything else (answered alike by the caller).
pub async fn authenticate(
    conn: &impl Conn,
    installation_uid: &str,
    org_uid: &str,
) -> StoreResult<Option<InstallationPrincipal>> {
    let Some(installation) = find_active(conn, installation_uid).await? else {
        return Ok(None);
    };
    let Some(org) = Organizations::find_by_id(installation.org_id)
        .one(conn.raw())
        .await?
    else {
        return Ok(None);
    };
    Ok((org.uid == org_uid).then(|| InstallationPrincipal {
        scope: OrgScope::new(org.id, org.uid),
        scim_enabled: org.scim_enabled,
        installation_id: installation.id,
        last_used_at: installation.last_used_at,
    }))
}

/// What an active installation proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationPrincipal {
    /// Its organization.
    pub scope: OrgScope,
    /// Whether that organization has SCIM enabled (read with the installation).
    pub scim_enabled: bool,
    /// The installation's row id.
    pub installation_id: InstallationId,
    /// When its use was last written.
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Writes an installation's `last_used_at` (its access tokens reached SCIM and were accepted).
pub async fn record_use(
    conn: &impl Conn,
    id: InstallationId,
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    Installations::update_many()
        .col_expr(
            installations::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(installations::Column::Id.eq(id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Whether an installation's refresh tokens still work, by installation: `Some(false)` when it
/// has refresh tokens and every one is revoked (a family revoked after reuse, or by the IdP),
/// `None` when no code was redeemed yet.
pub async fn token_families_alive(
    conn: &impl Conn,
    scope: &OrgScope,
    ids: &[InstallationId],
) -> StoreResult<std::collections::HashMap<InstallationId, bool>> {
    use crate::entity::refresh_tokens::{self, Entity as RefreshTokens};
    let rows = scope
        .select::<RefreshTokens>()
        .filter(refresh_tokens::Column::InstallationId.is_in(ids.iter().copied()))
        .all(conn.raw())
        .await?;
    let mut alive = std::collections::HashMap::new();
    for row in rows {
        let live = row.revoked_at.is_none();
        let entry = alive.entry(row.installation_id).or_insert(false);
        *entry |= live;
    }
    Ok(alive)
}

/// The organization an installation belongs to.
pub async fn organization(
    conn: &impl Conn,
    installation: &Installation,
) -> StoreResult<Option<crate::repo::organizations::Organization>> {
    Ok(Organizations::find_by_id(installation.org_id)
        .one(conn.raw())
        .await?)
}

/// Revocation-set key of an installation: the token service checks it on every access token, the
/// console and the CLI write it.
pub fn revocation_key(uid: &str) -> String {
    format!("inst:{uid}")
}
