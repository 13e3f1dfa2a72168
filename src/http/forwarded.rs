//! The client address behind trusted proxies, from `X-Forwarded-For`.
//!
//! Behind nginx every connection comes from the proxy, so the access log
//! would name only the proxy. A proxy appends the address it received the
//! request from to `X-Forwarded-For`; reading that list from the right and
//! skipping the proxies we trust gives the first address nobody we trust
//! vouches for beyond: the client. Entries left of it are whatever the
//! client chose to send, so they are never believed (nginx's
//! `real_ip_recursive on` does the same).

use std::net::{IpAddr, SocketAddr};

/// The address to log for a request that arrived from `peer` with the
/// given `X-Forwarded-For` header values (in order; a request may carry
/// several, which count as one comma-separated list).
///
/// `peer` itself when it is not one of `trusted` (the header is then
/// client-controlled and ignored), or when the header is absent. Otherwise
/// the rightmost listed address that is not trusted; if every listed
/// address is trusted, the leftmost. An entry that is not an IP address
/// (`unknown`, garbage) ends the walk: the address to its right, the last
/// one a trusted proxy vouched for, is the answer.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| canonical(*t) == canonical(*ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `::1`, `[::1]`, and with a
/// port (`1.2.3.4:80`, `[::1]:80`), which some proxies add.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse().ok())
        .map(canonical)
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports)
/// compared as the IPv4 address, so `--trusted-proxy 1.2.3.4` matches it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PROXY: &str = "10.0.0.1";

    fn resolve(peer: &str, headers: &[&str], trusted: &[&str]) -> IpAddr {
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        client_address(ip(peer), headers.iter().copied(), &trusted)
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        assert_eq!(resolve("1.2.3.4", &["9.9.9.9"], &[PROXY]), ip("1.2.3.4"));
        assert_eq!(resolve("1.2.3.4", &["9.9.9.9"], &[]), ip("1.2.3.4"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_peer() {
        assert_eq!(resolve(PROXY, &[], &[PROXY]), ip(PROXY));
        assert_eq!(resolve(PROXY, &["", " , "], &[PROXY]), ip(PROXY));
    }

    #[test]
    fn rightmost_untrusted_entry_wins() {
        // The client forged 6.6.6.6; the proxy appended the real 5.5.5.5.
        assert_eq!(
            resolve(PROXY, &["6.6.6.6, 5.5.5.5"], &[PROXY]),
            ip("5.5.5.5")
        );
        // Two proxies in a row, both trusted.
        assert_eq!(
            resolve(PROXY, &["6.6.6.6, 5.5.5.5, 10.0.0.2"], &[PROXY, "10.0.0.2"]),
            ip("5.5.5.5")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            resolve(PROXY, &["6.6.6.6", "5.5.5.5"], &[PROXY]),
            ip("5.5.5.5")
        );
    }

    #[test]
    fn all_trusted_gives_the_leftmost() {
        assert_eq!(
            resolve(PROXY, &["10.0.0.2, 10.0.0.1"], &[PROXY, "10.0.0.2"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn garbage_stops_the_walk() {
        assert_eq!(
            resolve(PROXY, &["5.5.5.5, unknown, 10.0.0.2"], &[PROXY, "10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(resolve(PROXY, &["not an ip"], &[PROXY]), ip(PROXY));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        assert_eq!(resolve(PROXY, &["5.5.5.5:1234"], &[PROXY]), ip("5.5.5.5"));
        assert_eq!(
            resolve(PROXY, &["[2001:db8::1]:80"], &[PROXY]),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(PROXY, &["[2001:db8::1]"], &[PROXY]),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(PROXY, &["2001:db8::1"], &[PROXY]),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve("::ffff:10.0.0.1", &["5.5.5.5"], &[PROXY]),
            ip("5.5.5.5")
        );
    }
}
