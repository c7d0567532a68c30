//! `scimgate admin …`: the operator's commands. Each runs in one transaction, records an audit row,
//! and prints either a human summary or, with `--json`, one JSON object.

use authorize_app::console::service::{self, Who};
use serde_json::{Value, json};
use store::repo::audit;
use store::repo::memberships::NewMembership;
use store::repo::oauth_clients::NewClient;
use store::repo::{accounts, memberships, oauth_clients, organizations};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};
use store::{Database, OrgScope, StoreError};

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

/// A password for a new account nobody chose one for.
fn generate_password() -> String {
    store::secret::random_token(18)
}

/// Creates an organization owned by `owner_email` (an existing account is reused, its password
/// untouched). Used by the CLI and the demo.
pub async fn create_org(
    db: &Database,
    region: &str,
    name: &str,
    owner_email: &str,
    owner_password: Option<&str>,
) -> Result<Output, StoreError> {
    let email = Email::parse(owner_email)?;
    let txn = store::db::begin_write(db).await?;
    let org = organizations::create(&txn, name, region).await?;
    let scope = organizations::operator_scope(&txn, &org.uid).await?;
    let (account, generated) = match accounts::find_by_email(&txn, &email).await? {
        Some(existing) => {
            if owner_password.is_some() {
                return Err(StoreError::Invalid(format!(
                    "{email} already has an account; its password is not changed by create-org"
                )));
            }
            (existing, None)
        }
        None => {
            let generated = owner_password.is_none().then(generate_password);
            let password = owner_password.or(generated.as_deref());
            (
                accounts::create(&txn, &email, None, password).await?,
                generated,
            )
        }
    };
    let owner = NewMembership {
        account_id: account.id,
        role: OrgRole::Owner,
        status: MembershipStatus::Active,
        source: MembershipSource::Manual,
    };
    memberships::add(&txn, &scope, owner).await?;
    audit::record(
        &txn,
        Some(&scope),
        Who::operator().entry(
            "organization.created",
            "organization",
            &org.uid,
            json!({"name": org.name, "owner": account.uid}),
        ),
    )
    .await?;
    txn.commit().await?;

    let mut out = json!({"org_uid": org.uid, "org_name": org.name, "owner_email": account.email, "region": org.home_region});
    let mut text = format!(
        "created organization {} ({})\nowner: {}",
        org.name, org.uid, account.email
    );
    if let Some(password) = generated {
        text.push_str(&format!("\nowner password (shown once): {password}"));
        out["owner_password"] = json!(password);
    }
    Ok(Output { json: out, text })
}

/// The organization an operator names, and the deployment's key-value store: a change to its
/// credentials is announced there, so running replicas hear of it at once.
async fn scope_and_kv(
    db: &Database,
    config: &Config,
    org: &str,
) -> Result<(OrgScope, store::kv::Kv), StoreError> {
    let scope = organizations::operator_scope(db, org).await?;
    let kv = store::kv::open(&config.kv.url, &config.kv.namespace).await?;
    Ok((scope, kv))
}

async fn set_scim(
    db: &Database,
    config: &Config,
    org: &str,
    enabled: bool,
) -> Result<Output, StoreError> {
    let (scope, kv) = scope_and_kv(db, config, org).await?;
    let org = service::set_scim_enabled(db, &kv, &scope, enabled, &Who::operator()).await?;
    let state = if enabled { "enabled" } else { "disabled" };
    Ok(Output {
        json: json!({"org_uid": org.uid, "scim_enabled": enabled}),
        text: format!("SCIM {state} for {} ({})", org.name, org.uid),
    })
}

async fn add_member(
    db: &Database,
    org: &str,
    email: &str,
    role: &str,
    password: Option<&str>,
) -> Result<Output, StoreError> {
    let role: OrgRole = role.parse()?;
    let email = Email::parse(email)?;
    let txn = store::db::begin_write(db).await?;
    let scope: OrgScope = organizations::operator_scope(&txn, org).await?;
    let account = match accounts::find_by_email(&txn, &email).await? {
        Some(existing) => match password {
            Some(pw) => accounts::set_password(&txn, existing, pw).await?,
            None => existing,
        },
        None => accounts::create(&txn, &email, None, password).await?,
    };
    let new = NewMembership {
        account_id: account.id,
        role,
        status: MembershipStatus::Active,
        source: MembershipSource::Manual,
    };
    memberships::add(&txn, &scope, new).await?;
    audit::record(
        &txn,
        Some(&scope),
        Who::operator().entry(
            "membership.added",
            "account",
            &account.uid,
            json!({"role": role.as_str()}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "email": account.email, "account_uid": account.uid, "role": role.as_str()}),
        text: format!("added {} to {} as {role}", account.email, scope.org_uid()),
    })
}

