//! `loadtest`: drives a running scimgate over HTTP and reports rates and latencies.
//!
//! Every loop is bounded in count and in time (a per-request timeout, a duration for the timed
//! scenarios and an overall `--max-seconds`), the concurrency is bounded (`buffer_unordered`), and
//! traffic goes only to the base URL given — which must be a loopback address unless
//! `--allow-remote` is passed.
//!
//! Scenarios:
//! - `create-users`: POST /Users rate (p50/p99).
//! - `filtered-get`: `GET /Users?filter=<attr> eq "…"` on random existing users (rate, p50/p99).
//! - `list-pages`: `GET /Users?startIndex=…&count=100` at random offsets, or a cursor walk.
//! - `group-patch`: time of one PATCH adding and one PATCH removing a member at several group
//!   sizes, in Okta's and Entra's exact forms (their bodies and headers, no query parameters, no
//!   `Prefer`); the friendlier `?excludedAttributes=members` form is reported on its own rows.
//!   The group grows between sizes by PATCHes of ~1,000 members (setup, not measured).
//! - `provision`: N users, then G groups created with their members; total wall time.
//! - `races`: concurrent POSTs of one userName (exactly one 201) and concurrent PATCHes of one
//!   group (no member lost).
//! - `feed-*`: the change feed (see `feed.rs`): webhook deliveries per second, commit → receiver
//!   latency at a steady rate, events-API pages, long-poll wake-up, the writes' cost of delivery,
//!   and an Okta initial sync followed to its last delivery. They need `--api-token`.
//!
//! Results are printed as a table, or as JSON with `--json`.
//!
//! Not a scenario: `generate` fills a migrated PostgreSQL database directly (`COPY`, not HTTP)
//! with many organizations and millions of users, for the scenarios to run against (see
//! `generate/mod.rs`); it needs neither `--base` nor `--token`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};

use loadtest::{GROUP_SCHEMA, PATCH_SCHEMA, generate, user};

mod feed;
mod receiver;

#[derive(Debug, Parser)]
#[command(name = "loadtest", about)]
struct Cli {
    /// The organization's SCIM Base URL (http://127.0.0.1:PORT/scim/v2.0/organizations/ORG_UID);
    /// required by every scenario.
    #[arg(long)]
    base: Option<String>,
    /// A bearer token of the organization; required by every scenario.
    #[arg(long, env = "LOADTEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// The whole scenario is abandoned (with an error) after this many seconds.
    #[arg(long, default_value_t = 3600)]
    max_seconds: u64,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
    /// Allow a base URL that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// A backend client's access token for the management API (`events:read webhooks:write
    /// organizations:read`), for the `feed-*` scenarios; the API is on `--base`'s host.
    #[arg(long, env = "LOADTEST_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FilterAttr {
    /// `userName eq "{prefix}{i}"`
    UserName,
    /// `externalId eq "ext-{prefix}{i}"`
    ExternalId,
    /// `emails.value eq "{prefix}{i}@load.example"`
    Emails,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Paging {
    /// `startIndex` at a random offset, `count=100`.
    Offset,
    /// Each worker walks the whole list with RFC 9865 cursors, 100 per page.
    Cursor,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Create users `{prefix}{from}..{prefix}{from+count}`.
    CreateUsers {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        from: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
    },
    /// Look up random users of `{prefix}0..{prefix}{users}` by a filter for `seconds` (or exactly
    /// `requests` times, for a profile's per-request counts).
    FilteredGet {
        #[arg(long)]
        users: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        requests: Option<usize>,
        #[arg(long, value_enum, default_value = "user-name")]
        attribute: FilterAttr,
    },
    /// Read pages of 100 users for `seconds`.
    ListPages {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, value_enum, default_value = "offset")]
        paging: Paging,
    },
    /// Grow one group to each size (members are the users `{prefix}0..`, added by PATCHes of
    /// `chunk` members) and time PATCHes adding and removing one more member at each size.
    GroupPatch {
        #[arg(long, value_delimiter = ',', default_value = "10,10000,100000")]
        sizes: Vec<usize>,
        #[arg(long, default_value = "load")]
        prefix: String,
        #[arg(long, default_value_t = 50)]
        samples: usize,
        #[arg(long, default_value_t = 1000)]
        chunk: usize,
        /// The server's PostgreSQL database: after each growth, wait until the sequencer has
        /// published every event the growth wrote, so that each size is measured in the steady
        /// state and not beside the backlog of the members just added (an IdP's single-member
        /// changes come long after its initial push).
        #[arg(long)]
        settle_database_url: Option<String>,
    },
    /// Create `users` users, then `groups` groups of `members_per_group` members each (POST
    /// /Groups with the members inline, `chunk` at most per request, the rest by PATCH).
    Provision {
        #[arg(long)]
        users: usize,
        #[arg(long)]
        groups: usize,
        #[arg(long, default_value_t = 100)]
        members_per_group: usize,
        #[arg(long, default_value_t = 1000)]
        chunk: usize,
        #[arg(long, default_value = "prov")]
        prefix: String,
    },
    /// Races: `rounds` × `writers` concurrent POSTs of one new userName (exactly one 201, the
    /// rest 409); `patches` concurrent one-member PATCHes on one group (members from
    /// `{prefix}0..`), then concurrent removes of half of them mixed with adds of others.
    Races {
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        #[arg(long, default_value_t = 16)]
        writers: usize,
        #[arg(long, default_value_t = 400)]
        patches: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
    },
    /// Webhook deliveries per second, from a backlog of `count` (one per user created).
    FeedDeliveries {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value = "feed-tp")]
        prefix: String,
    },
    /// Commit → receiver latency at a steady `rate` of events per second for `seconds`.
    FeedLatency {
        #[arg(long, default_value_t = 200)]
        rate: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value = "feed-lat")]
        prefix: String,
    },
    /// Events-API pages of 100 for `seconds`.
    FeedPages {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Long-poll wake-up, `samples` times.
    FeedWake {
        #[arg(long, default_value_t = 50)]
        samples: usize,
        #[arg(long, default_value = "feed-wake")]
        prefix: String,
    },
    /// POST /Users with and without delivery running (alternating quarters of `count`).
    FeedWriteCost {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value = "feed-cost")]
        prefix: String,
    },
    /// An Okta initial sync of `users`, followed until every event is delivered.
    FeedInitialSync {
        #[arg(long)]
        users: usize,
        #[arg(long, default_value = "okta")]
        prefix: String,
    },
    /// Not a scenario: fills a migrated PostgreSQL database with organizations, users and
    /// groups through `COPY`, as the application would have written them.
    Generate(generate::GenerateArgs),
}

