//! The organization console: the SCIM tab where Owners and Admins enable SCIM, see the region's
//! connection details, manage bearer tokens and connected IdPs, map SCIM groups to roles and
//! verify what the IdP synced — plus the stacks page the mappings point at.
//!
//! Handlers are thin: [`OrgAdmin`] proves the caller may act in the organization (and sends a
//! browser asking about another region's organization there), a handler parses its form, calls
//! [`service`], and renders a page from [`views`]. Every POST checks the session's CSRF token.
//!
//! [`OrgAdmin`] also admits a portal session (a redeemed portal link, no account), for the
//! organization its link opens only and on the SCIM settings pages only; its actor is the link.

pub mod activity;
pub mod describe;
pub mod groups;
pub mod health;
pub mod requests;
pub mod scim_tab;
pub mod stacks;
pub mod tokens;
pub mod users;
pub mod views;
pub mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use store::OrgScope;
use store::StoreError;
use store::repo::memberships;
use store::repo::organizations::{self, Organization};

use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms;
use crate::pages::render;
use crate::session::{CurrentAccount, PortalGrant, Session, portal_only};
use store::repo::accounts::Account;
use usecases::{Actor, ActorKind};
use views::{ConfirmPage, Nav};

pub use scim_tab::orgs;

/// Who acts in an organization's console pages.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A signed-in Owner or Admin.
    Account(Account),
    /// A portal session: the customer's IT admin, without an account, through a portal link.
    Portal(PortalGrant),
}

/// A signed-in Owner or Admin of the organization named in the path (or a portal session of that
/// organization, on its SCIM settings pages), with the proof.
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    /// The session (for the CSRF token).
    pub session: Session,
    /// Who acts.
    pub principal: Principal,
    /// The organization the caller may act in.
    pub scope: OrgScope,
    /// The organization.
    pub org: Organization,
    /// Who acts, from which request.
    pub actor: Actor,
    /// The product's look.
    pub brand: mailer::Branding,
    /// What the action before the redirect to this page did (a success message, shown once).
    pub notice: Option<String>,
}

/// Whether a portal session may open the page routed by `pattern` (the route's pattern, so the
/// check cannot be fooled by encodings): the organization's root and its SCIM settings, nothing
/// else — a page added later outside them is closed to portal sessions by default.
fn portal_may_open(pattern: Option<&str>) -> bool {
    const ROOT: &str = "/orgs/{org}";
    const SCIM: &str = "/orgs/{org}/settings/scim";
    pattern.is_some_and(|p| {
        p == ROOT || p == SCIM || p.strip_prefix(SCIM).is_some_and(|r| r.starts_with('/'))
    })
}

impl OrgAdmin {
    /// The session's CSRF token, for forms.
    pub fn csrf(&self) -> String {
        self.session.data.csrf.clone()
    }

    /// The signed-in account, unless this is a portal session.
    pub fn account(&self) -> Option<&Account> {
        match &self.principal {
            Principal::Account(account) => Some(account),
            Principal::Portal(_) => None,
        }
    }

    /// The navigation bar of a page of this organization, with `tab` highlighted.
    pub fn nav(&self, tab: &'static str) -> Nav {
        let (account_email, portal) = match &self.principal {
            Principal::Account(account) => (account.email.clone(), None),
            Principal::Portal(grant) => (String::new(), Some(grant.clone())),
        };
        Nav {
            org_uid: self.org.uid.clone(),
            org_name: self.org.name.clone(),
            account_email,
            csrf: self.csrf(),
            tab,
            portal,
            brand: self.brand.clone(),
            notice: self.notice.clone(),
        }
    }

    /// Checks the submitted form's CSRF token and returns its fields; a field no person could
    /// have typed (a NUL or other control character, more than [`MAX_FIELD`] characters) is
    /// refused with a page that says which, before anything reads it.
    pub fn form(&self, body: &[u8]) -> Result<HashMap<String, String>, PageError> {
        let fields = forms::fields(body);
        self.session
            .check_csrf(fields.get(crate::csrf::FIELD).map(String::as_str))?;
        for (name, value) in &fields {
            typed_text(name, value)?;
        }
        Ok(fields)
    }

    /// Where a "back" link goes: `wanted` (a `back` parameter) when it is a page of this
    /// organization's console — a relative path of this app, never another site — else
    /// `fallback`.
    pub fn back(&self, wanted: Option<&str>, fallback: String) -> String {
        let own = format!("/orgs/{}/", self.org.uid);
        wanted
            .and_then(forms::console_return)
            .filter(|path| path.starts_with(&own))
            .unwrap_or(fallback)
    }

