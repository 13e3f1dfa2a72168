use std::net::IpAddr;

use clap::error::ErrorKind;
use medusa::http::AccessLog;

use super::*;

fn parse(args: &[&str]) -> Result<Box<Options>, clap::Error> {
    match parse_options(std::iter::once("medusad").chain(args.iter().copied())) {
        Ok(options) => Ok(options),
        Err(OptionsError::Usage(e)) => Err(e),
        Err(OptionsError::Config(e)) => panic!("{args:?}: no file here, yet {e}"),
    }
}

fn serves(args: &[&str]) -> Box<Options> {
    parse(args).unwrap_or_else(|e| panic!("{args:?} should serve: {e}"))
}

/// The message of the error `args` make (which must be one).
fn refused(args: &[&str]) -> String {
    match parse(args) {
        Ok(_) => panic!("{args:?} should be refused"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
            e.to_string()
        }
    }
}

#[test]
fn defaults() {
    let o = serves(&[]);
    assert_eq!(o.addr, Some("127.0.0.1:8182".parse().unwrap()));
    assert!(o.root.is_none());
    assert_eq!(o.http.max_body_bytes, 10 * 1024 * 1024);
    assert_eq!(o.grace, Duration::from_secs(10));
    assert_eq!(o.http.handshake_timeout, Duration::from_secs(10));
    assert_eq!(o.http.access_log, AccessLog::Stderr);
    assert!(o.http.allowed_hosts.contains(&"localhost".to_string()));
}

#[test]
fn every_limit_is_a_flag() {
    let o = serves(&[
        "--host",
        "::1",
        "--port",
        "0",
        "--root",
        "/tmp",
        "--max-header-bytes",
        "100",
        "--max-headers",
        "5",
        "--max-body-bytes",
        "7",
        "--max-decoded-bytes",
        "70",
        "--max-gzip-members",
        "2",
        "--idle-timeout",
        "1.5",
        "--request-timeout",
        "2",
        "--tls-handshake-timeout",
        "4",
        "--max-connections",
        "3",
        "--grace",
        "0.25",
        "--access-log",
        "/tmp/a.log",
    ]);
    assert_eq!(o.addr, Some("[::1]:0".parse().unwrap()));
    assert_eq!(o.root, Some(PathBuf::from("/tmp")));
    assert_eq!(
        (
            o.http.max_header_bytes,
            o.http.max_headers,
            o.http.max_body_bytes
        ),
        (100, 5, 7)
    );
    assert_eq!(
        (o.http.max_decoded_body_bytes, o.http.max_gzip_members),
        (Some(70), 2)
    );
    assert_eq!(o.http.idle_timeout, Duration::from_millis(1500));
    assert_eq!(o.http.request_timeout, Duration::from_secs(2));
    assert_eq!(o.http.handshake_timeout, Duration::from_secs(4));
    assert_eq!(o.http.max_connections, 3);
    assert_eq!(o.grace, Duration::from_millis(250));
    assert_eq!(o.http.access_log, AccessLog::File("/tmp/a.log".into()));
    assert_eq!(
        serves(&["--access-log", "off"]).http.access_log,
        AccessLog::Off
    );
}

/// `--flag=value`, the short forms, and a flag given twice (the last
/// one counts, as tests and wrappers that append to a command line rely on).
#[test]
fn equals_short_forms_and_repeats() {
    let o = serves(&["--port=0", "-H", "::1", "-r", "/srv", "-w", "2"]);
    assert_eq!(o.addr, Some("[::1]:0".parse().unwrap()));
    assert_eq!((o.root.as_deref(), o.workers), (Some("/srv".as_ref()), 2));
    let o = serves(&["-p", "1", "--port", "2", "--host=127.0.0.2"]);
    assert_eq!(o.addr, Some("127.0.0.2:2".parse().unwrap()));
}