/// One line of the results.
#[derive(Debug, Default)]
struct Row {
    scenario: String,
    what: String,
    requests: u64,
    seconds: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    note: String,
}

impl Row {
    fn new(scenario: &str, what: impl Into<String>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            what: what.into(),
            ..Self::default()
        }
    }

    fn timed(mut self, requests: u64, elapsed: Duration) -> Self {
        self.requests = requests;
        self.seconds = elapsed.as_secs_f64();
        self
    }

    fn latencies(mut self, h: &Histogram<u64>) -> Self {
        if !h.is_empty() {
            self.p50_ms = Some(h.value_at_quantile(0.5) as f64 / 1000.0);
            self.p99_ms = Some(h.value_at_quantile(0.99) as f64 / 1000.0);
            self.max_ms = Some(h.max() as f64 / 1000.0);
        }
        self
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    fn rate(&self) -> Option<f64> {
        (self.requests > 0 && self.seconds > 0.0).then(|| self.requests as f64 / self.seconds)
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario, "what": self.what, "requests": self.requests,
            "seconds": self.seconds, "rate_per_s": self.rate(), "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms, "max_ms": self.max_ms, "note": self.note,
        })
    }
}

fn print_table(rows: &[Row]) {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let mut out = format!(
        "{:<13} {:<44} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8}  note\n",
        "scenario", "what", "requests", "seconds", "rate/s", "p50 ms", "p99 ms", "max ms"
    );
    for r in rows {
        let rate = r
            .rate()
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(
            out,
            "{:<13} {:<44} {:>8} {:>8.2} {:>9} {:>8} {:>8} {:>8}  {}",
            r.scenario,
            r.what,
            r.requests,
            r.seconds,
            rate,
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            r.note
        );
    }
    print!("{out}");
}

