//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) with the `returned`
//! characteristic: `always` (id, schemas) survives everything, `never` (password) is never
//! returned, `request` only when named, `default` unless excluded or not named.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{AttrLocation, AttributeDef, ResourceSchema, Returned, canonical_schema_urn};

/// A parsed attribute reference: a whole extension, an attribute, or a sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// Extension URN, `None` for the core schema.
    urn: Option<String>,
    /// Attribute name; `None` means the whole extension.
    attr: Option<String>,
    sub: Option<String>,
}

/// Which attributes a response carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    attributes: Option<Vec<Target>>,
    excluded: Vec<Target>,
    always: Vec<String>,
    request_only: Vec<String>,
}

/// Longest `attributes`/`excludedAttributes` value accepted.
const MAX_PARAM_LEN: usize = 4096;

impl Projection {
    /// Parses the two query parameters (comma-separated attribute paths, URN-qualified or not).
    /// Unknown attribute names are ignored; a value filter (`emails[…]`) is `invalidValue`.
    pub fn from_params(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &ResourceSchema,
    ) -> Result<Self, ScimError> {
        // `attributes=` (empty) means "not given"; `attributes=unknownName` means "only `always`".
        let attributes = attributes
            .filter(|a| a.split(',').any(|s| !s.trim().is_empty()))
            .map(|a| parse_list(a, schema))
            .transpose()?;
        let excluded = excluded
            .map(|e| parse_list(e, schema))
            .transpose()?
            .unwrap_or_default();
        let all = std::iter::once(&schema.core).chain(schema.extensions.iter().map(|(s, _)| s));
        let defs: Vec<&AttributeDef> = all
            .flat_map(|s| s.attributes.iter())
            .chain(schema.common.iter())
            .collect();
        let names = |r: Returned| {
            defs.iter()
                .filter(|d| d.returned == r)
                .map(|d| d.name.clone())
                .collect()
        };
        Ok(Self {
            attributes,
            excluded,
            always: names(Returned::Always),
            request_only: names(Returned::Request),
        })
    }

    /// Whether this projection returns a normalized resource unchanged: neither `attributes` nor
    /// `excludedAttributes` was given and the schema has no `returned: request` attribute. A
    /// normalized resource holds no `returned: never` attribute and lists in `schemas` exactly
    /// the extensions it carries (`normalize_resource`, the PATCH engine), so nothing is left
    /// for [`Projection::apply`] to remove and the stored text can be answered as it is.
    pub fn returns_everything_stored(&self) -> bool {
        self.attributes.is_none() && self.excluded.is_empty() && self.request_only.is_empty()
    }

