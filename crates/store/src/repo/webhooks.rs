//! Webhook endpoints and their deliveries. The sequencer creates one delivery per (endpoint,
//! event) as it publishes events; delivery workers on every replica claim due deliveries with a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two replicas never send the same one at
//! once, and a killed replica's leases simply run out for the others to take), record every
//! attempt, and either finish a delivery or schedule its next attempt. Secrets arrive sealed:
//! this module never sees one in clear.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::feed::statement;
use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::events::Entity as Events;
use crate::entity::webhook_attempts::{self, Entity as Attempts};
use crate::entity::webhook_deliveries::{self, Entity as Deliveries};
use crate::entity::webhook_endpoints::{self, Entity as Endpoints};
use crate::ids::{EventId, OrgId, WebhookDeliveryId, WebhookEndpointId};
use crate::repo::events::Event;
use crate::{OrgScope, StoreError, StoreResult};

/// An endpoint row (its secrets sealed).
pub type Endpoint = webhook_endpoints::Model;
/// A delivery row.
pub type DeliveryRow = webhook_deliveries::Model;
/// An attempt row.
pub type AttemptRow = webhook_attempts::Model;

/// Delivery states.
pub mod status {
    /// Waiting for its next attempt.
    pub const PENDING: &str = "pending";
    /// A 2xx came back.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt of the schedule failed, or the endpoint answered 410.
    pub const FAILED: &str = "failed";
}

/// What an endpoint wants, for matching events as they are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFilter {
    /// The endpoint.
    pub id: WebhookEndpointId,
    /// Event kinds (empty: all).
    pub kinds: Vec<String>,
    /// Organizations (empty: all).
    pub orgs: Vec<OrgId>,
}

impl EndpointFilter {
    /// Whether an event of `org` (`None`: region-level) and `kind` goes to this endpoint.
    /// Region-level events go to endpoints that are not limited to organizations.
    pub fn matches(&self, org: Option<OrgId>, kind: &str) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && (self.orgs.is_empty() || org.is_some_and(|org| self.orgs.contains(&org)))
    }
}

fn parse_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The filters of every enabled endpoint.
pub async fn active_filters(conn: &impl Conn) -> StoreResult<Vec<EndpointFilter>> {
    Ok(active(conn).await?.iter().map(EndpointFilter::of).collect())
}

/// Every enabled endpoint.
pub(crate) async fn active(conn: &impl Conn) -> StoreResult<Vec<Endpoint>> {
    Ok(Endpoints::find()
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .all(conn.raw())
        .await?)
}

impl EndpointFilter {
    /// What `endpoint` wants.
    pub fn of(endpoint: &Endpoint) -> Self {
        Self {
            id: endpoint.id,
            kinds: parse_list(&endpoint.event_types),
            orgs: parse_list::<i64>(&endpoint.organizations)
                .into_iter()
                .map(OrgId)
                .collect(),
        }
    }
}

/// An endpoint to create.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Where to deliver (already validated).
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Event kinds (empty: all).
    pub kinds: Vec<String>,
    /// Organizations (empty: all).
    pub orgs: Vec<OrgId>,
    /// Deliver each organization's events one at a time, in order.
    pub ordered: bool,
    /// The signing secret, sealed.
    pub sealed_secret: String,
    /// Who created it (a backend client).
    pub created_by: String,
}

