//! Webhooks: the endpoints the SaaS backend registers (their secrets sealed at rest), and the
//! delivery step every replica's worker runs: claim due deliveries, sign them as Standard
//! Webhooks, send them, record the attempt, and schedule the next one or finish. Time is passed
//! in, so the retry schedule and auto-disable are tested with a clock, not with sleeps.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{Value, json};
use store::OrgScope;
use store::ids::OrgId;
use store::repo::webhooks::{
    self as repo, AttemptRecord, Claimed, Endpoint, EndpointChanges, NewEndpoint, NextStep,
};
use store::repo::{events, organizations};
use webhooks::{DestinationPolicy, Outcome, RetrySchedule, WebhookSecret, signature_header};

use crate::events::{Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// Seals webhook secrets at rest (AES-256-GCM under a key from the configuration): the database
/// alone does not give anyone the power to sign messages the SaaS backend would trust.
#[derive(Clone)]
pub struct Sealer {
    key: Option<Arc<aws_lc_rs::aead::LessSafeKey>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.key.is_some() {
            "Sealer(aes-256-gcm)"
        } else {
            "Sealer(none)"
        })
    }
}

impl Sealer {
    /// A sealer keyed by `secret` (any length ≥ 32; hashed to the key). Empty: secrets are stored
    /// as they are (only for a single local process; the gateway warns).
    pub fn new(secret: &str) -> Self {
        if secret.is_empty() {
            return Self { key: None };
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, digest.as_ref())
            .ok()
            .map(|k| Arc::new(aws_lc_rs::aead::LessSafeKey::new(k)));
        Self { key }
    }

    fn seal(&self, plain: &str) -> Result<String> {
        let Some(key) = &self.key else {
            return Ok(format!("plain:{plain}"));
        };
        let mut nonce = [0u8; 12];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::Invalid("no randomness".into()))?;
        let mut data = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
            aws_lc_rs::aead::Aad::empty(),
            &mut data,
        )
        .map_err(|_| Error::Invalid("cannot seal the secret".into()))?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    fn open(&self, sealed: &str) -> Option<WebhookSecret> {
        if let Some(plain) = sealed.strip_prefix("plain:") {
            return WebhookSecret::parse(plain).ok();
        }
        let bytes = STANDARD.decode(sealed.strip_prefix("v1:")?).ok()?;
        let key = self.key.as_ref()?;
        let (nonce, data) = bytes.split_at_checked(12)?;
        let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = key
            .open_in_place(nonce, aws_lc_rs::aead::Aad::empty(), &mut data)
            .ok()?;
        WebhookSecret::parse(std::str::from_utf8(plain).ok()?).ok()
    }
}

/// What registering or changing an endpoint needs from the deployment: the sealer of secrets
/// and the operator's destination policy.
#[derive(Debug, Clone)]
pub struct EndpointRules {
    /// Seals secrets at rest.
    pub sealer: Sealer,
    /// Where deliveries may go.
    pub policy: DestinationPolicy,
}

/// An endpoint as the API shows it.
#[derive(Debug, Clone)]
pub struct EndpointView {
    /// The row.
    pub endpoint: Endpoint,
    /// Event kinds (empty: all).
    pub event_types: Vec<String>,
    /// Organization UIDs (empty: all).
    pub organizations: Vec<String>,
}

async fn view(core: &Core, endpoint: Endpoint) -> Result<EndpointView> {
    let event_types: Vec<String> = serde_json::from_str(&endpoint.event_types).unwrap_or_default();
    let ids: Vec<OrgId> = serde_json::from_str::<Vec<i64>>(&endpoint.organizations)
        .unwrap_or_default()
        .into_iter()
        .map(OrgId)
        .collect();
    let uids = organizations::uids(core.db(), &ids).await?;
    let organizations = ids.iter().filter_map(|id| uids.get(id).cloned()).collect();
    Ok(EndpointView {
        endpoint,
        event_types,
        organizations,
    })
}

