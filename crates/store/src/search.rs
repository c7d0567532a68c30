//! The search documents stored next to each resource (`scim_core::search`): written with every
//! insert and update of a user or group, so every filter can run in the database.

use scim_core::schema::ResourceSchema;
use scim_core::search::search_document;

fn document(resource: &str, schema: &ResourceSchema) -> String {
    let value = serde_json::from_str(resource).unwrap_or_default();
    search_document(&value, schema).to_string()
}

/// The search document of a stored User resource (JSON text).
pub fn user(resource: &str) -> String {
    document(resource, ResourceSchema::user())
}

/// The search document of a stored Group resource (JSON text).
pub fn group(resource: &str) -> String {
    document(resource, ResourceSchema::group())
}
