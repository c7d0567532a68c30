//! A unit of work: one transaction, the events it emits and its audit row, committed together or
//! not at all. Every use case that changes state runs in one.

use serde_json::Value;
use store::OrgScope;
use store::db::Transaction;
use store::repo::audit::{self, AuditEntry};
use store::repo::events::NewEvent;

use crate::events::Event;
use crate::{Actor, Core, Result};

/// The audit row of a change.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    /// What, as `noun.verb` (`api_token.created`).
    pub action: &'static str,
    /// The kind of resource acted on.
    pub resource_type: &'static str,
    /// Its public id.
    pub resource_id: String,
    /// Anything else worth keeping (never secrets).
    pub detail: Value,
}

impl Audit {
    pub(crate) fn new(
        action: &'static str,
        resource_type: &'static str,
        resource_id: impl Into<String>,
        detail: Value,
    ) -> Self {
        Self {
            action,
            resource_type,
            resource_id: resource_id.into(),
            detail,
        }
    }
}

/// An open transaction of one actor, collecting the events of the change.
pub(crate) struct Unit<'a> {
    txn: Transaction,
    actor: &'a Actor,
    events: Vec<NewEvent>,
    signals: std::sync::Arc<crate::Signals>,
    settings: std::sync::Arc<crate::Settings>,
}

impl<'a> Unit<'a> {
    /// Opens a write transaction for `actor`.
    pub(crate) async fn begin(core: &Core, actor: &'a Actor) -> Result<Self> {
        Ok(Self::on(
            core,
            actor,
            store::db::begin_write(core.db()).await?,
        ))
    }

    /// Opens a write transaction for `actor` whose statements are all keyed lookups, planned
    /// without sequential scans ([`store::db::begin_write_keyed`]): a group's writes.
    pub(crate) async fn begin_keyed(core: &Core, actor: &'a Actor) -> Result<Self> {
        Ok(Self::on(
            core,
            actor,
            store::db::begin_write_keyed(core.db()).await?,
        ))
    }

    fn on(core: &Core, actor: &'a Actor, txn: Transaction) -> Self {
        Self {
            txn,
            actor,
            events: Vec::new(),
            signals: core.signals().clone(),
            settings: core.settings.clone(),
        }
    }

    /// The transaction, for repositories.
    pub(crate) fn conn(&self) -> &Transaction {
        &self.txn
    }

    /// Records an event of this change (written at commit, in this transaction).
    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push(NewEvent {
            kind: event.kind.as_str(),
            subject_type: event.subject.kind,
            subject_id: event.subject.id,
            subject_version: event.subject.version,
            actor_type: self.actor.type_name(),
            actor_id: Some(self.actor.id().to_owned()),
            request_id: self.actor.request_id.clone(),
            payload: event.data,
            previous: event.previous,
        });
    }

    /// The payloads of the events of `kind` this change has emitted so far.
    pub(crate) fn emitted(&self, kind: crate::events::EventType) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e.kind == kind.as_str())
            .map(|e| &e.payload)
            .collect()
    }

    /// Records several events of this change, in order.
    pub(crate) fn emit_all(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.emit(event);
        }
    }

    /// Writes the audit row and the events, and commits. `scope` is the organization acted in
    /// (`None` for changes to the deployment itself, whose events are region-level).
    pub(crate) async fn commit(self, scope: Option<&OrgScope>, audit: Audit) -> Result<()> {
        let entry = AuditEntry {
            actor_type: self.actor.type_name(),
            actor_id: self.actor.id().to_owned(),
            action: audit.action,
            resource_type: audit.resource_type,
            resource_id: Some(audit.resource_id),
            request_id: self.actor.request_id.clone(),
            ip: self.actor.ip.clone(),
            detail: audit.detail,
        };
        audit::record(&self.txn, scope, entry, &self.events).await?;
        // Invitations follow the membership events of the same change, in its transaction.
        let invitations = match scope {
            Some(scope) => {
                crate::invitations::follow_events(
                    &self.txn,
                    scope,
                    self.actor,
                    &self.events,
                    &self.settings.invitations,
                )
                .await?
            }
            None => 0,
        };
        store::db::commit(self.txn).await?;
        if !self.events.is_empty() {
            self.signals.outbox_written();
        }
        if invitations > 0 {
            self.signals.invitations_queued();
        }
        Ok(())
    }

    /// Commits bookkeeping that is neither audited nor an event (a delivery attempt's record).
    /// Emitted events would be lost, so a unit with events is refused.
    pub(crate) async fn commit_unaudited(self) -> Result<()> {
        if !self.events.is_empty() {
            return Err(crate::Error::Invalid(
                "a change with events must be committed with its audit row".into(),
            ));
        }
        store::db::commit(self.txn).await?;
        Ok(())
    }
}
