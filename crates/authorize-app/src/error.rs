//! `PageError`: every failure of a browser page, rendered in one place as a real HTML page with
//! the right status (askama's derived responder would always answer 200). A store error is mapped
//! here too: the caller's mistakes (bad input, a name taken, something not found) get a page that
//! says so; only a failing database or key-value store is "temporarily unavailable".

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use store::StoreError;

use crate::pages::{ErrorPage, render};

/// What went wrong, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A malformed or unacceptable request (unknown client, wrong redirect URI, bad form value).
    #[error("{0}")]
    BadRequest(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// What the page is about does not exist (or not for this account).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what exists (a name already taken, a concurrent change).
    #[error("{0}")]
    Conflict(String),
    /// The form's CSRF token is missing or wrong (or the session expired).
    #[error("this form has expired or did not come from this site; go back, reload and try again")]
    Csrf,
    /// Not signed in: go to the login page.
    #[error("please sign in")]
    LoginRequired,
    /// Not signed in on a console page: go to the login page, then back to this page (a path
    /// of this app that [`crate::forms::console_return`] accepted).
    #[error("please sign in")]
    LoginRequiredFor(String),
    /// The organization lives in another region: the browser is sent to this URL there.
    #[error("this organization is served by another region")]
    OtherRegion(String),
    /// What the link or page was for is over (an expired, used or replaced link): a title and
    /// what to do.
    #[error("{1}")]
    Gone(&'static str, String),
    /// Too many attempts from this address.
    #[error("too many attempts; wait a minute and try again")]
    TooManyRequests,
    /// The data layer failed.
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable(StoreError),
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(message) => PageError::BadRequest(message),
            StoreError::Forbidden(message) => PageError::Forbidden(message),
            StoreError::NotFound(what) => PageError::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => {
                PageError::Conflict(format!("{what} already exists; choose another name"))
            }
            StoreError::VersionMismatch => PageError::Conflict(
                "someone changed this at the same time; reload the page and try again".into(),
            ),
            other => PageError::Unavailable(other),
        }
    }
}

impl From<usecases::Error> for PageError {
    fn from(err: usecases::Error) -> Self {
        use usecases::Error;
        match err {
            Error::Scim(scim) => PageError::BadRequest(scim.detail),
            Error::NotFound(message) => PageError::NotFound(message),
            Error::Conflict(message) => PageError::Conflict(message),
            Error::Invalid(message) => PageError::BadRequest(message),
            Error::Forbidden(message) => PageError::Forbidden(message),
            Error::PreconditionFailed(_) => PageError::Conflict(
                "someone changed this at the same time; reload the page and try again".into(),
            ),
            Error::RateLimited(_) => PageError::TooManyRequests,
            Error::Store(store) => PageError::from(store),
        }
    }
}

impl PageError {
    fn title(&self) -> &'static str {
        match self {
            PageError::BadRequest(_) => "This request cannot be completed",
            PageError::Forbidden(_) => "Not allowed",
            PageError::NotFound(_) => "Not found",
            PageError::Conflict(_) => "That conflicts with what exists",
            PageError::Csrf => "Form expired",
            PageError::LoginRequired | PageError::LoginRequiredFor(_) => "Sign in required",
            PageError::OtherRegion(_) => "Another region",
            PageError::TooManyRequests => "Slow down",
            PageError::Unavailable(_) => "Temporarily unavailable",
            PageError::Gone(title, _) => title,
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::LoginRequired
            | PageError::LoginRequiredFor(_)
            | PageError::OtherRegion(_) => StatusCode::SEE_OTHER,
            PageError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Gone(..) => StatusCode::GONE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let login_for;
        let location = match self {
            PageError::LoginRequired => Some("/login"),
            PageError::LoginRequiredFor(path) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return", path)
                    .finish();
                login_for = format!("/login?{query}");
                Some(login_for.as_str())
            }
            PageError::OtherRegion(url) => Some(url.as_str()),
            PageError::Unavailable(e) => {
                tracing::error!(error = %e, "page failed on the data layer");
                None
            }
            _ => None,
        };
        if let Some(location) = location {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        // Without the app at hand: the neutral look. The page middleware draws the product's
        // ([`PageError::page`]) for every page of the app.
        render(
            self.status_code(),
            &ErrorPage {
                brand: mailer::Branding::new(""),
                title: self.title(),
                message: self.to_string(),
            },
        )
    }
}

impl PageError {
    /// Whether this error answers with a page (not a redirect).
    pub fn is_page(&self) -> bool {
        self.status_code() != StatusCode::SEE_OTHER
    }

    /// The error page in the product's look (a redirect for the errors that redirect).
    pub fn page(&self, brand: &mailer::Branding) -> HttpResponse {
        if !self.is_page() {
            return ResponseError::error_response(self);
        }
        // Not logged here: `error_response` already logged it when actix answered the error.
        render(
            self.status_code(),
            &ErrorPage {
                brand: brand.clone(),
                title: self.title(),
                message: self.to_string(),
            },
        )
    }
}
