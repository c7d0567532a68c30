//! JSON helpers shared by normalization, PATCH and filters: case-insensitive member lookup,
//! "unassigned" per RFC 7643 §2.5, and type coercion driven by attribute definitions — the one
//! place where IdP quirks such as `"active": "False"` or `"emails": {…}` are absorbed.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::{Map, Number, Value};

use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, Mutability};

/// Member `key` of an object, exact match first, then ASCII case-insensitive.
pub(crate) fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The actual key under which `key` is stored in `obj`, if any (case-insensitive).
pub(crate) fn find_key(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Removes `key` (any case) from `obj`, returning the old value.
pub(crate) fn remove_ci(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let actual = find_key(obj, key)?;
    obj.remove(&actual)
}

/// RFC 7643 §2.5: null, an empty array, an empty object and an empty string are "unassigned".
pub(crate) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_unassigned),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Parses an `xsd:dateTime`; a value without offset is taken as UTC.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc().fixed_offset())
}

/// A short, safe rendering of a client value for error details.
pub(crate) fn preview(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Coerces a client value to what `def` says it must be. Returns `None` for unassigned values
/// (null, `[]`, `{}`), which callers treat as "remove". `name` is used in error details.
pub(crate) fn coerce(
    def: &AttributeDef,
    value: Value,
    name: &str,
) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            // Entra sends roles as a JSON-encoded string: "[{\"value\":\"Admin\"}]".
            Value::String(s) if looks_like_json(&s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) => items,
                Ok(other) => vec![other],
                Err(_) => vec![Value::String(s)],
            },
            // OneLogin sends a single email as an object instead of a one-element array.
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(def, item, name)? {
                out.push(v);
            }
        }
        if def.attr_type == AttrType::Complex {
            keep_one_primary(&mut out, false);
        }
        return Ok(if out.is_empty() {
            None
        } else {
            Some(Value::Array(out))
        });
    }
    match value {
        Value::Array(mut items) if items.len() == 1 => coerce_single(def, items.remove(0), name),
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(_) => Err(ScimError::invalid_value(format!(
            "`{name}` is single-valued but an array of several values was given"
        ))),
        other => coerce_single(def, other, name),
    }
}

fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('[') || t.starts_with('{')
}

fn type_error(name: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!("`{name}` must be {expected}, got {}", preview(got)))
}

fn coerce_single(def: &AttributeDef, value: Value, name: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    let out = match def.attr_type {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => value,
            Value::Number(n) => Value::String(n.to_string()),
            other => return Err(type_error(name, "a string", &other)),
        },
        AttrType::Boolean => match &value {
            Value::Bool(_) => value,
            // Entra and OneLogin send "True"/"False".
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(type_error(name, "a boolean (true or false)", &value)),
        },
        AttrType::Integer => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value,
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::Number(i.into()),
                Err(_) => return Err(type_error(name, "an integer", &value)),
            },
            _ => return Err(type_error(name, "an integer", &value)),
        },
        AttrType::Decimal => match &value {
            Value::Number(_) => value,
            Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(type_error(name, "a number", &value)),
            },
            _ => return Err(type_error(name, "a number", &value)),
        },
        AttrType::DateTime => match &value {
            Value::String(s) if parse_datetime(s).is_some() => value,
            _ => {
                return Err(type_error(
                    name,
                    "a dateTime such as \"2025-01-31T12:00:00Z\"",
                    &value,
                ));
            }
        },
        AttrType::Complex => return coerce_complex(def, value, name),
    };
    Ok(Some(out))
}

fn coerce_complex(
    def: &AttributeDef,
    value: Value,
    name: &str,
) -> Result<Option<Value>, ScimError> {
    let has_value_sub = def.sub_attribute("value").is_some();
    let obj = match value {
        Value::Object(obj) => obj,
        // `"manager": "26118915-6090-4610-87e4-49d8ca9f808d"` (Entra) means `{"value": …}`.
        Value::String(s) if has_value_sub => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(obj)) if looks_like_json(&s) => obj,
            _ => Map::from_iter([("value".to_owned(), Value::String(s))]),
        },
        Value::Number(n) if has_value_sub => {
            Map::from_iter([("value".to_owned(), Value::String(n.to_string()))])
        }
        other => return Err(type_error(name, "an object of sub-attributes", &other)),
    };
    let mut out = Map::new();
    let obj = unwrap_encoded_value(obj);
    for (key, v) in obj {
        // Unknown and read-only sub-attributes are dropped, like unknown attributes.
        let Some(sub) = def.sub_attribute(&key) else {
            continue;
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_name = format!("{name}.{}", sub.name);
        if let Some(v) = coerce(sub, v, &sub_name)? {
            out.insert(sub.name.clone(), v);
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    })
}

/// RFC 7643 §2.4: `primary: true` appears at most once. Keeps the last one when `last_wins`
/// (values just added by PATCH take precedence, RFC 7644 §3.5.2), otherwise the first.
pub(crate) fn keep_one_primary(items: &mut [Value], last_wins: bool) {
    let primaries: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| get_ci(v, "primary") == Some(&Value::Bool(true)))
        .map(|(i, _)| i)
        .collect();
    if primaries.len() < 2 {
        return;
    }
    let keep = if last_wins {
        primaries.last()
    } else {
        primaries.first()
    }
    .copied();
    for i in primaries {
        if Some(i) != keep
            && let Some(Value::Object(obj)) = items.get_mut(i)
        {
            obj.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

/// Entra's app-role mapping sends `{"value": "{\"id\":…,\"value\":\"Admin\",\"displayName\":\"Admin\"}"}`:
/// a JSON object encoded in the `value` string. Unwrap it into `value` (and `display`).
fn unwrap_encoded_value(mut obj: Map<String, Value>) -> Map<String, Value> {
    let Some(Value::String(encoded)) = obj.get("value") else {
        return obj;
    };
    if !encoded.trim_start().starts_with('{') {
        return obj;
    }
    let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(encoded) else {
        return obj;
    };
    let Some(inner_value) = inner.get("value").cloned() else {
        return obj;
    };
    obj.insert("value".to_owned(), inner_value);
    if !obj.contains_key("display")
        && let Some(display) = inner.get("displayName").or_else(|| inner.get("display"))
    {
        obj.insert("display".to_owned(), display.clone());
    }
    obj
}
