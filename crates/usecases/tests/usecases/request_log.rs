//! The SCIM request log's use cases on both databases: a batch is redacted and written, rows of
//! an organization that does not exist are dropped, search is scoped and checked, retention and
//! the per-organization cap prune, and a full queue drops instead of waiting.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use serde_json::json;
use store::OrgScope;
use store::repo::scim_request_log::LogOrg;
use testkit::{Backend, backend_tests};
use usecases::Settings;
use usecases::request_log::{self, Captured, RequestLogSettings, SearchInput};

use crate::common::{self, World};

fn captured(
    org: LogOrg,
    status: u16,
    body: serde_json::Value,
    at: chrono::DateTime<Utc>,
) -> Captured {
    let text = body.to_string();
    let half = text.len() / 2;
    Captured {
        org,
        request_id: Some("req-1".into()),
        method: "POST".into(),
        path_and_query: "/scim/v2.0/organizations/x/Users?access_token=leak".into(),
        status,
        duration: Duration::from_micros(1500),
        credential: Some(("api_token", "tok_1".into())),
        client_ip: Some("192.0.2.1".into()),
        // As the handler read it: in chunks.
        request_body: vec![
            Bytes::from(text[..half].to_owned()),
            Bytes::from(text[half..].to_owned()),
        ],
        response_body: Some(Bytes::from_static(b"{\"id\":\"u1\",\"userName\":\"ada\"}")),
        response_cut_from: None,
        response_json: None,
        at,
    }
}

fn search(status: &str, text: &str) -> SearchInput {
    SearchInput {
        status: Some(status.into()),
        text: Some(text.into()),
        limit: 50,
        ..SearchInput::default()
    }
}

async fn world(backend: Backend, max_rows: u64) -> World {
    let mut settings = Settings::for_region("local");
    settings.request_log = RequestLogSettings {
        max_rows_per_organization: max_rows,
        max_body_bytes: 256,
        queue_capacity: 3,
        ..RequestLogSettings::default()
    };
    common::world_with(backend, settings).await
}

