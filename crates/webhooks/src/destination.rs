//! Where webhooks may be sent (SSRF protection): the syntax a tenant's endpoint URL must have,
//! and which IP addresses a delivery may connect to. Internal ranges are refused unless the
//! operator allows them (`webhooks.allowed_destinations`), because a tenant-supplied URL must not
//! reach the cloud metadata service, the database or anything else on our network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::Url;

/// The longest endpoint URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Which addresses deliveries may connect to: every public unicast address, plus the internal
/// ranges the operator lists in `allowed` (empty by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Ranges allowed even though they are internal (e.g. `10.20.0.0/16` for an on-premises
    /// backend, `127.0.0.0/8` in tests).
    pub allowed: Vec<IpNet>,
}

/// What kind of internal or special address a refused one is (shown in error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (including the 169.254.169.254 metadata service), `fe80::/10`.
    LinkLocal,
    /// `10/8`, `172.16/12`, `192.168/16`, `fc00::/7`, and the deprecated `fec0::/10`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Documentation (TEST-NET, `2001:db8::/32`, `3fff::/20`) and benchmarking (`198.18/15`).
    DocumentationOrBenchmark,
    /// Reserved or special-purpose: `240/4`, `192.0.0.0/24`, IPv6 outside global unicast.
    Reserved,
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::LinkLocal => "a link-local address",
            Self::Private => "a private-network address",
            Self::SharedAddressSpace => "a carrier-grade NAT address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::DocumentationOrBenchmark => "a documentation or benchmarking address",
            Self::Reserved => "a reserved address",
        })
    }
}

/// Why an endpoint URL or address is not accepted. The messages are shown to API users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is {0} bytes long; at most 2048 are allowed")]
    TooLong(usize),
    /// Not a URL at all.
    #[error("not a valid URL: {0}")]
    Invalid(#[from] url::ParseError),
    /// Not `http` or `https`.
    #[error("the URL must start with http:// or https://, not {0}:")]
    Scheme(String),
    /// No host to connect to.
    #[error("the URL must name a host")]
    NoHost,
    /// `user:password@` in the URL (credentials belong in a header, not in a stored URL).
    #[error("the URL must not contain a user name or password")]
    UserInfo,
    /// A `#fragment`, which is never sent to the server and so hides part of what was meant.
    #[error("the URL must not contain a fragment (#…)")]
    Fragment,
    /// The host name resolved to no address at all.
    #[error("{0} does not resolve to any address")]
    NoAddress(String),
    /// The host is, or only resolves to, an address the policy refuses.
    #[error("destination refused: {host} is {reason}")]
    Refused {
        /// The host as written, or the address it resolved to.
        host: String,
        /// Which kind of address it is.
        reason: RefusalReason,
    },
}

/// Checks the syntax of an endpoint URL: http or https, a host, no user info, no fragment, at
/// most [`MAX_URL_LEN`] bytes. Returns the normalized URL to store. Addresses are checked
/// separately: [`DestinationPolicy::check_url`] for IP literals, the sender at connect time for
/// names.
pub fn validate_url(input: &str) -> Result<Url, DestinationError> {
    if input.len() > MAX_URL_LEN {
        return Err(DestinationError::TooLong(input.len()));
    }
    let url = Url::parse(input)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DestinationError::Scheme(url.scheme().to_owned()));
    }
    if url.host().is_none() {
        return Err(DestinationError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DestinationError::UserInfo);
    }
    if url.fragment().is_some() {
        return Err(DestinationError::Fragment);
    }
    // Normalizing (IDNA, percent-encoding) can lengthen what was typed.
    if url.as_str().len() > MAX_URL_LEN {
        return Err(DestinationError::TooLong(url.as_str().len()));
    }
    Ok(url)
}

impl DestinationPolicy {
    /// A policy allowing the given internal ranges on top of the public internet.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether a delivery may connect to `addr`.
    pub fn is_allowed(&self, addr: IpAddr) -> bool {
        self.check(addr).is_ok()
    }

