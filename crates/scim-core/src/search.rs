//! The search document of a stored resource: what filters are run against in the database.
//!
//! It is the stored resource with its attribute names in their canonical spelling and every
//! string value of an attribute that is not `caseExact` lower-cased the way the in-memory
//! evaluator folds it (`str::to_lowercase`). A filter literal folded the same way then compares
//! with plain equality, containment (`@>` under a GIN index on PostgreSQL) or substring tests,
//! and the database's answer is the evaluator's answer on both backends, whatever the collation.

use serde_json::{Map, Value};

use crate::schema::{AttributeDef, ResourceSchema, SchemaDef};

/// The search document of `resource` (a stored resource, without `id`/`meta`) of `schema`.
pub fn search_document(resource: &Value, schema: &ResourceSchema) -> Value {
    let Some(object) = resource.as_object() else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (key, value) in object {
        if let Some(urn) = schema.canonical_urn(key)
            && !schema.is_core_urn(urn)
        {
            if let Some(ext) = schema.extension(urn) {
                out.insert(urn.to_owned(), schema_object(value, ext));
            }
            continue;
        }
        match schema.attribute(None, key) {
            Some(resolved) => {
                out.insert(resolved.attr.name.clone(), attribute(value, resolved.attr));
            }
            // Unknown attributes are not stored by normalization; keep anything else as is.
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// Folds a string literal as the search document folds the values of `def` (unknown: folded,
/// as the evaluator compares unknown attributes case-insensitively).
pub fn fold_literal(literal: &str, def: Option<&AttributeDef>) -> String {
    if def.is_some_and(|d| d.case_exact) {
        literal.to_owned()
    } else {
        literal.to_lowercase()
    }
}

fn schema_object(value: &Value, schema: &SchemaDef) -> Value {
    let Some(object) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        match schema.attribute(key) {
            Some(def) => out.insert(def.name.clone(), attribute(value, def)),
            None => out.insert(key.clone(), value.clone()),
        };
    }
    Value::Object(out)
}

fn attribute(value: &Value, def: &AttributeDef) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| attribute(v, def)).collect()),
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                match def.sub_attribute(key) {
                    Some(sub) => out.insert(sub.name.clone(), attribute(value, sub)),
                    None => out.insert(key.clone(), value.clone()),
                };
            }
            Value::Object(out)
        }
        Value::String(s) => Value::String(fold_literal(s, Some(def))),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn folds_what_is_not_case_exact_and_canonicalizes_names() {
        let user = json!({
            "USERNAME": "Bjensen@Example.com",
            "externalId": "ExT-1",
            "emails": [{"Value": "B@X.example", "type": "Work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "Sales"},
            "active": true
        });
        let doc = search_document(&user, ResourceSchema::user());
        assert_eq!(
            doc,
            json!({
                "userName": "bjensen@example.com",
                "externalId": "ExT-1",
                "emails": [{"value": "b@x.example", "type": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "sales"},
                "active": true
            })
        );
    }
}
