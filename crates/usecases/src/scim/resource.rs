//! Stored rows ↔ SCIM resources: the columns a resource is indexed by, and the resource a row
//! answers with (`id`, `meta`, and the relations kept as rows: a user's `groups`, a group's
//! `members`).

use chrono::{DateTime, SecondsFormat, Utc};
use scim_core::error::ScimError;
use scim_core::list::JsonText;
use serde_json::{Map, Value, json};
use store::repo::scim_groups::{GroupColumns, MemberRef, ScimGroup};
use store::repo::scim_users::{EmailColumn, StoredUserRef, UserColumns};

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
pub fn user_resource(
    row: StoredUserRef<'_>,
    base: &str,
    groups: Option<&[(String, String)]>,
) -> Value {
    let location = format!("{base}/Users/{}", row.uid);
    let mut resource = with_meta(
        row.resource,
        row.uid,
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

/// A User as the API answers it with every stored attribute (the default projection), written
/// as text: `id`, `meta` and `groups` followed by the stored attributes spliced in as stored. The
/// stored text is [`stored_json`]'s: one object, without the keys written here. Equal, as JSON,
/// to [`user_resource`]'s value, without parsing the stored text.
pub fn user_json(
    row: StoredUserRef<'_>,
    base: &str,
    groups: Option<&[(String, String)]>,
) -> JsonText {
    fn string(out: &mut Vec<u8>, text: &str) {
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
    let stored = row.resource.trim();
    let Some(attributes) = stored
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return JsonText::of(&user_resource(row, base, groups));
    };
    let mut out = Vec::with_capacity(stored.len() + 320 + groups.map_or(0, |g| g.len() * 160));
    out.extend_from_slice(br#"{"id":"#);
    string(&mut out, row.uid);
    out.extend_from_slice(br#","meta":{"resourceType":"User","created":""#);
    out.extend_from_slice(timestamp(row.created_at).as_bytes());
    out.extend_from_slice(br#"","lastModified":""#);
    out.extend_from_slice(timestamp(row.updated_at).as_bytes());
    out.extend_from_slice(br#"","location":"#);
    string(&mut out, &format!("{base}/Users/{}", row.uid));
    out.extend_from_slice(br#","version":"#);
    string(&mut out, &etag(row.version));
    out.push(b'}');
    if let Some(groups) = groups {
        out.extend_from_slice(br#","groups":["#);
        for (i, (uid, name)) in groups.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"value":"#);
            string(&mut out, uid);
            out.extend_from_slice(br#","display":"#);
            string(&mut out, name);
            out.extend_from_slice(br#","$ref":"#);
            string(&mut out, &format!("{base}/Groups/{uid}"));
            out.extend_from_slice(br#","type":"direct"}"#);
        }
        out.push(b']');
    }
    if !attributes.trim().is_empty() {
        out.push(b',');
        out.extend_from_slice(attributes.as_bytes());
    }
    out.push(b'}');
    JsonText::written(out)
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
    use store::repo::scim_users::ScimUser;

    #[test]
    fn a_users_text_is_its_resource() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut row = ScimUser {
            id: store::ids::ScimUserId(7),
            uid: "u-\"1\"".into(),
            org_id: store::ids::OrgId(1),
            account_id: None,
            user_name: "ada".into(),
            user_name_normalized: "ada".into(),
            external_id: None,
            active: true,
            given_name: None,
            family_name: None,
            display_name: None,
            primary_email: None,
            primary_email_normalized: None,
            search: String::new(),
            resource: stored_json(
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada", "name": {"givenName": "Zo\u{eb}"}, "id": "not kept"}),
            ),
            version: 3,
            created_at: at("2026-01-02T03:04:05.678Z"),
            updated_at: at("2026-02-03T04:05:06Z"),
        };
        let groups = [
            ("g1".to_owned(), "Ops \"A\"".to_owned()),
            ("g2".to_owned(), String::new()),
        ];
        for (stored, groups) in [
            (row.resource.clone(), Some(&groups[..])),
            (row.resource.clone(), Some(&[][..])),
            (row.resource.clone(), None),
            (" {} ".to_owned(), Some(&groups[..])),
            ("not an object".to_owned(), None),
        ] {
            row.resource = stored;
            let text = user_json(row.stored(), "https://x/scim", groups);
            assert_eq!(
                text.to_value(),
                user_resource(row.stored(), "https://x/scim", groups),
                "{}",
                row.resource
            );
        }
    }

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