/// Creates an endpoint.
pub async fn create(conn: &impl Conn, new: NewEndpoint) -> StoreResult<Endpoint> {
    let at = now();
    let row = webhook_endpoints::ActiveModel {
        uid: Set(format!("whe_{}", new_uid().replace('-', ""))),
        url: Set(new.url),
        description: Set(new.description),
        event_types: Set(serde_json::to_string(&new.kinds).unwrap_or_else(|_| "[]".into())),
        organizations: Set(serde_json::to_string(
            &new.orgs.iter().map(|o| o.0).collect::<Vec<_>>(),
        )
        .unwrap_or_else(|_| "[]".into())),
        ordered: Set(new.ordered),
        enabled: Set(true),
        disabled_reason: Set(None),
        secret: Set(new.sealed_secret),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        created_by: Set(new.created_by),
        failing_since: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    Ok(Endpoints::insert(row)
        .exec_with_returning(conn.raw())
        .await?)
}

/// An endpoint by its public id.
pub async fn get(conn: &impl Conn, uid: &str) -> StoreResult<Endpoint> {
    Endpoints::find()
        .filter(webhook_endpoints::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("webhook endpoint"))
}

/// Endpoints after `after` (by id), `limit` at most.
pub async fn list(
    conn: &impl Conn,
    after: Option<WebhookEndpointId>,
    limit: u64,
) -> StoreResult<Vec<Endpoint>> {
    let mut query = Endpoints::find();
    if let Some(after) = after {
        query = query.filter(webhook_endpoints::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(webhook_endpoints::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// What an update changes (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    /// A new URL (validated).
    pub url: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New kinds.
    pub kinds: Option<Vec<String>>,
    /// New organizations.
    pub orgs: Option<Vec<OrgId>>,
    /// Ordered or not.
    pub ordered: Option<bool>,
    /// Enable (clears the failure record) or disable.
    pub enabled: Option<bool>,
}

/// Changes an endpoint.
pub async fn update(
    conn: &impl Conn,
    uid: &str,
    changes: &EndpointChanges,
) -> StoreResult<Endpoint> {
    let endpoint = get(conn, uid).await?;
    let mut update = Endpoints::update_many()
        .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(now()))
        .filter(webhook_endpoints::Column::Id.eq(endpoint.id));
    if let Some(url) = &changes.url {
        update = update.col_expr(webhook_endpoints::Column::Url, Expr::value(url.clone()));
    }
    if let Some(description) = &changes.description {
        update = update.col_expr(
            webhook_endpoints::Column::Description,
            Expr::value(description.clone()),
        );
    }
    if let Some(kinds) = &changes.kinds {
        update = update.col_expr(
            webhook_endpoints::Column::EventTypes,
            Expr::value(serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into())),
        );
    }
    if let Some(orgs) = &changes.orgs {
        let ids: Vec<i64> = orgs.iter().map(|o| o.0).collect();
        update = update.col_expr(
            webhook_endpoints::Column::Organizations,
            Expr::value(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())),
        );
    }
    if let Some(ordered) = changes.ordered {
        update = update.col_expr(webhook_endpoints::Column::Ordered, Expr::value(ordered));
    }
    if let Some(enabled) = changes.enabled {
        update = update
            .col_expr(webhook_endpoints::Column::Enabled, Expr::value(enabled))
            .col_expr(
                webhook_endpoints::Column::DisabledReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook_endpoints::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    update.exec(conn.raw()).await?;
    get(conn, uid).await
}

/// Replaces the secret; the previous one keeps signing (alongside) until `overlap_until`.
pub async fn rotate_secret(
    conn: &impl Conn,
    uid: &str,
    sealed_secret: String,
    overlap_until: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let endpoint = get(conn, uid).await?;
    Endpoints::update_many()
        .col_expr(
            webhook_endpoints::Column::PreviousSecret,
            Expr::value(endpoint.secret),
        )
        .col_expr(
            webhook_endpoints::Column::PreviousSecretUntil,
            Expr::value(overlap_until),
        )
        .col_expr(
            webhook_endpoints::Column::Secret,
            Expr::value(sealed_secret),
        )
        .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(now()))
        .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
        .exec(conn.raw())
        .await?;
    get(conn, uid).await
}

/// Deletes an endpoint and its deliveries.
pub async fn delete(conn: &impl Conn, uid: &str) -> StoreResult<()> {
    let endpoint = get(conn, uid).await?;
    Endpoints::delete_many()
        .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Disables an enabled endpoint, saying why. Returns whether it was enabled (so that exactly
/// one of several concurrent attempts reports the disabling).
pub async fn disable(conn: &impl Conn, id: WebhookEndpointId, reason: &str) -> StoreResult<bool> {
    let result = Endpoints::update_many()
        .col_expr(webhook_endpoints::Column::Enabled, Expr::value(false))
        .col_expr(
            webhook_endpoints::Column::DisabledReason,
            Expr::value(reason),
        )
        .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(now()))
        .filter(webhook_endpoints::Column::Id.eq(id))
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected > 0)
}

/// Records that an endpoint failed at `at` (the first failure of a run starts `failing_since`)
/// or succeeded (clears it). Returns when its failures started.
pub async fn record_health(
    conn: &impl Conn,
    id: WebhookEndpointId,
    ok: bool,
    at: DateTime<Utc>,
) -> StoreResult<Option<DateTime<Utc>>> {
    let value = if ok { None } else { Some(at) };
    let mut update = Endpoints::update_many().filter(webhook_endpoints::Column::Id.eq(id));
    update = if ok {
        update
            .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(value))
            .filter(webhook_endpoints::Column::FailingSince.is_not_null())
    } else {
        update
            .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(value))
            .filter(webhook_endpoints::Column::FailingSince.is_null())
    };
    update.exec(conn.raw()).await?;
    if ok {
        // A success has just cleared it: no need to read it back.
        return Ok(None);
    }
    Ok(Endpoints::find_by_id(id)
        .one(conn.raw())
        .await?
        .and_then(|e| e.failing_since))
}