/// `--host` goes through `medusa::reactor::parse_host` (tested there):
/// its address with `--port`, its reason after clap's "invalid value".
#[test]
fn hosts_by_address_or_name() {
    let o = serves(&["--host", "[::1]", "--port", "80"]);
    assert_eq!(o.addr, Some("[::1]:80".parse().unwrap()));
    let o = serves(&["--host", "localhost"]);
    assert_eq!(o.addr, Some("127.0.0.1:8182".parse().unwrap()));
    let e = refused(&["--host", "not an address"]);
    assert!(
        e.contains("'not an address'")
            && e.contains("--host")
            && e.contains("not an IP address or a host name"),
        "{e}"
    );
}

#[test]
fn xmlrpc_flags() {
    let o = serves(&[
        "--rpc-path",
        "/a",
        "--rpc-path",
        "/b",
        "--auth-user",
        "u:p:w",
        "--max-depth",
        "9",
        "--gzip-threshold",
        "10",
        "--no-extensions",
    ]);
    assert_eq!(o.endpoints[0].paths, ["/a", "/b"]);
    assert_eq!(o.users.get("u").map(String::as_str), Some("p:w"));
    assert_eq!(
        (o.xmlrpc.decode.max_depth, o.xmlrpc.gzip_threshold),
        (9, 10)
    );
    assert!(!o.xmlrpc.encode.nil && !o.xmlrpc.encode.i8);
    assert_eq!(serves(&[]).endpoints[0].paths, ["/RPC2"]);
    assert!(refused(&["--rpc-path", "RPC2"]).contains("must start with '/'"));
    assert!(refused(&["--auth-user", "nopassword"]).contains("NAME:PASSWORD"));
    assert!(refused(&["--public", "status"]).contains("must start with '/'"));
}

/// `--auth-file`: read with the command line; a file that cannot be read
/// or has a bad line is a usage error naming it, not a panic.
#[test]
fn auth_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "# team\nann:one\n\n  bob:two:three  \n").unwrap();
    let o = serves(&["--auth-file", file.to_str().unwrap(), "--auth-user", "cy:x"]);
    let mut users: Vec<(&str, &str)> = o.users.iter().map(|(n, p)| (&**n, &**p)).collect();
    users.sort_unstable();
    assert_eq!(users, [("ann", "one"), ("bob", "two:three"), ("cy", "x")]);
    let e = refused(&["--auth-file", "/nonexistent"]);
    assert!(
        e.contains("/nonexistent") && e.contains("cannot read"),
        "{e}"
    );
    assert!(!e.contains("--max-body-bytes"), "no whole usage: {e}");
    std::fs::write(&file, "ann:one\nbroken\n").unwrap();
    let e = refused(&["--auth-file", file.to_str().unwrap()]);
    assert!(e.contains("line 2: expected NAME:PASSWORD"), "{e}");
}

#[test]
fn unix_socket_flags() {
    let o = serves(&[
        "--unix",
        "/run/a.sock",
        "--unix",
        "/run/b.sock",
        "--unix-mode",
        "0600",
        "--unix-owner",
        "1000:27",
        "--no-tcp",
    ]);
    assert_eq!(
        o.unix,
        [PathBuf::from("/run/a.sock"), PathBuf::from("/run/b.sock")]
    );
    assert_eq!(
        (o.unix_mode, o.unix_owner, o.addr),
        (0o600, Some((1000, Some(27))), None)
    );
    let o = serves(&["--unix", "/run/a.sock"]);
    assert_eq!((o.unix_mode, o.addr.is_some()), (0o660, true));
    // Names, looked up (root and its group exist everywhere).
    let o = serves(&["--unix", "/s", "--unix-owner", "root:root"]);
    assert_eq!(o.unix_owner, Some((0, Some(0))));
    let e = refused(&["--unix", "/s", "--unix-owner", "no-such-user-medusa"]);
    assert!(e.contains("no user \"no-such-user-medusa\""), "{e}");
    let e = refused(&["--unix", "/s", "--unix-owner", "0:no-such-group-medusa"]);
    assert!(e.contains("no group"), "{e}");
    assert!(refused(&["--no-tcp"]).contains("--unix <PATH>"));
    for bad in [
        &["--unix", "/s", "--unix-mode", "999"][..],
        &["--unix", "/s", "--unix-mode", "1777"],
        &["--unix", "/s", "--unix-mode", "rw"],
    ] {
        assert!(refused(bad).contains("octal"), "{bad:?}");
    }
    refused(&["--unix", ""]);
}

