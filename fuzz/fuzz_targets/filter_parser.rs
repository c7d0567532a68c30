//! Fuzzes the filter and PATCH path parsers, the printer round-trip and evaluation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::filter::{parse_filter, parse_filter_for, parse_path};
use scim_core::schema::ResourceSchema;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(filter) = parse_filter(input) {
        // The printer's output must parse back to the same tree.
        let printed = filter.to_string();
        assert_eq!(parse_filter(&printed).ok(), Some(filter.clone()), "round trip of {printed:?}");
        let user = serde_json::json!({"userName": "a", "emails": [{"value": "x", "type": "work"}], "active": true});
        let _ = filter.matches(&user, ResourceSchema::user());
    }
    if let Ok(resolved) = parse_filter_for(input, ResourceSchema::user()) {
        assert_eq!(parse_filter(&resolved.to_string()).ok(), Some(resolved));
    }
    let _ = parse_path(input);
});
