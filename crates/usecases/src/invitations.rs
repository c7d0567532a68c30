//! Invitations: the email a person receives when they are added to an organization, and the link
//! in it that makes their membership active.
//!
//! - **Queued with the change.** Every unit of work that emits `membership.invited` (SCIM create,
//!   an API or console invite, a new Owner) — or restores a membership that was never accepted —
//!   records an invitation in the same transaction ([`follow_events`], called by the unit's
//!   commit), so no path that invites can forget to, and a crash cannot lose one. Suspending or
//!   removing the membership revokes its open invitations in the same way.
//! - **Sent by any replica.** [`send_due`] leases due invitations (a lease that runs out is taken
//!   over), makes each attempt's link token, sends through SMTP, and records `invitation.sent`, a
//!   retry with backoff (the server answered 4xx or did not answer) or `invitation.failed` (5xx,
//!   or the retries ran out). Per-organization and per-deployment rates keep a 100,000-user
//!   import from flooding anyone's mailbox or the mail server.
//! - **Accepted once.** [`open`] tells the acceptance page what a link is; [`accept`] makes the
//!   membership active (setting the person's first password, or with their password or session),
//!   records `membership.activated`, and retires the link. A suspended or removed membership, an
//!   expired, used or replaced link grant nothing.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use store::OrgScope;
use store::db::Transaction;
use store::ids::{AccountId, InvitationId};
use store::ratelimit::{self, Limit};
use store::repo::events::NewEvent;
use store::repo::invitations::{
    self, Claimed, Invitation, InvitationStatus, NewInvitation, Outcome,
};
use store::repo::{accounts, api_tokens, installations, memberships, oauth_clients, organizations};
use store::types::MembershipStatus;

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, ActorKind, Core, Error, Result};

/// How invitations are sent, from the deployment's configuration.
#[derive(Debug, Clone)]
pub struct InvitationSettings {
    /// Whether this deployment sends email at all (`email.smtp_url` is set). Without it,
    /// invitations are recorded as not sent and the change feed is the only announcement.
    pub email_enabled: bool,
    /// How long a link works after it is sent.
    pub link_ttl: chrono::Duration,
    /// Attempts before a transient failure becomes `invitation.failed`.
    pub max_attempts: i32,
    /// The first retry's delay; each next one doubles, up to an hour.
    pub retry_base: Duration,
    /// How long a sender holds an invitation before another replica may take it over; longer
    /// than one SMTP attempt may take.
    pub lease: Duration,
    /// Emails per minute per organization (0: no limit).
    pub per_organization_per_minute: u64,
    /// Emails per minute for the whole deployment (0: no limit).
    pub per_deployment_per_minute: u64,
    /// Resends of one person's invitation per hour (console, API, the expired-link page).
    pub resends_per_hour: u64,
}

/// What sends the emails: the SMTP client, where links point, how the product looks.
#[derive(Debug, Clone)]
pub struct Postman {
    /// The SMTP client.
    pub mailer: mailer::Mailer,
    /// The base URL of this region's pages: links are `{accept_base_url}/invitations/{token}`.
    pub accept_base_url: String,
    /// How the product presents itself in the email.
    pub branding: mailer::Branding,
}

impl Default for InvitationSettings {
    fn default() -> Self {
        Self {
            email_enabled: false,
            link_ttl: chrono::Duration::days(7),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            lease: Duration::from_secs(120),
            per_organization_per_minute: 60,
            per_deployment_per_minute: 600,
            resends_per_hour: 5,
        }
    }
}

/// The account an event is about (`data.account_id`), for membership events.
fn account_uid(event: &NewEvent) -> Option<&str> {
    event.payload.get("account_id").and_then(Value::as_str)
}

/// Who invited, as stored (`type:id`): the email's phrase is made from it when it is sent.
fn invited_by(actor: &Actor) -> String {
    format!("{}:{}", actor.type_name(), actor.id())
}

