//! Browser sessions kept in the key-value store, so any replica serves any request. The cookie
//! holds a random id (256 bits); the store keeps the session under the id's SHA-256. Every
//! browser that sees a form gets a session (anonymous until login) because the CSRF token lives in
//! it; logging in replaces the session and its id (no fixation).
//!
//! Reused by the console: [`CurrentAccount`] is the extractor for pages that need a signed-in
//! account. A portal session ([`PortalGrant`], started by a portal link) has no account: it opens
//! one organization's SCIM settings only, lives at most [`PORTAL_SESSION_TTL`], and pages that
//! need an account refuse it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use store::repo::accounts::{self, Account};
use store::secret::{random_token, sha256_hex};

use crate::AuthorizeApp;
use crate::error::PageError;

/// The session cookie's name.
pub const COOKIE: &str = "scimgate_session";

/// The longest a portal session lives (shorter when the console's sessions are).
pub const PORTAL_SESSION_TTL: Duration = Duration::from_secs(3600);

/// What a redeemed portal link grants its session: one organization's SCIM settings, no account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalGrant {
    /// The link's public id (the actor of everything done in the session).
    pub link_uid: String,
    /// The organization it opens.
    pub org_uid: String,
    /// Where "Done" goes (the SaaS's page), if the SaaS gave one.
    pub return_url: Option<String>,
}

/// What a session holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    /// The signed-in account, `None` for an anonymous or portal session.
    pub account_id: Option<store::ids::AccountId>,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// The portal link this session was started by, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PortalGrant>,
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
        Self::start(app, account_id, None).await
    }

    /// Starts a portal session (no account) for what a redeemed link grants, with a new id and
    /// CSRF token.
    pub async fn create_portal(app: &AuthorizeApp, grant: PortalGrant) -> Result<Self, PageError> {
        Self::start(app, None, Some(grant)).await
    }

    async fn start(
        app: &AuthorizeApp,
        account_id: Option<store::ids::AccountId>,
        portal: Option<PortalGrant>,
    ) -> Result<Self, PageError> {
        let session = Session {
            id: random_token(32),
            data: SessionData {
                account_id,
                csrf: random_token(32),
                portal,
            },
        };
        let value = serde_json::to_vec(&session.data)
            .map_err(|e| store::StoreError::Invalid(e.to_string()))?;
        app.kv
            .set(&kv_key(&session.id), &value, session.ttl(app))
            .await?;
        Ok(session)
    }

    /// How long this session lives: the console's session lifetime, at most
    /// [`PORTAL_SESSION_TTL`] for a portal session.
    pub fn ttl(&self, app: &AuthorizeApp) -> Duration {
        match self.data.portal {
            Some(_) => app.settings.session_ttl.min(PORTAL_SESSION_TTL),
            None => app.settings.session_ttl,
        }
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
        let max_age = i64::try_from(self.ttl(app).as_secs()).unwrap_or(3600);
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
/// live signed-in session the request is sent to the login page; a portal session is refused.
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
        Self::of_session(app, session).await
    }

    /// The signed-in account of a loaded session, if it has one.
    pub async fn of_session(
        app: &AuthorizeApp,
        session: Session,
    ) -> Result<Option<Self>, PageError> {
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
            let app = AuthorizeApp::of(&req)?;
            let Some(session) = Session::load(app, &req).await? else {
                return Err(PageError::LoginRequired);
            };
            if let Some(grant) = &session.data.portal {
                return Err(portal_only(grant));
            }
            CurrentAccount::of_session(app, session)
                .await?
                .ok_or(PageError::LoginRequired)
        })
    }
}

/// The refusal a portal session meets outside its organization's SCIM settings.
pub fn portal_only(grant: &PortalGrant) -> PageError {
    PageError::Forbidden(format!(
        "this portal session opens only the SCIM settings of organization {}; \
         other pages need an account",
        grant.org_uid
    ))
}
