//! The invitation email a person receives when an identity provider adds them to an
//! organization: `templates/email/invitation.{html,txt}`, filled from checked values.

use std::fmt::Write as _;

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::Address;

use crate::{
    branding::{Branding, Palette, web_url},
    transport::OutgoingEmail,
};

/// Longest organization, product or inviter text shown; a longer one is cut with `…`.
const MAX_NAME_LEN: usize = 120;

/// What the invitation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The product sending it.
    pub product: Branding,
    /// The organization the person is invited into.
    pub organization_name: String,
    /// Who invited them, as the caller phrases it, e.g. `Okta, on behalf of Acme's IT`.
    /// Empty: the line is left out.
    pub invited_by: String,
    /// The recipient's address, also shown in the message so they know which account it is for.
    pub recipient_email: String,
    /// The link that accepts the invitation (`http` or `https`).
    pub accept_url: String,
    /// When the link stops working; shown in UTC.
    pub expires_at: DateTime<Utc>,
}

/// An invitation that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A field is missing or malformed; `field` names it as in [`Invitation`] / [`Branding`].
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field, e.g. `accept_url` or `product.logo_url`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The template engine failed.
    #[error("cannot render the invitation: {0}")]
    Template(#[from] askama::Error),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RenderError {
    RenderError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// Checked, display-ready values shared by both templates.
#[derive(Debug)]
struct View {
    subject: String,
    preheader: String,
    product_name: String,
    organization_name: String,
    invited_by: Option<String>,
    recipient_email: String,
    accept_url: String,
    /// e.g. `Monday, 14 December 2026 at 09:30 UTC`.
    expires: String,
    logo_url: Option<String>,
    support_email: Option<String>,
    app_url: String,
    palette: Palette,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct HtmlPart<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct TextPart<'a> {
    v: &'a View,
}

/// Renders the invitation as a `multipart/alternative` email to `recipient_email`, with
/// `Reply-To` set to the support address when there is one. The caller may set
/// [`OutgoingEmail::message_id`] before sending.
pub fn render_invitation(invitation: &Invitation) -> Result<OutgoingEmail, RenderError> {
    let view = View::new(invitation)?;
    Ok(OutgoingEmail {
        to: view.recipient_email.clone(),
        subject: view.subject.clone(),
        text_body: TextPart { v: &view }.render()?,
        html_body: HtmlPart { v: &view }.render()?,
        reply_to: view.support_email.clone(),
        message_id: None,
    })
}

impl View {
    fn new(inv: &Invitation) -> Result<Self, RenderError> {
        let product_name = required_name("product.product_name", &inv.product.product_name)?;
        let organization_name = required_name("organization_name", &inv.organization_name)?;
        let invited_by = Some(display_name(&inv.invited_by)).filter(|s| !s.is_empty());
        let recipient_email = address("recipient_email", &inv.recipient_email)?;
        let accept_url = web_url(&inv.accept_url).map_err(|e| invalid("accept_url", e))?;
        let app_url = web_url(&inv.product.app_url).map_err(|e| invalid("product.app_url", e))?;
        let logo_url = match inv.product.logo_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(web_url(url).map_err(|e| invalid("product.logo_url", e))?),
        };
        let support_email = match inv.product.support_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(address("product.support_email", a)?),
        };
        let mut expires = String::new();
        write!(
            expires,
            "{}",
            inv.expires_at.format("%A, %-d %B %Y at %H:%M UTC")
        )
        .map_err(|_| invalid("expires_at", "cannot be formatted"))?;
        Ok(Self {
            subject: format!("You're invited to join {organization_name} on {product_name}"),
            preheader: format!(
                "Accept to join {organization_name} on {product_name}. The link expires on {expires}."
            ),
            product_name,
            organization_name,
            invited_by,
            recipient_email,
            accept_url,
            expires,
            logo_url,
            support_email,
            app_url,
            palette: inv.product.palette(),
        })
    }
}

fn required_name(field: &'static str, value: &str) -> Result<String, RenderError> {
    let name = display_name(value);
    if name.is_empty() {
        Err(invalid(field, "is empty"))
    } else {
        Ok(name)
    }
}

/// One line of bounded length: names come from identity providers and end up in the subject.
fn display_name(value: &str) -> String {
    let line = value
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match line.char_indices().nth(MAX_NAME_LEN) {
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
        None => line,
    }
}

fn address(field: &'static str, value: &str) -> Result<String, RenderError> {
    let value = value.trim();
    value
        .parse::<Address>()
        .map(|a| a.to_string())
        .map_err(|e| invalid(field, format!("`{value}` is not an email address ({e})")))
}

#[cfg(test)]
#[path = "invitation_tests.rs"]
mod tests;