/// What an endpoint is created or changed with.
#[derive(Debug, Clone, Default)]
pub struct EndpointSpec {
    /// Where to deliver.
    pub url: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Event kinds (empty: all).
    pub event_types: Option<Vec<String>>,
    /// Organization UIDs (empty: all).
    pub organizations: Option<Vec<String>>,
    /// Deliver each organization's events one at a time, in order.
    pub ordered: Option<bool>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// An endpoint URL's syntax, and — for an address written in it — the operator's destination
/// policy. (A name is checked on the address it resolves to, at every connection.)
fn check_url(url: &str, policy: &DestinationPolicy) -> Result<String> {
    let url = webhooks::validate_url(url).map_err(|e| Error::Invalid(e.to_string()))?;
    policy.check_url(&url).map_err(|e| {
        Error::Invalid(format!(
            "{e} (the operator allows internal destinations with webhooks.allowed_destinations)"
        ))
    })?;
    Ok(url.to_string())
}

fn check_kinds(kinds: &[String]) -> Result<()> {
    for kind in kinds {
        if EventType::parse(kind).is_none() {
            return Err(Error::Invalid(format!(
                "'{kind}' is not an event type (see docs/events.md)"
            )));
        }
    }
    Ok(())
}

async fn org_ids(core: &Core, uids: &[String]) -> Result<Vec<OrgId>> {
    let mut ids = Vec::with_capacity(uids.len());
    for uid in uids {
        let org = organizations::find_by_uid(core.db(), uid)
            .await?
            .ok_or_else(|| Error::Invalid(format!("no organization {uid} in this region")))?;
        ids.push(org.id);
    }
    Ok(ids)
}

/// Registers an endpoint; the new secret (`whsec_…`) is in the result only.
pub async fn create(
    core: &Core,
    rules: &EndpointRules,
    actor: &Actor,
    spec: EndpointSpec,
) -> Result<(EndpointView, String)> {
    let url = check_url(spec.url.as_deref().unwrap_or_default(), &rules.policy)?;
    let kinds = spec.event_types.unwrap_or_default();
    check_kinds(&kinds)?;
    let orgs = org_ids(core, &spec.organizations.unwrap_or_default()).await?;
    let secret = WebhookSecret::generate().expose();
    let unit = Unit::begin(core, actor).await?;
    let endpoint = repo::create(
        unit.conn(),
        NewEndpoint {
            url,
            description: spec.description.unwrap_or_default(),
            kinds,
            orgs,
            ordered: spec.ordered.unwrap_or(false),
            sealed_secret: rules.sealer.seal(&secret)?,
            created_by: actor.id().to_owned(),
        },
    )
    .await?;
    let audit = Audit::new(
        "webhook_endpoint.created",
        "webhook_endpoint",
        &endpoint.uid,
        json!({"url": endpoint.url}),
    );
    unit.commit(None, audit).await?;
    Ok((view(core, endpoint).await?, secret))
}

/// An endpoint.
pub async fn get(core: &Core, uid: &str) -> Result<EndpointView> {
    view(core, repo::get(core.db(), uid).await?).await
}

/// Endpoints after `after`.
pub async fn list(
    core: &Core,
    after: Option<store::ids::WebhookEndpointId>,
    limit: u64,
) -> Result<Vec<EndpointView>> {
    let mut out = Vec::new();
    for endpoint in repo::list(core.db(), after, limit).await? {
        out.push(view(core, endpoint).await?);
    }
    Ok(out)
}

/// Changes an endpoint; enabling one clears its failure record.
pub async fn update(
    core: &Core,
    rules: &EndpointRules,
    actor: &Actor,
    uid: &str,
    spec: EndpointSpec,
) -> Result<EndpointView> {
    let changes = EndpointChanges {
        url: spec
            .url
            .as_deref()
            .map(|url| check_url(url, &rules.policy))
            .transpose()?,
        description: spec.description,
        kinds: match spec.event_types {
            Some(kinds) => {
                check_kinds(&kinds)?;
                Some(kinds)
            }
            None => None,
        },
        orgs: match spec.organizations {
            Some(uids) => Some(org_ids(core, &uids).await?),
            None => None,
        },
        ordered: spec.ordered,
        enabled: spec.enabled,
    };
    let unit = Unit::begin(core, actor).await?;
    let endpoint = repo::update(unit.conn(), uid, &changes).await?;
    unit.commit(
        None,
        Audit::new(
            "webhook_endpoint.updated",
            "webhook_endpoint",
            uid,
            json!({"enabled": endpoint.enabled}),
        ),
    )
    .await?;
    view(core, endpoint).await
}

/// Replaces the secret; the previous one keeps signing alongside for 24 hours.
pub async fn rotate_secret(
    core: &Core,
    sealer: &Sealer,
    actor: &Actor,
    uid: &str,
    now: DateTime<Utc>,
) -> Result<(EndpointView, String)> {
    let secret = WebhookSecret::generate().expose();
    let unit = Unit::begin(core, actor).await?;
    let endpoint = repo::rotate_secret(
        unit.conn(),
        uid,
        sealer.seal(&secret)?,
        now + ROTATION_OVERLAP,
    )
    .await?;
    unit.commit(
        None,
        Audit::new(
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint",
            uid,
            json!({}),
        ),
    )
    .await?;
    Ok((view(core, endpoint).await?, secret))
}

/// Deletes an endpoint and its deliveries.
pub async fn delete(core: &Core, actor: &Actor, uid: &str) -> Result<()> {
    let unit = Unit::begin(core, actor).await?;
    repo::delete(unit.conn(), uid).await?;
    unit.commit(
        None,
        Audit::new(
            "webhook_endpoint.deleted",
            "webhook_endpoint",
            uid,
            json!({}),
        ),
    )
    .await
}

/// Sends an event again to every endpoint it matches (or one).
pub async fn redeliver(
    core: &Core,
    actor: &Actor,
    event_uid: &str,
    endpoint_uid: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let event = events::find_by_uid(core.db(), event_uid)
        .await?
        .ok_or_else(|| Error::NotFound(format!("event {event_uid} not found")))?;
    let mut filters = repo::active_filters(core.db()).await?;
    if let Some(uid) = endpoint_uid {
        let endpoint = repo::get(core.db(), uid).await?;
        filters.retain(|f| f.id == endpoint.id);
    }
    let unit = Unit::begin(core, actor).await?;
    let count = repo::redeliver(unit.conn(), &event, &filters, now).await?;
    unit.commit(
        None,
        Audit::new(
            "event.redelivered",
            "event",
            event_uid,
            json!({"deliveries": count}),
        ),
    )
    .await?;
    core.signals().deliveries_due();
    Ok(count)
}

/// A delivery as the API shows it: its state, the event it carries and its last attempt.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    /// The row.
    pub delivery: repo::DeliveryRow,
    /// The event's id (the message's `webhook-id`).
    pub event_uid: String,
    /// The event's kind (`member.roles_changed`).
    pub event_kind: String,
    /// The last attempt, if any.
    pub last_attempt: Option<repo::AttemptRow>,
}

