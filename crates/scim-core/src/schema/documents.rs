//! The discovery documents `/Schemas` and `/ResourceTypes` (RFC 7644 §4), generated from the
//! same definitions that drive validation so they cannot drift.

use serde_json::{Value, json};

use super::{RESOURCE_TYPE_SCHEMA, ResourceSchema};

/// The `/Schemas` entries of the built-in resource types (User with Enterprise User, Group),
/// each with `meta.location` = `{base_url}/Schemas/{id}`.
pub fn schemas_document(base_url: &str) -> Vec<Value> {
    schemas_document_for(&[ResourceSchema::user(), ResourceSchema::group()], base_url)
}

/// The `/ResourceTypes` entries of the built-in resource types (User, Group).
pub fn resource_types_document(base_url: &str) -> Vec<Value> {
    resource_types_document_for(&[ResourceSchema::user(), ResourceSchema::group()], base_url)
}

/// Every schema of the given resource types, deduplicated by id.
pub fn schemas_document_for(resources: &[&ResourceSchema], base_url: &str) -> Vec<Value> {
    let base = base_url.trim_end_matches('/');
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for rs in resources {
        for schema in std::iter::once(&rs.core).chain(rs.extensions.iter().map(|(s, _)| s)) {
            if seen.contains(&schema.id.as_str()) {
                continue;
            }
            seen.push(&schema.id);
            out.push(schema.to_json(Some(&format!("{base}/Schemas/{}", schema.id))));
        }
    }
    out
}

/// The `/ResourceTypes` entries of the given resource types.
pub fn resource_types_document_for(resources: &[&ResourceSchema], base_url: &str) -> Vec<Value> {
    let base = base_url.trim_end_matches('/');
    resources
        .iter()
        .map(|rs| {
            let extensions: Vec<Value> = rs
                .extensions
                .iter()
                .map(|(s, required)| json!({"schema": s.id, "required": required}))
                .collect();
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": rs.name,
                "name": rs.name,
                "endpoint": rs.endpoint,
                "description": rs.description,
                "schema": rs.core.id,
                "schemaExtensions": extensions,
                "meta": {
                    "resourceType": "ResourceType",
                    "location": format!("{base}/ResourceTypes/{}", rs.name),
                },
            })
        })
        .collect()
}
