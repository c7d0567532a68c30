//! The invitation acceptance page: `GET /invitations/{token}` shows what the link is for,
//! `POST …/accept` joins (setting a first password, with the account's password, or as the
//! signed-in account) and signs the person in, `POST …/renew` sends a fresh link for an expired
//! one to the address on record. The token is in the path, so the pages carry no referrer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use store::ratelimit;
use usecases::invitations::{self, LinkState, OpenInvitation, Proof};

use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms;
use crate::pages::{Branded, render};
use crate::session::{CurrentAccount, Session};

/// What the page shows.
#[derive(Debug)]
pub enum View {
    /// Choose a first password and join.
    SetPassword,
    /// Type the account's password and join.
    SignIn,
    /// Already signed in as the invited account: one click.
    Confirm,
    /// The link expired; a new one can be sent.
    Expired,
    /// A new link was sent.
    Renewed,
    /// Joined.
    Joined,
}

/// `templates/invitation.html`.
#[derive(Template)]
#[template(path = "invitation.html")]
pub struct InvitationPage {
    /// Which form or message.
    pub view: View,
    /// The link's token (the forms post back to it).
    pub token: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The organization's name.
    pub organization: String,
    /// The invited address.
    pub email: String,
    /// Who is signed in, when it is someone else.
    pub signed_in_as: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The product's look.
    pub brand: mailer::Branding,
}

crate::pages::branded!(InvitationPage);

fn gone(title: &'static str, message: &str) -> PageError {
    PageError::Gone(title, message.to_owned())
}

/// A token as it may appear in a path: anything else is refused before the database is asked.
fn plausible(token: &str) -> bool {
    token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn state(app: &AuthorizeApp, token: &str) -> Result<LinkState, PageError> {
    if !plausible(token) {
        return Ok(LinkState::Invalid);
    }
    Ok(invitations::open(&app.core, token).await?)
}

fn invalid_link() -> PageError {
    gone(
        "This invitation link is not valid",
        "It may have been replaced by a newer invitation, or the membership it was for has \
         ended. Ask your organization's administrator to invite you again.",
    )
}

async fn page(
    app: &AuthorizeApp,
    req: &HttpRequest,
    token: &str,
    open: &OpenInvitation,
    view: Option<View>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let signed_in = CurrentAccount::load(app, req).await?;
    let (session, _) = match &signed_in {
        Some(current) => (current.session.clone(), false),
        None => Session::load_or_start(app, req).await?,
    };
    let view = view.unwrap_or(match &signed_in {
        Some(current) if current.account.id == open.account_id => View::Confirm,
        _ if open.has_password => View::SignIn,
        _ => View::SetPassword,
    });
    let signed_in_as = signed_in
        .filter(|current| current.account.id != open.account_id)
        .map(|current| current.account.email);
    let body = InvitationPage {
        view,
        token: token.to_owned(),
        csrf: session.data.csrf.clone(),
        organization: open.organization_name.clone(),
        email: open.email.clone(),
        signed_in_as,
        error,
        brand: app.settings.branding.clone(),
    };
    let mut res = render(status, &body);
    res.add_cookie(&session.cookie(app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

/// `GET /invitations/{token}`
pub async fn show(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    match state(&app, &token).await? {
        LinkState::Valid(open) => page(&app, &req, &token, &open, None, None, StatusCode::OK).await,
        LinkState::Expired(open) => {
            page(
                &app,
                &req,
                &token,
                &open,
                Some(View::Expired),
                None,
                StatusCode::GONE,
            )
            .await
        }
        LinkState::Used { organization_name } => Err(gone(
            "This invitation was already accepted",
            &format!("You are a member of {organization_name}. Sign in to continue."),
        )),
        LinkState::Invalid => Err(invalid_link()),
    }
}

/// `POST /invitations/{token}/accept`
pub async fn accept(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    let session = Session::load(&app, &req).await?.ok_or(PageError::Csrf)?;
    session.check_csrf(form.get("csrf").map(String::as_str))?;
    // Password guesses through this form meet the login form's limit.
    let limit_key = format!("login:{}", forms::peer(&req));
    if !ratelimit::allow(app.kv.as_ref(), &limit_key, app.settings.login_rate_limit).await? {
        return Err(PageError::TooManyRequests);
    }
    let open = match state(&app, &token).await? {
        LinkState::Valid(open) => open,
        LinkState::Expired(open) => {
            return page(
                &app,
                &req,
                &token,
                &open,
                Some(View::Expired),
                None,
                StatusCode::GONE,
            )
            .await;
        }
        LinkState::Used { .. } | LinkState::Invalid => return Err(invalid_link()),
    };
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let signed_in = CurrentAccount::load(&app, &req)
        .await?
        .filter(|current| current.account.id == open.account_id);
    let proof = match (form.get("action").map(String::as_str), signed_in) {
        (Some("confirm"), Some(current)) => Proof::SignedIn(current.account.id),
        _ if open.has_password => Proof::Password(field("password")),
        _ => {
            if field("password") != field("password_confirm") {
                let error = Some("The two passwords do not match.".to_owned());
                return page(
                    &app,
                    &req,
                    &token,
                    &open,
                    None,
                    error,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Proof::NewPassword(field("password"))
        }
    };
    let accepted = match invitations::accept(
        &app.core,
        &token,
        proof,
        forms::request_id(&req),
        forms::client_ip(&req),
    )
    .await
    {
        Ok(accepted) => accepted,
        Err(usecases::Error::Forbidden(message) | usecases::Error::Invalid(message)) => {
            return page(
                &app,
                &req,
                &token,
                &open,
                None,
                Some(sentence(&message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(other) => return Err(other.into()),
    };
    // Joining signs the person in: a fresh session (new id, new CSRF token).
    session.destroy(&app).await?;
    let fresh = Session::create(&app, Some(accepted.account.id)).await?;
    tracing::info!(account = %accepted.account.uid, org = %accepted.organization_uid, "invitation accepted");
    let body = InvitationPage {
        view: View::Joined,
        token: String::new(),
        csrf: fresh.data.csrf.clone(),
        organization: accepted.organization_name,
        email: accepted.account.email,
        signed_in_as: None,
        error: None,
        brand: app.settings.branding.clone(),
    };
    let mut res = render(StatusCode::OK, &body);
    res.add_cookie(&fresh.cookie(&app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

/// `POST /invitations/{token}/renew`: a new link for an expired one, sent to the address on
/// record (never to one the visitor types).
pub async fn renew(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    let session = Session::load(&app, &req).await?.ok_or(PageError::Csrf)?;
    session.check_csrf(form.get("csrf").map(String::as_str))?;
    let LinkState::Expired(open) = state(&app, &token).await? else {
        return Err(invalid_link());
    };
    invitations::renew(&app.core, &token, forms::client_ip(&req)).await?;
    page(
        &app,
        &req,
        &token,
        &open,
        Some(View::Renewed),
        None,
        StatusCode::OK,
    )
    .await
}

/// A use case's message as a sentence on the page.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
