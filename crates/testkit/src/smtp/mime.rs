//! A received message taken apart for assertions: decoded headers, the real `text/plain` and
//! `text/html` parts (never one converted from the other), and the links in each.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// A message's headers and body parts, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEmail {
    /// The top-level content type, e.g. `multipart/alternative`.
    pub content_type: String,
    /// The decoded `Subject`.
    pub subject: Option<String>,
    /// Addresses in `From`.
    pub from: Vec<String>,
    /// Addresses in `To`.
    pub to: Vec<String>,
    /// Addresses in `Reply-To`.
    pub reply_to: Vec<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// Every top-level header, name and unfolded raw value.
    pub headers: Vec<(String, String)>,
    /// The first `text/plain` part, decoded.
    pub text: Option<String>,
    /// The first `text/html` part, decoded.
    pub html: Option<String>,
}

impl ParsedEmail {
    /// Parses a raw RFC 5322 message; panics (failing the test) when it cannot.
    pub fn parse(raw: &[u8]) -> Self {
        let Some(message) = MessageParser::default().parse(raw) else {
            panic!("not an email message:\n{}", String::from_utf8_lossy(raw));
        };
        let addresses = |a: Option<&mail_parser::Address<'_>>| {
            a.map(|a| {
                a.iter()
                    .filter_map(|addr| addr.address().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        };
        let content_type = message
            .root_part()
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut text = None;
        let mut html = None;
        for part in &message.parts {
            match &part.body {
                PartType::Text(body)
                    if part.is_content_type("text", "plain") || part.content_type().is_none() =>
                {
                    text.get_or_insert_with(|| body.to_string());
                }
                PartType::Html(body) => {
                    html.get_or_insert_with(|| body.to_string());
                }
                _ => {}
            }
        }
        Self {
            content_type,
            subject: message.subject().map(str::to_owned),
            from: addresses(message.from()),
            to: addresses(message.to()),
            reply_to: addresses(message.reply_to()),
            message_id: message.message_id().map(str::to_owned),
            headers: message
                .headers_raw()
                .map(|(name, value)| (name.to_owned(), unfold(value)))
                .collect(),
            text,
            html,
        }
    }

    /// The first top-level header with this name (any case), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every `href` in the HTML part, with character references decoded, in order.
    pub fn html_links(&self) -> Vec<String> {
        let Some(html) = &self.html else {
            return Vec::new();
        };
        html.split("href=\"")
            .skip(1)
            .filter_map(|rest| {
                rest.split_once('"')
                    .map(|(value, _)| decode_entities(value))
            })
            .collect()
    }

    /// Every `http://` or `https://` URL in the text part, in order.
    pub fn text_links(&self) -> Vec<String> {
        let Some(text) = &self.text else {
            return Vec::new();
        };
        text.split_whitespace()
            .filter(|w| w.starts_with("https://") || w.starts_with("http://"))
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
            .collect()
    }
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The character references an HTML escaper writes: `&amp;`-style names and `&#38;`/`&#x26;`.
fn decode_entities(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"From: Acme <noreply@acme.example>\r\n\
To: ada@acme.example\r\n\
Subject: =?utf-8?q?Caf=C3=A9?=\r\n\
Message-ID: <m1@acme.example>\r\n\
X-Long: one\r\n two\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Open https://x.example/a?b=1&c=2.\r\n\
--b\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<a href=\"https://x.example/a?b=1&#38;c=2\">go</a> <a href=\"mailto:h@x.example\">h</a>\r\n\
--b--\r\n";

    #[test]
    fn takes_the_parts_and_links_apart() {
        let email = ParsedEmail::parse(RAW);
        assert_eq!(email.content_type, "multipart/alternative");
        assert_eq!(email.subject.as_deref(), Some("Café"));
        assert_eq!(email.from, ["noreply@acme.example"]);
        assert_eq!(email.to, ["ada@acme.example"]);
        assert_eq!(email.message_id.as_deref(), Some("m1@acme.example"));
        assert_eq!(email.header("x-long"), Some("one two"));
        assert_eq!(email.text_links(), ["https://x.example/a?b=1&c=2"]);
        assert_eq!(
            email.html_links(),
            ["https://x.example/a?b=1&c=2", "mailto:h@x.example"]
        );
    }

    #[test]
    fn a_single_part_message_has_no_html() {
        let email = ParsedEmail::parse(b"Subject: hi\r\n\r\nplain only\r\n");
        assert_eq!(email.text.as_deref().map(str::trim_end), Some("plain only"));
        assert_eq!(email.html, None);
    }

    #[test]
    fn decodes_the_references_an_escaper_writes() {
        assert_eq!(
            decode_entities("a&amp;b&#38;c&#x26;d&lt;&quot;"),
            "a&b&c&d<\""
        );
        assert_eq!(decode_entities("AT&T & co;"), "AT&T & co;");
    }
}