/// A lease given to deliveries as they are created, so the replica that sequenced their events
/// sends them without claiming them first.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The replica's delivery worker.
    pub owner: &'a str,
    /// Until when; past it, any replica's claim takes them over.
    pub until: DateTime<Utc>,
}

/// Creates deliveries (endpoint, event, organization, position), due `now` — leased to
/// `lease`'s owner when given; an existing one for the same endpoint and event is kept.
pub async fn insert_deliveries(
    conn: &impl Conn,
    rows: &[(WebhookEndpointId, EventId, Option<OrgId>, i64)],
    now: DateTime<Utc>,
    lease: Option<Lease<'_>>,
) -> StoreResult<()> {
    for chunk in rows.chunks(100) {
        let models =
            chunk.iter().map(
                |(endpoint, event, org, position)| webhook_deliveries::ActiveModel {
                    endpoint_id: Set(*endpoint),
                    event_id: Set(*event),
                    org_id: Set(*org),
                    position: Set(*position),
                    status: Set(status::PENDING.to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    lease_until: Set(lease.map(|l| l.until)),
                    lease_owner: Set(lease.map(|l| l.owner.to_owned())),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    delivered_at: Set(None),
                    ..Default::default()
                },
            );
        Deliveries::insert_many(models)
            .on_conflict_do_nothing_on([
                webhook_deliveries::Column::EndpointId,
                webhook_deliveries::Column::EventId,
            ])
            .exec_without_returning(conn.raw())
            .await?;
    }
    Ok(())
}

/// A delivery a worker holds, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub delivery: DeliveryRow,
    /// Its event.
    pub event: Event,
    /// Its endpoint.
    pub endpoint: Endpoint,
}

