//! Standard Webhooks symmetric signatures: the `whsec_` secret, the `v1,` HMAC-SHA256 signature of
//! `{msg_id}.{timestamp}.{body}`, the space-separated `webhook-signature` header (old and new secret
//! during a rotation) and a verifier for our own tests and documentation.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The prefix the specification gives serialized symmetric secrets, so people and tools can tell
/// them apart from asymmetric keys (`whsk_` / `whpk_`).
pub const SECRET_PREFIX: &str = "whsec_";
/// The identifier of the symmetric (HMAC-SHA256) signature scheme.
pub const SIGNATURE_VERSION: &str = "v1";
/// The shortest key the specification allows (192 bits).
pub const MIN_SECRET_BYTES: usize = 24;
/// The longest key the specification allows (512 bits).
pub const MAX_SECRET_BYTES: usize = 64;
/// The size of a key made by [`WebhookSecret::generate`].
pub const GENERATED_SECRET_BYTES: usize = 32;
/// How far a `webhook-timestamp` may be from now before [`verify`] refuses it (replay protection).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

type HmacSha256 = Hmac<Sha256>;

/// A symmetric signing secret of one endpoint. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Why a string is not a usable `whsec_` secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The string does not start with `whsec_`.
    #[error("a webhook secret starts with \"whsec_\" followed by the base64 key")]
    MissingPrefix,
    /// What follows the prefix is not standard base64.
    #[error("the key after \"whsec_\" is not valid base64")]
    NotBase64,
    /// The decoded key is shorter or longer than the specification allows.
    #[error("the webhook secret key is {0} bytes long; it must be between 24 and 64 bytes")]
    BadLength(usize),
}

impl WebhookSecret {
    /// Parses a `whsec_<base64>` secret. Anything else is refused rather than guessed at (a bare
    /// base64 string could be a key of another scheme pasted in the wrong place).
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let encoded = s
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        Self::from_bytes(key)
    }

    /// Wraps raw key bytes, checking the specification's 24–64 byte bounds.
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self { key })
    }

    /// A new secret of 32 random bytes from the thread's cryptographically secure generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// The `whsec_…` form, to show the endpoint's owner once (when it is created or rotated) or to
    /// store encrypted. Named so that every use stands out in review.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.key))
    }

    fn mac(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> [u8; 32] {
        // HMAC takes a key of any length, so this cannot fail; the fallback only keeps the
        // signature total without a panic.
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return [0; 32];
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_secs.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `v1,<base64>` signature of one message with one secret.
///
/// `msg_id` must not contain a `.` (the specification's guard against ambiguous signed content):
/// the gateway generates its ids, so callers never pass user input here.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mac = secret.mac(msg_id, timestamp_secs, body);
    format!("{SIGNATURE_VERSION},{}", BASE64.encode(mac))
}

/// The `webhook-signature` header value: one signature per secret, space-separated. During a
/// rotation the gateway passes the old and the new secret so receivers on either keep verifying.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp_secs, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why [`verify`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("the webhook-timestamp header is not an integer Unix timestamp")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows (a possible replay).
    #[error("the webhook-timestamp is too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the webhook-timestamp is too far in the future")]
    TimestampTooNew,
    /// No `v1` signature in the header matches.
    #[error("no matching v1 signature in the webhook-signature header")]
    NoMatchingSignature,
}

