//! Request parsing and client authentication for the token, revocation and introspection
//! endpoints: form bodies with no repeated parameter (RFC 6749 §3.2), `client_secret_basic` with
//! the §2.3.1 form-decoding of id and secret, `client_secret_post`, and public clients (id only).
//! Using two methods at once is refused (§2.3).

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use store::Database;
use store::repo::oauth_clients::{self, OauthClient};

use crate::error::OAuthError;

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a body; a repeated parameter is an `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(OAuthError::InvalidRequest(format!(
                    "parameter '{key}' is repeated"
                )));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    /// A parameter; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("missing parameter '{name}'")))
    }
}

/// Checks the body is a form (RFC 6749 §4.1.3) and parses it.
pub fn form(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    Params::parse(body)
}

/// How the client presented itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `client_secret_basic`.
    Basic {
        /// Client id.
        id: String,
        /// Secret.
        secret: String,
    },
    /// `client_secret_post`.
    Post {
        /// Client id.
        id: String,
        /// Secret.
        secret: String,
    },
    /// A public client: `client_id` only.
    Public {
        /// Client id.
        id: String,
    },
}

/// Undoes `application/x-www-form-urlencoded` encoding of one value ('+' is a space).
fn form_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Parses `Authorization: Basic …` into a form-decoded id and secret.
fn parse_basic(value: &str) -> Result<(String, String), OAuthError> {
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(OAuthError::InvalidClient)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(OAuthError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) if !id.is_empty() => Ok((id, secret)),
        _ => Err(OAuthError::InvalidClient),
    }
}

/// Reads the client's credentials from the header and the body.
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    match authorization {
        Some(value) => {
            let (id, secret) = parse_basic(value)?;
            if body_secret.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "use one client authentication method, not both".into(),
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id does not match the authenticated client".into(),
                ));
            }
            Ok(Presented::Basic { id, secret })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Presented::Post {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(id), None) => Ok(Presented::Public { id: id.to_owned() }),
            _ => Err(OAuthError::InvalidClient),
        },
    }
}

/// Authenticates the client of a request: confidential clients by secret (constant time),
/// public clients by id only.
pub async fn authenticate(
    db: &Database,
    req: &HttpRequest,
    params: &Params,
) -> Result<OauthClient, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| OAuthError::InvalidClient))
        .transpose()?;
    let presented = presented(authorization, params)?;
    let id = match &presented {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::Public { id } => id,
    };
    let client = oauth_clients::find(db, id)
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    let ok = match (&presented, client.secret_hash.is_some()) {
        (Presented::Basic { secret, .. } | Presented::Post { secret, .. }, true) => {
            oauth_clients::verify_secret(&client, secret)
        }
        (Presented::Public { .. }, false) => true,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(OAuthError::InvalidClient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(body: &str) -> Params {
        Params::parse(body.as_bytes()).unwrap_or_default()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let got = presented(Some(&basic("my%20client", "s%3Ae+cret%25")), &params(""));
        assert_eq!(
            got.ok(),
            Some(Presented::Basic {
                id: "my client".into(),
                secret: "s:e cret%".into()
            })
        );
    }

    #[test]
    fn both_methods_at_once_are_refused() {
        let got = presented(Some(&basic("a", "b")), &params("client_secret=b"));
        assert!(matches!(got, Err(OAuthError::InvalidRequest(_))));
        let got = presented(Some(&basic("a", "b")), &params("client_id=other"));
        assert!(matches!(got, Err(OAuthError::InvalidRequest(_))));
    }

    #[test]
    fn post_public_and_missing_credentials() {
        assert_eq!(
            presented(None, &params("client_id=a&client_secret=b")).ok(),
            Some(Presented::Post {
                id: "a".into(),
                secret: "b".into()
            })
        );
        assert_eq!(
            presented(None, &params("client_id=a")).ok(),
            Some(Presented::Public { id: "a".into() })
        );
        assert!(matches!(
            presented(None, &params("")),
            Err(OAuthError::InvalidClient)
        ));
        assert!(matches!(
            presented(Some("Basic !!!"), &params("")),
            Err(OAuthError::InvalidClient)
        ));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"code=a&code=b").is_err());
        assert_eq!(params("code=&x=1").get("code"), None);
    }

    #[test]
    fn form_decoding_rejects_broken_escapes() {
        assert_eq!(form_decode("a%2"), None);
        assert_eq!(form_decode("a%zz"), None);
        assert_eq!(form_decode("%E2%9C%93").as_deref(), Some("✓"));
    }
}
