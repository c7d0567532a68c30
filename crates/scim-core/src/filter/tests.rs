#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER_SCHEMA, ResourceSchema};
use serde_json::json;

fn cmp(attr: &str, op: CompareOp, v: &str) -> Filter {
    Filter::compare(AttrPath::new(attr), op, CompValue::Str(v.into()))
}

#[test]
fn parses_rfc_examples() {
    let table: &[(&str, &str)] = &[
        (r#"userName Eq "john""#, r#"userName eq "john""#),
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        ),
        ("title pr", "title pr"),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr and userType eq "Employee""#,
            r#"title pr and userType eq "Employee""#,
        ),
        (
            r#"title pr or userType eq "Intern""#,
            r#"title pr or userType eq "Intern""#,
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
        ("USERNAME PR", "userName pr"),
        ("active eq TRUE", "active eq true"),
        ("x.y eq null", "x.y eq null"),
        ("age GE -1.5e3", "age ge -1500.0"),
        ("not(title pr)", "not (title pr)"),
        ("  userName  eq\t\"a\"  ", r#"userName eq "a""#),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
        ),
        (r#"members[value eq "1"]"#, r#"members[value eq "1"]"#),
        (r#"a eq "\u00e9\n\"""#, r#"a eq "é\n\"""#),
    ];
    for (input, printed) in table {
        let f = parse_filter(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(f.to_string(), *printed, "{input}");
        assert_eq!(
            parse_filter(&f.to_string()).unwrap(),
            f,
            "round trip of {input}"
        );
    }
}

#[test]
fn precedence_and_associativity() {
    let f = parse_filter(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
    assert_eq!(
        f,
        Filter::or(
            cmp("a", CompareOp::Eq, "1"),
            Filter::and(cmp("b", CompareOp::Eq, "2"), cmp("c", CompareOp::Eq, "3"))
        )
    );
    let f = parse_filter(r#"a eq "1" and b eq "2" and c eq "3""#).unwrap();
    assert!(matches!(&f, Filter::And(l, _) if matches!(**l, Filter::And(..))));
    let right_nested = Filter::and(
        cmp("a", CompareOp::Eq, "1"),
        Filter::and(cmp("b", CompareOp::Eq, "2"), cmp("c", CompareOp::Eq, "3")),
    );
    assert_eq!(
        right_nested.to_string(),
        r#"a eq "1" and (b eq "2" and c eq "3")"#
    );
    assert_eq!(
        parse_filter(&right_nested.to_string()).unwrap(),
        right_nested
    );
}

#[test]
fn urn_qualified_extension_attribute() {
    let f = parse_filter(&format!(
        "{}:employeeNumber eq \"42\"",
        ENTERPRISE_USER_SCHEMA.to_uppercase()
    ))
    .unwrap();
    let Filter::Compare { path, .. } = f else {
        panic!()
    };
    assert_eq!(path.urn.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
    assert_eq!(path.attr, "employeeNumber");
}

#[test]
fn errors_name_position_and_expectation() {
    let table: &[(&str, &str)] = &[
        (
            r#"userName xx "a""#,
            "at character 9 (near \"xx \\\"a\\\"\"): expected a comparison operator",
        ),
        ("userName eq", "expected a space and a value"),
        (r#"userName eq "abc"#, "expected a closing `\"`"),
        ("userName eq bjensen", "expected a value: a JSON string"),
        (r#"(userName eq "a""#, "expected `)`"),
        (r#"userName eq "a" and"#, "after the logical operator"),
        (
            r#"userName eq "a" xor b pr"#,
            "expected `and`, `or` or the end of the filter",
        ),
        ("", "expected an attribute path"),
        (r#"emails[type eq "work""#, "expected `]`"),
        (r#"emails[type[value eq "x"]]"#, "cannot be nested"),
        (r#"userName eq "\q""#, "valid JSON string"),
        ("9abc pr", "expected an attribute path"),
        ("a eq 1e999", "within the range"),
        ("a eq 12abc", "JSON number"),
    ];
    for (input, expected) in table {
        let err = parse_filter(input).expect_err(input);
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert_eq!(err.status, 400);
        assert!(err.detail.contains(expected), "{input}: {}", err.detail);
        assert!(
            err.detail.contains("at character"),
            "{input}: {}",
            err.detail
        );
    }
}

#[test]
fn nesting_and_size_are_bounded() {
    let deep = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
    assert!(parse_filter(&deep).unwrap_err().detail.contains("nested"));
    let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
    assert!(parse_filter(&nots).is_err());
    let long = vec!["a pr"; 600].join(" and ");
    assert!(
        parse_filter(&long)
            .unwrap_err()
            .detail
            .contains("at most 512")
    );
    let huge = "a".repeat(MAX_FILTER_LEN + 1);
    assert!(parse_filter(&huge).unwrap_err().detail.contains("bytes"));
    let ok = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(
        parse_filter(&ok).unwrap(),
        Filter::Present(AttrPath::new("a"))
    );
}

#[test]
fn parses_patch_paths() {
    let table: &[(&str, &str)] = &[
        ("name.givenName", "name.givenName"),
        ("NAME.GIVENNAME", "name.givenName"),
        (
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"].value"#,
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ),
        (
            r#"addresses[type eq "work"].streetAddress"#,
            r#"addresses[type eq "work"].streetAddress"#,
        ),
    ];
    for (input, printed) in table {
        let p = parse_path(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(p.to_string(), *printed);
    }
    for bad in [
        "",
        "emails[type eq \"work\"]x",
        "emails[type eq \"work\"].",
        "name..x",
        "a.b.c",
        "urn:",
        "emails[",
        "1abc",
    ] {
        let err = parse_path(bad).expect_err(bad);
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{bad}");
    }
}

fn user() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
        "id": "2819c223", "externalId": "Ext-1", "userName": "BJensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "active": true, "title": "Tour Guide", "userType": "Employee",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"},
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    })
}

#[test]
fn evaluates_against_resource_honouring_case_exact() {
    let schema = ResourceSchema::user();
    let u = user();
    let table: &[(&str, bool)] = &[
        (r#"userName eq "bjensen""#, true),  // caseExact false
        (r#"externalId eq "ext-1""#, false), // caseExact true
        (r#"externalId eq "Ext-1""#, true),
        (r#"id eq "2819C223""#, false),
        (r#"name.familyName co "ens""#, true),
        (r#"userName sw "bj" and userName ew "SEN""#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (r#"emails co "jensen.org""#, true),
        (r#"emails.type eq "home""#, true),
        ("title pr", true),
        ("nickName pr", false),
        ("not (nickName pr)", true),
        (r#"nickName ne "x""#, true),
        (r#"userName ne "BJENSEN""#, false),
        ("active eq true", true),
        ("active eq false", false),
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            true,
        ),
        (
            r#"title pr and (userType eq "Intern" or userType eq "employee")"#,
            true,
        ),
        ("nickName eq null", true),
        ("title eq null", false),
        (r#"emails[primary eq true and type eq "work"]"#, true),
    ];
    for (input, expected) in table {
        let f = parse_filter(input).unwrap();
        assert_eq!(f.matches(&u, schema), *expected, "{input}");
        let resolved = parse_filter_for(input, schema).unwrap();
        assert_eq!(resolved.matches(&u, schema), *expected, "resolved {input}");
    }
}

#[test]
fn resolve_canonicalizes_and_rejects() {
    let schema = ResourceSchema::user();
    let f = parse_filter_for(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:EMAILS co "x""#,
        schema,
    )
    .unwrap();
    assert_eq!(f.to_string(), r#"emails.value co "x""#);
    let f = parse_filter_for(r#"active eq "False""#, schema).unwrap();
    assert_eq!(f.to_string(), "active eq false");
    let f = parse_filter_for(r#"Emails[TYPE eq "work"]"#, schema).unwrap();
    assert_eq!(f.to_string(), r#"emails[type eq "work"]"#);
    let rejected: &[(&str, &str)] = &[
        (r#"password eq "hunter2""#, "cannot be used in a filter"),
        (
            r#"foo eq "x""#,
            "unknown attribute `foo` for User resources",
        ),
        ("active gt true", "boolean"),
        (r#"meta.created gt "yesterday""#, "dateTime"),
        (r#"name eq "x""#, "complex"),
        (r#"emails[foo eq "x"]"#, "not a sub-attribute of `emails`"),
        (r#"userName[value eq "x"]"#, "complex attribute"),
        (r#"userName gt null"#, "null"),
    ];
    for (input, expected) in rejected {
        let err = parse_filter_for(input, schema).expect_err(input);
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
        assert!(err.detail.contains(expected), "{input}: {}", err.detail);
    }
    let group = ResourceSchema::group();
    assert!(parse_filter_for(r#"displayName eq "Admins""#, group).is_ok());
    assert!(parse_filter_for(r#"userName eq "x""#, group).is_err());
}

#[test]
fn entra_filters_users_by_username_and_external_id() {
    // Entra's matching queries, verbatim.
    let schema = ResourceSchema::user();
    for input in [
        r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    ] {
        assert!(parse_filter_for(input, schema).is_ok(), "{input}");
    }
    let f = parse_filter_for(
        r#"displayName eq "Group1DisplayName""#,
        ResourceSchema::group(),
    )
    .unwrap();
    assert!(f.matches(
        &json!({"displayName": "group1displayname"}),
        ResourceSchema::group()
    ));
}

#[test]
fn okta_filters_username_case_insensitively() {
    let f = parse_filter(r#"userName eq "isaac.brock@example.com""#).unwrap();
    assert!(f.matches(
        &json!({"userName": "Isaac.Brock@Example.com"}),
        ResourceSchema::user()
    ));
}

#[test]
fn entra_value_path_followed_by_sub_attribute_comparison() {
    let parsed = parse_filter(r#"emails[type eq "work"].value eq "a@example.com""#).unwrap();
    let expected = Filter::ValuePath {
        path: AttrPath::new("emails"),
        filter: Box::new(Filter::and(
            cmp("type", CompareOp::Eq, "work"),
            cmp("value", CompareOp::Eq, "a@example.com"),
        )),
    };
    assert_eq!(parsed, expected);
    assert_eq!(
        parse_filter(&parsed.to_string()).unwrap(),
        parsed,
        "round-trips"
    );
    let schema = ResourceSchema::user();
    let user = json!({"emails": [{"type": "home", "value": "a@example.com"}, {"type": "work", "value": "b@example.com"}]});
    assert!(
        !parsed.matches(&user, schema),
        "both conditions on the same email"
    );
    let present = parse_filter(r#"emails[type eq "work"].value pr"#).unwrap();
    assert!(present.matches(&user, schema));
    assert!(parse_filter(r#"emails[type eq "work"]. eq "x""#).is_err());
}

/// `\u0000` in a filter value would reach PostgreSQL as a NUL it cannot compare: refused.
#[test]
fn nul_in_a_filter_value_is_an_invalid_filter() {
    for filter in [
        r#"userName eq "a\u0000b""#,
        r#"emails[value eq "\u0000"]"#,
        "userName eq \"a\u{0}\"",
    ] {
        let err = parse_filter(filter).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert!(!err.detail.contains('\0'), "{}", err.detail);
    }
}
