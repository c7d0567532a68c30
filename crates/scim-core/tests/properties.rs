//! Property tests: filter printing round-trips, parsers never panic, PATCH is atomic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use scim_core::filter::{AttrPath, CompValue, CompareOp, Filter, parse_filter, parse_path};
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::{ENTERPRISE_USER_SCHEMA, ResourceSchema};
use serde_json::{Value, json};

fn attr_path() -> impl Strategy<Value = AttrPath> + Clone {
    let names = prop::sample::select(vec![
        "userName",
        "displayName",
        "title",
        "active",
        "emails",
        "name",
        "meta",
        "custom-Attr_1",
    ]);
    let subs = prop::option::of(prop::sample::select(vec![
        "value",
        "type",
        "givenName",
        "lastModified",
        "$ref",
    ]));
    let urn = prop::option::of(Just(ENTERPRISE_USER_SCHEMA.to_owned()));
    (urn, names, subs).prop_map(|(urn, attr, sub)| AttrPath {
        urn,
        attr: attr.to_owned(),
        sub_attr: sub.map(str::to_owned),
    })
}

fn relative_path() -> impl Strategy<Value = AttrPath> + Clone {
    prop::sample::select(vec!["value", "type", "primary", "display"]).prop_map(AttrPath::new)
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|i| CompValue::Number(i.into())),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(CompValue::Number)),
        // NUL is refused by the parser (it cannot be stored or compared on PostgreSQL).
        ".*".prop_filter("no NUL", |s| !s.contains('\0'))
            .prop_map(CompValue::Str),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn leaf(path: impl Strategy<Value = AttrPath> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        path.clone().prop_map(Filter::Present),
        (path, op(), comp_value()).prop_map(|(p, o, v)| Filter::compare(p, o, v)),
    ]
}

fn logical(base: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    base.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::or(l, r)),
            inner.prop_map(Filter::not),
        ]
    })
    .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let value_path = (
        attr_path().prop_map(|mut p| {
            p.sub_attr = None;
            p
        }),
        logical(leaf(relative_path()).boxed()),
    )
        .prop_map(|(path, f)| Filter::ValuePath {
            path,
            filter: Box::new(f),
        });
    logical(prop_oneof![4 => leaf(attr_path()), 1 => value_path].boxed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_is_identity(f in filter()) {
        let printed = f.to_string();
        let parsed = parse_filter(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(parsed, f);
    }

    #[test]
    fn parse_filter_never_panics(s in ".{0,200}") {
        let _ = parse_filter(&s);
        let _ = parse_path(&s);
    }

    #[test]
    fn parse_filter_never_panics_on_grammar_soup(parts in prop::collection::vec(prop::sample::select(vec![
        "userName", " ", "eq", "\"x\"", "(", ")", "[", "]", "and", "or", "not", "pr", ".", ":", "urn:a:b", "1.5e3", "\\", "\"", "true",
    ]), 0..40)) {
        let s = parts.concat();
        if let Ok(f) = parse_filter(&s) {
            prop_assert_eq!(parse_filter(&f.to_string()).unwrap(), f);
        }
    }
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1", "userName": "bjensen", "active": true, "name": {"givenName": "B"},
        "emails": [{"value": "a@x.com", "type": "work", "primary": true}],
    })
}

fn patch_op() -> impl Strategy<Value = Value> {
    let ops = prop::sample::select(vec!["add", "Replace", "remove", "ADD"]);
    let paths = prop::option::of(prop::sample::select(vec![
        "userName",
        "active",
        "name.givenName",
        "emails",
        "emails[type eq \"work\"].value",
        "emails[type eq \"home\"]",
        "title",
        "id",
        "meta",
        "password",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "emails.value",
        "bogus[",
        "members",
    ]));
    let values = prop::option::of(prop_oneof![
        Just(json!("False")),
        Just(json!(true)),
        Just(json!("x")),
        Just(json!(5)),
        Just(json!(null)),
        Just(json!([])),
        Just(json!({"givenName": "Q"})),
        Just(json!([{"value": "b@y.org", "type": "home"}])),
        Just(json!({"active": "nope"})),
        Just(json!({"name.familyName": "F", "id": "9"})),
    ]);
    (ops, paths, values).prop_map(|(op, path, value)| {
        let mut o = json!({"op": op});
        if let Some(p) = path {
            o["path"] = json!(p);
        }
        if let Some(v) = value {
            o["value"] = v;
        }
        o
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A request that fails anywhere leaves the caller's resource byte-identical, and a request
    /// ending in a failing operation never yields a partial outcome.
    #[test]
    fn patch_is_atomic(ops in prop::collection::vec(patch_op(), 0..8)) {
        let resource = user();
        let before = serde_json::to_vec(&resource).unwrap();
        let mut all = ops.clone();
        all.push(json!({"op": "replace", "path": "active", "value": "not-a-boolean"}));
        let request: PatchRequest = serde_json::from_value(json!({"Operations": all})).unwrap();
        let result = apply_patch(ResourceSchema::user(), &resource, &request);
        prop_assert!(result.is_err());
        prop_assert_eq!(serde_json::to_vec(&resource).unwrap(), before.clone());

        let request: PatchRequest = serde_json::from_value(json!({"Operations": ops})).unwrap();
        if let Ok(out) = apply_patch(ResourceSchema::user(), &resource, &request) {
            // Success keeps the invariants: readOnly untouched, required present, no password.
            prop_assert_eq!(&out.resource["id"], &json!("1"));
            prop_assert!(out.resource.get("userName").is_some());
            prop_assert!(out.resource.get("password").is_none());
            prop_assert_eq!(out.changes.attributes.is_empty(), out.resource == resource);
        }
        prop_assert_eq!(serde_json::to_vec(&resource).unwrap(), before);
    }
}
