//! The askama page types and the one function that turns a page into a response with a status
//! (the derived responder would always answer 200).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use askama::Template;

/// Renders a page with `status`; a template failure becomes a plain 500 (never a stack trace).
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("internal error")
        }
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Heading.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: String,
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The pending authorization request this login continues.
    pub request: Option<String>,
    /// The console page to return to (already checked).
    pub return_to: Option<String>,
    /// Its client's name, to say why the user is signing in.
    pub client_name: Option<String>,
    /// The email typed before (after a failed attempt).
    pub email: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// An organization the account may install into.
#[derive(Debug, Clone)]
pub struct OrgChoice {
    /// Public UID (the form value).
    pub uid: String,
    /// Name.
    pub name: String,
}

/// A scope and what it allows, in words.
#[derive(Debug, Clone)]
pub struct ScopeLine {
    /// Scope name.
    pub name: String,
    /// What it allows.
    pub description: &'static str,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The pending request's id.
    pub request: String,
    /// The IdP client's name.
    pub client_name: String,
    /// Organizations the account may install into (Owner/Admin, SCIM enabled).
    pub orgs: Vec<OrgChoice>,
    /// Requested scopes.
    pub scopes: Vec<ScopeLine>,
    /// The signed-in account.
    pub account_email: String,
    /// The terms version accepted by approving.
    pub terms_version: String,
    /// Why the last submission was refused.
    pub error: Option<String>,
}
