//! Which addresses the `http` job may reach: public ones always; loopback, private and
//! link-local ranges only when the deployment allows them (`NEXTDUE_HTTP_ALLOW`). Pure: the
//! HTTP seam applies it to every address a name resolves to and every redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The non-public ranges a deployment lets the `http` job reach (none by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// `127.0.0.0/8` and `::1` (`nextdue dev` allows it, for local services).
    pub loopback: bool,
    /// `10/8`, `172.16/12`, `192.168/16`, `100.64/10` and `fc00::/7` (a VPC's own services).
    pub private: bool,
    /// `169.254/16` and `fe80::/10`, where the instance metadata service lives.
    pub link_local: bool,
}

/// The names [`NetworkPolicy::parse`] reads.
pub const RANGE_NAMES: &[&str] = &["loopback", "private", "link-local"];

impl NetworkPolicy {
    /// Reads a comma-separated list of range names (`loopback,private`); empty, or `none`,
    /// allows none.
    ///
    /// ```
    /// use nextdue::network::NetworkPolicy;
    /// let policy = NetworkPolicy::parse("loopback, private").unwrap();
    /// assert!(policy.loopback && policy.private && !policy.link_local);
    /// assert_eq!(NetworkPolicy::parse("none").unwrap(), NetworkPolicy::default());
    /// assert!(NetworkPolicy::parse("everything").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<NetworkPolicy, String> {
        let mut policy = NetworkPolicy::default();
        if text.trim() == "none" {
            return Ok(policy);
        }
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "loopback" => policy.loopback = true,
                "private" => policy.private = true,
                "link-local" => policy.link_local = true,
                other => {
                    return Err(format!(
                        "{other:?} is not a range (expected any of {})",
                        RANGE_NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(policy)
    }
}

/// The range an address is in, when it is not a public one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    Loopback,
    Private,
    LinkLocal,
    /// Never reachable as a destination: unspecified, broadcast, multicast, reserved.
    Unroutable,
}

fn v4_range(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(Range::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Range::Private)
    } else if ip.is_link_local() {
        Some(Range::LinkLocal)
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some(Range::Unroutable)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one carries, so it is judged as that address: mapped
/// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated, but some stacks still route it),
/// 6to4 `2002:AABB:CCDD::/48`, NAT64 `64:ff9b::/96` and local-use NAT64 `64:ff9b:1::/48`
/// (its last 32 bits, as RFC 6052's /96 form writes it).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = ip.segments();
    let from = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let [.., hi, lo] = segments;
    match segments {
        // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible ones.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, ..] => Some(from(hi, lo)),
        [0x2002, a, b, ..] => Some(from(a, b)),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 1, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

fn range(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return v4_range(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some(Range::Loopback)
            } else if first & 0xfe00 == 0xfc00 {
                Some(Range::Private)
            } else if first & 0xffc0 == 0xfe80 {
                Some(Range::LinkLocal)
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some(Range::Unroutable)
            } else {
                None
            }
        }
    }
}

/// Why `policy` refuses `ip`, or `None` when the `http` job may reach it.
///
/// ```
/// use nextdue::network::{NetworkPolicy, refusal};
/// let none = NetworkPolicy::default();
/// assert_eq!(refusal("93.184.215.14".parse().unwrap(), &none), None);
/// assert!(refusal("169.254.169.254".parse().unwrap(), &none).unwrap().contains("link-local"));
/// assert!(refusal("::ffff:127.0.0.1".parse().unwrap(), &none).unwrap().contains("loopback"));
/// ```
pub fn refusal(ip: IpAddr, policy: &NetworkPolicy) -> Option<String> {
    let (allowed, what, setting) = match range(ip)? {
        Range::Loopback => (policy.loopback, "a loopback address", "loopback"),
        Range::Private => (policy.private, "a private address", "private"),
        Range::LinkLocal => (
            policy.link_local,
            "a link-local address (where the instance metadata service answers)",
            "link-local",
        ),
        Range::Unroutable => {
            return Some(format!("{ip} is not an address a request can go to"));
        }
    };
    (!allowed).then(|| {
        format!("{ip} is {what}; this deployment does not allow it (NEXTDUE_HTTP_ALLOW={setting})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str, policy: NetworkPolicy) -> bool {
        refusal(ip.parse().unwrap(), &policy).is_some()
    }

    #[test]
    fn public_addresses_are_always_reachable() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::5db8:d70e",
            "2002:5db8:d70e::1",
            "64:ff9b:1::808:808",
        ] {
            assert!(!refused(ip, NetworkPolicy::default()), "{ip}");
        }
    }

    #[test]
    fn each_range_is_refused_unless_its_setting_allows_it() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fd00:ec2::254", "private"),
            ("64:ff9b::a00:1", "private"),
            ("169.254.169.254", "link-local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("fe80::1", "link-local"),
            // IPv4-compatible, 6to4 and local-use NAT64 forms carry an IPv4 address too.
            ("::127.0.0.1", "loopback"),
            ("::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("2002:c0a8:101::", "private"),
            ("64:ff9b:1::7f00:1", "loopback"),
            ("64:ff9b:1:2:3:4:a9fe:a9fe", "link-local"),
        ];
        for (ip, range) in cases {
            let allowing = NetworkPolicy::parse(range).unwrap();
            assert!(refused(ip, NetworkPolicy::default()), "{ip}");
            let message = refusal(ip.parse().unwrap(), &NetworkPolicy::default()).unwrap();
            assert!(
                message.contains(&format!("NEXTDUE_HTTP_ALLOW={range}")),
                "{message}"
            );
            assert!(!refused(ip, allowing), "{ip} with {range} allowed");
            let everything_else = NetworkPolicy::parse(
                &RANGE_NAMES
                    .iter()
                    .filter(|r| **r != range)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .unwrap();
            assert!(refused(ip, everything_else), "{ip}: only {range} allows it");
        }
    }

    #[test]
    fn addresses_no_request_can_go_to_are_refused_whatever_the_setting() {
        let all = NetworkPolicy::parse("loopback,private,link-local").unwrap();
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::",
            "ff02::1",
        ] {
            assert!(refused(ip, all), "{ip}");
        }
    }
}
