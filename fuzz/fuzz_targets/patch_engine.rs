//! Fuzzes the PATCH engine and input normalization with arbitrary JSON bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::normalize::normalize_resource;
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::projection::Projection;
use scim_core::schema::ResourceSchema;

fuzz_target!(|data: &[u8]| {
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1", "userName": "bjensen", "active": true, "name": {"givenName": "B"},
        "emails": [{"value": "a@x.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}},
    });
    let group = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G"});
    if let Ok(request) = PatchRequest::from_json(data) {
        for (schema, resource) in [(ResourceSchema::user(), &user), (ResourceSchema::group(), &group)] {
            let before = resource.to_string();
            if let Ok(out) = apply_patch(schema, resource, &request) {
                assert!(out.resource.get("id").is_some(), "readOnly id removed");
                assert!(out.resource.get("password").is_none(), "password stored");
                let _ = Projection::from_params(Some("userName,emails.value"), None, schema)
                    .map(|p| p.apply(&out.resource, schema));
            }
            assert_eq!(resource.to_string(), before, "input mutated");
        }
    }
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = normalize_resource(ResourceSchema::user(), body.clone());
        let _ = normalize_resource(ResourceSchema::group(), body);
    }
});