/// An endpoint's deliveries, newest first, before `before`.
pub async fn deliveries(
    core: &Core,
    uid: &str,
    before: Option<store::ids::WebhookDeliveryId>,
    limit: u64,
) -> Result<Vec<DeliveryView>> {
    let endpoint = repo::get(core.db(), uid).await?;
    Ok(repo::deliveries(core.db(), endpoint.id, before, limit)
        .await?
        .into_iter()
        .map(
            |(delivery, last_attempt, event_uid, event_kind)| DeliveryView {
                delivery,
                event_uid,
                event_kind,
                last_attempt,
            },
        )
        .collect())
}

/// Sends again everything an endpoint missed since `since`: undelivered deliveries, and events
/// published while it was disabled.
pub async fn recover(
    core: &Core,
    actor: &Actor,
    uid: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let endpoint = repo::get(core.db(), uid).await?;
    let unit = Unit::begin(core, actor).await?;
    let count = repo::recover(
        unit.conn(),
        &repo::EndpointFilter::of(&endpoint),
        since,
        now,
    )
    .await?;
    unit.commit(
        None,
        Audit::new(
            "webhook_endpoint.recovered",
            "webhook_endpoint",
            uid,
            json!({"since": since, "deliveries": count}),
        ),
    )
    .await?;
    core.signals().deliveries_due();
    Ok(count)
}

