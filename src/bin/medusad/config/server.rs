//! `[server]`: command-line flags as keys.
//!
//! Each key is a flag's long name, and its value goes through that flag's
//! own clap value parser, so the file and the command line accept exactly
//! the same things and give the same reasons. The keys then become
//! arguments placed *before* the command line's: a flag given on the
//! command line replaces the file's (for a list, such as `unix`, the
//! command line's list replaces the file's).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::CommandFactory;
use toml::{Spanned, Value};

use super::{ConfigError, Source};
use crate::options::Cli;

/// Flags that are not settings: they say which file to read, or ask for
/// help.
const NOT_KEYS: [&str; 4] = ["config", "check-config", "help", "version"];

/// Flags whose value is a file system path: relative ones are taken from
/// the config file's directory. (`rpc-path` and `public` are URL paths.)
const PATH_KEYS: [&str; 6] = [
    "unix",
    "tls-cert",
    "tls-key",
    "root",
    "auth-file",
    "access-log",
];

/// The `[server]` keys, checked, in the file's order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServerKeys(Vec<ServerKey>);

#[derive(Debug, Clone, PartialEq)]
struct ServerKey {
    /// The clap argument's id (the `Cli` field name).
    id: String,
    /// As written in the file: the flag's long name.
    name: String,
    /// `--name=value` for each value; a flag without a value (`no-tcp =
    /// true`) has none, and `no-tcp = false` is left out altogether.
    values: Vec<OsString>,
    /// Whether the flag takes no value.
    switch: bool,
}

impl ServerKeys {
    /// Checks every key of `[server]` against the flags.
    pub fn check(
        source: &Source<'_>,
        table: &BTreeMap<Spanned<String>, Spanned<Value>>,
    ) -> Result<ServerKeys, ConfigError> {
        let command = Cli::command();
        let mut keys: Vec<(usize, ServerKey)> = Vec::new();
        for (key, value) in table {
            let name = key.get_ref().as_str();
            let at = key.span().start;
            let error = |message: String| source.error_at(at, format!("server.{name}: {message}"));
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(name) && !NOT_KEYS.contains(&name))
                .ok_or_else(|| {
                    error("no such key (the keys are medusad's flags without the --; see medusad --help)".to_string())
                })?;
            let switch = !arg.get_action().takes_values();
            let values = match (switch, value.get_ref()) {
                (true, Value::Boolean(true)) => Vec::new(),
                (true, Value::Boolean(false)) => continue,
                (true, other) => {
                    return Err(error(format!(
                        "true or false, not {} {other}",
                        other.type_str()
                    )))
                }
                (false, Value::Array(items)) if is_list(arg) => items
                    .iter()
                    .map(|item| scalar(item).map_err(&error))
                    .collect::<Result<_, _>>()?,
                (false, Value::Array(_)) => return Err(error("one value, not a list".to_string())),
                (false, item) => vec![scalar(item).map_err(&error)?],
            };
            let values: Vec<OsString> = values
                .into_iter()
                .map(|value| match PATH_KEYS.contains(&name) && value != "off" {
                    true => source.resolve(&value).into_os_string(),
                    false => OsString::from(value),
                })
                .collect();
            check_values(arg, &values).map_err(error)?;
            keys.push((
                at,
                ServerKey {
                    id: arg.get_id().to_string(),
                    name: name.to_string(),
                    values,
                    switch,
                },
            ));
        }
        keys.sort_by_key(|(at, _)| *at);
        Ok(ServerKeys(keys.into_iter().map(|(_, key)| key).collect()))
    }

    /// The keys' names, for `--check-config`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|key| key.name.as_str())
    }
}

/// Runs `values` through the flag's own value parser: the flag alone in a
/// command of its own, without its relations to other flags (those are
/// checked once the whole command line is put together).
fn check_values(arg: &clap::Arg, values: &[OsString]) -> Result<(), String> {
    let alone = arg
        .clone()
        .requires(clap::builder::Resettable::<clap::Id>::Reset)
        .conflicts_with(clap::builder::Resettable::<clap::Id>::Reset)
        .required(false);
    let command = clap::Command::new("medusad")
        .allow_negative_numbers(true)
        .arg(alone);
    let name = arg.get_long().unwrap_or_default();
    let mut args = vec![OsString::from("medusad")];
    for value in values {
        let mut arg = OsString::from(format!("--{name}="));
        arg.push(value);
        args.push(arg);
    }
    command.try_get_matches_from(args).map(drop).map_err(|e| {
        // The value parser's own reason, without clap's framing about a
        // command line.
        let reason = e
            .source()
            .map_or_else(|| e.kind().to_string(), |s| s.to_string());
        let value = e
            .get(clap::error::ContextKind::InvalidValue)
            .map(|v| format!("{v}: "))
            .unwrap_or_default();
        format!("{value}{reason}")
    })
}

/// Whether a flag may be given several times (then the key takes a list).
fn is_list(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), clap::ArgAction::Append)
}

/// A value as the command line would have it.
fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Float(x) => Ok(x.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("a string or a number, not {}", other.type_str())),
    }
}

/// `args` (a command line, program name first) with the file's keys put in
/// front of the command line's own flags, except those the command line
/// sets itself. An error is the command line's own (it is parsed to see
/// which flags it sets).
pub fn apply_server_keys(
    args: Vec<OsString>,
    keys: &ServerKeys,
) -> Result<Vec<OsString>, clap::Error> {
    let matches = Cli::command().try_get_matches_from(&args)?;
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut merged: Vec<OsString> = args.iter().take(1).cloned().collect();
    for key in keys.0.iter().filter(|key| !given(&key.id)) {
        if key.switch {
            merged.push(OsString::from(format!("--{}", key.name)));
        }
        for value in &key.values {
            let mut arg = OsString::from(format!("--{}=", key.name));
            arg.push(value);
            merged.push(arg);
        }
    }
    merged.extend(args.into_iter().skip(1));
    Ok(merged)
}
