//! `scimgate admin …`: the operator's commands. Each runs in one transaction, records an audit row,
//! and prints either a human summary or, with `--json`, one JSON object.

use serde_json::{Value, json};
use store::repo::audit::{self, AuditEntry};
use store::repo::oauth_clients::{self, NewClient};
use store::repo::organizations;
use store::types::OrgRole;
use store::{OrgScope, StoreError};
use usecases::organizations::{NewOrganization, OwnerAccess};
use usecases::{Actor, Core};

use crate::cli::AdminCommand;
use crate::config::Config;

/// What a command prints: JSON fields, and the human lines for a terminal.
#[derive(Debug)]
pub struct Output {
    /// The `--json` object.
    pub json: Value,
    /// The plain-text rendering.
    pub text: String,
}

/// Creates an organization owned by `owner_email` (an existing account is reused, its password
/// untouched; a new one gets `owner_password` or a generated one, printed once). Used by the CLI
/// and the demo.
pub async fn create_org(
    core: &Core,
    name: &str,
    owner_email: &str,
    owner_password: Option<&str>,
) -> usecases::Result<Output> {
    let new = NewOrganization {
        name: name.to_owned(),
        owner_email: owner_email.to_owned(),
        owner_access: match owner_password {
            Some(password) => OwnerAccess::Password(password.to_owned()),
            None => OwnerAccess::GeneratedPassword,
        },
    };
    let created = usecases::organizations::create(core, &Actor::operator(), new).await?;
    let org = &created.organization;
    let mut out = json!({"org_uid": org.uid, "org_name": org.name,
        "owner_email": created.owner.email, "region": org.home_region});
    let mut text = format!(
        "created organization {} ({})\nowner: {}",
        org.name, org.uid, created.owner.email
    );
    if let Some(password) = created.generated_password {
        text.push_str(&format!("\nowner password (shown once): {password}"));
        out["owner_password"] = json!(password);
    }
    Ok(Output { json: out, text })
}

/// The organization an operator names. The CLI runs with the deployment's own database
/// credentials, which are the operator's capability: the one place allowed to take it.
#[allow(clippy::disallowed_methods)]
async fn operator_scope(core: &Core, org: &str) -> usecases::Result<OrgScope> {
    Ok(organizations::operator_scope(core.db(), org).await?)
}

async fn set_scim(core: &Core, org: &str, enabled: bool) -> usecases::Result<Output> {
    let scope = operator_scope(core, org).await?;
    let org = usecases::organizations::set_scim_enabled(core, &Actor::operator(), &scope, enabled)
        .await?;
    let state = if enabled { "enabled" } else { "disabled" };
    Ok(Output {
        json: json!({"org_uid": org.uid, "scim_enabled": enabled}),
        text: format!("SCIM {state} for {} ({})", org.name, org.uid),
    })
}

async fn add_member(
    core: &Core,
    org: &str,
    email: &str,
    role: &str,
    password: Option<&str>,
) -> usecases::Result<Output> {
    let role: OrgRole = role.parse()?;
    let scope = operator_scope(core, org).await?;
    let new = usecases::members::NewMember {
        email: email.to_owned(),
        role,
        password: password.map(str::to_owned),
    };
    let added = usecases::members::add(core, &Actor::operator(), &scope, new).await?;
    let email = &added.account.email;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "email": email, "account_uid": added.account.uid,
            "role": added.membership.role, "status": added.membership.status}),
        text: format!(
            "added {email} to {} as {}",
            scope.org_uid(),
            added.membership.role
        ),
    })
}

