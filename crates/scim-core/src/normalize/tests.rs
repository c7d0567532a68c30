#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::json;

fn user(body: Value) -> Result<Value, ScimError> {
    normalize_resource(ResourceSchema::user(), body)
}

#[test]
fn normalization_table() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "okta_create_user_with_null_id_and_empty_groups",
            json!({"schemas": [USER_SCHEMA], "id": null, "userName": "a@x.com", "active": true, "groups": [],
                   "name": {"givenName": "A", "familyName": "B"}, "emails": [{"primary": true, "value": "a@x.com", "type": "work"}]}),
            json!({"schemas": [USER_SCHEMA], "userName": "a@x.com", "active": true,
                   "name": {"givenName": "A", "familyName": "B"}, "emails": [{"primary": true, "value": "a@x.com", "type": "work"}]}),
        ),
        (
            "entra_create_user_string_booleans_and_enterprise",
            json!({"schemas": [USER_SCHEMA, ENT], "externalId": "e1", "userName": "u@x.com", "active": "False",
                   "emails": [{"primary": "True", "type": "work", "value": "u@x.com"}],
                   "meta": {"resourceType": "User"}, ENT: {"employeeNumber": 42, "manager": "m1"}}),
            json!({"schemas": [USER_SCHEMA, ENT], "externalId": "e1", "userName": "u@x.com", "active": false,
                   "emails": [{"primary": true, "type": "work", "value": "u@x.com"}],
                   ENT: {"employeeNumber": "42", "manager": {"value": "m1"}}}),
        ),
        (
            "onelogin_emails_as_object_and_legacy_urns",
            json!({"schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"], "userName": "o@x.com",
                   "emails": {"value": "o@x.com", "type": "work"}, "urn:scim:schemas:extension:enterprise:2.0": {"department": "Ops"}}),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "o@x.com", "emails": [{"value": "o@x.com", "type": "work"}],
                   ENT: {"department": "Ops"}}),
        ),
        (
            "names_in_any_case_dotted_and_urn_qualified_keys",
            json!({"USERNAME": "c", "Name.GivenName": "G", "name": {"familyName": "F"}, format!("{ENT}:costCenter"): "cc",
                   format!("{USER_SCHEMA}:title"): "T", "unknownThing": 1}),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "c", "name": {"givenName": "G", "familyName": "F"}, "title": "T",
                   ENT: {"costCenter": "cc"}}),
        ),
        (
            "password_is_write_only_and_dropped",
            json!({"userName": "p", "password": "hunter2"}),
            json!({"schemas": [USER_SCHEMA], "userName": "p"}),
        ),
        (
            "entra_roles_json_string",
            json!({"userName": "r", "roles": "[{\"value\":\"Admin\",\"primary\":true}]"}),
            json!({"schemas": [USER_SCHEMA], "userName": "r", "roles": [{"value": "Admin", "primary": true}]}),
        ),
        (
            "second_primary_demoted",
            json!({"userName": "p", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
            json!({"schemas": [USER_SCHEMA], "userName": "p", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]}),
        ),
    ];
    for (name, body, expected) in cases {
        assert_eq!(
            user(body).unwrap_or_else(|e| panic!("{name}: {e}")),
            expected,
            "{name}"
        );
    }
}

#[test]
fn normalization_errors() {
    let cases: Vec<(&str, Value, ScimType, &str)> = vec![
        (
            "missing_user_name",
            json!({"displayName": "x"}),
            ScimType::InvalidValue,
            "`userName` is required",
        ),
        (
            "not_an_object",
            json!(["userName"]),
            ScimType::InvalidSyntax,
            "must be a JSON object",
        ),
        (
            "schemas_not_list",
            json!({"userName": "a", "schemas": "x"}),
            ScimType::InvalidSyntax,
            "`schemas` must be a list",
        ),
        (
            "group_schema_on_users",
            json!({"userName": "a", "schemas": [GROUP_SCHEMA]}),
            ScimType::InvalidSyntax,
            "does not belong to User",
        ),
        (
            "bad_boolean",
            json!({"userName": "a", "active": "yes"}),
            ScimType::InvalidValue,
            "`active` must be a boolean",
        ),
        (
            "bad_nested_boolean",
            json!({"userName": "a", "emails": [{"value": "x", "primary": "maybe"}]}),
            ScimType::InvalidValue,
            "`emails.primary`",
        ),
        (
            "extension_not_object",
            json!({"userName": "a", ENT: "x"}),
            ScimType::InvalidSyntax,
            "must be an object",
        ),
    ];
    for (name, body, scim_type, detail) in cases {
        let err = user(body).expect_err(name);
        assert_eq!(err.scim_type, Some(scim_type), "{name}: {err}");
        assert!(err.detail.contains(detail), "{name}: {}", err.detail);
    }
}

#[test]
fn entra_create_group_with_microsoft_schema() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0", "displayName": "Group1DisplayName", "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u1"}],
    });
    let mut g = normalize_resource(ResourceSchema::group(), body).unwrap();
    assert_eq!(g["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(take_members(&mut g), vec!["u1", "u2"]);
    assert_eq!(
        g,
        json!({"schemas": [GROUP_SCHEMA], "externalId": "8aa1a0c0", "displayName": "Group1DisplayName"})
    );
}

#[test]
fn group_requires_display_name_and_member_values() {
    let err = normalize_resource(ResourceSchema::group(), json!({"members": []})).unwrap_err();
    assert!(err.detail.contains("`displayName` is required"));
    let err = normalize_resource(
        ResourceSchema::group(),
        json!({"displayName": "g", "members": [{"display": "x"}]}),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.contains("non-empty `value`"));
}
