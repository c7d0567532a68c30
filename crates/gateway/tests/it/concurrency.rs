//! Writers that race: requests without `If-Match` asked for no precondition and must all land.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{Backend, backend_tests};

use crate::common::scim::{ScimEnv, patch};

/// Sixteen PATCHes of one user at once, none with `If-Match`: every one succeeds and every
/// change is kept (each adds its own email).
async fn concurrent_patches_without_if_match_all_succeed(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let id = env.create_user("contended").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let env = &env;
    let url = format!("/Users/{id}");
    let patches = (0..16).map(|i| {
        let body = patch(json!([{"op": "add", "path": "emails",
            "value": [{"value": format!("extra{i}@example.com"), "type": "other"}]}]));
        let url = url.clone();
        async move { env.call(Method::PATCH, &url, Some(&body)).await }
    });
    let replies = futures_util::future::join_all(patches).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{statuses:?}: {:?}",
        replies
            .iter()
            .find(|r| r.status != StatusCode::OK)
            .map(|r| &r.body)
    );
    let stored = env.get(&url).await;
    assert_eq!(
        stored.body["emails"].as_array().unwrap().len(),
        17,
        "no change lost: {}",
        stored.body
    );
}

backend_tests!(concurrent_patches_without_if_match_all_succeed);