/// The endpoints that receive `scope`'s events, as that organization's console shows them.
pub async fn receiving(core: &Core, scope: &OrgScope) -> Result<Vec<EndpointView>> {
    let mut out = Vec::new();
    for endpoint in repo::receiving(core.db(), scope).await? {
        out.push(view(core, endpoint).await?);
    }
    Ok(out)
}

/// An endpoint that receives `scope`'s events; any other is "not found" to that organization.
async fn receiving_one(core: &Core, scope: &OrgScope, uid: &str) -> Result<Endpoint> {
    repo::receiving(core.db(), scope)
        .await?
        .into_iter()
        .find(|e| e.uid == uid)
        .ok_or_else(|| Error::NotFound(format!("webhook endpoint {uid} not found")))
}

/// An endpoint's deliveries of `scope`'s events only, newest first, before `before`.
pub async fn deliveries_in(
    core: &Core,
    scope: &OrgScope,
    uid: &str,
    before: Option<store::ids::WebhookDeliveryId>,
    limit: u64,
) -> Result<Vec<DeliveryView>> {
    let endpoint = receiving_one(core, scope, uid).await?;
    Ok(
        repo::deliveries_of(core.db(), scope, endpoint.id, before, limit)
            .await?
            .into_iter()
            .map(
                |(delivery, last_attempt, event_uid, event_kind)| DeliveryView {
                    delivery,
                    event_uid,
                    event_kind,
                    last_attempt,
                },
            )
            .collect(),
    )
}

/// Sends one of `scope`'s events again to one endpoint that receives them (an organization's
/// Owner or Admin asks from the console; another organization's event is "not found").
pub async fn redeliver_in(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    event_uid: &str,
    endpoint_uid: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let endpoint = receiving_one(core, scope, endpoint_uid).await?;
    let event = events::find_by_uid(core.db(), event_uid)
        .await?
        .filter(|e| e.org_id == Some(scope.org_id()))
        .ok_or_else(|| Error::NotFound(format!("event {event_uid} not found")))?;
    let filters = [repo::EndpointFilter::of(&endpoint)];
    let unit = Unit::begin(core, actor).await?;
    let count = repo::redeliver(unit.conn(), &event, &filters, now).await?;
    unit.commit(
        Some(scope),
        Audit::new(
            "event.redelivered",
            "event",
            event_uid,
            json!({"deliveries": count, "endpoint": endpoint.uid}),
        ),
    )
    .await?;
    core.signals().deliveries_due();
    Ok(count)
}

/// Sends again what one endpoint missed of `scope`'s events since `since` (nothing of another
/// organization).
pub async fn recover_in(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    uid: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    if since > now {
        return Err(Error::Invalid(
            "choose a time in the past to send again what was missed since then".into(),
        ));
    }
    let endpoint = receiving_one(core, scope, uid).await?;
    let unit = Unit::begin(core, actor).await?;
    let count = repo::recover_of(
        unit.conn(),
        scope,
        &repo::EndpointFilter::of(&endpoint),
        since,
        now,
    )
    .await?;
    unit.commit(
        Some(scope),
        Audit::new(
            "webhook_endpoint.recovered",
            "webhook_endpoint",
            uid,
            json!({"since": since, "deliveries": count}),
        ),
    )
    .await?;
    core.signals().deliveries_due();
    Ok(count)
}

/// How delivery behaves.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// When to retry.
    pub schedule: RetrySchedule,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: chrono::Duration,
    /// How long a claimed delivery is a worker's before others may take it.
    pub lease: chrono::Duration,
    /// Deliveries claimed per step.
    pub batch: u64,
    /// Deliveries sent at once.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            disable_after: chrono::Duration::days(5),
            lease: chrono::Duration::seconds(60),
            batch: 200,
            concurrency: 32,
        }
    }
}

/// Sends one signed message (the delivery worker's HTTP side; `webhooks::Sender` in production).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// One attempt.
    async fn send(&self, delivery: &webhooks::Delivery) -> webhooks::Attempt;
}

#[async_trait::async_trait]
impl Transport for webhooks::Sender {
    async fn send(&self, delivery: &webhooks::Delivery) -> webhooks::Attempt {
        webhooks::Sender::send(self, delivery).await
    }
}

