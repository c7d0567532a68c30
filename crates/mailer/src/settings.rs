//! The `email.*` settings and their validation into an SMTP target; errors name the key at fault.

use std::{net::IpAddr, time::Duration};

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

/// How long one attempt to send a message may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `email.*` configuration keys.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `email.smtp_url`: `smtp://host:port` (plain, or STARTTLS when the server offers it) or
    /// `smtps://host:port` (TLS from the first byte). Empty: no email is sent. Ports default to
    /// 25 and 465. Credentials do not go in the URL.
    pub smtp_url: String,
    /// `email.from`: the sender, `noreply@example.com` or `Example <noreply@example.com>`.
    pub from: String,
    /// `email.username`: log in with this name when set.
    pub username: Option<String>,
    /// `email.password`: the password that goes with `email.username`.
    pub password: Option<SecretString>,
    /// `email.timeout`: the limit for one attempt to send a message, connecting included.
    pub timeout: Duration,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: String::new(),
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl EmailSettings {
    /// Checks every `email.*` key without building anything: `Ok(false)` when email is switched
    /// off, `Ok(true)` when the settings can send. Errors name the key at fault.
    pub fn validate(&self) -> Result<bool, MailerError> {
        Ok(ValidSettings::check(self)?.is_some())
    }
}

/// Why the email settings cannot be used, or the mailer cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// A setting is malformed or inconsistent; `key` is its configuration name.
    #[error("{key}: {reason}")]
    InvalidSetting {
        /// The configuration key, e.g. `email.smtp_url`.
        key: &'static str,
        /// What is wrong with it, without its secret parts.
        reason: String,
    },
    /// The mailer was built outside a Tokio runtime (its connection pool needs one).
    #[error("the mailer must be created inside a Tokio runtime")]
    NoRuntime,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> MailerError {
    MailerError::InvalidSetting {
        key,
        reason: reason.into(),
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// `smtp://`: STARTTLS when the server offers it, plain otherwise.
    Opportunistic,
    /// `smtp://` with credentials to a remote host: a server that stops offering STARTTLS (or
    /// an attacker who strips it) must not receive the password in clear.
    RequireStartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
}

/// Where and how to connect, parsed from `email.smtp_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmtpTarget {
    /// A DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
}

impl SmtpTarget {
    /// `None` when the URL is empty: email is switched off.
    pub fn parse(smtp_url: &str) -> Result<Option<Self>, MailerError> {
        const KEY: &str = "email.smtp_url";
        let raw = smtp_url.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        // The parse error never echoes the value: a mistyped URL may hold a password.
        let url = Url::parse(raw).map_err(|e| {
            invalid(
                KEY,
                format!("not a URL ({e}); expected smtp://host:port or smtps://host:port"),
            )
        })?;
        let (implicit_tls, default_port) = match url.scheme() {
            "smtp" => (false, 25),
            "smtps" => (true, 465),
            other => {
                return Err(invalid(
                    KEY,
                    format!(
                        "scheme `{other}` is not supported; use smtp:// (plain or STARTTLS) or smtps:// (implicit TLS)"
                    ),
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                KEY,
                "must not carry credentials; set email.username and email.password",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                KEY,
                "must be only scheme, host and port (no path, query or fragment)",
            ));
        }
        let host = match url.host() {
            Some(Host::Domain(name)) => valid_host_name(name)
                .ok_or_else(|| invalid(KEY, format!("`{name}` is not a valid host name")))?,
            Some(Host::Ipv4(ip)) => ip.to_string(),
            // `host_str` would keep the brackets, which neither the resolver nor TLS accept.
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid(KEY, "has no host")),
        };
        let port = url.port().unwrap_or(default_port);
        if port == 0 {
            return Err(invalid(KEY, "port 0 is not a port to connect to"));
        }
        Ok(Some(Self {
            host,
            port,
            implicit_tls,
        }))
    }

    /// Whether the host is this machine, where nobody can sit between us and the server.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    pub fn security(&self, has_credentials: bool) -> Security {
        if self.implicit_tls {
            Security::ImplicitTls
        } else if has_credentials && !self.is_loopback() {
            Security::RequireStartTls
        } else {
            Security::Opportunistic
        }
    }
}

/// For `smtp:`, `url` keeps the host as written (no IDNA, no IPv4 parsing): accept only what a
/// resolver and a TLS certificate can match, lower-cased.
fn valid_host_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| name.to_ascii_lowercase())
}

/// The settings, checked: what the transport is built from.
#[derive(Debug)]
pub(crate) struct ValidSettings {
    pub target: SmtpTarget,
    pub from: Mailbox,
    pub credentials: Option<(String, SecretString)>,
    pub timeout: Duration,
}

