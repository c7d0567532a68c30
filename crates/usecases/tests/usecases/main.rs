//! The use cases on both databases, without HTTP.
#![allow(clippy::unwrap_used, clippy::panic, clippy::disallowed_methods)]

mod catalogue;
mod common;
mod feed;
mod filters;
mod invitations;
mod provisioning;
mod request_log;
mod webhooks;