async fn writes_scoped_redacted_rows(backend: Backend) {
    let w = world(backend, 1000).await;
    let beta = w.second_org().await;
    let now = Utc::now();
    let body = json!({"userName": "Ada", "password": "s3cret-pw", "zbio": "x".repeat(1000)});
    let written = request_log::write_batch(
        &w.core,
        vec![
            captured(LogOrg::Proven(w.scope.clone()), 201, body.clone(), now),
            captured(
                LogOrg::Named(w.scope.org_uid().to_owned()),
                401,
                json!({}),
                now,
            ),
            captured(LogOrg::Named("no-such-org".into()), 401, json!({}), now),
            captured(LogOrg::Named("nul\0org".into()), 401, json!({}), now),
            captured(
                LogOrg::Proven(beta.clone()),
                200,
                json!({"userName": "Bob"}),
                now,
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(written, 3, "the unknown organizations' rows are dropped");

    let page = request_log::search(
        &w.core,
        &w.scope,
        &SearchInput {
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.rows.len(), 2);
    let created = &page.rows[1];
    let stored = format!("{created:?}");
    assert!(
        !stored.contains("s3cret-pw") && !stored.contains("leak"),
        "{stored}"
    );
    assert_eq!(created.user_name.as_deref(), Some("Ada"));
    assert_eq!(created.duration_us, 1500);
    let request_body = created.request_body.as_deref().unwrap();
    assert!(request_body.contains("[redacted]"), "{request_body}");
    assert!(
        request_body.contains("[truncated:"),
        "cut to max_body_bytes: {request_body}"
    );
    assert!(request_body.len() < 400);

    // Scoped: Beta's row is Beta's alone, and Acme's rows are not Beta's by id.
    let beta_rows = request_log::search(&w.core, &beta, &search("", ""))
        .await
        .unwrap();
    assert_eq!(beta_rows.rows.len(), 1);
    assert!(
        request_log::get(&w.core, &beta, created.id.0)
            .await
            .is_err()
    );
    assert!(
        request_log::get(&w.core, &w.scope, created.id.0)
            .await
            .is_ok()
    );

    // Filters, and bad input refused before the database sees it.
    let refused = request_log::search(&w.core, &w.scope, &search("refused", ""))
        .await
        .unwrap();
    assert_eq!(refused.rows.len(), 1);
    let ada = SearchInput {
        user: Some("ADA".into()),
        limit: 50,
        ..Default::default()
    };
    // The create's userName came from its body, the 401's from its answer.
    assert_eq!(
        request_log::search(&w.core, &w.scope, &ada)
            .await
            .unwrap()
            .rows
            .len(),
        2
    );
    for bad in [
        search("", "a\0b"),
        search("", &"y".repeat(201)),
        search("1xx", ""),
    ] {
        let err = request_log::search(&w.core, &w.scope, &bad)
            .await
            .unwrap_err();
        assert!(matches!(err, usecases::Error::Invalid(_)), "{err:?}");
    }
}

/// A response longer than the log keeps is held as a copy of its start only (a page of users is
/// not kept whole in memory until written): logged cut with its full length, and not at all when
/// that start mentions a secret, since a cut body cannot be redacted by shape.
async fn long_responses_are_held_and_logged_by_their_start(backend: Backend) {
    let w = world(backend, 1000).await;
    let now = Utc::now();
    let max = w.core.request_log().settings().max_body_bytes;
    let page = |extra: &str| {
        let users: Vec<_> = (0..50)
            .map(|i| json!({"id": format!("u{i}"), "userName": format!("user{i}"), "title": extra}))
            .collect();
        Bytes::from(json!({"totalResults": 50, "Resources": users}).to_string())
    };
    let plain = page("engineer");
    let secret = page("x\"apiToken\": \"tok-live-123");
    let mut rows = Vec::new();
    for body in [&plain, &secret] {
        let mut c = captured(LogOrg::Proven(w.scope.clone()), 200, json!({}), now);
        c.keep_response(body, max, None);
        assert_eq!(c.response_body.as_ref().map(Bytes::len), Some(max));
        assert_eq!(c.response_cut_from, Some(body.len()));
        rows.push(c);
    }
    let mut short = captured(LogOrg::Proven(w.scope.clone()), 200, json!({}), now);
    short.keep_response(&Bytes::from_static(b"{\"userName\":\"ada\"}"), max, None);
    assert_eq!(
        short.response_cut_from, None,
        "a short answer is kept whole"
    );
    rows.push(short);
    assert_eq!(request_log::write_batch(&w.core, rows).await.unwrap(), 3);

    let logged = request_log::search(&w.core, &w.scope, &search("2xx", ""))
        .await
        .unwrap()
        .rows;
    let bodies: Vec<String> = logged
        .iter()
        .map(|r| r.response_body.clone().unwrap_or_default())
        .collect();
    let Some(cut) = bodies.iter().find(|b| b.contains("engineer")) else {
        panic!("the plain page's start is logged: {bodies:?}");
    };
    assert!(
        cut.ends_with(&format!("[truncated: {} bytes in all]", plain.len())),
        "{cut}"
    );
    assert!(cut.len() < max + 64);
    assert!(
        bodies.iter().all(|b| !b.contains("tok-live-123")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with(&format!("[{} bytes; not kept", secret.len()))),
        "{bodies:?}"
    );
}

/// A request numbered `n` (in its body) for `org`, arriving `at`.
fn numbered(org: &OrgScope, n: usize, at: chrono::DateTime<Utc>) -> Captured {
    captured(LogOrg::Proven(org.clone()), 200, json!({ "n": n }), at)
}

/// The numbers of the requests `org`'s log holds, in order.
async fn logged_numbers(core: &usecases::Core, org: &OrgScope) -> Vec<u64> {
    let all = SearchInput {
        limit: 500,
        ..Default::default()
    };
    let mut numbers: Vec<u64> = request_log::search(core, org, &all)
        .await
        .unwrap()
        .rows
        .iter()
        .map(|r| {
            let body = r.request_body.as_deref().unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The writer keeps each organization it writes for within its cap as it goes: once it has
/// written half the cap for an organization, that organization's oldest rows past the cap
/// go, without waiting for the janitor's hourly pass. Other organizations are not touched.
async fn the_writer_keeps_an_organization_within_its_cap(backend: Backend) {
    let w = world(backend, 100).await;
    let beta = w.second_org().await;
    let now = Utc::now();
    let mut batch: Vec<Captured> = (0..9).map(|n| numbered(&w.scope, n, now)).collect();
    batch.extend((0..3).map(|n| numbered(&beta, n, now)));
    assert_eq!(request_log::write_batch(&w.core, batch).await.unwrap(), 12);
    assert_eq!(logged_numbers(&w.core, &w.scope).await.len(), 9);

    // 114 written in all: over the cap, and the writer has written more than fifty since it last
    // checked.
    let batch = (9..114).map(|n| numbered(&w.scope, n, now)).collect();
    assert_eq!(request_log::write_batch(&w.core, batch).await.unwrap(), 105);
    assert_eq!(
        logged_numbers(&w.core, &w.scope).await,
        (14..114).collect::<Vec<u64>>(),
        "the newest 100 are kept"
    );
    assert_eq!(logged_numbers(&w.core, &beta).await, vec![0, 1, 2]);
    assert_eq!(
        request_log::prune(&w.core, now).await.unwrap(),
        Default::default(),
        "nothing left for the janitor"
    );
}

/// The janitor deletes what is past the retention, and what is over an organization's cap when
/// no writer saw enough to cap it: twelve replicas each wrote nine rows of the organization, under
/// half its cap of 100 each, 108 in all.
async fn the_janitor_prunes_by_age_and_what_replicas_wrote_past_the_cap(backend: Backend) {
    let w = world(backend, 100).await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(31);
    let replicas: Vec<usecases::Core> = (0..12)
        .map(|_| {
            usecases::Core::new(
                w.core.db().clone(),
                w.core.kv().clone(),
                w.core.settings().clone(),
            )
        })
        .collect();
    let expired = vec![numbered(&w.scope, 0, old)];
    assert_eq!(
        request_log::write_batch(&replicas[0], expired)
            .await
            .unwrap(),
        1
    );
    for (i, replica) in replicas.iter().enumerate() {
        let batch = (1..10)
            .map(|n| numbered(&w.scope, i * 9 + n, now))
            .collect();
        assert_eq!(request_log::write_batch(replica, batch).await.unwrap(), 9);
    }
    assert_eq!(logged_numbers(&w.core, &w.scope).await.len(), 109);

    let pruned = request_log::prune(&w.core, now).await.unwrap();
    assert_eq!(pruned.expired, 1, "past the 30 days");
    assert_eq!(
        pruned.over_cap, 8,
        "over the 100 rows an organization keeps"
    );
    assert_eq!(
        logged_numbers(&w.core, &w.scope).await,
        (9..109).collect::<Vec<u64>>(),
        "the newest 100 are kept"
    );
    assert_eq!(
        request_log::prune(&w.core, now).await.unwrap(),
        Default::default()
    );
}

async fn a_full_queue_drops_instead_of_waiting(backend: Backend) {
    let w = world(backend, 1000).await;
    let queue = w.core.request_log();
    for _ in 0..5 {
        queue.push(captured(
            LogOrg::Proven(w.scope.clone()),
            200,
            json!({}),
            Utc::now(),
        ));
    }
    let queued = queue.drain().await;
    assert_eq!(
        queued.len(),
        3,
        "queue_capacity is 3: the rest were dropped"
    );
    assert_eq!(request_log::write_batch(&w.core, queued).await.unwrap(), 3);
}

/// The writer's batches stop at `batch_size` requests or, past the first request, at
/// `batch_max_bytes` of bodies, and say whether they stopped at a bound or at an empty queue.
async fn batches_are_bounded_by_count_and_by_bytes(backend: Backend) {
    let queued_in = |settings: RequestLogSettings| async move {
        let mut all = Settings::for_region("local");
        all.request_log = settings;
        let w = common::world_with(backend, all).await;
        let page = Bytes::from(vec![b'x'; 1000]);
        for _ in 0..7 {
            let mut c = captured(LogOrg::Proven(w.scope.clone()), 200, json!({}), Utc::now());
            c.response_body = Some(page.clone());
            w.core.request_log().push(c);
        }
        let mut batches = Vec::new();
        for _ in 0..7 {
            // Seven requests were queued, so no batch here waits for one to arrive.
            let batch =
                tokio::time::timeout(Duration::from_secs(10), w.core.request_log().next_batch())
                    .await
                    .unwrap();
            batches.push((batch.requests.len(), batch.full));
            if !batch.full {
                break;
            }
        }
        batches
    };
    let by_count = queued_in(RequestLogSettings {
        batch_size: 3,
        ..RequestLogSettings::default()
    })
    .await;
    assert_eq!(by_count, vec![(3, true), (3, true), (1, false)]);
    // Requests of a little over 1,000 bytes each: a batch stops at the one that reaches 2,500.
    let by_bytes = queued_in(RequestLogSettings {
        batch_size: 100,
        batch_max_bytes: 2500,
        ..RequestLogSettings::default()
    })
    .await;
    assert_eq!(by_bytes, vec![(3, true), (3, true), (1, false)]);
    let one_large = queued_in(RequestLogSettings {
        batch_max_bytes: 10,
        ..RequestLogSettings::default()
    })
    .await;
    assert_eq!(one_large.len(), 7, "a batch holds at least one request");
    assert!(one_large[..6].iter().all(|&(n, full)| n == 1 && full));
}

/// A batch whose bodies add up to more than one statement carries is written in several, in
/// one transaction, every row whole; a row naming no organization is still left out.
async fn a_batch_larger_than_one_statement_is_written_whole(backend: Backend) {
    let mut settings = Settings::for_region("local");
    settings.request_log = RequestLogSettings::default();
    let w = common::world_with(backend, settings).await;
    let max = w.core.request_log().settings().max_body_bytes;
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..41 {
        let org = if i == 20 {
            LogOrg::Named("no-such-organization".into())
        } else {
            LogOrg::Proven(w.scope.clone())
        };
        let mut c = captured(org, 200, json!({}), now);
        let body = format!("{{\"n\":{i},\"text\":\"{}\"}}", "y".repeat(max - 40));
        assert!(body.len() <= max);
        c.response_body = Some(Bytes::from(body));
        batch.push(c);
    }
    assert_eq!(request_log::write_batch(&w.core, batch).await.unwrap(), 40);
    let logged = request_log::search(&w.core, &w.scope, &search("2xx", ""))
        .await
        .unwrap()
        .rows;
    assert_eq!(logged.len(), 40);
    let mut numbers: Vec<u64> = logged
        .iter()
        .map(|r| {
            let body = r.response_body.as_deref().unwrap_or_default();
            assert!(body.len() > max - 40, "kept whole: {} bytes", body.len());
            serde_json::from_str::<serde_json::Value>(body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    let expected: Vec<u64> = (0..41).filter(|&i| i != 20).collect();
    assert_eq!(numbers, expected);
}

/// Every column is stored as given: a missing value as NULL and an empty one as empty (on
/// PostgreSQL a batch travels as one array per column, with the missing values marked apart),
/// the time to the microsecond, in a batch of more rows than one multi-row `INSERT` held.
async fn every_column_is_stored_as_given(backend: Backend) {
    let w = world(backend, 1000).await;
    let at = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let mut full = captured(
        LogOrg::Proven(w.scope.clone()),
        201,
        json!({"userName": "Grace", "externalId": "ext-9"}),
        at,
    );
    full.response_body = Some(Bytes::from_static(b"{\"id\":\"u9\"}"));
    let mut bare = captured(
        LogOrg::Named(w.scope.org_uid().to_owned()),
        401,
        json!({}),
        at,
    );
    bare.request_id = None;
    bare.credential = None;
    bare.client_ip = None;
    bare.request_body = Vec::new();
    bare.response_body = None;
    let mut empty = captured(LogOrg::Proven(w.scope.clone()), 204, json!({}), at);
    empty.request_id = Some(String::new());
    empty.client_ip = Some(String::new());
    let mut batch = vec![full, bare, empty];
    for i in 0..150 {
        let mut c = captured(LogOrg::Proven(w.scope.clone()), 200, json!({"n": i}), at);
        c.method = "GET".into();
        batch.push(c);
    }
    assert_eq!(request_log::write_batch(&w.core, batch).await.unwrap(), 153);

    let rows = request_log::search(
        &w.core,
        &w.scope,
        &SearchInput {
            limit: 200,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .rows;
    assert_eq!(rows.len(), 153);
    let by_status = |status: i32| rows.iter().find(|r| r.status == status).unwrap().id.0;
    let full = request_log::get(&w.core, &w.scope, by_status(201))
        .await
        .unwrap();
    assert_eq!(full.method, "POST");
    assert_eq!(full.request_id.as_deref(), Some("req-1"));
    assert_eq!(full.credential_kind.as_deref(), Some("api_token"));
    assert_eq!(full.credential_id.as_deref(), Some("tok_1"));
    assert_eq!(full.client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(full.user_name.as_deref(), Some("Grace"));
    assert_eq!(full.user_name_normalized.as_deref(), Some("grace"));
    assert_eq!(full.external_id.as_deref(), Some("ext-9"));
    assert_eq!(full.response_body.as_deref(), Some("{\"id\":\"u9\"}"));
    assert!(full.request_body.as_deref().unwrap().contains("Grace"));
    assert_eq!(full.duration_us, 1500);
    assert_eq!(full.created_at, at);
    assert!(
        full.path.starts_with("/scim/v2.0/organizations/x/Users?") && !full.path.contains("leak"),
        "{}",
        full.path
    );

    let bare = request_log::get(&w.core, &w.scope, by_status(401))
        .await
        .unwrap();
    assert_eq!(
        bare.org_id, full.org_id,
        "a named organization's row is its own"
    );
    assert_eq!(
        (
            &bare.request_id,
            &bare.credential_kind,
            &bare.credential_id,
            &bare.client_ip,
            &bare.user_name,
            &bare.user_name_normalized,
            &bare.external_id,
            &bare.request_body,
            &bare.response_body,
        ),
        (
            &None, &None, &None, &None, &None, &None, &None, &None, &None
        ),
        "missing values are NULL"
    );

    let empty = request_log::get(&w.core, &w.scope, by_status(204))
        .await
        .unwrap();
    assert_eq!(
        empty.request_id.as_deref(),
        Some(""),
        "an empty value stays empty"
    );
    assert_eq!(empty.client_ip.as_deref(), Some(""));
}

backend_tests!(
    every_column_is_stored_as_given,
    long_responses_are_held_and_logged_by_their_start,
    writes_scoped_redacted_rows,
    the_writer_keeps_an_organization_within_its_cap,
    the_janitor_prunes_by_age_and_what_replicas_wrote_past_the_cap,
    a_full_queue_drops_instead_of_waiting,
    batches_are_bounded_by_count_and_by_bytes,
    a_batch_larger_than_one_statement_is_written_whole,
);