/// Takes up to `limit` due deliveries for `owner` until `lease_until`: pending, due, not leased
/// by anyone else, of an enabled endpoint, and — for an ordered endpoint — the earliest pending
/// one of its organization.
pub async fn claim(
    conn: &impl Conn,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<Claimed>> {
    let raw = conn.raw();
    let backend = raw.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = ?, lease_owner = ? WHERE id IN ( \
           SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
           WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
             AND (d.lease_until IS NULL OR d.lease_until < ?) AND e.enabled = ? \
             AND (e.ordered = ? OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                  WHERE p.endpoint_id = d.endpoint_id AND p.org_id = d.org_id \
                    AND p.status = 'pending' AND p.position < d.position)) \
           ORDER BY d.next_attempt_at, d.id LIMIT ? {lock}) \
         RETURNING id"
    );
    let rows = raw
        .query_all_raw(statement(
            backend,
            &sql,
            vec![
                lease_until.into(),
                owner.into(),
                now.into(),
                now.into(),
                true.into(),
                false.into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(WebhookDeliveryId(row.try_get("", "id")?));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let deliveries = Deliveries::find()
        .filter(webhook_deliveries::Column::Id.is_in(ids))
        .order_by_asc(webhook_deliveries::Column::Position)
        .all(raw)
        .await?;
    let mut endpoint_ids: Vec<WebhookEndpointId> =
        deliveries.iter().map(|d| d.endpoint_id).collect();
    endpoint_ids.sort_unstable();
    endpoint_ids.dedup();
    let endpoints = Endpoints::find()
        .filter(webhook_endpoints::Column::Id.is_in(endpoint_ids))
        .all(raw)
        .await?;
    with_events(conn, deliveries, &endpoints).await
}

/// The deliveries of `events` that were created leased to `owner` (see [`Lease`]), ready to send.
pub(crate) async fn leased_to(
    conn: &impl Conn,
    owner: &str,
    events: &[EventId],
    endpoints: &[Endpoint],
) -> StoreResult<Vec<Claimed>> {
    let mut deliveries = Vec::with_capacity(events.len());
    for chunk in events.chunks(super::MAX_PARAMS) {
        deliveries.extend(
            Deliveries::find()
                .filter(webhook_deliveries::Column::EventId.is_in(chunk.iter().copied()))
                .filter(webhook_deliveries::Column::LeaseOwner.eq(owner))
                .filter(webhook_deliveries::Column::Status.eq(status::PENDING))
                .order_by_asc(webhook_deliveries::Column::Position)
                .all(conn.raw())
                .await?,
        );
    }
    with_events(conn, deliveries, endpoints).await
}

/// Joins deliveries to their events (read here) and endpoints (given).
async fn with_events(
    conn: &impl Conn,
    deliveries: Vec<DeliveryRow>,
    endpoints: &[Endpoint],
) -> StoreResult<Vec<Claimed>> {
    let mut event_ids: Vec<EventId> = deliveries.iter().map(|d| d.event_id).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let mut events: std::collections::HashMap<EventId, Event> =
        std::collections::HashMap::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(super::MAX_PARAMS) {
        for event in Events::find()
            .filter(crate::entity::events::Column::Id.is_in(chunk.iter().copied()))
            .all(conn.raw())
            .await?
        {
            events.insert(event.id, event);
        }
    }
    Ok(deliveries
        .into_iter()
        .filter_map(|delivery| {
            Some(Claimed {
                event: events.get(&delivery.event_id)?.clone(),
                endpoint: endpoints
                    .iter()
                    .find(|e| e.id == delivery.endpoint_id)?
                    .clone(),
                delivery,
            })
        })
        .collect())
}

/// One attempt's record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i32,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// The start of the response body.
    pub response_excerpt: String,
    /// What failed, when it did.
    pub error: Option<String>,
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// It is delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up.
    Failed,
}

/// One attempt to be recorded by [`record_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// The delivery attempted (as claimed).
    pub delivery: WebhookDeliveryId,
    /// Its attempt number (1 for the first).
    pub attempt_no: i32,
    /// When it is next due: unchanged unless the delivery is retried.
    pub next_attempt_at: DateTime<Utc>,
    /// What happened.
    pub record: AttemptRecord,
    /// What to do next.
    pub next: NextStep,
}

/// Outcomes recorded per statement: 9 parameters each, well inside both backends' limits.
const OUTCOMES_PER_STATEMENT: usize = 200;

