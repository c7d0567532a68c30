//! `PageError`: every failure of a browser page, rendered in one place as a real HTML page with
//! the right status (askama's derived responder would always answer 200).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use store::StoreError;

use crate::pages::{ErrorPage, render};

/// What went wrong, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A malformed or unacceptable request (unknown client, wrong redirect URI, …).
    #[error("{0}")]
    BadRequest(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The form's CSRF token is missing or wrong (or the session expired).
    #[error("this form has expired or did not come from this site; go back, reload and try again")]
    Csrf,
    /// Not signed in: go to the login page.
    #[error("please sign in")]
    LoginRequired,
    /// Too many attempts from this address.
    #[error("too many attempts; wait a minute and try again")]
    TooManyRequests,
    /// The data layer failed.
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable(#[from] StoreError),
}

impl PageError {
    fn title(&self) -> &'static str {
        match self {
            PageError::BadRequest(_) => "This request cannot be completed",
            PageError::Forbidden(_) => "Not allowed",
            PageError::Csrf => "Form expired",
            PageError::LoginRequired => "Sign in required",
            PageError::TooManyRequests => "Slow down",
            PageError::Unavailable(_) => "Temporarily unavailable",
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::LoginRequired => StatusCode::SEE_OTHER,
            PageError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::LoginRequired => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
            }
            PageError::Unavailable(e) => {
                tracing::error!(error = %e, "page failed on the data layer")
            }
            _ => {}
        }
        render(
            self.status_code(),
            &ErrorPage {
                title: self.title(),
                message: self.to_string(),
            },
        )
    }
}