    /// Whether the response will carry the top-level attribute `name` (e.g. `members`), so the
    /// caller can skip loading it.
    pub fn wants_attribute(&self, name: &str) -> bool {
        if name.eq_ignore_ascii_case("schemas")
            || self.always.iter().any(|a| a.eq_ignore_ascii_case(name))
        {
            return true;
        }
        let names = |t: &Target| {
            t.attr
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
        };
        match &self.attributes {
            Some(list) => list.iter().any(names),
            None => {
                !self
                    .request_only
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(name))
                    && !self.excluded.iter().any(|t| names(t) && t.sub.is_none())
            }
        }
    }

    /// The projected copy of `resource`.
    pub fn apply(&self, resource: &Value, schema: &ResourceSchema) -> Value {
        let Value::Object(obj) = resource else {
            return resource.clone();
        };
        let mut out = Map::new();
        for (key, value) in obj {
            if key == "schemas" {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = schema.extension(key) {
                let Value::Object(inner) = value else {
                    continue;
                };
                let mut projected = Map::new();
                for (attr, v) in inner {
                    let def = ext.attribute(attr);
                    if let Some(v) = self.project(Some(&ext.id), attr, def, v) {
                        projected.insert(attr.clone(), v);
                    }
                }
                if !projected.is_empty() {
                    out.insert(ext.id.clone(), Value::Object(projected));
                }
                continue;
            }
            let def = schema.attribute(None, key).map(|r| r.attr);
            if let Some(v) = self.project(None, key, def, value) {
                out.insert(key.clone(), v);
            }
        }
        // `schemas` lists only the extensions still present.
        if let Some(Value::Array(schemas)) = out.get("schemas").cloned() {
            let kept: Vec<Value> = schemas
                .into_iter()
                .filter(|s| {
                    s.as_str()
                        .is_none_or(|u| schema.extension(u).is_none_or(|e| out.contains_key(&e.id)))
                })
                .collect();
            out.insert("schemas".to_owned(), Value::Array(kept));
        }
        Value::Object(out)
    }

    fn project(
        &self,
        urn: Option<&str>,
        name: &str,
        def: Option<&AttributeDef>,
        value: &Value,
    ) -> Option<Value> {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        match returned {
            Returned::Never => return None,
            Returned::Always => return Some(value.clone()),
            _ => {}
        }
        let is_attr = |t: &Target| {
            t.urn.as_deref() == urn
                && t.attr
                    .as_deref()
                    .is_none_or(|a| a.eq_ignore_ascii_case(name))
        };
        match &self.attributes {
            Some(list) => {
                let hits: Vec<&Target> = list.iter().filter(|t| is_attr(t)).collect();
                if hits.is_empty() {
                    return None;
                }
                if hits.iter().any(|t| t.sub.is_none()) {
                    return Some(strip_never(value, def));
                }
                let subs: Vec<&str> = hits.iter().filter_map(|t| t.sub.as_deref()).collect();
                Some(map_elements(value, |o| {
                    o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                }))
            }
            None => {
                if returned == Returned::Request {
                    return None;
                }
                let hits: Vec<&Target> = self.excluded.iter().filter(|t| is_attr(t)).collect();
                if hits.iter().any(|t| t.sub.is_none()) {
                    return None;
                }
                let subs: Vec<&str> = hits.iter().filter_map(|t| t.sub.as_deref()).collect();
                let v = strip_never(value, def);
                Some(map_elements(&v, |o| {
                    o.retain(|k, _| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                }))
            }
        }
    }
}

/// Applies `f` to the object, or to every object of an array.
fn map_elements(value: &Value, f: impl Fn(&mut Map<String, Value>)) -> Value {
    let mut v = value.clone();
    match &mut v {
        Value::Object(o) => f(o),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(o) = item {
                    f(o);
                }
            }
        }
        _ => {}
    }
    v
}

fn strip_never(value: &Value, def: Option<&AttributeDef>) -> Value {
    let Some(def) = def else { return value.clone() };
    let hidden: Vec<&str> = def
        .sub_attributes
        .iter()
        .filter(|s| s.returned == Returned::Never)
        .map(|s| s.name.as_str())
        .collect();
    if hidden.is_empty() {
        return value.clone();
    }
    map_elements(value, |o| o.retain(|k, _| !hidden.contains(&k.as_str())))
}

