//! The change feed's order. Events are written by their changes' transactions with no shared
//! counter (no lock on the write path); the sequencer then gives them, in the order they became
//! visible, the organization's next `sequence` (gapless per organization) and the region's next
//! `position` (the feed's cursor). Positions are only ever given by one sequencer at a time (a
//! PostgreSQL advisory lock; SQLite has one writer), in committed batches, so a reader that pages
//! by position never skips an event whose transaction committed late: such an event simply gets a
//! later position. Within an organization, a change that waited for another's row lock writes its
//! events after that change committed, so id order — the batch order — is the order of effects.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::db::{Conn, Raw};
use crate::ids::{EventId, OrgId};
use crate::repo::events::Event;
use crate::repo::webhooks::{self, EndpointFilter};
use crate::{StoreError, StoreResult};

/// The advisory lock the sequencer holds for one batch (PostgreSQL).
const SEQUENCER_LOCK: i64 = 0x005c_1a7e_f33d;
/// The channel a sequenced batch is announced on (PostgreSQL `NOTIFY`).
pub const FEED_CHANNEL: &str = "scimgate_feed";
/// Rows per `VALUES` chunk of an update (3 parameters each).
const UPDATE_CHUNK: usize = 300;

/// A statement whose `?` placeholders become `$1…` on PostgreSQL.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    if backend != DbBackend::Postgres {
        return Statement::from_sql_and_values(backend, sql, values);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Statement::from_sql_and_values(backend, out, values)
}

/// The feed's head and how far it was pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedState {
    /// The last position given.
    pub last_position: i64,
    /// Events at or below this position were deleted by retention.
    pub pruned_through: i64,
}

/// Reads the feed's state.
pub async fn state(conn: &impl Conn) -> StoreResult<FeedState> {
    let raw = conn.raw();
    let row = raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "SELECT last_position, pruned_through FROM feed_state WHERE id = 1",
            vec![],
        ))
        .await?
        .ok_or(StoreError::NotFound("feed state"))?;
    Ok(FeedState {
        last_position: row.try_get("", "last_position")?,
        pruned_through: row.try_get("", "pruned_through")?,
    })
}

/// What one sequencing pass did.
#[derive(Debug, Clone, Default)]
pub struct Sequenced {
    /// Events given a position.
    pub events: usize,
    /// Webhook deliveries created for them.
    pub deliveries: usize,
    /// The feed's head after the pass.
    pub last_position: i64,
    /// Whether another replica held the sequencer (nothing was done here).
    pub busy: bool,
    /// The deliveries created leased to [`FreshLease::owner`], ready to send.
    pub leased: Vec<webhooks::Claimed>,
}

impl Sequenced {
    /// Deliveries created for a claim to find (not leased to this replica's worker).
    pub fn waiting(&self) -> usize {
        self.deliveries.saturating_sub(self.leased.len())
    }
}

/// What a sequenced batch's notification on [`FEED_CHANNEL`] says: the feed's new head and how
/// many of its deliveries wait for a claim, so other replicas' delivery workers wake only when
/// there is something for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The feed's head after the batch.
    pub position: i64,
    /// Deliveries created waiting for a claim.
    pub waiting: usize,
}

impl Announcement {
    /// The notification's payload: `"{position} {waiting}"`.
    pub fn payload(&self) -> String {
        format!("{} {}", self.position, self.waiting)
    }

    /// Reads a payload. An older replica's payload (the position alone) or anything else
    /// unreadable says nothing about deliveries, so it is read as "some may wait".
    pub fn parse(payload: &str) -> Self {
        let mut parts = payload.split(' ');
        let position = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let waiting = parts.next().and_then(|w| w.parse().ok()).unwrap_or(1);
        Self { position, waiting }
    }
}

/// Who sends a pass's new deliveries: the replica that sequences the events hands them straight
/// to its own delivery worker, leased at creation, so no claim has to find and lease them again
/// (a claim is a scan and an update of every delivery it takes). Deliveries to ordered endpoints
/// are never leased here — their claim is what holds an organization's next event back.
#[derive(Debug, Clone, Copy)]
pub struct FreshLease<'a> {
    /// The worker's lease owner.
    pub owner: &'a str,
    /// Until when the lease holds.
    pub until: DateTime<Utc>,
    /// How many the worker has room for; the rest wait for a claim.
    pub max: usize,
}

