//! Security headers of every HTML page, as a middleware per page kind (kanidm's split): no
//! framing anywhere (`X-Frame-Options: DENY` and `frame-ancestors 'none'`), no referrer (the
//! authorization request carries `state`), no caching, nothing loaded from third parties. The
//! consent page's policy has no `form-action`: browsers apply it to the redirect that follows the
//! form, which goes to the IdP.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

const BASE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                        script-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                        form-action 'self'";

fn apply<B>(res: &mut ServiceResponse<B>, csp: &'static str) {
    let headers = res.headers_mut();
    let set =
        |h: &mut actix_web::http::header::HeaderMap, name: HeaderName, value: &'static str| {
            h.insert(name, HeaderValue::from_static(value));
        };
    set(headers, header::CONTENT_SECURITY_POLICY, csp);
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

/// Headers for ordinary pages (login, logout, home, console).
pub async fn page_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    apply(&mut res, PAGE_CSP);
    Ok(res)
}

/// Headers for the authorization endpoint and consent page.
pub async fn consent_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    apply(&mut res, BASE_CSP);
    Ok(res)
}
