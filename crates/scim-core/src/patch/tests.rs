#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER_SCHEMA as ENT, USER_SCHEMA};
use serde_json::json;

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": "2819c223", "userName": "bjensen", "active": true, "displayName": "Babs",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"1\""},
    })
}

fn group() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Admins"})
}

fn req(ops: Value) -> PatchRequest {
    serde_json::from_value(json!({"schemas": [crate::schema::PATCH_OP], "Operations": ops}))
        .unwrap()
}

fn patch_user(ops: Value) -> Result<PatchOutcome, ScimError> {
    apply_patch(ResourceSchema::user(), &user(), &req(ops))
}

fn patch_group(ops: Value) -> Result<PatchOutcome, ScimError> {
    apply_patch(ResourceSchema::group(), &group(), &req(ops))
}

fn attrs(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// (test name, operations, expected pointer → value pairs, expected changed attributes)
type Case = (
    &'static str,
    Value,
    Vec<(&'static str, Value)>,
    Vec<&'static str>,
);

#[test]
fn user_patch_table() {
    let cases: Vec<Case> = vec![
        (
            "okta_patch_active_false_pathless",
            json!([{"op": "replace", "value": {"active": false}}]),
            vec![("/active", json!(false))],
            vec!["active"],
        ),
        (
            "entra_patch_active_false_as_string",
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            vec![("/active", json!(false))],
            vec!["active"],
        ),
        (
            "okta_patch_active_false_as_string",
            json!([{"op": "replace", "value": {"active": "False"}}]),
            vec![("/active", json!(false))],
            vec!["active"],
        ),
        (
            "entra_capitalized_ops",
            json!([{"op": "Add", "path": "title", "value": "CEO"}, {"op": "Remove", "path": "displayName"}]),
            vec![("/title", json!("CEO")), ("/displayName", Value::Null)],
            vec!["title", "displayName"],
        ),
        (
            "entra_add_sub_attribute",
            json!([{"op": "Add", "path": "name.givenName", "value": "Babs"}]),
            vec![(
                "/name",
                json!({"givenName": "Babs", "familyName": "Jensen"}),
            )],
            vec!["name"],
        ),
        (
            "entra_pathless_dotted_keys",
            json!([{"op": "Replace", "value": {"name.givenName": "B", "name.familyName": "J", "displayName": "BJ"}}]),
            vec![
                ("/name", json!({"givenName": "B", "familyName": "J"})),
                ("/displayName", json!("BJ")),
            ],
            vec!["displayName", "name"],
        ),
        (
            "entra_pathless_urn_qualified_key",
            json!([{"op": "Add", "value": {format!("{ENT}:employeeNumber"): "701984"}}]),
            vec![
                (
                    &*Box::leak(
                        format!("/{}/employeeNumber", ENT.replace('/', "~1")).into_boxed_str(),
                    ),
                    json!("701984"),
                ),
                ("/schemas", json!([USER_SCHEMA, ENT])),
            ],
            vec![&*Box::leak(
                format!("{ENT}:employeeNumber").into_boxed_str(),
            )],
        ),
        (
            "okta_pathless_extension_object",
            json!([{"op": "replace", "value": {ENT: {"department": "Tours"}}}]),
            vec![(
                &*Box::leak(format!("/{ENT}/department").into_boxed_str()),
                json!("Tours"),
            )],
            vec![&*Box::leak(format!("{ENT}:department").into_boxed_str())],
        ),
        (
            "entra_manager_as_bare_string",
            json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "26118915"}]),
            vec![(
                &*Box::leak(format!("/{ENT}/manager").into_boxed_str()),
                json!({"value": "26118915"}),
            )],
            vec![&*Box::leak(format!("{ENT}:manager").into_boxed_str())],
        ),
        (
            "okta_manager_as_object",
            json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": "26118915", "displayName": "ignored readOnly"}}]),
            vec![(
                &*Box::leak(format!("/{ENT}/manager").into_boxed_str()),
                json!({"value": "26118915"}),
            )],
            vec![&*Box::leak(format!("{ENT}:manager").into_boxed_str())],
        ),
        (
            "add_on_single_valued_means_replace",
            json!([{"op": "add", "path": "displayName", "value": "New"}]),
            vec![("/displayName", json!("New"))],
            vec!["displayName"],
        ),
        (
            "entra_replace_filtered_email_that_matches_nothing_creates_it",
            json!([{"op": "Replace", "path": "emails[type eq \"home\"].value", "value": "b@home.org"}]),
            vec![("/emails/1", json!({"type": "home", "value": "b@home.org"}))],
            vec!["emails"],
        ),
        (
            "entra_replace_filtered_email_value",
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
            vec![
                ("/emails/0/value", json!("new@example.com")),
                ("/emails/0/primary", json!(true)),
            ],
            vec!["emails"],
        ),
        (
            "okta_add_filtered_phone_creates_element",
            json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]),
            vec![(
                "/phoneNumbers",
                json!([{"type": "mobile", "value": "+1 555"}]),
            )],
            vec!["phoneNumbers"],
        ),
        (
            "entra_address_sub_attribute_by_filter",
            json!([{"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}, {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"}]),
            vec![(
                "/addresses",
                json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}]),
            )],
            vec!["addresses"],
        ),
        (
            "remove_filtered_email",
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
            vec![("/emails", Value::Null)],
            vec!["emails"],
        ),
        (
            "remove_filtered_that_matches_nothing_is_noop",
            json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
            vec![("/emails/0/type", json!("work"))],
            vec![],
        ),
        (
            "add_email_appends_and_new_primary_wins",
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.org", "type": "home", "primary": "True"}]}]),
            vec![
                ("/emails/0/primary", json!(false)),
                ("/emails/1/primary", json!(true)),
            ],
            vec!["emails"],
        ),
        (
            "add_existing_email_is_noop",
            json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
            vec![("/emails/0/value", json!("bjensen@example.com"))],
            vec![],
        ),
        (
            "replace_emails_replaces_list",
            json!([{"op": "replace", "path": "emails", "value": [{"value": "z@x.org"}]}]),
            vec![("/emails", json!([{"value": "z@x.org"}]))],
            vec!["emails"],
        ),
        (
            "onelogin_emails_as_object",
            json!([{"op": "replace", "value": {"emails": {"value": "z@x.org", "type": "work"}}}]),
            vec![("/emails", json!([{"value": "z@x.org", "type": "work"}]))],
            vec!["emails"],
        ),
        (
            "remove_email_by_value_list",
            json!([{"op": "remove", "path": "emails", "value": [{"value": "BJENSEN@example.com"}]}]),
            vec![("/emails", Value::Null)],
            vec!["emails"],
        ),
        (
            "readonly_in_value_ignored",
            json!([{"op": "replace", "value": {"id": "evil", "meta": {"version": "x"}, "groups": [{"value": "g"}], "nickName": "B"}}]),
            vec![
                ("/id", json!("2819c223")),
                ("/meta/version", json!("W/\"1\"")),
                ("/nickName", json!("B")),
                ("/groups", Value::Null),
            ],
            vec!["nickName"],
        ),
        (
            "unknown_attributes_ignored",
            json!([{"op": "add", "value": {"customAttr": 1, "urn:example:ext:1.0:User:foo": "x"}}, {"op": "replace", "path": "favouriteColour", "value": "blue"}]),
            vec![("/customAttr", Value::Null)],
            vec![],
        ),
        (
            "password_accepted_never_stored",
            json!([{"op": "replace", "path": "password", "value": "hunter2"}, {"op": "replace", "value": {"password": "x"}}]),
            vec![("/password", Value::Null)],
            vec![],
        ),
        (
            "null_value_unassigns",
            json!([{"op": "replace", "path": "displayName", "value": null}, {"op": "replace", "value": {"name": {"familyName": null}}}]),
            vec![
                ("/displayName", Value::Null),
                ("/name", json!({"givenName": "Barbara"})),
            ],
            vec!["displayName", "name"],
        ),
        (
            "remove_sub_attribute",
            json!([{"op": "remove", "path": "name.familyName"}]),
            vec![("/name", json!({"givenName": "Barbara"}))],
            vec!["name"],
        ),
        (
            "empty_operations_is_noop",
            json!([]),
            vec![("/userName", json!("bjensen"))],
            vec![],
        ),
        (
            "same_value_is_no_change",
            json!([{"op": "replace", "path": "active", "value": true}]),
            vec![],
            vec![],
        ),
        (
            "entra_roles_as_json_encoded_string",
            json!([{"op": "Add", "path": "roles", "value": "[{\"value\":\"Admin\",\"primary\":true,\"type\":\"WindowsAzureActiveDirectoryRole\"}]"}]),
            vec![(
                "/roles",
                json!([{"value": "Admin", "primary": true, "type": "WindowsAzureActiveDirectoryRole"}]),
            )],
            vec!["roles"],
        ),
        (
            "entra_roles_value_encoded_object",
            json!([{"op": "Add", "path": "roles", "value": [{"value": "{\"id\":\"06b0\",\"value\":\"Admin\",\"displayName\":\"Administrator\"}"}]}]),
            vec![(
                "/roles",
                json!([{"value": "Admin", "display": "Administrator"}]),
            )],
            vec!["roles"],
        ),
        (
            "case_insensitive_attribute_names",
            json!([{"op": "replace", "path": "DISPLAYNAME", "value": "X"}, {"op": "replace", "value": {"NickName": "N"}}]),
            vec![("/displayName", json!("X")), ("/nickName", json!("N"))],
            vec!["displayName", "nickName"],
        ),
        (
            "remove_extension_attribute_drops_empty_extension",
            json!([{"op": "add", "path": format!("{ENT}:department"), "value": "D"}, {"op": "remove", "path": format!("{ENT}:department")}]),
            vec![("/schemas", json!([USER_SCHEMA]))],
            vec![],
        ),
    ];
    for (name, ops, expected, changed) in cases {
        let out = patch_user(ops).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (pointer, value) in &expected {
            let actual = out
                .resource
                .pointer(pointer)
                .cloned()
                .unwrap_or(Value::Null);
            assert_eq!(&actual, value, "{name}: {pointer} in {}", out.resource);
        }
        assert_eq!(out.changes.attributes, attrs(&changed), "{name}");
        assert!(
            out.changes.members_added.is_empty() && !out.changes.members_cleared,
            "{name}"
        );
    }
}

