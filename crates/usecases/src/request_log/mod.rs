//! The SCIM request log: every SCIM request of an organization, refused ones included, for the
//! admin debugging an IdP (console) and the SaaS backend (management API).
//!
//! Recording stays off the SCIM request's path: the SCIM surface hands a [`Captured`] request
//! (bodies as the request and response already held them, no copy) to this replica's bounded
//! in-process [`RequestLogQueue`] and answers at once. When the queue is full — by entries or by
//! bytes — the request is not logged and `scimgate_scim_request_log_dropped_total` counts it; SCIM
//! never waits for the log. A worker ([`write_batch`]) takes what is queued, up to a batch,
//! redacts and truncates the bodies ([`redact`]) and writes the batch in one transaction of its
//! own. What is still queued when the process stops is lost. Reads are scoped by [`OrgScope`].

pub mod redact;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use store::OrgScope;
use store::ids::{OrgId, RequestLogId};
use store::repo::scim_request_log::{
    self as repo, LogOrg, LoggedRequest, NewLoggedRequest, RequestLogFilter, StatusClass,
};
use tokio::sync::{Mutex, mpsc};

use crate::{Core, Error, Result};

/// Requests not logged because the queue was full.
pub const DROPPED: &str = "scimgate_scim_request_log_dropped_total";
/// Requests written to the log.
pub const WRITTEN: &str = "scimgate_scim_request_log_written_total";
/// Rows the writer deleted to keep an organization within its cap.
pub const CAPPED: &str = "scimgate_scim_request_log_capped_total";

/// `[scim_log]`: what the log keeps and for how long.
#[derive(Debug, Clone)]
pub struct RequestLogSettings {
    /// Whether SCIM requests are logged at all.
    pub enabled: bool,
    /// How long a logged request is kept.
    pub retention: chrono::Duration,
    /// The most rows one organization keeps (the oldest go first).
    pub max_rows_per_organization: u64,
    /// The most bytes kept of each body.
    pub max_body_bytes: usize,
    /// The most requests waiting to be written.
    pub queue_capacity: usize,
    /// The most body bytes waiting to be written.
    pub queue_max_bytes: usize,
    /// The most requests written per batch.
    pub batch_size: usize,
    /// The most body bytes written per batch (a batch holds at least one request).
    pub batch_max_bytes: usize,
    /// The pause after a batch that was not full: batches are written at most this often, so at
    /// a moderate request rate the log costs a few write transactions a second, not one per
    /// request (on SQLite every write transaction takes the one writer's turn).
    pub flush_interval: Duration,
}

impl Default for RequestLogSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            retention: chrono::Duration::days(30),
            max_rows_per_organization: 100_000,
            max_body_bytes: 16 * 1024,
            queue_capacity: 4_000,
            queue_max_bytes: 8 * 1024 * 1024,
            batch_size: 500,
            batch_max_bytes: 1024 * 1024,
            flush_interval: Duration::from_millis(250),
        }
    }
}

