//! Bounds on what one resource may hold, checked on every write — after normalization (POST,
//! PUT) and after a PATCH is applied — so that input either fits both databases or is refused as
//! `400 invalidValue` naming the attribute, identically on SQLite and PostgreSQL.
//!
//! Why these numbers (also in `docs/api.md`, "Limits"):
//! - **NUL (U+0000)** cannot be stored in a PostgreSQL text column at all, while SQLite stores it;
//!   no identity attribute legitimately contains one. Refused in every string, anywhere.
//! - **Indexed strings** ([`MAX_INDEXED_BYTES`]): `userName`, `externalId`, `displayName` and
//!   email `value`s are btree-indexed, some through a Unicode lower-cased shadow column, and a
//!   PostgreSQL btree entry must stay under ~2,704 bytes. 1,024 bytes, measured on the string *and*
//!   on its lower-cased form (`"İ"` is 2 bytes, its lower case 3), leaves room for the rest of the
//!   index row; RFC 5321 caps an address at 254 bytes, so no real value comes close.
//! - **Other strings** ([`MAX_STRING_BYTES`]): 8 KiB holds a base64 X.509 certificate or a long
//!   street address, and keeps one list page bounded.
//! - **Values of a multi-valued attribute** ([`MAX_VALUES`]): emails are written one row each;
//!   100 is far above what an IdP sends and keeps every statement small. Group `members` are
//!   exempt: IdPs push groups of tens of thousands of members, which the store writes as rows in
//!   bounded chunks.
//! - **The whole resource** ([`MAX_RESOURCE_BYTES`]): 64 KiB of JSON as stored (without `id`,
//!   `meta`, `groups` and `members`, which come from columns and rows), so a page of
//!   `maxResults` users stays a bounded response.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::ResourceSchema;

/// Longest indexed string (`userName`, `externalId`, `displayName`, `emails[].value`, a member's
/// `value`), in bytes of UTF-8, checked before and after Unicode lower-casing.
pub const MAX_INDEXED_BYTES: usize = 1024;
/// Longest value of any other string attribute, in bytes of UTF-8.
pub const MAX_STRING_BYTES: usize = 8 * 1024;
/// Most values of one multi-valued attribute (Group `members` excepted).
pub const MAX_VALUES: usize = 100;
/// Largest resource, in bytes of compact JSON as stored: without `id`, `meta`, `groups` and
/// `members`.
pub const MAX_RESOURCE_BYTES: usize = 64 * 1024;

/// Attributes the store does not keep in the resource document (columns or rows), so they do not
/// count towards [`MAX_RESOURCE_BYTES`].
const NOT_IN_DOCUMENT: &[&str] = &["id", "meta", "groups", "members", "password"];

/// The multi-valued attribute exempt from [`MAX_VALUES`]: membership is stored as rows.
const UNBOUNDED: &str = "members";

/// Checks every attribute of a normalized resource and its size.
pub fn check_resource(schema: &ResourceSchema, resource: &Value) -> Result<(), ScimError> {
    let Value::Object(obj) = resource else {
        return Ok(());
    };
    for (key, value) in obj {
        check_top_level(schema, key, value, None)?;
    }
    check_size(obj)
}

/// Checks what a PATCH changed: every attribute whose value differs from `before`, and the size
/// when the resource grew. Attributes the PATCH left alone are not re-checked, so a resource
/// stored before these limits existed can still be deactivated.
pub(crate) fn check_patched(
    schema: &ResourceSchema,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (key, value) in after {
        if before.get(key) != Some(value) {
            check_top_level(schema, key, value, before.get(key))?;
        }
    }
    let size = document_size(after);
    if size > MAX_RESOURCE_BYTES && size > document_size(before) {
        return Err(too_large(size));
    }
    Ok(())
}

/// A member id (`members[].value`): a reference to a user's id, looked up in an index.
pub fn check_member_id(id: &str) -> Result<(), ScimError> {
    check_string("members.value", id, MAX_INDEXED_BYTES, true)
}

/// A string of a request that is not an attribute value but reaches the database (a member's
/// `display`): no NUL, at most [`MAX_STRING_BYTES`].
pub fn check_text(name: &str, value: &str) -> Result<(), ScimError> {
    check_string(name, value, MAX_STRING_BYTES, false)
}

/// Refuses a NUL character anywhere in `value` (strings and member names), naming where it is:
/// `name`, `name.sub`, `name[2].sub`.
pub(crate) fn check_no_nul(name: &str, value: &Value) -> Result<(), ScimError> {
    match value {
        Value::String(s) if s.contains('\0') => Err(nul_error(name)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_no_nul(&format!("{name}[{i}]"), v)),
        Value::Object(obj) => obj.iter().try_for_each(|(k, v)| {
            let child = format!("{name}.{k}");
            if k.contains('\0') {
                return Err(nul_error(&child));
            }
            check_no_nul(&child, v)
        }),
        _ => Ok(()),
    }
}

