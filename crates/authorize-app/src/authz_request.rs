//! Validation of an authorization request (RFC 6749 §4.1.1 as RFC 9700 tightens it), without I/O.
//!
//! Order matters: the client and the **exact** redirect URI are checked first, and a failure there
//! is shown to the user — never redirected, or we would be an open redirector. Only then do errors
//! go back to the client's redirect URI with `error`, `state` and `iss`.

use serde::{Deserialize, Serialize};

/// What the handler knows about the client named by `client_id`.
#[derive(Debug, Clone)]
pub struct ClientView {
    /// Public client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// No secret: PKCE is required.
    pub public: bool,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
}

/// A validated request waiting for login and consent (kept server-side by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Public client id.
    pub client_id: String,
    /// Display name of the client.
    pub client_name: String,
    /// The redirect URI to answer on.
    pub redirect_uri: String,
    /// Whether the request named it (the token request must then name it too).
    pub redirect_uri_given: bool,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    /// The organization the authorization URL names (`org=UID`): the only one offered.
    #[serde(default)]
    pub org: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the user; nothing is redirected.
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        /// Where to.
        redirect_uri: String,
        /// RFC 6749 §4.1.2.1 error code.
        error: &'static str,
        /// Human-readable description.
        description: String,
        /// The client's state.
        state: Option<String>,
    },
}

/// The scope that does the work.
pub const SCIM_SCOPE: &str = "scim";
/// Accepted and ignored: refresh tokens are always issued (an IdP connector runs unattended).
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Longest `state` echoed back.
const MAX_STATE: usize = 1024;

