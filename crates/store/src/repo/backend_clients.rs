//! The SaaS backend's OAuth clients: registered by the operator, authenticated with the client
//! credentials grant. A [`BackendPrincipal`] — what a verified client proves — is the capability
//! to act in every organization of the region ([`scope_for`]), and only this module makes one.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use subtle::ConstantTimeEq;

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::backend_clients::{self, Entity as BackendClients};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::secret::{random_token, sha256_hex};
use crate::{OrgScope, StoreError, StoreResult};

/// A backend client row (never holds the secret).
pub type BackendClient = backend_clients::Model;

/// Every backend client id starts with this, so it can never be taken for an IdP's client.
pub const CLIENT_ID_PREFIX: &str = "sgb_";
/// Every backend client secret starts with this, so secret scanners recognise it.
pub const SECRET_PREFIX: &str = "sgbs_";
/// `last_used_at` is written at most this often per client.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// What a verified backend client proves: who it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPrincipal {
    client_id: String,
    scopes: Vec<String>,
}

impl BackendPrincipal {
    /// The client's public id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The scopes it was registered with.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether it holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The same principal limited to `granted` (the scopes of one access token).
    pub fn narrowed(&self, granted: &[String]) -> Self {
        Self {
            client_id: self.client_id.clone(),
            scopes: self
                .scopes
                .iter()
                .filter(|s| granted.contains(s))
                .cloned()
                .collect(),
        }
    }
}

/// A client just registered: the only moment its secret exists.
#[derive(Debug)]
pub struct RegisteredBackendClient {
    /// The stored row.
    pub row: BackendClient,
    /// The plaintext secret to show once.
    pub client_secret: String,
}

fn scopes_of(row: &BackendClient) -> Vec<String> {
    row.scopes.split_whitespace().map(str::to_owned).collect()
}

/// Registers a client with `scopes` (already checked against the catalogue by the caller).
pub async fn register(
    conn: &impl Conn,
    name: &str,
    scopes: &[String],
) -> StoreResult<RegisteredBackendClient> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "client name must be 1 to 100 characters".into(),
        ));
    }
    let secret = format!("{SECRET_PREFIX}{}", random_token(32));
    let row = backend_clients::ActiveModel {
        client_id: Set(format!("{CLIENT_ID_PREFIX}{}", random_token(12))),
        name: Set(name.to_owned()),
        secret_hash: Set(sha256_hex(&secret)),
        scopes: Set(scopes.join(" ")),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    let row = BackendClients::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "client"))?;
    Ok(RegisteredBackendClient {
        row,
        client_secret: secret,
    })
}

async fn find(conn: &impl Conn, client_id: &str) -> StoreResult<Option<BackendClient>> {
    Ok(BackendClients::find()
        .filter(backend_clients::Column::ClientId.eq(client_id))
        .one(conn.raw())
        .await?)
}

/// Checks a client's id and secret (constant time): its principal, or `None` for an unknown,
/// revoked or wrong one (answered alike).
pub async fn authenticate(
    conn: &impl Conn,
    client_id: &str,
    secret: &str,
) -> StoreResult<Option<BackendPrincipal>> {
    let Some(row) = find(conn, client_id).await? else {
        return Ok(None);
    };
    let matches = bool::from(
        row.secret_hash
            .as_bytes()
            .ct_eq(sha256_hex(secret).as_bytes()),
    );
    Ok(
        (matches && row.revoked_at.is_none()).then(|| BackendPrincipal {
            scopes: scopes_of(&row),
            client_id: row.client_id,
        }),
    )
}

/// The principal of a client that is still registered and not revoked (each request of an
/// access token it holds checks this), recording its use at most once a minute.
pub async fn active(conn: &impl Conn, client_id: &str) -> StoreResult<Option<BackendPrincipal>> {
    let Some(row) = find(conn, client_id).await? else {
        return Ok(None);
    };
    if row.revoked_at.is_some() {
        return Ok(None);
    }
    let at = now();
    if row
        .last_used_at
        .is_none_or(|last: DateTime<Utc>| at - last >= LAST_USED_GRANULARITY)
    {
        BackendClients::update_many()
            .col_expr(backend_clients::Column::LastUsedAt, Expr::value(at))
            .filter(backend_clients::Column::Id.eq(row.id))
            .exec(conn.raw())
            .await?;
    }
    Ok(Some(BackendPrincipal {
        scopes: scopes_of(&row),
        client_id: row.client_id,
    }))
}

/// Every client, newest first (the operator's listing).
pub async fn list(conn: &impl Conn) -> StoreResult<Vec<BackendClient>> {
    Ok(BackendClients::find()
        .order_by_desc(backend_clients::Column::Id)
        .all(conn.raw())
        .await?)
}

/// Revokes a client: its access tokens stop working at their next request.
pub async fn revoke(conn: &impl Conn, client_id: &str) -> StoreResult<BackendClient> {
    let row = find(conn, client_id)
        .await?
        .ok_or(StoreError::NotFound("client"))?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    BackendClients::update_many()
        .col_expr(backend_clients::Column::RevokedAt, Expr::value(now()))
        .filter(backend_clients::Column::Id.eq(row.id))
        .exec(conn.raw())
        .await?;
    find(conn, client_id)
        .await?
        .ok_or(StoreError::NotFound("client"))
}

/// The scope of an organization of this region for a backend client: it may act in any of them.
pub async fn scope_for(
    conn: &impl Conn,
    _principal: &BackendPrincipal,
    org_uid: &str,
) -> StoreResult<Option<OrgScope>> {
    Ok(Organizations::find()
        .filter(organizations::Column::Uid.eq(org_uid))
        .one(conn.raw())
        .await?
        .map(|org| OrgScope::new(org.id, org.uid)))
}