/// Gives the next `limit` visible events their sequence and position, creates their webhook
/// deliveries (up to `fresh.max` of them leased to `fresh.owner`), and announces the batch — all
/// in the caller's transaction (commit it before sending what [`Sequenced::leased`] holds).
pub async fn sequence(
    conn: &impl Conn,
    limit: u64,
    now: DateTime<Utc>,
    fresh: Option<FreshLease<'_>>,
) -> StoreResult<Sequenced> {
    let raw = conn.raw();
    let backend = raw.get_database_backend();
    if backend == DbBackend::Postgres {
        let locked = raw
            .query_one_raw(statement(
                backend,
                "SELECT pg_try_advisory_xact_lock(?) AS locked",
                vec![SEQUENCER_LOCK.into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?
            .unwrap_or(false);
        if !locked {
            return Ok(Sequenced {
                busy: true,
                ..Sequenced::default()
            });
        }
    }
    let rows = raw
        .query_all_raw(statement(
            backend,
            "SELECT id, org_id, kind FROM events WHERE position IS NULL ORDER BY id LIMIT ?",
            vec![(limit as i64).into()],
        ))
        .await?;
    let mut batch: Vec<(EventId, Option<OrgId>, String)> = Vec::with_capacity(rows.len());
    for row in rows {
        batch.push((
            EventId(row.try_get("", "id")?),
            row.try_get::<Option<i64>>("", "org_id")?.map(OrgId),
            row.try_get("", "kind")?,
        ));
    }
    if batch.is_empty() {
        return Ok(Sequenced {
            last_position: state(conn).await?.last_position,
            ..Sequenced::default()
        });
    }
    // The head and the organizations' counters move by this batch's counts, each in the one
    // statement that also says where it now stands (rather than a read, then a write).
    let head = advance_head(conn, batch.len()).await?;
    let mut per_org: HashMap<OrgId, i64> = HashMap::new();
    for org in batch.iter().filter_map(|(_, org, _)| *org) {
        *per_org.entry(org).or_insert(0) += 1;
    }
    let mut next_sequence = advance_counters(conn, &per_org).await?;
    if next_sequence.len() != per_org.len() {
        // Every counter the upsert touched comes back; one missing would repeat its numbers.
        return Err(StoreError::NotFound("event counter"));
    }
    let mut assigned: Vec<Assigned> = Vec::with_capacity(batch.len());
    let mut position = head - batch.len() as i64;
    for (event, org, kind) in batch {
        position += 1;
        // Region-level events have a position but no organization sequence.
        let sequence = org.map(|org| {
            let sequence = next_sequence.entry(org).or_insert(1);
            *sequence += 1;
            *sequence - 1
        });
        assigned.push(Assigned {
            event,
            org,
            kind,
            position,
            sequence,
        });
    }
    for chunk in assigned.chunks(UPDATE_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len() * 3);
        let rows: Vec<&str> = chunk.iter().map(|_| "(?, ?, ?)").collect();
        for a in chunk {
            values.push(a.event.0.into());
            values.push(a.position.into());
            values.push(a.sequence.into());
        }
        let sql = format!(
            "WITH v(id, pos, seq) AS (VALUES {}) \
             UPDATE events SET position = (SELECT pos FROM v WHERE v.id = events.id), \
             sequence = (SELECT seq FROM v WHERE v.id = events.id) \
             WHERE id IN (SELECT id FROM v)",
            rows.join(", ")
        );
        raw.execute_raw(statement(backend, &sql, values)).await?;
    }
    let endpoints = webhooks::active(conn).await?;
    let (deliveries, leased) = fan_out(conn, &endpoints, &assigned, now, fresh).await?;
    let done = Sequenced {
        events: assigned.len(),
        deliveries,
        last_position: position,
        busy: false,
        leased,
    };
    if backend == DbBackend::Postgres {
        let announced = Announcement {
            position,
            waiting: done.waiting(),
        };
        raw.execute_raw(statement(
            backend,
            "SELECT pg_notify(?, ?)",
            vec![FEED_CHANNEL.into(), announced.payload().into()],
        ))
        .await?;
    }
    Ok(done)
}

/// An event as the sequencer numbered it.
struct Assigned {
    event: EventId,
    org: Option<OrgId>,
    kind: String,
    position: i64,
    sequence: Option<i64>,
}

/// Moves the feed's head past `count` new events; returns the new head (the last of their
/// positions).
async fn advance_head(conn: &impl Conn, count: usize) -> StoreResult<i64> {
    let raw = conn.raw();
    let row = raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "UPDATE feed_state SET last_position = last_position + ? WHERE id = 1 \
             RETURNING last_position",
            vec![(count as i64).into()],
        ))
        .await?
        .ok_or(StoreError::NotFound("feed state"))?;
    Ok(row.try_get("", "last_position")?)
}