/// Creates an organization token. Used by the CLI and the demo.
pub async fn create_token(
    core: &Core,
    org: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> usecases::Result<Output> {
    let scope = operator_scope(core, org).await?;
    let issued =
        usecases::tokens::create(core, &Actor::operator(), &scope, name, expires_in_days).await?;
    Ok(Output {
        json: json!({"token": issued.token, "token_id": issued.row.uid, "prefix": issued.row.prefix,
            "expires_at": issued.row.expires_at}),
        text: format!(
            "token (shown once): {}\nid: {}",
            issued.token, issued.row.uid
        ),
    })
}

/// Rotates a bearer token: a new one under its name, the old one working for `overlap` (`1h`,
/// `24h`, `7d`, `revoked`, or seconds).
async fn rotate_token(
    core: &Core,
    org: &str,
    uid: &str,
    overlap: &str,
    expires_in_days: Option<u32>,
) -> usecases::Result<Output> {
    let overlap = usecases::tokens::Overlap::parse(overlap)
        .or_else(|| {
            let secs = overlap.parse::<u32>().ok()?;
            Some(usecases::tokens::Overlap::For(chrono::Duration::seconds(
                i64::from(secs),
            )))
        })
        .ok_or_else(|| {
            usecases::Error::Invalid(format!(
                "--overlap must be 1h, 24h, 7d, revoked or a number of seconds, not '{overlap}'"
            ))
        })?;
    let scope = operator_scope(core, org).await?;
    let rotated = usecases::tokens::rotate(
        core,
        &Actor::operator(),
        &scope,
        uid,
        overlap,
        expires_in_days,
    )
    .await?;
    Ok(Output {
        json: json!({"token": rotated.issued.token, "token_id": rotated.issued.row.uid,
            "prefix": rotated.issued.row.prefix, "expires_at": rotated.issued.row.expires_at,
            "old_token_id": rotated.old.uid, "old_ends_at": rotated.old.expires_at}),
        text: format!(
            "new token (shown once): {}\nid: {}\nthe old token {} works {}",
            rotated.issued.token,
            rotated.issued.row.uid,
            rotated.old.prefix,
            rotated
                .old
                .expires_at
                .map_or_else(|| "until revoked".to_owned(), |at| format!("until {at}"))
        ),
    })
}

/// Revokes a bearer token, announcing it to the running replicas.
async fn revoke_token(core: &Core, org: &str, uid: &str) -> usecases::Result<Output> {
    let scope = operator_scope(core, org).await?;
    let token = usecases::tokens::revoke(core, &Actor::operator(), &scope, uid).await?;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "token_id": token.uid, "revoked": true}),
        text: format!(
            "revoked token {} ({}) of {}",
            token.uid,
            token.prefix,
            scope.org_uid()
        ),
    })
}

/// Creates a stack.
async fn create_stack(core: &Core, org: &str, name: &str) -> usecases::Result<Output> {
    let scope = operator_scope(core, org).await?;
    let stack = usecases::stacks::create(core, &Actor::operator(), &scope, name).await?;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "stack_uid": stack.uid, "name": stack.name}),
        text: format!(
            "created stack {} ({}) in {}",
            stack.name,
            stack.uid,
            scope.org_uid()
        ),
    })
}

/// Registers an OAuth client. Used by the CLI and the demo.
pub async fn register_client(core: &Core, new: NewClient) -> usecases::Result<Output> {
    let registered = usecases::clients::register(core, &Actor::operator(), new).await?;
    let mut text = format!("client_id: {}", registered.row.client_id);
    if let Some(secret) = &registered.client_secret {
        text.push_str(&format!("\nclient_secret (shown once): {secret}"));
    }
    Ok(Output {
        json: json!({"client_id": registered.row.client_id, "client_secret": registered.client_secret,
            "redirect_uris": oauth_clients::redirect_uris(&registered.row)}),
        text,
    })
}

/// Registers a backend client for the management API.
async fn register_backend_client(
    core: &Core,
    name: &str,
    scopes: &str,
) -> usecases::Result<Output> {
    let registered =
        usecases::backend_clients::register(core, &Actor::operator(), name, scopes).await?;
    let row = &registered.row;
    Ok(Output {
        json: json!({"client_id": row.client_id, "client_secret": registered.client_secret,
            "name": row.name, "scopes": row.scopes}),
        text: format!(
            "client_id: {}\nclient_secret (shown once): {}\nscopes: {}",
            row.client_id, registered.client_secret, row.scopes
        ),
    })
}

/// Revokes a backend client.
async fn revoke_backend_client(core: &Core, client_id: &str) -> usecases::Result<Output> {
    let row = usecases::backend_clients::revoke(core, &Actor::operator(), client_id).await?;
    Ok(Output {
        json: json!({"client_id": row.client_id, "revoked": true}),
        text: format!("revoked backend client {} ({})", row.client_id, row.name),
    })
}

