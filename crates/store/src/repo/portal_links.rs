//! Portal links: a single-use URL, valid for minutes, that opens one organization's SCIM settings
//! for a customer's IT admin who has no account. The link is stored as a digest; redeeming it
//! marks it used in the same statement, so of two clicks only one gets a session.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::entity::portal_links::{self, Entity as PortalLinks};
use crate::secret::{random_token, sha256_hex};
use crate::{OrgScope, StoreError, StoreResult};

/// A portal link row (never holds the token).
pub type PortalLink = portal_links::Model;

/// Every link token starts with this.
pub const TOKEN_PREFIX: &str = "sgp_";

/// A link just created: the only moment its token exists.
#[derive(Debug)]
pub struct IssuedLink {
    /// The stored row.
    pub row: PortalLink,
    /// The token to put in the URL.
    pub token: String,
}

/// Creates a link into the organization, valid until `expires_at`.
pub async fn create(
    conn: &impl Conn,
    scope: &OrgScope,
    created_by: &str,
    expires_at: DateTime<Utc>,
    return_url: Option<&str>,
) -> StoreResult<IssuedLink> {
    let token = format!("{TOKEN_PREFIX}{}", random_token(32));
    let row = portal_links::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        token_hash: Set(sha256_hex(&token)),
        created_by: Set(created_by.to_owned()),
        return_url: Set(return_url.map(str::to_owned)),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    };
    let row = PortalLinks::insert(row)
        .exec_with_returning(conn.raw())
        .await?;
    Ok(IssuedLink { row, token })
}

/// What presenting a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The link was live and is now used: a session for this organization may start.
    Granted {
        /// The link's public id (recorded on everything the session does).
        link_uid: String,
        /// The organization it opens.
        org_uid: String,
        /// Where to send the admin when they are done, if the SaaS gave one.
        return_url: Option<String>,
    },
    /// Used already.
    Used,
    /// Past its time.
    Expired,
    /// Never issued.
    Unknown,
}

/// Redeems a link: of any number of concurrent tries, at most one is granted.
pub async fn redeem(conn: &impl Conn, token: &str) -> StoreResult<Redeemed> {
    let hash = sha256_hex(token);
    let at = now();
    let claimed = PortalLinks::update_many()
        .col_expr(portal_links::Column::UsedAt, Expr::value(at))
        .filter(portal_links::Column::TokenHash.eq(&hash))
        .filter(portal_links::Column::UsedAt.is_null())
        .filter(portal_links::Column::ExpiresAt.gt(at))
        .exec(conn.raw())
        .await?;
    let Some(link) = PortalLinks::find()
        .filter(portal_links::Column::TokenHash.eq(&hash))
        .one(conn.raw())
        .await?
    else {
        return Ok(Redeemed::Unknown);
    };
    if claimed.rows_affected == 0 {
        return Ok(if link.used_at.is_some() {
            Redeemed::Used
        } else {
            Redeemed::Expired
        });
    }
    let org = Organizations::find_by_id(link.org_id)
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
    Ok(Redeemed::Granted {
        link_uid: link.uid,
        org_uid: org.uid,
        return_url: link.return_url,
    })
}

/// The scope a portal session proves: its link must exist (organizations deleted take their links
/// with them) and open `org_uid`. `None` for anything else.
pub async fn session_scope(
    conn: &impl Conn,
    link_uid: &str,
    org_uid: &str,
) -> StoreResult<Option<OrgScope>> {
    let Some(link) = PortalLinks::find()
        .filter(portal_links::Column::Uid.eq(link_uid))
        .one(conn.raw())
        .await?
    else {
        return Ok(None);
    };
    let org = Organizations::find()
        .filter(organizations::Column::Id.eq(link.org_id))
        .filter(organizations::Column::Uid.eq(org_uid))
        .one(conn.raw())
        .await?;
    Ok(org.map(|org| OrgScope::new(org.id, org.uid)))
}