fn parse_list(param: &str, schema: &ResourceSchema) -> Result<Vec<Target>, ScimError> {
    if param.len() > MAX_PARAM_LEN {
        return Err(ScimError::invalid_value(format!(
            "attribute lists are limited to {MAX_PARAM_LEN} bytes"
        )));
    }
    let mut out = Vec::new();
    for item in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.contains(['[', ']', ' ', '"']) {
            return Err(ScimError::invalid_value(format!(
                "`{item}`: attribute lists take attribute paths such as `emails.value`, not filters"
            )));
        }
        if let Some(ext) = schema.extension(canonical_schema_urn(item)) {
            out.push(Target {
                urn: Some(ext.id.clone()),
                attr: None,
                sub: None,
            });
            continue;
        }
        let Some(resolved) = schema.resolve_path(item) else {
            continue;
        };
        out.push(Target {
            urn: match resolved.location {
                AttrLocation::Core => None,
                AttrLocation::Extension(u) => Some(u.to_owned()),
            },
            attr: Some(resolved.attr.name.clone()),
            sub: resolved.sub.map(|s| s.name.clone()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA as ENT;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "id": "1", "userName": "bjensen", "password": "leaked?", "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@x.com", "type": "home"}],
            "meta": {"resourceType": "User"},
            ENT: {"employeeNumber": "7", "department": "Tours"},
        })
    }

    fn project(attrs: Option<&str>, excl: Option<&str>) -> Value {
        let schema = ResourceSchema::user();
        Projection::from_params(attrs, excl, schema)
            .unwrap()
            .apply(&user(), schema)
    }

    #[test]
    fn default_returns_everything_but_never() {
        let mut expected = user();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(project(None, None), expected);
    }

    #[test]
    fn attributes_keep_named_plus_always() {
        let table: &[(&str, Value)] = &[
            (
                "userName",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "bjensen"}),
            ),
            (
                "NAME.givenName",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "name": {"givenName": "Barbara"}}),
            ),
            (
                "emails.value",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "emails": [{"value": "a@x.com"}, {"value": "b@x.com"}]}),
            ),
            (
                &format!("{ENT}:department"),
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT], "id": "1", ENT: {"department": "Tours"}}),
            ),
            (
                ENT,
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT], "id": "1", ENT: {"employeeNumber": "7", "department": "Tours"}}),
            ),
            (
                "password,id",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1"}),
            ),
            (
                "nonexistent",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1"}),
            ),
        ];
        for (attrs, expected) in table {
            assert_eq!(&project(Some(attrs), None), expected, "{attrs}");
        }
    }

    #[test]
    fn excluded_removes_but_never_always() {
        let v = project(None, Some("emails, id, name.familyName, meta"));
        assert_eq!(v["id"], "1");
        assert!(v.get("emails").is_none());
        assert!(v.get("meta").is_none());
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        assert!(v.get("password").is_none());
        let v = project(None, Some(ENT));
        assert!(v.get(ENT).is_none());
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
    }

    #[test]
    fn wants_attribute_lets_the_api_skip_members() {
        let g = ResourceSchema::group();
        let p = Projection::from_params(None, Some("members"), g).unwrap();
        assert!(!p.wants_attribute("members"));
        assert!(p.wants_attribute("displayName"));
        assert!(p.wants_attribute("id"));
        let p = Projection::from_params(Some("displayName"), None, g).unwrap();
        assert!(!p.wants_attribute("members"));
        let p = Projection::from_params(Some("members.value"), None, g).unwrap();
        assert!(p.wants_attribute("members"));
        let p = Projection::from_params(None, None, g).unwrap();
        assert!(p.wants_attribute("members"));
    }

    #[test]
    fn the_default_projection_returns_a_normalized_resource_unchanged() {
        for schema in [ResourceSchema::user(), ResourceSchema::group()] {
            let default = Projection::from_params(None, None, schema).unwrap();
            assert!(default.returns_everything_stored(), "{}", schema.name);
            for (attributes, excluded) in [(Some("id"), None), (None, Some("externalId"))] {
                let p = Projection::from_params(attributes, excluded, schema).unwrap();
                assert!(!p.returns_everything_stored());
            }
        }
        let user = crate::normalize::normalize_resource(
            ResourceSchema::user(),
            json!({"userName": "ada", "password": "x", "name": {"givenName": "Ada"},
                   "emails": [{"value": "ada@example.com", "primary": "True"}],
                   ENT: {"department": "R&D", "manager": "m1"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Other": {}}),
        )
        .unwrap();
        let default = Projection::from_params(None, None, ResourceSchema::user()).unwrap();
        assert_eq!(default.apply(&user, ResourceSchema::user()), user);
    }

    #[test]
    fn filters_in_attribute_lists_are_rejected() {
        let err = Projection::from_params(
            Some(r#"emails[type eq "work"]"#),
            None,
            ResourceSchema::user(),
        )
        .unwrap_err();
        assert_eq!(err.scim_type, Some(crate::error::ScimType::InvalidValue));
    }
}