    /// `303 See Other` to `path` (of this app), which then says `message` once: the success
    /// message of the action that redirects.
    pub async fn done(
        &self,
        app: &AuthorizeApp,
        path: &str,
        message: &str,
    ) -> Result<HttpResponse, PageError> {
        let id = self.session.flash(app, message.as_bytes()).await?;
        let sep = if path.contains('?') { '&' } else { '?' };
        Ok(forms::see_other(&format!("{path}{sep}notice={id}")))
    }

    /// The path of a page of this organization's SCIM tab.
    pub fn scim_path(&self, rest: &str) -> String {
        format!("/orgs/{}/settings/scim{rest}", self.org.uid)
    }

    async fn load(app: &AuthorizeApp, req: &HttpRequest) -> Result<Self, PageError> {
        check_address(req)?;
        let org_uid = req.match_info().get("org").unwrap_or_default().to_owned();
        let local = organizations::find_by_uid(&app.db, &org_uid).await?;
        if local.is_none()
            && let Some(home) = app.other_region_app_url(&org_uid).await
        {
            // Another region's organization: the same page there, before asking anyone to sign
            // in here (their account lives there too).
            let query = req.query_string();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            return Err(PageError::OtherRegion(format!(
                "{home}{}{query}",
                req.path()
            )));
        }
        let session = match Session::load(app, req).await? {
            Some(session) if session.data.portal.is_some() => {
                return Self::load_portal(app, req, local, session).await;
            }
            other => other,
        };
        let current = match session {
            Some(session) => CurrentAccount::of_session(app, session).await?,
            None => None,
        };
        let Some(current) = current else {
            let here = match req.query_string() {
                "" => req.path().to_owned(),
                query => format!("{}?{query}", req.path()),
            };
            return Err(match forms::console_return(&here) {
                Some(path) if req.method() == actix_web::http::Method::GET => {
                    PageError::LoginRequiredFor(path)
                }
                _ => PageError::LoginRequired,
            });
        };
        let org = local.ok_or_else(not_found)?;
        let scope = match memberships::admin_scope_in(&app.db, current.account.id, &org).await {
            Ok(scope) => scope,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(StoreError::Forbidden(_)) => {
                return Err(PageError::Forbidden(
                    "only an active Owner or Admin of this organization can manage its SCIM \
                     settings and stacks; ask one of them to change your role"
                        .into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let actor = Actor::new(ActorKind::Account {
            id: current.account.id,
            uid: current.account.uid.clone(),
        })
        .in_request(forms::request_id(req), forms::client_ip(req));
        let notice = match notice_id(req) {
            Some(id) => current
                .session
                .take_flash(app, &id)
                .await?
                .and_then(|raw| String::from_utf8(raw).ok()),
            None => None,
        };
        Ok(OrgAdmin {
            session: current.session,
            principal: Principal::Account(current.account),
            notice,
            scope,
            org,
            actor,
            brand: app.settings.branding.clone(),
        })
    }
}

impl OrgAdmin {
    /// A portal session: its own organization (while its link exists), SCIM pages only, the
    /// link as the actor.
    async fn load_portal(
        app: &AuthorizeApp,
        req: &HttpRequest,
        local: Option<Organization>,
        session: Session,
    ) -> Result<Self, PageError> {
        let grant = session.data.portal.clone().ok_or_else(not_found)?;
        let org = local
            .filter(|org| org.uid == grant.org_uid)
            .ok_or_else(not_found)?;
        let scope = usecases::portal::session_scope(&app.core, &grant.link_uid, &org.uid)
            .await?
            .ok_or_else(not_found)?;
        if !portal_may_open(req.match_pattern().as_deref()) {
            return Err(portal_only(&grant));
        }
        let actor = Actor::new(ActorKind::PortalLink(grant.link_uid.clone()))
            .in_request(forms::request_id(req), forms::client_ip(req));
        let notice = match notice_id(req) {
            Some(id) => session
                .take_flash(app, &id)
                .await?
                .and_then(|raw| String::from_utf8(raw).ok()),
            None => None,
        };
        Ok(OrgAdmin {
            session,
            principal: Principal::Portal(grant),
            scope,
            org,
            actor,
            brand: app.settings.branding.clone(),
            notice,
        })
    }
}

/// The longest form field or address part a console page accepts (names are at most 100
/// characters; search terms and ids far less).
pub const MAX_FIELD: usize = 1000;

/// Refuses text no person could have typed: control characters (a NUL would also fail on
/// PostgreSQL, which stores none) and more than [`MAX_FIELD`] characters.
fn typed_text(name: &str, value: &str) -> Result<(), PageError> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(PageError::BadRequest(format!(
            "“{}” contains a control character (such as NUL); remove it and try again",
            name.chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect::<String>()
        )));
    }
    if value.chars().count() > MAX_FIELD {
        return Err(PageError::BadRequest(format!(
            "“{}” is longer than {MAX_FIELD} characters",
            name.chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect::<String>()
        )));
    }
    Ok(())
}

/// Checks the address's path parameters and query values like form fields (an id or a search
/// term with a NUL is a bad request, not a database error).
fn check_address(req: &HttpRequest) -> Result<(), PageError> {
    for (name, value) in req.match_info().iter() {
        typed_text(name, value)?;
    }
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        typed_text(&name, &value)?;
    }
    Ok(())
}

/// What a caller learns about an organization it may not open: not even whether it exists.
fn not_found() -> PageError {
    PageError::NotFound("there is no such organization, or you are not a member of it".into())
}

/// The `notice` query parameter: the id of a success message kept for this page.
fn notice_id(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.into_owned())
}