/// One SCIM request as the surface saw it, before redaction.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Whose log.
    pub org: LogOrg,
    /// The request id.
    pub request_id: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// Path and query, as received.
    pub path_and_query: String,
    /// The answer's status.
    pub status: u16,
    /// How long the answer took.
    pub duration: Duration,
    /// `(kind, public id)` of the accepted credential; `None` when it was refused.
    pub credential: Option<(&'static str, String)>,
    /// The client address.
    pub client_ip: Option<String>,
    /// The request body, as the chunks the handler read (empty: none read).
    pub request_body: Vec<Bytes>,
    /// The response body, when it was a complete buffer — only its start when
    /// `response_cut_from` says it was longer (see [`Captured::keep_response`]).
    pub response_body: Option<Bytes>,
    /// The response body's whole length, when only its start was kept.
    pub response_cut_from: Option<usize>,
    /// The JSON the response body was written from (`response_body` is exactly its text), when
    /// the surface had it: the log then need not parse the body back.
    pub response_json: Option<serde_json::Value>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

impl Captured {
    /// Keeps the response body for the log: all of it, with the JSON it was written from when
    /// the surface had it, when it is no longer than the log keeps (`max_bytes`); else a copy of
    /// its first `max_bytes` and no JSON. A page of 100 users is 100 KB or more; holding every
    /// one whole (or its parsed values) until the batch writer runs, only to keep its first
    /// 16 KB, cost more memory and CPU than serving it. Whole answers are redacted by shape, a cut
    /// one by the words it contains ([`redact::cut_body`]).
    pub fn keep_response(
        &mut self,
        body: &Bytes,
        max_bytes: usize,
        json: Option<serde_json::Value>,
    ) {
        if body.len() <= max_bytes {
            self.response_body = Some(body.clone());
            self.response_json = json;
            self.response_cut_from = None;
        } else {
            self.response_body = Some(Bytes::copy_from_slice(&body[..max_bytes]));
            self.response_json = None;
            self.response_cut_from = Some(body.len());
        }
    }

    /// What the queue's byte bound counts: the bodies and the path, and a parsed response
    /// (`response_json`) as twice its text, about what its values take beyond it.
    fn weight(&self) -> usize {
        let response = self.response_body.as_ref().map_or(0, Bytes::len);
        let parsed = if self.response_json.is_some() {
            2 * response
        } else {
            0
        };
        self.request_body.iter().map(Bytes::len).sum::<usize>()
            + response
            + parsed
            + self.path_and_query.len()
    }
}

/// Requests taken from the queue to be written together.
#[derive(Debug, Default)]
pub struct Batch {
    /// In the order they were queued.
    pub requests: Vec<Captured>,
    /// Whether the batch stopped at its bound, so more may be waiting (rather than at an empty
    /// queue).
    pub full: bool,
}

/// This replica's queue of requests waiting to be logged.
#[derive(Debug)]
pub struct RequestLogQueue {
    settings: RequestLogSettings,
    sender: mpsc::Sender<Captured>,
    receiver: Mutex<mpsc::Receiver<Captured>>,
    queued_bytes: AtomicUsize,
    /// Rows this replica has written for each organization since it last enforced that
    /// organization's cap (only organizations that exist: rows for others are not written).
    written_since_capped: std::sync::Mutex<HashMap<OrgId, u64>>,
}

impl RequestLogQueue {
    /// An empty queue.
    pub fn new(settings: RequestLogSettings) -> Arc<Self> {
        let (sender, receiver) = mpsc::channel(settings.queue_capacity.max(1));
        Arc::new(Self {
            settings,
            sender,
            receiver: Mutex::new(receiver),
            queued_bytes: AtomicUsize::new(0),
            written_since_capped: std::sync::Mutex::default(),
        })
    }

    /// Counts what a batch wrote, and takes the organizations due a cap check: those this
    /// replica has written half the cap for since their last one (their counts start again). So
    /// an organization's log exceeds its cap by at most half per replica, however fast it is
    /// written, where the janitor's hourly pass alone let an import write twenty times the cap
    /// first. A check reads the cap's worth of the organization's index entries, and their rows
    /// (rows written since the last vacuum are not all-visible): 30–45 ms at 100,000 rows, so
    /// about 0.6 µs of PostgreSQL time per logged request when done every half of the cap
    /// (`docs/benchmarks.md`, tenth round).
    fn due_for_cap(&self, written: &HashMap<OrgId, u64>) -> Vec<OrgId> {
        let every = (self.settings.max_rows_per_organization / 2).max(1);
        let mut counts = self
            .written_since_capped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut due = Vec::new();
        for (&org_id, &rows) in written {
            let count = counts.entry(org_id).or_insert(0);
            *count += rows;
            if *count >= every {
                counts.remove(&org_id);
                due.push(org_id);
            }
        }
        due
    }

    /// The settings.
    pub fn settings(&self) -> &RequestLogSettings {
        &self.settings
    }

    /// Whether requests are logged.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Queues a request without waiting; a full queue drops it (counted in [`DROPPED`]).
    pub fn push(&self, captured: Captured) {
        if !self.settings.enabled {
            return;
        }
        let weight = captured.weight();
        let before = self.queued_bytes.fetch_add(weight, Ordering::Relaxed);
        if before + weight > self.settings.queue_max_bytes {
            self.queued_bytes.fetch_sub(weight, Ordering::Relaxed);
            metrics::counter!(DROPPED, "reason" => "bytes").increment(1);
            return;
        }
        if self.sender.try_send(captured).is_err() {
            self.queued_bytes.fetch_sub(weight, Ordering::Relaxed);
            metrics::counter!(DROPPED, "reason" => "entries").increment(1);
        }
    }

    /// Waits for queued requests and takes up to a batch of them: at most `batch_size` requests
    /// and, past the first, at most `batch_max_bytes` of bodies. A batch is held three times over
    /// while it is written (the requests, the rows made of them, the statement's encoded
    /// values), so its bytes, not only its count, bound the writer's memory.
    pub async fn next_batch(&self) -> Batch {
        let mut receiver = self.receiver.lock().await;
        let Some(first) = receiver.recv().await else {
            return Batch::default();
        };
        let mut weight = first.weight();
        let mut requests = vec![first];
        let full = loop {
            if requests.len() >= self.settings.batch_size.max(1)
                || weight >= self.settings.batch_max_bytes
            {
                break true;
            }
            match receiver.try_recv() {
                Ok(captured) => {
                    weight += captured.weight();
                    requests.push(captured);
                }
                Err(_) => break false,
            }
        };
        self.queued_bytes.fetch_sub(weight, Ordering::Relaxed);
        Batch { requests, full }
    }

    /// Takes what is queued now, without waiting (tests, and a last flush).
    pub async fn drain(&self) -> Vec<Captured> {
        let mut batch = Vec::new();
        let mut receiver = self.receiver.lock().await;
        while let Ok(captured) = receiver.try_recv() {
            batch.push(captured);
        }
        let weight: usize = batch.iter().map(Captured::weight).sum();
        self.queued_bytes.fetch_sub(weight, Ordering::Relaxed);
        batch
    }
}

/// Redacts, truncates and writes a batch in one transaction, then keeps the organizations this
/// replica has written much for within their cap. Returns how many rows were written (requests
/// naming an organization that does not exist are not).
pub async fn write_batch(core: &Core, batch: Vec<Captured>) -> Result<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let queue = core.request_log();
    let max = queue.settings().max_body_bytes;
    let rows = batch.into_iter().map(|c| prepare(c, max)).collect();
    let txn = store::db::begin_write(core.request_log_db()).await?;
    let written = repo::insert_batch(&txn, rows).await?;
    txn.commit().await?;
    let count: u64 = written.values().sum();
    metrics::counter!(WRITTEN).increment(count);
    for org_id in queue.due_for_cap(&written) {
        // The batch is written whatever happens here; a cap that could not be enforced now is
        // the janitor's to enforce.
        match cap_organization(core, core.request_log_db(), org_id).await {
            Ok(deleted) => metrics::counter!(CAPPED).increment(deleted),
            Err(e) => {
                tracing::warn!(error = %e, org_id = org_id.0, "capping the SCIM request log failed")
            }
        }
    }
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// Rows deleted per transaction, by the writer's caps and the janitor's passes.
const DELETE_BATCH: u64 = 5_000;

/// Deletes one organization's rows past its newest `max_rows_per_organization`, through `db`, a
/// batch per transaction (the rows past the cap are found once). Returns how many went.
async fn cap_organization(core: &Core, db: &store::Database, org_id: OrgId) -> Result<u64> {
    let max_rows = core.request_log().settings().max_rows_per_organization;
    let Some(newest_past_cap) = repo::newest_past_cap(db, org_id, max_rows).await? else {
        return Ok(0);
    };
    let mut deleted = 0;
    for _ in 0..1_000 {
        let txn = store::db::begin_write(db).await?;
        let n = repo::delete_through(&txn, org_id, newest_past_cap, DELETE_BATCH).await?;
        txn.commit().await?;
        deleted += n;
        if n < DELETE_BATCH {
            break;
        }
    }
    Ok(deleted)
}

fn prepare(c: Captured, max_body_bytes: usize) -> NewLoggedRequest {
    let request_raw: Vec<u8> = c.request_body.concat();
    let (request_body, request_json) = redact::body(&request_raw, max_body_bytes);
    let response_raw = c.response_body.as_deref().unwrap_or_default();
    let (response_body, response_json) = match (c.response_cut_from, c.response_json) {
        (Some(total), _) => (
            Some(redact::cut_body(response_raw, total, max_body_bytes)),
            None,
        ),
        (None, Some(json)) => redact::written_body(json, response_raw, max_body_bytes),
        (None, None) => redact::body(response_raw, max_body_bytes),
    };
    let query = c
        .path_and_query
        .split_once('?')
        .map_or("", |(_, q)| q)
        .to_owned();
    let subject = |attribute| {
        redact::subject(
            attribute,
            request_json.as_ref(),
            response_json.as_ref(),
            &query,
        )
    };
    let (credential_kind, credential_id) = match c.credential {
        Some((kind, id)) => (Some(kind.to_owned()), Some(redact::clean(&id))),
        None => (None, None),
    };
    NewLoggedRequest {
        org: c.org,
        request_id: c.request_id.map(|r| redact::clean(&r)),
        method: redact::truncate(&redact::clean(&c.method), 16),
        path: redact::path(&c.path_and_query),
        status: c.status,
        duration_us: i64::try_from(c.duration.as_micros()).unwrap_or(i64::MAX),
        credential_kind,
        credential_id,
        client_ip: c.client_ip,
        user_name: subject("userName"),
        external_id: subject("externalId"),
        request_body,
        response_body,
        at: c.at,
    }
}

/// The longest text a search accepts in one field.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The most rows one page holds.
pub const MAX_PAGE: u64 = 500;

/// A search as a surface received it: text fields, checked here.
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    /// `2xx`, `4xx`, `5xx` or `refused`.
    pub status: Option<String>,
    /// An HTTP method.
    pub method: Option<String>,
    /// Text the path or a body contains.
    pub text: Option<String>,
    /// A userName or externalId.
    pub user: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Older than this row (the next page).
    pub before: Option<i64>,
    /// Rows per page.
    pub limit: u64,
}