/// What a page walk reads of a list response: the users are checked to be JSON and counted.
#[derive(serde::Deserialize)]
struct PageSummary {
    #[serde(rename = "Resources", default)]
    resources: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, _, body) = self
            .send_as(
                method,
                path,
                body,
                &[("content-type", "application/scim+json")],
            )
            .await?;
        Ok((status, body))
    }

    /// Sends with exactly these headers (besides the bearer token); returns the status, the
    /// body's length in bytes and the body.
    async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, usize, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, bytes.len(), body))
    }

    /// `GET path`, expected to answer 200 with a list response, read for what the walk needs.
    /// An IdP's import reads each page on its own machine; here the load generator shares the
    /// server's two cores, so it checks the page without building a tree of every user in it.
    async fn page(&self, path: &str) -> anyhow::Result<PageSummary> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .send()
            .await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        if status != 200 {
            bail!(
                "GET {path}: expected 200, got {status}: {}",
                truncate(&String::from_utf8_lossy(&bytes))
            );
        }
        serde_json::from_slice(&bytes).with_context(|| format!("GET {path}: not a list response"))
    }

    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let (status, reply) = self.send(method.clone(), path, body).await?;
        if status != want {
            let sent = body.map(|b| truncate(&b.to_string())).unwrap_or_default();
            bail!(
                "{method} {path} {sent}: expected {want}, got {status}: {}",
                truncate(&reply.to_string())
            );
        }
        Ok(reply)
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 400 {
        return s.to_owned();
    }
    let mut end = 400;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `"` → `%22`, space → `%20`, and the few other characters our names could contain.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn members_patch(op: &str, ids: &[String]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": op, "path": "members", "value": members}]})
}

/// How an identity provider sends a one-member group PATCH: its headers and its bodies.
#[derive(Debug, Clone, Copy)]
enum IdpForm {
    /// Okta: `add` with `value`/`display`; remove by a `members[value eq "…"]` path.
    Okta,
    /// Entra ID: `Add`/`Remove` (capitalized) with `$ref: null` and `value`.
    Entra,
}

impl IdpForm {
    fn name(self) -> &'static str {
        match self {
            Self::Okta => "Okta",
            Self::Entra => "Entra",
        }
    }

    fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Okta => &[
                ("accept", "application/scim+json"),
                ("content-type", "application/scim+json; charset=utf-8"),
                ("user-agent", "Okta SCIM Client 1.0.0"),
            ],
            Self::Entra => &[
                ("accept", "application/scim+json"),
                ("content-type", "application/scim+json"),
            ],
        }
    }

    fn add(self, id: &str, display: &str) -> Value {
        match self {
            Self::Okta => json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": id, "display": display}]}]}),
            Self::Entra => json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]}),
        }
    }

    fn remove(self, id: &str) -> Value {
        match self {
            Self::Okta => json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{id}\"]")}]}),
            Self::Entra => json!({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}]}),
        }
    }
}

/// Sends one PATCH in an IdP's form; a success is a 200 or a 204 (RFC 7644 §3.5.2). Returns the
/// response's length in bytes.
async fn idp_patch(
    client: &Client,
    form: IdpForm,
    path: &str,
    body: &Value,
) -> anyhow::Result<usize> {
    let (status, len, reply) = client
        .send_as(Method::PATCH, path, Some(body), form.headers())
        .await?;
    if status != 200 && status != 204 {
        bail!(
            "{} PATCH {path} {}: expected 200 or 204, got {status}: {}",
            form.name(),
            truncate(&body.to_string()),
            truncate(&reply.to_string())
        );
    }
    Ok(len)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs `make(i)` for `i` in `0..count`, `concurrency` at a time; latencies in µs.
async fn run_many<F, Fut>(
    count: usize,
    concurrency: usize,
    make: F,
) -> anyhow::Result<(Duration, Histogram<u64>)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
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
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        histogram.record(micros(result?))?;
    }
    Ok((start.elapsed(), histogram))
}