impl FromRequest for OrgAdmin {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { OrgAdmin::load(AuthorizeApp::of(&req)?, &req).await })
    }
}

/// Renders a confirmation page (or an impact preview).
pub fn confirm(page: &ConfirmPage) -> HttpResponse {
    render(StatusCode::OK, page)
}

/// The paging cursor of a listing (`after` / `before` ids in the query): absent or bad is "from
/// the start".
pub fn cursor(value: Option<&str>) -> Option<i64> {
    value.and_then(|v| v.parse::<i64>().ok()).filter(|v| *v > 0)
}

/// Mounts the console's pages (all with the ordinary page headers and a form size limit).
pub fn configure(cfg: &mut web::ServiceConfig, form_limit: usize) {
    let scim = "/settings/scim";
    cfg.service(
        web::scope("/orgs/{org}")
            .wrap(from_fn(crate::headers::page_headers))
            .app_data(web::PayloadConfig::new(form_limit))
            .route(scim, web::get().to(scim_tab::overview))
            .route("", web::get().to(scim_tab::org_root))
            .route(
                &format!("{scim}/{{switch:enable|disable}}"),
                web::get().to(scim_tab::confirm_switch),
            )
            .route(
                &format!("{scim}/{{switch:enable|disable}}"),
                web::post().to(scim_tab::switch),
            )
            .route(&format!("{scim}/tokens"), web::get().to(tokens::list))
            .route(&format!("{scim}/tokens"), web::post().to(tokens::create))
            .route(
                &format!("{scim}/tokens/{{id}}/revoke"),
                web::get().to(tokens::confirm_revoke),
            )
            .route(
                &format!("{scim}/tokens/{{id}}/rotate"),
                web::get().to(tokens::confirm_rotate),
            )
            .route(
                &format!("{scim}/tokens/{{id}}/rotate"),
                web::post().to(tokens::rotate),
            )
            .route(
                &format!("{scim}/tokens/{{id}}/revoke"),
                web::post().to(tokens::revoke),
            )
            .route(
                &format!("{scim}/installations"),
                web::get().to(tokens::installations),
            )
            .route(
                &format!("{scim}/installations/{{id}}/revoke"),
                web::get().to(tokens::confirm_revoke_installation),
            )
            .route(
                &format!("{scim}/installations/{{id}}/revoke"),
                web::post().to(tokens::revoke_installation),
            )
            .route(&format!("{scim}/mappings"), web::get().to(groups::mappings))
            .route(&format!("{scim}/groups"), web::get().to(groups::list))
            .route(
                &format!("{scim}/groups/{{id}}"),
                web::get().to(groups::show),
            )
            .route(
                &format!("{scim}/groups/{{id}}/mapping"),
                web::post().to(groups::mapping),
            )
            .route(&format!("{scim}/users"), web::get().to(users::list))
            .route(&format!("{scim}/users/{{id}}"), web::get().to(users::show))
            .route(
                &format!("{scim}/users/{{account}}/invitation"),
                web::post().to(users::resend_invitation),
            )
            .route(&format!("{scim}/activity"), web::get().to(activity::list))
            .route(&format!("{scim}/requests"), web::get().to(requests::list))
            .route(
                &format!("{scim}/requests/{{id}}"),
                web::get().to(requests::show),
            )
            .route("/settings/webhooks", web::get().to(webhooks::list))
            .route(
                "/settings/webhooks/{endpoint}/events/{event}/resend",
                web::post().to(webhooks::resend),
            )
            .route(
                "/settings/webhooks/{endpoint}/recover",
                web::post().to(webhooks::recover),
            )
            .route("/stacks", web::get().to(stacks::list))
            .route("/stacks", web::post().to(stacks::create))
            .route(
                "/stacks/{id}/{action:rename|delete}",
                web::post().to(stacks::change),
            )
            .route("/stacks/{id}/delete", web::get().to(stacks::confirm_delete)),
    );
}
