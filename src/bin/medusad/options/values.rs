//! What one flag's value may be: each function parses one, and its error
//! (which clap prints after "invalid value 'X' for '--flag'") says why not.

use std::fmt;
use std::net::IpAddr;
use std::num::{IntErrorKind, ParseIntError};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use medusa::http::AccessLog;

/// A number of seconds: fractions allowed, never negative, never infinite.
/// Displayed as given (`1.5`), for clap's `[default: ...]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl FromStr for Seconds {
    type Err = String;

    fn from_str(value: &str) -> Result<Seconds, String> {
        let seconds: f64 = value
            .parse()
            .map_err(|_| "not a number of seconds".to_string())?;
        if !seconds.is_finite() {
            return Err("not a finite number of seconds".to_string());
        }
        if seconds < 0.0 {
            return Err("seconds cannot be negative".to_string());
        }
        Duration::try_from_secs_f64(seconds)
            .map(Seconds)
            .map_err(|_| "too many seconds".to_string())
    }
}

/// A port: 0 (any free one) to 65535.
pub fn port(value: &str) -> Result<u16, String> {
    let n: u64 = whole(value)?;
    u16::try_from(n).map_err(|_| format!("{n} is out of range 0-65535"))
}

/// A count or a size: a whole number, not negative.
pub fn whole<T: FromStr<Err = ParseIntError>>(value: &str) -> Result<T, String> {
    value.parse().map_err(|e: ParseIntError| match e.kind() {
        IntErrorKind::PosOverflow => "too large".to_string(),
        _ => "not a whole number (0, 1, 2...)".to_string(),
    })
}

/// `--workers`: at least one, or `auto` for one per CPU.
pub fn workers(value: &str) -> Result<usize, String> {
    if value == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match whole(value) {
        Ok(0) => Err("at least 1 worker (or auto)".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}, or auto")),
    }
}

/// A path that is not empty (`--unix ""` would bind nothing).
pub fn path(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err("an empty path".to_string());
    }
    Ok(PathBuf::from(value))
}

/// `--unix-mode`: permission bits in octal, at most 0777.
pub fn unix_mode(value: &str) -> Result<u32, String> {
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or("not an octal mode like 0660 (at most 0777)".to_string())
}

/// `--unix-owner`: `USER` or `USER:GROUP`, each a name or a number. Names
/// are looked up now, so that a typo fails at startup, not at the chown.
pub fn owner(value: &str) -> Result<(u32, Option<u32>), String> {
    use nix::unistd::{Group, User};
    let (user, group) = match value.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (value, None),
    };
    let uid = id("user", user, |name| {
        User::from_name(name).map(|u| u.map(|u| u.uid.as_raw()))
    })?;
    let gid = group
        .map(|group| {
            id("group", group, |name| {
                Group::from_name(name).map(|g| g.map(|g| g.gid.as_raw()))
            })
        })
        .transpose()?;
    Ok((uid, gid))
}

/// A numeric id, or the id `find` gives the name.
fn id(
    kind: &str,
    value: &str,
    find: impl FnOnce(&str) -> nix::Result<Option<u32>>,
) -> Result<u32, String> {
    if let Ok(id) = value.parse() {
        return Ok(id);
    }
    match find(value) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(format!("no {kind} {value:?}")),
        Err(e) => Err(format!("looking up {kind} {value:?}: {e}")),
    }
}

/// `--rpc-path`, `--public`: a URL path.
pub fn url_path(value: &str) -> Result<String, String> {
    if !value.starts_with('/') {
        return Err("a path must start with '/'".to_string());
    }
    Ok(value.to_string())
}

/// `--auth-user`: `NAME:PASSWORD` (the password may contain ':').
pub fn credentials(value: &str) -> Result<(String, String), String> {
    match value.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok((name.to_string(), password.to_string())),
        _ => Err("expected NAME:PASSWORD".to_string()),
    }
}

/// The entries of an `--auth-file`, read when the command line is.
#[derive(Clone, Debug)]
pub struct CredentialsFile(pub Vec<(String, String)>);

/// `--auth-file`: one `NAME:PASSWORD` per line; blank lines and lines
/// starting with `#` are skipped.
pub fn credentials_file(value: &str) -> Result<CredentialsFile, String> {
    let text = std::fs::read_to_string(value).map_err(|e| format!("cannot read it: {e}"))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| credentials(line).map_err(|e| format!("line {n}: {e}")))
        .collect::<Result<_, _>>()
        .map(CredentialsFile)
}

/// `--access-log`: a file to append to, or `off`.
pub fn access_log(value: &str) -> Result<AccessLog, String> {
    match value {
        "off" => Ok(AccessLog::Off),
        "" => Err("a file, or off".to_string()),
        file => Ok(AccessLog::File(PathBuf::from(file))),
    }
}

/// `--cors-origin`: `scheme://host[:port]` (a trailing `/` dropped) or `*`.
pub fn cors_origin(value: &str) -> Result<String, String> {
    if value == "*" || value.contains("://") {
        return Ok(value.trim_end_matches('/').to_string());
    }
    Err("expected scheme://host[:port] or '*'".to_string())
}

/// `--allowed-host`: a name (or `*`), not empty.
pub fn allowed_host(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("an empty name".to_string());
    }
    Ok(value.to_string())
}

/// `--trusted-proxy`: an IP address (a name could change under us).
pub fn ip(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| "not an IP address".to_string())
}