/// Records a batch of attempts and moves each delivery on — only those whose lease `owner`
/// still holds (a lease that ran out may already be someone else's). One `UPDATE … FROM` and
/// one multi-row `INSERT` per 200 outcomes, whatever the batch's mix of successes, retries and
/// failures: a delivery worker's bookkeeping costs two statements per batch, not a transaction
/// per message. Returns the deliveries that were recorded.
pub async fn record_attempts(
    conn: &impl Conn,
    owner: &str,
    outcomes: &[AttemptOutcome],
) -> StoreResult<Vec<WebhookDeliveryId>> {
    let raw = conn.raw();
    let backend = raw.get_database_backend();
    let mut recorded = Vec::with_capacity(outcomes.len());
    for chunk in outcomes.chunks(OUTCOMES_PER_STATEMENT) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 7 + 1);
        for outcome in chunk {
            rows.push("(?, ?, ?, ?, ?, ?, ?)");
            let (status, delivered_at, next_at) = match outcome.next {
                NextStep::Delivered => (
                    status::DELIVERED,
                    Some(outcome.record.at),
                    outcome.next_attempt_at,
                ),
                NextStep::RetryAt(at) => (status::PENDING, None, at),
                NextStep::Failed => (status::FAILED, None, outcome.next_attempt_at),
            };
            values.push(outcome.delivery.0.into());
            values.push(status.into());
            values.push(outcome.attempt_no.into());
            values.push(outcome.record.status.map(i32::from).into());
            values.push(outcome.record.error.clone().into());
            values.push(next_at.into());
            values.push(delivered_at.into());
        }
        values.push(owner.into());
        let sql = format!(
            "WITH v (delivery_id, status, attempts, last_status, last_error, next_attempt_at, delivered_at) \
               AS (VALUES {}) \
             UPDATE webhook_deliveries SET status = v.status, attempts = v.attempts, \
               last_status = v.last_status, last_error = v.last_error, \
               next_attempt_at = v.next_attempt_at, delivered_at = v.delivered_at, \
               lease_until = NULL, lease_owner = NULL \
             FROM v WHERE webhook_deliveries.id = v.delivery_id \
               AND webhook_deliveries.lease_owner = ? \
             RETURNING id",
            rows.join(", ")
        );
        let returned = raw.query_all_raw(statement(backend, &sql, values)).await?;
        let mut ids = std::collections::HashSet::with_capacity(returned.len());
        for row in returned {
            ids.insert(WebhookDeliveryId(row.try_get("", "id")?));
        }
        let attempts: Vec<webhook_attempts::ActiveModel> = chunk
            .iter()
            .filter(|outcome| ids.contains(&outcome.delivery))
            .map(|outcome| webhook_attempts::ActiveModel {
                delivery_id: Set(outcome.delivery),
                attempt: Set(outcome.attempt_no),
                at: Set(outcome.record.at),
                duration_ms: Set(outcome.record.duration_ms),
                status: Set(outcome.record.status.map(i32::from)),
                response_excerpt: Set(outcome.record.response_excerpt.clone()),
                error: Set(outcome.record.error.clone()),
                ..Default::default()
            })
            .collect();
        if !attempts.is_empty() {
            Attempts::insert_many(attempts)
                .exec_without_returning(raw)
                .await?;
        }
        recorded.extend(
            chunk
                .iter()
                .map(|outcome| outcome.delivery)
                .filter(|id| ids.contains(id)),
        );
    }
    Ok(recorded)
}

/// A delivery with its last attempt and its event's public id and kind.
pub type DeliveryListing = (DeliveryRow, Option<AttemptRow>, String, String);

/// An endpoint's deliveries, newest first, before `before` (by id), `limit` at most.
pub async fn deliveries(
    conn: &impl Conn,
    endpoint: WebhookEndpointId,
    before: Option<WebhookDeliveryId>,
    limit: u64,
) -> StoreResult<Vec<DeliveryListing>> {
    deliveries_where(conn, endpoint, None, before, limit).await
}

