//! Input normalization for create (POST) and replace (PUT) bodies: what IdPs send is turned into
//! the one canonical shape the store keeps, or refused with a precise error.
//!
//! Absorbed quirks: `emails` sent as an object (OneLogin); booleans as strings (`"True"`);
//! `"id": null`, `meta` and `"groups": []` in the body (Okta, Entra) — readOnly, dropped;
//! legacy URNs (`urn:scim:schemas:core:2.0`, `urn:scim:schemas:extension:enterprise:2.0`) and
//! Microsoft's `…/ADSCIM/2.0/Group` schema; attribute names in any case; dotted
//! (`name.givenName`) and URN-qualified keys; `manager` as a bare id; roles as JSON strings.
//! Unknown attributes are dropped (the PATCH engine's policy). `password` is write-only:
//! accepted so IdPs that send one do not fail, and discarded — scimgate never stores it.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{
    AttrLocation, AttrType, Mutability, ResolvedAttr, ResourceSchema, canonical_schema_urn,
    split_urn,
};
use crate::value::{coerce, get_ci, preview, remove_ci};

/// Validates and canonicalizes a create/replace body for `schema`.
///
/// The result has `schemas` listing the core schema and every extension present, attribute
/// names in schema case, values coerced to their types, and no readOnly or writeOnly
/// attributes. Missing required attributes are `invalidValue`; a body that is not an object,
/// or whose `schemas` is not a list of strings, is `invalidSyntax`.
pub fn normalize_resource(schema: &ResourceSchema, body: Value) -> Result<Value, ScimError> {
    let Value::Object(mut input) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the {} body must be a JSON object",
            schema.name
        )));
    };
    check_schemas(schema, remove_ci(&mut input, "schemas"))?;
    let mut core = Map::new();
    let mut extensions: Vec<(String, Map<String, Value>)> = Vec::new();
    for (key, value) in input {
        if let Some(ext) = schema.extension(canonical_schema_urn(&key)) {
            let Value::Object(inner) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_syntax(format!(
                    "`{}` must be an object",
                    ext.id
                )));
            };
            for (attr, v) in inner {
                if let Some(resolved) = resolve_key(schema, Some(&ext.id), &attr) {
                    place(&mut core, &mut extensions, resolved, v)?;
                }
            }
            continue;
        }
        let (urn, rest) = split_urn(&key);
        if let Some(resolved) = resolve_key(schema, urn, rest) {
            place(&mut core, &mut extensions, resolved, value)?;
        }
    }
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for (ext, _) in &schema.extensions {
        if let Some((urn, obj)) = extensions.iter_mut().find(|(u, _)| *u == ext.id)
            && !obj.is_empty()
        {
            schemas.push(Value::String(urn.clone()));
            core.insert(urn.clone(), Value::Object(std::mem::take(obj)));
        }
    }
    check_required(schema, &core)?;
    check_members(&core)?;
    let mut out = Map::new();
    out.insert("schemas".to_owned(), Value::Array(schemas));
    out.extend(core);
    let out = Value::Object(out);
    // On the normalized form: what the store would write, after coercion and unwrapping.
    crate::limits::check_resource(schema, &out)?;
    Ok(out)
}

fn check_schemas(schema: &ResourceSchema, schemas: Option<Value>) -> Result<(), ScimError> {
    match schemas {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for item in &items {
                let Some(urn) = item.as_str() else {
                    return Err(ScimError::invalid_syntax(format!(
                        "`schemas` must be a list of schema URNs, found {}",
                        preview(item)
                    )));
                };
                // Another resource type's core schema means the body was sent to the wrong endpoint.
                let canonical = canonical_schema_urn(urn);
                if schema.canonical_urn(urn).is_none()
                    && [crate::schema::USER_SCHEMA, crate::schema::GROUP_SCHEMA]
                        .contains(&canonical)
                {
                    return Err(ScimError::invalid_syntax(format!(
                        "schema `{urn}` does not belong to {} resources",
                        schema.name
                    )));
                }
            }
            Ok(())
        }
        Some(other) => Err(ScimError::invalid_syntax(format!(
            "`schemas` must be a list of schema URNs, found {}",
            preview(&other)
        ))),
    }
}

