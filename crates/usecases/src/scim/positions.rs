//! Where a deep `startIndex` page starts. Okta's and Entra's imports page by `startIndex`, and
//! finding position 50,000 of an organization by skipping through its `(org_id, id)` index
//! visits 50,000 index entries on every such page. This replica instead keeps, per organization,
//! the id at every `every`-th position (the *marks*), read in one pass over the index, and a
//! page skips at most `every - 1` entries from the mark before it.
//!
//! A new user's id is larger than every other, so inserts only add positions at the end, and the
//! marks stay right until a row is removed: they are kept together with the organization's
//! removal count (`store::repo::resource_counts`), read on every such page with its total
//! anyway, and read again once it moves, whichever replica removed the row. (A transaction that
//! drew a smaller id but commits after a larger one can shift a position by one while it
//! commits; RFC 7644 §3.4.2.4 promises `startIndex` pages no consistency across concurrent
//! changes, and cursor paging is the stable way through them.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use store::OrgScope;
use store::ids::{OrgId, ScimUserId};
use store::repo::resource_counts::Counts;
use store::repo::scim_users;

/// Organizations whose marks are kept at once; past it the map starts over.
const MAX_ORGANIZATIONS: usize = 4096;

/// One organization's marks.
#[derive(Debug)]
struct Marks {
    every: u64,
    removed: i64,
    ids: Arc<Vec<ScimUserId>>,
}

/// This replica's marks, per organization.
#[derive(Debug, Default)]
pub struct Positions {
    marks: Mutex<HashMap<OrgId, Marks>>,
    /// One organization's marks are read at a time, so a burst of deep pages in a fresh
    /// organization reads them once rather than once per request.
    reading: tokio::sync::Mutex<()>,
}

/// Where a page at a given offset starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The id at a position at or before the page's.
    pub from: ScimUserId,
    /// Rows to skip from it.
    pub offset: u64,
}

impl Positions {
    /// Where the page at `offset` (0-based, users in id order) starts: a mark and the rows left
    /// to skip from it, or `None` when it starts before the first mark past the first user.
    pub async fn start(
        &self,
        db: &store::Database,
        scope: &OrgScope,
        counts: Counts,
        offset: u64,
        every: u64,
    ) -> crate::Result<Option<Start>> {
        let every = every.max(1);
        if offset < every {
            return Ok(None);
        }
        let ids = match self.usable(scope.org_id(), counts, offset, every) {
            Some(ids) => ids,
            None => {
                let _reading = self.reading.lock().await;
                match self.usable(scope.org_id(), counts, offset, every) {
                    Some(ids) => ids,
                    None => {
                        let ids = Arc::new(scim_users::position_marks(db, scope, every).await?);
                        self.keep(scope.org_id(), every, counts.removed, Arc::clone(&ids));
                        ids
                    }
                }
            }
        };
        let Some(last) = ids.len().checked_sub(1) else {
            return Ok(None);
        };
        let mark = usize::try_from(offset / every)
            .unwrap_or(usize::MAX)
            .min(last);
        Ok(Some(Start {
            from: ids[mark],
            offset: offset - every * mark as u64,
        }))
    }

    /// The organization's marks, if they are still right (no removal since they were read) and
    /// reach the page (or no further mark exists yet).
    fn usable(
        &self,
        org: OrgId,
        counts: Counts,
        offset: u64,
        every: u64,
    ) -> Option<Arc<Vec<ScimUserId>>> {
        let marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = marks.get(&org)?;
        let reached = kept.ids.len() as u64 * every;
        let current = kept.every == every && kept.removed == counts.removed;
        (current && (offset < reached || counts.total <= reached)).then(|| Arc::clone(&kept.ids))
    }

    fn keep(&self, org: OrgId, every: u64, removed: i64, ids: Arc<Vec<ScimUserId>>) {
        let mut marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        if marks.len() >= MAX_ORGANIZATIONS && !marks.contains_key(&org) {
            marks.clear();
        }
        marks.insert(
            org,
            Marks {
                every,
                removed,
                ids,
            },
        );
    }
}
