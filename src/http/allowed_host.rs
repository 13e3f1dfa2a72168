//! The `Host` allow-list against DNS rebinding: a browser that was made to
//! resolve `evil.example` to 127.0.0.1 still sends `Host: evil.example`,
//! which a loopback server should refuse (421), whatever its port.

/// Whether a request with this `Host` value may be served under
/// `allowed` (names without ports; IPv6 with or without brackets; `*` for
/// any). No `Host` (HTTP/1.0) is allowed: only browsers rebind, and they
/// always send one.
pub fn host_allowed(allowed: &[String], host: Option<&str>) -> bool {
    let Some(host) = host else {
        return true;
    };
    if allowed.is_empty() {
        return true;
    }
    let name = host_name(host);
    allowed
        .iter()
        .any(|a| a == "*" || unbracketed(a).eq_ignore_ascii_case(name))
}

/// The name part of `host[:port]`, IPv6 brackets removed.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn unbracketed(name: &str) -> &str {
    name.trim_start_matches('[').trim_end_matches(']')
}

/// The names a server bound to a loopback address accepts by default:
/// `localhost` and the loopback literals.
pub fn loopback_names() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|n| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_without_port_or_brackets_and_case() {
        let allowed = loopback_names();
        for ok in [
            "localhost",
            "LOCALHOST:8182",
            "127.0.0.1:1",
            "[::1]:8182",
            "[::1]",
        ] {
            assert!(host_allowed(&allowed, Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8182",
            "localhost.evil",
            "127.0.0.2",
            "[::2]:1",
            "",
        ] {
            assert!(!host_allowed(&allowed, Some(bad)), "{bad}");
        }
        assert!(host_allowed(&allowed, None));
        assert!(host_allowed(&[], Some("anything")));
        assert!(host_allowed(&["*".to_string()], Some("anything")));
        assert!(host_allowed(&["[::1]".to_string()], Some("[::1]:80")));
    }
}
