//! The identity providers' OAuth clients. A client has exact redirect URIs (compared byte for
//! byte at authorization time), a secret kept as a SHA-256 digest (secrets are ≥256 random bits,
//! or an operator-supplied value of at least 32 characters), and its scopes.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use subtle::ConstantTimeEq;
use url::Url;

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::oauth_clients::{self, Entity as OauthClients};
use crate::secret::{random_token, sha256_hex};
use crate::{StoreError, StoreResult};

/// A client row.
pub type OauthClient = oauth_clients::Model;

/// The scopes a client gets unless told otherwise.
pub const DEFAULT_SCOPES: &str = "scim";
/// Shortest client secret an operator may supply.
pub const MIN_SECRET_LEN: usize = 32;

/// What registering a client needs.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name shown on the consent page.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A client id to use (the same client in every region); generated when `None`.
    pub client_id: Option<String>,
    /// A secret to use; generated when `None` and the client is confidential.
    pub client_secret: Option<String>,
    /// A public client has no secret and must use PKCE.
    pub public: bool,
    /// Allows `http://` redirect URIs on non-loopback hosts (recorded on the client).
    pub allow_insecure_redirect: bool,
}

/// A registered client with the secret to show once.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The stored row.
    pub row: OauthClient,
    /// The plaintext secret (confidential clients only).
    pub client_secret: Option<String>,
}

/// Checks one redirect URI: absolute, no fragment, https unless loopback or explicitly allowed.
pub fn validate_redirect_uri(raw: &str, allow_insecure: bool) -> StoreResult<()> {
    let url =
        Url::parse(raw).map_err(|e| StoreError::Invalid(format!("redirect URI '{raw}': {e}")))?;
    if url.fragment().is_some() {
        return Err(StoreError::Invalid(format!(
            "redirect URI '{raw}' must not have a fragment"
        )));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || allow_insecure => Ok(()),
        "http" => Err(StoreError::Invalid(format!(
            "redirect URI '{raw}' uses http on a non-loopback host; pass --allow-insecure-redirect to accept it"
        ))),
        other => Err(StoreError::Invalid(format!(
            "redirect URI '{raw}': scheme '{other}' is not allowed"
        ))),
    }
}

/// Registers a client.
pub async fn register(conn: &impl Conn, new: NewClient) -> StoreResult<RegisteredClient> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "client name must be 1 to 100 characters".into(),
        ));
    }
    if new.redirect_uris.is_empty() {
        return Err(StoreError::Invalid(
            "a client needs at least one redirect URI".into(),
        ));
    }
    for uri in &new.redirect_uris {
        validate_redirect_uri(uri, new.allow_insecure_redirect)?;
    }
    let client_id = match new.client_id {
        Some(id)
            if id.len() >= 8 && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()) =>
        {
            id
        }
        Some(_) => {
            return Err(StoreError::Invalid(
                "client id must be 8 to 128 printable ASCII characters".into(),
            ));
        }
        None => random_token(16),
    };
    let secret = match (new.public, new.client_secret) {
        (true, Some(_)) => return Err(StoreError::Invalid("a public client has no secret".into())),
        (true, None) => None,
        (false, Some(s)) if s.len() >= MIN_SECRET_LEN => Some(s),
        (false, Some(_)) => {
            return Err(StoreError::Invalid(format!(
                "client secret must be at least {MIN_SECRET_LEN} characters"
            )));
        }
        (false, None) => Some(random_token(32)),
    };
    let row = oauth_clients::ActiveModel {
        client_id: Set(client_id),
        name: Set(name.to_owned()),
        secret_hash: Set(secret.as_deref().map(sha256_hex)),
        redirect_uris: Set(serde_json::to_string(&new.redirect_uris)
            .map_err(|e| StoreError::Invalid(e.to_string()))?),
        scopes: Set(DEFAULT_SCOPES.to_owned()),
        insecure_redirect_allowed: Set(new.allow_insecure_redirect),
        created_at: Set(now()),
        ..Default::default()
    };
    let row = OauthClients::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "client"))?;
    Ok(RegisteredClient {
        row,
        client_secret: secret,
    })
}

/// Finds a client by its public client id.
pub async fn find(conn: &impl Conn, client_id: &str) -> StoreResult<Option<OauthClient>> {
    Ok(OauthClients::find()
        .filter(oauth_clients::Column::ClientId.eq(client_id))
        .one(conn.raw())
        .await?)
}

/// Finds a client by its row id (an installation points at it).
pub async fn find_by_id(
    conn: &impl Conn,
    id: crate::ids::OauthClientId,
) -> StoreResult<Option<OauthClient>> {
    Ok(OauthClients::find_by_id(id).one(conn.raw()).await?)
}

/// The client's exact redirect URIs.
pub fn redirect_uris(client: &OauthClient) -> Vec<String> {
    serde_json::from_str(&client.redirect_uris).unwrap_or_default()
}

/// Checks a presented client secret in constant time. Public clients never match.
pub fn verify_secret(client: &OauthClient, presented: &str) -> bool {
    client
        .secret_hash
        .as_deref()
        .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(sha256_hex(presented).as_bytes())))
}