/// The secrets a message is signed with now: the current one, and the previous one during its
/// overlap.
fn signing_secrets(sealer: &Sealer, endpoint: &Endpoint, now: DateTime<Utc>) -> Vec<WebhookSecret> {
    let mut secrets: Vec<WebhookSecret> = sealer.open(&endpoint.secret).into_iter().collect();
    if endpoint
        .previous_secret_until
        .is_some_and(|until| until > now)
        && let Some(previous) = endpoint
            .previous_secret
            .as_deref()
            .and_then(|s| sealer.open(s))
    {
        secrets.push(previous);
    }
    secrets
}

/// A message to `url` with `msg_id` and `body`, signed at `now`.
pub fn message(
    url: &str,
    msg_id: &str,
    body: Vec<u8>,
    secrets: &[WebhookSecret],
    now: DateTime<Utc>,
) -> webhooks::Delivery {
    let refs: Vec<&WebhookSecret> = secrets.iter().collect();
    let timestamp = now.timestamp();
    webhooks::Delivery {
        url: url.to_owned(),
        msg_id: msg_id.to_owned(),
        timestamp,
        signature_header: signature_header(&refs, msg_id, timestamp, &body),
        body: body.into(),
        extra_headers: Vec::new(),
    }
}

/// What one delivery step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Deliveries attempted.
    pub attempted: usize,
    /// Of which delivered.
    pub succeeded: usize,
}

/// Due deliveries a worker has claimed, with what sending them needs.
#[derive(Debug, Default)]
pub struct ClaimedBatch {
    /// The deliveries, in the order they were claimed.
    pub deliveries: Vec<Claimed>,
    /// The organizations' public ids, for the envelopes.
    uids: Arc<std::collections::HashMap<OrgId, String>>,
}