/// Queues an invitation for each membership this change invited (or restored while never
/// accepted) and revokes the open invitations of each it suspended or removed. Runs in the
/// change's transaction, from [`Unit::commit`].
/// Returns how many invitations it queued for sending.
pub(crate) async fn follow_events(
    txn: &Transaction,
    scope: &OrgScope,
    actor: &Actor,
    events: &[NewEvent],
    settings: &InvitationSettings,
) -> Result<usize> {
    let mut invite = Vec::new();
    let mut revoke = Vec::new();
    for event in events {
        let status = event.payload.get("status").and_then(Value::as_str);
        let Some(uid) = account_uid(event) else {
            continue;
        };
        match EventType::parse(event.kind) {
            Some(EventType::MembershipInvited) if status != Some("suspended") => invite.push(uid),
            Some(EventType::MembershipRestored) if status == Some("invited") => invite.push(uid),
            Some(EventType::MembershipSuspended | EventType::MembershipRemoved) => revoke.push(uid),
            _ => {}
        }
    }
    if invite.is_empty() && revoke.is_empty() {
        return Ok(0);
    }
    let mut seen = HashSet::new();
    let mut queued = 0;
    for uid in invite {
        if !seen.insert(uid) {
            continue;
        }
        // Queued when the deployment has email and the organization sends invitations, else
        // only recorded; the account and the organization's switch are read by the insert
        // itself (nothing is recorded for an unknown uid).
        let status = invitations::queue_for_account_uid(
            txn,
            scope,
            uid,
            invited_by(actor),
            settings.email_enabled,
        )
        .await?;
        if status == Some(InvitationStatus::Queued) {
            queued += 1;
        }
    }
    for uid in revoke {
        invitations::revoke_open_of_account_uid(txn, scope, uid).await?;
    }
    Ok(queued)
}

/// What one sending pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendPass {
    /// Emails the mail server accepted.
    pub sent: usize,
    /// Attempts that will be retried.
    pub retrying: usize,
    /// Invitations that failed for good.
    pub failed: usize,
    /// Whether the deployment's rate stopped the pass (the next is due when its window ends).
    pub rate_limited: bool,
}

impl SendPass {
    /// Attempts made.
    pub fn attempted(&self) -> usize {
        self.sent + self.retrying + self.failed
    }
}

/// How long to wait before attempt `attempts + 1`: the base, doubled per attempt, at most an hour.
fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let factor = 2u32.saturating_pow(u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(16));
    let delay = base.saturating_mul(factor).min(Duration::from_secs(3600));
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
}

