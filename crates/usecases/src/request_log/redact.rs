//! What the request log keeps of a body or a URL: secrets removed first, then cut to size.
//!
//! A JSON body keeps its shape with the value of every sensitive key replaced — a key that
//! contains `password`, `secret` or `token` (any case), `authorization`, and the `value` of a
//! PATCH operation whose `path` names such an attribute. A body that is not JSON cannot be
//! redacted by shape: it is kept only when it mentions none of those words. NUL characters
//! (which PostgreSQL's text cannot hold) become U+FFFD.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

const SENSITIVE: [&str; 4] = ["password", "secret", "token", "authorization"];

/// The sensitive words, any case, found in one pass over a text. Every key of every logged body
/// is asked, and so is the start of every body too long to parse (a page of users: 16 KiB), where
/// comparing every word at every position was the largest part of logging the page.
static SENSITIVE_WORDS: LazyLock<Result<AhoCorasick, aho_corasick::BuildError>> =
    LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SENSITIVE)
    });

/// Whether a key, a PATCH path or a body's text mentions something secret.
pub fn is_sensitive(text: &str) -> bool {
    match &*SENSITIVE_WORDS {
        Ok(words) => words.is_match(text),
        // Four short literals always build; were they ever not to, compare at every position.
        Err(_) => SENSITIVE.iter().any(|word| {
            text.as_bytes()
                .windows(word.len())
                .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
        }),
    }
}

/// Replaces the values of sensitive keys, at any depth.
pub fn redact_json(value: &mut Value) {
    redact(value);
}

/// [`redact_json`], telling whether it replaced anything.
fn redact(value: &mut Value) -> bool {
    match value {
        Value::Object(fields) => {
            // A PATCH operation: `{"op": "replace", "path": "password", "value": "…"}`.
            let path_is_secret = fields
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(is_sensitive);
            let mut replaced = false;
            for (key, field) in fields.iter_mut() {
                if is_sensitive(key) || (path_is_secret && key.eq_ignore_ascii_case("value")) {
                    *field = Value::String(REDACTED.to_owned());
                    replaced = true;
                } else {
                    replaced |= redact(field);
                }
            }
            replaced
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |replaced, item| redact(item) | replaced),
        _ => false,
    }
}

/// Whether a JSON value holds a floating-point number anywhere (serde_json reads some back a
/// unit in the last place off, so their text is not kept as written).
fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(fields) => fields.values().any(has_float),
        _ => false,
    }
}

/// A body as the log keeps it: redacted, then at most `max_bytes` (plus a note of the cut), or
/// `None` for no body. Also returns the parsed, redacted JSON when the body was JSON.
pub fn body(raw: &[u8], max_bytes: usize) -> (Option<String>, Option<Value>) {
    if raw.is_empty() {
        return (None, None);
    }
    if let Ok(mut json) = serde_json::from_slice::<Value>(raw) {
        redact_json(&mut json);
        return (Some(kept(json.to_string(), max_bytes)), Some(json));
    }
    let text = String::from_utf8_lossy(raw);
    if is_sensitive(&text) {
        return (
            Some(format!(
                "[{} bytes, not valid JSON; not kept because they may hold a secret]",
                raw.len()
            )),
            None,
        );
    }
    (Some(truncate(&clean(&text), max_bytes)), None)
}

/// A body of which only the first bytes were kept (`start`; `total` in all): it cannot be parsed
/// to redact by shape, so it is kept only when it mentions none of the sensitive words.
pub fn cut_body(start: &[u8], total: usize, max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(start);
    if is_sensitive(&text) {
        return format!(
            "[{total} bytes; not kept: too long to redact by shape, and their start mentions a \
             password, secret, token or authorization]"
        );
    }
    let text = clean(&text);
    let mut cut = text.len().min(max_bytes);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [truncated: {total} bytes in all]", &text[..cut])
}

/// [`body`] of a body the surface wrote from `json` (`raw` is `json` serialized): the same result
/// without parsing `raw` back, and without writing it again when nothing is redacted.
pub fn written_body(
    mut json: Value,
    raw: &[u8],
    max_bytes: usize,
) -> (Option<String>, Option<Value>) {
    if raw.is_empty() || has_float(&json) {
        return body(raw, max_bytes);
    }
    let text = if redact(&mut json) {
        json.to_string()
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    (Some(kept(text, max_bytes)), Some(json))
}

/// Path and query with the values of sensitive query parameters replaced.
pub fn path(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return clean(path_and_query);
    };
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    if !pairs.clone().any(|(k, _)| is_sensitive(&k)) {
        return clean(path_and_query);
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        out.append_pair(&key, if is_sensitive(&key) { REDACTED } else { &value });
    }
    clean(&format!("{path}?{}", out.finish()))
}

/// NUL characters replaced (PostgreSQL's text cannot hold them).
pub fn clean(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}")
    } else {
        text.to_owned()
    }
}

/// `text` cleaned and truncated, reusing its buffer when neither changes it.
fn kept(text: String, max_bytes: usize) -> String {
    let text = if text.contains('\0') {
        clean(&text)
    } else {
        text
    };
    if text.len() <= max_bytes {
        text
    } else {
        truncate(&text, max_bytes)
    }
}

