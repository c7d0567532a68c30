//! Browser sessions kept in the key-value store, so any replica serves any request. The cookie
//! holds a random id (256 bits); the store keeps the session under the id's SHA-256. Every
//! browser that sees a form gets a session (anonymous until login) because the CSRF token lives in
//! it; logging in replaces the session and its id (no fixation).
//!
//! Reused by the console: [`CurrentAccount`] is the extractor for pages that need a signed-in
//! account.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use store::repo::accounts::{self, Account};
use store::secret::{random_token, sha256_hex};

use crate::AuthorizeApp;
use crate::error::PageError;

/// The session cookie's name.
pub const COOKIE: &str = "scimgate_session";

/// What a session holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    /// The signed-in account, `None` for an anonymous session.
    pub account_id: Option<store::ids::AccountId>,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

/// A loaded session and its id.
#[derive(Debug, Clone)]
pub struct Session {
    id: String,
    /// Its contents.
    pub data: SessionData,
}

fn kv_key(id: &str) -> String {
    format!("session:{}", sha256_hex(id))
}

/// How long a flashed value waits for the page after the redirect.
const FLASH_TTL: std::time::Duration = std::time::Duration::from_secs(300);

fn flash_key(session: &str, id: &str) -> String {
    format!("flash:{}:{id}", sha256_hex(session))
}

impl Session {
    /// The session the request's cookie names, if it is live.
    pub async fn load(app: &AuthorizeApp, req: &HttpRequest) -> Result<Option<Self>, PageError> {
        let Some(cookie) = req.cookie(COOKIE) else {
            return Ok(None);
        };
        let id = cookie.value().to_owned();
        let Some(raw) = app.kv.get(&kv_key(&id)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&raw)
            .ok()
            .map(|data| Session { id, data }))
    }

    /// Starts a session (anonymous when `account_id` is `None`) and stores it.
    pub async fn create(
        app: &AuthorizeApp,
        account_id: Option<store::ids::AccountId>,
    ) -> Result<Self, PageError> {
        let session = Session {
            id: random_token(32),
            data: SessionData {
                account_id,
                csrf: random_token(32),
            },
        };
        let value = serde_json::to_vec(&session.data)
            .map_err(|e| store::StoreError::Invalid(e.to_string()))?;
        app.kv
            .set(&kv_key(&session.id), &value, app.settings.session_ttl)
            .await?;
        Ok(session)
    }

    /// The request's session, or a new anonymous one (the caller sets its cookie).
    pub async fn load_or_start(
        app: &AuthorizeApp,
        req: &HttpRequest,
    ) -> Result<(Self, bool), PageError> {
        match Self::load(app, req).await? {
            Some(session) => Ok((session, false)),
            None => Ok((Self::create(app, None).await?, true)),
        }
    }

    /// Ends the session everywhere.
    pub async fn destroy(&self, app: &AuthorizeApp) -> Result<(), PageError> {
        app.kv.delete(&kv_key(&self.id)).await?;
        Ok(())
    }

    /// The cookie that carries this session: `HttpOnly`, `SameSite=Lax`, `Secure` over https.
    pub fn cookie(&self, app: &AuthorizeApp) -> Cookie<'static> {
        let max_age = i64::try_from(app.settings.session_ttl.as_secs()).unwrap_or(3600);
        Cookie::build(COOKIE, self.id.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(app.settings.secure_cookies())
            .max_age(time::Duration::seconds(max_age))
            .finish()
    }

    /// A cookie that removes the session cookie.
    pub fn removal(app: &AuthorizeApp) -> Cookie<'static> {
        let mut cookie = Cookie::build(COOKIE, "")
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(app.settings.secure_cookies())
            .finish();
        cookie.make_removal();
        cookie
    }

    /// Keeps `value` for this session's next page only (a POST's result shown after its redirect,
    /// such as a new token shown once); returns the id that page asks for it by.
    pub async fn flash(&self, app: &AuthorizeApp, value: &[u8]) -> Result<String, PageError> {
        let id = random_token(16);
        app.kv
            .set(&flash_key(&self.id, &id), value, FLASH_TTL)
            .await?;
        Ok(id)
    }

    /// Takes what [`Session::flash`] kept under `id` for this session: once, and never for
    /// another session.
    pub async fn take_flash(
        &self,
        app: &AuthorizeApp,
        id: &str,
    ) -> Result<Option<Vec<u8>>, PageError> {
        if !crate::forms::plausible_id(id) {
            return Ok(None);
        }
        Ok(app.kv.take(&flash_key(&self.id, id)).await?)
    }

    /// Checks a submitted CSRF token against the session's, in constant time.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), PageError> {
        crate::csrf::check(&self.data.csrf, submitted)
    }
}

/// A signed-in account and its session: the extractor of every page that needs one. Without a
/// live signed-in session the request is sent to the login page.
#[derive(Debug, Clone)]
pub struct CurrentAccount {
    /// The account.
    pub account: Account,
    /// Its session (for the CSRF token).
    pub session: Session,
}

impl CurrentAccount {
    /// Loads the signed-in account of a request, if any.
    pub async fn load(app: &AuthorizeApp, req: &HttpRequest) -> Result<Option<Self>, PageError> {
        let Some(session) = Session::load(app, req).await? else {
            return Ok(None);
        };
        let Some(account_id) = session.data.account_id else {
            return Ok(None);
        };
        Ok(accounts::find_by_id(&app.db, account_id)
            .await?
            .map(|account| CurrentAccount { account, session }))
    }
}

impl FromRequest for CurrentAccount {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            CurrentAccount::load(AuthorizeApp::of(&req)?, &req)
                .await?
                .ok_or(PageError::LoginRequired)
        })
    }
}