#[test]
fn user_patch_errors() {
    let cases: Vec<(&str, Value, ScimType, &str)> = vec![
        (
            "remove_without_path",
            json!([{"op": "remove"}]),
            ScimType::NoTarget,
            "needs a `path`",
        ),
        (
            "readonly_by_path",
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            ScimType::Mutability,
            "`id` is readOnly",
        ),
        (
            "readonly_sub_by_path",
            json!([{"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "x"}]),
            ScimType::Mutability,
            "readOnly",
        ),
        (
            "required_removed",
            json!([{"op": "remove", "path": "userName"}]),
            ScimType::InvalidValue,
            "`userName` is required",
        ),
        (
            "bad_boolean",
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            ScimType::InvalidValue,
            "`active` must be a boolean",
        ),
        (
            "bad_path_syntax",
            json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]),
            ScimType::InvalidPath,
            "at character",
        ),
        (
            "filter_on_single_valued",
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
            "multi-valued complex",
        ),
        (
            "unknown_sub_in_filter",
            json!([{"op": "replace", "path": "emails[foo eq \"x\"].value", "value": "x"}]),
            ScimType::InvalidFilter,
            "not a sub-attribute",
        ),
        (
            "non_equality_filter_matching_nothing",
            json!([{"op": "replace", "path": "emails[type ne \"work\"].value", "value": "x"}]),
            ScimType::NoTarget,
            "plain `eq`",
        ),
        (
            "ambiguous_multi_sub",
            json!([{"op": "replace", "path": "emails.value", "value": "x"}]),
            ScimType::InvalidPath,
            "select values with a filter",
        ),
        (
            "pathless_non_object",
            json!([{"op": "add", "value": "x"}]),
            ScimType::InvalidValue,
            "object value",
        ),
        (
            "complex_given_number",
            json!([{"op": "add", "path": "name", "value": 5}]),
            ScimType::InvalidValue,
            "`name` must be an object",
        ),
        (
            "several_values_for_single_valued",
            json!([{"op": "add", "path": "title", "value": ["a", "b"]}]),
            ScimType::InvalidValue,
            "single-valued",
        ),
    ];
    for (name, ops, scim_type, detail) in cases {
        let err = patch_user(ops).expect_err(name);
        assert_eq!(err.scim_type, Some(scim_type), "{name}: {err}");
        assert!(err.detail.contains(detail), "{name}: {}", err.detail);
        // Invariants (required, immutable) are checked on the result of the whole request.
        if name != "required_removed" {
            assert!(
                err.detail.starts_with("Operations[0]"),
                "{name}: {}",
                err.detail
            );
        }
    }
}

#[test]
fn failing_operation_leaves_resource_untouched() {
    let before = user();
    let request = req(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "active", "value": "maybe"},
    ]));
    let err = apply_patch(ResourceSchema::user(), &before, &request).unwrap_err();
    assert!(
        err.detail.starts_with("Operations[1] (replace active)"),
        "{}",
        err.detail
    );
    assert_eq!(before, user());
}

