//! The browser side of scimgate: login, logout, the authorization endpoint with its consent page
//! ("Authorize & Install"), and the organization console (the SCIM tab), which share the
//! session, CSRF and security-header modules here.
//!
//! The gateway builds one [`AuthorizeApp`] and mounts it with [`AuthorizeApp::configure`].
#![deny(missing_docs)]

pub mod authorize;
pub mod authz_request;
pub mod console;
pub mod csrf;
mod decision;
pub mod error;
pub mod forms;
pub mod headers;
mod invitation;
mod login;
pub mod pages;
pub mod pending;
pub mod portal;
pub mod session;
pub mod settings;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use store::Database;
use store::kv::Kv;
use usecases::Core;

pub use error::PageError;
pub use session::CurrentAccount;
pub use settings::AuthorizeSettings;

/// Largest form body a page accepts.
const FORM_LIMIT: usize = 16 * 1024;
const STYLESHEET: &str = include_str!("../../../templates/static/app.css");
const CONSOLE_SCRIPT: &str = include_str!("../../../templates/static/console.js");

/// The browser app's state, shared by every worker.
#[derive(Debug, Clone)]
pub struct AuthorizeApp {
    /// The use cases every form calls.
    pub core: Core,
    /// The region's database (reads).
    pub db: Database,
    /// The key-value store (sessions, pending requests, codes, rate limits).
    pub kv: Kv,
    /// Settings.
    pub settings: AuthorizeSettings,
    /// Finds organizations of other regions, to send browsers there.
    pub federation: Option<federation::Federation>,
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn console_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CONSOLE_SCRIPT)
}

/// `/static/brand.css`: the configured accent colour as CSS custom properties (a stylesheet of
/// this origin, so the pages' policy needs no inline styles).
async fn brand_stylesheet(app: web::Data<AuthorizeApp>) -> HttpResponse {
    let palette = app.settings.branding.palette();
    let css = format!(
        ":root {{ --accent: {}; --on-accent: {}; --link: {}; }}\n",
        palette.primary, palette.on_primary, palette.link
    );
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(css)
}

impl AuthorizeApp {
    /// The app over the region's use cases.
    pub fn new(core: Core, settings: AuthorizeSettings) -> Self {
        Self {
            db: core.db().clone(),
            kv: core.kv().clone(),
            core,
            settings,
            federation: None,
        }
    }

    /// Sends browsers that ask about an organization of another region to that region.
    pub fn with_federation(mut self, federation: federation::Federation) -> Self {
        self.federation = Some(federation);
        self
    }

    /// The app URL of the region an organization this deployment does not have lives in.
    pub async fn home_app_url(&self, org_uid: &str) -> Result<Option<String>, PageError> {
        if self.federation.is_none()
            || store::repo::organizations::find_by_uid(&self.db, org_uid)
                .await?
                .is_some()
        {
            return Ok(None);
        }
        Ok(self.other_region_app_url(org_uid).await)
    }

    /// The app URL of the other region that has `org_uid` (the caller knows this one has not).
    pub async fn other_region_app_url(&self, org_uid: &str) -> Option<String> {
        let federation = self.federation.as_ref()?;
        federation
            .locate_organization(org_uid)
            .await
            .map(|peer| peer.app_url.trim_end_matches('/').to_owned())
    }

    /// The app a request's handler runs in (what the extractors need).
    pub fn of(req: &actix_web::HttpRequest) -> Result<&Self, PageError> {
        req.app_data::<web::Data<AuthorizeApp>>()
            .map(|data| data.get_ref())
            .ok_or_else(|| PageError::BadRequest("the authorize app is not mounted".into()))
    }

    /// Mounts `/`, `/login`, `/logout`, `/oauth/authorize`, `/oauth/consent`, the portal links
    /// (`/portal/{token}`, `/portal/end`), the console under `/orgs/{org}/…`, and the stylesheet
    /// and script.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let form = || web::PayloadConfig::new(FORM_LIMIT);
        cfg.app_data(web::Data::new(self.clone()))
            .service(
                web::resource("/")
                    .wrap(from_fn(headers::page_headers))
                    .route(web::get().to(console::orgs)),
            )
            .service(
                web::resource("/login")
                    .wrap(from_fn(headers::page_headers))
                    .app_data(form())
                    .route(web::get().to(login::show))
                    .route(web::post().to(login::submit)),
            )
            .service(
                web::resource("/logout")
                    .wrap(from_fn(headers::page_headers))
                    .app_data(form())
                    .route(web::post().to(login::logout)),
            )
            .service(
                web::resource("/oauth/authorize")
                    .wrap(from_fn(headers::consent_headers))
                    .app_data(form())
                    .route(web::get().to(authorize::authorize))
                    .route(web::post().to(decision::decide)),
            )
            .service(
                web::resource("/oauth/consent")
                    .wrap(from_fn(headers::consent_headers))
                    .route(web::get().to(authorize::consent)),
            )
            .service(
                web::resource("/invitations/{token}")
                    .wrap(from_fn(headers::page_headers))
                    .route(web::get().to(invitation::show)),
            )
            .service(
                web::resource("/invitations/{token}/accept")
                    .wrap(from_fn(headers::page_headers))
                    .app_data(form())
                    .route(web::post().to(invitation::accept)),
            )
            .service(
                web::resource("/invitations/{token}/renew")
                    .wrap(from_fn(headers::page_headers))
                    .app_data(form())
                    .route(web::post().to(invitation::renew)),
            )
            .service(
                web::resource("/portal/end")
                    .wrap(from_fn(headers::page_headers))
                    .app_data(form())
                    .route(web::post().to(portal::end)),
            )
            .service(
                web::resource("/portal/{token}")
                    .wrap(from_fn(headers::page_headers))
                    .route(web::get().to(portal::open)),
            )
            .service(
                web::resource("/docs/scim")
                    .wrap(from_fn(headers::page_headers))
                    .route(web::get().to(pages::scim_docs)),
            )
            .route("/static/app.css", web::get().to(stylesheet))
            .route("/static/console.js", web::get().to(console_script))
            .route("/static/brand.css", web::get().to(brand_stylesheet));
        console::configure(cfg, FORM_LIMIT);
    }
}