/// An endpoint's deliveries of one organization's events, newest first, before `before` (by
/// id), `limit` at most: what that organization's console shows.
pub async fn deliveries_of(
    conn: &impl Conn,
    scope: &OrgScope,
    endpoint: WebhookEndpointId,
    before: Option<WebhookDeliveryId>,
    limit: u64,
) -> StoreResult<Vec<DeliveryListing>> {
    deliveries_where(conn, endpoint, Some(scope.org_id()), before, limit).await
}

async fn deliveries_where(
    conn: &impl Conn,
    endpoint: WebhookEndpointId,
    org: Option<OrgId>,
    before: Option<WebhookDeliveryId>,
    limit: u64,
) -> StoreResult<Vec<DeliveryListing>> {
    let mut query = Deliveries::find().filter(webhook_deliveries::Column::EndpointId.eq(endpoint));
    if let Some(org) = org {
        query = query.filter(webhook_deliveries::Column::OrgId.eq(org));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::Column::Id.lt(before));
    }
    let rows = query
        .order_by_desc(webhook_deliveries::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?;
    let ids: Vec<WebhookDeliveryId> = rows.iter().map(|d| d.id).collect();
    let mut last: std::collections::HashMap<WebhookDeliveryId, AttemptRow> =
        std::collections::HashMap::new();
    if !ids.is_empty() {
        for attempt in Attempts::find()
            .filter(webhook_attempts::Column::DeliveryId.is_in(ids))
            .order_by_asc(webhook_attempts::Column::Id)
            .all(conn.raw())
            .await?
        {
            last.insert(attempt.delivery_id, attempt);
        }
    }
    let event_ids: Vec<EventId> = rows.iter().map(|d| d.event_id).collect();
    let uids: std::collections::HashMap<EventId, (String, String)> = Events::find()
        .filter(crate::entity::events::Column::Id.is_in(event_ids))
        .all(conn.raw())
        .await?
        .into_iter()
        .map(|e| (e.id, (e.uid, e.kind)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|d| {
            let attempt = last.remove(&d.id);
            let (uid, kind) = uids.get(&d.event_id).cloned().unwrap_or_default();
            (d, attempt, uid, kind)
        })
        .collect())
}

/// Sends an event again: its deliveries (to `endpoint`, or to every endpoint that had it) become
/// pending and due now; an endpoint that matches but never had it gets one. Returns how many.
pub async fn redeliver(
    conn: &impl Conn,
    event: &Event,
    endpoints: &[EndpointFilter],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let position = event.position.ok_or(StoreError::Invalid(
        "the event is not published yet; it will be delivered shortly".into(),
    ))?;
    let rows: Vec<(WebhookEndpointId, EventId, Option<OrgId>, i64)> = endpoints
        .iter()
        .filter(|e| e.matches(event.org_id, &event.kind))
        .map(|e| (e.id, event.id, event.org_id, position))
        .collect();
    insert_deliveries(conn, &rows, now, None).await?;
    let ids: Vec<WebhookEndpointId> = endpoints.iter().map(|e| e.id).collect();
    let reset = Deliveries::update_many()
        .col_expr(
            webhook_deliveries::Column::Status,
            Expr::value(status::PENDING),
        )
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_deliveries::Column::Attempts, Expr::value(0))
        .filter(webhook_deliveries::Column::EventId.eq(event.id))
        .filter(webhook_deliveries::Column::EndpointId.is_in(ids))
        .exec(conn.raw())
        .await?;
    Ok(reset.rows_affected)
}

/// Sends again everything `endpoint` should have received since `since` and did not: its
/// deliveries that are not delivered (failed for good, or waiting for a later attempt) become
/// due now, and events it never got a delivery for (published while it was disabled) get one.
/// Returns how many deliveries are due.
pub async fn recover(
    conn: &impl Conn,
    endpoint: &EndpointFilter,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    recover_where(conn, endpoint, None, since, now).await
}

