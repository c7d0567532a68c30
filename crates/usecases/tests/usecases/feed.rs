//! The change feed: commit order with no gap, per-organization sequences, listings whose cursor
//! continues exactly where they stand, filters and retention.

use serde_json::{Value, json};
use store::repo::events::NewEvent;
use store::repo::members::MemberFilter;
use testkit::{Backend, backend_tests};
use usecases::feed::{Cursor, FeedQuery};

use super::common::*;

fn all() -> FeedQuery {
    FeedQuery {
        limit: 100,
        ..FeedQuery::default()
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The events that mention `needle` (an id or an email) anywhere.
fn mentioning<'a>(events: &'a [Value], needle: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e.to_string().contains(needle))
        .collect()
}

/// Asserts each organization's `sequence` runs 1, 2, 3… in feed order.
fn assert_gapless_per_org(events: &[Value]) {
    let mut last: std::collections::HashMap<String, i64> = Default::default();
    for event in events {
        let org = event["organization"].as_str().unwrap().to_owned();
        let sequence = event["sequence"].as_i64().unwrap();
        let previous = last.insert(org.clone(), sequence).unwrap_or(0);
        assert_eq!(sequence, previous + 1, "{org} jumped: {event}");
    }
}

/// Events appear in the feed once sequenced, in the envelope the docs describe, each
/// organization's numbered without a gap even when organizations interleave.
async fn events_are_published_in_commit_order_with_per_org_sequences(backend: Backend) {
    let world = world(backend).await;
    let other = other_org(&world.core, "Globex", "owner@globex.test").await;
    let (before, _) = follow(&world.core, None, all()).await;
    assert!(
        before.is_empty(),
        "nothing is published before the sequencer runs"
    );
    for i in 0..3 {
        scim_user(&world, &idp(), &format!("a{i}"), &format!("a{i}@acme.test")).await;
        scim_user_in(
            &world.core,
            &other,
            &format!("g{i}"),
            &format!("g{i}@globex.test"),
        )
        .await;
    }
    sequence_all(&world.core).await;
    let (events, cursor) = follow(&world.core, None, all()).await;
    assert_gapless_per_org(&events);
    let orgs: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["organization"].as_str())
        .collect();
    assert_eq!(orgs.len(), 2, "{orgs:?}");
    let first = &events[0];
    for field in [
        "id",
        "type",
        "api_version",
        "timestamp",
        "region",
        "organization",
        "sequence",
        "subject",
        "actor",
        "data",
    ] {
        assert!(!first[field].is_null(), "the envelope has {field}: {first}");
    }
    assert_eq!(first["api_version"], usecases::feed::API_VERSION);
    assert_eq!(first["region"], "local");
    // Nothing new: the cursor stands at the head.
    let (rest, again) = follow(&world.core, Some(cursor.clone()), all()).await;
    assert!(rest.is_empty());
    assert_eq!(again, cursor);
    // A cursor survives its text form; a foreign string is refused.
    assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    assert!(Cursor::decode("bm90IGEgY3Vyc29y").is_err());
    assert!(Cursor::decode("").is_err());
}

/// Small pages follow each other without repeating or skipping an event.
async fn pages_chain_without_gaps_or_repeats(backend: Backend) {
    let world = world(backend).await;
    for i in 0..7 {
        scim_user(&world, &idp(), &format!("u{i}"), &format!("u{i}@acme.test")).await;
    }
    sequence_all(&world.core).await;
    let (whole, _) = follow(&world.core, None, all()).await;
    let (paged, _) = follow(
        &world.core,
        None,
        FeedQuery {
            limit: 3,
            ..FeedQuery::default()
        },
    )
    .await;
    assert_eq!(ids(&paged), ids(&whole));
    assert!(whole.len() >= 14, "two events per user: {}", whole.len());
}

/// Type and organization filters keep the cursor moving over what they skip.
async fn filters_select_types_and_one_organization(backend: Backend) {
    let world = world(backend).await;
    let other = other_org(&world.core, "Globex", "owner@globex.test").await;
    scim_user(&world, &idp(), "a", "a@acme.test").await;
    scim_user_in(&world.core, &other, "g", "g@globex.test").await;
    sequence_all(&world.core).await;
    let (invited, _) = follow(
        &world.core,
        None,
        FeedQuery {
            limit: 100,
            kinds: vec!["membership.invited".into()],
            ..FeedQuery::default()
        },
    )
    .await;
    assert!(!invited.is_empty());
    assert!(invited.iter().all(|e| e["type"] == "membership.invited"));
    let globex = other.org_uid().to_owned();
    let (only, _) = follow(
        &world.core,
        None,
        FeedQuery {
            limit: 100,
            organization: Some(globex.clone()),
            ..FeedQuery::default()
        },
    )
    .await;
    assert!(!only.is_empty());
    assert!(only.iter().all(|e| e["organization"] == globex.as_str()));
    let unknown = usecases::feed::page(
        &world.core,
        &FeedQuery {
            limit: 10,
            organization: Some("org_nope".into()),
            ..FeedQuery::default()
        },
    )
    .await;
    assert!(matches!(unknown, Err(usecases::Error::NotFound(_))));
}

