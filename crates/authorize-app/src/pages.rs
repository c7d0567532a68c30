//! The askama page types and the one function that turns a page into a response with a status
//! (the derived responder would always answer 200).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use askama::Template;
use mailer::Branding;

/// A page drawn in the product's look: the shared layout asks it for the branding.
pub trait Branded {
    /// The product's name, logo, colour, support contact and terms.
    fn brand(&self) -> &Branding;
}

/// Pages whose `brand` field is the branding.
macro_rules! branded {
    ($($page:ty),+ $(,)?) => {
        $(impl $crate::pages::Branded for $page {
            fn brand(&self) -> &mailer::Branding {
                &self.brand
            }
        })+
    };
}
pub(crate) use branded;

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
    /// The product's look.
    pub brand: Branding,
    /// Heading.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: String,
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The product's look.
    pub brand: Branding,
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
    /// The product's look.
    pub brand: Branding,
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

/// The SCIM API's documentation page (`ServiceProviderConfig.documentationUri`).
#[derive(Template)]
#[template(path = "docs_scim.html")]
pub struct ScimDocsPage {
    /// The product's look.
    pub brand: Branding,
    /// Where browsers reach this app.
    pub app_url: String,
    /// The region's auth API URL (SCIM and the token endpoint).
    pub auth_api_url: String,
}

/// `GET /docs/scim`
pub async fn scim_docs(
    app: actix_web::web::Data<crate::AuthorizeApp>,
) -> Result<HttpResponse, crate::PageError> {
    Ok(render(
        StatusCode::OK,
        &ScimDocsPage {
            brand: app.settings.branding.clone(),
            app_url: app.settings.app_url.clone(),
            auth_api_url: app.settings.auth_api_url().to_owned(),
        },
    ))
}

/// The page an unknown browser path answers (404), with the ordinary page headers.
pub fn not_found(req: &actix_web::HttpRequest) -> HttpResponse {
    let error = crate::PageError::NotFound(
        "There is no page at this address. Check the link, or start again from your \
         organizations."
            .into(),
    );
    let app = crate::AuthorizeApp::of(req).ok();
    let mut res = match app {
        Some(app) => error.page(&app.settings.branding),
        None => actix_web::ResponseError::error_response(&error),
    };
    crate::headers::set_page_headers(res.headers_mut(), app);
    res
}

branded!(ErrorPage, LoginPage, ConsentPage, ScimDocsPage);
