//! One delivery attempt over HTTP: POST the signed body, classify the answer as the Standard
//! Webhooks guidance says (2xx delivered, 410 gone, anything else failed), and keep a bounded
//! excerpt of the response for the delivery log. Never follows redirects, never uses a proxy from
//! the environment, and connects only to addresses the destination policy allows.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, StatusCode};

use crate::destination::{self, DestinationError, DestinationPolicy};
use crate::resolver::PolicyResolver;
use crate::schedule::parse_retry_after;

/// How much of a redirect's `Location` an attempt's error repeats.
const MAX_LOCATION_SHOWN: usize = 256;

/// How the sender's HTTP client behaves.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// The whole attempt: connecting, sending, and reading the status and the excerpt.
    /// The specification recommends 15–30 s.
    pub timeout: Duration,
    /// Establishing the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Which addresses may be connected to.
    pub policy: DestinationPolicy,
    /// The `user-agent` header sent with every delivery.
    pub user_agent: String,
    /// How many bytes of the response body are read and kept, at most.
    pub max_response_excerpt: usize,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            policy: DestinationPolicy::default(),
            user_agent: concat!("scimgate-webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_excerpt: 4096,
        }
    }
}

/// One message to one endpoint, already signed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The endpoint URL; validated again on every attempt (the policy may have changed).
    pub url: String,
    /// `webhook-id`: the same on every attempt of the message (the receiver's idempotency key).
    pub msg_id: String,
    /// `webhook-timestamp`, in Unix seconds: the time of this attempt, as signed.
    pub timestamp: i64,
    /// The JSON body, exactly the bytes that were signed.
    pub body: Bytes,
    /// `webhook-signature`, from [`crate::signature::signature_header`].
    pub signature_header: String,
    /// Further headers, e.g. a static authorization header the endpoint's owner configured.
    /// The headers this crate sets (`content-type`, `user-agent`, `webhook-*`, framing) are
    /// refused, so an endpoint's configuration cannot forge them.
    pub extra_headers: Vec<(String, String)>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer: the message is delivered.
    Delivered,
    /// 410 Gone: the receiver asks us to stop; the endpoint must be disabled.
    Gone,
    /// Anything else (another status, a redirect, a timeout, a reset, a refused destination):
    /// retry according to the schedule.
    Failed,
}

/// What one attempt did, for the delivery log and the retry decision.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Delivered, gone or failed.
    pub outcome: Outcome,
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// The start of the response body (at most `max_response_excerpt` bytes, invalid UTF-8
    /// replaced); empty when there was no response.
    pub response_excerpt: String,
    /// The response's `Retry-After`, when it had a valid one.
    pub retry_after: Option<Duration>,
    /// From the start of the attempt to the end of reading the excerpt.
    pub duration: Duration,
    /// Why the attempt failed when the status alone does not say (no response, a redirect that
    /// was not followed, an error while reading the body).
    pub error: Option<String>,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the webhook HTTP client: {0}")]
pub struct SenderError(#[source] reqwest::Error);

/// Sends delivery attempts. Cheap to clone (the connection pool is shared); build one per process.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<DestinationPolicy>,
    timeout: Duration,
    max_excerpt: usize,
}

impl Sender {
    /// A sender with its own HTTP client: the policy-checking resolver, no redirects, no
    /// environment proxy (a proxy would do the DNS look-up our check relies on), and no automatic
    /// retries (every request is one attempt in the delivery log).
    pub fn new(settings: SenderSettings) -> Result<Self, SenderError> {
        let policy = Arc::new(settings.policy);
        let client = reqwest::Client::builder()
            .dns_resolver(PolicyResolver::new(Arc::clone(&policy)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .retry(reqwest::retry::never())
            .referer(false)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent)
            .build()
            .map_err(SenderError)?;
        Ok(Self {
            client,
            policy,
            timeout: settings.timeout,
            max_excerpt: settings.max_response_excerpt,
        })
    }

    /// Makes one attempt. Never fails as a function: every problem is a [`Outcome::Failed`]
    /// attempt with its reason in [`Attempt::error`].
    pub async fn send(&self, delivery: &Delivery) -> Attempt {
        let started = Instant::now();
        let request = match self.build_request(delivery) {
            Ok(request) => request,
            Err(message) => return Attempt::failed(message, started.elapsed()),
        };
        match self.client.execute(request).await {
            Ok(response) => self.read_response(response, started).await,
            Err(err) => Attempt::failed(self.describe(err), started.elapsed()),
        }
    }

    fn build_request(&self, delivery: &Delivery) -> Result<reqwest::Request, String> {
        let url = destination::validate_url(&delivery.url).map_err(|e| e.to_string())?;
        // IP literals never reach the resolver, so they are checked here.
        self.policy.check_url(&url).map_err(|e| e.to_string())?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("webhook-id", header_value("webhook-id", &delivery.msg_id)?);
        headers.insert(
            "webhook-timestamp",
            header_value("webhook-timestamp", &delivery.timestamp.to_string())?,
        );
        headers.insert(
            "webhook-signature",
            header_value("webhook-signature", &delivery.signature_header)?,
        );
        for (name, value) in &delivery.extra_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a valid header name"))?;
            if is_reserved(&name) {
                return Err(format!(
                    "the {name} header is set by the gateway and cannot be overridden"
                ));
            }
            let value = header_value(name.as_str(), value)?;
            headers.append(name, value);
        }
        self.client
            .post(url)
            .headers(headers)
            .body(delivery.body.clone())
            .build()
            .map_err(|e| error_chain(&e.without_url()))
    }

