//! The primitives of outbound webhook delivery, as [Standard Webhooks](https://www.standardwebhooks.com/):
//! signing ([`signature`]), when to retry ([`schedule`]), where deliveries may go ([`destination`])
//! and one HTTP attempt that enforces it at connect time ([`sender`]).
//!
//! No database and no application state: the outbox and its workers call these.
//!
//! ```
//! use webhooks::{WebhookSecret, signature::DEFAULT_TOLERANCE, signature_header, verify};
//!
//! let secret = WebhookSecret::generate(); // shown once to the endpoint's owner: secret.expose()
//! let body = br#"{"type":"user.created","data":{"id":"42"}}"#;
//! let header = signature_header(&[&secret], "msg_2KWPBgLl", 1_674_087_231, body);
//! assert!(header.starts_with("v1,"));
//! // What a receiver does with the three webhook-* headers and the raw body:
//! let now = 1_674_087_240;
//! verify(&secret, "msg_2KWPBgLl", "1674087231", &header, body, now, DEFAULT_TOLERANCE).unwrap();
//! ```
#![deny(missing_docs)]

pub mod destination;
pub mod schedule;
pub mod sender;
pub mod signature;

mod resolver;

pub use destination::{DestinationError, DestinationPolicy, RefusalReason, validate_url};
pub use schedule::{RetrySchedule, jitter, parse_retry_after};
pub use sender::{Attempt, Delivery, Outcome, Sender, SenderError, SenderSettings};
pub use signature::{SecretError, VerifyError, WebhookSecret, sign, signature_header, verify};
