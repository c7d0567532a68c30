//! The SMTP client: builds a `multipart/alternative` message and sends it through a pooled
//! lettre transport.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::{
        AsyncSmtpTransportBuilder,
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    error::{SendError, bounded, redact},
    settings::{EmailSettings, MailerError, Security, SmtpTarget, ValidSettings},
};

/// One email to one recipient, with a plain-text and an HTML version of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The recipient, `person@example.com` or `Name <person@example.com>`.
    pub to: String,
    /// The subject line; line breaks and control characters are replaced by spaces.
    pub subject: String,
    /// The `text/plain` part.
    pub text_body: String,
    /// The `text/html` part.
    pub html_body: String,
    /// Where replies go, when not to `email.from` (e.g. the product's support address).
    pub reply_to: Option<String>,
    /// A stable id for this message, e.g. `invitation.<event id>`, so that a retry after an
    /// uncertain failure carries the same `Message-ID` and receivers can drop the duplicate.
    /// Without `@`, the sender's domain is appended. `None`: a fresh random id.
    pub message_id: Option<String>,
}

/// What the server said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    /// The `Message-ID` sent, with its angle brackets.
    pub message_id: String,
    /// The server's reply code (250).
    pub code: u16,
    /// The server's reply text, e.g. its queue id, bounded.
    pub reply: String,
}

/// Sends email through the configured SMTP server. Cloning shares the connection pool.
#[derive(Clone)]
pub struct Mailer {
    /// Replaced after a timeout (see [`Mailer::send`]); shared by clones.
    transport: Arc<Mutex<AsyncSmtpTransport<Tokio1Executor>>>,
    builder: AsyncSmtpTransportBuilder,
    timeout: Duration,
    from: Mailbox,
    target: SmtpTarget,
    security: Security,
    username: Option<String>,
    /// Kept to cut it out of error texts, however unlikely it is to appear there.
    password: Option<SecretString>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the settings and builds the transport; `Ok(None)` when `email.smtp_url` is empty
    /// (email switched off). Errors name the key at fault. Must run inside a Tokio runtime.
    /// Nothing is contacted yet: the first [`Mailer::send`] connects.
    pub fn from_settings(settings: &EmailSettings) -> Result<Option<Mailer>, MailerError> {
        let Some(valid) = ValidSettings::check(settings)? else {
            return Ok(None);
        };
        // lettre's pool spawns its clean-up task while the transport is built and would panic
        // without a runtime.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(MailerError::NoRuntime);
        }
        let ValidSettings {
            target,
            from,
            credentials,
            timeout,
        } = valid;
        let security = target.security(credentials.is_some());
        // The verifier reads the system's trust store here, so a machine without one fails at
        // start-up rather than at the first invitation.
        let tls_parameters =
            TlsParameters::new(target.host.clone()).map_err(|e| MailerError::InvalidSetting {
                key: "email.smtp_url",
                reason: format!("cannot set up TLS for `{}`: {e}", target.host),
            })?;
        let tls = match security {
            Security::Opportunistic => Tls::Opportunistic(tls_parameters),
            Security::RequireStartTls => Tls::Required(tls_parameters),
            Security::ImplicitTls => Tls::Wrapper(tls_parameters),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
            .port(target.port)
            .tls(tls)
            .timeout(Some(timeout));
        let (username, password) = match credentials {
            Some((user, pass)) => {
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    pass.expose_secret().to_owned(),
                ));
                (Some(user), Some(pass))
            }
            None => (None, None),
        };
        Ok(Some(Mailer {
            transport: Arc::new(Mutex::new(builder.clone().build())),
            builder,
            timeout,
            from,
            target,
            security,
            username,
            password,
        }))
    }

    /// The sender every message carries (`email.from`).
    pub fn from_address(&self) -> &str {
        self.from.email.as_ref()
    }

    /// Sends one message; the whole attempt (connecting included) is bounded by
    /// `email.timeout`. A [`SendError::Transient`] is worth retrying later (with the same
    /// [`OutgoingEmail::message_id`]: after a timeout or a dropped connection the message may
    /// have arrived); a [`SendError::Permanent`] is not.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, SendError> {
        let (message, message_id) = self.build(email)?;
        let secret = self.password.as_ref().map(ExposeSecret::expose_secret);
        let transport = self.transport().clone();
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(response)) => Ok(SentEmail {
                message_id,
                code: u16::from(response.code()),
                reply: bounded(&redact(
                    &response.message().collect::<Vec<_>>().join(" "),
                    secret,
                )),
            }),
            Ok(Err(e)) => Err(SendError::from_smtp(&e, secret)),
            Err(_) => {
                // lettre's async client only bounds connecting, so a silent server is cut off
                // here. The cancelled send hands its connection back to the pool as if idle,
                // mid-conversation, where a later send would read stale replies: start a new pool.
                *self.transport() = self.builder.clone().build();
                Err(SendError::Transient {
                    code: None,
                    message: format!(
                        "timed out after {:?} waiting for the SMTP server",
                        self.timeout
                    ),
                })
            }
        }
    }

    fn transport(&self) -> std::sync::MutexGuard<'_, AsyncSmtpTransport<Tokio1Executor>> {
        // Only ever held to clone or replace the handle: a poisoned lock still holds a usable one.
        self.transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn build(&self, email: &OutgoingEmail) -> Result<(Message, String), SendError> {
        let to = email.to.trim().parse::<Mailbox>().map_err(|e| {
            SendError::invalid_message(format!("recipient `{}` is not an address ({e})", email.to))
        })?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&email.subject));
        if let Some(reply_to) = &email.reply_to {
            let reply_to = reply_to.trim().parse::<Mailbox>().map_err(|e| {
                SendError::invalid_message(format!("reply-to `{reply_to}` is not an address ({e})"))
            })?;
            builder = builder.reply_to(reply_to);
        }
        let message_id = self.message_id(email.message_id.as_deref())?;
        let message = builder
            .message_id(Some(message_id.clone()))
            // Tells auto-responders (out-of-office, vacation) not to answer (RFC 3834).
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                email.text_body.clone(),
                email.html_body.clone(),
            ))
            .map_err(|e| SendError::invalid_message(format!("cannot build the message: {e}")))?;
        Ok((message, message_id))
    }

    fn message_id(&self, requested: Option<&str>) -> Result<String, SendError> {
        let domain = self.from.email.domain();
        let id = match requested {
            None => format!("{}@{domain}", uuid::Uuid::now_v7().simple()),
            Some(id) if id.contains('@') => id.to_owned(),
            Some(id) => format!("{id}@{domain}"),
        };
        if valid_message_id(&id) {
            Ok(format!("<{id}>"))
        } else {
            Err(SendError::invalid_message(format!(
                "`{id}` is not a valid Message-ID (letters, digits, `.-_+=` and one `@`)"
            )))
        }
    }
}

