//! What the `loadtest` binary and its tests share: the SCIM bodies the scenarios send, and the
//! data generator, whose users are made from the very body `create-users` posts.

pub mod generate;

use serde_json::{Value, json};

/// The SCIM User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The SCIM Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The SCIM PATCH request schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `POST /Users` body of user `name`: `userName` `name`, `externalId` `ext-{name}`, one
/// work email `{name}@load.example` (what `filtered-get` looks users up by).
pub fn user(name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": name,
        "externalId": format!("ext-{name}"),
        "name": {"givenName": "Load", "familyName": "Test"},
        "emails": [{"value": format!("{name}@load.example"), "type": "work", "primary": true}],
        "active": true,
    })
}
