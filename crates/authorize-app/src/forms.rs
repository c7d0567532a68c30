//! Small request helpers shared by the page handlers: form bodies, the client address, and
//! redirects that add parameters to a URI without disturbing its own query.

use std::collections::HashMap;

use actix_web::HttpMessage;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use url::Url;
use usecases::ClientAddr;

use crate::error::PageError;

/// The fields of a urlencoded form body (the first of a repeated field wins).
pub fn fields(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// The client's address: what rate limits key on. Forwarded headers count only from the trusted
/// proxies the gateway is configured with (it records the result as a [`ClientAddr`]).
pub fn peer(req: &HttpRequest) -> String {
    client_ip(req).unwrap_or_else(|| "unknown".into())
}

/// The client address for records (audit, installation).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    ClientAddr::resolve(req.extensions().get::<ClientAddr>(), req.peer_addr())
        .map(|ip| ip.to_string())
}

/// `303 See Other` to a path of this app.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `303 See Other` to `uri` (a registered redirect URI) with `params` appended to its query.
pub fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Result<HttpResponse, PageError> {
    let mut url = Url::parse(uri)
        .map_err(|_| PageError::BadRequest("the client's redirect URI is not valid".into()))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    Ok(see_other(url.as_str()))
}

/// True for ids we generate (base64url); anything else is not looked up.
pub fn plausible_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id tracing gave this request (echoed as `X-Request-Id`), for audit rows.
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string)
}

/// A console page to return to after login, when `path` is one: a path of this app under
/// `/orgs/` (never another host, scheme or `//` authority), so the parameter cannot become an
/// open redirect.
pub fn console_return(path: &str) -> Option<String> {
    let safe = path.starts_with("/orgs/")
        && path.len() <= 512
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./?=&%+".contains(&b));
    safe.then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::console_return;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert!(console_return("/orgs/abc/settings/scim/users?q=ann&after=5").is_some());
        for bad in [
            "https://evil.example/orgs/x",
            "//evil.example/orgs/",
            "/orgs//evil.example",
            "/login",
            "/orgs/x\\y",
            "/orgs/x\r\nSet-Cookie:a",
            "/orgs/<script>",
        ] {
            assert!(console_return(bad).is_none(), "{bad:?}");
        }
    }
}