/// A conservative `id-left@id-right` (RFC 5322 §3.6.4): nothing that could end the header.
fn valid_message_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 200
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'=' | b'$')
            })
    };
    part_ok(left) && part_ok(right)
}

/// Header text on one line: a line break in a caller's value must not start a new header.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_plain_tokens() {
        assert!(valid_message_id("invitation.0190abc@acme.example"));
        assert!(!valid_message_id("no-at-sign"));
        assert!(!valid_message_id("a@b@c"));
        assert!(!valid_message_id("a b@c"));
        assert!(!valid_message_id("a@c>\r\nBcc: x@y"));
        assert!(!valid_message_id("@c"));
    }

    #[test]
    fn header_text_stays_on_one_line() {
        assert_eq!(
            one_line("Hello\r\nBcc: evil@x\t there"),
            "Hello Bcc: evil@x there"
        );
    }

    #[tokio::test]
    async fn needs_no_server_to_build_and_says_when_email_is_off() {
        let settings = EmailSettings {
            smtp_url: "smtp://127.0.0.1:1".to_owned(),
            from: "Acme <noreply@acme.example>".to_owned(),
            ..EmailSettings::default()
        };
        let mailer = match Mailer::from_settings(&settings) {
            Ok(Some(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(mailer.from_address(), "noreply@acme.example");
        let id = mailer.message_id(Some("invitation.42")).unwrap();
        assert_eq!(id, "<invitation.42@acme.example>");
        assert!(mailer.message_id(Some("x\r\ny")).is_err());
        assert!(matches!(
            Mailer::from_settings(&EmailSettings::default()),
            Ok(None)
        ));
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let settings = EmailSettings {
            smtp_url: "smtp://127.0.0.1:1".to_owned(),
            from: "noreply@acme.example".to_owned(),
            ..EmailSettings::default()
        };
        assert!(matches!(
            Mailer::from_settings(&settings),
            Err(MailerError::NoRuntime)
        ));
    }
}
