//! scimgate's use cases: every operation that changes state, written once and called by every
//! surface — the SCIM API, the organization console, the operator's CLI and the management API.
//!
//! Each use case takes who acts ([`Actor`]) and, for tenant operations, the [`store::OrgScope`]
//! that authentication proved; it opens its transaction, writes its audit row and its typed events
//! ([`events::EventType`]) in that transaction, and returns a typed result or an [`Error`] that
//! each surface maps to its own error format in one place. Nothing here knows about HTTP.
#![deny(missing_docs)]

pub mod actor;
pub mod backend_clients;
pub mod clients;
pub mod error;
pub mod events;
pub mod feed;
pub mod installations;
pub mod invitations;
pub mod mappings;
pub mod members;
pub mod organizations;
pub mod portal;
pub mod request_log;
pub mod roles;
pub mod scim;
pub mod stacks;
pub mod tokens;
mod unit;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use store::Database;
use store::kv::Kv;

pub use actor::{Actor, ActorKind, ClientAddr};
pub use error::{Error, Result};

/// What the use cases run against: the region's database and key-value store, the few settings
/// that shape their results, and the in-process signals between writers and the feed's workers.
#[derive(Debug, Clone)]
pub struct Core {
    db: Database,
    kv: Kv,
    settings: Arc<Settings>,
    signals: Arc<Signals>,
    request_log: Arc<request_log::RequestLogQueue>,
    request_log_db: Option<Database>,
    positions: Arc<scim::positions::Positions>,
}

/// In-process wake-ups: a committed change tells the sequencer there is something to publish;
/// a published batch tells long-polling readers; deliveries left for a claim tell the delivery
/// worker. Counters in watch channels, so a waiter never misses a signal sent between its check
/// and its wait.
#[derive(Debug)]
pub struct Signals {
    outbox: tokio::sync::watch::Sender<u64>,
    feed: tokio::sync::watch::Sender<u64>,
    deliveries: tokio::sync::watch::Sender<u64>,
    invitations: tokio::sync::watch::Sender<u64>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            outbox: tokio::sync::watch::channel(0).0,
            feed: tokio::sync::watch::channel(0).0,
            deliveries: tokio::sync::watch::channel(0).0,
            invitations: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Signals {
    /// A change with events committed.
    pub fn outbox_written(&self) {
        self.outbox.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Events were published (given positions), here or — through the database's notification —
    /// on another replica.
    pub fn feed_advanced(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Webhook deliveries were scheduled that no worker holds yet (created waiting for a claim,
    /// or rescheduled), here or — through the database's notification — on another replica.
    /// Deliveries created leased to this replica's worker are handed to it directly and need no
    /// signal, so a publication without endpoints costs the worker nothing.
    pub fn deliveries_due(&self) {
        self.deliveries.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes when deliveries are scheduled for a claim.
    pub fn deliveries(&self) -> tokio::sync::watch::Receiver<u64> {
        self.deliveries.subscribe()
    }

    /// Invitations were queued: the sender may have work.
    pub fn invitations_queued(&self) {
        self.invitations.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes when invitations are queued on this replica.
    pub fn invitations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.invitations.subscribe()
    }

    /// Wakes on the next committed change.
    pub fn outbox(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox.subscribe()
    }

    /// Wakes on the next published batch.
    pub fn feed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }
}

/// Settings of the use cases, from the deployment's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This deployment's region id (new organizations live here; codes name it).
    pub region: String,
    /// Lifetime of OAuth access tokens: revocations must outlive every token they stop.
    pub access_token_ttl: Duration,
    /// Lifetime of an authorization code.
    pub code_ttl: Duration,
    /// Version of the terms an admin accepts when authorizing an IdP.
    pub terms_version: String,
    /// How invitations are emailed.
    pub invitations: invitations::InvitationSettings,
    /// The database time a SCIM filter that no index serves may take (PostgreSQL).
    pub scim_filter_timeout: Duration,
    /// What the SCIM request log keeps.
    pub request_log: request_log::RequestLogSettings,
}

impl Settings {
    /// Settings for `region` with the defaults of `config/default.toml`.
    pub fn for_region(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(60),
            terms_version: "2026-01".to_owned(),
            invitations: invitations::InvitationSettings::default(),
            scim_filter_timeout: Duration::from_secs(2),
            request_log: request_log::RequestLogSettings::default(),
        }
    }
}

impl Core {
    /// The use cases over a region's database and key-value store.
    pub fn new(db: Database, kv: Kv, settings: Settings) -> Self {
        Self {
            db,
            kv,
            request_log: request_log::RequestLogQueue::new(settings.request_log.clone()),
            request_log_db: None,
            settings: Arc::new(settings),
            signals: Arc::new(Signals::default()),
            positions: Arc::default(),
        }
    }

    /// This replica's marks of where deep `startIndex` pages start.
    pub fn positions(&self) -> &scim::positions::Positions {
        &self.positions
    }

    /// The in-process signals.
    pub fn signals(&self) -> &Arc<Signals> {
        &self.signals
    }

    /// This replica's queue of SCIM requests waiting to be logged.
    pub fn request_log(&self) -> &Arc<request_log::RequestLogQueue> {
        &self.request_log
    }

    /// The request log's batches are written through `db` (a connection of their own to the
    /// region's database) rather than the shared pool: a batch is one statement of up to a
    /// megabyte, the driver never shrinks the buffer a statement was encoded into, and on a pooled
    /// connection that buffer stayed with whichever connection carried it (the sixteen of a
    /// pool held tens of megabytes). Nor does the writer then wait for a connection behind the
    /// requests it logs.
    pub fn with_request_log_database(mut self, db: Database) -> Self {
        self.request_log_db = Some(db);
        self
    }

    /// Where the request log's batches are written.
    pub(crate) fn request_log_db(&self) -> &Database {
        self.request_log_db.as_ref().unwrap_or(&self.db)
    }

    /// The region's database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The region's key-value store.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How long a revocation must be remembered in the key-value store: longer than any access
    /// token it stops can live.
    pub fn revocation_ttl(&self) -> Duration {
        self.settings.access_token_ttl + Duration::from_secs(120)
    }
}