#[test]
fn tls_flags_go_together_and_need_tcp() {
    let o = serves(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    let tls = o.tls.expect("TLS files");
    assert_eq!((tls.cert, tls.key), ("c.pem".into(), "k.pem".into()));
    assert!(refused(&["--tls-cert", "c.pem"]).contains("--tls-key"));
    assert!(refused(&["--tls-key", "k.pem"]).contains("--tls-cert"));
    let e = refused(&[
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--unix",
        "/s",
        "--no-tcp",
    ]);
    assert!(e.contains("cannot be used with"), "{e}");
}

#[test]
fn workers_and_trusted_proxies() {
    let o = serves(&[]);
    assert_eq!(o.workers, 1);
    assert!(o.http.trusted_proxies.is_empty());
    let o = serves(&[
        "--workers",
        "3",
        "--trusted-proxy",
        "10.0.0.1",
        "--trusted-proxy",
        "::1",
    ]);
    assert_eq!(o.workers, 3);
    assert_eq!(
        o.http.trusted_proxies,
        [
            "10.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
    assert!(serves(&["--workers", "auto"]).workers >= 1);
    assert!(refused(&["--workers", "0"]).contains("at least 1"));
    refused(&["--workers", "many"]);
    assert!(refused(&["--trusted-proxy", "nginx"]).contains("not an IP address"));
}

#[test]
fn cors_and_allowed_hosts() {
    let o = serves(&[
        "--cors-origin",
        "https://app.example/",
        "--cors-origin",
        "*",
        "--allowed-host",
        "api.example",
    ]);
    assert_eq!(o.http.cors.origins, ["https://app.example", "*"]);
    assert_eq!(o.http.allowed_hosts, ["api.example"]);
    // Not on loopback: any Host by default.
    assert!(serves(&["--host", "0.0.0.0"]).http.allowed_hosts.is_empty());
    refused(&["--cors-origin", "app.example"]);
    refused(&["--allowed-host", ""]);
}

/// Each refusal says what was wrong with the value.
#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert_eq!(
        parse(&["--port"]).err().map(|e| e.kind()),
        Some(ErrorKind::InvalidValue)
    );
    let e = refused(&["--port", "70000"]);
    assert!(e.contains("out of range 0-65535"), "{e}");
    assert!(refused(&["--port", "http"]).contains("not a whole number"));
    assert!(refused(&["--idle-timeout", "-1"]).contains("negative"));
    assert!(refused(&["--grace", "inf"]).contains("finite"));
    assert!(refused(&["--grace", "NaN"]).contains("finite"));
    assert!(refused(&["--request-timeout", "soon"]).contains("not a number"));
    assert!(refused(&["--max-headers", "-5"]).contains("not a whole number"));
    assert!(refused(&["--max-body-bytes", "99999999999999999999"]).contains("too large"));
    let e = parse(&["--bogus", "1"]).err().expect("refused");
    assert_eq!(e.kind(), ErrorKind::UnknownArgument);
    assert!(
        e.to_string().contains("unexpected argument '--bogus'"),
        "{e}"
    );
}

#[test]
fn help_and_version_exit_cleanly() {
    let help = parse(&["--help"]).err().expect("help is clap's exit");
    assert_eq!((help.kind(), help.exit_code()), (ErrorKind::DisplayHelp, 0));
    let text = help.to_string();
    for needle in [
        "--max-body-bytes",
        "--tls-cert",
        "-p, --port",
        "RUST_LOG",
        "Exit status",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    let version = parse(&["--version"]).err().expect("version is clap's exit");
    assert_eq!(version.exit_code(), 0);
    assert!(version.to_string().starts_with("medusad "), "{version}");
}

/// clap's own consistency checks on the definitions (names, conflicts).
#[test]
fn the_definitions_are_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
