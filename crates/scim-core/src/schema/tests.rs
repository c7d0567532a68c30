#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn user_has_every_rfc_7643_attribute() {
    let user = ResourceSchema::user();
    let names: Vec<&str> = user
        .core
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates"
        ]
    );
    let ent = user.extension(ENTERPRISE_USER_SCHEMA).unwrap();
    let names: Vec<&str> = ent.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
}

#[test]
fn characteristics_match_the_rfc() {
    let user = ResourceSchema::user();
    let user_name = user.resolve_path("USERNAME").unwrap().attr;
    assert!(user_name.required && !user_name.case_exact);
    assert_eq!(user_name.uniqueness, Uniqueness::Server);
    let password = user.resolve_path("password").unwrap().attr;
    assert_eq!(
        (password.mutability, password.returned),
        (Mutability::WriteOnly, Returned::Never)
    );
    let id = user.resolve_path("id").unwrap().attr;
    assert_eq!(
        (id.mutability, id.returned, id.case_exact),
        (Mutability::ReadOnly, Returned::Always, true)
    );
    assert_eq!(
        user.resolve_path("groups").unwrap().attr.mutability,
        Mutability::ReadOnly
    );
    let emails = user.resolve_path("emails.type").unwrap();
    assert!(emails.attr.multi_valued);
    assert_eq!(emails.leaf().canonical_values, ["work", "home", "other"]);
    let manager = user
        .resolve_path(&format!("{ENTERPRISE_USER_SCHEMA}:manager.displayName"))
        .unwrap();
    assert_eq!(
        manager.location,
        AttrLocation::Extension(ENTERPRISE_USER_SCHEMA)
    );
    assert_eq!(manager.leaf().mutability, Mutability::ReadOnly);
    assert_eq!(
        manager.qualified_name(),
        format!("{ENTERPRISE_USER_SCHEMA}:manager.displayName")
    );
    let members = ResourceSchema::group()
        .resolve_path("members.value")
        .unwrap();
    assert_eq!(members.leaf().mutability, Mutability::Immutable);
    assert!(user.resolve_path("nope").is_none());
    assert!(user.resolve_path("name.nope").is_none());
}

#[test]
fn urns_are_canonicalized_and_split() {
    assert_eq!(
        canonical_schema_urn("urn:scim:schemas:core:2.0"),
        USER_SCHEMA
    );
    assert_eq!(
        canonical_schema_urn("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP"),
        GROUP_SCHEMA
    );
    assert_eq!(
        canonical_schema_urn(
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
        ),
        GROUP_SCHEMA
    );
    assert_eq!(
        split_urn(&format!("{USER_SCHEMA}:name.givenName")),
        (Some(USER_SCHEMA), "name.givenName")
    );
    assert_eq!(
        split_urn("urn:example:1.0:ext:attr"),
        (Some("urn:example:1.0:ext"), "attr")
    );
    assert_eq!(split_urn("name.givenName"), (None, "name.givenName"));
    assert!(ResourceSchema::user().is_core_urn("urn:scim:schemas:core:2.0"));
}

#[test]
fn schemas_document_is_generated_from_definitions() {
    let docs = schemas_document("https://h/scim/v2/");
    let ids: Vec<&str> = docs.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
    let user = &docs[0];
    assert_eq!(
        user["meta"]["location"],
        format!("https://h/scim/v2/Schemas/{USER_SCHEMA}")
    );
    let attrs = user["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), ResourceSchema::user().core.attributes.len());
    let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
    assert_eq!(password["mutability"], "writeOnly");
    assert_eq!(password["returned"], "never");
    let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
    assert_eq!(emails["multiValued"], true);
    assert_eq!(emails["type"], "complex");
    assert!(
        emails["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "primary" && s["type"] == "boolean")
    );
    let profile = attrs.iter().find(|a| a["name"] == "profileUrl").unwrap();
    assert_eq!(profile["referenceTypes"], serde_json::json!(["external"]));
}

#[test]
fn resource_types_document_lists_extensions() {
    let docs = resource_types_document("https://h/scim/v2");
    assert_eq!(docs[0]["id"], "User");
    assert_eq!(docs[0]["endpoint"], "/Users");
    assert_eq!(
        docs[0]["schemaExtensions"],
        serde_json::json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}])
    );
    assert_eq!(docs[1]["schema"], GROUP_SCHEMA);
    assert_eq!(
        docs[1]["meta"]["location"],
        "https://h/scim/v2/ResourceTypes/Group"
    );
}
