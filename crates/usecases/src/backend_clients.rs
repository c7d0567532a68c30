//! The SaaS backend's OAuth clients (client credentials), registered by the operator, and the
//! scopes the management API knows.

use serde_json::json;
use store::repo::backend_clients::{self, BackendClient, RegisteredBackendClient};

use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// Every scope a backend client can be given, and what it allows.
pub const SCOPES: &[(&str, &str)] = &[
    (
        "organizations:read",
        "read organizations, their stacks, directory state and group mappings",
    ),
    (
        "organizations:write",
        "create, change and delete organizations, stacks and group mappings; switch SCIM",
    ),
    (
        "members:read",
        "read members with their effective roles, and look up accounts",
    ),
    (
        "members:write",
        "add members by hand, change their manual role, remove them",
    ),
    ("roles:read", "read the role catalog"),
    ("roles:write", "define the role catalog"),
    (
        "portal:write",
        "create portal links for a customer's IT admin",
    ),
    ("events:read", "read the change feed"),
    (
        "webhooks:write",
        "manage webhook endpoints and their deliveries",
    ),
];

/// Checks requested scopes against [`SCOPES`]; returns them deduplicated in catalogue order.
pub fn parse_scopes(requested: &str) -> Result<Vec<String>> {
    let mut scopes = Vec::new();
    for scope in requested.split([' ', ',']).filter(|s| !s.is_empty()) {
        if !SCOPES.iter().any(|(known, _)| *known == scope) {
            let known: Vec<&str> = SCOPES.iter().map(|(s, _)| *s).collect();
            return Err(Error::Invalid(format!(
                "unknown scope '{scope}' (known: {})",
                known.join(", ")
            )));
        }
    }
    for (known, _) in SCOPES {
        if requested.split([' ', ',']).any(|s| s == *known) {
            scopes.push((*known).to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(Error::Invalid("give the client at least one scope".into()));
    }
    Ok(scopes)
}

/// Registers a backend client; its secret is in the result only.
pub async fn register(
    core: &Core,
    actor: &Actor,
    name: &str,
    scopes: &str,
) -> Result<RegisteredBackendClient> {
    let scopes = parse_scopes(scopes)?;
    let unit = Unit::begin(core, actor).await?;
    let registered = backend_clients::register(unit.conn(), name, &scopes).await?;
    let audit = Audit::new(
        "backend_client.registered",
        "backend_client",
        &registered.row.client_id,
        json!({"name": registered.row.name, "scopes": scopes}),
    );
    unit.commit(None, audit).await?;
    Ok(registered)
}

/// Revokes a backend client: its access tokens stop working at their next request.
pub async fn revoke(core: &Core, actor: &Actor, client_id: &str) -> Result<BackendClient> {
    let unit = Unit::begin(core, actor).await?;
    let row = backend_clients::revoke(unit.conn(), client_id).await?;
    unit.commit(
        None,
        Audit::new(
            "backend_client.revoked",
            "backend_client",
            client_id,
            json!({}),
        ),
    )
    .await?;
    Ok(row)
}
