//! Health at a glance on the SCIM tab: each credential an IdP can use (bearer tokens, connected
//! IdPs) with its last accepted request, the last change an IdP made, and "Test connection",
//! which says in words what the IdP will see when it calls the SCIM Base URL now.
//!
//! Errors of the last 24 hours are counted in the SCIM request log (when the deployment keeps
//! one); each credential's last accepted use is written at most once a minute.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use store::ids::OauthClientId;
use store::repo::{api_tokens, audit, installations, oauth_clients};

use super::OrgAdmin;
use super::views::{when, when_or};
use crate::AuthorizeApp;
use crate::error::PageError;

/// A credential an IdP can call SCIM with.
#[derive(Debug, Clone)]
pub struct CredentialHealth {
    /// `token` or `installation`.
    pub kind: &'static str,
    /// Public id.
    pub uid: String,
    /// The token's name, or the IdP client's.
    pub name: String,
    /// Its last accepted request, in words ("never").
    pub last_request: String,
    /// How long ago, in words ("3 minutes ago"; empty: never).
    pub ago: String,
    /// What an IdP using it gets now, in a sentence.
    pub state: String,
    /// Whether it is accepted now.
    pub works: bool,
}

/// The SCIM tab's health section.
#[derive(Debug, Clone)]
pub struct Health {
    /// Live credentials (not revoked), newest first.
    pub credentials: Vec<CredentialHealth>,
    /// Active bearer tokens.
    pub active_tokens: usize,
    /// Active connected IdPs.
    pub active_installations: usize,
    /// The last change an IdP made, in words (empty: none yet).
    pub last_change: String,
    /// What is known about errors in the last 24 hours.
    pub errors: String,
    /// "Test connection": what the IdP will see, one sentence per point (empty: not asked).
    pub test: Vec<String>,
    /// Whether the test found that an IdP can connect.
    pub test_ok: bool,
}

/// "3 minutes ago", "2 hours ago", "5 days ago".
fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    let (n, unit) = match secs {
        0..60 => return "less than a minute ago".to_owned(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The health of the organization's SCIM connection; with `test`, what an IdP will see.
pub async fn of(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    scim_base_url: &str,
    test: bool,
) -> Result<Health, PageError> {
    let now = Utc::now();
    let tokens = api_tokens::list(&app.db, &admin.scope).await?;
    let installs = installations::list(&app.db, &admin.scope).await?;
    let ids: Vec<_> = installs.iter().map(|i| i.id).collect();
    let families = installations::token_families_alive(&app.db, &admin.scope, &ids).await?;
    let mut clients: HashMap<OauthClientId, String> = HashMap::new();
    for id in installs.iter().map(|i| i.client_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = clients.entry(id) {
            let name = oauth_clients::find_by_id(&app.db, id)
                .await?
                .map_or_else(|| "(removed client)".to_owned(), |c| c.name);
            slot.insert(name);
        }
    }
    let enabled = admin.org.scim_enabled;
    let disabled = "refused with 403: SCIM is disabled for this organization";
    let mut credentials = Vec::new();
    for t in tokens.iter().filter(|t| t.revoked_at.is_none()) {
        let expired = t.expires_at.is_some_and(|at| at <= now);
        let (state, works) = match (expired, enabled) {
            (true, _) => (
                format!("refused with 401: expired {}", when_or(t.expires_at, "")),
                false,
            ),
            (false, false) => (disabled.to_owned(), false),
            (false, true) => (
                match t.expires_at {
                    Some(at) => format!("accepted until {}", when(at)),
                    None => "accepted".to_owned(),
                },
                true,
            ),
        };
        credentials.push(CredentialHealth {
            kind: "token",
            uid: t.uid.clone(),
            name: t.name.clone(),
            last_request: when_or(t.last_used_at, "never"),
            ago: t.last_used_at.map(|at| ago(at, now)).unwrap_or_default(),
            state,
            works,
        });
    }
    for i in installs.iter().filter(|i| i.revoked_at.is_none()) {
        let (state, works) = match (families.get(&i.id), enabled) {
            (_, false) => (disabled.to_owned(), false),
            (None, true) => (
                "authorized, but the IdP has not redeemed its code yet: finish \"Authenticate\" \
                 in the IdP"
                    .to_owned(),
                false,
            ),
            (Some(false), true) => (
                "its tokens were revoked (a refresh token was reused): the IdP gets 401 until \
                 an admin authorizes it again"
                    .to_owned(),
                false,
            ),
            (Some(true), true) => ("accepted".to_owned(), true),
        };
        credentials.push(CredentialHealth {
            kind: "installation",
            uid: i.uid.clone(),
            name: clients.get(&i.client_id).cloned().unwrap_or_default(),
            last_request: when_or(i.last_used_at, "never"),
            ago: i.last_used_at.map(|at| ago(at, now)).unwrap_or_default(),
            state,
            works,
        });
    }
    let last_change =
        match audit::last_by(&app.db, &admin.scope, &["api_token", "installation"]).await? {
            Some(row) => format!("{} ({})", ago(row.created_at, now), when(row.created_at)),
            None => String::new(),
        };
    let active_tokens = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now))
        .count();
    let active_installations = installs.iter().filter(|i| i.revoked_at.is_none()).count();
    let (test, test_ok) = if test {
        connection_test(enabled, &credentials, scim_base_url)
    } else {
        (Vec::new(), false)
    };
    Ok(Health {
        credentials,
        active_tokens,
        active_installations,
        last_change,
        errors: errors_in_the_last_day(app, admin, now).await?,
        test,
        test_ok,
    })
}

