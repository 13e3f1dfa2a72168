//! `medusad --config FILE`: the configuration file (TOML).
//!
//! Two parts. `[server]` holds command-line flags by their long names
//! (`port = 8182`, `max-body-bytes = 1048576`): every flag is a key, checked
//! by the same parser as on the command line (`server.rs`), and a flag
//! given on the command line wins over the file. `[[endpoint]]` tables are
//! the XML-RPC endpoints, each with its own path, methods (the demo's,
//! programs', remote servers'), credentials and limits (`endpoint.rs`).
//!
//! An error names the file, the line and the key; nothing is served from a
//! file with an error (and a reload keeps the configuration it had).

mod endpoint;
mod report;
mod server;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use endpoint::{EndpointSpec, Retries};
pub use report::report;
pub use server::{apply_server_keys, ServerKeys};

/// A mistake in a configuration file: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; `None` when the file could not be read at all.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A configuration file, read and checked.
#[derive(Debug)]
pub struct ConfigFile {
    /// The `[server]` keys, as command-line arguments to come before the
    /// real ones.
    pub server: ServerKeys,
    /// The `[[endpoint]]` tables; `None` when the file has none (then the
    /// demo endpoint is served, as without a file). `endpoint = []` serves
    /// no XML-RPC at all.
    pub endpoints: Option<Vec<EndpointSpec>>,
}

/// The file as TOML gives it, before any check of ours.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    endpoint: Option<Vec<Spanned<endpoint::RawEndpoint>>>,
}

/// Where in the file a mistake is: the text, to turn byte offsets into
/// line numbers, and the name to print.
pub struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// An error at byte `offset`.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let before = self.text.get(..offset).unwrap_or(self.text);
        ConfigError {
            file: self.path.to_path_buf(),
            line: Some(before.matches('\n').count().saturating_add(1)),
            message: message.into(),
        }
    }

    /// A path in the file: relative ones are taken from the file's
    /// directory (as nginx and systemd take theirs from a fixed place), so
    /// the file means the same wherever medusad is started.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        match self.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

impl ConfigFile {
    /// Reads and checks `path` (a blocking read: at startup, or on SIGHUP
    /// at the operator's request).
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            source.error_at(offset, e.message().trim_end().to_string())
        })?;
        let server = ServerKeys::check(&source, &raw.server)?;
        let endpoints = raw
            .endpoint
            .map(|tables| endpoint::check_all(&source, tables))
            .transpose()?;
        Ok(ConfigFile { server, endpoints })
    }
}
