//! Limits an IdP and an operator expect: bodies and request heads bounded with SCIM Errors, SCIM
//! requests per credential and per organization (429 with Retry-After), logins per account.

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

use crate::common::oauth::OAuthEnv;
use crate::common::scim::{Reply, user};
use crate::common::{self, Server, Target};

async fn send(req: reqwest::RequestBuilder, token: &str, body: Option<String>) -> Reply {
    let mut req = req.bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn base(server: &Server, org: &str) -> String {
    server.url(&format!("/scim/v2.0/organizations/{org}"))
}

/// `http.payload_limit_bytes` holds every SCIM request but Bulk, which has its own limit.
async fn scim_bodies_are_held_to_the_payload_limit(backend: Backend) {
    let target = Target::new(backend).await;
    let org = target.scim_org("Acme");
    let server = Server::in_process(
        &target,
        &[
            ("SCIMGATE_HTTP__PAYLOAD_LIMIT_BYTES", "4096"),
            ("SCIMGATE_SCIM__BULK_PAYLOAD_LIMIT_BYTES", "65536"),
        ],
    )
    .await;
    let http = common::http();
    let base = base(&server, &org.org);
    let mut big = user("big.body");
    big["title"] = json!("x".repeat(6000));
    let reply = send(
        http.post(format!("{base}/Users")),
        &org.token,
        Some(big.to_string()),
    )
    .await;
    reply.assert_error(413, None);

    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": big}],
    });
    let reply = send(
        http.post(format!("{base}/Bulk")),
        &org.token,
        Some(bulk.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["Operations"][0]["status"], "201",
        "{}",
        reply.body
    );
    let spc = send(
        http.get(format!("{base}/ServiceProviderConfig")),
        &org.token,
        None,
    )
    .await;
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], 65536);
}

/// A URL or headers over the limits are SCIM Errors (414, 431), not actix's bare 431.
async fn oversized_request_heads_are_scim_errors(backend: Backend) {
    let target = Target::new(backend).await;
    let org = target.scim_org("Acme");
    let server = Server::in_process(&target, &[]).await;
    let http = common::http();
    let base = base(&server, &org.org);
    let filter = format!("userName%20eq%20%22{}%22", "a".repeat(20_000));
    let reply = send(
        http.get(format!("{base}/Users?filter={filter}")),
        &org.token,
        None,
    )
    .await;
    reply.assert_error(414, None);

    let mut req = http.get(format!("{base}/Users"));
    for i in 0..8 {
        req = req.header(format!("x-padding-{i}"), "p".repeat(6000));
    }
    send(req, &org.token, None).await.assert_error(431, None);

    let mut req = http.get(format!("{base}/Users"));
    for i in 0..80 {
        req = req.header(format!("x-many-{i}"), "v");
    }
    send(req, &org.token, None).await.assert_error(431, None);

    // Within the limits, the same request is served.
    let reply = send(http.get(format!("{base}/Users")), &org.token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// One credential over its limit gets 429 with Retry-After and a SCIM Error; another
/// organization's IdP is not slowed down; the organization's limit holds all its credentials.
async fn scim_requests_are_rate_limited_per_credential_and_organization(backend: Backend) {
    let target = Target::new(backend).await;
    let acme = target.scim_org("Acme");
    let second = target.admin(&["create-token", "--org", &acme.org, "--name", "second"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = target.scim_org("Other");
    let server = Server::in_process(
        &target,
        &[
            ("SCIMGATE_SCIM__RATE_LIMIT_PER_CREDENTIAL_PER_MINUTE", "3"),
            ("SCIMGATE_SCIM__RATE_LIMIT_PER_ORGANIZATION_PER_MINUTE", "5"),
        ],
    )
    .await;
    let http = common::http();
    let users = |org: &str| format!("{}/Users", base(&server, org));
    for _ in 0..3 {
        let reply = send(http.get(users(&acme.org)), &acme.token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let limited = send(http.get(users(&acme.org)), &acme.token, None).await;
    limited.assert_error(429, None);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        limited.body["detail"]
            .as_str()
            .unwrap()
            .contains("credential")
    );

    // The organization's second credential has its own budget, up to the organization's.
    for _ in 0..2 {
        let reply = send(http.get(users(&acme.org)), &second, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let limited = send(http.get(users(&acme.org)), &second, None).await;
    limited.assert_error(429, None);
    assert!(
        limited.body["detail"]
            .as_str()
            .unwrap()
            .contains("organization")
    );

    let reply = send(http.get(users(&other.org)), &other.token, None).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "another organization is not starved"
    );
}

/// Logins are limited per account too: guesses from many addresses (sessions) meet the limit.
async fn logins_are_limited_per_account(backend: Backend) {
    let env = OAuthEnv::start_with(
        backend,
        &[
            ("SCIMGATE_OAUTH__LOGIN_RATE_LIMIT_PER_MINUTE", "0"),
            ("SCIMGATE_OAUTH__LOGIN_ACCOUNT_RATE_LIMIT_PER_MINUTE", "3"),
        ],
    )
    .await;
    for _ in 0..3 {
        let res = env
            .browser()
            .login_page("/login", &env.email, "wrong password!!")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = env
        .browser()
        .login_page("/login", &env.email.to_uppercase(), "wrong password!!")
        .await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same account, however spelled"
    );
    let res = env
        .browser()
        .login_page("/login", "someone.else@example.com", "wrong password!!")
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "other accounts go on");
}

backend_tests!(
    scim_bodies_are_held_to_the_payload_limit,
    oversized_request_heads_are_scim_errors,
    scim_requests_are_rate_limited_per_credential_and_organization,
    logins_are_limited_per_account,
);
