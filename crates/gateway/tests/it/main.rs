//! The gateway's integration tests, one binary: each module boots the real app (in-process, or as
//! the `scimgate` process where the binary itself is under test) against SQLite and PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod branding;
mod browser_console;
mod browser_product;
mod change_feed;
mod cli;
mod common;
mod concurrency;
mod config_and_readiness;
mod console;
mod console_defects;
mod console_product;
mod console_webhooks;
mod credential_cache;
mod faults;
mod feed_crash;
mod feed_faults;
mod idp_replay;
mod invitations;
mod limits;
mod management_api;
mod oauth_flow;
mod oauth_security;
mod operations;
mod portal_links;
mod regions;
mod replicas_behind_nginx;
mod scim_api;
mod scim_request_log;