    /// Why a delivery may not connect to `addr`, if it may not. Addresses that embed an IPv4
    /// address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged as that IPv4 address, since
    /// that is where the packets end up.
    pub fn check(&self, addr: IpAddr) -> Result<(), RefusalReason> {
        let embedded = match addr {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let allowed_explicitly = self
            .allowed
            .iter()
            .any(|net| net.contains(&addr) || embedded.is_some_and(|v4| net.contains(&v4)));
        if allowed_explicitly {
            return Ok(());
        }
        match (addr, embedded) {
            (_, Some(IpAddr::V4(v4))) | (IpAddr::V4(v4), _) => ipv4_refusal(v4).map_or(Ok(()), Err),
            (IpAddr::V6(v6), _) => ipv6_refusal(v6).map_or(Ok(()), Err),
        }
    }

    /// Checks a validated URL's host when it is an IP literal (HTTP clients connect to those
    /// without a DNS look-up, so the resolver-side check never sees them). Names pass here and are
    /// checked on every connection instead.
    pub fn check_url(&self, url: &Url) -> Result<(), DestinationError> {
        let addr = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(DestinationError::NoHost),
        };
        self.check(addr)
            .map_err(|reason| DestinationError::Refused {
                host: addr.to_string(),
                reason,
            })
    }
}

// The tables are constants, so `new_assert` runs at compile time: a bad prefix length is a build
// error, never a panic in production.
const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 ranges that are not public unicast (IANA special-purpose registry).
const IPV4_REFUSED: &[(Ipv4Net, RefusalReason)] = &[
    (v4(255, 255, 255, 255, 32), RefusalReason::Broadcast),
    (v4(0, 0, 0, 0, 8), RefusalReason::Unspecified),
    (v4(127, 0, 0, 0, 8), RefusalReason::Loopback),
    (v4(169, 254, 0, 0, 16), RefusalReason::LinkLocal),
    (v4(10, 0, 0, 0, 8), RefusalReason::Private),
    (v4(172, 16, 0, 0, 12), RefusalReason::Private),
    (v4(192, 168, 0, 0, 16), RefusalReason::Private),
    (v4(100, 64, 0, 0, 10), RefusalReason::SharedAddressSpace),
    (v4(224, 0, 0, 0, 4), RefusalReason::Multicast),
    (
        v4(192, 0, 2, 0, 24),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (
        v4(198, 51, 100, 0, 24),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (
        v4(203, 0, 113, 0, 24),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (
        v4(198, 18, 0, 0, 15),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (v4(192, 0, 0, 0, 24), RefusalReason::Reserved),
    (v4(192, 88, 99, 0, 24), RefusalReason::Reserved),
    (v4(240, 0, 0, 0, 4), RefusalReason::Reserved),
];

/// IPv6 blocks refused although they are not internal-looking at first sight; anything outside
/// global unicast is refused as well (see [`ipv6_refusal`]).
const IPV6_REFUSED: &[(Ipv6Net, RefusalReason)] = &[
    (
        v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
        RefusalReason::Unspecified,
    ),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), RefusalReason::Loopback),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        RefusalReason::LinkLocal,
    ),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), RefusalReason::Private),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        RefusalReason::Private,
    ),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        RefusalReason::Multicast,
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        RefusalReason::DocumentationOrBenchmark,
    ),
    (
        v6([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48),
        RefusalReason::DocumentationOrBenchmark,
    ),
    // IETF protocol assignments, including Teredo (2001::/32), which tunnels to an IPv4 address
    // we cannot judge.
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        RefusalReason::Reserved,
    ),
];

/// IANA allocates public IPv6 from here only.
const IPV6_GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

fn ipv4_refusal(addr: Ipv4Addr) -> Option<RefusalReason> {
    IPV4_REFUSED
        .iter()
        .find(|(net, _)| net.contains(&addr))
        .map(|&(_, reason)| reason)
}

/// IPv6 addresses that do not embed IPv4: only global unicast (`2000::/3`) outside the special
/// blocks is public; everything else is refused, so ranges IANA assigns later fail closed.
fn ipv6_refusal(addr: Ipv6Addr) -> Option<RefusalReason> {
    let special = IPV6_REFUSED
        .iter()
        .find(|(net, _)| net.contains(&addr))
        .map(|&(_, reason)| reason);
    special.or_else(|| (!IPV6_GLOBAL_UNICAST.contains(&addr)).then_some(RefusalReason::Reserved))
}