#[test]
fn op_names_any_case_and_unknown_op_rejected() {
    let r: PatchRequest = serde_json::from_value(
        json!({"Operations": [{"op": "REPLACE", "path": "title", "value": "x"}]}),
    )
    .unwrap();
    assert_eq!(r.operations[0].op, PatchOpKind::Replace);
    let err =
        PatchRequest::from_json(br#"{"Operations":[{"op":"move","path":"title"}]}"#).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    assert!(
        err.detail.contains("unknown PATCH op \"move\""),
        "{}",
        err.detail
    );
    let empty = PatchRequest::from_json(
        br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#,
    )
    .unwrap();
    let out = apply_patch(ResourceSchema::user(), &user(), &empty).unwrap();
    assert!(out.changes.is_empty());
    assert_eq!(out.resource, user());
}

#[test]
fn immutable_attribute_cannot_change_once_set() {
    let mut schema = ResourceSchema::user().clone();
    if let Some(a) = schema
        .core
        .attributes
        .iter_mut()
        .find(|a| a.name == "userType")
    {
        a.mutability = Mutability::Immutable;
    }
    let set = apply_patch(
        &schema,
        &user(),
        &req(json!([{"op": "add", "path": "userType", "value": "Employee"}])),
    )
    .unwrap();
    let err = apply_patch(
        &schema,
        &set.resource,
        &req(json!([{"op": "replace", "path": "userType", "value": "Contractor"}])),
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
    assert!(
        apply_patch(
            &schema,
            &set.resource,
            &req(json!([{"op": "replace", "path": "userType", "value": "Employee"}]))
        )
        .is_ok()
    );
}

fn members(out: &PatchOutcome) -> (Vec<&str>, Vec<&str>, bool) {
    (
        out.changes
            .members_added
            .iter()
            .map(String::as_str)
            .collect(),
        out.changes
            .members_removed
            .iter()
            .map(String::as_str)
            .collect(),
        out.changes.members_cleared,
    )
}

#[test]
fn group_member_table() {
    type MemberCase = (
        &'static str,
        Value,
        Vec<&'static str>,
        Vec<&'static str>,
        bool,
    );
    let cases: Vec<MemberCase> = vec![
        (
            "okta_add_members",
            json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "a"}, {"value": "u2"}]}]),
            vec!["u1", "u2"],
            vec![],
            false,
        ),
        (
            "entra_add_member_capitalized",
            json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}]}]),
            vec!["u1"],
            vec![],
            false,
        ),
        (
            "entra_remove_member_by_value_list",
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
            vec![],
            vec!["u1", "u2"],
            false,
        ),
        (
            "okta_remove_member_by_value_path",
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
            vec![],
            vec!["u1"],
            false,
        ),
        (
            "entra_remove_member_by_value_path",
            json!([{"op": "Remove", "path": "members[value eq \"u3\"]"}]),
            vec![],
            vec!["u3"],
            false,
        ),
        (
            "remove_members_by_or_of_values",
            json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
            vec![],
            vec!["a", "b"],
            false,
        ),
        (
            "okta_replace_members_list",
            json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}]),
            vec!["u9"],
            vec![],
            true,
        ),
        (
            "onelogin_replace_members_empty",
            json!([{"op": "replace", "path": "members", "value": []}]),
            vec![],
            vec![],
            true,
        ),
        (
            "remove_all_members",
            json!([{"op": "remove", "path": "members"}]),
            vec![],
            vec![],
            true,
        ),
        (
            "okta_pathless_replace_with_members",
            json!([{"op": "replace", "value": {"id": "g1", "displayName": "Admins", "members": [{"value": "u1"}]}}]),
            vec!["u1"],
            vec![],
            true,
        ),
        (
            "add_then_remove_cancels",
            json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}, {"op": "remove", "path": "members[value eq \"u1\"]"}]),
            vec!["u2"],
            vec!["u1"],
            false,
        ),
        (
            "remove_then_add_readds",
            json!([{"op": "remove", "path": "members", "value": [{"value": "u1"}]}, {"op": "add", "path": "members", "value": [{"value": "u1"}]}]),
            vec!["u1"],
            vec![],
            false,
        ),
        (
            "duplicate_adds_deduplicated",
            json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u1"}]}]),
            vec!["u1"],
            vec![],
            false,
        ),
        (
            "clear_then_remove_only_unadds",
            json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}, {"op": "remove", "path": "members[value eq \"u1\"]"}]),
            vec![],
            vec![],
            true,
        ),
        (
            "remove_with_empty_value_list_removes_nothing",
            json!([{"op": "remove", "path": "members", "value": []}]),
            vec![],
            vec![],
            false,
        ),
    ];
    for (name, ops, added, removed, cleared) in cases {
        let out = patch_group(ops).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(members(&out), (added, removed, cleared), "{name}");
        assert!(
            out.resource.get("members").is_none(),
            "{name}: members leaked into resource"
        );
        assert!(
            out.changes.attributes.is_empty(),
            "{name}: {:?}",
            out.changes.attributes
        );
    }
}

