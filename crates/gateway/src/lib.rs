//! The `scimgate` binary's library: configuration, the command line, the operator's commands and
//! the wiring of the apps into one server. `main.rs` parses and dispatches; tests start the very
//! same server in-process ([`server::start`]) and run the very same admin commands.

pub mod admin;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod demo;
pub mod oauth;
pub mod observe;
pub mod probe;
pub mod server;
pub mod telemetry;
pub mod workers;
