//! The SCIM request log's use cases on both databases: a batch is redacted and written, rows of
//! an organization that does not exist are dropped, search is scoped and checked, retention and
//! the per-organization cap prune, and a full queue drops instead of waiting.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use serde_json::json;
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

async fn prunes_by_age_and_by_count(backend: Backend) {
    let w = world(backend, 100).await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(31);
    let mut batch = vec![captured(
        LogOrg::Proven(w.scope.clone()),
        200,
        json!({}),
        old,
    )];
    batch.extend((0..105).map(|_| captured(LogOrg::Proven(w.scope.clone()), 200, json!({}), now)));
    assert_eq!(request_log::write_batch(&w.core, batch).await.unwrap(), 106);
    let pruned = request_log::prune(&w.core, now).await.unwrap();
    assert_eq!(pruned.expired, 1, "past the 30 days");
    assert_eq!(
        pruned.over_cap, 5,
        "over the 100 rows an organization keeps"
    );
    let all = SearchInput {
        limit: 500,
        ..Default::default()
    };
    let left = request_log::search(&w.core, &w.scope, &all)
        .await
        .unwrap()
        .rows;
    assert_eq!(left.len(), 100);
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

backend_tests!(
    writes_scoped_redacted_rows,
    prunes_by_age_and_by_count,
    a_full_queue_drops_instead_of_waiting,
);
