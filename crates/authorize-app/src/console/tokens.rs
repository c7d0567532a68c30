//! Bearer tokens (create → shown once; list; revoke) and connected IdPs (OAuth installations:
//! list; revoke, which stops their tokens at once on every replica).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use store::ids::{AccountId, OauthClientId};
use store::repo::{accounts, api_tokens, installations, oauth_clients};

use super::views::{
    ConfirmPage, InstallationLine, InstallationsPage, NewTokenView, RotatePage, TokenLine,
    TokensPage, when, when_or,
};
use super::{OrgAdmin, confirm};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::see_other;
use crate::pages::render;

/// Expiry choices of the create form, in days (empty: never).
const EXPIRY_CHOICES: [u32; 4] = [30, 90, 180, 365];

/// Account id → email, for "created by" / "authorized by" columns.
async fn emails(
    app: &AuthorizeApp,
    ids: impl Iterator<Item = AccountId>,
) -> Result<HashMap<AccountId, String>, PageError> {
    let mut ids: Vec<AccountId> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(accounts::by_ids(&app.db, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a.email))
        .collect())
}

async fn tokens_page(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    new_token: Option<NewTokenView>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let rows = api_tokens::list(&app.db, &admin.scope).await?;
    let creators = emails(app, rows.iter().filter_map(|t| t.created_by)).await?;
    let now = Utc::now();
    let tokens = rows
        .into_iter()
        .map(|t| TokenLine {
            state: if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at.is_some_and(|at| at <= now) {
                "expired"
            } else {
                "active"
            },
            creator: t
                .created_by
                .and_then(|id| creators.get(&id).cloned())
                .unwrap_or_else(|| "operator (CLI) or portal link".to_owned()),
            created: when(t.created_at),
            last_used: when_or(t.last_used_at, "never"),
            expires: when_or(t.expires_at, "never"),
            uid: t.uid,
            name: t.name,
            prefix: t.prefix,
        })
        .collect();
    Ok(render(
        status,
        &TokensPage {
            nav: admin.nav("tokens"),
            tokens,
            new_token,
            error,
            scim_enabled: admin.org.scim_enabled,
        },
    ))
}

/// `GET …/tokens` query: the token just created (`created`: the flash id its POST redirected with).
#[derive(Debug, Deserialize)]
pub struct TokensQuery {
    created: Option<String>,
}

/// A token created by the POST before the redirect, shown by the page after it (once).
#[derive(Debug, Serialize, Deserialize)]
struct NewToken {
    name: String,
    token: String,
    /// What else to know (after a rotation: until when the old token works).
    #[serde(default)]
    note: Option<String>,
}

/// `GET …/tokens` (with `?created=…` once after a token was made: it is shown this one time).
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<TokensQuery>,
) -> Result<HttpResponse, PageError> {
    let shown = match query.created.as_deref() {
        Some(id) => admin
            .session
            .take_flash(&app, id)
            .await?
            .and_then(|raw| serde_json::from_slice::<NewToken>(&raw).ok())
            .map(|t| NewTokenView {
                name: t.name,
                token: t.token,
                note: t.note.unwrap_or_default(),
            }),
        None => None,
    };
    tokens_page(&app, &admin, shown, None, StatusCode::OK).await
}

