//! The background work of a replica: the sequencer (publishes committed events to the feed),
//! webhook delivery, the SCIM request log's writer, and retention. Every replica runs all of
//! them: the sequencer takes turns through a database lock, deliveries are claimed with leases,
//! so more replicas mean more delivery capacity and a killed replica's work is picked up by the
//! others; each replica writes the SCIM requests it served itself.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use store::repo::feed::Announcement;
use tokio::task::JoinHandle;
use usecases::Core;
use usecases::webhooks::{ClaimedBatch, DeliveryJob, DeliverySettings, Sealer, SentDelivery};
use webhooks::RetrySchedule;

use crate::config::Config;
use crate::observe;

/// Events published per sequencer pass.
const SEQUENCE_BATCH: u64 = 1000;

/// What the webhook side needs, built once per process.
#[derive(Debug, Clone)]
pub struct WebhookDeps {
    /// Seals and opens endpoints' secrets.
    pub sealer: Sealer,
    /// Where deliveries may go.
    pub policy: webhooks::DestinationPolicy,
    /// Sends attempts (SSRF-guarded by `policy` at connect time).
    pub sender: webhooks::Sender,
    /// Retry schedule, leases, concurrency.
    pub delivery: DeliverySettings,
}

impl WebhookDeps {
    /// From the configuration.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let policy = webhooks::DestinationPolicy::new(config.webhooks.allowed_destinations.clone());
        let settings = webhooks::SenderSettings {
            timeout: Duration::from_secs(config.webhooks.timeout_secs),
            policy: policy.clone(),
            ..webhooks::SenderSettings::default()
        };
        let schedule = RetrySchedule::new(
            config
                .webhooks
                .retry_schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        )
        .with_jitter(config.webhooks.jitter);
        Ok(Self {
            sealer: Sealer::new(&config.secrets.webhook_key),
            policy,
            sender: webhooks::Sender::new(settings)?,
            delivery: DeliverySettings {
                schedule,
                disable_after: chrono::Duration::hours(
                    i64::try_from(config.webhooks.disable_after_hours).unwrap_or(120),
                ),
                concurrency: config.webhooks.concurrency.max(1),
                lease: chrono::Duration::seconds(
                    i64::try_from(config.webhooks.lease_secs).unwrap_or(60),
                ),
                ..DeliverySettings::default()
            },
        })
    }
}

/// Starts the workers of this replica; they run until their tasks are aborted (the server's
/// background work is, when it stops).
pub fn spawn(core: &Core, config: &Config, deps: &WebhookDeps) -> Vec<JoinHandle<()>> {
    // Another replica's published batch wakes this one's readers, and its delivery worker when
    // the batch left deliveries for a claim. (This replica's own batches come back here too;
    // they signalled already, and a second wake-up finds nothing new.)
    let signals = core.signals().clone();
    let listener = store::db::listen(core.db(), store::repo::feed::FEED_CHANNEL, move |payload| {
        signals.feed_advanced();
        let waiting = payload.map_or(1, |p| Announcement::parse(p).waiting);
        if waiting > 0 {
            signals.deliveries_due();
        }
    });
    let (handoff, fresh) = Handoff::new(&deps.delivery);
    let handoff = Arc::new(handoff);
    let mut tasks = vec![
        tokio::spawn(sequencer(
            core.clone(),
            Arc::clone(&handoff),
            Duration::from_millis(config.events.sequencer_poll_ms.max(1)),
        )),
        tokio::spawn(deliverer(
            core.clone(),
            deps.clone(),
            handoff,
            fresh,
            Duration::from_millis(config.webhooks.poll_ms.max(1)),
        )),
        tokio::spawn(delivery_gauges(core.clone())),
        tokio::spawn(janitor(
            core.clone(),
            chrono::Duration::days(i64::from(config.events.retention_days)),
        )),
        tokio::spawn(request_log_writer(core.clone())),
    ];
    tasks.extend(listener);
    tasks
}

/// Invitations sent per pass of the sender.
const INVITATION_BATCH: u64 = 50;

/// Starts this replica's invitation sender when the deployment sends email (`email.smtp_url`).
pub fn spawn_postman(
    core: &Core,
    config: &Config,
    pages_url: &str,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(mailer) = mailer::Mailer::from_settings(&config.email.mailer_settings())? else {
        return Ok(None);
    };
    let postman = usecases::invitations::Postman {
        mailer,
        accept_base_url: pages_url.to_owned(),
        branding: config.branding(pages_url),
    };
    Ok(Some(tokio::spawn(postman_loop(
        core.clone(),
        postman,
        Duration::from_millis(config.email.poll_ms.max(1)),
    ))))
}

