//! Rendering tests: the information in both parts, escaping of hostile names, field checks.

use chrono::TimeZone;

use super::*;

fn invitation() -> Invitation {
    Invitation {
        product: Branding {
            product_name: "scimgate".to_owned(),
            logo_url: Some("https://scimgate.example/logo.png".to_owned()),
            primary_color: "#0a7d33".to_owned(),
            support_email: Some("help@scimgate.example".to_owned()),
            app_url: "https://scimgate.example".to_owned(),
            terms_url: None,
        },
        organization_name: "Acme".to_owned(),
        invited_by: "Okta, on behalf of Acme's IT".to_owned(),
        recipient_email: "ada@acme.example".to_owned(),
        accept_url: "https://scimgate.example/invitations/accept?token=abc&org=1".to_owned(),
        expires_at: Utc.with_ymd_and_hms(2026, 12, 14, 9, 30, 0).unwrap(),
    }
}

fn render(inv: &Invitation) -> OutgoingEmail {
    render_invitation(inv).unwrap()
}

#[test]
fn both_parts_carry_the_same_information() {
    let email = render(&invitation());
    assert_eq!(email.to, "ada@acme.example");
    assert_eq!(email.subject, "You're invited to join Acme on scimgate");
    assert_eq!(email.reply_to.as_deref(), Some("help@scimgate.example"));
    assert_eq!(email.message_id, None);
    let expiry = "Monday, 14 December 2026 at 09:30 UTC";
    let text = &email.text_body;
    for needle in [
        "You're invited to join Acme on scimgate",
        "as ada@acme.example",
        "Invited by Okta, on behalf of Acme's IT.",
        "\nhttps://scimgate.example/invitations/accept?token=abc&org=1\n",
        expiry,
        "Questions? Contact help@scimgate.example.",
        "https://scimgate.example/",
    ] {
        assert!(text.contains(needle), "text part lacks {needle:?}:\n{text}");
    }
    let html = &email.html_body;
    // askama escapes `&` and `'`, which browsers read back as the same URL and text.
    let link = "https://scimgate.example/invitations/accept?token=abc&#38;org=1";
    for needle in [
        format!(r#"<a href="{link}""#).as_str(),
        format!(">{link}</a>").as_str(),
        ">Accept invitation</a>",
        "Invited by Okta, on behalf of Acme&#39;s IT.",
        expiry,
        r#"href="mailto:help@scimgate.example""#,
        r#"<img src="https://scimgate.example/logo.png" alt="scimgate""#,
        "background-color:#0a7d33",
        "color:#ffffff",
    ] {
        assert!(html.contains(needle), "HTML part lacks {needle:?}:\n{html}");
    }
    assert_eq!(
        html.matches(&format!(r#"href="{link}""#)).count(),
        2,
        "button and plain link"
    );
}

#[test]
fn hostile_names_are_escaped_in_html_and_kept_to_one_line() {
    let mut inv = invitation();
    inv.organization_name = "<script>alert(1)</script>\r\nBcc: x@evil.example".to_owned();
    inv.invited_by = "\"><img src=x onerror=alert(1)>".to_owned();
    let email = render(&inv);
    assert!(!email.html_body.contains("<script>"), "{}", email.html_body);
    assert!(
        !email.html_body.contains("<img src=x"),
        "{}",
        email.html_body
    );
    assert!(
        email
            .html_body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
    assert_eq!(
        email.subject,
        "You're invited to join <script>alert(1)</script> Bcc: x@evil.example on scimgate"
    );
    // Plain text is not HTML: it shows the name as given, on one line.
    assert!(
        email
            .text_body
            .contains("join <script>alert(1)</script> Bcc: x@evil.example on")
    );
}

#[test]
fn optional_parts_are_left_out() {
    let mut inv = invitation();
    inv.product.logo_url = None;
    inv.product.support_email = Some("  ".to_owned());
    inv.invited_by = " ".to_owned();
    inv.product.primary_color = "url(x)".to_owned();
    let email = render(&inv);
    assert_eq!(email.reply_to, None);
    for part in [&email.text_body, &email.html_body] {
        assert!(!part.contains("Invited by"), "{part}");
        assert!(!part.contains("Questions?"), "{part}");
    }
    assert!(!email.html_body.contains("<img"));
    assert!(email.html_body.contains("background-color:#2456d6"));
}

#[test]
fn long_names_are_cut() {
    let mut inv = invitation();
    inv.organization_name = "A".repeat(1000);
    let email = render(&inv);
    assert!(email.subject.len() < 200, "{}", email.subject);
    assert!(email.subject.contains('…'));
}

#[test]
fn bad_fields_are_named() {
    type Change = fn(&mut Invitation);
    let cases: [(&str, Change); 7] = [
        ("accept_url", |i| {
            i.accept_url = "javascript:alert(1)".to_owned()
        }),
        ("accept_url", |i| i.accept_url = "/relative".to_owned()),
        ("product.app_url", |i| i.product.app_url = String::new()),
        ("product.logo_url", |i| {
            i.product.logo_url = Some("data:image/png;base64,xx".to_owned())
        }),
        ("product.support_email", |i| {
            i.product.support_email = Some("nope".to_owned())
        }),
        ("recipient_email", |i| i.recipient_email = "ada".to_owned()),
        ("organization_name", |i| {
            i.organization_name = "\n ".to_owned()
        }),
    ];
    for (field, change) in cases {
        let mut inv = invitation();
        change(&mut inv);
        match render_invitation(&inv) {
            Err(RenderError::InvalidField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}
