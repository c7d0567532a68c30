//! The one error type of the SCIM surface (RFC 7644 §3.12, plus RFC 9865's cursor errors).
//!
//! Every failure in `scim-core` is a [`ScimError`]; the HTTP layer only has to copy `status` into
//! the response line and serialize the value as the body, so the wire format lives in one place.

use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::fmt;

use crate::schema::ERROR;

/// The `scimType` detail error keywords of RFC 7644 §3.12 and RFC 9865 §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid, or the attribute/operator combination is not supported.
    InvalidFilter,
    /// The filter yields more results than the server is willing to compute or return.
    TooMany,
    /// One or more attribute values are already in use or are reserved.
    Uniqueness,
    /// The modification is incompatible with the target attribute's mutability.
    Mutability,
    /// The request body structure was invalid or did not conform to the schema.
    InvalidSyntax,
    /// The PATCH `path` was invalid or malformed.
    InvalidPath,
    /// The PATCH `path` did not yield an attribute or attribute value that could be operated on.
    NoTarget,
    /// A required value was missing, or the value specified was not compatible.
    InvalidValue,
    /// The specified SCIM protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because sensitive information was passed in the URI.
    Sensitive,
    /// RFC 9865: the cursor is malformed, was tampered with, or belongs to another query.
    InvalidCursor,
    /// RFC 9865: the cursor has expired.
    ExpiredCursor,
    /// RFC 9865: the `count` parameter is invalid (negative, not a number, or too large).
    InvalidCount,
}

impl ScimType {
    /// The keyword as it appears in the `scimType` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
            Self::InvalidCursor => "invalidCursor",
            Self::ExpiredCursor => "expiredCursor",
            Self::InvalidCount => "invalidCount",
        }
    }

    /// The HTTP status RFC 7644 / RFC 9865 associate with the keyword.
    pub fn status(self) -> u16 {
        match self {
            Self::Uniqueness => 409,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error: HTTP status, optional `scimType` keyword and a human-readable detail.
///
/// Serializes as the SCIM Error message, with `status` as a string as RFC 7644 §3.12 requires:
/// `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", scim_type.map(|t| format!(" {t}")).unwrap_or_default())]
pub struct ScimError {
    /// HTTP status code of the response.
    pub status: u16,
    /// The RFC 7644 §3.12 keyword, when one applies.
    pub scim_type: Option<ScimType>,
    /// What went wrong, phrased for the IdP administrator reading provisioning logs.
    pub detail: String,
}

impl ScimError {
    /// An error with an explicit status and keyword.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An error carrying `scim_type` with the status that keyword implies.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.status(), Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }
    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }
    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }
    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }
    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }
    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }
    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Uniqueness, detail)
    }
    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::TooMany, detail)
    }
    /// 400 `invalidVers`.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidVers, detail)
    }
    /// 400 `sensitive`.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Sensitive, detail)
    }
    /// 400 `invalidCursor` (RFC 9865).
    pub fn invalid_cursor(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidCursor, detail)
    }
    /// 400 `expiredCursor` (RFC 9865).
    pub fn expired_cursor(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::ExpiredCursor, detail)
    }
    /// 400 `invalidCount` (RFC 9865).
    pub fn invalid_count(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidCount, detail)
    }
    /// 404 without a keyword.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    /// 400 without a keyword, for malformed requests no keyword describes.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, None, detail)
    }
    /// 409 without a keyword (for example a version conflict detected after the fact).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }
    /// 412: the `If-Match` version did not match the resource's current version.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }
    /// 413: the request body is larger than the server accepts.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }
    /// 500 with a fixed detail: internal causes are logged, never sent to the client.
    pub fn internal() -> Self {
        Self::new(500, None, "internal server error")
    }
}

impl Serialize for ScimError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = if self.scim_type.is_some() { 4 } else { 3 };
        let mut s = serializer.serialize_struct("ScimError", fields)?;
        s.serialize_field("schemas", &[ERROR])?;
        s.serialize_field("status", &self.status.to_string())?;
        if let Some(t) = self.scim_type {
            s.serialize_field("scimType", t.as_str())?;
        }
        s.serialize_field("detail", &self.detail)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_status_as_string_with_scim_type() {
        let e = ScimError::uniqueness("userName \"bjensen\" is already taken");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"schemas": [ERROR], "status": "409", "scimType": "uniqueness",
                   "detail": "userName \"bjensen\" is already taken"})
        );
    }

    #[test]
    fn omits_scim_type_when_absent() {
        let v = serde_json::to_value(ScimError::not_found("User 42 not found")).unwrap();
        assert_eq!(
            v,
            json!({"schemas": [ERROR], "status": "404", "detail": "User 42 not found"})
        );
    }

    #[test]
    fn every_keyword_has_its_status_and_name() {
        let table = [
            (ScimError::invalid_filter("d"), 400, "invalidFilter"),
            (ScimError::too_many("d"), 400, "tooMany"),
            (ScimError::uniqueness("d"), 409, "uniqueness"),
            (ScimError::mutability("d"), 400, "mutability"),
            (ScimError::invalid_syntax("d"), 400, "invalidSyntax"),
            (ScimError::invalid_path("d"), 400, "invalidPath"),
            (ScimError::no_target("d"), 400, "noTarget"),
            (ScimError::invalid_value("d"), 400, "invalidValue"),
            (ScimError::invalid_vers("d"), 400, "invalidVers"),
            (ScimError::sensitive("d"), 400, "sensitive"),
            (ScimError::invalid_cursor("d"), 400, "invalidCursor"),
            (ScimError::expired_cursor("d"), 400, "expiredCursor"),
            (ScimError::invalid_count("d"), 400, "invalidCount"),
        ];
        for (err, status, name) in table {
            assert_eq!(err.status, status, "{name}");
            let v = serde_json::to_value(&err).unwrap();
            assert_eq!(v["scimType"], name);
            assert_eq!(v["status"], status.to_string());
        }
    }

    #[test]
    fn internal_error_never_leaks_detail() {
        let e = ScimError::internal();
        assert_eq!(e.status, 500);
        assert_eq!(e.detail, "internal server error");
        assert_eq!(ScimError::bad_request("x").scim_type, None);
    }

    #[test]
    fn display_names_status_keyword_and_detail() {
        assert_eq!(
            ScimError::invalid_path("bad").to_string(),
            "400 invalidPath: bad"
        );
        assert_eq!(ScimError::not_found("gone").to_string(), "404: gone");
    }
}