async fn postman_loop(core: Core, postman: usecases::invitations::Postman, poll: Duration) {
    let owner = format!("replica-{}", store::secret::random_token(9));
    let mut queued = core.signals().invitations();
    loop {
        match usecases::invitations::send_due(&core, &postman, &owner, INVITATION_BATCH, Utc::now())
            .await
        {
            Ok(pass) => {
                metrics::counter!(observe::INVITATION_ATTEMPTS, "outcome" => "sent")
                    .increment(pass.sent as u64);
                metrics::counter!(observe::INVITATION_ATTEMPTS, "outcome" => "retrying")
                    .increment(pass.retrying as u64);
                metrics::counter!(observe::INVITATION_ATTEMPTS, "outcome" => "failed")
                    .increment(pass.failed as u64);
                // A full pass may have left more due; a rate-limited one waits for the poll.
                if pass.attempted() as u64 == INVITATION_BATCH && !pass.rate_limited {
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "invitation sending pass failed; retrying");
            }
        }
        wait(&mut queued, poll).await;
    }
}

/// Waits for the next change of `signal`, at most `timeout`; whether it changed.
async fn wait(signal: &mut tokio::sync::watch::Receiver<u64>, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, signal.changed()).await,
        Ok(Ok(()))
    )
}

/// How this replica's sequencer hands the deliveries it creates straight to this replica's
/// deliverer: created leased to the deliverer (no claim has to find them), as many as the
/// deliverer has room for; the rest, and those to ordered endpoints, wait for a claim.
struct Handoff {
    /// The deliverer's lease owner.
    owner: String,
    /// How long a handed-over delivery is leased (as long as a claim's lease).
    lease: chrono::Duration,
    /// How many more deliveries the deliverer can take now; it keeps this current.
    room: AtomicUsize,
    /// To the deliverer.
    to_deliverer: tokio::sync::mpsc::UnboundedSender<ClaimedBatch>,
}

impl Handoff {
    fn new(
        settings: &DeliverySettings,
    ) -> (Self, tokio::sync::mpsc::UnboundedReceiver<ClaimedBatch>) {
        let (to_deliverer, fresh) = tokio::sync::mpsc::unbounded_channel();
        let handoff = Self {
            owner: format!("replica-{}", store::secret::random_token(9)),
            lease: settings.lease,
            room: AtomicUsize::new(0),
            to_deliverer,
        };
        (handoff, fresh)
    }

    /// The lease a pass starting `now` gives, if the deliverer has room.
    fn lease(&self, now: chrono::DateTime<Utc>) -> Option<store::repo::feed::FreshLease<'_>> {
        let max = self.room.load(Ordering::Acquire);
        (max > 0).then(|| store::repo::feed::FreshLease {
            owner: &self.owner,
            until: now + self.lease,
            max,
        })
    }

    /// Gives the deliverer what a committed pass leased to it. Should that fail, the leases run
    /// out and a claim sends them: later, never lost.
    async fn hand_over(&self, core: &Core, leased: Vec<store::repo::webhooks::Claimed>) {
        if leased.is_empty() {
            return;
        }
        let count = leased.len();
        match ClaimedBatch::of(core, leased).await {
            Ok(batch) => {
                let _ = self
                    .room
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |room| {
                        Some(room.saturating_sub(count))
                    });
                if self.to_deliverer.send(batch).is_err() {
                    tracing::warn!("the deliverer is gone; leased deliveries wait for a claim");
                }
            }
            Err(e) => tracing::warn!(error = %e, "handing deliveries over failed; a claim will"),
        }
    }
}

