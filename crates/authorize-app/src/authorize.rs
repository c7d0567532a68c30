//! The authorization endpoint (`GET /oauth/authorize`) and the consent page (`GET
//! /oauth/consent`). The request is validated (client and exact redirect URI first), held
//! server-side by id, and — after login if needed — shown as a consent page naming the client,
//! the organization and the scopes. Only an Owner/Admin of an organization with SCIM enabled gets
//! the form; everyone else is told why.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use store::repo::{memberships, oauth_clients};
use store::types::{MembershipStatus, OrgRole};

use crate::AuthorizeApp;
use crate::authz_request::{self, ClientView, Pending, Refusal};
use crate::error::PageError;
use crate::forms::{redirect_with, see_other};
use crate::pages::{ConsentPage, OrgChoice, ScopeLine, render};
use crate::pending;
use crate::session::CurrentAccount;

/// Sends an authorization error back to the client (RFC 6749 §4.1.2.1, with RFC 9207's `iss`).
pub fn error_redirect(
    app: &AuthorizeApp,
    redirect_uri: &str,
    error: &str,
    description: Option<&str>,
    state: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let mut params = vec![("error", error)];
    if let Some(d) = description {
        params.push(("error_description", d));
    }
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", app.settings.issuer.as_str()));
    redirect_with(redirect_uri, &params)
}

/// `GET /oauth/authorize`
pub async fn authorize(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    // An authorization URL that names the organization (`org=UID`) may reach the wrong region:
    // send the browser to the organization's region with the request intact.
    let org_hint = params
        .iter()
        .find(|(k, _)| k == "org")
        .map(|(_, v)| v.as_str());
    if let Some(home) = match org_hint {
        Some(org) => app.home_app_url(org).await?,
        None => None,
    } {
        return Ok(see_other(&format!(
            "{home}/oauth/authorize?{}",
            req.query_string()
        )));
    }
    let pending = match validate(&app, &params).await? {
        Ok(pending) => pending,
        Err(Refusal::Page(message)) => return Err(PageError::BadRequest(message)),
        Err(Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
        }) => {
            return error_redirect(
                &app,
                &redirect_uri,
                error,
                Some(&description),
                state.as_deref(),
            );
        }
    };
    let id = pending::save(&app, &pending).await?;
    match CurrentAccount::load(&app, &req).await? {
        Some(current) => consent_page(&app, &current, &id, &pending, None, StatusCode::OK).await,
        None => Ok(see_other(&format!("/login?request={id}"))),
    }
}

async fn validate(
    app: &AuthorizeApp,
    params: &[(String, String)],
) -> Result<Result<Pending, Refusal>, PageError> {
    let client_id = match authz_request::client_id(params) {
        Ok(id) => id,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let Some(client) = oauth_clients::find(&app.db, client_id).await? else {
        return Ok(Err(Refusal::Page(
            "the application that sent you here is not registered with scimgate".into(),
        )));
    };
    let view = ClientView {
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        redirect_uris: oauth_clients::redirect_uris(&client),
        public: client.secret_hash.is_none(),
        scopes: client
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    Ok(authz_request::validate(params, &view))
}

/// `GET /oauth/consent` query.
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    request: String,
}

/// `GET /oauth/consent?request=ID`: where login returns to.
pub async fn consent(
    app: web::Data<AuthorizeApp>,
    current: CurrentAccount,
    query: web::Query<ConsentQuery>,
) -> Result<HttpResponse, PageError> {
    let pending = pending::load(&app, &query.request)
        .await?
        .ok_or_else(pending::expired)?;
    consent_page(
        &app,
        &current,
        &query.request,
        &pending,
        None,
        StatusCode::OK,
    )
    .await
}

/// The organizations an account may install into — only the one the authorization URL names,
/// when it names one — or the page saying why there are none.
pub async fn eligible_orgs(
    app: &AuthorizeApp,
    account_id: store::ids::AccountId,
    named: Option<&str>,
) -> Result<Vec<OrgChoice>, PageError> {
    let mut all = memberships::organizations_of(&app.db, account_id).await?;
    if let Some(uid) = named {
        all.retain(|(_, org)| org.uid == uid);
        if all.is_empty() {
            // Unknown, or not this account's: answered alike, without naming anyone's organization.
            return Err(PageError::NotFound(format!(
                "The authorization URL names the organization {uid}, which does not exist in this \
                 region or which your account is not a member of. Check the Authorization URL \
                 entered in your identity provider (it is shown on the organization's SCIM \
                 settings page), or sign in with an account of that organization."
            )));
        }
    }
    let catalog = store::repo::role_catalog::load(&app.db).await?;
    let admin_of: Vec<_> = all
        .iter()
        .filter(|(m, _)| {
            m.status == MembershipStatus::Active.as_str()
                && m.effective_role
                    .parse::<OrgRole>()
                    .is_ok_and(|role| catalog.manages_scim(&role))
        })
        .collect();
    let orgs: Vec<OrgChoice> = admin_of
        .iter()
        .filter(|(_, org)| org.scim_enabled)
        .map(|(_, org)| OrgChoice {
            uid: org.uid.clone(),
            name: org.name.clone(),
        })
        .collect();
    if !orgs.is_empty() {
        return Ok(orgs);
    }
    let names = |rows: &[&(_, store::repo::organizations::Organization)]| {
        rows.iter()
            .map(|(_, o)| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = if all.is_empty() {
        "Your account is not a member of any organization in this region, so there is nothing to \
         install into."
            .to_owned()
    } else if admin_of.is_empty() {
        let of = if named.is_some() {
            format!("of {} ", names(&all.iter().collect::<Vec<_>>()))
        } else {
            "of an organization ".to_owned()
        };
        format!(
            "Only an Owner or Admin {of}can authorize an identity provider. Ask one of your \
             organization's Owners or Admins to do it."
        )
    } else {
        format!(
            "SCIM is not enabled for {}. An Owner or Admin enables it in the organization's SCIM \
             settings first, then authorizes the identity provider.",
            names(&admin_of)
        )
    };
    Err(PageError::Forbidden(reason))
}

/// The requested scopes in words: what the IdP will be able to do.
fn scope_lines(scopes: &str) -> Vec<ScopeLine> {
    scopes
        .split_whitespace()
        .map(|s| ScopeLine {
            name: s.to_owned(),
            description: match s {
                authz_request::SCIM_SCOPE => {
                    "Add people to the organization, update them, suspend and remove their \
                     access, and create and change its groups (SCIM 2.0)"
                }
                _ => "An additional permission of this identity provider",
            },
        })
        .collect()
}

/// Renders the consent page (or the page saying why this account cannot approve).
pub async fn consent_page(
    app: &AuthorizeApp,
    current: &CurrentAccount,
    request_id: &str,
    pending: &Pending,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let orgs = eligible_orgs(app, current.account.id, pending.org.as_deref()).await?;
    let page = ConsentPage {
        brand: app.settings.branding.clone(),
        csrf: current.session.data.csrf.clone(),
        request: request_id.to_owned(),
        client_name: pending.client_name.clone(),
        orgs,
        scopes: scope_lines(&pending.scopes),
        account_email: current.account.email.clone(),
        terms_version: app.settings.terms_version.clone(),
        error,
    };
    Ok(render(status, &page))
}
