//! SCIM operations counted by resource, operation and outcome (`scimgate_scim_operations_total`):
//! every label a small fixed set, read from the route template — never an organization or id.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Counts the request once its answer is known.
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let res = next.call(req).await?;
    let pattern = res.request().match_pattern();
    let (resource, operation) = operation(&method, pattern.as_deref().unwrap_or_default());
    let outcome = match res.status().as_u16() {
        200..=399 => "success",
        401 | 403 => "refused",
        429 => "rate_limited",
        503 => "unavailable",
        400..=499 => "client_error",
        _ => "server_error",
    };
    metrics::counter!("scimgate_scim_operations_total",
        "resource" => resource, "operation" => operation, "outcome" => outcome)
    .increment(1);
    Ok(res)
}

/// The resource and operation a route template and method stand for.
fn operation(method: &Method, pattern: &str) -> (&'static str, &'static str) {
    let tail = pattern.rsplit_once("{org}").map_or("", |(_, tail)| tail);
    let resource = if tail.starts_with("/Users") {
        "User"
    } else if tail.starts_with("/Groups") {
        "Group"
    } else if tail == "/Bulk" {
        return ("Bulk", "bulk");
    } else if tail == "/.search" {
        return ("All", "search");
    } else if tail.is_empty() {
        return ("none", "unknown");
    } else {
        return ("discovery", "get");
    };
    let with_id = tail.ends_with("{id}");
    let operation = match (method.as_str(), with_id) {
        _ if tail.ends_with("/.search") => "search",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("GET", true) => "get",
        ("PUT", true) => "replace",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        _ => "other",
    };
    (resource, operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_name_the_operation() {
        let prefix = "/scim/v2.0/organizations/{org}";
        let cases = [
            (Method::POST, "/Users", ("User", "create")),
            (Method::GET, "/Users", ("User", "list")),
            (Method::PATCH, "/Groups/{id}", ("Group", "patch")),
            (Method::DELETE, "/Users/{id}", ("User", "delete")),
            (Method::POST, "/Groups/.search", ("Group", "search")),
            (Method::POST, "/Bulk", ("Bulk", "bulk")),
            (Method::GET, "/Schemas/{id}", ("discovery", "get")),
        ];
        for (method, tail, expected) in cases {
            assert_eq!(
                operation(&method, &format!("{prefix}{tail}")),
                expected,
                "{tail}"
            );
        }
    }
}
