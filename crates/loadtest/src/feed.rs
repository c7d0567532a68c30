//! The change-feed scenarios: webhook deliveries per second, commit → receiver latency at a
//! steady rate, events-API pages, long-poll wake-up, what delivery costs the SCIM writes, and an
//! Okta-style initial sync followed to its last delivery. Deliveries go to this process's own
//! receiver on 127.0.0.1; endpoints are registered (and deleted afterwards) through the
//! management API with a backend client's token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use reqwest::Method;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::{Client, Row, micros, run_for, run_many, user};

/// The management API (`/api/v1`) with a backend client's token.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("{method} /api/v1{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers an endpoint to `url` for `types` (every type when empty); returns its id.
    async fn endpoint(&self, url: &str, types: &[&str]) -> anyhow::Result<String> {
        let mut body = json!({"url": url, "description": "loadtest"});
        if !types.is_empty() {
            body["event_types"] = json!(types);
        }
        let created = self
            .call(Method::POST, "/webhook-endpoints", Some(&body))
            .await?;
        Ok(created["id"].as_str().context("no endpoint id")?.to_owned())
    }

    async fn delete_endpoint(&self, id: &str) -> anyhow::Result<()> {
        self.call(Method::DELETE, &format!("/webhook-endpoints/{id}"), None)
            .await
            .map(|_| ())
    }

    /// The feed's head now: the cursor a listing returns.
    async fn head(&self) -> anyhow::Result<String> {
        let listing = self
            .call(Method::GET, "/organizations?limit=1", None)
            .await?;
        Ok(listing["feed_cursor"]
            .as_str()
            .context("no feed_cursor")?
            .to_owned())
    }
}

