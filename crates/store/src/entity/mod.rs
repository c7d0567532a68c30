//! sea-orm entities, one module per table. The schema itself is defined by the migrations; columns
//! are documented there.
#![allow(missing_docs)]

pub mod accounts;
pub mod api_tokens;
pub mod audit_log;
pub mod backend_clients;
pub mod deployment_facts;
pub mod events;
pub mod group_mapping_stack_roles;
pub mod group_mappings;
pub mod idempotency_keys;
pub mod installations;
pub mod invitations;
pub mod oauth_clients;
pub mod org_memberships;
pub mod organizations;
pub mod portal_links;
pub mod refresh_tokens;
pub mod revocations;
pub mod roles;
pub mod scim_group_members;
pub mod scim_groups;
pub mod scim_request_log;
pub mod scim_user_emails;
pub mod scim_users;
pub mod signing_keys;
pub mod stack_roles;
pub mod stacks;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
