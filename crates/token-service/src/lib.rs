//! The OAuth 2.0 side of scimgate: the token endpoint, JWT access tokens and their signing keys,
//! refresh-token rotation, revocation, introspection and metadata — and the bearer verification
//! API that `scim-api` uses to check every request.
#![deny(missing_docs)]

pub mod verify;

pub use verify::{BearerVerifier, Credential, Principal, VerifyError, bearer_token};
