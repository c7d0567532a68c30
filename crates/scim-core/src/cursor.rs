//! RFC 9865 cursors: opaque to the client, tamper-evident (HMAC-SHA256 with a key the caller
//! supplies), and expiring. A cursor is `base64url(payload JSON) "." base64url(tag)`; the tag is
//! verified in constant time before the payload is even parsed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ScimError;

/// Longest cursor string accepted; anything longer is not one of ours.
pub const MAX_CURSOR_LEN: usize = 2048;

/// What a cursor carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPayload {
    /// Where the next page starts, e.g. the last returned sort key and id.
    pub position: String,
    /// A fingerprint of the query the cursor belongs to (tenant, resource type, filter, sort),
    /// checked by [`CursorCodec::decode_for`] so a cursor cannot be replayed on another query.
    pub context: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    p: String,
    c: String,
    /// Expiry, seconds since the Unix epoch.
    e: i64,
}

/// Encodes and verifies cursors with one HMAC key.
#[derive(Clone)]
pub struct CursorCodec {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec { key: <redacted> }")
    }
}

impl CursorCodec {
    /// A codec keyed with `key` (use at least 32 random bytes, shared by all replicas).
    pub fn new(key: &[u8]) -> Self {
        let mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length, so this arm cannot run; it exists to avoid a panic path.
            Err(_) => Hmac::<Sha256>::new(&Default::default()),
        };
        Self { mac }
    }

    /// A cursor for `payload` valid for `ttl` from now.
    pub fn encode(&self, payload: &CursorPayload, ttl: Duration) -> String {
        self.encode_at(payload, ttl, Utc::now())
    }

    /// A cursor for `payload` valid for `ttl` from `now`.
    pub fn encode_at(&self, payload: &CursorPayload, ttl: Duration, now: DateTime<Utc>) -> String {
        let wire = Wire {
            p: payload.position.clone(),
            c: payload.context.clone(),
            e: now.timestamp().saturating_add(ttl.num_seconds()),
        };
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        let body = B64.encode(&json);
        let tag = B64.encode(self.tag(body.as_bytes()));
        format!("{body}.{tag}")
    }

    /// Verifies and decodes a cursor: `invalidCursor` if malformed or tampered with,
    /// `expiredCursor` if past its expiry.
    pub fn decode(&self, cursor: &str) -> Result<CursorPayload, ScimError> {
        self.decode_at(cursor, Utc::now())
    }

    /// [`decode`](Self::decode) at a given time.
    pub fn decode_at(&self, cursor: &str, now: DateTime<Utc>) -> Result<CursorPayload, ScimError> {
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(ScimError::invalid_cursor(
                "the cursor is too long to be one this server issued",
            ));
        }
        let (body, tag) = cursor
            .split_once('.')
            .ok_or_else(|| ScimError::invalid_cursor("the cursor is malformed"))?;
        let tag = B64
            .decode(tag)
            .map_err(|_| ScimError::invalid_cursor("the cursor is malformed"))?;
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag).map_err(|_| {
            ScimError::invalid_cursor(
                "the cursor was not issued by this server or has been modified",
            )
        })?;
        let json = B64
            .decode(body)
            .map_err(|_| ScimError::invalid_cursor("the cursor is malformed"))?;
        let wire: Wire = serde_json::from_slice(&json)
            .map_err(|_| ScimError::invalid_cursor("the cursor is malformed"))?;
        if now.timestamp() >= wire.e {
            return Err(ScimError::expired_cursor(
                "the cursor has expired; restart the query without a cursor",
            ));
        }
        Ok(CursorPayload {
            position: wire.p,
            context: wire.c,
        })
    }

    /// [`decode_at`](Self::decode_at), also requiring the cursor to belong to `context`.
    pub fn decode_for(
        &self,
        cursor: &str,
        context: &str,
        now: DateTime<Utc>,
    ) -> Result<CursorPayload, ScimError> {
        let payload = self.decode_at(cursor, now)?;
        if payload.context != context {
            return Err(ScimError::invalid_cursor(
                "the cursor belongs to a different query",
            ));
        }
        Ok(payload)
    }

    fn tag(&self, body: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::ScimType;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn payload() -> CursorPayload {
        CursorPayload {
            position: "bjensen|2819c223".into(),
            context: "org1/Users/userName sw \"b\"".into(),
        }
    }

    #[test]
    fn round_trips_within_ttl() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let c = codec.encode_at(&payload(), Duration::minutes(10), now());
        assert!(
            !c.contains('+') && !c.contains('/') && !c.contains('='),
            "base64url: {c}"
        );
        assert_eq!(
            codec.decode_at(&c, now() + Duration::minutes(9)).unwrap(),
            payload()
        );
        assert_eq!(
            codec.decode_for(&c, &payload().context, now()).unwrap(),
            payload()
        );
    }

    #[test]
    fn expired_is_distinguished_from_invalid() {
        let codec = CursorCodec::new(b"k");
        let c = codec.encode_at(&payload(), Duration::minutes(10), now());
        let err = codec
            .decode_at(&c, now() + Duration::minutes(10))
            .unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::ExpiredCursor));
        assert_eq!(err.status, 400);
    }

    #[test]
    fn tampering_and_garbage_are_invalid() {
        let codec = CursorCodec::new(b"key-one");
        let c = codec.encode_at(&payload(), Duration::minutes(10), now());
        let (body, tag) = c.split_once('.').unwrap();
        let forged_body =
            B64.encode(br#"{"p":"zzz","c":"org1/Users/userName sw \"b\"","e":9999999999}"#);
        let cases = vec![
            format!("{forged_body}.{tag}"),
            format!("{body}.{}", B64.encode([0u8; 32])),
            format!("{body}x.{tag}"),
            CursorCodec::new(b"key-two").encode_at(&payload(), Duration::minutes(10), now()),
            "".into(),
            "no-dot".into(),
            ".".into(),
            "a.b.c".into(),
            "!!!.???".into(),
            "x".repeat(MAX_CURSOR_LEN + 1),
        ];
        for case in cases {
            let err = codec.decode_at(&case, now()).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidCursor), "{case}");
        }
        let err = codec.decode_for(&c, "org2/Users/", now()).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidCursor));
        assert!(err.detail.contains("different query"));
    }

    #[test]
    fn debug_redacts_key() {
        assert!(!format!("{:?}", CursorCodec::new(b"secret")).contains("secret"));
    }
}