/// `POST …/tokens`: creates a token, then redirects to the page that shows it once (so a reload
/// shows the list again instead of making another token).
pub async fn create(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = admin.form(&body)?;
    let name = form.get("name").map(|n| n.trim()).unwrap_or_default();
    let expires = match expiry(form.get("expires_in_days").map(String::as_str)) {
        Ok(days) => days,
        Err(error) => {
            return tokens_page(&app, &admin, None, Some(error), StatusCode::BAD_REQUEST).await;
        }
    };
    match usecases::tokens::create(&app.core, &admin.actor, &admin.scope, name, expires).await {
        Ok(issued) => {
            let shown = NewToken {
                name: issued.row.name,
                token: issued.token,
                note: None,
            };
            show_once(&app, &admin, &shown).await
        }
        Err(usecases::Error::Invalid(message)) => {
            tokens_page(&app, &admin, None, Some(message), StatusCode::BAD_REQUEST).await
        }
        Err(usecases::Error::Conflict(message)) => {
            tokens_page(&app, &admin, None, Some(message), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The overlaps the rotate form offers: (form value, words).
const OVERLAPS: [(&str, &str); 4] = [
    ("1h", "for 1 hour"),
    ("24h", "for 24 hours"),
    ("7d", "for 7 days"),
    ("revoked", "until I revoke it"),
];

/// `GET …/tokens/{id}/rotate`: what rotating does, with the overlap to choose.
pub async fn confirm_rotate(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (_, id) = path.into_inner();
    rotate_page(&app, &admin, &id, None, StatusCode::OK).await
}

async fn rotate_page(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let token = api_tokens::get(&app.db, &admin.scope, id).await?;
    Ok(render(
        status,
        &RotatePage {
            nav: admin.nav("tokens"),
            uid: token.uid,
            name: token.name,
            prefix: token.prefix,
            last_used: when_or(token.last_used_at, "never"),
            overlaps: OVERLAPS.to_vec(),
            error,
        },
    ))
}

/// `POST …/tokens/{id}/rotate`: makes the new token, then redirects to the page that shows it
/// once (a reload makes nothing).
pub async fn rotate(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = admin.form(&body)?;
    let (_, id) = path.into_inner();
    let overlap = form
        .get("overlap")
        .and_then(|v| usecases::tokens::Overlap::parse(v));
    let Some(overlap) = overlap else {
        let error = Some("Choose how long the old token keeps working.".to_owned());
        return rotate_page(&app, &admin, &id, error, StatusCode::BAD_REQUEST).await;
    };
    let expires = match expiry(form.get("expires_in_days").map(String::as_str)) {
        Ok(days) => days,
        Err(error) => {
            return rotate_page(&app, &admin, &id, Some(error), StatusCode::BAD_REQUEST).await;
        }
    };
    match usecases::tokens::rotate(&app.core, &admin.actor, &admin.scope, &id, overlap, expires)
        .await
    {
        Ok(rotated) => {
            let ends = rotated.old.expires_at.map_or_else(
                || "until you revoke it".to_owned(),
                |at| format!("until {}", when(at)),
            );
            let shown = NewToken {
                name: rotated.issued.row.name,
                token: rotated.issued.token,
                note: Some(format!(
                    "The old token ({}…) keeps working {ends}: give the IdP this one now.",
                    rotated.old.prefix
                )),
            };
            show_once(&app, &admin, &shown).await
        }
        Err(usecases::Error::Invalid(message)) => {
            rotate_page(&app, &admin, &id, Some(message), StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Keeps a new token for the page after the redirect (which shows it once) and redirects there.
async fn show_once(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    shown: &NewToken,
) -> Result<HttpResponse, PageError> {
    let raw = serde_json::to_vec(shown).map_err(|e| store::StoreError::Invalid(e.to_string()))?;
    let id = admin.session.flash(app, &raw).await?;
    Ok(see_other(
        &admin.scim_path(&format!("/tokens?created={id}")),
    ))
}

/// The expiry field of the create and rotate forms: days, or `None` for never.
fn expiry(value: Option<&str>) -> Result<Option<u32>, String> {
    match value {
        None | Some("") => Ok(None),
        Some(days) => match days.parse::<u32>() {
            Ok(days) if EXPIRY_CHOICES.contains(&days) => Ok(Some(days)),
            _ => Err("Choose one of the offered expiry periods.".to_owned()),
        },
    }
}

/// `GET …/tokens/{id}/revoke`: the confirmation.
pub async fn confirm_revoke(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (_, id) = path.into_inner();
    let token = api_tokens::get(&app.db, &admin.scope, &id).await?;
    Ok(confirm(&ConfirmPage {
        nav: admin.nav("tokens"),
        title: format!("Revoke the token “{}”?", token.name),
        message: format!(
            "Every SCIM request with the token {}… is refused from now on. An IdP that uses it \
             stops provisioning until it is given a new token. This cannot be undone.",
            token.prefix
        ),
        items: Vec::new(),
        action: admin.scim_path(&format!("/tokens/{id}/revoke")),
        button: "Revoke token",
        hidden: Vec::new(),
        cancel: admin.scim_path("/tokens"),
        danger: true,
    }))
}

/// `POST …/tokens/{id}/revoke`
pub async fn revoke(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    admin.form(&body)?;
    let (_, id) = path.into_inner();
    usecases::tokens::revoke(&app.core, &admin.actor, &admin.scope, &id).await?;
    Ok(see_other(&admin.scim_path("/tokens")))
}

/// `GET …/installations`
pub async fn installations(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
) -> Result<HttpResponse, PageError> {
    let rows = installations::list(&app.db, &admin.scope).await?;
    let approvers = emails(&app, rows.iter().filter_map(|i| i.approved_by)).await?;
    let mut clients: HashMap<OauthClientId, String> = HashMap::new();
    for id in rows.iter().map(|i| i.client_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = clients.entry(id) {
            let name = oauth_clients::find_by_id(&app.db, id)
                .await?
                .map_or_else(|| "(removed client)".to_owned(), |c| c.name);
            slot.insert(name);
        }
    }
    let ids: Vec<_> = rows.iter().map(|i| i.id).collect();
    let families = installations::token_families_alive(&app.db, &admin.scope, &ids).await?;
    let rows = rows
        .into_iter()
        .map(|i| InstallationLine {
            client: clients.get(&i.client_id).cloned().unwrap_or_default(),
            approved_by: i
                .approved_by
                .and_then(|id| approvers.get(&id).cloned())
                .unwrap_or_else(|| "(account removed)".to_owned()),
            created: when(i.created_at),
            scopes: i.scopes.clone(),
            last_used: when_or(i.last_used_at, "never"),
            state: match (i.revoked_at.is_some(), families.get(&i.id)) {
                (true, _) => "revoked",
                (false, Some(false)) => "tokens revoked",
                (false, None) => "awaiting the IdP",
                (false, Some(true)) => "active",
            },
            uid: i.uid,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &InstallationsPage {
            nav: admin.nav("installations"),
            rows,
        },
    ))
}

/// `GET …/installations/{id}/revoke`: the confirmation.
pub async fn confirm_revoke_installation(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (_, id) = path.into_inner();
    let installation = installations::get(&app.db, &admin.scope, &id).await?;
    let client = oauth_clients::find_by_id(&app.db, installation.client_id)
        .await?
        .map_or_else(|| "this IdP".to_owned(), |c| c.name);
    Ok(confirm(&ConfirmPage {
        nav: admin.nav("installations"),
        title: format!("Disconnect {client}?"),
        message: format!(
            "{client} loses access to this organization at once: its access tokens stop working \
             at once on every server and its refresh tokens are revoked. Provisioned \
             users and groups stay. To reconnect, an Owner or Admin authorizes it again from the \
             IdP (Authenticate → Authorize & Install)."
        ),
        items: Vec::new(),
        action: admin.scim_path(&format!("/installations/{id}/revoke")),
        button: "Revoke installation",
        hidden: Vec::new(),
        cancel: admin.scim_path("/installations"),
        danger: true,
    }))
}

/// `POST …/installations/{id}/revoke`
pub async fn revoke_installation(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    admin.form(&body)?;
    let (_, id) = path.into_inner();
    usecases::installations::revoke(&app.core, &admin.actor, &admin.scope, &id).await?;
    Ok(see_other(&admin.scim_path("/installations")))
}