fn nul_error(name: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "`{}` contains a NUL character (U+0000), which cannot be stored",
        shown(name)
    ))
}

/// A name for an error detail: as is, or escaped when a client put control characters in it.
fn shown(name: &str) -> String {
    if name.contains(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_owned()
    }
}

/// One member of the resource: a core attribute, or an extension object whose attributes are
/// checked one by one (only those that changed, when `before` is given).
fn check_top_level(
    schema: &ResourceSchema,
    key: &str,
    value: &Value,
    before: Option<&Value>,
) -> Result<(), ScimError> {
    if key.contains('\0') {
        return Err(nul_error(key));
    }
    if let (Some(ext), Value::Object(inner)) = (schema.extension(key), value) {
        for (attr, v) in inner {
            if before.and_then(|b| b.get(attr)) != Some(v) {
                check_value(&format!("{}:{attr}", ext.id), attr, None, v, false)?;
            }
        }
        return Ok(());
    }
    check_value(key, key, None, value, true)
}

/// Whether the store indexes this core attribute (`sub` is the sub-attribute of a complex one).
fn is_indexed(attr: &str, sub: Option<&str>) -> bool {
    match sub {
        None => ["userName", "externalId", "displayName"].contains(&attr),
        Some("value") => ["emails", UNBOUNDED].contains(&attr),
        Some(_) => false,
    }
}

/// Walks one attribute's value. `attr` is the top-level attribute name and `sub` the sub-attribute
/// being walked, if any; `name` is the path shown in errors.
fn check_value(
    name: &str,
    attr: &str,
    sub: Option<&str>,
    value: &Value,
    core: bool,
) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            let indexed = core && is_indexed(attr, sub);
            let limit = if indexed {
                MAX_INDEXED_BYTES
            } else {
                MAX_STRING_BYTES
            };
            check_string(name, s, limit, indexed)
        }
        Value::Array(items) => {
            if items.len() > MAX_VALUES && !(core && sub.is_none() && attr == UNBOUNDED) {
                return Err(ScimError::invalid_value(format!(
                    "`{}` has {} values; at most {MAX_VALUES} are accepted",
                    shown(name),
                    items.len()
                )));
            }
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| check_value(&format!("{name}[{i}]"), attr, sub, v, core))
        }
        Value::Object(obj) => obj.iter().try_for_each(|(k, v)| {
            let child = format!("{name}.{k}");
            if k.contains('\0') {
                return Err(nul_error(&child));
            }
            // Only the first level below an attribute is a sub-attribute; anything deeper is
            // plain data.
            let next = if sub.is_none() {
                Some(k.as_str())
            } else {
                Some("")
            };
            check_value(&child, attr, next, v, core)
        }),
        _ => Ok(()),
    }
}

fn check_string(name: &str, s: &str, limit: usize, lowercased: bool) -> Result<(), ScimError> {
    if s.contains('\0') {
        return Err(nul_error(name));
    }
    let mut len = s.len();
    // The store's case-insensitive shadow column holds the lower-cased form, which can be longer.
    if lowercased && len <= limit && !s.is_ascii() {
        len = len.max(s.to_lowercase().len());
    }
    if len > limit {
        return Err(ScimError::invalid_value(format!(
            "`{}` is {len} bytes long{}; at most {limit} bytes are accepted",
            shown(name),
            if lowercased {
                " (UTF-8, lower-cased)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

fn too_large(size: usize) -> ScimError {
    ScimError::invalid_value(format!(
        "the resource is {size} bytes as JSON; at most {MAX_RESOURCE_BYTES} bytes are accepted"
    ))
}

fn check_size(obj: &Map<String, Value>) -> Result<(), ScimError> {
    let size = document_size(obj);
    if size > MAX_RESOURCE_BYTES {
        return Err(too_large(size));
    }
    Ok(())
}

/// Bytes of compact JSON the store would write for this resource.
fn document_size(obj: &Map<String, Value>) -> usize {
    let stored: std::collections::BTreeMap<&String, &Value> = obj
        .iter()
        .filter(|(k, _)| !NOT_IN_DOCUMENT.contains(&k.as_str()))
        .collect();
    let mut counter = ByteCounter(0);
    // Writing into a counter cannot fail; a serialization error would mean a non-JSON value,
    // which a `Value` never is.
    match serde_json::to_writer(&mut counter, &stored) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// Counts bytes instead of keeping them, to size a document without allocating it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