#[test]
fn okta_group_rename_with_readonly_id() {
    let out =
        patch_group(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Renamed"}}]))
            .unwrap();
    assert_eq!(out.resource["displayName"], "Renamed");
    assert_eq!(out.changes.attributes, attrs(&["displayName"]));
}

#[test]
fn group_member_errors() {
    let cases: Vec<(&str, Value, ScimType, &str)> = vec![
        (
            "filter_on_display",
            json!([{"op": "remove", "path": "members[display eq \"Bob\"]"}]),
            ScimType::InvalidFilter,
            "only `value eq",
        ),
        (
            "filter_with_and",
            json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]),
            ScimType::InvalidFilter,
            "only `value eq",
        ),
        (
            "filter_co",
            json!([{"op": "remove", "path": "members[value co \"a\"]"}]),
            ScimType::InvalidFilter,
            "value list",
        ),
        (
            "add_by_filter",
            json!([{"op": "add", "path": "members[value eq \"a\"]", "value": {"value": "a"}}]),
            ScimType::InvalidPath,
            "only for `remove`",
        ),
        (
            "member_without_value",
            json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
            ScimType::InvalidValue,
            "non-empty `value`",
        ),
        (
            "member_sub_attribute",
            json!([{"op": "replace", "path": "members.display", "value": "x"}]),
            ScimType::InvalidPath,
            "whole members",
        ),
        (
            "remove_display_name",
            json!([{"op": "remove", "path": "displayName"}]),
            ScimType::InvalidValue,
            "required",
        ),
    ];
    for (name, ops, scim_type, detail) in cases {
        let err = patch_group(ops).expect_err(name);
        assert_eq!(err.scim_type, Some(scim_type), "{name}: {err}");
        assert!(err.detail.contains(detail), "{name}: {}", err.detail);
    }
}