/// The status classes a search names, as the surfaces spell them.
pub const STATUS_CLASSES: [&str; 4] = ["2xx", "4xx", "5xx", "refused"];
/// The methods SCIM uses.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One page of the log, newest first.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// The rows.
    pub rows: Vec<LoggedRequest>,
    /// The `before` of the next (older) page, when there may be one.
    pub next_before: Option<i64>,
}

fn text_field(name: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.contains('\0') {
        return Err(Error::Invalid(format!(
            "{name} contains a NUL character, which no logged request holds"
        )));
    }
    if value.chars().count() > MAX_SEARCH_CHARS {
        return Err(Error::Invalid(format!(
            "{name} is longer than {MAX_SEARCH_CHARS} characters"
        )));
    }
    Ok(Some(value.to_owned()))
}

impl SearchInput {
    /// The checked filter: a clear [`Error::Invalid`] for anything no row could match.
    pub fn filter(&self) -> Result<RequestLogFilter> {
        let status = match text_field("status", self.status.as_deref())?.as_deref() {
            None => None,
            Some("2xx") => Some(StatusClass::Success),
            Some("4xx") => Some(StatusClass::ClientError),
            Some("5xx") => Some(StatusClass::ServerError),
            Some("refused") => Some(StatusClass::Refused),
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "status “{other}” is not one of 2xx, 4xx, 5xx or refused"
                )));
            }
        };
        let method = match text_field("method", self.method.as_deref())? {
            None => None,
            Some(m) => {
                let upper = m.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) {
                    return Err(Error::Invalid(format!(
                        "method “{m}” is not one of GET, POST, PUT, PATCH or DELETE"
                    )));
                }
                Some(upper)
            }
        };
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(Error::Invalid(
                "the time range ends before it starts".into(),
            ));
        }
        Ok(RequestLogFilter {
            status,
            method,
            text: text_field("text", self.text.as_deref())?,
            user: text_field("user", self.user.as_deref())?,
            since: self.since,
            until: self.until,
        })
    }
}

