//! Stored rows ↔ SCIM resources: the columns a resource is indexed by, and the resource a row
//! answers with (`id`, `meta`, and the relations kept as rows: a user's `groups`, a group's
//! `members`).

use chrono::{DateTime, SecondsFormat, Utc};
use scim_core::error::ScimError;
use serde_json::{Map, Value, json};
use store::repo::scim_groups::{GroupColumns, MemberRef, ScimGroup};
use store::repo::scim_users::{EmailColumn, ScimUser, UserColumns};

/// Attributes that are never stored in the resource JSON: computed from columns or rows
/// (`id`, `meta`, `groups`, `members`), or write-only (`password`).
const NOT_STORED: &[&str] = &["id", "meta", "groups", "members", "password"];

/// The weak ETag of a version; also `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn text(resource: &Value, key: &str) -> Option<String> {
    resource.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The resource as stored: its attributes without [`NOT_STORED`], written straight from the
/// resource (the same text as a copy of the object without them, without making the copy).
fn stored_json(resource: &Value) -> String {
    struct Stored<'a>(Option<&'a Map<String, Value>>);
    impl serde::Serialize for Stored<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(None)?;
            for (key, value) in self.0.into_iter().flatten() {
                if !NOT_STORED.contains(&key.as_str()) {
                    map.serialize_entry(key, value)?;
                }
            }
            map.end()
        }
    }
    serde_json::to_string(&Stored(resource.as_object())).unwrap_or_else(|_| "{}".to_owned())
}

/// The columns of a normalized User resource.
pub fn user_columns(resource: &Value) -> Result<UserColumns, ScimError> {
    let user_name = text(resource, "userName")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let name = resource.get("name");
    let emails = resource
        .get("emails")
        .and_then(Value::as_array)
        .map(|emails| {
            emails
                .iter()
                .filter_map(|e| {
                    Some(EmailColumn {
                        value: e.get("value")?.as_str()?.trim().to_owned(),
                        kind: e.get("type").and_then(Value::as_str).map(str::to_owned),
                        primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .filter(|e| !e.value.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(UserColumns {
        user_name,
        external_id: text(resource, "externalId"),
        active: resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        given_name: name.and_then(|n| text(n, "givenName")),
        family_name: name.and_then(|n| text(n, "familyName")),
        display_name: text(resource, "displayName"),
        emails,
        resource: stored_json(resource),
    })
}

/// The columns of a normalized Group resource.
pub fn group_columns(resource: &Value) -> Result<GroupColumns, ScimError> {
    let display_name = text(resource, "displayName")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    Ok(GroupColumns {
        display_name,
        external_id: text(resource, "externalId"),
        resource: stored_json(resource),
    })
}

fn with_meta(
    stored: &str,
    uid: &str,
    kind: &str,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    version: i64,
    location: String,
) -> Map<String, Value> {
    let mut resource = serde_json::from_str::<Map<String, Value>>(stored).unwrap_or_default();
    resource.insert("id".into(), json!(uid));
    resource.insert(
        "meta".into(),
        json!({
            "resourceType": kind,
            "created": timestamp(created),
            "lastModified": timestamp(modified),
            "location": location,
            "version": etag(version),
        }),
    );
    resource
}

/// A User as the API answers it; `groups` only when loaded.
pub fn user_resource(row: &ScimUser, base: &str, groups: Option<&[(String, String)]>) -> Value {
    let location = format!("{base}/Users/{}", row.uid);
    let mut resource = with_meta(
        &row.resource,
        &row.uid,
        "User",
        row.created_at,
        row.updated_at,
        row.version,
        location,
    );
    if let Some(groups) = groups {
        let groups: Vec<Value> = groups
            .iter()
            .map(|(uid, name)| json!({"value": uid, "display": name, "$ref": format!("{base}/Groups/{uid}"), "type": "direct"}))
            .collect();
        resource.insert("groups".into(), Value::Array(groups));
    }
    Value::Object(resource)
}

/// A Group as the API answers it; `members` only when loaded.
pub fn group_resource(row: &ScimGroup, base: &str, members: Option<&[MemberRef]>) -> Value {
    let location = format!("{base}/Groups/{}", row.uid);
    let mut resource = with_meta(
        &row.resource,
        &row.uid,
        "Group",
        row.created_at,
        row.updated_at,
        row.version,
        location,
    );
    if let Some(members) = members {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m.user_uid, "display": m.display, "$ref": format!("{base}/Users/{}", m.user_uid), "type": "User"}))
            .collect();
        resource.insert("members".into(), Value::Array(members));
    }
    Value::Object(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_is_the_resource_without_what_is_not_stored() {
        let resource = json!({"userName": "ada", "id": "x", "meta": {"version": "W/\"1\""},
            "groups": [], "password": "secret", "emails": [{"value": "a@b.c"}], "zz": "\u{e9}\""});
        let mut copy = resource.as_object().cloned().unwrap();
        for key in NOT_STORED {
            copy.remove(*key);
        }
        assert_eq!(stored_json(&resource), Value::Object(copy).to_string());
        assert_eq!(stored_json(&json!("not an object")), "{}");
    }
}