#[test]
fn okta_and_entra_deactivate_then_reactivate() {
    let off = patch_user(json!([{"op": "replace", "value": {"active": false}}])).unwrap();
    let on = apply_patch(
        ResourceSchema::user(),
        &off.resource,
        &req(json!([{"op": "Replace", "path": "active", "value": "True"}])),
    )
    .unwrap();
    assert_eq!(on.resource["active"], true);
    assert_eq!(on.changes.attributes, attrs(&["active"]));
}

#[test]
fn whole_extension_paths_add_replace_and_remove() {
    let ext = ENT;
    let added = patch_user(
        json!([{"op": "add", "path": ext, "value": {"employeeNumber": "42", "department": "R&D"}}]),
    )
    .unwrap();
    assert_eq!(added.resource[ext]["employeeNumber"], "42");
    assert!(
        added.resource["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == ext)
    );
    let replaced = apply_patch(
        ResourceSchema::user(),
        &added.resource,
        &req(json!([{"op": "replace", "path": ext, "value": {"costCenter": "7"}}])),
    )
    .unwrap();
    assert_eq!(
        replaced.resource[ext],
        json!({"costCenter": "7"}),
        "replace sets exactly the object"
    );
    let removed = apply_patch(
        ResourceSchema::user(),
        &replaced.resource,
        &req(json!([{"op": "remove", "path": ext}])),
    )
    .unwrap();
    assert!(removed.resource.get(ext).is_none());
    assert!(
        !removed.resource["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == ext)
    );
    assert!(patch_user(json!([{"op": "add", "path": ext, "value": "nope"}])).is_err());
}

#[test]
fn member_display_sent_by_the_client_is_kept() {
    let out = patch_group(json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "Ann"}, {"value": "u2"}]}])).unwrap();
    assert_eq!(
        out.changes.member_displays.get("u1").map(String::as_str),
        Some("Ann")
    );
    assert!(!out.changes.member_displays.contains_key("u2"));
}

