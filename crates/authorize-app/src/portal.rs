//! What a portal link opens in the browser. `GET /portal/{token}` redeems the link (single use)
//! and starts a fresh session that carries the link's grant and no account, then sends the
//! browser straight to the organization's SCIM tab, so the token leaves the address bar at once
//! (and, with `Referrer-Policy: no-referrer`, never reaches another site). A used, expired or
//! unknown link gets a page that says so, and no session. `POST /portal/end` ends a portal
//! session.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use store::repo::portal_links::{Redeemed, TOKEN_PREFIX};

use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::{self, see_other};
use crate::pages::{Branded, render};
use crate::session::{PortalGrant, Session};

/// The page of a link that opens nothing, or of a portal session that ended.
#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    /// Heading.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: &'static str,
    /// The SaaS's page to go back to, if known.
    pub return_url: Option<String>,
    /// The product's look.
    pub brand: mailer::Branding,
}

crate::pages::branded!(PortalPage);

/// A link's token as we issue it (prefix and base64url); anything else is not looked up.
fn plausible_token(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(forms::plausible_id)
}

fn refused(
    app: &AuthorizeApp,
    status: StatusCode,
    title: &'static str,
    message: &'static str,
) -> HttpResponse {
    render(
        status,
        &PortalPage {
            title,
            message,
            return_url: None,
            brand: app.settings.branding.clone(),
        },
    )
}

/// `GET /portal/{token}`
pub async fn open(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let redeemed = if plausible_token(&token) {
        usecases::portal::redeem(
            &app.core,
            &token,
            forms::request_id(&req),
            forms::client_ip(&req),
        )
        .await?
    } else {
        Redeemed::Unknown
    };
    let (link_uid, org_uid, return_url) = match redeemed {
        Redeemed::Granted {
            link_uid,
            org_uid,
            return_url,
        } => (link_uid, org_uid, return_url),
        Redeemed::Used => {
            return Ok(refused(
                &app,
                StatusCode::GONE,
                "This link has been used",
                "A portal link opens the SCIM settings once. Ask for a new link from the \
                 settings page that sent you here.",
            ));
        }
        Redeemed::Expired => {
            return Ok(refused(
                &app,
                StatusCode::GONE,
                "This link has expired",
                "A portal link is valid for a few minutes only. Ask for a new link from the \
                 settings page that sent you here.",
            ));
        }
        Redeemed::Unknown => {
            return Ok(refused(
                &app,
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "Check that the whole link was copied, or ask for a new one from the settings \
                 page that sent you here.",
            ));
        }
    };
    // Whatever session this browser had ends: the portal session starts with a new id.
    if let Some(previous) = Session::load(&app, &req).await? {
        previous.destroy(&app).await?;
    }
    let session = Session::create_portal(
        &app,
        PortalGrant {
            link_uid: link_uid.clone(),
            org_uid: org_uid.clone(),
            return_url,
        },
    )
    .await?;
    tracing::info!(portal_link = %link_uid, org = %org_uid, "portal session started");
    let mut res = see_other(&format!("/orgs/{org_uid}/settings/scim"));
    res.add_cookie(&session.cookie(&app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

/// `POST /portal/end`: ends the portal session (CSRF-checked) and says so.
pub async fn end(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    let session = Session::load(&app, &req).await?.ok_or(PageError::Csrf)?;
    session.check_csrf(form.get(crate::csrf::FIELD).map(String::as_str))?;
    let Some(grant) = session.data.portal.clone() else {
        return Err(PageError::BadRequest(
            "this is not a portal session; sign out instead".into(),
        ));
    };
    session.destroy(&app).await?;
    let mut res = render(
        StatusCode::OK,
        &PortalPage {
            title: "Session ended",
            message: "The SCIM settings are saved as you left them. This portal session has \
                      ended; the link that opened it cannot be used again.",
            return_url: grant.return_url,
            brand: app.settings.branding.clone(),
        },
    );
    res.add_cookie(&Session::removal(&app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::plausible_token;

    #[test]
    fn only_issued_shapes_are_looked_up() {
        assert!(plausible_token("sgp_abcdefghijklmnopqrstuvwxyz012345-_AB"));
        for bad in [
            "",
            "sgp_",
            "sgt_abcdefghijklmnopqrstuvwxyz",
            "sgp_short",
            "sgp_a/b/c/d/e/f/g/h/i/j",
        ] {
            assert!(!plausible_token(bad), "{bad:?}");
        }
    }
}