/// Moves each organization's sequence past its `count` new events (creating its counter at the
/// first); returns each organization's first new sequence number.
async fn advance_counters(
    conn: &impl Conn,
    counts: &HashMap<OrgId, i64>,
) -> StoreResult<HashMap<OrgId, i64>> {
    let raw = conn.raw();
    let mut orgs: Vec<(OrgId, i64)> = counts.iter().map(|(org, n)| (*org, *n)).collect();
    orgs.sort_unstable();
    let mut first = HashMap::with_capacity(orgs.len());
    for chunk in orgs.chunks(UPDATE_CHUNK) {
        let rows: Vec<&str> = chunk.iter().map(|_| "(?, ?)").collect();
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (org, count) in chunk {
            values.push(org.0.into());
            values.push((*count).into());
        }
        let sql = format!(
            "INSERT INTO event_counters (org_id, last_sequence) VALUES {} \
             ON CONFLICT (org_id) DO UPDATE \
             SET last_sequence = event_counters.last_sequence + excluded.last_sequence \
             RETURNING org_id, last_sequence",
            rows.join(", ")
        );
        let returned = raw
            .query_all_raw(statement(raw.get_database_backend(), &sql, values))
            .await?;
        for row in returned {
            let org = OrgId(row.try_get("", "org_id")?);
            let last: i64 = row.try_get("", "last_sequence")?;
            first.insert(org, last - counts.get(&org).copied().unwrap_or(0) + 1);
        }
    }
    Ok(first)
}

/// One delivery per (enabled endpoint whose filters match, event); up to `fresh.max` of those to
/// unordered endpoints are created leased and returned ready to send.
async fn fan_out(
    conn: &impl Conn,
    endpoints: &[webhooks::Endpoint],
    events: &[Assigned],
    now: DateTime<Utc>,
    fresh: Option<FreshLease<'_>>,
) -> StoreResult<(usize, Vec<webhooks::Claimed>)> {
    if endpoints.is_empty() {
        return Ok((0, Vec::new()));
    }
    let filters: Vec<(EndpointFilter, bool)> = endpoints
        .iter()
        .map(|e| (EndpointFilter::of(e), e.ordered))
        .collect();
    let mut room = fresh.map_or(0, |f| f.max);
    let mut leased = Vec::new();
    let mut waiting = Vec::new();
    for a in events {
        for (filter, ordered) in &filters {
            if filter.matches(a.org, &a.kind) {
                let row = (filter.id, a.event, a.org, a.position);
                if !ordered && room > 0 {
                    room -= 1;
                    leased.push(row);
                } else {
                    waiting.push(row);
                }
            }
        }
    }
    webhooks::insert_deliveries(conn, &waiting, now, None).await?;
    let count = leased.len() + waiting.len();
    let Some(fresh) = fresh.filter(|_| !leased.is_empty()) else {
        return Ok((count, Vec::new()));
    };
    let lease = webhooks::Lease {
        owner: fresh.owner,
        until: fresh.until,
    };
    webhooks::insert_deliveries(conn, &leased, now, Some(lease)).await?;
    let mut leased_events: Vec<EventId> = leased.iter().map(|(_, event, _, _)| *event).collect();
    leased_events.dedup();
    let ready = webhooks::leased_to(conn, fresh.owner, &leased_events, endpoints).await?;
    Ok((count, ready))
}

/// Which events a reader wants.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    /// One organization only.
    pub org: Option<OrgId>,
    /// These kinds only (empty: every kind).
    pub kinds: Vec<String>,
    /// Events a snapshot already reflected (see [`snapshot`]).
    pub skip: Vec<EventId>,
}

/// Events after position `after` and at most `upto`, in position order, `limit` at most.
pub async fn page(
    conn: &impl Conn,
    after: i64,
    upto: i64,
    filter: &FeedFilter,
    limit: u64,
) -> StoreResult<Vec<Event>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

    use crate::entity::events::{self, Entity as Events};
    let mut query = Events::find()
        .filter(events::Column::Position.gt(after))
        .filter(events::Column::Position.lte(upto));
    if let Some(org) = filter.org {
        query = query.filter(events::Column::OrgId.eq(org));
    }
    if !filter.kinds.is_empty() {
        query = query.filter(events::Column::Kind.is_in(filter.kinds.iter().cloned()));
    }
    if !filter.skip.is_empty() {
        query = query.filter(events::Column::Id.is_not_in(filter.skip.iter().copied()));
    }
    Ok(query
        .order_by_asc(events::Column::Position)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// Where the feed stands in the caller's (read) transaction: the head, and the events already
/// committed but not yet given a position. A listing read in the same transaction reflects
/// exactly the events up to the head plus those: the feed from this snapshot continues with the
/// events after the head, less those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The head.
    pub position: i64,
    /// Committed events the sequencer had not reached.
    pub unpositioned: Vec<EventId>,
}