impl ValidSettings {
    /// `None` when email is switched off (empty `email.smtp_url`).
    pub fn check(settings: &EmailSettings) -> Result<Option<Self>, MailerError> {
        let Some(target) = SmtpTarget::parse(&settings.smtp_url)? else {
            return Ok(None);
        };
        let from_raw = settings.from.trim();
        if from_raw.is_empty() {
            return Err(invalid(
                "email.from",
                "is required when email.smtp_url is set",
            ));
        }
        let from = from_raw.parse::<Mailbox>().map_err(|e| {
            invalid(
                "email.from",
                format!("`{from_raw}` is not an email address ({e})"),
            )
        })?;
        let username = settings
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let password = settings
            .password
            .as_ref()
            .filter(|p| !p.expose_secret().is_empty());
        let credentials = match (username, password) {
            (Some(user), Some(pass)) => Some((user.to_owned(), pass.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "email.password",
                    "is required when email.username is set",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "email.username",
                    "is required when email.password is set",
                ));
            }
        };
        if settings.timeout.is_zero() {
            return Err(invalid("email.timeout", "must be longer than zero"));
        }
        Ok(Some(Self {
            target,
            from,
            credentials,
            timeout: settings.timeout,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> SmtpTarget {
        match SmtpTarget::parse(url) {
            Ok(Some(t)) => t,
            other => panic!("{url}: {other:?}"),
        }
    }

    fn error(url: &str) -> String {
        match SmtpTarget::parse(url) {
            Err(e) => e.to_string(),
            Ok(t) => panic!("{url} was accepted: {t:?}"),
        }
    }

    #[test]
    fn empty_url_switches_email_off() {
        assert!(matches!(SmtpTarget::parse(""), Ok(None)));
        assert!(matches!(SmtpTarget::parse("  "), Ok(None)));
    }

    #[test]
    fn schemes_choose_tls_and_default_ports() {
        let t = target("smtp://mail.example.com:587");
        assert_eq!(
            (t.host.as_str(), t.port, t.implicit_tls),
            ("mail.example.com", 587, false)
        );
        let t = target("smtps://Mail.Example.com");
        assert_eq!(
            (t.host.as_str(), t.port, t.implicit_tls),
            ("mail.example.com", 465, true)
        );
        assert_eq!(target("smtp://relay").port, 25);
        assert_eq!(target("smtp://relay/").port, 25);
    }

    #[test]
    fn hosts_may_be_ip_addresses() {
        assert_eq!(target("smtp://127.0.0.1:2525").host, "127.0.0.1");
        // Without brackets: the form a socket address and a TLS server name take.
        assert_eq!(target("smtps://[::1]:465").host, "::1");
        assert!(target("smtp://[::1]:25").is_loopback());
        assert!(target("smtp://localhost:25").is_loopback());
        assert!(!target("smtp://10.0.0.5:25").is_loopback());
    }

    #[test]
    fn refuses_what_it_would_otherwise_ignore() {
        for (url, needle) in [
            ("http://mail.example.com", "scheme `http`"),
            ("smtp+tls://mail.example.com", "scheme"),
            ("smtp://user:secret@mail.example.com", "credentials"),
            ("smtp://mail.example.com/path", "no path"),
            ("smtp://mail.example.com?tls=required", "no path"),
            ("smtp://mail.example.com:0", "port 0"),
            ("smtp://mail.example.com:99999", "not a URL"),
            ("smtp://", "no host"),
            ("smtp://bad%20host", "not a valid host name"),
            ("mail.example.com:25", "scheme"),
        ] {
            let message = error(url);
            assert!(message.starts_with("email.smtp_url: "), "{url}: {message}");
            assert!(message.contains(needle), "{url}: {message}");
        }
    }

    #[test]
    fn errors_never_echo_a_password_from_the_url() {
        let message = error("smtp://user:hunter2@mail.example.com");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn credentials_to_a_remote_host_require_starttls() {
        let remote = target("smtp://mail.example.com:587");
        assert_eq!(remote.security(false), Security::Opportunistic);
        assert_eq!(remote.security(true), Security::RequireStartTls);
        assert_eq!(
            target("smtp://127.0.0.1:25").security(true),
            Security::Opportunistic
        );
        assert_eq!(
            target("smtps://mail.example.com").security(true),
            Security::ImplicitTls
        );
    }

    fn settings(from: &str) -> EmailSettings {
        EmailSettings {
            smtp_url: "smtp://127.0.0.1:2525".to_owned(),
            from: from.to_owned(),
            ..EmailSettings::default()
        }
    }

    fn check_error(settings: &EmailSettings) -> String {
        match ValidSettings::check(settings) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("accepted: {v:?}"),
        }
    }

    #[test]
    fn from_must_be_an_address() {
        let ok = ValidSettings::check(&settings("Acme <noreply@acme.example>"));
        assert!(matches!(ok, Ok(Some(_))), "{ok:?}");
        assert!(check_error(&settings("")).starts_with("email.from: is required"));
        assert!(check_error(&settings("not an address")).starts_with("email.from: "));
        // Email off: `from` is not needed.
        let off = EmailSettings::default();
        assert!(matches!(ValidSettings::check(&off), Ok(None)));
    }

    #[test]
    fn username_and_password_go_together() {
        let mut s = settings("noreply@acme.example");
        s.username = Some("mailer".to_owned());
        assert!(check_error(&s).starts_with("email.password: "));
        s.username = None;
        s.password = Some(SecretString::from("hunter2".to_owned()));
        let message = check_error(&s);
        assert!(message.starts_with("email.username: "));
        assert!(!message.contains("hunter2"));
        s.username = Some("mailer".to_owned());
        assert!(matches!(ValidSettings::check(&s), Ok(Some(v)) if v.credentials.is_some()));
    }

    #[test]
    fn zero_timeout_is_refused() {
        let mut s = settings("noreply@acme.example");
        s.timeout = Duration::ZERO;
        assert!(check_error(&s).starts_with("email.timeout: "));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut s = settings("noreply@acme.example");
        s.password = Some(SecretString::from("hunter2".to_owned()));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
