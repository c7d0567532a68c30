//! What an operator relies on: the CLI reaches the servers' key-value store or refuses, metrics,
//! and the access log.

use std::process::Command;

use testkit::Backend;

use crate::common::output_text;
use crate::common::scim::ScimEnv;

fn run(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.success(), stdout, stderr)
}

/// A CLI on another key-value store than the servers' (none given: the in-process one; or
/// another namespace) refuses with a clear message instead of revoking a token the servers keep
/// accepting from their caches; with the servers' own store it works and lands at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_key_value_store_the_servers_do_not_use() {
    let env = ScimEnv::start(Backend::Postgres).await;
    let token_id = env
        .target
        .admin(&["create-token", "--org", &env.org, "--name", "victim"])["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = |kv: Option<&str>, namespace: Option<&str>| {
        let mut cmd = env.target.command();
        if let Some(kv) = kv {
            cmd.env("SCIMGATE_KV__URL", kv);
        }
        if let Some(namespace) = namespace {
            cmd.env("SCIMGATE_KV__NAMESPACE", namespace);
        }
        cmd.args([
            "admin",
            "revoke-token",
            "--org",
            &env.org,
            "--token",
            &token_id,
        ]);
        run(cmd)
    };
    let (ok, _, stderr) = revoke(Some("memory://"), None);
    assert!(!ok, "memory:// must be refused");
    assert!(
        stderr.contains("key-value store") && stderr.contains(&env.target.kv_url),
        "{stderr}"
    );
    let (ok, _, stderr) = revoke(None, Some("elsewhere:"));
    assert!(!ok, "another namespace must be refused");
    assert!(stderr.contains("is not the one the servers"), "{stderr}");

    let (ok, stdout, stderr) = revoke(None, None);
    assert!(ok, "{stdout}{stderr}");
}

/// `/metrics` counts requests by route template and status, with latency histograms, SCIM
/// operations by resource and outcome, token grants and failures, credential-cache lookups and the
/// database pool — and never carries an organization id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_with_bounded_labels() {
    let env = ScimEnv::start(Backend::Sqlite).await;
    assert_eq!(env.create_user("metered").await["userName"], "metered");
    let missing = env.get("/Users/nope").await;
    assert_eq!(missing.status.as_u16(), 404);
    let (status, _, _) = crate::common::oauth::post_form(
        &env.http,
        &env.server.url("/oauth/token"),
        &[("grant_type", "authorization_code"), ("code", "guess")],
        Some(("nobody", "wrong")),
    )
    .await;
    assert_eq!(status.as_u16(), 401);
    let res = env
        .http
        .get(env.server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    let users = r#"route="/scim/v2.0/organizations/{org}/Users""#;
    for expected in [
        "scimgate_http_requests_total{",
        users,
        r#"status="201""#,
        "scimgate_http_request_duration_seconds_bucket{",
        r#"scimgate_scim_operations_total{resource="User",operation="create",outcome="success"}"#,
        r#"scimgate_scim_operations_total{resource="User",operation="get",outcome="client_error"}"#,
        r#"scimgate_token_requests_total{grant_type="authorization_code",outcome="invalid_client"}"#,
        "scimgate_credential_cache_lookups_total{",
        r#"scimgate_db_pool_connections{state="max"}"#,
        "scimgate_db_statement_duration_seconds_bucket",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(
        !text.contains(&env.org),
        "an organization id in the metrics"
    );
}

/// `/metrics` answers only the networks of `metrics.allow` (the TCP peer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_outside_the_allowed_networks() {
    let target = crate::common::Target::new(Backend::Sqlite).await;
    let server = crate::common::Server::in_process(
        &target,
        &[("SCIMGATE_METRICS__ALLOW", "[\"10.0.0.0/8\"]")],
    )
    .await;
    let res = crate::common::http()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

/// One access-log line per request at info, as JSON: method, route template, status, duration,
/// organization, credential kind and the request id the response carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_writes_one_access_log_line() {
    use std::io::{BufRead, BufReader};
    let target = crate::common::Target::new(Backend::Sqlite).await;
    let org = target.scim_org("Acme");
    let log = target.workdir.path().join("stderr.log");
    let mut cmd = target.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let base = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take(50)
        .find_map(|line| line.strip_prefix("listening on ").map(str::to_owned))
        .expect("the server prints its address");
    let http = crate::common::http();
    let res = http
        .post(format!("{base}/scim/v2.0/organizations/{}/Users", org.org))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body(crate::common::scim::user("logged").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["target"] == "scimgate::access")
        .collect();
    assert_eq!(lines.len(), 2, "one line per request: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/scim/v2.0/organizations/{org}/Users");
    assert_eq!(line["status"], 201);
    assert_eq!(line["org"], org.org.as_str());
    assert_eq!(line["credential"], "api_token");
    assert_eq!(line["request_id"], request_id.as_str());
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[1]["route"], "/healthz");
    assert_eq!(lines[1]["org"], "-");
}

/// `scimgate probe` (the compose health check) succeeds against a ready gateway and fails
/// against nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_asks_readyz() {
    let target = crate::common::Target::new(Backend::Sqlite).await;
    let server = crate::common::Server::in_process(&target, &[]).await;
    let probe = |url: String| {
        let mut cmd = crate::common::bare_command(target.workdir.path());
        cmd.args(["probe", "--url", &url]);
        run(cmd)
    };
    let (ok, stdout, stderr) = probe(server.url("/readyz"));
    assert!(ok, "{stdout}{stderr}");
    let port = crate::common::services::free_port();
    let (ok, _, stderr) = probe(format!("http://127.0.0.1:{port}/readyz"));
    assert!(!ok);
    assert!(stderr.contains("cannot reach"), "{stderr}");
}