/// Checks a received message as a receiver would: the timestamp within `tolerance` of `now_secs`,
/// then at least one `v1` signature in `sig_header` equal (in constant time) to ours.
///
/// Empty and truncated signatures (a bare `v1,`) never match: the decoded signature must be the
/// full 32-byte MAC, which old verifiers comparing prefixes did not insist on.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    ts_header: &str,
    sig_header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = ts_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now_secs.saturating_sub(timestamp) > tolerance {
        return Err(VerifyError::TimestampTooOld);
    }
    if timestamp.saturating_sub(now_secs) > tolerance {
        return Err(VerifyError::TimestampTooNew);
    }
    let expected = secret.mac(msg_id, timestamp, body);
    // Every candidate is compared (no early exit) so the time taken does not say which matched.
    let mut matched = subtle::Choice::from(0);
    for candidate in sig_header.split(' ') {
        let Some((version, encoded)) = candidate.split_once(',') else {
            continue;
        };
        if version != SIGNATURE_VERSION {
            continue;
        }
        let Ok(decoded) = BASE64.decode(encoded) else {
            continue;
        };
        // `ct_eq` on slices of different lengths is false, so a bare `v1,` (empty) or a prefix
        // of the MAC never matches.
        matched |= decoded.as_slice().ct_eq(&expected);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector the Standard Webhooks reference libraries share (Go, C#, Java, Elixir).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_secret() -> WebhookSecret {
        WebhookSecret::parse(VECTOR_SECRET).unwrap()
    }

    #[test]
    fn signs_the_specification_test_vector() {
        let signature = sign(&vector_secret(), VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn verifies_the_test_vector_within_tolerance_only() {
        let secret = vector_secret();
        let check = |now: i64| {
            verify(
                &secret,
                VECTOR_ID,
                "1614265330",
                VECTOR_SIGNATURE,
                VECTOR_BODY,
                now,
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(check(VECTOR_TS), Ok(()));
        assert_eq!(check(VECTOR_TS + 300), Ok(()));
        assert_eq!(check(VECTOR_TS - 300), Ok(()));
        assert_eq!(check(VECTOR_TS + 301), Err(VerifyError::TimestampTooOld));
        assert_eq!(check(VECTOR_TS - 301), Err(VerifyError::TimestampTooNew));
    }

    #[test]
    fn refuses_empty_truncated_altered_and_foreign_signatures() {
        let secret = vector_secret();
        let valid = VECTOR_SIGNATURE.trim_start_matches("v1,");
        let truncated = format!("v1,{}", &valid[..20]);
        let other_version = format!("v1a,{valid}");
        let altered = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=";
        for header in [
            "",
            "v1,",
            "v1",
            " ",
            "v1,=",
            truncated.as_str(),
            other_version.as_str(),
            altered,
            "v1,not base64!",
        ] {
            let result = verify(
                &secret,
                VECTOR_ID,
                "1614265330",
                header,
                VECTOR_BODY,
                VECTOR_TS,
                DEFAULT_TOLERANCE,
            );
            assert_eq!(result, Err(VerifyError::NoMatchingSignature), "{header:?}");
        }
    }

    #[test]
    fn refuses_a_changed_body_id_or_timestamp() {
        let secret = vector_secret();
        let ok = |id: &str, ts: &str, body: &[u8]| {
            verify(
                &secret,
                id,
                ts,
                VECTOR_SIGNATURE,
                body,
                VECTOR_TS,
                DEFAULT_TOLERANCE,
            )
        };
        assert!(ok(VECTOR_ID, "1614265330", br#"{"test": 2432232315}"#).is_err());
        assert!(ok("msg_other", "1614265330", VECTOR_BODY).is_err());
        assert!(ok(VECTOR_ID, "1614265331", VECTOR_BODY).is_err());
        assert_eq!(
            ok(VECTOR_ID, "yesterday", VECTOR_BODY),
            Err(VerifyError::InvalidTimestamp)
        );
    }

    #[test]
    fn a_rotation_header_verifies_with_either_secret() {
        let old = vector_secret();
        let new = WebhookSecret::generate();
        let header = signature_header(&[&old, &new], VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], VECTOR_SIGNATURE);
        for secret in [&old, &new] {
            let result = verify(
                secret,
                VECTOR_ID,
                "1614265330",
                &header,
                VECTOR_BODY,
                VECTOR_TS,
                DEFAULT_TOLERANCE,
            );
            assert_eq!(result, Ok(()));
        }
        let stranger = WebhookSecret::generate();
        let result = verify(
            &stranger,
            VECTOR_ID,
            "1614265330",
            &header,
            VECTOR_BODY,
            VECTOR_TS,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn parses_only_whsec_secrets_of_allowed_length() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not*base64"),
            Err(SecretError::NotBase64)
        );
        let short = format!("whsec_{}", BASE64.encode([7u8; 23]));
        assert_eq!(
            WebhookSecret::parse(&short),
            Err(SecretError::BadLength(23))
        );
        let long = format!("whsec_{}", BASE64.encode([7u8; 65]));
        assert_eq!(WebhookSecret::parse(&long), Err(SecretError::BadLength(65)));
        for len in [24, 64] {
            let ok = format!("whsec_{}", BASE64.encode(vec![7u8; len]));
            assert_eq!(WebhookSecret::parse(&ok).unwrap().expose(), ok);
        }
        assert!(WebhookSecret::parse("whsec_").is_err());
    }

    #[test]
    fn generated_secrets_round_trip_and_differ() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        let parsed: WebhookSecret = a.expose().parse().unwrap();
        assert_eq!(parsed, a);
        assert_eq!(BASE64.decode(&a.expose()[6..]).unwrap().len(), 32);
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let secret = vector_secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("MfKQ9r8"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn the_standardwebhooks_crate_verifies_our_signatures() {
        let secret = WebhookSecret::generate();
        let other = WebhookSecret::generate();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let body = r#"{"type":"user.created","data":{"name":"Zoë Ångström 名前 🎉"}}"#.as_bytes();
        let header = signature_header(&[&other, &secret], "msg_2Kx", now, body);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("webhook-id", "msg_2Kx".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", header.parse().unwrap());
        for key in [&secret, &other] {
            let theirs = standardwebhooks::Webhook::new(&key.expose()).unwrap();
            theirs.verify(body, &headers).unwrap();
        }
        let stranger = standardwebhooks::Webhook::new(&WebhookSecret::generate().expose()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
        // And the other way round: what their library signs, ours verifies.
        let theirs = standardwebhooks::Webhook::new(&secret.expose()).unwrap();
        let their_signature = theirs.sign("msg_2Kx", now, body).unwrap();
        assert_eq!(their_signature, sign(&secret, "msg_2Kx", now, body));
    }
}
