//! Parsed domain values: once one of these exists, it is valid, so the code that holds it never
//! re-checks. Normalized forms are what unique indexes compare.

use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// Lower-cases with Unicode rules: what every case-insensitive unique column stores, since
/// SQLite's `NOCASE` folds ASCII only.
pub fn normalize_key(value: &str) -> String {
    value.trim().to_lowercase()
}

/// An email address, trimmed, with a normalized form for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@` with something on both sides, no whitespace, at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let value = raw.trim();
        let valid = value.len() <= 254
            && !value.chars().any(char::is_whitespace)
            && matches!(value.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(StoreError::Invalid(format!(
                "'{raw}' is not a valid email address"
            )))
        }
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form the unique index compares.
    pub fn normalized(&self) -> String {
        normalize_key(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(StoreError::Invalid(format!(
                        concat!("'{}' is not a valid ", stringify!($name), " (expected one of: {})"),
                        s,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

macro_rules! role_key {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The key as stored and shown in the API.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let key = s.trim().to_ascii_lowercase();
                if valid_role_key(&key) {
                    Ok(Self(key))
                } else {
                    Err(StoreError::Invalid(format!(
                        concat!("'{}' is not a valid ", $what, " key (1 to 50 of a-z, 0-9, '_' and '-', starting with a letter or digit)"),
                        s
                    )))
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(role: $name) -> String {
                role.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A role key: a short slug, so keys survive URLs, forms and logs unchanged.
fn valid_role_key(key: &str) -> bool {
    (1..=50).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

role_key!(
    /// An organization role of the catalog, by key. Which roles exist, their privilege order and
    /// whether they manage SCIM come from the catalog ([`crate::repo::role_catalog`]); `owner` is
    /// the one the catalog always has, at the top.
    OrgRole,
    "organization role"
);

role_key!(
    /// A stack (workspace) role of the catalog, by key.
    StackRole,
    "stack role"
);

impl OrgRole {
    /// The key of the Owner role, which every catalog has, highest of all.
    pub const OWNER: &'static str = "owner";

    /// The Owner role.
    pub fn owner() -> Self {
        Self(Self::OWNER.to_owned())
    }

    /// Whether this is the Owner role.
    pub fn is_owner(&self) -> bool {
        self.0 == Self::OWNER
    }
}

string_enum! {
    /// Where a membership stands.
    MembershipStatus {
        /// Provisioned, invitation sent, not yet accepted.
        Invited => "invited",
        /// Has access.
        Active => "active",
        /// Deactivated by the IdP (`active: false`): no access, nothing deleted.
        Suspended => "suspended",
    }
}

string_enum! {
    /// Who created a membership.
    MembershipSource {
        /// An admin, the console or the CLI.
        Manual => "manual",
        /// A SCIM client.
        Scim => "scim",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_plain_addresses_and_normalizes_unicode_case() {
        let email =
            Email::parse("  Ærøskøbing@Example.COM ").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(email.as_str(), "Ærøskøbing@Example.COM");
        assert_eq!(email.normalized(), "ærøskøbing@example.com");
    }

    #[test]
    fn email_rejects_what_is_not_an_address() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn role_keys_are_slugs_compared_case_insensitively() {
        assert_eq!(
            "ADMIN".parse::<OrgRole>().ok().map(String::from),
            Some("admin".into())
        );
        assert!("billing-admin_2".parse::<StackRole>().is_ok());
        for bad in ["", "-x", "a b", "é", &"x".repeat(51)] {
            assert!(bad.parse::<OrgRole>().is_err(), "{bad:?} should be refused");
        }
        assert!(OrgRole::owner().is_owner());
    }
}