/// A query parameter that must appear at most once; `Err` names it when repeated.
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("the parameter '{name}' is repeated"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The `client_id` of a request, checked before anything else.
pub fn client_id(params: &[(String, String)]) -> Result<&str, Refusal> {
    single(params, "client_id")
        .map_err(Refusal::Page)?
        .ok_or_else(|| {
            Refusal::Page("the request does not name a client (client_id is missing)".into())
        })
}

/// Validates a request for a known client.
pub fn validate(params: &[(String, String)], client: &ClientView) -> Result<Pending, Refusal> {
    let (redirect_uri, redirect_uri_given) =
        match single(params, "redirect_uri").map_err(Refusal::Page)? {
            Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_owned(), true),
            Some(_) => {
                return Err(Refusal::Page(format!(
                    "the redirect URI is not registered for {}; nothing was sent back",
                    client.name
                )));
            }
            None => match client.redirect_uris.as_slice() {
                [only] => (only.clone(), false),
                _ => {
                    return Err(Refusal::Page(
                        "the request must name its redirect URI".into(),
                    ));
                }
            },
        };
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    let get = |name: &str| single(params, name).map_err(|e| refuse("invalid_request", &e));
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(refuse("invalid_request", "state is too long"));
    }
    match get("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        None => return Err(refuse("invalid_request", "response_type is missing")),
    }
    if get("request")?.is_some() || get("request_uri")?.is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    let mut granted: Vec<&str> = Vec::new();
    for scope in get("scope")?
        .unwrap_or(SCIM_SCOPE)
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if scope == OFFLINE_ACCESS {
            continue;
        }
        if !client.scopes.iter().any(|s| s == scope) {
            return Err(refuse(
                "invalid_scope",
                &format!("scope '{scope}' is not available to this client"),
            ));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        granted.push(SCIM_SCOPE);
    }
    let code_challenge = match (get("code_challenge")?, get("code_challenge_method")?) {
        (None, None) if client.public => {
            return Err(refuse(
                "invalid_request",
                "PKCE (S256) is required for this client",
            ));
        }
        (None, None) => None,
        (Some(_), Some("S256")) | (None, Some("S256")) => {
            let challenge = get("code_challenge")?.unwrap_or_default();
            if !usecases::installations::valid_code_challenge(challenge) {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge is not a valid S256 challenge",
                ));
            }
            Some(challenge.to_owned())
        }
        // A missing method means `plain` (RFC 7636 §4.3), which RFC 9700 §2.1.1 rules out.
        (Some(_), None) | (_, Some("plain")) => {
            return Err(refuse(
                "invalid_request",
                "PKCE method 'plain' is not allowed; use S256",
            ));
        }
        (_, Some(_)) => {
            return Err(refuse(
                "invalid_request",
                "unsupported code_challenge_method",
            ));
        }
    };
    let org = get("org")?.map(str::to_owned);
    Ok(Pending {
        org,
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri,
        redirect_uri_given,
        state,
        scopes: granted.join(" "),
        code_challenge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CB: &str = "https://idp.example/cb?x=1";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(public: bool) -> ClientView {
        ClientView {
            client_id: "c1".into(),
            name: "Okta".into(),
            redirect_uris: vec![CB.into(), "https://idp.example/other".into()],
            public,
            scopes: vec!["scim".into()],
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn base<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
        let mut p = vec![
            ("client_id", "c1"),
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("state", "s1"),
        ];
        p.extend_from_slice(extra);
        params(&p)
    }

    fn redirect_error(result: Result<Pending, Refusal>) -> Option<&'static str> {
        match result {
            Err(Refusal::Redirect { error, state, .. }) if state.as_deref() == Some("s1") => {
                Some(error)
            }
            _ => None,
        }
    }

    #[test]
    fn a_good_request_validates() {
        let pending = validate(&base(&[("scope", "scim offline_access")]), &client(false));
        let Ok(pending) = pending else {
            unreachable!("{pending:?}")
        };
        assert_eq!(pending.scopes, "scim");
        assert_eq!(pending.redirect_uri, CB);
        assert_eq!(pending.state.as_deref(), Some("s1"));
    }

    #[test]
    fn redirect_uri_variants_are_shown_not_redirected() {
        for bad in [
            "https://idp.example/cb?x=1&y=2",
            "https://idp.example/cb",
            "https://IDP.example/cb?x=1",
            "http://idp.example/cb?x=1",
            "https://idp.example/cb/?x=1",
            "https://idp.example/cb?x=1#f",
            "https://idp.example.evil.test/cb?x=1",
        ] {
            let p = params(&[
                ("client_id", "c1"),
                ("redirect_uri", bad),
                ("response_type", "code"),
            ]);
            assert!(
                matches!(validate(&p, &client(false)), Err(Refusal::Page(_))),
                "{bad}"
            );
        }
        let p = params(&[("client_id", "c1"), ("response_type", "code")]);
        assert!(
            matches!(validate(&p, &client(false)), Err(Refusal::Page(_))),
            "two registered URIs"
        );
        let p = params(&[
            ("client_id", "c1"),
            ("redirect_uri", CB),
            ("redirect_uri", CB),
        ]);
        assert!(
            matches!(validate(&p, &client(false)), Err(Refusal::Page(_))),
            "repeated"
        );
    }

    #[test]
    fn later_errors_go_back_with_state() {
        let mut p = base(&[]);
        p[2].1 = "token".into();
        assert_eq!(
            redirect_error(validate(&p, &client(false))),
            Some("unsupported_response_type")
        );
        assert_eq!(
            redirect_error(validate(&base(&[("scope", "admin")]), &client(false))),
            Some("invalid_scope")
        );
    }

    #[test]
    fn pkce_rules() {
        let plain = base(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ]);
        assert_eq!(
            redirect_error(validate(&plain, &client(false))),
            Some("invalid_request")
        );
        let implicit_plain = base(&[("code_challenge", CHALLENGE)]);
        assert_eq!(
            redirect_error(validate(&implicit_plain, &client(false))),
            Some("invalid_request")
        );
        let bad = base(&[
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ]);
        assert_eq!(
            redirect_error(validate(&bad, &client(false))),
            Some("invalid_request")
        );
        assert_eq!(
            redirect_error(validate(&base(&[]), &client(true))),
            Some("invalid_request")
        );
        let good = base(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        assert!(
            validate(&good, &client(true))
                .is_ok_and(|p| p.code_challenge.as_deref() == Some(CHALLENGE))
        );
        assert!(validate(&base(&[]), &client(false)).is_ok_and(|p| p.code_challenge.is_none()));
    }
}
