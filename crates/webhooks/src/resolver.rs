//! The DNS resolver the sender's HTTP client uses: it resolves with the system resolver (through
//! tokio) and keeps only the addresses the destination policy allows. Checking here, on the
//! addresses the connection is actually made to, closes the gap a check on the URL leaves open (a
//! name that resolves to 10.0.0.5, or DNS rebinding between a check and the connect).

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::destination::{DestinationError, DestinationPolicy};

/// A [`Resolve`] that drops every address the policy refuses.
pub(crate) struct PolicyResolver {
    policy: Arc<DestinationPolicy>,
}

impl PolicyResolver {
    pub(crate) fn new(policy: Arc<DestinationPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the client puts the URL's (or the scheme's) port on the addresses it gets.
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = keep_allowed(&policy, &host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The allowed addresses among `resolved`, in their order; an error naming the first refused
/// address when none is left (the caller finds this error in the request error's sources).
pub(crate) fn keep_allowed(
    policy: &DestinationPolicy,
    host: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, DestinationError> {
    let mut allowed = Vec::new();
    let mut first_refusal = None;
    for addr in resolved {
        match policy.check(addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(reason) => {
                first_refusal.get_or_insert((addr.ip(), reason));
            }
        }
    }
    match (allowed.is_empty(), first_refusal) {
        (false, _) => Ok(allowed),
        (true, Some((ip, reason))) => Err(DestinationError::Refused {
            host: format!("{host} ({ip})"),
            reason,
        }),
        // The system resolver answered with no address at all; say so rather than "refused".
        (true, None) => Err(DestinationError::NoAddress(host.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn keeps_only_allowed_addresses_in_order() {
        let policy = DestinationPolicy::default();
        let resolved = addrs(&[
            "10.0.0.5:0",
            "93.184.216.34:0",
            "[::1]:0",
            "[2606:4700::1]:0",
        ]);
        let kept = keep_allowed(&policy, "example.com", resolved).unwrap();
        assert_eq!(kept, addrs(&["93.184.216.34:0", "[2606:4700::1]:0"]));
    }

    #[test]
    fn refuses_a_name_with_only_internal_addresses() {
        let policy = DestinationPolicy::default();
        let err = keep_allowed(
            &policy,
            "internal.example",
            addrs(&["[::1]:0", "127.0.0.1:0"]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination refused: internal.example (::1) is a loopback address"
        );
        let metadata = keep_allowed(&policy, "evil.example", addrs(&["169.254.169.254:0"]));
        assert_eq!(
            metadata.unwrap_err().to_string(),
            "destination refused: evil.example (169.254.169.254) is a link-local address"
        );
    }

    #[test]
    fn allowed_ranges_apply_to_resolved_addresses() {
        let policy = DestinationPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let kept = keep_allowed(&policy, "localhost", addrs(&["[::1]:0", "127.0.0.1:0"])).unwrap();
        assert_eq!(kept, addrs(&["127.0.0.1:0"]));
    }
}
