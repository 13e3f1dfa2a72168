//! `--tls-cert FILE --tls-key FILE`: HTTPS on the TCP port. The files are
//! read again on SIGHUP (`reload.rs`): connections already open keep
//! theirs, and a reload that fails keeps the old ones and says why.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use medusa::reactor::tls::server_config;

/// Where the certificate chain and its key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The server settings the files make; an error names the file.
    pub fn load(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        server_config(&self.cert, &self.key)
    }
}
