#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::error::ScimType;
use crate::normalize::normalize_resource;
use crate::schema::ENTERPRISE_USER_SCHEMA as ENT;
use serde_json::json;

fn user(body: Value) -> Result<Value, ScimError> {
    normalize_resource(ResourceSchema::user(), body)
}

fn group(body: Value) -> Result<Value, ScimError> {
    normalize_resource(ResourceSchema::group(), body)
}

/// Asserts a 400 invalidValue whose detail contains every one of `needles`.
fn assert_refused(name: &str, result: Result<Value, ScimError>, needles: &[&str]) {
    let err = result.expect_err(name);
    assert_eq!(err.status, 400, "{name}: {err}");
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{name}: {err}");
    for needle in needles {
        assert!(err.detail.contains(needle), "{name}: {}", err.detail);
    }
}

#[test]
fn nul_is_refused_in_every_string_naming_the_attribute() {
    let cases: Vec<(&str, Result<Value, ScimError>, &str)> = vec![
        (
            "userName",
            user(json!({"userName": "a\u{0}b"})),
            "`userName`",
        ),
        (
            "displayName",
            user(json!({"userName": "a", "displayName": "\u{0}"})),
            "`displayName`",
        ),
        (
            "externalId",
            user(json!({"userName": "a", "externalId": "x\u{0}"})),
            "`externalId`",
        ),
        (
            "nested",
            user(json!({"userName": "a", "name": {"givenName": "G\u{0}"}})),
            "`name.givenName`",
        ),
        (
            "email value",
            user(
                json!({"userName": "a", "emails": [{"value": "ok@x.com"}, {"value": "a\u{0}@x.com"}]}),
            ),
            "`emails[1].value`",
        ),
        (
            "extension",
            user(json!({"userName": "a", ENT: {"department": "R\u{0}D"}})),
            "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`",
        ),
        (
            "group name",
            group(json!({"displayName": "Adm\u{0}ins"})),
            "`displayName`",
        ),
        (
            "member id",
            group(json!({"displayName": "g", "members": [{"value": "u\u{0}1"}]})),
            "`members[0].value`",
        ),
        (
            "member display",
            group(json!({"displayName": "g", "members": [{"value": "u1", "display": "\u{0}"}]})),
            "`members[0].display`",
        ),
    ];
    for (name, result, path) in cases {
        assert_refused(name, result, &[path, "NUL"]);
    }
}

#[test]
fn indexed_strings_are_bounded_after_lower_casing() {
    let at_limit = "a".repeat(MAX_INDEXED_BYTES);
    user(json!({"userName": at_limit})).unwrap();
    assert_refused(
        "userName one byte over",
        user(json!({"userName": "a".repeat(MAX_INDEXED_BYTES + 1)})),
        &["`userName`", "1025 bytes", "at most 1024"],
    );
    // 512 × "İ" is 1,024 bytes; lower-cased ("i̇") it is 1,536: too long for the shadow column.
    let dotted = "İ".repeat(MAX_INDEXED_BYTES / 2);
    assert_eq!(dotted.len(), MAX_INDEXED_BYTES);
    assert_refused(
        "userName growing when lower-cased",
        user(json!({"userName": dotted})),
        &["`userName`", "1536 bytes", "lower-cased"],
    );
    let long = "x".repeat(9 * 1024);
    let cases: Vec<(&str, Result<Value, ScimError>, &str)> = vec![
        (
            "externalId",
            user(json!({"userName": "a", "externalId": long})),
            "`externalId`",
        ),
        (
            "user displayName",
            user(json!({"userName": "a", "displayName": long})),
            "`displayName`",
        ),
        (
            "email",
            user(json!({"userName": "a", "emails": [{"value": "y".repeat(2700)}]})),
            "`emails[0].value`",
        ),
        (
            "group displayName",
            group(json!({"displayName": long})),
            "`displayName`",
        ),
        (
            "group externalId",
            group(json!({"displayName": "g", "externalId": long})),
            "`externalId`",
        ),
        (
            "member id",
            group(json!({"displayName": "g", "members": [{"value": long}]})),
            "`members[0].value`",
        ),
    ];
    for (name, result, path) in cases {
        assert_refused(name, result, &[path, "at most 1024 bytes"]);
    }
}

#[test]
fn other_strings_are_bounded() {
    let at_limit = "t".repeat(MAX_STRING_BYTES);
    user(json!({"userName": "a", "title": at_limit})).unwrap();
    assert_refused(
        "title",
        user(json!({"userName": "a", "title": "t".repeat(MAX_STRING_BYTES + 1)})),
        &["`title`", "at most 8192 bytes"],
    );
    assert_refused(
        "manager id",
        user(json!({"userName": "a", ENT: {"manager": "m".repeat(MAX_STRING_BYTES + 1)}})),
        &["manager.value`"],
    );
}

#[test]
fn multi_valued_user_attributes_are_bounded_but_members_are_not() {
    let values = |n: usize, key: &str| -> Value {
        (0..n)
            .map(|i| json!({"value": format!("{key}{i}@example.com")}))
            .collect()
    };
    user(json!({"userName": "a", "emails": values(MAX_VALUES, "e")})).unwrap();
    for attr in [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        let items: Value = (0..=MAX_VALUES)
            .map(|i| match attr {
                "addresses" => json!({"locality": format!("city {i}")}),
                _ => json!({"value": format!("v{i}")}),
            })
            .collect();
        assert_refused(
            attr,
            user(json!({"userName": "a", attr: items})),
            &[&format!("`{attr}` has 101 values"), "at most 100"],
        );
    }
    let members: Vec<Value> = (0..50_000)
        .map(|i| json!({"value": format!("user-{i}")}))
        .collect();
    group(json!({"displayName": "Everyone", "members": members})).unwrap();
}

#[test]
fn the_whole_resource_is_bounded_without_members() {
    // Nine phone numbers of 8,000 bytes: each value fits, the resource (≈72 KB) does not.
    let phones: Vec<Value> = (0..9)
        .map(|i| json!({"value": format!("{i}{}", "5".repeat(8000))}))
        .collect();
    assert_refused(
        "resource",
        user(json!({"userName": "a", "phoneNumbers": phones})),
        &["the resource is", "at most 65536 bytes"],
    );
    // Members are rows, not part of the document: 50,000 of them do not count.
    let members: Vec<Value> = (0..50_000)
        .map(|i| json!({"value": format!("{i:036}"), "display": "someone"}))
        .collect();
    group(json!({"displayName": "g", "members": members})).unwrap();
}

#[test]
fn check_patched_looks_only_at_what_changed() {
    let schema = ResourceSchema::user();
    let legacy = json!({"userName": "u".repeat(3000), "active": true});
    let before = legacy.as_object().unwrap().clone();
    let mut after = before.clone();
    after.insert("active".into(), json!(false));
    check_patched(schema, &before, &after).unwrap();
    after.insert("displayName".into(), json!("d\u{0}"));
    let err = check_patched(schema, &before, &after).unwrap_err();
    assert!(err.detail.contains("`displayName`"), "{}", err.detail);
}

#[test]
fn names_with_control_characters_are_escaped_in_details() {
    let err = check_no_nul("x", &json!({"a\u{0}b": 1})).unwrap_err();
    assert!(err.detail.contains("`x.a\\0b`"), "{}", err.detail);
    assert!(!err.detail.contains('\0'));
}