/// Claims up to `limit` due deliveries for `owner` (leased until `now + settings.lease`).
pub async fn claim_due(
    core: &Core,
    settings: &DeliverySettings,
    owner: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<ClaimedBatch> {
    if limit == 0 {
        return Ok(ClaimedBatch::default());
    }
    let claimed = {
        let txn = store::db::begin_write(core.db()).await?;
        let claimed = repo::claim(&txn, owner, now, now + settings.lease, limit).await?;
        txn.commit().await?;
        claimed
    };
    ClaimedBatch::of(core, claimed).await
}

impl ClaimedBatch {
    /// Deliveries this replica holds a lease on — claimed, or created leased by its sequencer
    /// ([`store::repo::feed::FreshLease`]) — with their organizations' public ids.
    pub async fn of(core: &Core, claimed: Vec<Claimed>) -> Result<Self> {
        if claimed.is_empty() {
            return Ok(Self::default());
        }
        let mut orgs: Vec<OrgId> = claimed.iter().filter_map(|c| c.event.org_id).collect();
        orgs.sort_unstable();
        orgs.dedup();
        let uids = organizations::uids(core.db(), &orgs).await?;
        Ok(Self {
            deliveries: claimed,
            uids: Arc::new(uids),
        })
    }

    /// Splits the batch into one job per delivery, each ready to be sent on its own.
    pub fn into_jobs(self) -> impl Iterator<Item = DeliveryJob> {
        let uids = self.uids;
        self.deliveries.into_iter().map(move |claimed| DeliveryJob {
            claimed,
            uids: Arc::clone(&uids),
        })
    }
}

/// One claimed delivery, ready to be sent.
#[derive(Debug)]
pub struct DeliveryJob {
    claimed: Claimed,
    uids: Arc<std::collections::HashMap<OrgId, String>>,
}

/// One sent delivery, waiting to be recorded.
#[derive(Debug, Clone)]
pub struct SentDelivery {
    outcome: repo::AttemptOutcome,
    endpoint: Endpoint,
    kind: Outcome,
}

impl SentDelivery {
    /// Whether the receiver took it.
    pub fn delivered(&self) -> bool {
        self.kind == Outcome::Delivered
    }
}

/// Signs and sends one claimed delivery at `now`; decides (but does not record) what follows.
pub async fn send_job(
    core: &Core,
    sealer: &Sealer,
    transport: &dyn Transport,
    settings: &DeliverySettings,
    job: DeliveryJob,
    now: DateTime<Utc>,
) -> SentDelivery {
    let DeliveryJob { claimed, uids } = job;
    let Claimed {
        delivery,
        event,
        endpoint,
    } = claimed;
    let msg_id = event.uid.clone();
    let body = crate::feed::envelope(core, &uids, event)
        .to_string()
        .into_bytes();
    let secrets = signing_secrets(sealer, &endpoint, now);
    let attempt = if secrets.is_empty() {
        webhooks::Attempt {
            outcome: Outcome::Failed,
            status: None,
            response_excerpt: String::new(),
            retry_after: None,
            duration: Duration::ZERO,
            error: Some(
                "the endpoint's secret cannot be opened with this deployment's secrets.webhook_key"
                    .into(),
            ),
        }
    } else {
        transport
            .send(&message(&endpoint.url, &msg_id, body, &secrets, now))
            .await
    };
    let attempt_no = delivery.attempts + 1;
    let next = match attempt.outcome {
        Outcome::Delivered => NextStep::Delivered,
        Outcome::Gone => NextStep::Failed,
        Outcome::Failed => match settings.schedule.next_delay(
            u32::try_from(attempt_no).unwrap_or(u32::MAX),
            attempt.retry_after,
        ) {
            Some(delay) => {
                NextStep::RetryAt(now + chrono::Duration::from_std(delay).unwrap_or_default())
            }
            None => NextStep::Failed,
        },
    };
    SentDelivery {
        outcome: repo::AttemptOutcome {
            delivery: delivery.id,
            attempt_no,
            next_attempt_at: delivery.next_attempt_at,
            record: AttemptRecord {
                at: now,
                duration_ms: i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
                status: attempt.status,
                response_excerpt: attempt.response_excerpt,
                error: attempt.error,
            },
            next,
        },
        endpoint,
        kind: attempt.outcome,
    }
}

/// Records sent deliveries (in the order they finished) in one transaction: each attempt, each
/// delivery's next step, each endpoint's health, and — when an endpoint answered 410 or has
/// failed for `settings.disable_after` — its disabling, with its event and audit row. Returns
/// what was recorded (a delivery whose lease was lost meanwhile is not).
pub async fn record_sent(
    core: &Core,
    settings: &DeliverySettings,
    owner: &str,
    sent: Vec<SentDelivery>,
) -> Result<Delivered> {
    if sent.is_empty() {
        return Ok(Delivered::default());
    }
    let actor = Actor::system();
    let mut unit = Unit::begin(core, &actor).await?;
    let outcomes: Vec<repo::AttemptOutcome> = sent.iter().map(|s| s.outcome.clone()).collect();
    let recorded: std::collections::HashSet<_> =
        repo::record_attempts(unit.conn(), owner, &outcomes)
            .await?
            .into_iter()
            .collect();
    let sent: Vec<SentDelivery> = sent
        .into_iter()
        .filter(|s| recorded.contains(&s.outcome.delivery))
        .collect();
    let mut disabled = Vec::new();
    for health in EndpointHealth::of(&sent) {
        if health.succeeded {
            repo::record_health(unit.conn(), health.endpoint.id, true, health.at).await?;
        }
        let failing_since = match health.failing_from {
            Some(at) => repo::record_health(unit.conn(), health.endpoint.id, false, at).await?,
            None => None,
        };
        let reason = if health.gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else {
            failing_since
                .filter(|since| health.at - *since >= settings.disable_after)
                .map(|_| {
                    format!(
                        "nothing was delivered for {} hours",
                        settings.disable_after.num_hours()
                    )
                })
        };
        if let Some(reason) = reason
            && repo::disable(unit.conn(), health.endpoint.id, &reason).await?
        {
            unit.emit(Event::new(
                EventType::WebhookEndpointDisabled,
                Subject::new("webhook_endpoint", health.endpoint.uid.clone()),
                json!({"endpoint_id": health.endpoint.uid, "url": health.endpoint.url,
                    "reason": reason, "failing_since": failing_since.unwrap_or(health.at)}),
            ));
            disabled.push((health.endpoint.uid.clone(), reason));
        }
    }
    if disabled.is_empty() {
        unit.commit_unaudited().await?;
    } else {
        let (resource, _) = &disabled[0];
        let audit = Audit::new(
            "webhook_endpoint.disabled",
            "webhook_endpoint",
            resource,
            json!({"disabled": disabled.iter().map(|(endpoint, reason)|
                json!({"endpoint_id": endpoint, "reason": reason})).collect::<Vec<_>>()}),
        );
        unit.commit(None, audit).await?;
    }
    Ok(Delivered {
        attempted: sent.len(),
        succeeded: sent.iter().filter(|s| s.delivered()).count(),
    })
}

/// What a batch of attempts says about one endpoint.
struct EndpointHealth<'a> {
    endpoint: &'a Endpoint,
    /// Some attempt succeeded.
    succeeded: bool,
    /// The first failure after the last success (a run of failures that is still going on).
    failing_from: Option<DateTime<Utc>>,
    /// It answered 410 Gone.
    gone: bool,
    /// The last attempt's time.
    at: DateTime<Utc>,
}