/// [`recover`] limited to one organization's events (what its console may ask for): nothing of
/// another organization is sent again.
pub async fn recover_of(
    conn: &impl Conn,
    scope: &OrgScope,
    endpoint: &EndpointFilter,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let org = scope.org_id();
    if !endpoint.orgs.is_empty() && !endpoint.orgs.contains(&org) {
        return Ok(0);
    }
    let only = EndpointFilter {
        orgs: vec![org],
        ..endpoint.clone()
    };
    recover_where(conn, &only, Some(org), since, now).await
}

async fn recover_where(
    conn: &impl Conn,
    endpoint: &EndpointFilter,
    org: Option<OrgId>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut reset = Deliveries::update_many()
        .col_expr(
            webhook_deliveries::Column::Status,
            Expr::value(status::PENDING),
        )
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_deliveries::Column::Attempts, Expr::value(0))
        .filter(webhook_deliveries::Column::EndpointId.eq(endpoint.id))
        .filter(webhook_deliveries::Column::CreatedAt.gte(since))
        .filter(webhook_deliveries::Column::Status.ne(status::DELIVERED));
    if let Some(org) = org {
        reset = reset.filter(webhook_deliveries::Column::OrgId.eq(org));
    }
    let reset = reset.exec(conn.raw()).await?.rows_affected;
    let mut sql = String::from(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, org_id, position, status, \
           attempts, next_attempt_at, created_at) \
         SELECT ?, e.id, e.org_id, e.position, 'pending', 0, ?, ? FROM events e \
         WHERE e.position IS NOT NULL AND e.created_at >= ? \
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                           WHERE d.endpoint_id = ? AND d.event_id = e.id)",
    );
    let mut values: Vec<sea_orm::Value> = vec![
        endpoint.id.0.into(),
        now.into(),
        now.into(),
        since.into(),
        endpoint.id.0.into(),
    ];
    if !endpoint.kinds.is_empty() {
        let marks: Vec<&str> = endpoint.kinds.iter().map(|_| "?").collect();
        sql.push_str(&format!(" AND e.kind IN ({})", marks.join(", ")));
        values.extend(endpoint.kinds.iter().map(|k| k.clone().into()));
    }
    if !endpoint.orgs.is_empty() {
        let marks: Vec<&str> = endpoint.orgs.iter().map(|_| "?").collect();
        sql.push_str(&format!(" AND e.org_id IN ({})", marks.join(", ")));
        values.extend(endpoint.orgs.iter().map(|o| o.0.into()));
    }
    let raw = conn.raw();
    let missed = raw
        .execute_raw(statement(raw.get_database_backend(), &sql, values))
        .await?
        .rows_affected();
    Ok(reset + missed)
}

/// How many deliveries of enabled endpoints are pending, and when the oldest was published: the
/// lag of the push side (a disabled endpoint's deliveries wait for it, not for the workers).
pub async fn backlog(conn: &impl Conn) -> StoreResult<(u64, Option<DateTime<Utc>>)> {
    let raw = conn.raw();
    let row = raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "SELECT COUNT(*) AS n, MIN(d.created_at) AS oldest FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.status = 'pending' AND e.enabled = ?",
            vec![true.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => (
            u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
            row.try_get::<Option<DateTime<Utc>>>("", "oldest")?,
        ),
        None => (0, None),
    })
}

/// The enabled and disabled endpoints that receive `scope`'s events (limited to it, or to no
/// organization), oldest first.
pub async fn receiving(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Vec<Endpoint>> {
    let org = scope.org_id();
    Ok(Endpoints::find()
        .order_by_asc(webhook_endpoints::Column::Id)
        .all(conn.raw())
        .await?
        .into_iter()
        .filter(|e| {
            let orgs = EndpointFilter::of(e).orgs;
            orgs.is_empty() || orgs.contains(&org)
        })
        .collect())
}
