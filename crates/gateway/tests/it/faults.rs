//! Faults under load, against the test's own PostgreSQL and Redis (never the machine's shared
//! ones): a PostgreSQL restart answers SCIM 503s with Retry-After — never a 500 — and recovers by
//! itself; a Redis outage does not interrupt SCIM; revocations outlive Redis's contents; a SIGKILL under write load
//! loses no acknowledged write and leaves nothing half-written. Every loop is bounded.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use testkit::{Backend, TestDatabase, backend_tests};

use crate::common::oauth::{OAuthEnv, access, refresh_of};
use crate::common::scim::user;
use crate::common::services::{OwnPostgres, OwnRedis};
use crate::common::{self, Server, Target};

/// What one SCIM request of the load got.
#[derive(Debug, Clone)]
struct Outcome {
    status: u16,
    retry_after: bool,
    scim_error: bool,
    /// The created user's id, for a 201.
    id: Option<String>,
}

/// Writers creating users until told to stop (each request bounded by a timeout).
struct Load {
    stop: Arc<AtomicBool>,
    /// Answers so far, and 503s among them.
    answered: Arc<AtomicUsize>,
    unavailable: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
}

impl Load {
    fn start(base: &str, token: &str, writers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        let tasks = (0..writers)
            .map(|w| {
                let (stop, http) = (stop.clone(), http.clone());
                let (answered, unavailable) = (answered.clone(), unavailable.clone());
                let url = format!("{base}/Users");
                let token = token.to_owned();
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    // Bounded in count as well as by `stop`.
                    for i in 0..5000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let body = user(&format!("load.{w}.{i}"));
                        let Ok(res) = http
                            .post(&url)
                            .bearer_auth(&token)
                            .header("content-type", "application/scim+json")
                            .body(body.to_string())
                            .send()
                            .await
                        else {
                            // The connection itself failed (a killed server): not an answer.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        let status = res.status().as_u16();
                        answered.fetch_add(1, Ordering::Relaxed);
                        if status == 503 {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                        let retry_after = res.headers().contains_key("retry-after");
                        let scim_error = res
                            .headers()
                            .get("content-type")
                            .is_some_and(|c| c.as_bytes().starts_with(b"application/scim+json"));
                        let body: serde_json::Value = res.json().await.unwrap_or_default();
                        let id = body["id"].as_str().map(str::to_owned);
                        outcomes.push(Outcome {
                            status,
                            retry_after,
                            scim_error,
                            id: (status == 201).then_some(id).flatten(),
                        });
                    }
                    outcomes
                })
            })
            .collect();
        Self {
            stop,
            answered,
            unavailable,
            tasks,
        }
    }

    /// Waits (bounded) until `counter` reaches `n`.
    async fn wait_until(counter: &AtomicUsize, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while counter.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "the load never got {n} {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `n` more requests were answered.
    async fn answers(&self, n: usize) {
        let target = self.answered.load(Ordering::Relaxed) + n;
        Self::wait_until(&self.answered, target, "answers").await;
    }

    /// Waits until `n` more requests were answered 503.
    async fn unavailable(&self, n: usize) {
        let target = self.unavailable.load(Ordering::Relaxed) + n;
        Self::wait_until(&self.unavailable, target, "503s").await;
    }

    async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.unwrap());
        }
        all
    }
}

