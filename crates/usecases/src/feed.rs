//! The change feed as readers see it: envelopes in position order, opaque cursors (optionally
//! carrying a snapshot's already-seen events), the sequencer's step, and retention. Organization
//! UIDs and the region are filled in here; the store keeps internal ids.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::ids::{EventId, OrgId};
use store::repo::events::Event;
use store::repo::feed::{self, FeedFilter, Sequenced, Snapshot};
use store::repo::organizations;

use crate::{Core, Error, Result};

/// The envelope format's version (`api_version` of every event).
pub const API_VERSION: &str = "2026-12-01";
/// Most events in one page.
pub const MAX_PAGE: u64 = 1000;

/// A position in the feed, opaque to readers: the position read up to and, for a cursor taken
/// with a snapshot, the events the snapshot already reflected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Events up to this position are behind the reader.
    #[serde(rename = "p")]
    pub position: i64,
    /// Later events the reader already has (from a snapshot).
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<i64>,
}

impl Cursor {
    /// The cursor as a string.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor from its string.
    pub fn decode(text: &str) -> Result<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            .filter(|c| c.position >= 0)
            .ok_or_else(|| Error::Invalid("the cursor is not a cursor of the event feed".into()))
    }

    fn of(snapshot: Snapshot) -> Self {
        Self {
            position: snapshot.position,
            seen: snapshot.unpositioned.into_iter().map(|id| id.0).collect(),
        }
    }
}

/// Events gone with retention: the cursor is older than what is kept.
#[derive(Debug, Clone)]
pub struct CursorExpired {
    /// The earliest cursor still valid.
    pub earliest: Cursor,
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// Envelopes, in position order.
    pub events: Vec<Value>,
    /// Where the next page starts.
    pub next: Cursor,
}

/// What a reader asks for.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    /// Continue after this cursor (`None`: from the earliest event kept).
    pub after: Option<Cursor>,
    /// Page size.
    pub limit: u64,
    /// Event kinds (empty: every kind).
    pub kinds: Vec<String>,
    /// One organization, by UID.
    pub organization: Option<String>,
}

/// Reads one page: events after the cursor, up to the feed's head as it stands now.
pub async fn page(
    core: &Core,
    query: &FeedQuery,
) -> Result<std::result::Result<FeedPage, CursorExpired>> {
    let db = core.db();
    let state = feed::state(db).await?;
    let after = query.after.clone().unwrap_or(Cursor {
        position: state.pruned_through,
        seen: Vec::new(),
    });
    if after.position < state.pruned_through {
        return Ok(Err(CursorExpired {
            earliest: Cursor {
                position: state.pruned_through,
                seen: Vec::new(),
            },
        }));
    }
    let org = match &query.organization {
        Some(uid) => Some(
            organization_id(core, uid)
                .await?
                .ok_or_else(|| Error::NotFound(format!("organization {uid} not found")))?,
        ),
        None => None,
    };
    let filter = FeedFilter {
        org,
        kinds: query.kinds.clone(),
        skip: after.seen.iter().copied().map(EventId).collect(),
    };
    let limit = query.limit.clamp(1, MAX_PAGE);
    let rows = feed::page(db, after.position, state.last_position, &filter, limit).await?;
    // A short page read everything up to the head; a full one continues after its last event.
    let reached = if (rows.len() as u64) < limit {
        state.last_position
    } else {
        rows.last()
            .and_then(|e| e.position)
            .unwrap_or(after.position)
    };
    // A snapshot's events ride along until the reader has passed their positions.
    let seen = if after.seen.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<EventId> = after.seen.iter().copied().map(EventId).collect();
        let positions = feed::positions_of(db, &ids).await?;
        ids.into_iter()
            .filter(|id| match positions.get(id) {
                Some(Some(position)) => *position > reached,
                Some(None) => true,
                None => false,
            })
            .map(|id| id.0)
            .collect()
    };
    let events = envelopes(core, rows).await?;
    Ok(Ok(FeedPage {
        events,
        next: Cursor {
            position: reached,
            seen,
        },
    }))
}

async fn organization_id(core: &Core, uid: &str) -> Result<Option<OrgId>> {
    Ok(organizations::find_by_uid(core.db(), uid)
        .await?
        .map(|o| o.id))
}

/// The envelopes of stored events.
pub async fn envelopes(core: &Core, rows: Vec<Event>) -> Result<Vec<Value>> {
    let mut orgs: Vec<OrgId> = rows.iter().filter_map(|e| e.org_id).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let uids = organizations::uids(core.db(), &orgs).await?;
    Ok(rows.into_iter().map(|e| envelope(core, &uids, e)).collect())
}

/// The envelope of one stored event: what the events API lists and webhooks deliver.
pub fn envelope(core: &Core, org_uids: &HashMap<OrgId, String>, event: Event) -> Value {
    let data: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    let mut out = json!({
        "id": event.uid,
        "type": event.kind,
        "api_version": API_VERSION,
        "timestamp": event.created_at,
        "region": core.settings().region,
        "organization": event.org_id.and_then(|org| org_uids.get(&org)),
        "sequence": event.sequence,
        "subject": {"type": event.subject_type, "id": event.subject_id, "version": event.subject_version},
        "actor": {"type": event.actor_type, "id": event.actor_id},
        "request_id": event.request_id,
        "data": data,
    });
    if let Some(previous) = event
        .previous
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert("previous_attributes".into(), previous);
    }
    out
}

/// Opens a read transaction for a listing and takes the feed's cursor in it: read the listing in
/// the returned transaction, and following the feed from the cursor continues exactly where the
/// listing stands (no gap, and no overlap unless the sequencer is far behind; see
/// `store::repo::feed::snapshot`).
pub async fn snapshot(core: &Core) -> Result<(store::Transaction, Cursor)> {
    let txn = store::db::begin_read(core.db()).await?;
    let snapshot = feed::snapshot(&txn).await?;
    Ok((txn, Cursor::of(snapshot)))
}

/// One sequencer pass (see `store::repo::feed`): commits and returns what it did. With nothing
/// waiting it only reads (an idle replica's poll opens no write transaction).
pub async fn sequence(
    core: &Core,
    limit: u64,
    now: DateTime<Utc>,
    fresh: Option<feed::FreshLease<'_>>,
) -> Result<Sequenced> {
    if !feed::backlog(core.db()).await? {
        return Ok(Sequenced::default());
    }
    sequence_waiting(core, limit, now, fresh).await
}

/// [`sequence`] without first looking whether anything waits: for a pass that a commit with
/// events (or a full previous batch) just announced, where the look would almost always say yes
/// and cost one more statement per pass.
pub async fn sequence_waiting(
    core: &Core,
    limit: u64,
    now: DateTime<Utc>,
    fresh: Option<feed::FreshLease<'_>>,
) -> Result<Sequenced> {
    let txn = store::db::begin_write(core.db()).await?;
    let done = feed::sequence(&txn, limit, now, fresh).await?;
    txn.commit().await?;
    if done.events > 0 {
        core.signals().feed_advanced();
    }
    if done.waiting() > 0 {
        core.signals().deliveries_due();
    }
    Ok(done)
}

/// Deletes events older than the retention (in bounded steps); returns how many went.
pub async fn prune(core: &Core, retention: chrono::Duration, now: DateTime<Utc>) -> Result<u64> {
    let mut total = 0;
    for _ in 0..100 {
        let txn = store::db::begin_write(core.db()).await?;
        let deleted = feed::prune(&txn, now - retention, 5_000).await?;
        txn.commit().await?;
        total += deleted;
        if deleted == 0 {
            break;
        }
    }
    Ok(total)
}