/// Entra's documented forms of setting a user's manager (the SCIM 2.0 compliance page and the
/// older "update user" example): each stores `manager.value` in the Enterprise User extension.
#[test]
fn entra_manager_forms_all_store_the_manager() {
    let pointer = format!("/{ENT}/manager/value");
    let forms = [
        json!({"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "m-1"}]}),
        json!({"op": "Add", "path": "manager", "value": [{"$ref": "https://x/scim/Users/m-1", "value": "m-1"}]}),
        json!({"op": "Replace", "path": "manager", "value": [{"$ref": null, "value": "m-1"}]}),
        json!({"op": "Replace", "path": format!("{ENT}:manager"), "value": "m-1"}),
        json!({"op": "Add", "path": format!("{ENT}:manager"), "value": "m-1"}),
        json!({"op": "Replace", "path": format!("{ENT}:manager"), "value": [{"$ref": null, "value": "m-1"}]}),
        json!({"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m-1"}),
        json!({"op": "replace", "path": "manager.value", "value": "m-1"}),
        json!({"op": "Add", "value": {"manager": "m-1"}}),
        json!({"op": "Add", "value": {format!("{ENT}:manager"): "m-1"}}),
    ];
    for form in forms {
        let out = patch_user(json!([form])).unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(
            out.resource.pointer(&pointer),
            Some(&json!("m-1")),
            "{form}: {}",
            out.resource
        );
        assert!(
            out.resource["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!(ENT)),
            "{form}: the extension is listed"
        );
        assert_eq!(
            out.changes.attributes,
            attrs(&[&format!("{ENT}:manager")]),
            "{form}"
        );
    }
    // And the documented removal forms take it away again.
    let mut managed = user();
    managed[ENT] = json!({"manager": {"value": "m-1"}});
    for form in [
        json!({"op": "Remove", "path": format!("{ENT}:manager")}),
        json!({"op": "Remove", "path": "manager", "value": [{"$ref": null, "value": "m-1"}]}),
        json!({"op": "Replace", "path": "manager", "value": [{"$ref": null, "value": null}]}),
    ] {
        let out = apply_patch(ResourceSchema::user(), &managed, &req(json!([form])))
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(out.resource.pointer(&pointer), None, "{form}");
    }
}

/// A value the engine recognizes the attribute of but cannot store anything from is an error,
/// never an acknowledged no-op (or worse, an unassignment).
#[test]
fn values_with_nothing_to_store_are_errors() {
    for ops in [
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": null, "displayName": "Boss"}]}]),
        json!([{"op": "replace", "path": "name", "value": {"nickname": "B"}}]),
        json!([{"op": "add", "path": "emails", "value": [{"label": "x"}]}]),
        json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"label": "x"}}]),
    ] {
        let err = patch_user(ops.clone()).expect_err(&ops.to_string());
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{ops}: {err}");
        assert!(err.detail.contains("nothing"), "{ops}: {}", err.detail);
    }
}

