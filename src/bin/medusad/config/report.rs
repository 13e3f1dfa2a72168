//! `medusad --check-config FILE`: what the file (with the command line)
//! would serve, in words, without serving it.

use std::fmt::Write as _;

use crate::config::Retries;
use crate::options::Options;

/// The report: addresses, files, endpoints with their methods and
/// remotes, credentials (names only, never passwords).
pub fn report(options: &Options) -> String {
    let mut out = String::new();
    if let Some((file, keys)) = &options.config {
        let names: Vec<&str> = keys.names().collect();
        let _ = writeln!(out, "{}: OK", file.display());
        if !names.is_empty() {
            let _ = writeln!(out, "[server] keys set: {}", names.join(", "));
        }
    }
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    match options.addr {
        Some(addr) => {
            let _ = writeln!(out, "listen: {scheme}://{addr}");
        }
        None => {
            let _ = writeln!(out, "listen: no TCP port");
        }
    }
    for path in &options.unix {
        let _ = writeln!(
            out,
            "listen: unix:{} (mode {:04o})",
            path.display(),
            options.unix_mode
        );
    }
    let _ = writeln!(out, "workers: {}", options.workers);
    if let Some(root) = &options.root {
        let listings = if options.listings {
            "with listings"
        } else {
            "no listings"
        };
        let _ = writeln!(out, "files: {} ({listings})", root.display());
    }
    let _ = writeln!(out, "status page: /status, metrics: /status/metrics");
    let server_users = users(&options.users);
    if let Some(users) = &server_users {
        let _ = writeln!(out, "credentials (every path): {users}");
    }
    if options.endpoints.is_empty() {
        let _ = writeln!(out, "no XML-RPC endpoint");
    }
    for endpoint in &options.endpoints {
        let _ = writeln!(out, "endpoint {}", endpoint.paths.join(", "));
        let auth = match (users(&endpoint.users), endpoint.public, &server_users) {
            (Some(own), _, _) => format!("its own: {own}"),
            (None, true, _) | (None, false, None) => {
                "none (open to anyone who can connect)".to_string()
            }
            (None, false, Some(_)) => "the server's".to_string(),
        };
        let _ = writeln!(out, "  credentials: {auth}");
        if let Some(limit) = endpoint.max_body_bytes {
            let _ = writeln!(out, "  max body: {limit} bytes");
        }
        if endpoint.demo {
            let _ = writeln!(out, "  method add, echo (the demo)");
        }
        for method in &endpoint.methods {
            let _ = writeln!(
                out,
                "  method {} -> program {:?}",
                method.name, method.command
            );
        }
        for remote in &endpoint.remotes {
            let retries = match &remote.idempotent {
                Retries::None => String::new(),
                Retries::All => format!(", retried {}x: all", remote.config.retries),
                Retries::Only(names) => {
                    format!(", retried {}x: {}", remote.config.retries, names.join(" "))
                }
            };
            let c = &remote.config;
            let _ = writeln!(
                out,
                "  remote {}* -> {} (timeout {} s, {} at once, {} waiting, refresh {} s{retries})",
                remote.prefix,
                remote.shown,
                c.timeout.as_secs_f64(),
                c.max_concurrent,
                c.max_waiting,
                c.refresh.as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "  system.listMethods, system.methodHelp, system.methodSignature, system.multicall"
        );
    }
    out
}

/// The user names, sorted, or `None` for none.
fn users(users: &std::collections::HashMap<String, String>) -> Option<String> {
    let mut names: Vec<&str> = users.keys().map(String::as_str).collect();
    names.sort_unstable();
    (!names.is_empty()).then(|| format!("users {}", names.join(", ")))
}
