//! How many SCIM users and groups an organization has, as the database keeps it (migration
//! m0009: triggers on `scim_users` and `scim_groups` add every insert and delete, in the writing
//! transaction, to per-connection shard rows). A count is the sum of at most 64 rows, so an
//! unfiltered page's `totalResults` no longer scans the organization.

use sea_orm::ConnectionTrait;

use crate::db::{Conn, Raw};
use crate::repo::feed::statement;
use crate::{OrgScope, StoreResult};

/// What is counted; the numbers are the `kind` column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rows of `scim_users`.
    Users = 1,
    /// Rows of `scim_groups`.
    Groups = 2,
}

/// An organization's count of one kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// How many there are.
    pub total: u64,
    /// How many have ever been deleted (migration m0010): unchanged means no position in the
    /// id order has moved except by rows added at its end.
    pub removed: i64,
}

/// The organization's number of `kind` resources.
pub async fn get(conn: &impl Conn, scope: &OrgScope, kind: Kind) -> StoreResult<u64> {
    Ok(counts(conn, scope, kind).await?.total)
}

/// The organization's number of `kind` resources and of their removals.
pub async fn counts(conn: &impl Conn, scope: &OrgScope, kind: Kind) -> StoreResult<Counts> {
    let raw = conn.raw();
    let row = raw
        .query_one_raw(statement(
            raw.get_database_backend(),
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS total, \
             CAST(COALESCE(SUM(removed), 0) AS BIGINT) AS removed FROM scim_resource_counts \
             WHERE org_id = ? AND kind = ?",
            vec![scope.org_id().0.into(), (kind as i16).into()],
        ))
        .await?;
    let (total, removed): (i64, i64) = match row {
        Some(row) => (row.try_get("", "total")?, row.try_get("", "removed")?),
        None => (0, 0),
    };
    Ok(Counts {
        total: u64::try_from(total).unwrap_or(0),
        removed,
    })
}

/// Forgets a deleted organization's counts (its rows' deletions brought them to zero).
pub(crate) async fn forget(conn: &impl Conn, scope: &OrgScope) -> StoreResult<()> {
    let raw = conn.raw();
    raw.execute_raw(statement(
        raw.get_database_backend(),
        "DELETE FROM scim_resource_counts WHERE org_id = ?",
        vec![scope.org_id().0.into()],
    ))
    .await?;
    Ok(())
}