impl<'a> EndpointHealth<'a> {
    fn of(sent: &'a [SentDelivery]) -> Vec<Self> {
        let mut by_endpoint: Vec<EndpointHealth<'a>> = Vec::new();
        for s in sent {
            let at = s.outcome.record.at;
            let index = match by_endpoint
                .iter()
                .position(|h| h.endpoint.id == s.endpoint.id)
            {
                Some(index) => index,
                None => {
                    by_endpoint.push(EndpointHealth {
                        endpoint: &s.endpoint,
                        succeeded: false,
                        failing_from: None,
                        gone: false,
                        at,
                    });
                    by_endpoint.len() - 1
                }
            };
            let health = &mut by_endpoint[index];
            health.at = health.at.max(at);
            if s.delivered() {
                health.succeeded = true;
                health.failing_from = None;
            } else {
                health.gone |= s.kind == Outcome::Gone;
                health.failing_from.get_or_insert(at);
            }
        }
        by_endpoint
    }
}

/// One step of a delivery worker: claims up to `settings.batch` due deliveries for `owner`,
/// sends them (up to `settings.concurrency` at once) and records them in one transaction.
/// (The gateway's worker runs the same parts as a pipeline: it claims and records while
/// sending.)
pub async fn deliver_due(
    core: &Core,
    sealer: &Sealer,
    transport: &dyn Transport,
    settings: &DeliverySettings,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<Delivered> {
    let batch = claim_due(core, settings, owner, now, settings.batch).await?;
    if batch.deliveries.is_empty() {
        return Ok(Delivered::default());
    }
    let sent: Vec<SentDelivery> = futures_util::stream::iter(batch.into_jobs())
        .map(|job| send_job(core, sealer, transport, settings, job, now))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    record_sent(core, settings, owner, sent).await
}

/// Sends a test message to an endpoint now (not part of the feed; its id is new) and returns the
/// attempt: what the receiver answered.
pub async fn send_test(
    core: &Core,
    sealer: &Sealer,
    transport: &dyn Transport,
    uid: &str,
    now: DateTime<Utc>,
) -> Result<webhooks::Attempt> {
    let endpoint = repo::get(core.db(), uid).await?;
    let secrets = signing_secrets(sealer, &endpoint, now);
    if secrets.is_empty() {
        return Err(Error::Invalid(
            "the endpoint's secret cannot be opened with this deployment's secrets.webhook_key"
                .into(),
        ));
    }
    let msg_id = format!("msg_test_{}", uuid_like());
    let body: Value = json!({"id": msg_id, "type": "webhook.test", "api_version": crate::feed::API_VERSION,
        "timestamp": now, "region": core.settings().region, "data": {"endpoint_id": endpoint.uid}});
    Ok(transport
        .send(&message(
            &endpoint.url,
            &msg_id,
            body.to_string().into_bytes(),
            &secrets,
            now,
        ))
        .await)
}

fn uuid_like() -> String {
    store::secret::random_token(12)
}
