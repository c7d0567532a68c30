//! Who the client is when a reverse proxy stands in front: `X-Forwarded-For` is believed only from
//! the configured trusted proxies, walking the chain from the right; from anyone else the TCP peer
//! is the client. The result is recorded on the request as a [`ClientAddr`] for every app (rate
//! limits, audit rows). URLs never come from request headers: they come from the region's config.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use ipnet::IpNet;
use usecases::ClientAddr;

/// The proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` it sent.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for.unwrap_or_default().rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// Records the request's [`ClientAddr`].
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(peer) = req.peer_addr() {
        let trusted = req
            .app_data::<web::Data<TrustedProxies>>()
            .map(|t| t.get_ref().clone())
            .unwrap_or_default();
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let client = trusted.client(peer.ip(), forwarded);
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.5"), Some("203.0.113.9")),
            ip("10.0.0.5"),
            "untrusted: ignored"
        );
        let lb = TrustedProxies(vec![
            "10.0.0.0/8".parse().unwrap_or_else(|_| unreachable!()),
        ]);
        assert_eq!(
            lb.client(ip("10.0.0.5"), Some("203.0.113.9")),
            ip("203.0.113.9")
        );
        assert_eq!(
            lb.client(ip("10.0.0.5"), Some("198.51.100.1, 203.0.113.9, 10.0.0.7")),
            ip("203.0.113.9"),
            "rightmost untrusted hop"
        );
        assert_eq!(lb.client(ip("10.0.0.5"), Some("garbage")), ip("10.0.0.5"));
        assert_eq!(lb.client(ip("10.0.0.5"), None), ip("10.0.0.5"));
        assert_eq!(
            lb.client(ip("192.0.2.1"), Some("203.0.113.9")),
            ip("192.0.2.1"),
            "a client cannot claim another address"
        );
    }
}