/// The IPv4 address an IPv6 address carries to: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, deprecated but still routed by some stacks), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::/48`).
fn embedded_ipv4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses, not IPv4-compatible
        // ones; judged as IPv6 they are refused all the same.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_internal_and_special_addresses_by_default() {
        use RefusalReason::*;
        let policy = DestinationPolicy::default();
        let cases = [
            ("127.0.0.1", Loopback),
            ("127.255.1.2", Loopback),
            ("::1", Loopback),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.254", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.254", SharedAddressSpace),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.2.1", DocumentationOrBenchmark),
            ("198.51.100.7", DocumentationOrBenchmark),
            ("203.0.113.9", DocumentationOrBenchmark),
            ("198.18.0.1", DocumentationOrBenchmark),
            ("198.19.255.255", DocumentationOrBenchmark),
            ("2001:db8::1", DocumentationOrBenchmark),
            ("3fff::1", DocumentationOrBenchmark),
            ("240.0.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            // Addresses that carry an IPv4 address are judged as that address.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.1.2.3", Private),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::192.168.0.1", Private),
            ("2002:7f00:1::", Loopback),
            ("2002:a00:1::1", Private),
        ];
        for (addr, reason) in cases {
            assert_eq!(policy.check(ip(addr)), Err(reason), "{addr}");
            assert!(!policy.is_allowed(ip(addr)), "{addr}");
        }
    }

    #[test]
    fn allows_public_addresses() {
        let policy = DestinationPolicy::default();
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert_eq!(policy.check(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn allowed_ranges_open_internal_addresses() {
        let policy = DestinationPolicy::new(vec![net("127.0.0.0/8"), net("10.20.0.0/16")]);
        assert!(policy.is_allowed(ip("127.0.0.1")));
        assert!(policy.is_allowed(ip("::ffff:127.0.0.1")));
        assert!(policy.is_allowed(ip("10.20.3.4")));
        assert!(!policy.is_allowed(ip("10.21.0.1")));
        assert!(!policy.is_allowed(ip("::1")));
        assert!(!policy.is_allowed(ip("169.254.169.254")));
        let v6 = DestinationPolicy::new(vec![net("::1/128"), net("fd00::/8")]);
        assert!(v6.is_allowed(ip("::1")));
        assert!(v6.is_allowed(ip("fd00::5")));
        assert!(!v6.is_allowed(ip("127.0.0.1")));
    }

    #[test]
    fn checks_ip_literal_hosts_in_urls() {
        let policy = DestinationPolicy::default();
        let refused = |s: &str| policy.check_url(&validate_url(s).unwrap()).unwrap_err();
        assert_eq!(
            refused("http://127.0.0.1:8080/hook").to_string(),
            "destination refused: 127.0.0.1 is a loopback address"
        );
        assert_eq!(
            refused("http://169.254.169.254/latest/meta-data").to_string(),
            "destination refused: 169.254.169.254 is a link-local address"
        );
        // URL parsing normalizes the other IPv4 spellings, so they cannot slip past.
        for sneaky in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0177.0.0.1/",
        ] {
            assert!(
                matches!(refused(sneaky), DestinationError::Refused { .. }),
                "{sneaky}"
            );
        }
        assert!(matches!(
            refused("http://[::ffff:7f00:1]/"),
            DestinationError::Refused { .. }
        ));
        assert_eq!(
            policy.check_url(&validate_url("https://8.8.8.8/").unwrap()),
            Ok(())
        );
        // Names are checked at connect time, on the addresses they resolve to.
        assert_eq!(
            policy.check_url(&validate_url("http://localhost/").unwrap()),
            Ok(())
        );
    }

    #[test]
    fn validates_url_syntax_with_clear_messages() {
        let err = |s: &str| validate_url(s).unwrap_err().to_string();
        assert_eq!(
            err("ftp://example.com/"),
            "the URL must start with http:// or https://, not ftp:"
        );
        assert_eq!(
            err("file:///etc/passwd"),
            "the URL must start with http:// or https://, not file:"
        );
        assert_eq!(
            err("http://user:pw@example.com/"),
            "the URL must not contain a user name or password"
        );
        assert_eq!(
            err("http://user@example.com/"),
            "the URL must not contain a user name or password"
        );
        assert_eq!(
            err("https://example.com/#x"),
            "the URL must not contain a fragment (#…)"
        );
        assert_eq!(
            err("https://example.com/#"),
            "the URL must not contain a fragment (#…)"
        );
        assert_eq!(
            err("example.com/hook"),
            "not a valid URL: relative URL without a base"
        );
        assert_eq!(err("http://"), "not a valid URL: empty host");
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(
            err(&long),
            format!(
                "the URL is {} bytes long; at most 2048 are allowed",
                long.len()
            )
        );
        let url = validate_url("HTTPS://Example.COM:443/hooks?x=1").unwrap();
        assert_eq!(url.as_str(), "https://example.com/hooks?x=1");
        let max = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
        assert_eq!(validate_url(&max).unwrap().as_str().len(), MAX_URL_LEN);
    }
}
