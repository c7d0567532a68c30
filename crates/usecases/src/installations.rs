//! Installations: an organization's authorization of an IdP's OAuth client. "Authorize & Install"
//! records one and issues the single-use code the IdP redeems; revoking one stops its tokens on
//! every replica at once.

use serde_json::json;
use store::OrgScope;
use store::grants::{self, CodeGrant};
use store::repo::installations::{self, Installation, NewInstallation};
use store::repo::oauth_clients::OauthClient;
use store::repo::{organizations, refresh_tokens};

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// True for a PKCE S256 challenge (RFC 7636 §4.2): base64url of 32 bytes, 43 characters, no
/// padding. The only kind of challenge a code may be bound to.
pub fn valid_code_challenge(value: &str) -> bool {
    use base64::Engine;
    value.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|b| b.len() == 32)
}

/// An approved authorization request, as the consent page validated it.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (then the token request must).
    pub redirect_uri_given: bool,
    /// The S256 PKCE challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// The approving browser's user agent.
    pub user_agent: Option<String>,
}

/// The outcome of an approval: the installation and the code to send the IdP back with.
#[derive(Debug)]
pub struct Authorized {
    /// The recorded installation.
    pub installation: Installation,
    /// The single-use authorization code.
    pub code: String,
}

/// Records an Owner's or Admin's approval of `client` for the organization and issues the code.
/// The code is issued before the installation commits: if the key-value store fails nothing is
/// recorded, and a code whose installation failed to commit redeems to nothing.
pub async fn authorize(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    client: &OauthClient,
    approval: Approval,
) -> Result<Authorized> {
    let approved_by = actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only a signed-in account can authorize an IdP".into()))?;
    let mut unit = Unit::begin(core, actor).await?;
    let org = organizations::get(unit.conn(), scope).await?;
    if !org.scim_enabled {
        return Err(Error::Forbidden(format!(
            "SCIM is not enabled for {}; enable it in the organization's SCIM settings first",
            org.name
        )));
    }
    let installation = installations::create(
        unit.conn(),
        scope,
        NewInstallation {
            client_id: client.id,
            approved_by,
            scopes: approval.scopes.clone(),
            terms_version: core.settings().terms_version.clone(),
            ip: actor.ip.clone(),
            user_agent: approval.user_agent,
        },
    )
    .await?;
    unit.emit(Event::new(
        EventType::InstallationCreated,
        Subject::new("installation", installation.uid.clone()),
        json!({"id": installation.uid, "client_id": client.client_id, "client_name": client.name,
            "scopes": approval.scopes}),
    ));
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: approval.redirect_uri,
        redirect_uri_given: approval.redirect_uri_given,
        code_challenge: approval.code_challenge,
        org_uid: org.uid.clone(),
        installation_uid: installation.uid.clone(),
        scopes: approval.scopes.clone(),
        family_id: store::secret::random_token(16),
    };
    let settings = core.settings();
    let code = grants::issue(
        core.kv().as_ref(),
        &settings.region,
        &grant,
        settings.code_ttl,
    )
    .await?;
    let audit = Audit::new(
        "installation.created",
        "installation",
        &installation.uid,
        json!({"client_id": client.client_id, "client_name": client.name,
            "scopes": approval.scopes, "terms_version": installation.terms_version}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(Authorized { installation, code })
}

/// Revokes an installation everywhere: the row and its refresh tokens (in one transaction with
/// the audit row and event), then — through the key-value store's revocation set, for longer
/// than an access token lives — every access token issued for it, on every replica.
pub async fn revoke(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    uid: &str,
) -> Result<Installation> {
    let mut unit = Unit::begin(core, actor).await?;
    let before = installations::get(unit.conn(), scope, uid).await?;
    let installation = installations::revoke(unit.conn(), scope, uid).await?;
    refresh_tokens::revoke_installation(unit.conn(), installation.id).await?;
    // On the revocation list with the change itself; cached for verifications once committed.
    let key = installations::revocation_key(uid);
    store::revocations::record(unit.conn(), &key, core.revocation_ttl()).await?;
    if before.revoked_at.is_none() {
        unit.emit(Event::new(
            EventType::InstallationRevoked,
            Subject::new("installation", installation.uid.clone()),
            json!({"id": installation.uid}),
        ));
    }
    unit.commit(
        Some(scope),
        Audit::new("installation.revoked", "installation", uid, json!({})),
    )
    .await?;
    store::revocations::cache(core.kv(), &key, core.revocation_ttl()).await?;
    store::credential_cache::announce(core.kv(), scope.org_uid()).await?;
    Ok(installation)
}
