//! `loadtest`: drives a running scimgate over HTTP and reports rates and latencies. Every loop is
//! bounded in count and time, and traffic goes only to the base URL given (loopback in our runs).
//!
//! Scenarios: `create-users` (POST /Users rate), `filtered-get` (GET /Users?filter=userName eq …:
//! rate, p50, p99), `list-pages` (GET /Users?startIndex=…&count=100 rate), `group-patch` (time of
//! one add + one remove of a member at several group sizes), `provision` (N users then G groups).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(name = "loadtest", about)]
struct Cli {
    /// The organization's SCIM Base URL (…/scim/v2.0/organizations/ORG_UID).
    #[arg(long)]
    base: String,
    /// A bearer token of the organization.
    #[arg(long, env = "LOADTEST_TOKEN", hide_env_values = true)]
    token: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Create `count` users named `{prefix}{i}`.
    CreateUsers {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
    },
    /// Look up random users of `0..users` by userName filter for `seconds`.
    FilteredGet {
        #[arg(long)]
        users: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Read random pages of 100 users for `seconds`.
    ListPages {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Grow one group to each size (members taken from the users `{prefix}0..`), and time one add
    /// plus one remove of a member at each size.
    GroupPatch {
        #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
        sizes: Vec<usize>,
        #[arg(long, default_value = "load")]
        prefix: String,
        #[arg(long, default_value_t = 20)]
        samples: usize,
    },
    /// Create `users` users, then `groups` groups of `users / groups * 10` members each.
    Provision {
        #[arg(long)]
        users: usize,
        #[arg(long)]
        groups: usize,
        #[arg(long, default_value = "prov")]
        prefix: String,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let (status, reply) = self.send(method.clone(), path, body).await?;
        if status != want {
            bail!("{method} {path}: expected {want}, got {status}: {reply}");
        }
        Ok(reply)
    }
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Load", "familyName": "Test"},
        "emails": [{"value": format!("{name}@load.example"), "type": "work", "primary": true}],
        "active": true,
    })
}

fn report(name: &str, count: usize, elapsed: Duration, histogram: Option<&Histogram<u64>>) {
    let rate = count as f64 / elapsed.as_secs_f64();
    match histogram {
        Some(h) => println!(
            "{name:<14} {count:>8} requests in {:>7.2} s = {rate:>8.0}/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
            elapsed.as_secs_f64(),
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0
        ),
        None => println!(
            "{name:<14} {count:>8} requests in {:>7.2} s = {rate:>8.0}/s",
            elapsed.as_secs_f64()
        ),
    }
}

/// Runs `make(i)` for `i` in `0..count` with bounded concurrency; latencies in µs.
async fn run_many<F, Fut>(
    count: usize,
    concurrency: usize,
    make: F,
) -> anyhow::Result<(Duration, Histogram<u64>)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut histogram = Histogram::<u64>::new(3)?;
    let start = Instant::now();
    let mut results = futures_util::stream::iter(0..count)
        .map(|i| {
            let fut = make(i);
            async move {
                let t = Instant::now();
                fut.await.map(|()| t.elapsed())
            }
        })
        .buffer_unordered(concurrency);
    while let Some(result) = results.next().await {
        histogram.record(u64::try_from(result?.as_micros()).unwrap_or(u64::MAX))?;
    }
    Ok((start.elapsed(), histogram))
}

/// Runs `make()` repeatedly for `seconds` with bounded concurrency.
async fn run_for<F, Fut>(
    seconds: u64,
    concurrency: usize,
    make: F,
) -> anyhow::Result<(usize, Duration, Histogram<u64>)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let done = Arc::new(AtomicUsize::new(0));
    // A generous upper bound on iterations keeps the loop bounded even against a very fast server.
    let bound = usize::try_from(seconds)
        .unwrap_or(usize::MAX)
        .saturating_mul(200_000);
    let mut histogram = Histogram::<u64>::new(3)?;
    let start = Instant::now();
    let mut results = futures_util::stream::iter(0..bound)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|_| {
            let fut = make();
            let done = done.clone();
            async move {
                let t = Instant::now();
                let result = fut.await.map(|()| t.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
                result
            }
        })
        .buffer_unordered(concurrency);
    while let Some(result) = results.next().await {
        histogram.record(u64::try_from(result?.as_micros()).unwrap_or(u64::MAX))?;
    }
    Ok((done.load(Ordering::Relaxed), start.elapsed(), histogram))
}

async fn create_users(
    client: &Client,
    prefix: &str,
    from: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    let (elapsed, histogram) = run_many(count, concurrency, |i| {
        let ids = ids.clone();
        async move {
            let reply = client
                .expect(
                    reqwest::Method::POST,
                    "/Users",
                    Some(&user(&format!("{prefix}{}", from + i))),
                    201,
                )
                .await?;
            let id = reply["id"].as_str().context("no id")?.to_owned();
            if let Ok(mut ids) = ids.lock() {
                ids[i] = id;
            }
            Ok(())
        }
    })
    .await?;
    report("create-users", count, elapsed, Some(&histogram));
    let ids = ids.lock().map(|ids| ids.clone()).unwrap_or_default();
    Ok(ids)
}

