//! PKCE (RFC 7636) as RFC 9700 wants it: S256 only, a verifier of 43–128 unreserved characters,
//! compared in constant time; a verifier presented for a code issued without a challenge is a
//! downgrade attempt and fails.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// True for a syntactically valid verifier (RFC 7636 §4.1) — or challenge, which has the same
/// alphabet and a 43-character S256 form.
pub fn valid_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub use usecases::installations::valid_code_challenge as valid_challenge;

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Why PKCE failed at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceFailure {
    /// The code has a challenge and no verifier came.
    Missing,
    /// A verifier came for a code without a challenge.
    Downgrade,
    /// Malformed or not matching.
    Mismatch,
}

/// Checks the token request's verifier against the code's challenge.
pub fn check(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), PkceFailure> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(PkceFailure::Missing),
        (None, Some(_)) => Err(PkceFailure::Downgrade),
        (Some(challenge), Some(verifier)) => {
            let matches = valid_verifier(verifier)
                && bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes()));
            if matches {
                Ok(())
            } else {
                Err(PkceFailure::Mismatch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_example_verifies() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        assert!(valid_challenge(CHALLENGE));
        assert_eq!(check(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn missing_downgrade_and_mismatch_fail() {
        assert_eq!(check(Some(CHALLENGE), None), Err(PkceFailure::Missing));
        assert_eq!(check(None, Some(VERIFIER)), Err(PkceFailure::Downgrade));
        let other = "a".repeat(43);
        assert_eq!(
            check(Some(CHALLENGE), Some(&other)),
            Err(PkceFailure::Mismatch)
        );
        assert_eq!(
            check(Some(CHALLENGE), Some("short")),
            Err(PkceFailure::Mismatch)
        );
        assert_eq!(check(None, None), Ok(()));
    }

    #[test]
    fn verifier_alphabet_and_length() {
        assert!(valid_verifier(&"a".repeat(128)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!valid_challenge("plain-challenge"));
    }
}
