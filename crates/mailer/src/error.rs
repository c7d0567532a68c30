//! Why a message was not sent, sorted into "try again later" and "give up", for the worker's
//! retry policy.

use std::error::Error as _;

use lettre::transport::smtp::Error as SmtpError;

/// The longest server text an error carries: a reply can be long and it ends up in logs and rows.
pub const MAX_MESSAGE_LEN: usize = 500;

/// A message that was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: a 4xx reply (e.g. 421, 451), or the server could not be reached, reset
    /// the connection, timed out or failed the TLS handshake.
    #[error("temporary SMTP failure{}: {message}", code_suffix(*.code))]
    Transient {
        /// The SMTP reply code, when the server answered.
        code: Option<u16>,
        /// The server's reply text or the connection error, bounded, without the password.
        message: String,
    },
    /// Give up and record the failure: a 5xx reply (e.g. 550, 554), or a message or setting
    /// that can never be sent as it is (an invalid recipient, no usable login method).
    #[error("permanent SMTP failure{}: {message}", code_suffix(*.code))]
    Permanent {
        /// The SMTP reply code, when the server answered.
        code: Option<u16>,
        /// The server's reply text or the reason, bounded, without the password.
        message: String,
    },
}

fn code_suffix(code: Option<u16>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}

impl SendError {
    /// Whether sending the same message later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient { .. })
    }

    /// The SMTP reply code, when the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            SendError::Transient { code, .. } | SendError::Permanent { code, .. } => *code,
        }
    }

    /// The server's reply text or the reason.
    pub fn message(&self) -> &str {
        match self {
            SendError::Transient { message, .. } | SendError::Permanent { message, .. } => message,
        }
    }

    /// A message that can never be sent as it is; nothing was sent.
    pub(crate) fn invalid_message(reason: impl Into<String>) -> Self {
        SendError::Permanent {
            code: None,
            message: bounded(&reason.into()),
        }
    }

    /// Sorts lettre's error; `secret` (the password) is cut out of the text if it appears.
    pub(crate) fn from_smtp(error: &SmtpError, secret: Option<&str>) -> Self {
        let code = error.status().map(u16::from);
        // For replies, lettre keeps the server's text as the source; otherwise its display
        // already ends with the cause ("Connection error: Connection refused").
        let text = match (code, error.source()) {
            (Some(_), Some(reply)) => reply.to_string(),
            _ => error.to_string(),
        };
        let message = bounded(&redact(&text, secret));
        // Client errors are ours (no usable login method, STARTTLS required but not offered):
        // the same attempt would fail the same way.
        if error.is_permanent() || error.is_client() {
            SendError::Permanent { code, message }
        } else {
            SendError::Transient { code, message }
        }
    }
}

pub(crate) fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => text.replace(s, "[redacted]"),
        _ => text.to_owned(),
    }
}

/// One line, at most [`MAX_MESSAGE_LEN`] characters.
pub(crate) fn bounded(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_MESSAGE_LEN) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replies_are_cut_to_one_bounded_line() {
        let long = format!("first\r\nsecond {}", "é".repeat(2 * MAX_MESSAGE_LEN));
        let cut = bounded(&long);
        assert!(cut.starts_with("first second é"));
        assert_eq!(cut.chars().count(), MAX_MESSAGE_LEN + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn the_password_is_cut_out() {
        assert_eq!(
            redact("535 bad login hunter2 for x", Some("hunter2")),
            "535 bad login [redacted] for x"
        );
        assert_eq!(redact("text", Some("")), "text");
        assert_eq!(redact("text", None), "text");
    }

    #[test]
    fn display_names_the_kind_and_code() {
        let e = SendError::Transient {
            code: Some(451),
            message: "try later".to_owned(),
        };
        assert_eq!(e.to_string(), "temporary SMTP failure (451): try later");
        assert!(e.is_transient());
        let e = SendError::invalid_message("bad recipient");
        assert_eq!(e.to_string(), "permanent SMTP failure: bad recipient");
        assert_eq!(e.code(), None);
        assert_eq!(e.message(), "bad recipient");
    }
}