/// Waits (polling, bounded by `limit`) until the receiver holds `n` distinct messages; returns
/// when the last of them arrived, measured from `since`.
async fn until_received(receiver: &Receiver, n: usize, limit: Duration) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        if receiver.distinct() >= n {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {n} messages arrived within {}s",
                receiver.distinct(),
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Deliveries per second: `count` users are created while the receiver holds every request (the
/// deliveries pile up in the database), then it lets them through; the rate is `count` over the
/// time from opening to the last arrival. One endpoint, `directory.user.created` only, so one
/// delivery per user. The server's `webhooks.timeout_secs` must outlast the writes.
pub async fn deliveries(
    client: &Client,
    api: &Api,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let receiver = Receiver::start().await?;
    receiver.set_open(false);
    let endpoint = api
        .endpoint(&receiver.url("/throughput"), &["directory.user.created"])
        .await?;
    let (_, written) = crate::create_users(client, prefix, 0, count, concurrency).await?;
    // Let the sequencer publish the last writes before timing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let opened = Instant::now();
    receiver.set_open(true);
    let last = until_received(&receiver, count, Duration::from_secs(600)).await?;
    let drained = last - opened;
    api.delete_endpoint(&endpoint).await?;
    Ok(vec![
        written,
        Row::new("feed", format!("webhook deliveries ({count}, backlog)"))
            .timed(count as u64, drained)
            .note(format!(
                "{} requests for {count} messages",
                receiver.requests()
            )),
    ])
}

/// Commit → receiver latency at a steady `rate` of events per second for `seconds`: one user
/// created every 1/rate s (one `directory.user.created` event each, the endpoint's only type);
/// each message's latency is its arrival minus the event's own timestamp (taken in the writing
/// transaction just before its commit, so this slightly over-counts).
pub async fn latency(
    client: &Client,
    api: &Api,
    prefix: &str,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Vec<Row>> {
    let receiver = Receiver::start().await?;
    let endpoint = api
        .endpoint(&receiver.url("/latency"), &["directory.user.created"])
        .await?;
    let count = usize::try_from(rate.saturating_mul(seconds))?;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // Each create is its own task, so a slow one never delays the next tick.
    let mut writes = Vec::with_capacity(count);
    for i in 0..count {
        ticker.tick().await;
        let (_, request) = okta_create_request(client, i, prefix);
        writes.push(tokio::spawn(async move {
            request
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }));
    }
    let mut failed = 0;
    for write in writes {
        if !write.await.unwrap_or(false) {
            failed += 1;
        }
    }
    let wrote = started.elapsed();
    if failed > 0 {
        bail!("{failed} of {count} creates failed");
    }
    until_received(&receiver, count, Duration::from_secs(120)).await?;
    let mut histogram = Histogram::<u64>::new(3)?;
    for arrival in receiver.arrivals() {
        if let Some(written) = arrival.written {
            let latency = arrival.at.duration_since(written).unwrap_or_default();
            histogram.record(micros(latency))?;
        }
    }
    api.delete_endpoint(&endpoint).await?;
    Ok(vec![
        Row::new(
            "feed",
            format!("commit → receiver at {rate} events/s ({seconds} s)"),
        )
        .timed(count as u64, wrote)
        .latencies(&histogram)
        .note("latency from the event's timestamp to its arrival"),
    ])
}

/// `GET /api/v1/events?limit=100` pages for `seconds`: each of `concurrency` readers walks the
/// feed from its start by `next_cursor`, again from the start when it reaches the head.
pub async fn pages(api: &Api, seconds: u64, concurrency: usize) -> anyhow::Result<Vec<Row>> {
    let cursors: Vec<tokio::sync::Mutex<Option<String>>> = (0..concurrency.max(1))
        .map(|_| tokio::sync::Mutex::new(None))
        .collect();
    let turn = AtomicU64::new(0);
    let events = AtomicU64::new(0);
    let (count, elapsed, histogram) = run_for(seconds, concurrency, || {
        let slot = &cursors
            [usize::try_from(turn.fetch_add(1, Ordering::Relaxed)).unwrap_or(0) % cursors.len()];
        let events = &events;
        async move {
            let mut cursor = slot.lock().await;
            let after = cursor
                .as_deref()
                .map(|c| format!("&after={c}"))
                .unwrap_or_default();
            let page = api
                .call(Method::GET, &format!("/events?limit=100{after}"), None)
                .await?;
            let n = page["data"].as_array().map_or(0, Vec::len);
            events.fetch_add(n as u64, Ordering::Relaxed);
            *cursor = if n < 100 {
                None
            } else {
                page["next_cursor"].as_str().map(str::to_owned)
            };
            Ok(())
        }
    })
    .await?;
    Ok(vec![
        Row::new("feed", "GET /api/v1/events?limit=100 (walks)")
            .timed(count, elapsed)
            .latencies(&histogram)
            .note(format!(
                "{} events read, {concurrency} readers",
                events.load(Ordering::Relaxed)
            )),
    ])
}

/// Long-poll wake-up, `samples` times one after the other: a reader waits at the head
/// (`wait=20`) for `directory.user.created`; a user is created; the time from the create's 201
/// to the reader's answer (and from sending the create) is recorded.
pub async fn wake(
    client: &Client,
    api: &Api,
    prefix: &str,
    samples: usize,
) -> anyhow::Result<Vec<Row>> {
    let mut from_commit = Histogram::<u64>::new(3)?;
    let mut from_send = Histogram::<u64>::new(3)?;
    for i in 0..samples {
        let head = api.head().await?;
        let path = format!("/events?after={head}&types=directory.user.created&wait=20");
        let waiting = api.call(Method::GET, &path, None);
        let write = async {
            // The reader's request must be parked before the write.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let sent = Instant::now();
            client
                .expect(
                    Method::POST,
                    "/Users",
                    Some(&user(&format!("{prefix}{i}"))),
                    201,
                )
                .await?;
            Ok::<_, anyhow::Error>((sent, Instant::now()))
        };
        let (page, written) = tokio::join!(
            async {
                let page = waiting.await;
                (page, Instant::now())
            },
            write
        );
        let ((page, woke), (sent, acknowledged)) = ((page.0?, page.1), written?);
        if page["data"].as_array().map_or(0, Vec::len) != 1 {
            bail!("the long-poll answered without the event: {page}");
        }
        from_commit.record(micros(woke.saturating_duration_since(acknowledged)))?;
        from_send.record(micros(woke.saturating_duration_since(sent)))?;
    }
    Ok(vec![
        Row::new("feed", "long-poll wake-up after the write's 201")
            .timed(samples as u64, Duration::ZERO)
            .latencies(&from_commit)
            .note("0 when the reader answered before the writer got its 201"),
        Row::new("feed", "long-poll wake-up after sending the write")
            .timed(samples as u64, Duration::ZERO)
            .latencies(&from_send),
    ])
}

/// What delivery costs the writes: POST /Users in four alternating quarters of `count`, without
/// an endpoint (A) and with one receiving every event (B): A, B, A, B.
pub async fn write_cost(
    client: &Client,
    api: &Api,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let receiver = Receiver::start().await?;
    let quarter = count / 4;
    let mut without = (0u64, Duration::ZERO, Histogram::<u64>::new(3)?);
    let mut with = (0u64, Duration::ZERO, Histogram::<u64>::new(3)?);
    let mut expected = 0;
    for q in 0..4 {
        let delivering = q % 2 == 1;
        let endpoint = if delivering {
            Some(api.endpoint(&receiver.url("/cost"), &[]).await?)
        } else {
            None
        };
        let (elapsed, histogram) = run_many(quarter, concurrency, |i| {
            okta_create(client, q * quarter + i, prefix)
        })
        .await?;
        let into = if delivering { &mut with } else { &mut without };
        into.0 += quarter as u64;
        into.1 += elapsed;
        into.2.add(&histogram)?;
        if let Some(endpoint) = endpoint {
            // Two events per create (user created, membership invited).
            expected += 2 * quarter;
            until_received(&receiver, expected, Duration::from_secs(300)).await?;
            api.delete_endpoint(&endpoint).await?;
        }
    }
    let rate = |r: &(u64, Duration, Histogram<u64>)| r.0 as f64 / r.1.as_secs_f64().max(1e-9);
    Ok(vec![
        Row::new("feed", "POST /Users, no webhook endpoint")
            .timed(without.0, without.1)
            .latencies(&without.2),
        Row::new("feed", "POST /Users, delivering every event")
            .timed(with.0, with.1)
            .latencies(&with.2)
            .note(format!(
                "{:+.1}% vs without",
                (rate(&with) / rate(&without) - 1.0) * 100.0
            )),
    ])
}

/// Okta's create of user `{prefix}{i}`, as its SCIM client sends it (developer.okta.com, "Okta
/// and SCIM Version 2.0": the profile with `locale`, `externalId`, an empty `groups`, a password,
/// and Okta's headers); with the user's name.
fn okta_create_request(
    client: &Client,
    i: usize,
    prefix: &str,
) -> (String, reqwest::RequestBuilder) {
    let name = format!("{prefix}{i}@okta.load.example");
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Load", "familyName": format!("User{i}")},
        "emails": [{"primary": true, "value": name, "type": "work"}],
        "displayName": format!("Load User{i}"),
        "locale": "en-US",
        "externalId": format!("00u{i:017}"),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let mut request = client
        .http
        .post(format!("{}/Users", client.base))
        .bearer_auth(&client.token);
    for (header, value) in crate::IdpForm::Okta.headers() {
        request = request.header(*header, *value);
    }
    (name, request.body(body.to_string()))
}

/// Sends [`okta_create_request`]; a success is a 201.
async fn okta_create(client: &Client, i: usize, prefix: &str) -> anyhow::Result<()> {
    let (name, request) = okta_create_request(client, i, prefix);
    let res = request.send().await?;
    let status = res.status();
    if status.as_u16() != 201 {
        bail!("Okta create {name}: {status}: {}", res.text().await?);
    }
    Ok(())
}

/// An initial sync as Okta sends it — `users` creates, `concurrency` in flight — with an endpoint
/// receiving every event (two per user); how long after the last write the last delivery arrived.
pub async fn initial_sync(
    client: &Client,
    api: &Api,
    prefix: &str,
    users: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Row>> {
    let receiver = Receiver::start().await?;
    let endpoint = api.endpoint(&receiver.url("/sync"), &[]).await?;
    let started = Instant::now();
    let (elapsed, histogram) =
        run_many(users, concurrency, |i| okta_create(client, i, prefix)).await?;
    let last_write = Instant::now();
    let delivered_at_last_write = receiver.distinct();
    let last = until_received(&receiver, 2 * users, Duration::from_secs(1800)).await?;
    api.delete_endpoint(&endpoint).await?;
    let after = last.saturating_duration_since(last_write);
    Ok(vec![
        Row::new("feed", format!("Okta initial sync: POST /Users × {users}"))
            .timed(users as u64, elapsed)
            .latencies(&histogram)
            .note(format!(
                "{delivered_at_last_write} of {} delivered at the last write",
                2 * users
            )),
        Row::new("feed", "… every event delivered (from the first write)")
            .timed(2 * users as u64, last - started)
            .note(format!(
                "last delivery {:.1} s after the last write",
                after.as_secs_f64()
            )),
    ])
}