/// Creates an organization token. Used by the CLI and the demo.
pub async fn create_token(
    db: &Database,
    org: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> Result<Output, StoreError> {
    let scope = organizations::operator_scope(db, org).await?;
    let issued = service::create_token(db, &scope, name, expires_in_days, &Who::operator()).await?;
    Ok(Output {
        json: json!({"token": issued.token, "token_id": issued.row.uid, "prefix": issued.row.prefix,
            "expires_at": issued.row.expires_at}),
        text: format!(
            "token (shown once): {}\nid: {}",
            issued.token, issued.row.uid
        ),
    })
}

/// Revokes a bearer token, announcing it to the running replicas.
async fn revoke_token(
    db: &Database,
    config: &Config,
    org: &str,
    uid: &str,
) -> Result<Output, StoreError> {
    let (scope, kv) = scope_and_kv(db, config, org).await?;
    let token = service::revoke_token(db, &kv, &scope, uid, &Who::operator()).await?;
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
async fn create_stack(db: &Database, org: &str, name: &str) -> Result<Output, StoreError> {
    let scope = organizations::operator_scope(db, org).await?;
    let stack = service::create_stack(db, &scope, name, &Who::operator()).await?;
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
pub async fn register_client(db: &Database, new: NewClient) -> Result<Output, StoreError> {
    let txn = store::db::begin_write(db).await?;
    let insecure = new.allow_insecure_redirect;
    let registered = oauth_clients::register(&txn, new).await?;
    let detail = json!({"name": registered.row.name, "redirect_uris": oauth_clients::redirect_uris(&registered.row),
        "allow_insecure_redirect": insecure, "public": registered.client_secret.is_none()});
    audit::record(
        &txn,
        None,
        Who::operator().entry(
            "oauth_client.registered",
            "oauth_client",
            &registered.row.client_id,
            detail,
        ),
    )
    .await?;
    txn.commit().await?;
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

/// Rotates the signing keys (see `token_service::keys::rotate`).
async fn rotate_keys(db: &Database, config: &Config) -> Result<Output, StoreError> {
    let access_ttl = std::time::Duration::from_secs(config.oauth.access_token_ttl_secs);
    let rotation = token_service::keys::rotate(db, access_ttl).await?;
    let detail = json!({"active_kid": rotation.active_kid, "next_kid": rotation.next_kid,
        "retired_kid": rotation.retired_kid, "deleted": rotation.deleted});
    audit::record(
        db,
        None,
        Who::operator().entry(
            "signing_keys.rotated",
            "signing_key",
            &rotation.active_kid,
            detail.clone(),
        ),
    )
    .await?;
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
async fn revoke_installation(
    db: &Database,
    config: &Config,
    org: &str,
    uid: &str,
) -> Result<Output, StoreError> {
    let (scope, kv) = scope_and_kv(db, config, org).await?;
    let ttl = std::time::Duration::from_secs(config.oauth.access_token_ttl_secs + 120);
    service::revoke_installation(db, &kv, &scope, uid, ttl, &Who::operator()).await?;
    Ok(Output {
        json: json!({"org_uid": scope.org_uid(), "installation": uid, "revoked": true}),
        text: format!("revoked installation {uid} of {}", scope.org_uid()),
    })
}

/// Runs one admin command; returns what to print and whether `--json` was asked for.
pub async fn run(
    db: &Database,
    config: &Config,
    command: AdminCommand,
) -> Result<(Output, bool), StoreError> {
    let region = config.region.as_str();
    Ok(match command {
        AdminCommand::RotateKeys { json } => (rotate_keys(db, config).await?, json),
        AdminCommand::RevokeInstallation {
            org,
            installation,
            json,
        } => (
            revoke_installation(db, config, &org, &installation).await?,
            json,
        ),
        AdminCommand::CreateOrg {
            name,
            owner_email,
            owner_password,
            json,
        } => (
            create_org(db, region, &name, &owner_email, owner_password.as_deref()).await?,
            json,
        ),
        AdminCommand::EnableScim { org, json } => (set_scim(db, config, &org, true).await?, json),
        AdminCommand::DisableScim { org, json } => (set_scim(db, config, &org, false).await?, json),
        AdminCommand::AddMember {
            org,
            email,
            role,
            password,
            json,
        } => (
            add_member(db, &org, &email, &role, password.as_deref()).await?,
            json,
        ),
        AdminCommand::CreateToken {
            org,
            name,
            expires_in_days,
            json,
        } => (create_token(db, &org, &name, expires_in_days).await?, json),
        AdminCommand::RevokeToken { org, token, json } => {
            (revoke_token(db, config, &org, &token).await?, json)
        }
        AdminCommand::CreateStack { org, name, json } => {
            (create_stack(db, &org, &name).await?, json)
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
            (register_client(db, new).await?, json)
        }
    })
}
