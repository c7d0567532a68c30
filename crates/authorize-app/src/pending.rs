//! Pending authorization requests, held server-side by a random id (128 bits) while the user logs
//! in and decides. Login returns to a pending request by id — never to a URL from a `next`
//! parameter, so there is nothing to turn into an open redirect.

use store::StoreError;
use store::secret::random_token;

use crate::AuthorizeApp;
use crate::authz_request::Pending;
use crate::error::PageError;
use crate::forms::plausible_id;

fn key(id: &str) -> String {
    format!("authz:{id}")
}

/// Stores a validated request; returns its id.
pub async fn save(app: &AuthorizeApp, pending: &Pending) -> Result<String, PageError> {
    let id = random_token(16);
    let value = serde_json::to_vec(pending).map_err(|e| StoreError::Invalid(e.to_string()))?;
    app.kv
        .set(&key(&id), &value, app.settings.pending_ttl)
        .await?;
    Ok(id)
}

/// Reads a pending request, if `id` names a live one.
pub async fn load(app: &AuthorizeApp, id: &str) -> Result<Option<Pending>, PageError> {
    if !plausible_id(id) {
        return Ok(None);
    }
    Ok(app
        .kv
        .get(&key(id))
        .await?
        .and_then(|raw| serde_json::from_slice(&raw).ok()))
}

/// Consumes a pending request: a decision is made once.
pub async fn take(app: &AuthorizeApp, id: &str) -> Result<Option<Pending>, PageError> {
    if !plausible_id(id) {
        return Ok(None);
    }
    Ok(app
        .kv
        .take(&key(id))
        .await?
        .and_then(|raw| serde_json::from_slice(&raw).ok()))
}

/// The page shown for an unknown or expired request id.
pub fn expired() -> PageError {
    PageError::BadRequest(
        "this authorization request has expired or was already answered; start again from your \
         identity provider"
            .into(),
    )
}