/// Polls `url` (bounded) until it answers 2xx; returns how long that took.
async fn until_ok(http: &reqwest::Client, url: &str, token: &str) -> Duration {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        let res = http.get(url).bearer_auth(token).send().await;
        if res.is_ok_and(|r| r.status().is_success()) {
            return started.elapsed();
        }
        assert!(Instant::now() < deadline, "{url} did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every answer under a fault is a success or a SCIM 503 with Retry-After; never a 500.
fn assert_only_success_or_503(outcomes: &[Outcome]) -> usize {
    let mut unavailable = 0;
    for o in outcomes {
        match o.status {
            201 => {}
            503 => {
                assert!(o.retry_after && o.scim_error, "{o:?}");
                unavailable += 1;
            }
            other => panic!("unexpected {other} under a fault: {o:?}"),
        }
    }
    unavailable
}

/// Every acknowledged create is there.
async fn assert_acknowledged_exist(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ids: &[String],
) {
    for id in ids {
        let res = http
            .get(format!("{base}/Users/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "acknowledged user {id} is missing"
        );
    }
}

fn created_ids(outcomes: &[Outcome]) -> Vec<String> {
    outcomes.iter().filter_map(|o| o.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_is_503_then_recovers() {
    let pg = OwnPostgres::start();
    let target = Target::on(
        TestDatabase::external(&pg.url(), Backend::Postgres),
        "memory://".into(),
    );
    let org = target.scim_org("Acme");
    // A short acquire timeout: while the database is down, requests fail fast instead of
    // queueing for the pool.
    let server =
        Server::in_process(&target, &[("SCIMGATE_DATABASE__ACQUIRE_TIMEOUT_SECS", "1")]).await;
    let base = server.url(&format!("/scim/v2.0/organizations/{}", org.org));
    let http = common::http();
    let load = Load::start(&base, &org.token, 4);
    load.answers(20).await;
    // Fast shutdown: sessions in flight get 57P01 admin_shutdown, new ones are refused.
    pg.stop("INT");
    load.unavailable(8).await;
    pg.start_again();
    let recovery = until_ok(&http, &format!("{base}/Users?count=1"), &org.token).await;
    load.answers(20).await;
    let outcomes = load.finish().await;
    let unavailable = assert_only_success_or_503(&outcomes);
    assert!(unavailable > 0, "the outage was seen: {outcomes:?}");
    assert!(
        recovery < Duration::from_secs(10),
        "recovered in {recovery:?}"
    );
    let ids = created_ids(&outcomes);
    assert!(!ids.is_empty());
    assert_acknowledged_exist(&http, &base, &org.token, &ids).await;
    eprintln!(
        "postgres restart: {} requests, {} answered 503, recovered {recovery:?} after the restart",
        outcomes.len(),
        unavailable
    );
}

/// A Redis outage does not interrupt provisioning with an API token: each replica holds the
/// request limits on its own hits while Redis is away, and API tokens are verified from the
/// database, so every request of the load is answered as if nothing happened; once Redis is
/// back, the hits reach it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_does_not_interrupt_scim() {
    let mut redis = OwnRedis::start();
    let target = Target::on(TestDatabase::create(Backend::Postgres).await, redis.url());
    let org = target.scim_org("Acme");
    let server = Server::in_process(&target, &[]).await;
    let base = server.url(&format!("/scim/v2.0/organizations/{}", org.org));
    let load = Load::start(&base, &org.token, 4);
    load.answers(20).await;
    redis.kill();
    load.answers(40).await;
    redis.start_again();
    let kv = store::kv::open(&redis.url(), &target.namespace)
        .await
        .unwrap();
    let counter = format!("rate:scim:org:{}", org.org);
    let deadline = Instant::now() + Duration::from_secs(10);
    while kv.get(&counter).await.ok().flatten().is_none() {
        assert!(
            Instant::now() < deadline,
            "the organization's request count never reached the restarted Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.answers(20).await;
    let outcomes = load.finish().await;
    let unavailable = assert_only_success_or_503(&outcomes);
    assert_eq!(unavailable, 0, "a request was refused during the outage");
    let http = common::http();
    assert_acknowledged_exist(&http, &base, &org.token, &created_ids(&outcomes)).await;
    eprintln!("redis outage: {} requests, all answered", outcomes.len());
}

/// A revoked access token (by itself, or its refresh family) stays refused after Redis restarts
/// empty: the database holds the revocation list and the cache is reloaded from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_the_loss_of_redis() {
    let mut redis = OwnRedis::start();
    let target = Target::on(TestDatabase::create(Backend::Postgres).await, redis.url());
    let env = OAuthEnv::start_on(target, &[]).await;
    let single = env.tokens().await;
    let family = env.tokens().await;
    let kept = env.tokens().await;
    let creds = Some((env.client_id.as_str(), env.client_secret.as_str()));
    let (status, _, body) = env
        .post_form("/oauth/revoke", &[("token", &access(&single))], creds)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = env
        .post_form("/oauth/revoke", &[("token", &refresh_of(&family))], creds)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (name, token, expected) in [
        ("single", &single, StatusCode::UNAUTHORIZED),
        ("family", &family, StatusCode::UNAUTHORIZED),
        ("kept", &kept, StatusCode::OK),
    ] {
        assert_eq!(
            env.scim_status(&access(token), &env.org).await,
            expected,
            "{name}"
        );
    }

    redis.kill();
    redis.start_again();
    // The replica reconnects by itself; poll (bounded) until the kept token works again.
    until_ok(
        &env.http,
        &env.url(&format!("/scim/v2.0/organizations/{}/Users", env.org)),
        &access(&kept),
    )
    .await;
    for (name, token) in [("single", &single), ("family", &family)] {
        assert_eq!(
            env.scim_status(&access(token), &env.org).await,
            StatusCode::UNAUTHORIZED,
            "{name}: a revoked token must stay refused after Redis lost its contents"
        );
    }
    let introspected = env.introspect(&access(&single)).await;
    assert_eq!(introspected["active"], false);
}

/// SIGKILL of the server process in the middle of writes: every acknowledged user is there after a
/// restart, and every stored user came with its event and membership (one transaction each).
async fn sigkill_under_write_load_loses_nothing_acknowledged(backend: Backend) {
    let target = Target::new(backend).await;
    let org = target.scim_org("Acme");
    let mut cmd = target.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let mut server = Server::start(cmd);
    let base = server.url(&format!("/scim/v2.0/organizations/{}", org.org));
    let load = Load::start(&base, &org.token, 4);
    load.answers(40).await;
    if let Some(child) = server.child.as_mut() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let outcomes = load.finish().await;
    for o in &outcomes {
        assert_eq!(o.status, 201, "{o:?}");
    }
    let acknowledged = created_ids(&outcomes);
    assert!(!acknowledged.is_empty(), "the load wrote before the kill");

    let mut cmd = target.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let base = server.url(&format!("/scim/v2.0/organizations/{}", org.org));
    let http = common::http();
    assert_acknowledged_exist(&http, &base, &org.token, &acknowledged).await;

    let db = store::connect(&target.db.url, &Default::default())
        .await
        .unwrap();
    let scope = store::repo::organizations::operator_scope(&db, &org.org)
        .await
        .unwrap();
    let events = store::repo::events::list_after(&db, &scope, store::ids::EventId(0), 100_000)
        .await
        .unwrap();
    let created: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "directory.user.created")
        .map(|e| e.subject_id.as_str())
        .collect();
    let listed: serde_json::Value = http
        .get(format!("{base}/Users?count=1000&attributes=id,userName"))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: BTreeSet<String> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stored.len(),
        created.len(),
        "one created event per stored user, no more, no less"
    );
    assert_eq!(
        stored,
        created
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    );
    for name in listed["Resources"].as_array().unwrap().iter().take(50) {
        let email = format!("{}@example.com", name["userName"].as_str().unwrap());
        let account =
            store::repo::accounts::find_by_email(&db, &store::types::Email::parse(&email).unwrap())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{email}: a stored user without its account"));
        assert!(
            store::repo::memberships::get(&db, &scope, account.id)
                .await
                .unwrap()
                .is_some(),
            "{email}: a stored user without its membership"
        );
    }
    eprintln!(
        "sigkill: {} acknowledged, {} stored, all consistent",
        acknowledged.len(),
        stored.len()
    );
}

backend_tests!(sigkill_under_write_load_loses_nothing_acknowledged);