    async fn read_response(&self, mut response: Response, started: Instant) -> Attempt {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut error = status.is_redirection().then(|| {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no location)");
            // The receiver chose this text: keep the log line short whatever it sent.
            let location: String = location.chars().take(MAX_LOCATION_SHOWN).collect();
            format!("redirect to {location} not followed: update the endpoint URL instead")
        });
        let (excerpt, body_error) = read_excerpt(&mut response, self.max_excerpt).await;
        if let Some(body_error) = body_error {
            error.get_or_insert(format!("reading the response body: {body_error}"));
        }
        let outcome = if status.is_success() {
            Outcome::Delivered
        } else if status == StatusCode::GONE {
            Outcome::Gone
        } else {
            Outcome::Failed
        };
        Attempt {
            outcome,
            status: Some(status.as_u16()),
            response_excerpt: excerpt,
            retry_after,
            duration: started.elapsed(),
            error,
        }
    }

    /// A message for an attempt that got no response, naming a refused destination plainly.
    fn describe(&self, err: reqwest::Error) -> String {
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<DestinationError>() {
                return refused.to_string();
            }
            source = cause.source();
        }
        let err = err.without_url();
        if err.is_timeout() && !err.is_connect() {
            return format!("timed out after {:?}: {}", self.timeout, error_chain(&err));
        }
        error_chain(&err)
    }
}

impl Attempt {
    fn failed(error: String, duration: Duration) -> Self {
        Self {
            outcome: Outcome::Failed,
            status: None,
            response_excerpt: String::new(),
            retry_after: None,
            duration,
            error: Some(error),
        }
    }
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|_| format!("the {name} header value is not valid"))
}

fn is_reserved(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("webhook-")
        || [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONNECTION,
            header::HOST,
            header::USER_AGENT,
        ]
        .iter()
        .any(|reserved| reserved.as_str() == name)
}

/// Reads at most `max` bytes of the body, chunk by chunk, so a huge or endless response costs no
/// more than the excerpt. Returns the text and the error that stopped the reading, if any.
async fn read_excerpt(response: &mut Response, max: usize) -> (String, Option<String>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut error = None;
    while buf.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(max - buf.len());
                buf.extend_from_slice(chunk.get(..take).unwrap_or_default());
            }
            Ok(None) => break,
            Err(err) => {
                error = Some(error_chain(&err.without_url()));
                break;
            }
        }
    }
    let truncated = buf.len() >= max;
    let text = if truncated {
        trim_partial_char(&buf)
    } else {
        &buf[..]
    };
    (String::from_utf8_lossy(text).into_owned(), error)
}

/// Drops a UTF-8 sequence cut off by the excerpt limit, so the excerpt does not end in U+FFFD.
fn trim_partial_char(bytes: &[u8]) -> &[u8] {
    for back in 1..=bytes.len().min(4) {
        let Some(&byte) = bytes.get(bytes.len() - back) else {
            break;
        };
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let needed = match byte {
            0xF8.. => 1, // never valid UTF-8: lossy decoding replaces it anyway
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needed > back {
            bytes.get(..bytes.len() - back).unwrap_or(bytes)
        } else {
            bytes
        };
    }
    bytes
}

/// An error and its causes, `outer: inner: innermost`, skipping causes the outer text repeats.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_an_incomplete_trailing_character() {
        let text = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        for cut in 0..=text.len() {
            let trimmed = std::str::from_utf8(trim_partial_char(&text[..cut])).unwrap();
            assert!("aé€😀".starts_with(trimmed));
            assert!(cut - trimmed.len() < 4, "{cut}");
        }
        assert_eq!(trim_partial_char(b"ab\xff"), b"ab\xff");
    }

    #[test]
    fn reserved_headers_cannot_be_overridden() {
        for name in [
            "webhook-signature",
            "Content-Type",
            "user-agent",
            "host",
            "webhook-x",
        ] {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            assert!(is_reserved(&name), "{name}");
        }
        assert!(!is_reserved(&HeaderName::from_static("authorization")));
    }
}