#[test]
fn nul_is_refused_in_every_patch_value_naming_the_path() {
    let cases = [
        (
            json!([{"op": "replace", "path": "displayName", "value": "B\u{0}"}]),
            "`displayName`",
        ),
        (
            json!([{"op": "replace", "value": {"name": {"givenName": "\u{0}"}}}]),
            "`name.givenName`",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "a\u{0}@x.com"}]}]),
            "`emails[0].value`",
        ),
        // Even under an attribute the engine ignores: nothing with a NUL is acknowledged.
        (
            json!([{"op": "add", "value": {"unknownAttr": "\u{0}"}}]),
            "`unknownAttr`",
        ),
        (
            json!([{"op": "add", "path": format!("{ENT}:department"), "value": "\u{0}"}]),
            "department`",
        ),
    ];
    for (ops, named) in cases {
        let err = patch_user(ops.clone()).expect_err(&ops.to_string());
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{ops}: {err}");
        assert!(err.detail.contains(named), "{ops}: {}", err.detail);
        assert!(err.detail.contains("NUL"), "{ops}: {}", err.detail);
    }
    let filter_nul = patch_user(json!([
        {"op": "replace", "path": "emails[type eq \"w\\u0000\"].value", "value": "a@x.com"}
    ]))
    .unwrap_err();
    assert_eq!(
        filter_nul.scim_type,
        Some(ScimType::InvalidPath),
        "{filter_nul}"
    );
    assert!(!filter_nul.detail.contains('\0'));
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": "u\u{0}"}]}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "\u{0}"}]}]),
        json!([{"op": "remove", "path": "members[value eq \"u\\u0000\"]"}]),
    ] {
        let err = patch_group(ops.clone()).expect_err(&ops.to_string());
        assert_eq!(err.status, 400, "{ops}: {err}");
        assert!(!err.detail.contains('\0'), "{ops}: {}", err.detail);
    }
}

#[test]
fn limits_hold_after_patch_application() {
    use crate::limits::{MAX_INDEXED_BYTES, MAX_RESOURCE_BYTES, MAX_VALUES};
    let long = "a".repeat(MAX_INDEXED_BYTES + 1);
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": long}]),
        json!([{"op": "replace", "value": {"externalId": long}}]),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": long}]),
        json!([{"op": "add", "path": "members", "value": [{"value": long}]}]),
    ] {
        let err = match ops[0]["path"].as_str() {
            Some("members") => patch_group(ops.clone()),
            _ => patch_user(ops.clone()),
        }
        .expect_err(&ops.to_string());
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{ops}: {err}");
        assert!(err.detail.contains("at most 1024 bytes"), "{}", err.detail);
    }
    let group_rename =
        patch_group(json!([{"op": "replace", "path": "displayName", "value": long}]));
    assert!(group_rename.unwrap_err().detail.contains("`displayName`"));

    // One email at a time, PATCH cannot grow `emails` past the bound either.
    let mut full = user();
    full["emails"] = (0..MAX_VALUES)
        .map(|i| json!({"value": format!("e{i}@x.com")}))
        .collect();
    let err = apply_patch(
        ResourceSchema::user(),
        &full,
        &req(json!([{"op": "add", "path": "emails", "value": [{"value": "one.more@x.com"}]}])),
    )
    .unwrap_err();
    assert!(
        err.detail.contains("`emails` has 101 values"),
        "{}",
        err.detail
    );

    // Nine 8,000-byte titles sent as nine operations on different attributes grow the resource
    // past the document bound.
    let big = "b".repeat(8000);
    let ops: Vec<Value> = [
        "title", "nickName", "userType", "profileUrl", "locale", "timezone", "preferredLanguage",
        "displayName", "name.formatted",
    ]
    .iter()
    .map(|attr| {
        let value = if *attr == "displayName" { "d".to_owned() } else { big.clone() };
        json!({"op": "add", "path": attr, "value": value})
    })
    .chain((0..2).map(|i| {
        json!({"op": "add", "path": "addresses", "value": [{"formatted": format!("{i}{big}")}]})
    }))
    .collect();
    let err = patch_user(json!(ops)).unwrap_err();
    assert!(
        err.detail
            .contains(&format!("at most {MAX_RESOURCE_BYTES} bytes")),
        "{}",
        err.detail
    );
}