async fn sequencer(core: Core, handoff: Arc<Handoff>, poll: Duration) {
    let mut written = core.signals().outbox();
    // Whether the next pass may skip looking for waiting events: after a full batch, or woken
    // by a commit while idle (one create at a time at an IdP's pace), something almost surely
    // waits; the look is for the poll and for signals that raced a pass.
    let mut announced = false;
    let mut lag_recorded: Option<Instant> = None;
    loop {
        let now = Utc::now();
        let lease = handoff.lease(now);
        let mut pass = if announced {
            usecases::feed::sequence_waiting(&core, SEQUENCE_BATCH, now, lease).await
        } else {
            usecases::feed::sequence(&core, SEQUENCE_BATCH, now, lease).await
        };
        if let Ok(done) = &mut pass {
            metrics::counter!(observe::EVENTS_PUBLISHED).increment(done.events as u64);
            handoff
                .hand_over(&core, std::mem::take(&mut done.leased))
                .await;
        }
        // The gauge is scraped every few seconds; reading the oldest waiting event after every
        // pass (one per create at an IdP's pace) would be a statement per create for nothing.
        if lag_recorded.is_none_or(|at| at.elapsed() >= FEED_LAG_EVERY) {
            record_feed_lag(&core).await;
            lag_recorded = Some(Instant::now());
        }
        match pass {
            // A full batch: more may be waiting.
            Ok(done) if done.events as u64 == SEQUENCE_BATCH => {
                announced = true;
                continue;
            }
            // Another replica holds the sequencer; its batch may have started before this
            // replica's commit, so look again shortly rather than at the next poll.
            Ok(done) if done.busy => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                announced = false;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "sequencer pass failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        // A commit signalled during the pass may have been in it, so the next pass looks first
        // (one read, where an empty write transaction would be five statements); one signalled
        // while this waits is news, and the next pass goes straight to it.
        announced = if written.has_changed().unwrap_or(false) {
            written.mark_unchanged();
            false
        } else {
            wait(&mut written, poll).await
        };
    }
}

/// How often the feed-lag gauge is read (at most; an idle replica reads it at every poll past it).
const FEED_LAG_EVERY: Duration = Duration::from_secs(1);

/// Sets the feed-lag gauge: the age of the oldest event still waiting for the sequencer.
async fn record_feed_lag(core: &Core) {
    if let Ok(oldest) = store::repo::feed::oldest_unpositioned(core.db()).await {
        let lag = oldest.map_or(0.0, |at| (Utc::now() - at).as_seconds_f64().max(0.0));
        metrics::gauge!(observe::FEED_LAG_SECONDS).set(lag);
    }
}

/// A replica's delivery pipeline. It claims due deliveries whenever less than half a batch is
/// outstanding, keeps up to `concurrency` requests in flight, and hands each finished one to
/// [`recorder`], which writes whatever has finished in one transaction. Sending never waits for
/// bookkeeping and a slow receiver holds up only its own requests, not the next claim.
async fn deliverer(
    core: Core,
    deps: WebhookDeps,
    handoff: Arc<Handoff>,
    mut fresh: tokio::sync::mpsc::UnboundedReceiver<ClaimedBatch>,
    poll: Duration,
) {
    let owner = handoff.owner.clone();
    let settings = Arc::new(deps.delivery.clone());
    let batch = usize::try_from(settings.batch).unwrap_or(200).max(1);
    let concurrency = settings.concurrency.max(1);
    let (to_record, finished) = tokio::sync::mpsc::unbounded_channel::<SentDelivery>();
    let recording = Arc::new(Recording::default());
    tokio::spawn(recorder(
        core.clone(),
        Arc::clone(&settings),
        owner.clone(),
        finished,
        Arc::clone(&recording),
    ));
    let mut scheduled = core.signals().deliveries();
    let mut queue: VecDeque<DeliveryJob> = VecDeque::new();
    let mut in_flight = FuturesUnordered::new();
    // Whether a claim may find something: set by deliveries scheduled for a claim (a
    // publication that left some, a redelivery), a recorded batch (an ordered endpoint's next
    // message, a retry) or the poll; cleared by a claim that came back short, so finishing
    // requests do not each cost an empty claim, nor does a publication without deliveries.
    let mut maybe_due = true;
    loop {
        let outstanding =
            queue.len() + in_flight.len() + recording.awaiting.load(Ordering::Acquire);
        let room = batch.saturating_sub(outstanding);
        handoff.room.store(room, Ordering::Release);
        if maybe_due && room >= batch.div_ceil(2) {
            match usecases::webhooks::claim_due(&core, &settings, &owner, Utc::now(), room as u64)
                .await
            {
                Ok(claimed) => {
                    maybe_due = claimed.deliveries.len() == room;
                    queue.extend(claimed.into_jobs());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        while in_flight.len() < concurrency
            && let Some(job) = queue.pop_front()
        {
            in_flight.push(usecases::webhooks::send_job(
                &core,
                &deps.sealer,
                &deps.sender,
                &settings,
                job,
                Utc::now(),
            ));
        }
        if in_flight.is_empty() {
            tokio::select! {
                Some(handed) = fresh.recv() => queue.extend(handed.into_jobs()),
                _ = scheduled.changed() => maybe_due = true,
                () = recording.done.notified() => maybe_due = true,
                () = tokio::time::sleep(poll) => maybe_due = true,
            }
            continue;
        }
        tokio::select! {
            Some(handed) = fresh.recv() => queue.extend(handed.into_jobs()),
            Some(sent) = in_flight.next() => {
                recording.awaiting.fetch_add(1, Ordering::AcqRel);
                if to_record.send(sent).is_err() {
                    // The recorder is gone (it only stops with the process): the lease will
                    // run out and the delivery be sent again — at least once, never dropped.
                    recording.awaiting.fetch_sub(1, Ordering::AcqRel);
                }
            }
            _ = scheduled.changed() => maybe_due = true,
            () = recording.done.notified() => maybe_due = true,
        }
    }
}

/// What the deliverer and its recorder share.
#[derive(Default)]
struct Recording {
    /// Sent, not yet recorded: still leased, so they count against the batch.
    awaiting: AtomicUsize,
    /// Rung after every recorded batch.
    done: tokio::sync::Notify,
}

/// Sent deliveries recorded per transaction at most.
const RECORD_BATCH: usize = 500;

/// How long the recorder waits for more finished deliveries before it records a batch: the
/// bookkeeping of a delivery (not its arrival, which has happened) is this much later at most.
const RECORD_LINGER: Duration = Duration::from_millis(20);

/// Records finished deliveries: whatever has finished by the time the previous transaction
/// committed goes into the next one. A batch that cannot be recorded is retried; if it still
/// cannot, its leases run out and its deliveries are sent again (at least once).
async fn recorder(
    core: Core,
    settings: Arc<DeliverySettings>,
    owner: String,
    mut finished: tokio::sync::mpsc::UnboundedReceiver<SentDelivery>,
    recording: Arc<Recording>,
) {
    while let Some(first) = finished.recv().await {
        let mut sent = vec![first];
        // Whatever finishes within RECORD_LINGER joins this transaction: at a high rate that is
        // tens of deliveries per commit instead of a commit per delivery, which would compete
        // with the SCIM writes for PostgreSQL's WAL flushes.
        let linger = tokio::time::sleep(RECORD_LINGER);
        tokio::pin!(linger);
        while sent.len() < RECORD_BATCH {
            tokio::select! {
                next = finished.recv() => match next {
                    Some(next) => sent.push(next),
                    None => break,
                },
                () = &mut linger => break,
            }
        }
        let count = sent.len();
        for attempt in 1..=5u32 {
            match usecases::webhooks::record_sent(&core, &settings, &owner, sent.clone()).await {
                Ok(done) => {
                    let failed = done.attempted - done.succeeded;
                    metrics::counter!(observe::WEBHOOK_ATTEMPTS, "outcome" => "delivered")
                        .increment(done.succeeded as u64);
                    metrics::counter!(observe::WEBHOOK_ATTEMPTS, "outcome" => "failed")
                        .increment(failed as u64);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "recording webhook deliveries failed");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
        recording.awaiting.fetch_sub(count, Ordering::AcqRel);
        recording.done.notify_one();
    }
}

/// Every few seconds: how many deliveries wait region-wide, and since when.
async fn delivery_gauges(core: Core) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    loop {
        every.tick().await;
        if let Ok((pending, oldest)) = store::repo::webhooks::backlog(core.db()).await {
            metrics::gauge!(observe::WEBHOOK_PENDING).set(pending as f64);
            let age = oldest.map_or(0.0, |at| (Utc::now() - at).as_seconds_f64().max(0.0));
            metrics::gauge!(observe::WEBHOOK_OLDEST_PENDING_SECONDS).set(age);
        }
    }
}

/// Writes the SCIM requests this replica queued, a batch at a time: whatever is queued (up to a
/// batch's count or bytes), then — unless the batch was full — a pause of `flush_interval`, so a
/// steady request rate costs a few write transactions a second. A batch that cannot be written is
/// dropped and counted, so an outage of the database never grows the queue.
async fn request_log_writer(core: Core) {
    let queue = core.request_log().clone();
    let settings = queue.settings().clone();
    loop {
        let batch = queue.next_batch().await;
        let size = batch.requests.len();
        if let Err(e) = usecases::request_log::write_batch(&core, batch.requests).await {
            metrics::counter!(usecases::request_log::DROPPED, "reason" => "write_failed")
                .increment(size as u64);
            tracing::warn!(error = %e, requests = size, "writing the SCIM request log failed");
        }
        if !batch.full {
            tokio::time::sleep(settings.flush_interval).await;
        }
    }
}

async fn janitor(core: Core, retention: chrono::Duration) {
    loop {
        let now = Utc::now();
        match usecases::feed::prune(&core, retention, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events past their retention"),
            Err(e) => tracing::warn!(error = %e, "pruning the feed failed"),
        }
        match usecases::request_log::prune(&core, now).await {
            Ok(pruned) if pruned != usecases::request_log::Pruned::default() => tracing::info!(
                expired = pruned.expired,
                over_cap = pruned.over_cap,
                "pruned the SCIM request log"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning the SCIM request log failed"),
        }
        if let Err(e) =
            store::repo::idempotency::prune(core.db(), now - chrono::Duration::hours(24)).await
        {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
