//! Outgoing email for scimgate: the `email.*` settings, an SMTP client whose errors say whether
//! a retry can help, and the invitation email sent when an identity provider adds a person to an
//! organization.
//!
//! ```no_run
//! # async fn demo(settings: mailer::EmailSettings, invitation: mailer::Invitation) -> Result<(), Box<dyn std::error::Error>> {
//! if let Some(mailer) = mailer::Mailer::from_settings(&settings)? {
//!     let mut email = mailer::render_invitation(&invitation)?;
//!     email.message_id = Some("invitation.0190d1e2".to_owned());
//!     match mailer.send(&email).await {
//!         Ok(sent) => println!("sent {}", sent.message_id),
//!         Err(e) if e.is_transient() => { /* try again later */ }
//!         Err(e) => { /* record the failure: {e} */ }
//!     }
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod branding;
mod error;
mod invitation;
mod settings;
mod transport;

pub use branding::{Branding, DEFAULT_PRIMARY_COLOR, Palette, is_hex_color, web_url};
pub use error::{MAX_MESSAGE_LEN, SendError};
pub use invitation::{Invitation, RenderError, render_invitation};
pub use settings::{DEFAULT_TIMEOUT, EmailSettings, MailerError};
pub use transport::{Mailer, OutgoingEmail, SentEmail};
