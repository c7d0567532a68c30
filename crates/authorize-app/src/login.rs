//! Login and logout. A successful login replaces the session (new id, new CSRF token) and returns
//! to the pending authorization request it was started for, by id, else to the console page that
//! sent the browser here (a checked path of this app), else to the home page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use store::ratelimit;
use store::repo::accounts;

use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::{self, see_other};
use crate::pages::{LoginPage, render};
use crate::pending;
use crate::session::{CurrentAccount, Session};

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// A pending authorization request to return to.
    request: Option<String>,
    /// A console page to return to.
    #[serde(rename = "return")]
    return_to: Option<String>,
}

async fn login_page(
    app: &AuthorizeApp,
    session: &Session,
    request: Option<String>,
    return_to: Option<&str>,
    email: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let mut client_name = None;
    let mut request_id = None;
    if let Some(id) = request
        && let Some(p) = pending::load(app, &id).await?
    {
        client_name = Some(p.client_name);
        request_id = Some(id);
    }
    let page = LoginPage {
        brand: app.settings.branding.clone(),
        csrf: session.data.csrf.clone(),
        request: request_id,
        return_to: return_to.and_then(forms::console_return),
        client_name,
        email,
        error,
    };
    let mut res = render(status, &page);
    res.add_cookie(&session.cookie(app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

fn after_login(request: Option<&str>, return_to: Option<&str>) -> String {
    match request {
        Some(id) if forms::plausible_id(id) => format!("/oauth/consent?request={id}"),
        _ => return_to
            .and_then(forms::console_return)
            .unwrap_or_else(|| "/".to_owned()),
    }
}

/// `GET /login`
pub async fn show(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    if CurrentAccount::load(&app, &req).await?.is_some() {
        return Ok(see_other(&after_login(
            query.request.as_deref(),
            query.return_to.as_deref(),
        )));
    }
    let (session, _) = Session::load_or_start(&app, &req).await?;
    let query = query.into_inner();
    login_page(
        &app,
        &session,
        query.request,
        query.return_to.as_deref(),
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /login`
pub async fn submit(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    let session = Session::load(&app, &req).await?.ok_or(PageError::Csrf)?;
    session.check_csrf(form.get("csrf").map(String::as_str))?;
    let limit_key = format!("login:{}", forms::peer(&req));
    if !ratelimit::allow(app.kv.as_ref(), &limit_key, app.settings.login_rate_limit).await? {
        return Err(PageError::TooManyRequests);
    }
    let email = form.get("email").cloned().unwrap_or_default();
    // Per account too, so guesses spread over many addresses still meet a limit. Keyed by the
    // normalized address whether or not such an account exists: the answer tells nothing.
    // Hashed: the key's length does not grow with what was typed.
    let account_key = format!(
        "login-account:{}",
        store::secret::sha256_hex(&email.trim().to_lowercase())
    );
    if !ratelimit::allow(
        app.kv.as_ref(),
        &account_key,
        app.settings.login_account_rate_limit,
    )
    .await?
    {
        return Err(PageError::TooManyRequests);
    }
    let password = form.get("password").cloned().unwrap_or_default();
    let request = form.get("request").cloned();
    let return_to = form.get("return").map(String::as_str);
    let Some(account) = accounts::verify_login(&app.db, &email, &password).await? else {
        let error = Some("Incorrect email or password.".to_owned());
        return login_page(
            &app,
            &session,
            request,
            return_to,
            email,
            error,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    };
    session.destroy(&app).await?;
    let fresh = Session::create(&app, Some(account.id)).await?;
    tracing::info!(account = %account.uid, "signed in");
    let mut res = see_other(&after_login(request.as_deref(), return_to));
    res.add_cookie(&fresh.cookie(&app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

/// `POST /logout`
pub async fn logout(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    let session = Session::load(&app, &req).await?.ok_or(PageError::Csrf)?;
    session.check_csrf(form.get("csrf").map(String::as_str))?;
    session.destroy(&app).await?;
    let mut res = see_other("/login");
    res.add_cookie(&Session::removal(&app))
        .map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}