/// At most `max_bytes` of `text` (cut at a character boundary), with a note of the cut.
pub fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [truncated: {} bytes in all]", &text[..cut], text.len())
}

/// The `userName` or `externalId` a request was about: the top-level attribute of the request's
/// or the response's resource, else an `eq` comparison in the request's filter.
pub fn subject(
    attribute: &str,
    request: Option<&Value>,
    response: Option<&Value>,
    query: &str,
) -> Option<String> {
    let from_resource = |v: Option<&Value>| {
        v.and_then(|v| v.get(attribute))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let filter = || {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned())
            .or_else(|| {
                request
                    .and_then(|v| v.get("filter"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    };
    from_resource(request)
        .or_else(|| from_resource(response))
        .or_else(|| filter().and_then(|f| eq_value(&f, attribute)))
        .map(|s| kept(s, 256))
}

/// The value of `attribute eq "value"` in a filter (the IdPs' lookup by userName/externalId).
fn eq_value(filter: &str, attribute: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let needle = format!("{} eq \"", attribute.to_ascii_lowercase());
    let start = lower.find(&needle)? + needle.len();
    let rest = filter.get(start..)?;
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_at_any_depth() {
        let mut body = json!({
            "userName": "ada",
            "password": "hunter2",
            "urn:ext": {"apiToken": "t0k", "clientSecret": "s3c"},
            "Operations": [
                {"op": "replace", "path": "password", "value": "p@ss"},
                {"op": "replace", "value": {"password": "p2", "active": true}}
            ]
        });
        redact_json(&mut body);
        let text = body.to_string();
        for secret in ["hunter2", "t0k", "s3c", "p@ss", "p2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("ada") && text.contains("true"));
    }

    #[test]
    fn bodies_that_are_not_json_are_kept_only_without_secret_words() {
        let (kept, _) = body(b"{not json", 100);
        assert_eq!(kept.as_deref(), Some("{not json"));
        let (kept, _) = body(b"{\"password\": \"x\",}", 100);
        assert!(!kept.unwrap().contains("\"x\""));
        assert_eq!(body(b"", 100), (None, None));
    }

    #[test]
    fn a_written_body_is_kept_as_its_parsed_text_would_be() {
        let bodies = [
            json!({"userName": "ada", "Resources": [{"id": "x", "n": 3}], "zz": "\u{e9}\n"}),
            json!({"userName": "ada", "urn:ext": {"apiToken": "t0k"}}),
            json!({"Operations": [{"op": "replace", "path": "password", "value": "p@ss"}]}),
            json!({"x": 0.1, "y": 1e300}),
            json!({"text": "a\u{0}b"}),
        ];
        for json in bodies {
            let raw = json.to_string();
            for max in [8, 1 << 20] {
                assert_eq!(
                    written_body(json.clone(), raw.as_bytes(), max),
                    body(raw.as_bytes(), max),
                    "{raw}"
                );
            }
        }
        assert_eq!(written_body(json!({}), b"", 100), (None, None));
    }

    #[test]
    fn sensitive_words_are_found_in_any_case_anywhere_in_a_text() {
        for key in [
            "password",
            "x-PassWord",
            "clientSecret",
            "ACCESS_TOKEN",
            "Authorization",
        ] {
            assert!(is_sensitive(key), "{key}");
        }
        for key in [
            "userName",
            "pass word",
            "secre",
            "toke",
            "authorisation",
            "",
        ] {
            assert!(!is_sensitive(key), "{key}");
        }
        // The start of a page of users, with a word only at its very end.
        let page = format!(
            "{}\"refreshTOKEN",
            r#"{"userName":"ada","active":true},"#.repeat(500)
        );
        assert!(is_sensitive(&page));
        assert!(!is_sensitive(&page[..page.len() - 5]));
        let cut = cut_body(page.as_bytes(), page.len() * 2, 64);
        assert!(cut.starts_with('[') && cut.contains("not kept"), "{cut}");
    }

    #[test]
    fn long_bodies_are_cut_at_a_character_boundary() {
        let cut = truncate(&"é".repeat(10), 5);
        assert!(cut.starts_with("éé…"), "{cut}");
        assert!(cut.contains("20 bytes in all"));
    }

    #[test]
    fn query_secrets_and_nul_are_removed() {
        assert_eq!(
            path("/Users?access_token=abc&count=2"),
            "/Users?access_token=%5Bredacted%5D&count=2"
        );
        assert_eq!(path("/Users?filter=x"), "/Users?filter=x");
        assert_eq!(clean("a\0b"), "a\u{fffd}b");
    }

    #[test]
    fn the_subject_comes_from_the_resource_or_the_filter() {
        let req = json!({"userName": "ada@example.com"});
        assert_eq!(
            subject("userName", Some(&req), None, "").as_deref(),
            Some("ada@example.com")
        );
        assert_eq!(
            subject("userName", None, None, "filter=userName%20eq%20%22bob%22").as_deref(),
            Some("bob")
        );
        assert_eq!(subject("externalId", None, None, "count=1"), None);
    }
}