/// Sends up to `limit` due invitations as `owner`, one at a time (each attempt is leased, so
/// replicas never send one invitation's attempt twice).
pub async fn send_due(
    core: &Core,
    postman: &Postman,
    owner: &str,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<SendPass> {
    let settings = &core.settings().invitations;
    let mut pass = SendPass::default();
    let deployment = Limit::per_minute(settings.per_deployment_per_minute);
    let organization = Limit::per_minute(settings.per_organization_per_minute);
    for due in invitations::due(core.db(), now, limit).await? {
        if let Err(wait) =
            ratelimit::check(core.kv().as_ref(), "invitations:deployment", deployment).await?
        {
            tracing::debug!(
                wait_secs = wait.as_secs(),
                "invitation rate of the deployment used up"
            );
            pass.rate_limited = true;
            break;
        }
        let org_key = format!("invitations:org:{}", due.org_id);
        if let Err(wait) = ratelimit::check(core.kv().as_ref(), &org_key, organization).await? {
            let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
            invitations::defer_organization(core.db(), due.org_id, now, until).await?;
            continue;
        }
        let lease_until = now + chrono::Duration::from_std(settings.lease).unwrap_or_default();
        let expires_at = now + settings.link_ttl;
        let Some(claimed) =
            invitations::claim(core.db(), &due, owner, now, lease_until, expires_at).await?
        else {
            continue;
        };
        match attempt(core, postman, &claimed, owner).await? {
            Attempted::Sent => pass.sent += 1,
            Attempted::Retrying => pass.retrying += 1,
            Attempted::Failed => pass.failed += 1,
            Attempted::LeaseLost => {}
        }
    }
    Ok(pass)
}

enum Attempted {
    Sent,
    Retrying,
    Failed,
    LeaseLost,
}

/// One attempt at one claimed invitation, and its record.
async fn attempt(
    core: &Core,
    postman: &Postman,
    claimed: &Claimed,
    owner: &str,
) -> Result<Attempted> {
    let settings = &core.settings().invitations;
    let invitation = &claimed.invitation;
    let email = mailer::Invitation {
        product: postman.branding.clone(),
        organization_name: claimed.organization.name.clone(),
        invited_by: invited_by_phrase(core, &claimed.scope, &claimed.organization.name, invitation)
            .await?,
        recipient_email: invitation.email.clone(),
        accept_url: accept_url(&postman.accept_base_url, &claimed.token),
        expires_at: invitation.expires_at.unwrap_or_else(Utc::now),
    };
    let outcome = match mailer::render_invitation(&email) {
        Err(e) => Outcome::Failed(format!("the invitation cannot be written: {e}")),
        Ok(mut message) => {
            // One Message-ID per attempt: a server that saw an attempt it then refused does not
            // drop the retry as a duplicate, and each accepted message is traceable to its row.
            message.message_id = Some(format!(
                "invitation.{}.{}",
                invitation.uid, invitation.attempts
            ));
            match postman.mailer.send(&message).await {
                Ok(_) => Outcome::Sent(Utc::now()),
                Err(e) if e.is_transient() && invitation.attempts < settings.max_attempts => {
                    Outcome::RetryAt(
                        Utc::now() + backoff(settings.retry_base, invitation.attempts),
                        e.to_string(),
                    )
                }
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    };
    let actor = Actor::system();
    let mut unit = Unit::begin(core, &actor).await?;
    if !invitations::record(unit.conn(), invitation.id, owner, &outcome).await? {
        unit.commit_unaudited().await?;
        return Ok(Attempted::LeaseLost);
    }
    let account_uid = accounts::find_by_id(unit.conn(), invitation.account_id)
        .await?
        .map(|a| a.uid)
        .unwrap_or_default();
    let subject = Subject::new("invitation", invitation.uid.clone());
    let (result, audit) = match &outcome {
        Outcome::Sent(_) => {
            unit.emit(Event::new(
                EventType::InvitationSent,
                subject,
                json!({"invitation_id": invitation.uid, "account_id": account_uid,
                    "email": invitation.email, "attempt": invitation.attempts}),
            ));
            (Attempted::Sent, "invitation.sent")
        }
        Outcome::RetryAt(at, error) => {
            tracing::info!(invitation = %invitation.uid, attempt = invitation.attempts, %error,
                retry_at = %at, "invitation email not accepted; will retry");
            (Attempted::Retrying, "invitation.deferred")
        }
        Outcome::Failed(error) => {
            tracing::warn!(invitation = %invitation.uid, %error, "invitation email failed");
            unit.emit(Event::new(
                EventType::InvitationFailed,
                subject,
                json!({"invitation_id": invitation.uid, "account_id": account_uid,
                    "email": invitation.email, "error": error}),
            ));
            (Attempted::Failed, "invitation.failed")
        }
    };
    let detail = match &outcome {
        Outcome::Sent(_) => json!({"attempt": invitation.attempts}),
        Outcome::RetryAt(at, error) => {
            json!({"attempt": invitation.attempts, "retry_at": at, "error": error})
        }
        Outcome::Failed(error) => json!({"attempt": invitation.attempts, "error": error}),
    };
    unit.commit(
        Some(&claimed.scope),
        Audit::new(audit, "invitation", &invitation.uid, detail),
    )
    .await?;
    Ok(result)
}

/// The acceptance link for `token`.
pub fn accept_url(base: &str, token: &str) -> String {
    format!("{}/invitations/{token}", base.trim_end_matches('/'))
}

/// "Okta, on behalf of Acme's IT": who invited, from the actor recorded with the invitation.
async fn invited_by_phrase(
    core: &Core,
    scope: &OrgScope,
    org_name: &str,
    invitation: &Invitation,
) -> Result<String> {
    let Some((kind, id)) = invitation.invited_by.split_once(':') else {
        return Ok(String::new());
    };
    let it = format!("{org_name}'s IT");
    Ok(match kind {
        "installation" => match installations::get(core.db(), scope, id).await {
            Ok(installation) => {
                match oauth_clients::find_by_id(core.db(), installation.client_id).await? {
                    Some(client) => format!("{}, on behalf of {it}", client.name),
                    None => it,
                }
            }
            Err(_) => it,
        },
        "api_token" => match api_tokens::get(core.db(), scope, id).await {
            Ok(token) => format!("{it} (identity provider “{}”)", token.name),
            Err(_) => it,
        },
        "account" => match accounts::find_by_uid(core.db(), id).await? {
            Some(account) if !account.name.trim().is_empty() => {
                format!("{} ({})", account.name.trim(), account.email)
            }
            Some(account) => account.email,
            None => String::new(),
        },
        "portal_link" => it,
        _ => String::new(),
    })
}

/// What an acceptance link opens.
#[derive(Debug, Clone)]
pub enum LinkState {
    /// A live invitation.
    Valid(OpenInvitation),
    /// Past its time; a new one can be sent to the address on record.
    Expired(OpenInvitation),
    /// Accepted already.
    Used {
        /// The organization's name.
        organization_name: String,
    },
    /// Unknown, replaced by a newer one, or for a membership that is suspended or gone.
    Invalid,
}

/// A live (or just expired) invitation as the acceptance page shows it.
#[derive(Debug, Clone)]
pub struct OpenInvitation {
    /// The invitation's public id.
    pub uid: String,
    /// The organization's name.
    pub organization_name: String,
    /// The invited address.
    pub email: String,
    /// The invited account.
    pub account_id: AccountId,
    /// Whether the person has a password already (sign in to accept) or sets one now.
    pub has_password: bool,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What `token` opens, without changing anything.
pub async fn open(core: &Core, token: &str) -> Result<LinkState> {
    let Some(found) = invitations::find_by_token(core.db(), token).await? else {
        return Ok(LinkState::Invalid);
    };
    let invitation = &found.invitation;
    let status = InvitationStatus::parse(&invitation.status);
    if status == Some(InvitationStatus::Accepted) {
        return Ok(LinkState::Used {
            organization_name: found.organization.name,
        });
    }
    if !status.is_some_and(InvitationStatus::is_open) {
        return Ok(LinkState::Invalid);
    }
    let membership = memberships::get(core.db(), &found.scope, invitation.account_id).await?;
    if membership.is_none_or(|m| m.status != MembershipStatus::Invited.as_str()) {
        return Ok(LinkState::Invalid);
    }
    let Some(account) = accounts::find_by_id(core.db(), invitation.account_id).await? else {
        return Ok(LinkState::Invalid);
    };
    let open = OpenInvitation {
        uid: invitation.uid.clone(),
        organization_name: found.organization.name.clone(),
        email: account.email.clone(),
        account_id: account.id,
        has_password: account.password_hash.is_some(),
        expires_at: invitation.expires_at,
    };
    if invitation.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Ok(LinkState::Expired(open));
    }
    Ok(LinkState::Valid(open))
}

/// How the person proves they may accept.
#[derive(Debug, Clone)]
pub enum Proof {
    /// They have no password yet and choose this one (the link is the proof of the address).
    NewPassword(String),
    /// They have a password and typed it.
    Password(String),
    /// They are signed in as this account.
    SignedIn(AccountId),
}

/// An accepted invitation.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The account that joined.
    pub account: accounts::Account,
    /// The organization's UID.
    pub organization_uid: String,
    /// The organization's name.
    pub organization_name: String,
}

/// Accepts the invitation `token` opens: the membership becomes active and the link is retired.
pub async fn accept(
    core: &Core,
    token: &str,
    proof: Proof,
    request_id: Option<String>,
    ip: Option<String>,
) -> Result<Accepted> {
    let invalid = || Error::NotFound("this invitation link is not valid any more".into());
    let Some(found) = invitations::find_by_token(core.db(), token).await? else {
        return Err(invalid());
    };
    let invitation = found.invitation;
    if !InvitationStatus::parse(&invitation.status).is_some_and(InvitationStatus::is_open) {
        return Err(invalid());
    }
    if invitation.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::PreconditionFailed(
            "this invitation link has expired".into(),
        ));
    }
    let account = accounts::find_by_id(core.db(), invitation.account_id)
        .await?
        .ok_or_else(invalid)?;
    match &proof {
        Proof::NewPassword(_) if account.password_hash.is_some() => {
            return Err(Error::Forbidden(
                "this account has a password already: sign in to accept".into(),
            ));
        }
        Proof::NewPassword(_) => {}
        Proof::Password(password) => {
            if accounts::verify_login(core.db(), &account.email, password)
                .await?
                .is_none_or(|a| a.id != account.id)
            {
                return Err(Error::Forbidden("incorrect password".into()));
            }
        }
        Proof::SignedIn(id) if *id != account.id => {
            return Err(Error::Forbidden(format!(
                "this invitation is for {}: sign out and sign in as that account",
                account.email
            )));
        }
        Proof::SignedIn(_) => {}
    }
    let actor = Actor::new(ActorKind::Account {
        id: account.id,
        uid: account.uid.clone(),
    })
    .in_request(request_id, ip);
    let scope = found.scope;
    let mut unit = Unit::begin(core, &actor).await?;
    memberships::get(unit.conn(), &scope, account.id)
        .await?
        .filter(|m| m.status == MembershipStatus::Invited.as_str())
        .ok_or_else(invalid)?;
    if !invitations::accept(unit.conn(), &scope, invitation.id, Utc::now()).await? {
        return Err(invalid());
    }
    let account = match proof {
        Proof::NewPassword(password) => {
            accounts::set_password(unit.conn(), account, &password).await?
        }
        _ => account,
    };
    let membership =
        memberships::set_status(unit.conn(), &scope, account.id, MembershipStatus::Active).await?;
    unit.emit(Event::new(
        EventType::MembershipActivated,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "role": membership.role,
            "status": membership.status, "source": membership.source,
            "invitation_id": invitation.uid}),
    ));
    unit.commit(
        Some(&scope),
        Audit::new(
            "invitation.accepted",
            "invitation",
            &invitation.uid,
            json!({"account": account.uid}),
        ),
    )
    .await?;
    Ok(Accepted {
        account,
        organization_uid: scope.org_uid().to_owned(),
        organization_name: found.organization.name,
    })
}

