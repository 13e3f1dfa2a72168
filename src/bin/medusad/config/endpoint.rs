//! `[[endpoint]]`: an XML-RPC endpoint, its methods and its limits.
//!
//! ```toml
//! [[endpoint]]
//! path = "/RPC2"              # or a list of paths
//! demo = true                 # add and echo
//! auth-user = ["ops:secret"]  # its own credentials (else the server's)
//! max-body-bytes = 65536
//!
//! [[endpoint.method]]
//! name = "disk.free"
//! command = ["df", "--output=avail", "-B1"]
//! timeout = 5
//!
//! [[endpoint.remote]]
//! prefix = "inventory."
//! url = "http://127.0.0.1:9000/RPC2"
//! ```
//!
//! Checked here, all at once: names, paths, commands (they must exist),
//! types in signatures, numbers in range. What is built from a checked
//! endpoint is in `endpoints.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use medusa::xmlrpc::{Fault, ProgramMethod, Remote, RemoteConfig};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::options::values;

/// One path, or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Paths {
    One(String),
    Many(Vec<String>),
}

/// One signature (`["int", "int", "int"]`), or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Signatures {
    One(Vec<String>),
    Many(Vec<Vec<String>>),
}

/// `true` (every method), or the methods by name.
#[derive(Deserialize)]
#[serde(untagged)]
enum Idempotent {
    All(bool),
    Some(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawEndpoint {
    path: Spanned<Paths>,
    #[serde(default)]
    demo: bool,
    #[serde(default)]
    auth_user: Vec<Spanned<String>>,
    auth_file: Option<Spanned<String>>,
    #[serde(default)]
    public: bool,
    max_body_bytes: Option<u64>,
    max_depth: Option<usize>,
    gzip_threshold: Option<usize>,
    no_extensions: Option<bool>,
    #[serde(default)]
    method: Vec<Spanned<RawMethod>>,
    #[serde(default)]
    remote: Vec<Spanned<RawRemote>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawMethod {
    name: Spanned<String>,
    command: Spanned<Vec<String>>,
    cwd: Option<Spanned<String>>,
    pass_env: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout: Option<Spanned<f64>>,
    max_concurrent: Option<Spanned<usize>>,
    fault_code: Option<i32>,
    max_stdout: Option<usize>,
    max_stderr: Option<usize>,
    #[serde(default)]
    help: String,
    signature: Option<Spanned<Signatures>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRemote {
    prefix: Spanned<String>,
    url: Spanned<String>,
    timeout: Option<Spanned<f64>>,
    max_concurrent: Option<Spanned<usize>>,
    max_waiting: Option<Spanned<usize>>,
    idempotent: Option<Idempotent>,
    retries: Option<u32>,
    refresh: Option<Spanned<f64>>,
    ca_file: Option<Spanned<String>>,
    no_system_roots: Option<bool>,
}

/// An endpoint, checked: everything needed to build its handler.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    pub paths: Vec<String>,
    pub demo: bool,
    /// Its own credentials; empty: the server's apply (unless `public`).
    pub users: HashMap<String, String>,
    /// Served without credentials even when the server requires them.
    pub public: bool,
    pub max_body_bytes: Option<u64>,
    pub max_depth: Option<usize>,
    pub gzip_threshold: Option<usize>,
    pub no_extensions: Option<bool>,
    pub methods: Vec<MethodSpec>,
    pub remotes: Vec<RemoteSpec>,
}

impl EndpointSpec {
    /// The endpoint served without a file: the demo service at `paths`.
    pub fn demo(paths: Vec<String>) -> EndpointSpec {
        EndpointSpec {
            paths,
            demo: true,
            users: HashMap::new(),
            public: false,
            max_body_bytes: None,
            max_depth: None,
            gzip_threshold: None,
            no_extensions: None,
            methods: Vec::new(),
            remotes: Vec::new(),
        }
    }
}

/// A method backed by a program.
#[derive(Debug, Clone)]
pub struct MethodSpec {
    pub name: String,
    /// The argument vector, as given (for `--check-config`).
    pub command: Vec<String>,
    pub program: ProgramMethod,
}

/// A remote XML-RPC server mounted under a prefix.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    pub prefix: String,
    /// As given: it may hold credentials.
    pub url: String,
    /// Without user info, for `--check-config`.
    pub shown: String,
    /// Which methods may be sent again after a transport failure (also in
    /// `config`, as the library takes it).
    pub idempotent: Retries,
    pub config: RemoteConfig,
}

/// Which calls to a remote may be retried.
#[derive(Debug, Clone, PartialEq)]
pub enum Retries {
    None,
    All,
    Only(Vec<String>),
}

/// The XML-RPC type names a signature may use.
const TYPES: [&str; 12] = [
    "int",
    "i4",
    "i8",
    "boolean",
    "string",
    "double",
    "dateTime.iso8601",
    "base64",
    "struct",
    "array",
    "nil",
    "undef",
];

/// Checks every endpoint, and that no path is served twice.
pub fn check_all(
    source: &Source<'_>,
    tables: Vec<Spanned<RawEndpoint>>,
) -> Result<Vec<EndpointSpec>, ConfigError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut endpoints = Vec::new();
    for table in tables {
        let at = table.get_ref().path.span().start;
        let endpoint = check(source, table.into_inner())?;
        for path in &endpoint.paths {
            if path == "/status" || path.starts_with("/status/") {
                return Err(
                    source.error_at(at, format!("endpoint.path: {path} is the status page's"))
                );
            }
            if !seen.insert(path.clone()) {
                return Err(source.error_at(
                    at,
                    format!("endpoint.path: {path} is served by an earlier endpoint"),
                ));
            }
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

fn check(source: &Source<'_>, raw: RawEndpoint) -> Result<EndpointSpec, ConfigError> {
    let path_at = raw.path.span().start;
    let paths = match raw.path.into_inner() {
        Paths::One(path) => vec![path],
        Paths::Many(paths) => paths,
    };
    if paths.is_empty() {
        return Err(source.error_at(path_at, "endpoint.path: at least one path"));
    }
    for path in &paths {
        values::url_path(path)
            .map_err(|e| source.error_at(path_at, format!("endpoint.path: {path:?}: {e}")))?;
    }
    let mut users = HashMap::new();
    for entry in &raw.auth_user {
        let (name, password) = values::credentials(entry.get_ref())
            .map_err(|e| source.error_at(entry.span().start, format!("endpoint.auth-user: {e}")))?;
        users.insert(name, password);
    }
    if let Some(file) = &raw.auth_file {
        let resolved = source.resolve(file.get_ref());
        let entries = values::credentials_file(&resolved.to_string_lossy()).map_err(|e| {
            source.error_at(
                file.span().start,
                format!("endpoint.auth-file {}: {e}", resolved.display()),
            )
        })?;
        users.extend(entries.0);
    }
    if raw.public && !users.is_empty() {
        return Err(source.error_at(
            path_at,
            "endpoint: public = true and credentials of its own cannot go together",
        ));
    }
    let mut names: HashSet<String> = HashSet::new();
    let mut methods = Vec::new();
    for method in raw.method {
        let at = method.span().start;
        let method = check_method(source, method.into_inner())?;
        if raw.demo && matches!(method.name.as_str(), "add" | "echo") {
            return Err(source.error_at(
                at,
                format!("endpoint.method: {} is already the demo's", method.name),
            ));
        }
        if !names.insert(method.name.clone()) {
            return Err(source.error_at(
                at,
                format!("endpoint.method: {} is defined twice", method.name),
            ));
        }
        methods.push(method);
    }
    let mut prefixes: Vec<String> = Vec::new();
    let mut remotes = Vec::new();
    for remote in raw.remote {
        let at = remote.get_ref().prefix.span().start;
        let remote = check_remote(source, remote.into_inner())?;
        if let Some(other) = prefixes
            .iter()
            .find(|p| p.starts_with(&remote.prefix) || remote.prefix.starts_with(p.as_str()))
        {
            return Err(source.error_at(
                at,
                format!(
                    "endpoint.remote.prefix: {:?} overlaps {other:?}",
                    remote.prefix
                ),
            ));
        }
        if let Some(name) = names.iter().find(|name| name.starts_with(&remote.prefix)) {
            return Err(source.error_at(
                at,
                format!(
                    "endpoint.remote.prefix: {:?} would hide the method {name}",
                    remote.prefix
                ),
            ));
        }
        prefixes.push(remote.prefix.clone());
        remotes.push(remote);
    }
    Ok(EndpointSpec {
        paths,
        demo: raw.demo,
        users,
        public: raw.public,
        max_body_bytes: raw.max_body_bytes,
        max_depth: raw.max_depth,
        gzip_threshold: raw.gzip_threshold,
        no_extensions: raw.no_extensions,
        methods,
        remotes,
    })
}

/// Seconds as a duration: finite, not negative, at most `max`.
fn seconds(
    source: &Source<'_>,
    key: &str,
    value: &Spanned<f64>,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let at = value.span().start;
    let seconds = *value.get_ref();
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(source.error_at(
            at,
            format!("{key}: {seconds} is not a number of seconds (0 or more)"),
        ));
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= max => Ok(duration),
        _ => Err(source.error_at(at, format!("{key}: at most {} seconds", max.as_secs()))),
    }
}

/// At least one.
fn count(source: &Source<'_>, key: &str, value: &Spanned<usize>) -> Result<usize, ConfigError> {
    match *value.get_ref() {
        0 => Err(source.error_at(value.span().start, format!("{key}: at least 1"))),
        n => Ok(n),
    }
}

fn check_method(source: &Source<'_>, raw: RawMethod) -> Result<MethodSpec, ConfigError> {
    let name_at = raw.name.span().start;
    let name = raw.name.into_inner();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(source.error_at(
            name_at,
            format!("endpoint.method.name: {name:?} is not a method name"),
        ));
    }
    if name.starts_with("system.") {
        return Err(source.error_at(
            name_at,
            format!("endpoint.method.name: {name}: system.* names are the server's"),
        ));
    }
    let command_at = raw.command.span().start;
    let command = raw.command.into_inner();
    let Some((program, args)) = command.split_first() else {
        return Err(source.error_at(
            command_at,
            "endpoint.method.command: the program, then its arguments",
        ));
    };
    let cwd = raw.cwd.as_ref().map(|cwd| source.resolve(cwd.get_ref()));
    if let (Some(cwd), Some(spanned)) = (&cwd, &raw.cwd) {
        if !cwd.is_dir() {
            return Err(source.error_at(
                spanned.span().start,
                format!("endpoint.method.cwd: {} is not a directory", cwd.display()),
            ));
        }
    }
    let executable = find_program(
        source,
        program,
        cwd.as_deref(),
        raw.pass_env.as_deref(),
        &raw.env,
    )
    .map_err(|e| source.error_at(command_at, format!("endpoint.method.command: {e}")))?;
    let mut method = ProgramMethod::new(executable).args(args);
    if let Some(cwd) = cwd {
        method = method.current_dir(cwd);
    }
    if let Some(names) = raw.pass_env {
        method = method.pass_env(names);
    }
    for (name, value) in raw.env {
        method = method.env(name, value);
    }
    if let Some(timeout) = &raw.timeout {
        method = method.timeout(seconds(
            source,
            "endpoint.method.timeout",
            timeout,
            ProgramMethod::MAX_TIMEOUT,
        )?);
    }
    if let Some(runs) = &raw.max_concurrent {
        method = method.max_concurrent(count(source, "endpoint.method.max-concurrent", runs)?);
    }
    method = method.fault_code(raw.fault_code.unwrap_or(Fault::APPLICATION_ERROR));
    if let Some(bytes) = raw.max_stdout {
        method = method.max_stdout(bytes);
    }
    if let Some(bytes) = raw.max_stderr {
        method = method.max_stderr(bytes);
    }
    method = method.help(&raw.help);
    if let Some(signature) = raw.signature {
        let at = signature.span().start;
        let signatures = match signature.into_inner() {
            Signatures::One(types) => vec![types],
            Signatures::Many(list) => list,
        };
        for types in &signatures {
            if types.is_empty() {
                return Err(source.error_at(
                    at,
                    "endpoint.method.signature: the result's type, then the parameters'",
                ));
            }
            if let Some(bad) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
                return Err(source.error_at(
                    at,
                    format!(
                        "endpoint.method.signature: {bad:?} is not an XML-RPC type ({})",
                        TYPES.join(", ")
                    ),
                ));
            }
            let types: Vec<&str> = types.iter().map(String::as_str).collect();
            method = method.signature(&types);
        }
    }
    Ok(MethodSpec {
        name,
        command,
        program: method,
    })
}

/// The program a command names, checked now so that a typo fails at
/// startup rather than at the first call: a path (relative ones from the
/// config file's directory) must be an executable file; a bare name is
/// looked up in the `PATH` the program will get (the server's, when
/// passed, unless `env` sets one).
fn find_program(
    source: &Source<'_>,
    program: &str,
    cwd: Option<&Path>,
    pass_env: Option<&[String]>,
    env: &BTreeMap<String, String>,
) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |path: &Path| {
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let path = match cwd {
            // Relative to the program's working directory, as exec sees it.
            Some(cwd) if Path::new(program).is_relative() => cwd.join(program),
            _ => source.resolve(program),
        };
        return match executable(&path) {
            true => Ok(path),
            false => Err(format!("{} is not an executable file", path.display())),
        };
    }
    let passes_path = pass_env.is_none_or(|names| names.iter().any(|n| n == "PATH"));
    let search = match env.get("PATH") {
        Some(path) => Some(path.clone()),
        None if passes_path => std::env::var("PATH").ok(),
        None => None,
    };
    let Some(search) = search else {
        return Err(format!(
            "{program}: no PATH to look it up in (give a path, or pass PATH)"
        ));
    };
    match std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
    {
        // The name, not the path found: the program sees the argv[0] it
        // was configured with, and exec looks it up the same way.
        Some(_) => Ok(PathBuf::from(program)),
        None => Err(format!("{program}: not found in PATH ({search})")),
    }
}