/// The organization's logged requests matching `input`, newest first.
pub async fn search(core: &Core, scope: &OrgScope, input: &SearchInput) -> Result<LogPage> {
    let filter = input.filter()?;
    let limit = input.limit.clamp(1, MAX_PAGE);
    let before = input.before.filter(|b| *b > 0).map(RequestLogId);
    let rows = repo::search(core.db(), scope, &filter, before, limit).await?;
    let next_before = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| r.id.0))
        .flatten();
    Ok(LogPage { rows, next_before })
}

/// The organization's requests answered with an error since `since`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// Refused by the credential or the organization's switch (401, 403).
    pub refused: u64,
    /// Other client errors (400, 404, 409, 412, 429…).
    pub client: u64,
    /// Server errors (5xx).
    pub server: u64,
}

/// How many of the organization's logged requests since `since` were answered with an error.
pub async fn errors_since(
    core: &Core,
    scope: &OrgScope,
    since: DateTime<Utc>,
) -> Result<ErrorCounts> {
    let (refused, client, server) = repo::errors_since(core.db(), scope, since).await?;
    Ok(ErrorCounts {
        refused,
        client,
        server,
    })
}

/// One logged request of the organization.
pub async fn get(core: &Core, scope: &OrgScope, id: i64) -> Result<LoggedRequest> {
    repo::get(core.db(), scope, RequestLogId(id))
        .await?
        .ok_or_else(|| Error::NotFound("no such request in this organization's log".into()))
}

/// What the janitor removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows past their retention.
    pub expired: u64,
    /// Rows over an organization's cap.
    pub over_cap: u64,
}

/// Deletes what is past the retention at `now`, then what is over each organization's cap (the
/// writers keep their own organizations near it; this catches what is left: several replicas'
/// writes, a cap that failed), in bounded batches.
pub async fn prune(core: &Core, now: DateTime<Utc>) -> Result<Pruned> {
    let settings = core.request_log().settings().clone();
    let mut pruned = Pruned::default();
    for _ in 0..1_000 {
        let txn = store::db::begin_write(core.db()).await?;
        let deleted = repo::prune_before(&txn, now - settings.retention, DELETE_BATCH).await?;
        txn.commit().await?;
        pruned.expired += deleted;
        if deleted < DELETE_BATCH {
            break;
        }
    }
    for org_id in repo::organizations_over(core.db(), settings.max_rows_per_organization).await? {
        pruned.over_cap += cap_organization(core, core.db(), org_id).await?;
    }
    Ok(pruned)
}
