//! sea-orm entities, one module per table. The schema itself is defined by the migrations; columns
//! are documented there.
#![allow(missing_docs)]

pub mod accounts;
pub mod api_tokens;
pub mod audit_log;
pub mod events;
pub mod oauth_clients;
pub mod org_memberships;
pub mod organizations;
pub mod stack_roles;
pub mod stacks;