/// Runs `make()` repeatedly for `seconds`, `concurrency` at a time (at most 200,000 per second
/// of duration, so the loop is bounded even against a server that answers instantly).
async fn run_for<F, Fut>(
    seconds: u64,
    concurrency: usize,
    make: F,
) -> anyhow::Result<(u64, Duration, Histogram<u64>)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let bound = usize::try_from(seconds)
        .unwrap_or(usize::MAX)
        .saturating_mul(200_000);
    let mut histogram = Histogram::<u64>::new(3)?;
    let start = Instant::now();
    let mut results = futures_util::stream::iter(0..bound)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|_| {
            let fut = make();
            async move {
                let t = Instant::now();
                fut.await.map(|()| t.elapsed())
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut done = 0;
    while let Some(result) = results.next().await {
        histogram.record(micros(result?))?;
        done += 1;
    }
    Ok((done, start.elapsed(), histogram))
}

/// Creates users `{prefix}{from..from+count}`; their ids in order.
async fn create_users(
    client: &Client,
    prefix: &str,
    from: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<String>, Row)> {
    let ids = Mutex::new(vec![String::new(); count]);
    let ids_ref = &ids;
    let (elapsed, histogram) = run_many(count, concurrency, |i| async move {
        let reply = client
            .expect(
                Method::POST,
                "/Users",
                Some(&user(&format!("{prefix}{}", from + i))),
                201,
            )
            .await?;
        let id = reply["id"].as_str().context("no id")?.to_owned();
        if let Ok(mut ids) = ids_ref.lock() {
            ids[i] = id;
        }
        Ok(())
    })
    .await?;
    let row = Row::new("create-users", format!("POST /Users ({count} users)"))
        .timed(count as u64, elapsed)
        .latencies(&histogram);
    Ok((ids.into_inner().unwrap_or_default(), row))
}

/// The ids of users `{prefix}{from..from+count}`, looked up by filter.
async fn user_ids(
    client: &Client,
    prefix: &str,
    from: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let ids = Mutex::new(vec![String::new(); count]);
    let ids_ref = &ids;
    run_many(count, concurrency, |i| async move {
        let path = format!(
            "/Users?filter={}&attributes=id",
            encode(&format!("userName eq \"{prefix}{}\"", from + i))
        );
        let reply = client.expect(Method::GET, &path, None, 200).await?;
        let id = reply["Resources"][0]["id"]
            .as_str()
            .with_context(|| format!("user {prefix}{} not found: create it first", from + i))?
            .to_owned();
        if let Ok(mut ids) = ids_ref.lock() {
            ids[i] = id;
        }
        Ok(())
    })
    .await?;
    Ok(ids.into_inner().unwrap_or_default())
}

async fn create_group(client: &Client, name: &str) -> anyhow::Result<String> {
    let group = client
        .expect(
            Method::POST,
            "/Groups?excludedAttributes=members",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": name})),
            201,
        )
        .await?;
    Ok(group["id"].as_str().context("no group id")?.to_owned())
}

/// The group's member ids (inline up to the server's limit).
async fn group_members(client: &Client, gid: &str) -> anyhow::Result<Vec<String>> {
    let group = client
        .expect(Method::GET, &format!("/Groups/{gid}"), None, 200)
        .await?;
    Ok(group["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// How long a timed scenario runs: for a duration, or for an exact number of requests.
#[derive(Debug, Clone, Copy)]
enum Amount {
    Seconds(u64),
    Requests(usize),
}

async fn filtered_get(
    client: &Client,
    users: usize,
    prefix: &str,
    amount: Amount,
    attribute: FilterAttr,
    concurrency: usize,
) -> anyhow::Result<Row> {
    let lookup = |_: usize| {
        let i = rand::rng().random_range(0..users.max(1));
        let filter = match attribute {
            FilterAttr::UserName => format!("userName eq \"{prefix}{i}\""),
            FilterAttr::ExternalId => format!("externalId eq \"ext-{prefix}{i}\""),
            FilterAttr::Emails => format!("emails.value eq \"{prefix}{i}@load.example\""),
        };
        let path = format!("/Users?filter={}", encode(&filter));
        async move {
            let reply = client.expect(Method::GET, &path, None, 200).await?;
            if reply["totalResults"] != 1 {
                bail!(
                    "GET {path}: expected one user, got {}",
                    truncate(&reply.to_string())
                );
            }
            Ok(())
        }
    };
    let (count, elapsed, histogram) = match amount {
        Amount::Seconds(seconds) => run_for(seconds, concurrency, || lookup(0)).await?,
        Amount::Requests(n) => {
            let (elapsed, histogram) = run_many(n, concurrency, lookup).await?;
            (n as u64, elapsed, histogram)
        }
    };
    let what = match attribute {
        FilterAttr::UserName => "GET /Users?filter=userName eq",
        FilterAttr::ExternalId => "GET /Users?filter=externalId eq",
        FilterAttr::Emails => "GET /Users?filter=emails.value eq",
    };
    Ok(Row::new("filtered-get", what)
        .timed(count, elapsed)
        .latencies(&histogram)
        .note(format!("random of {users} users")))
}

async fn list_pages(
    client: &Client,
    seconds: u64,
    paging: Paging,
    concurrency: usize,
) -> anyhow::Result<Row> {
    let total = client
        .expect(Method::GET, "/Users?count=0", None, 200)
        .await?["totalResults"]
        .as_u64()
        .unwrap_or(0);
    match paging {
        Paging::Offset => {
            let (count, elapsed, histogram) = run_for(seconds, concurrency, || {
                let start = 1 + rand::rng().random_range(0..total.max(1));
                let path = format!("/Users?startIndex={start}&count=100");
                async move {
                    let got = client.page(&path).await?.resources.len();
                    let want = usize::try_from(total.saturating_sub(start - 1).min(100))?;
                    if got != want {
                        bail!("GET {path}: expected {want} users, got {got}");
                    }
                    Ok(())
                }
            })
            .await?;
            Ok(
                Row::new("list-pages", "GET /Users?startIndex=random&count=100")
                    .timed(count, elapsed)
                    .latencies(&histogram)
                    .note(format!("{total} users in the org")),
            )
        }
        Paging::Cursor => {
            // Each worker walks the list from the start; pages are timed one by one.
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let histogram = Mutex::new(Histogram::<u64>::new(3)?);
            let histogram_ref = &histogram;
            let max_pages = total / 100 + 2;
            let start = Instant::now();
            run_many(concurrency, concurrency, |_| async move {
                let mut cursor = String::new();
                for _ in 0..max_pages {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let path = format!("/Users?count=100&cursor={}", encode(&cursor));
                    let t = Instant::now();
                    let page = client.page(&path).await?;
                    if let Ok(mut h) = histogram_ref.lock() {
                        h.record(micros(t.elapsed()))?;
                    }
                    if page.resources.is_empty() && page.next_cursor.is_some() {
                        bail!("GET {path}: an empty page with a next cursor");
                    }
                    match page.next_cursor {
                        Some(next) => cursor = next,
                        None => cursor.clear(),
                    }
                }
                Ok(())
            })
            .await?;
            let elapsed = start.elapsed();
            let histogram = histogram.into_inner().unwrap_or_else(|e| e.into_inner());
            Ok(
                Row::new("list-pages", "GET /Users?count=100&cursor=… (walk)")
                    .timed(histogram.len(), elapsed)
                    .latencies(&histogram)
                    .note(format!("{total} users in the org")),
            )
        }
    }
}

/// Waits (at most ten minutes) until no event waits for the sequencer; returns how long it took.
async fn sequencer_caught_up(database_url: &str) -> anyhow::Result<Duration> {
    use sqlx::Connection as _;
    let started = Instant::now();
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    loop {
        let (waiting,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM events WHERE position IS NULL)")
                .fetch_one(&mut conn)
                .await?;
        if !waiting {
            conn.close().await?;
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the sequencer did not catch up within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn group_patch(
    client: &Client,
    prefix: &str,
    sizes: &[usize],
    samples: usize,
    chunk: usize,
    settle: Option<&str>,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let mut sizes = sizes.to_vec();
    sizes.sort_unstable();
    let largest = sizes.last().copied().unwrap_or(0);
    let lookup = Instant::now();
    let ids = user_ids(client, prefix, 0, largest + samples.max(1), concurrency).await?;
    let mut rows = vec![
        Row::new("group-patch", "user id lookups (setup)")
            .timed(ids.len() as u64, lookup.elapsed())
            .note("GET /Users?filter=userName eq …&attributes=id"),
    ];
    let (probes, pool) = ids.split_at(samples.max(1));
    let nonce: u32 = rand::rng().random();
    let gid = create_group(client, &format!("loadtest-group-{nonce}")).await?;
    // Growing the group is setup, sent in the friendlier form so that it costs the same on every
    // binary compared; what is measured is below.
    let path = format!("/Groups/{gid}?excludedAttributes=members");
    let mut size = 0;
    for &target in &sizes {
        // Grow the group (sequentially, so the chunk times show the cost at each size).
        let mut grow = Histogram::<u64>::new(3)?;
        let grow_start = Instant::now();
        let chunks = pool[size..target].chunks(chunk.max(1));
        let chunk_count = chunks.len();
        for members in chunks {
            let t = Instant::now();
            client
                .expect(
                    Method::PATCH,
                    &path,
                    Some(&members_patch("add", members)),
                    200,
                )
                .await?;
            grow.record(micros(t.elapsed()))?;
        }
        if chunk_count > 0 {
            rows.push(
                Row::new(
                    "group-patch",
                    format!("grow {size} → {target}: PATCH add ≤{chunk} members"),
                )
                .timed(chunk_count as u64, grow_start.elapsed())
                .latencies(&grow),
            );
            if let Some(url) = settle {
                let waited = sequencer_caught_up(url).await?;
                rows.push(
                    Row::new("group-patch", format!("settle at {target}"))
                        .timed(1, waited)
                        .note("until every event of the growth has its position"),
                );
            }
        }
        size = target;
        // One member in, one member out, `samples` times (different members each time), in each
        // IdP's exact form, then in the friendlier form with `?excludedAttributes=members`.
        let plain = format!("/Groups/{gid}");
        for form in [IdpForm::Okta, IdpForm::Entra] {
            let mut add = Histogram::<u64>::new(3)?;
            let mut remove = Histogram::<u64>::new(3)?;
            let mut bytes = 0;
            let started = Instant::now();
            for (i, probe) in probes.iter().enumerate() {
                let t = Instant::now();
                let display = format!("{prefix}{i}@load.example");
                bytes =
                    bytes.max(idp_patch(client, form, &plain, &form.add(probe, &display)).await?);
                add.record(micros(t.elapsed()))?;
                let t = Instant::now();
                bytes = bytes.max(idp_patch(client, form, &plain, &form.remove(probe)).await?);
                remove.record(micros(t.elapsed()))?;
            }
            let n = probes.len() as u64;
            let per_op = started.elapsed() / 2;
            let note = format!(
                "sequential, {} form, largest answer {bytes} bytes",
                form.name()
            );
            rows.push(
                Row::new(
                    "group-patch",
                    format!("size {size}: {} add 1 member", form.name()),
                )
                .timed(n, per_op)
                .latencies(&add)
                .note(note.clone()),
            );
            rows.push(
                Row::new(
                    "group-patch",
                    format!("size {size}: {} remove 1 member", form.name()),
                )
                .timed(n, per_op)
                .latencies(&remove)
                .note(note),
            );
        }
        let mut add = Histogram::<u64>::new(3)?;
        let mut remove = Histogram::<u64>::new(3)?;
        let mut get = Histogram::<u64>::new(3)?;
        let started = Instant::now();
        for probe in probes {
            let probe = std::slice::from_ref(probe);
            let t = Instant::now();
            client
                .expect(
                    Method::PATCH,
                    &path,
                    Some(&members_patch("add", probe)),
                    200,
                )
                .await?;
            add.record(micros(t.elapsed()))?;
            let t = Instant::now();
            client
                .expect(
                    Method::PATCH,
                    &path,
                    Some(&members_patch("remove", probe)),
                    200,
                )
                .await?;
            remove.record(micros(t.elapsed()))?;
            let t = Instant::now();
            client.expect(Method::GET, &path, None, 200).await?;
            get.record(micros(t.elapsed()))?;
        }
        let elapsed = started.elapsed();
        let n = probes.len() as u64;
        let per_op = elapsed / 3;
        let friendly = "sequential, friendlier form: ?excludedAttributes=members (not an IdP's)";
        rows.push(
            Row::new(
                "group-patch",
                format!("size {size}: add 1, excludedAttributes"),
            )
            .timed(n, per_op)
            .latencies(&add)
            .note(friendly),
        );
        rows.push(
            Row::new(
                "group-patch",
                format!("size {size}: remove 1, excludedAttributes"),
            )
            .timed(n, per_op)
            .latencies(&remove)
            .note(friendly),
        );
        rows.push(
            Row::new("group-patch", format!("size {size}: GET group"))
                .timed(n, per_op)
                .latencies(&get)
                .note("sequential, ?excludedAttributes=members"),
        );
    }
    // The group is left in place: deleting a 100k-member group is not what is measured here.
    Ok(rows)
}

async fn provision(
    client: &Client,
    users: usize,
    groups: usize,
    members_per_group: usize,
    chunk: usize,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let start = Instant::now();
    let (ids, users_row) = create_users(client, prefix, 0, users, concurrency).await?;
    let mut rows = vec![users_row];
    let per_group = members_per_group.min(ids.len());
    let chunk = chunk.max(1);
    let ids = &ids;
    let stride = ids.len().checked_div(groups).map_or(0, |s| s.max(1));
    let requests = std::sync::atomic::AtomicU64::new(0);
    let requests_ref = &requests;
    let groups_start = Instant::now();
    let (elapsed, histogram) = run_many(groups, concurrency, |g| async move {
        // Group g's members: `per_group` consecutive users from g × stride, wrapping around, so
        // every user is in about `groups × per_group / users` groups.
        let members: Vec<String> = ids
            .iter()
            .cycle()
            .skip(g * stride)
            .take(per_group)
            .cloned()
            .collect();
        let (first, rest) = members.split_at(chunk.min(members.len()));
        let inline: Vec<Value> = first.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": format!("{prefix}-group-{g}"), "members": inline});
        let reply = client
            .expect(
                Method::POST,
                "/Groups?excludedAttributes=members",
                Some(&body),
                201,
            )
            .await?;
        requests_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let gid = reply["id"].as_str().context("no group id")?;
        for more in rest.chunks(chunk) {
            client
                .expect(
                    Method::PATCH,
                    &format!("/Groups/{gid}?excludedAttributes=members"),
                    Some(&members_patch("add", more)),
                    200,
                )
                .await?;
            requests_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    })
    .await?;
    let memberships = groups * per_group;
    rows.push(
        Row::new(
            "provision",
            format!("{groups} groups × {per_group} members (POST /Groups)"),
        )
        .timed(requests.into_inner(), elapsed)
        .latencies(&histogram)
        .note(format!(
            "{memberships} memberships, {:.0} memberships/s; latency per group",
            memberships as f64 / groups_start.elapsed().as_secs_f64()
        )),
    );
    let total = start.elapsed();
    rows.push(
        Row::new(
            "provision",
            format!("TOTAL {users} users + {groups} groups"),
        )
        .timed(0, total)
        .note(format!("wall time; users alone {:.1} s", rows[0].seconds)),
    );
    Ok(rows)
}

async fn races(
    client: &Client,
    rounds: usize,
    writers: usize,
    patches: usize,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let nonce: u32 = rand::rng().random();
    let mut rows = Vec::new();

    // 1. Concurrent POSTs of one userName.
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut bad_rounds = Vec::new();
    let started = Instant::now();
    for round in 0..rounds {
        let name = format!("race-{nonce}-{round}");
        let body = user(&name);
        let body = &body;
        let replies: Vec<anyhow::Result<(u16, Value)>> = futures_util::stream::iter(0..writers)
            .map(|_| client.send(Method::POST, "/Users", Some(body)))
            .buffer_unordered(writers.max(1))
            .collect()
            .await;
        let mut created = 0;
        let mut other = Vec::new();
        for reply in replies {
            let (status, body) = reply?;
            *statuses.entry(status).or_default() += 1;
            match status {
                201 => created += 1,
                409 => {}
                _ => other.push(format!("{status}: {}", truncate(&body.to_string()))),
            }
        }
        if created != 1 || !other.is_empty() {
            bad_rounds.push(format!("{name}: {created}×201, others {other:?}"));
        }
    }
    let summary: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}×{s}")).collect();
    rows.push(
        Row::new(
            "races",
            format!("{rounds} rounds × {writers} POSTs of one userName"),
        )
        .timed((rounds * writers) as u64, started.elapsed())
        .note(if bad_rounds.is_empty() {
            format!("PASS: one 201 per round ({})", summary.join(", "))
        } else {
            format!("FAIL: {}", bad_rounds.join("; "))
        }),
    );

    // 2. Concurrent one-member PATCH adds on one group, then removes of the first half mixed
    //    with adds of as many others.
    let ids = user_ids(client, prefix, 0, patches + patches / 2, concurrency).await?;
    let (first, second) = ids.split_at(patches);
    let gid = create_group(client, &format!("race-group-{nonce}")).await?;
    let path = format!("/Groups/{gid}?excludedAttributes=members");
    let path = &path;
    let (elapsed, histogram) = run_many(patches, writers, |i| async move {
        client
            .expect(
                Method::PATCH,
                path,
                Some(&members_patch("add", std::slice::from_ref(&first[i]))),
                200,
            )
            .await
            .map(|_| ())
    })
    .await?;
    let mut members = group_members(client, &gid).await?;
    members.sort_unstable();
    let mut want = first.to_vec();
    want.sort_unstable();
    let lost = want.len().saturating_sub(members.len());
    rows.push(
        Row::new(
            "races",
            format!("{patches} concurrent PATCH add, 1 member each"),
        )
        .timed(patches as u64, elapsed)
        .latencies(&histogram)
        .note(if members == want {
            format!("PASS: {} members", members.len())
        } else {
            format!(
                "FAIL: {} members, expected {} ({lost} lost)",
                members.len(),
                want.len()
            )
        }),
    );
    let half = patches / 2;
    let (elapsed, histogram) = run_many(half * 2, writers, |i| async move {
        let (op, id) = if i % 2 == 0 {
            ("remove", &first[i / 2])
        } else {
            ("add", &second[i / 2])
        };
        client
            .expect(
                Method::PATCH,
                path,
                Some(&members_patch(op, std::slice::from_ref(id))),
                200,
            )
            .await
            .map(|_| ())
    })
    .await?;
    let mut members = group_members(client, &gid).await?;
    members.sort_unstable();
    let mut want: Vec<String> = first[half..]
        .iter()
        .chain(&second[..half])
        .cloned()
        .collect();
    want.sort_unstable();
    rows.push(
        Row::new(
            "races",
            format!("{} concurrent PATCH, {half} remove + {half} add", half * 2),
        )
        .timed((half * 2) as u64, elapsed)
        .latencies(&histogram)
        .note(if members == want {
            format!("PASS: {} members, exactly the expected ones", members.len())
        } else {
            format!("FAIL: {} members, expected {}", members.len(), want.len())
        }),
    );
    Ok(rows)
}

fn check_loopback(base: &str) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(base).context("--base is not a URL")?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !loopback {
        bail!("--base {base} is not a loopback address (pass --allow-remote to allow it)");
    }
    Ok(())
}

async fn run(cli: Cli, base: &str) -> anyhow::Result<Vec<Row>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(cli.concurrency)
        .timeout(Duration::from_secs(cli.timeout_secs))
        .no_proxy()
        .build()?;
    let client = Client {
        http,
        base: base.trim_end_matches('/').to_owned(),
        token: cli.token.context("--token (LOADTEST_TOKEN) is required")?,
    };
    let api = feed::Api {
        http: client.http.clone(),
        base: {
            let url = reqwest::Url::parse(&client.base)?;
            url.origin().ascii_serialization()
        },
        token: cli.api_token.unwrap_or_default(),
    };
    let client = &client;
    let api = &api;
    let c = cli.concurrency;
    let needs_api = matches!(
        cli.scenario,
        Scenario::FeedDeliveries { .. }
            | Scenario::FeedLatency { .. }
            | Scenario::FeedPages { .. }
            | Scenario::FeedWake { .. }
            | Scenario::FeedWriteCost { .. }
            | Scenario::FeedInitialSync { .. }
    );
    if needs_api && api.token.is_empty() {
        bail!("the feed scenarios need --api-token (LOADTEST_API_TOKEN)");
    }
    Ok(match cli.scenario {
        Scenario::CreateUsers {
            count,
            from,
            prefix,
        } => vec![create_users(client, &prefix, from, count, c).await?.1],
        Scenario::FilteredGet {
            users,
            prefix,
            seconds,
            requests,
            attribute,
        } => {
            let amount = match requests {
                Some(n) => Amount::Requests(n),
                None => Amount::Seconds(seconds),
            };
            vec![filtered_get(client, users, &prefix, amount, attribute, c).await?]
        }
        Scenario::ListPages { seconds, paging } => {
            vec![list_pages(client, seconds, paging, c).await?]
        }
        Scenario::GroupPatch {
            sizes,
            prefix,
            samples,
            chunk,
            settle_database_url,
        } => {
            let settle = settle_database_url.as_deref();
            group_patch(client, &prefix, &sizes, samples, chunk, settle, c).await?
        }
        Scenario::Provision {
            users,
            groups,
            members_per_group,
            chunk,
            prefix,
        } => provision(client, users, groups, members_per_group, chunk, &prefix, c).await?,
        Scenario::Races {
            rounds,
            writers,
            patches,
            prefix,
        } => races(client, rounds, writers, patches, &prefix, c).await?,
        Scenario::FeedDeliveries { count, prefix } => {
            feed::deliveries(client, api, &prefix, count, c).await?
        }
        Scenario::FeedLatency {
            rate,
            seconds,
            prefix,
        } => feed::latency(client, api, &prefix, rate, seconds).await?,
        Scenario::FeedPages { seconds } => feed::pages(api, seconds, c).await?,
        Scenario::FeedWake { samples, prefix } => feed::wake(client, api, &prefix, samples).await?,
        Scenario::FeedWriteCost { count, prefix } => {
            feed::write_cost(client, api, &prefix, count, c).await?
        }
        Scenario::FeedInitialSync { users, prefix } => {
            feed::initial_sync(client, api, &prefix, users, c).await?
        }
        Scenario::Generate(_) => bail!("generate is not a scenario"),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    if let Scenario::Generate(args) = &cli.scenario {
        return generate::run(args).await;
    }
    let base = cli.base.take().context("--base is required")?;
    if !cli.allow_remote {
        check_loopback(&base)?;
    }
    let (print_json, json_out) = (cli.json, cli.json_out.clone());
    let limit = Duration::from_secs(cli.max_seconds);
    let rows = tokio::time::timeout(limit, run(cli, &base))
        .await
        .with_context(|| format!("gave up after --max-seconds {}", limit.as_secs()))??;
    let rows_json =
        serde_json::to_string_pretty(&rows.iter().map(Row::to_json).collect::<Vec<_>>())?;
    if let Some(path) = json_out {
        std::fs::write(&path, format!("{rows_json}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if print_json {
        println!("{rows_json}");
    } else {
        print_table(&rows);
    }
    Ok(())
}