fn resolve_key<'a>(
    schema: &'a ResourceSchema,
    urn: Option<&str>,
    key: &str,
) -> Option<ResolvedAttr<'a>> {
    let (attr, sub) = match key.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (key, None),
    };
    schema.resolve(urn, attr, sub)
}

fn place(
    core: &mut Map<String, Value>,
    extensions: &mut Vec<(String, Map<String, Value>)>,
    resolved: ResolvedAttr<'_>,
    value: Value,
) -> Result<(), ScimError> {
    let leaf = resolved.leaf();
    let skipped = |m: Mutability| matches!(m, Mutability::ReadOnly | Mutability::WriteOnly);
    if skipped(resolved.attr.mutability) || skipped(leaf.mutability) {
        return Ok(());
    }
    let Some(value) = coerce(leaf, value, &resolved.qualified_name())? else {
        return Ok(());
    };
    let container = match resolved.location {
        AttrLocation::Core => core,
        AttrLocation::Extension(urn) => {
            let index = match extensions.iter().position(|(u, _)| u == urn) {
                Some(i) => i,
                None => {
                    extensions.push((urn.to_owned(), Map::new()));
                    extensions.len() - 1
                }
            };
            match extensions.get_mut(index) {
                Some((_, obj)) => obj,
                None => return Err(ScimError::internal()),
            }
        }
    };
    let attr = resolved.attr;
    match resolved.sub {
        // `"name.givenName": "Barbara"` merges into `name`.
        Some(sub) if !attr.multi_valued => {
            let parent = container
                .entry(attr.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(p) = parent {
                p.insert(sub.name.clone(), value);
            }
        }
        // `"emails.value": "x"` on a multi-valued attribute: one value with that sub-attribute.
        Some(sub) => {
            let element = Value::Object(Map::from_iter([(sub.name.clone(), value)]));
            match container.get_mut(&attr.name) {
                Some(Value::Array(items)) => items.push(element),
                _ => {
                    container.insert(attr.name.clone(), Value::Array(vec![element]));
                }
            }
        }
        None => match (container.get_mut(&attr.name), value) {
            (Some(Value::Object(existing)), Value::Object(new))
                if attr.attr_type == AttrType::Complex =>
            {
                existing.extend(new);
            }
            (_, value) => {
                container.insert(attr.name.clone(), value);
            }
        },
    }
    Ok(())
}

fn check_required(schema: &ResourceSchema, out: &Map<String, Value>) -> Result<(), ScimError> {
    for attr in schema.core.attributes.iter().filter(|a| a.required) {
        if !out.contains_key(&attr.name) {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required for {} resources",
                attr.name, schema.name
            )));
        }
    }
    for (ext, required) in &schema.extensions {
        if *required && !out.contains_key(&ext.id) {
            return Err(ScimError::invalid_value(format!(
                "the `{}` extension is required",
                ext.id
            )));
        }
    }
    Ok(())
}

fn check_members(out: &Map<String, Value>) -> Result<(), ScimError> {
    let Some(Value::Array(members)) = out.get("members") else {
        return Ok(());
    };
    for m in members {
        match get_ci(m, "value") {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "each member needs a non-empty `value` (the member's id), got {}",
                    preview(m)
                )));
            }
        }
    }
    Ok(())
}

/// Removes `members` from a normalized Group and returns the member ids, deduplicated in order,
/// so the store writes them as rows and keeps the resource document member-free.
pub fn take_members(resource: &mut Value) -> Vec<String> {
    take_members_with_display(resource)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// [`take_members`], keeping the `display` the client sent with each member.
pub fn take_members_with_display(resource: &mut Value) -> Vec<(String, Option<String>)> {
    let Some(Value::Array(members)) = resource
        .as_object_mut()
        .and_then(|o| remove_ci(o, "members"))
    else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    members
        .iter()
        .filter_map(|m| match get_ci(m, "value") {
            Some(Value::String(s)) => {
                let display = get_ci(m, "display")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Some((s.trim().to_owned(), display))
            }
            _ => None,
        })
        .filter(|(id, _)| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
