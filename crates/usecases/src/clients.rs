//! The deployment's OAuth clients, registered by the operator: the IdPs' clients (authorization
//! code) for now.

use serde_json::json;
use store::repo::oauth_clients::{self, NewClient, RegisteredClient};

use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Result};

/// Registers an IdP's OAuth client; the secret is in the result only.
pub async fn register(core: &Core, actor: &Actor, new: NewClient) -> Result<RegisteredClient> {
    let unit = Unit::begin(core, actor).await?;
    let insecure = new.allow_insecure_redirect;
    let registered = oauth_clients::register(unit.conn(), new).await?;
    let audit = Audit::new(
        "oauth_client.registered",
        "oauth_client",
        &registered.row.client_id,
        json!({"name": registered.row.name, "redirect_uris": oauth_clients::redirect_uris(&registered.row),
            "allow_insecure_redirect": insecure, "public": registered.client_secret.is_none()}),
    );
    unit.commit(None, audit).await?;
    Ok(registered)
}