/// Rotates the signing keys (see `token_service::keys::rotate`).
async fn rotate_keys(core: &Core, config: &Config) -> Result<Output, StoreError> {
    let access_ttl = std::time::Duration::from_secs(config.oauth.access_token_ttl_secs);
    let rotation = token_service::keys::rotate(core.db(), access_ttl).await?;
    let detail = json!({"active_kid": rotation.active_kid, "next_kid": rotation.next_kid,
        "retired_kid": rotation.retired_kid, "deleted": rotation.deleted});
    let entry = AuditEntry {
        actor_type: "operator",
        actor_id: "cli".into(),
        action: "signing_keys.rotated",
        resource_type: "signing_key",
        resource_id: Some(rotation.active_kid.clone()),
        request_id: None,
        ip: None,
        detail: detail.clone(),
    };
    audit::record(core.db(), None, entry, &[]).await?;
    Ok(Output {
        text: format!(
            "signing with {} (published since the last rotation)\nnext key published: {}\nretired: {}\nexpired keys deleted: {}",
            rotation.active_kid,
            rotation.next_kid,
            rotation.retired_kid.as_deref().unwrap_or("-"),
            rotation.deleted
        ),
        json: detail,
    })
}

/// Revokes an installation in the database and in the key-value store's revocation set.
async fn revoke_installation(core: &Core, org: &str, uid: &str) -> usecases::Result<Output> {
    let scope = operator_scope(core, org).await?;
    usecases::installations::revoke(core, &Actor::operator(), &scope, uid).await?;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "installation": uid, "revoked": true}),
        text: format!("revoked installation {uid} of {}", scope.org_uid()),
    })
}

/// Runs one admin command; returns what to print and whether `--json` was asked for.
pub async fn run(
    core: &Core,
    config: &Config,
    command: AdminCommand,
) -> anyhow::Result<(Output, bool)> {
    // Revocations and SCIM switches are announced through the key-value store: a CLI on another
    // store than the servers' would change the database while their caches never hear of it.
    let url = crate::server::redact(&config.kv.url);
    if let Err(reason) =
        store::deployment::check_kv(core.db(), core.kv(), &url, &config.kv.namespace).await?
    {
        anyhow::bail!(reason);
    }
    Ok(match command {
        AdminCommand::RotateKeys { json } => (rotate_keys(core, config).await?, json),
        AdminCommand::RegisterBackendClient { name, scopes, json } => {
            (register_backend_client(core, &name, &scopes).await?, json)
        }
        AdminCommand::RevokeBackendClient { client, json } => {
            (revoke_backend_client(core, &client).await?, json)
        }
        AdminCommand::RevokeInstallation {
            org,
            installation,
            json,
        } => (revoke_installation(core, &org, &installation).await?, json),
        AdminCommand::CreateOrg {
            name,
            owner_email,
            owner_password,
            json,
        } => (
            create_org(core, &name, &owner_email, owner_password.as_deref()).await?,
            json,
        ),
        AdminCommand::EnableScim { org, json } => (set_scim(core, &org, true).await?, json),
        AdminCommand::DisableScim { org, json } => (set_scim(core, &org, false).await?, json),
        AdminCommand::AddMember {
            org,
            email,
            role,
            password,
            json,
        } => (
            add_member(core, &org, &email, &role, password.as_deref()).await?,
            json,
        ),
        AdminCommand::CreateToken {
            org,
            name,
            expires_in_days,
            json,
        } => (
            create_token(core, &org, &name, expires_in_days).await?,
            json,
        ),
        AdminCommand::RevokeToken { org, token, json } => {
            (revoke_token(core, &org, &token).await?, json)
        }
        AdminCommand::RotateToken {
            org,
            token,
            overlap,
            expires_in_days,
            json,
        } => (
            rotate_token(core, &org, &token, &overlap, expires_in_days).await?,
            json,
        ),
        AdminCommand::CreateStack { org, name, json } => {
            (create_stack(core, &org, &name).await?, json)
        }
        AdminCommand::RegisterClient {
            name,
            redirect_uris,
            client_id,
            client_secret,
            public,
            allow_insecure_redirect,
            json,
        } => {
            let new = NewClient {
                name,
                redirect_uris,
                client_id,
                client_secret,
                public,
                allow_insecure_redirect,
            };
            (register_client(core, new).await?, json)
        }
    })
}