/// Sends a new invitation to a person whose membership is still invited (the console's and the
/// API's "Resend"), replacing the earlier link. Rate-limited per person.
pub async fn resend(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    account_uid: &str,
) -> Result<Invitation> {
    let account = accounts::find_by_uid(core.db(), account_uid)
        .await?
        .ok_or_else(|| Error::NotFound("member not found".into()))?;
    reinvite(core, actor, scope, &account, "invitation.resent").await
}

/// Sends a new link for an expired one, to the address on record (the expired-link page's
/// "Send me a new link"; the person who clicks may be anyone holding the old link, so the new
/// one goes only where the old one went).
pub async fn renew(core: &Core, token: &str, ip: Option<String>) -> Result<Invitation> {
    let Some(found) = invitations::find_by_token(core.db(), token).await? else {
        return Err(Error::NotFound("this invitation link is not valid".into()));
    };
    let account = accounts::find_by_id(core.db(), found.invitation.account_id)
        .await?
        .ok_or_else(|| Error::NotFound("this invitation link is not valid".into()))?;
    let actor = Actor::system().in_request(None, ip);
    reinvite(core, &actor, &found.scope, &account, "invitation.renewed").await
}

async fn reinvite(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    account: &accounts::Account,
    action: &'static str,
) -> Result<Invitation> {
    let settings = &core.settings().invitations;
    let org = organizations::get(core.db(), scope).await?;
    if !settings.email_enabled {
        return Err(Error::Conflict(
            "this deployment sends no email (email.smtp_url is not set)".into(),
        ));
    }
    if !org.invitations_enabled {
        return Err(Error::Conflict(
            "invitations by email are off for this organization".into(),
        ));
    }
    let not_invited = || {
        Error::Conflict(format!(
            "{} has no pending invitation (only invited members can be sent one)",
            account.email
        ))
    };
    // Checked before the rate (a refused request spends none of it) and again in the transaction.
    memberships::get(core.db(), scope, account.id)
        .await?
        .filter(|m| m.status == MembershipStatus::Invited.as_str())
        .ok_or_else(not_invited)?;
    let key = format!("invitation-resend:{}:{}", scope.org_id(), account.id);
    if ratelimit::check(
        core.kv().as_ref(),
        &key,
        Limit {
            max: settings.resends_per_hour,
            window: Duration::from_secs(3600),
        },
    )
    .await?
    .is_err()
    {
        return Err(Error::RateLimited(format!(
            "at most {} invitations per person per hour; try again later",
            settings.resends_per_hour
        )));
    }
    let unit = Unit::begin(core, actor).await?;
    memberships::get(unit.conn(), scope, account.id)
        .await?
        .filter(|m| m.status == MembershipStatus::Invited.as_str())
        .ok_or_else(not_invited)?;
    let invitation = invitations::queue(
        unit.conn(),
        scope,
        NewInvitation {
            account_id: account.id,
            email: account.email.clone(),
            invited_by: invited_by(actor),
            status: InvitationStatus::Queued,
        },
    )
    .await?;
    unit.commit(
        Some(scope),
        Audit::new(
            action,
            "invitation",
            &invitation.uid,
            json!({"account": account.uid}),
        ),
    )
    .await?;
    core.signals().invitations_queued();
    Ok(invitation)
}

/// A page of the organization's invitations, newest first.
pub async fn list(
    core: &Core,
    scope: &OrgScope,
    status: Option<InvitationStatus>,
    before: Option<InvitationId>,
    limit: u64,
) -> Result<Vec<(Invitation, String)>> {
    let rows = invitations::page(core.db(), scope, status, before, limit).await?;
    let ids: Vec<AccountId> = rows.iter().map(|r| r.account_id).collect();
    let uids: std::collections::HashMap<AccountId, String> = accounts::by_ids(core.db(), &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a.uid))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let uid = uids.get(&r.account_id).cloned().unwrap_or_default();
            (r, uid)
        })
        .collect())
}