/// User ids of `{prefix}{from..from+count}`, looked up by filter.
async fn user_ids(
    client: &Client,
    prefix: &str,
    from: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    run_many(count, concurrency, |i| {
        let ids = ids.clone();
        async move {
            let path = format!(
                "/Users?filter=userName+eq+%22{prefix}{}%22&attributes=id",
                from + i
            );
            let reply = client
                .expect(reqwest::Method::GET, &path, None, 200)
                .await?;
            let id = reply["Resources"][0]["id"]
                .as_str()
                .context("user not found: run create-users first")?
                .to_owned();
            if let Ok(mut ids) = ids.lock() {
                ids[i] = id;
            }
            Ok(())
        }
    })
    .await?;
    Ok(ids.lock().map(|ids| ids.clone()).unwrap_or_default())
}

fn members_patch(op: &str, ids: &[String]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": op, "path": "members", "value": members}]})
}

async fn group_patch(
    client: &Client,
    prefix: &str,
    sizes: &[usize],
    samples: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let ids = user_ids(client, prefix, 0, largest + 1, concurrency).await?;
    let (probe, pool) = ids.split_last().context("no users")?;
    let name = format!("loadtest-group-{}", rand::rng().random::<u32>());
    let group = client
        .expect(reqwest::Method::POST, "/Groups", Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})), 201)
        .await?;
    let gid = group["id"].as_str().context("no group id")?.to_owned();
    let path = format!("/Groups/{gid}?excludedAttributes=members");
    let mut size = 0;
    for &target in sizes {
        for chunk in pool[size..target].chunks(1000) {
            client
                .expect(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&members_patch("add", chunk)),
                    200,
                )
                .await?;
        }
        size = target;
        let mut histogram = Histogram::<u64>::new(3)?;
        let probe = std::slice::from_ref(probe);
        for _ in 0..samples {
            let t = Instant::now();
            client
                .expect(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&members_patch("add", probe)),
                    200,
                )
                .await?;
            client
                .expect(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&members_patch("remove", probe)),
                    200,
                )
                .await?;
            histogram.record(u64::try_from(t.elapsed().as_micros() / 2).unwrap_or(u64::MAX))?;
        }
        println!(
            "group-patch    size {size:>7}: one member add or remove p50 {:>6.2} ms   p99 {:>6.2} ms",
            histogram.value_at_quantile(0.5) as f64 / 1000.0,
            histogram.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(cli.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let client = Client {
        http,
        base: cli.base.trim_end_matches('/').to_owned(),
        token: cli.token,
    };
    let c = cli.concurrency;
    match cli.scenario {
        Scenario::CreateUsers { count, prefix } => {
            create_users(&client, &prefix, 0, count, c).await?;
        }
        Scenario::FilteredGet {
            users,
            prefix,
            seconds,
        } => {
            let client = &client;
            let (count, elapsed, histogram) = run_for(seconds, c, || {
                let i = rand::rng().random_range(0..users.max(1));
                let path = format!("/Users?filter=userName+eq+%22{prefix}{i}%22");
                async move {
                    let reply = client
                        .expect(reqwest::Method::GET, &path, None, 200)
                        .await?;
                    if reply["totalResults"] != 1 {
                        bail!("{path}: expected one user, got {reply}");
                    }
                    Ok(())
                }
            })
            .await?;
            report("filtered-get", count, elapsed, Some(&histogram));
        }
        Scenario::ListPages { seconds } => {
            let client = &client;
            let total = client
                .expect(reqwest::Method::GET, "/Users?count=0", None, 200)
                .await?["totalResults"]
                .as_u64()
                .unwrap_or(0);
            let (count, elapsed, histogram) = run_for(seconds, c, || {
                let start = 1 + rand::rng().random_range(0..total.max(1));
                let path = format!("/Users?startIndex={start}&count=100");
                async move {
                    client
                        .expect(reqwest::Method::GET, &path, None, 200)
                        .await
                        .map(|_| ())
                }
            })
            .await?;
            report("list-pages", count, elapsed, Some(&histogram));
        }
        Scenario::GroupPatch {
            sizes,
            prefix,
            samples,
        } => group_patch(&client, &prefix, &sizes, samples, c).await?,
        Scenario::Provision {
            users,
            groups,
            prefix,
        } => {
            let start = Instant::now();
            let ids = create_users(&client, &prefix, 0, users, c).await?;
            let per_group = (users / groups.max(1) * 10).clamp(1, users.max(1));
            let client = &client;
            let ids = &ids;
            let prefix = &prefix;
            let (elapsed, _) = run_many(groups, c, |g| async move {
                let offset = (g * per_group / 10) % ids.len().max(1);
                let members: Vec<Value> = ids.iter().cycle().skip(offset).take(per_group).map(|id| json!({"value": id})).collect();
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("{prefix}-group-{g}"), "members": members});
                client.expect(reqwest::Method::POST, "/Groups?excludedAttributes=members", Some(&body), 201).await.map(|_| ())
            })
            .await?;
            println!(
                "provision      {groups} groups of {per_group} members in {:.2} s",
                elapsed.as_secs_f64()
            );
            println!(
                "provision      {users} users + {groups} groups in {:.2} s total",
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