/// What an IdP calling `base` will see now, in sentences, and whether it can connect.
fn connection_test(
    enabled: bool,
    credentials: &[CredentialHealth],
    base: &str,
) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    if !enabled {
        out.push(format!(
            "SCIM is disabled: every request to {base} gets 403 Forbidden with “SCIM \
             provisioning is disabled for this organization”. An IdP's “Test connection” fails \
             and nothing is provisioned. Enable SCIM above."
        ));
        return (out, false);
    }
    let working: Vec<&CredentialHealth> = credentials.iter().filter(|c| c.works).collect();
    if working.is_empty() {
        out.push(format!(
            "SCIM is enabled, but no credential works: a request to {base} gets 401 \
             Unauthorized. Create a bearer token (Bearer tokens) or click Authenticate in the \
             IdP and then Authorize & Install here."
        ));
        for c in credentials {
            out.push(format!("{} “{}”: {}.", kind_words(c.kind), c.name, c.state));
        }
        return (out, false);
    }
    out.push(format!(
        "OK: {base}/ServiceProviderConfig answers 200 to the IdP, and users and groups can be \
         provisioned with these credentials:"
    ));
    for c in credentials {
        let last = if c.ago.is_empty() {
            "no request yet".to_owned()
        } else {
            format!("last request {}", c.ago)
        };
        out.push(format!(
            "{} “{}”: {} ({last}).",
            kind_words(c.kind),
            c.name,
            c.state
        ));
    }
    (out, true)
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "token" => "Bearer token",
        _ => "Connected IdP",
    }
}

/// Errors of the last 24 hours from the request log, in words.
async fn errors_in_the_last_day(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    now: DateTime<Utc>,
) -> Result<String, PageError> {
    if !app.core.request_log().enabled() {
        return Ok("not counted: this deployment keeps no SCIM request log \
                   (scim_log.enabled = false)."
            .to_owned());
    }
    let counts = usecases::request_log::errors_since(
        &app.core,
        &admin.scope,
        now - chrono::Duration::hours(24),
    )
    .await?;
    let total = counts.refused + counts.client + counts.server;
    Ok(if total == 0 {
        "none.".to_owned()
    } else {
        format!(
            "{total} — {} refused (401/403), {} other client errors (4xx), {} server errors \
             (5xx). The Request log has each one with its answer.",
            counts.refused, counts.client, counts.server
        )
    })
}
