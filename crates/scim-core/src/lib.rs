//! SCIM 2.0 protocol without I/O (RFC 7643, RFC 7644, RFC 9865): schemas as data, the filter
//! grammar and its AST, the PATCH engine with the change set `store` writes as row operations,
//! input normalization for what Okta, Microsoft Entra ID and OneLogin actually send, projection,
//! errors, list responses and tamper-evident cursors.
//!
//! Everything here is a pure function of its inputs; no function panics on any input.
#![deny(missing_docs)]

pub mod cursor;
pub mod error;
pub mod filter;
pub mod limits;
pub mod list;
pub mod normalize;
pub mod patch;
pub mod projection;
pub mod schema;
pub mod search;
pub mod service_provider;
mod value;

pub use error::{ScimError, ScimType};
