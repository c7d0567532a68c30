//! Criterion benchmarks: filter parsing (and resolution) and PATCH application.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::filter::{parse_filter, parse_filter_for};
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::ResourceSchema;
use serde_json::json;
use std::hint::black_box;

const SIMPLE: &str = r#"userName eq "bjensen@example.com""#;
const COMPLEX: &str = r#"userType eq "Employee" and (emails[type eq "work" and value co "@example.com"] or not (title pr)) and meta.lastModified gt "2011-05-13T04:42:34Z""#;

fn filters(c: &mut Criterion) {
    c.bench_function("filter/parse_simple", |b| {
        b.iter(|| parse_filter(black_box(SIMPLE)).unwrap())
    });
    c.bench_function("filter/parse_complex", |b| {
        b.iter(|| parse_filter(black_box(COMPLEX)).unwrap())
    });
    let user = ResourceSchema::user();
    c.bench_function("filter/parse_and_resolve_complex", |b| {
        b.iter(|| parse_filter_for(black_box(COMPLEX), user).unwrap())
    });
    let f = parse_filter(COMPLEX).unwrap();
    let resource = json!({"userType": "Employee", "title": "x", "emails": [{"type": "work", "value": "a@example.com"}],
                          "meta": {"lastModified": "2012-01-01T00:00:00Z"}});
    c.bench_function("filter/evaluate_complex", |b| {
        b.iter(|| f.matches(black_box(&resource), user))
    });
}

fn patches(c: &mut Criterion) {
    let user = ResourceSchema::user();
    let resource = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "bjensen", "active": true,
        "name": {"givenName": "B", "familyName": "J"}, "emails": [{"value": "a@x.com", "type": "work", "primary": true}],
    });
    let okta: PatchRequest = serde_json::from_value(
        json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .unwrap();
    c.bench_function("patch/okta_deactivate", |b| {
        b.iter(|| apply_patch(user, black_box(&resource), &okta).unwrap())
    });
    let entra: PatchRequest = serde_json::from_value(json!({"Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Q"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1"},
        {"op": "Replace", "path": "active", "value": "False"},
    ]})).unwrap();
    c.bench_function("patch/entra_four_ops", |b| {
        b.iter(|| apply_patch(user, black_box(&resource), &entra).unwrap())
    });
    let group = ResourceSchema::group();
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G"});
    let members: Vec<_> = (0..1000)
        .map(|i| json!({"value": format!("user-{i}")}))
        .collect();
    let add: PatchRequest = serde_json::from_value(
        json!({"Operations": [{"op": "add", "path": "members", "value": members}]}),
    )
    .unwrap();
    c.bench_function("patch/group_add_1000_members", |b| {
        b.iter(|| apply_patch(group, black_box(&g), &add).unwrap())
    });
}

criterion_group!(benches, filters, patches);
criterion_main!(benches);