/// A member listing's cursor continues exactly where the listing stands: a change the listing
/// already shows is not repeated, even when the sequencer had not published it yet, and the
/// next change is not missed.
async fn a_listing_cursor_continues_with_no_gap_and_no_overlap(backend: Backend) {
    let world = world(backend).await;
    scim_user(&world, &idp(), "early", "early@acme.test").await;
    sequence_all(&world.core).await;
    // Committed, not yet published when the listing is read.
    scim_user(&world, &idp(), "late", "late@acme.test").await;
    let (members, cursor) = usecases::members::list(
        &world.core,
        &world.scope,
        &MemberFilter::default(),
        None,
        100,
    )
    .await
    .unwrap();
    let emails: Vec<String> = members
        .iter()
        .map(|m| m.account.email.to_string())
        .collect();
    assert!(emails.contains(&"late@acme.test".to_owned()), "{emails:?}");
    assert!(
        !cursor.seen.is_empty(),
        "the unpublished events ride in the cursor"
    );
    scim_user(&world, &idp(), "after", "after@acme.test").await;
    sequence_all(&world.core).await;
    let (events, _) = follow(
        &world.core,
        Some(Cursor::decode(&cursor.encode()).unwrap()),
        all(),
    )
    .await;
    assert!(
        mentioning(&events, "late@acme.test").is_empty(),
        "the listing already had 'late': {events:?}"
    );
    assert!(
        !mentioning(&events, "after@acme.test").is_empty(),
        "the change after the listing is in the feed: {events:?}"
    );
}

/// Retention deletes old events; a cursor older than what is kept gets `CursorExpired` naming
/// the earliest cursor, and reading from the start begins there.
async fn pruned_events_expire_old_cursors(backend: Backend) {
    let world = world(backend).await;
    scim_user(&world, &idp(), "old", "old@acme.test").await;
    sequence_all(&world.core).await;
    let start = Cursor::default();
    let removed = usecases::feed::prune(
        &world.core,
        chrono::Duration::days(1),
        chrono::Utc::now() + chrono::Duration::days(2),
    )
    .await
    .unwrap();
    assert!(removed >= 2, "{removed}");
    let expired = usecases::feed::page(
        &world.core,
        &FeedQuery {
            after: Some(start),
            limit: 10,
            ..FeedQuery::default()
        },
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(expired.earliest.position > 0);
    scim_user(&world, &idp(), "new", "new@acme.test").await;
    sequence_all(&world.core).await;
    let (events, _) = follow(&world.core, None, all()).await;
    assert!(!events.is_empty());
    assert_eq!(
        mentioning(&events, "new@acme.test").len(),
        events.len(),
        "{events:?}"
    );
    let (from_earliest, _) = follow(&world.core, Some(expired.earliest), all()).await;
    assert_eq!(ids(&from_earliest), ids(&events));
}

backend_tests!(
    events_are_published_in_commit_order_with_per_org_sequences,
    pages_chain_without_gaps_or_repeats,
    filters_select_types_and_one_organization,
    a_listing_cursor_continues_with_no_gap_and_no_overlap,
    pruned_events_expire_old_cursors,
);

/// PostgreSQL commits concurrently: a transaction that wrote its event first but commits last
/// must not be skipped by a reader that already read past the others. (SQLite has one writer:
/// a transaction cannot commit around another's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_is_published_after_what_was_read_never_skipped() {
    let world = world(Backend::Postgres).await;
    sequence_all(&world.core).await;
    let (_, cursor) = follow(&world.core, None, all()).await;
    // The slow transaction writes its event (the lower id) and holds its commit.
    let slow = store::db::begin_write(world.core.db()).await.unwrap();
    store::repo::events::append(
        &slow,
        &world.scope,
        &[NewEvent {
            kind: "organization.updated",
            subject_type: "organization",
            subject_id: world.scope.org_uid().to_owned(),
            subject_version: None,
            actor_type: "operator",
            actor_id: None,
            request_id: Some("slow".into()),
            payload: json!({"name": "slow"}),
            previous: None,
        }],
    )
    .await
    .unwrap();
    // A faster change commits, is published and read.
    scim_user(&world, &idp(), "fast", "fast@acme.test").await;
    sequence_all(&world.core).await;
    let (fast, cursor) = follow(&world.core, Some(cursor), all()).await;
    assert!(!fast.is_empty());
    assert!(fast.iter().all(|e| e["request_id"] != "slow"));
    // The slow one commits: it is published after, and the reader's next page has it.
    slow.commit().await.unwrap();
    sequence_all(&world.core).await;
    let (late, _) = follow(&world.core, Some(cursor), all()).await;
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["request_id"], "slow");
    let (everything, _) = follow(&world.core, None, all()).await;
    assert_gapless_per_org(&everything);
}

/// Two sequencers at once (two replicas): each batch is published by one of them, and every
/// event gets exactly one position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sequencers_publish_each_event_once() {
    let world = world(Backend::Postgres).await;
    for i in 0..20 {
        scim_user(&world, &idp(), &format!("u{i}"), &format!("u{i}@acme.test")).await;
    }
    let (a, b) = tokio::join!(
        usecases::feed::sequence(&world.core, 7, chrono::Utc::now(), None),
        usecases::feed::sequence(&world.core, 7, chrono::Utc::now(), None),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.events + b.events <= 14);
    sequence_all(&world.core).await;
    let (events, _) = follow(&world.core, None, all()).await;
    let mut unique = ids(&events);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), events.len());
    assert_gapless_per_org(&events);
}