/// The most unpositioned events a snapshot carries (the sequencer normally keeps this near 0).
pub const MAX_SNAPSHOT_BACKLOG: u64 = 500;

/// Reads the feed's snapshot in the caller's transaction. When the sequencer is so far behind
/// that more than [`MAX_SNAPSHOT_BACKLOG`] events wait, the snapshot names none of them, so the
/// cursor stays small: the reader then also receives those events, which its listing already
/// reflects (an overlap, never a gap; `subject.version` tells the reader they are not news).
pub async fn snapshot(conn: &impl Conn) -> StoreResult<Snapshot> {
    let head = state(conn).await?;
    let raw = conn.raw();
    let rows = raw
        .query_all_raw(statement(
            raw.get_database_backend(),
            "SELECT id FROM events WHERE position IS NULL ORDER BY id LIMIT ?",
            vec![((MAX_SNAPSHOT_BACKLOG + 1) as i64).into()],
        ))
        .await?;
    let mut unpositioned = Vec::with_capacity(rows.len());
    if rows.len() as u64 <= MAX_SNAPSHOT_BACKLOG {
        for row in rows {
            unpositioned.push(EventId(row.try_get("", "id")?));
        }
    }
    Ok(Snapshot {
        position: head.last_position,
        unpositioned,
    })
}

/// Whether there are events waiting for a position.
pub async fn backlog(conn: &impl Conn) -> StoreResult<bool> {
    let raw = conn.raw();
    Ok(raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "SELECT id FROM events WHERE position IS NULL LIMIT 1",
            vec![],
        ))
        .await?
        .is_some())
}

/// The oldest event not yet given a position, if any: how far behind the sequencer is.
pub async fn oldest_unpositioned(conn: &impl Conn) -> StoreResult<Option<DateTime<Utc>>> {
    let raw = conn.raw();
    Ok(raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "SELECT created_at FROM events WHERE position IS NULL ORDER BY id LIMIT 1",
            vec![],
        ))
        .await?
        .map(|row| row.try_get::<DateTime<Utc>>("", "created_at"))
        .transpose()?)
}

/// Deletes positioned events created before `before` (and their deliveries), at most `limit` per
/// call, oldest first; records how far the feed is pruned. Returns how many went.
pub async fn prune(conn: &impl Conn, before: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
    let raw = conn.raw();
    let backend = raw.get_database_backend();
    let row = raw
        .query_one_raw(statement(
            backend,
            "SELECT MAX(position) AS upto FROM (SELECT position FROM events \
             WHERE position IS NOT NULL AND created_at < ? ORDER BY position LIMIT ?) AS old",
            vec![before.into(), (limit as i64).into()],
        ))
        .await?;
    let Some(upto) = row
        .map(|r| r.try_get::<Option<i64>>("", "upto"))
        .transpose()?
        .flatten()
    else {
        return Ok(0);
    };
    let deleted = raw
        .execute_raw(statement(
            backend,
            "DELETE FROM events WHERE position IS NOT NULL AND position <= ?",
            vec![upto.into()],
        ))
        .await?
        .rows_affected();
    raw.execute_raw(statement(
        backend,
        "UPDATE feed_state SET pruned_through = ? WHERE id = 1 AND pruned_through < ?",
        vec![upto.into(), upto.into()],
    ))
    .await?;
    Ok(deleted)
}

/// The positions of events (`None`: not yet given); events that no longer exist are absent.
pub async fn positions_of(
    conn: &impl Conn,
    ids: &[EventId],
) -> StoreResult<HashMap<EventId, Option<i64>>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

    use crate::entity::events::{self, Entity as Events};
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(EventId, Option<i64>)> = Events::find()
            .select_only()
            .column(events::Column::Id)
            .column(events::Column::Position)
            .filter(events::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn.raw())
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

#[cfg(test)]
mod announcement_tests {
    use super::Announcement;

    #[test]
    fn a_payload_reads_back_and_an_older_one_reads_as_maybe_waiting() {
        let announced = Announcement {
            position: 41_207,
            waiting: 3,
        };
        assert_eq!(announced.payload(), "41207 3");
        assert_eq!(Announcement::parse(&announced.payload()), announced);
        let none_waiting = Announcement {
            position: 9,
            waiting: 0,
        };
        assert_eq!(Announcement::parse("9 0"), none_waiting);
        // A replica from before the count (the position alone) may have left some.
        assert_eq!(Announcement::parse("41207").waiting, 1);
        assert_eq!(Announcement::parse("").waiting, 1);
        assert_eq!(Announcement::parse("x y").waiting, 1);
    }
}
