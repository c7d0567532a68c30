//! Signing lookups between regions: `t=<unix seconds>,r=<asking region>,s=<hex HMAC-SHA256>` over
//! the method, the path with its query, the time and the asking region, under a key every region
//! shares. A signature older or newer than a minute is refused, so a captured request cannot be
//! replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The request header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-scimgate-federation";
/// Largest accepted clock difference, in seconds.
const MAX_SKEW: i64 = 60;

/// Signs and verifies lookups with the shared key.
#[derive(Clone)]
pub struct Signer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

impl Signer {
    /// A signer with the shared federation key.
    pub fn new(key: &[u8]) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC takes keys of any length; this arm cannot run.
            Hmac::<Sha256>::new(&Default::default())
        });
        Self { mac }
    }

    fn tag(&self, method: &str, path: &str, at: i64, region: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(format!("{method}\n{path}\n{at}\n{region}").as_bytes());
        mac
    }

    /// The header value for a request sent at `at` by `region`.
    pub fn sign(&self, method: &str, path: &str, region: &str, at: i64) -> String {
        let tag = self.tag(method, path, at, region).finalize().into_bytes();
        format!("t={at},r={region},s={}", hex::encode(tag))
    }

    /// Checks a header value received at `now`.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        header: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let mut at = None;
        let mut region = None;
        let mut signature = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => at = v.parse::<i64>().ok(),
                Some(("r", v)) => region = Some(v),
                Some(("s", v)) => signature = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (Some(at), Some(region), Some(signature)) = (at, region, signature) else {
            return Err("malformed signature");
        };
        if (now - at).abs() > MAX_SKEW {
            return Err("signature expired");
        }
        self.tag(method, path, at, region)
            .verify_slice(&signature)
            .map_err(|_| "bad signature")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_request_key_and_time() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let header = signer.sign("GET", "/internal/v1/organizations/x/home", "na", 1000);
        assert!(
            signer
                .verify("GET", "/internal/v1/organizations/x/home", &header, 1030)
                .is_ok()
        );
        assert_eq!(
            signer.verify("GET", "/internal/v1/organizations/y/home", &header, 1030),
            Err("bad signature")
        );
        assert_eq!(
            signer.verify("GET", "/internal/v1/organizations/x/home", &header, 1100),
            Err("signature expired")
        );
        let other = Signer::new(b"another key of at least 32 bytes!!");
        assert_eq!(
            other.verify("GET", "/internal/v1/organizations/x/home", &header, 1000),
            Err("bad signature")
        );
        let forged = header.replace("r=na", "r=eu");
        assert_eq!(
            signer.verify("GET", "/internal/v1/organizations/x/home", &forged, 1000),
            Err("bad signature")
        );
        assert_eq!(
            signer.verify("GET", "/p", "garbage", 1000),
            Err("malformed signature")
        );
    }
}
