//! Security headers of every HTML page, as a middleware per page kind (kanidm's split): no
//! framing anywhere (`X-Frame-Options: DENY` and `frame-ancestors 'none'`), no referrer (the
//! authorization request carries `state`), no caching, nothing loaded from third parties but the
//! configured logo. The consent page's policy has no `form-action`: browsers apply it to the
//! redirect that follows the form, which goes to the IdP.
//!
//! The same middleware draws error pages in the product's look: an error answered inside a route
//! has no access to the app, so its page is drawn again here with the configured branding.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::AuthorizeApp;
use crate::error::PageError;

/// The consent page: no scripts, no `form-action` (see the module's comment).
const CONSENT_POLICY: &str = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; \
                              base-uri 'none'";
/// Every other page.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
                           frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `img-src`: this app, and the origin of the configured logo.
fn img_src(app: Option<&AuthorizeApp>) -> String {
    let logo = app
        .and_then(|a| a.settings.branding.logo_url.as_deref())
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    match logo {
        Some(origin) => format!("img-src 'self' {origin}"),
        None => "img-src 'self'".to_owned(),
    }
}

fn set_headers(headers: &mut header::HeaderMap, policy: &str, app: Option<&AuthorizeApp>) {
    let csp = format!("{policy}; {}", img_src(app));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    let set = |h: &mut header::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::PRAGMA, "no-cache");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
}

/// The ordinary pages' headers on a response built outside the app's routes (the unknown-path
/// page).
pub fn set_page_headers(headers: &mut header::HeaderMap, app: Option<&AuthorizeApp>) {
    set_headers(headers, PAGE_POLICY, app);
}

async fn finish(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    policy: &'static str,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let app = req.app_data::<web::Data<AuthorizeApp>>().cloned();
    let res = next.call(req).await?;
    let branded = app.as_ref().and_then(|app| {
        let error = res.response().error()?.as_error::<PageError>()?;
        error.is_page().then(|| error.page(&app.settings.branding))
    });
    let mut res = match branded {
        Some(page) => res.into_response(page),
        None => res.map_into_boxed_body(),
    };
    set_headers(res.headers_mut(), policy, app.as_ref().map(|a| a.get_ref()));
    Ok(res)
}

/// Headers for ordinary pages (login, logout, home, console).
pub async fn page_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    finish(req, next, PAGE_POLICY).await
}

/// Headers for the authorization endpoint and consent page.
pub async fn consent_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    finish(req, next, CONSENT_POLICY).await
}