fn check_remote(source: &Source<'_>, raw: RawRemote) -> Result<RemoteSpec, ConfigError> {
    let prefix_at = raw.prefix.span().start;
    let prefix = raw.prefix.into_inner();
    if prefix.is_empty() || prefix.starts_with("system.") || prefix.chars().any(char::is_whitespace)
    {
        return Err(source.error_at(prefix_at, format!("endpoint.remote.prefix: {prefix:?} is not a usable prefix (such as \"inventory.\")")));
    }
    let url_at = raw.url.span().start;
    let url = raw.url.into_inner();
    let shown = Remote::shown_url(&url)
        .map_err(|e| source.error_at(url_at, format!("endpoint.remote.url: {e}")))?;
    let day = Duration::from_secs(24 * 60 * 60);
    let mut config = RemoteConfig::default();
    if let Some(t) = &raw.timeout {
        config.timeout = seconds(source, "endpoint.remote.timeout", t, day)?;
    }
    if let Some(t) = &raw.refresh {
        config.refresh = seconds(source, "endpoint.remote.refresh", t, day)?;
        if config.refresh < Duration::from_secs(1) {
            return Err(
                source.error_at(t.span().start, "endpoint.remote.refresh: at least 1 second")
            );
        }
    }
    if let Some(n) = &raw.max_concurrent {
        config.max_concurrent = count(source, "endpoint.remote.max-concurrent", n)?;
    }
    if let Some(n) = &raw.max_waiting {
        config.max_waiting = *n.get_ref();
    }
    if let Some(n) = raw.retries {
        config.retries = n;
    }
    if let Some(file) = &raw.ca_file {
        // A small file read at startup or on SIGHUP: it is checked here,
        // so a bad one is an error at its line.
        let path = source.resolve(file.get_ref());
        config.tls.add_ca_file(&path).map_err(|e| {
            source.error_at(
                file.span().start,
                format!("endpoint.remote.ca-file {}: {e}", path.display()),
            )
        })?;
    }
    if raw.no_system_roots == Some(true) {
        config.tls.without_system_roots();
    }
    let idempotent = match raw.idempotent {
        None | Some(Idempotent::All(false)) => Retries::None,
        Some(Idempotent::All(true)) => Retries::All,
        Some(Idempotent::Some(names)) => Retries::Only(names),
    };
    config.idempotent = match &idempotent {
        Retries::None => Vec::new(),
        Retries::All => vec!["*".to_string()],
        Retries::Only(names) => names.clone(),
    };
    Ok(RemoteSpec {
        prefix,
        url,
        shown,
        idempotent,
        config,
    })
}
