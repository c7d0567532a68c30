//! Portal links: what the SaaS backend hands its customer's IT admin (who has no account) to
//! configure SCIM for one organization. Creating one is audited; redeeming it starts a session
//! limited to that organization's SCIM settings, and everything done in it is audited with the
//! link's id.

use chrono::{DateTime, Utc};
use serde_json::json;
use store::OrgScope;
use store::repo::audit::{self, AuditEntry};
use store::repo::portal_links::{self, IssuedLink, Redeemed};

use crate::unit::{Audit, Unit};
use crate::{Actor, ActorKind, Core, Error, Result};

/// Longest a link may stay valid.
pub const MAX_LINK_MINUTES: i64 = 60;

/// Creates a link into the organization's SCIM settings, valid for `minutes`.
pub async fn create(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    minutes: i64,
    return_url: Option<&str>,
) -> Result<IssuedLink> {
    if !(1..=MAX_LINK_MINUTES).contains(&minutes) {
        return Err(Error::Invalid(format!(
            "a portal link is valid for 1 to {MAX_LINK_MINUTES} minutes"
        )));
    }
    if let Some(url) = return_url {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::Invalid(format!("return_url is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") || url.len() > 2048 {
            return Err(Error::Invalid(
                "return_url must be an http(s) URL of at most 2048 characters".into(),
            ));
        }
    }
    let expires_at: DateTime<Utc> = Utc::now() + chrono::Duration::minutes(minutes);
    let unit = Unit::begin(core, actor).await?;
    let issued =
        portal_links::create(unit.conn(), scope, actor.id(), expires_at, return_url).await?;
    unit.commit(
        Some(scope),
        Audit::new(
            "portal_link.created",
            "portal_link",
            &issued.row.uid,
            json!({"expires_at": issued.row.expires_at}),
        ),
    )
    .await?;
    Ok(issued)
}

/// Redeems a link (single use). A granted link's redemption is audited in the same transaction,
/// with the link as the actor, from the request `request_id` / `ip`.
pub async fn redeem(
    core: &Core,
    token: &str,
    request_id: Option<String>,
    ip: Option<String>,
) -> Result<Redeemed> {
    let txn = store::db::begin_write(core.db()).await?;
    let redeemed = portal_links::redeem(&txn, token).await?;
    if let Redeemed::Granted {
        link_uid, org_uid, ..
    } = &redeemed
    {
        let scope = portal_links::session_scope(&txn, link_uid, org_uid)
            .await?
            .ok_or_else(|| Error::NotFound("the organization of this link is gone".into()))?;
        let actor = Actor::new(ActorKind::PortalLink(link_uid.clone())).in_request(request_id, ip);
        let entry = AuditEntry {
            actor_type: actor.type_name(),
            actor_id: actor.id().to_owned(),
            action: "portal_link.redeemed",
            resource_type: "portal_link",
            resource_id: Some(link_uid.clone()),
            request_id: actor.request_id.clone(),
            ip: actor.ip.clone(),
            detail: json!({}),
        };
        audit::record(&txn, Some(&scope), entry, &[]).await?;
    }
    txn.commit().await?;
    Ok(redeemed)
}

/// The scope a portal session proves for `org_uid`, if its link still opens it.
pub async fn session_scope(core: &Core, link_uid: &str, org_uid: &str) -> Result<Option<OrgScope>> {
    Ok(portal_links::session_scope(core.db(), link_uid, org_uid).await?)
}
