//! CSRF protection: every form carries its session's random token in a hidden `csrf` field, and
//! every POST compares it with the session's in constant time. Together with `SameSite=Lax`
//! cookies this stops cross-site form posts, including login CSRF (the login form's token lives in
//! the anonymous session).

use subtle::ConstantTimeEq;

use crate::error::PageError;

/// The hidden form field's name.
pub const FIELD: &str = "csrf";

/// Compares a submitted token with the session's.
pub fn check(expected: &str, submitted: Option<&str>) -> Result<(), PageError> {
    match submitted {
        Some(given)
            if !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(PageError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        assert!(check("abc", Some("abc")).is_ok());
        assert!(check("abc", Some("abd")).is_err());
        assert!(check("abc", None).is_err());
        assert!(check("", Some("")).is_err());
    }
}
