//! The product's look — name, logo, colour, support address, terms of service — in emails and on
//! the browser pages (the `[branding]` configuration section becomes one [`Branding`]); colours
//! are checked so a setting cannot break out of a style, and text on the colour stays readable.

use url::Url;

/// The accent colour of scimgate's own pages (`templates/static/app.css`).
pub const DEFAULT_PRIMARY_COLOR: &str = "#2456d6";
const DEFAULT_RGB: (u8, u8, u8) = (0x24, 0x56, 0xd6);

/// Body text colour of scimgate's pages: the dark alternative for text on light colours.
const DARK_TEXT: &str = "#1d2430";

/// How the product presents itself in emails and on its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// The product's name, e.g. `scimgate` or a white-label name.
    pub product_name: String,
    /// An `https://` (or `http://`) image shown above the message; the name is shown without it.
    pub logo_url: Option<String>,
    /// The button colour, `#rgb` or `#rrggbb`; anything else means [`DEFAULT_PRIMARY_COLOR`].
    pub primary_color: String,
    /// Where recipients can ask questions; also the message's `Reply-To`.
    pub support_email: Option<String>,
    /// The product's home page, linked in the footer.
    pub app_url: String,
    /// The terms of service an admin accepts when authorizing an identity provider (linked from
    /// the consent page and the pages' footer).
    pub terms_url: Option<String>,
}

impl Branding {
    /// scimgate's own look, for the app at `app_url`.
    pub fn new(app_url: &str) -> Self {
        Self {
            product_name: "scimgate".to_owned(),
            logo_url: None,
            primary_color: DEFAULT_PRIMARY_COLOR.to_owned(),
            support_email: None,
            app_url: app_url.trim_end_matches('/').to_owned(),
            terms_url: None,
        }
    }
}

/// Colours derived from [`Branding::primary_color`], all `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    /// The button background.
    pub primary: String,
    /// Text on the button: white or dark, whichever contrasts more.
    pub on_primary: &'static str,
    /// Links on white: the primary colour when it is readable there (WCAG 4.5:1), else dark.
    pub link: String,
}

impl Branding {
    /// The colours to draw with: the primary colour, text on it, and links on white.
    pub fn palette(&self) -> Palette {
        let rgb = parse_hex_color(&self.primary_color).unwrap_or(DEFAULT_RGB);
        let primary = format_hex(rgb);
        let l = luminance(rgb);
        let dark = luminance((0x1d, 0x24, 0x30));
        let on_white = contrast(1.0, l);
        let on_primary = if on_white >= contrast(l, dark) {
            "#ffffff"
        } else {
            DARK_TEXT
        };
        let link = if on_white >= 4.5 {
            primary.clone()
        } else {
            DARK_TEXT.to_owned()
        };
        Palette {
            primary,
            on_primary,
            link,
        }
    }
}

/// Whether `value` is a colour [`Branding::primary_color`] accepts (`#rgb` or `#rrggbb`).
pub fn is_hex_color(value: &str) -> bool {
    parse_hex_color(value).is_some()
}

/// `#rgb` or `#rrggbb` only: the value goes into `style` attributes.
pub(crate) fn parse_hex_color(value: &str) -> Option<(u8, u8, u8)> {
    let hex = value.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
    match hex.len() {
        3 => Some((digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
        6 => Some((digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
        _ => None,
    }
}

fn format_hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// WCAG relative luminance.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

fn contrast(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

/// An absolute `http(s)` URL, or why not.
pub fn web_url(value: &str) -> Result<String, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" | "http" if url.host().is_some() => Ok(url.to_string()),
        "https" | "http" => Err("has no host".to_owned()),
        other => Err(format!("scheme `{other}` is not http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branding(color: &str) -> Branding {
        Branding {
            product_name: "scimgate".to_owned(),
            logo_url: None,
            primary_color: color.to_owned(),
            support_email: None,
            app_url: "https://scimgate.example".to_owned(),
            terms_url: None,
        }
    }

    #[test]
    fn colours_are_hex_or_the_default() {
        assert_eq!(parse_hex_color(DEFAULT_PRIMARY_COLOR), Some(DEFAULT_RGB));
        assert_eq!(parse_hex_color("#fff"), Some((255, 255, 255)));
        assert_eq!(parse_hex_color("#2456D6"), Some((0x24, 0x56, 0xd6)));
        for bad in [
            "",
            "red",
            "#ff",
            "#ffff",
            "#gggggg",
            "#12345678",
            "2456d6",
            "#fff;x:y",
            "#é12",
        ] {
            assert_eq!(parse_hex_color(bad), None, "{bad}");
        }
        assert_eq!(branding("#ABC").palette().primary, "#aabbcc");
        let hostile = branding("red;background:url(https://evil.example)").palette();
        assert_eq!(hostile.primary, DEFAULT_PRIMARY_COLOR);
    }

    #[test]
    fn button_text_contrasts_with_the_colour() {
        let dark = branding("#2456d6").palette();
        assert_eq!(
            (dark.on_primary, dark.link.as_str()),
            ("#ffffff", "#2456d6")
        );
        let light = branding("#ffd400").palette();
        assert_eq!(
            (light.on_primary, light.link.as_str()),
            (DARK_TEXT, DARK_TEXT)
        );
    }

    #[test]
    fn web_urls_are_http_or_https() {
        assert_eq!(
            web_url("https://app.example/x?a=1&b=2").as_deref(),
            Ok("https://app.example/x?a=1&b=2")
        );
        assert!(web_url("javascript:alert(1)").is_err());
        assert!(web_url("data:text/html,hi").is_err());
        assert!(web_url("/relative").is_err());
    }
}
