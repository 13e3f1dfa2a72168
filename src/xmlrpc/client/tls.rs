//! HTTPS for both clients: whose certificates are believed. By default the
//! system's roots (what curl and Python's `ssl.create_default_context`
//! believe, including a CA an administrator added), read once per process;
//! a private CA can be added; turning verification off needs rustls' own
//! `dangerous()` API, on purpose.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::reactor::tls::read_certs;

/// How a client checks the servers it calls over `https://`.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    extra_roots: Vec<CertificateDer<'static>>,
    system_roots: bool,
    custom: Option<Arc<rustls::ClientConfig>>,
    built: Option<Arc<rustls::ClientConfig>>,
}

impl Default for TlsConfig {
    fn default() -> TlsConfig {
        TlsConfig {
            extra_roots: Vec::new(),
            system_roots: true,
            custom: None,
            built: None,
        }
    }
}

impl TlsConfig {
    /// Also believes the CA certificates in `pem` (e.g. a private CA).
    pub fn add_ca_file(&mut self, pem: &Path) -> io::Result<()> {
        self.extra_roots.extend(read_certs(pem)?);
        self.built = None;
        Ok(())
    }

    /// Believes only the added CAs, not the system's.
    pub fn without_system_roots(&mut self) {
        self.system_roots = false;
        self.built = None;
    }

    /// Uses `config` as it is (client certificates, pinned keys, or a
    /// verifier of your own through rustls' `dangerous()` API).
    pub fn set_rustls_config(&mut self, config: Arc<rustls::ClientConfig>) {
        self.custom = Some(config);
    }

    /// Starts reading the system's roots on a thread of its own, if they
    /// will be needed and nobody has read them yet: a reactor's client
    /// must not read files on the loop's thread at its first call. A
    /// call that comes before the thread is done waits for it (once).
    pub(crate) fn warm_up(&self) {
        if self.custom.is_some() || !self.system_roots || SYSTEM_ROOTS.get().is_some() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("tls-roots".to_string())
            .spawn(|| {
                system_roots();
            });
        if let Err(e) = spawned {
            log::debug!("reading the system's roots at the first call instead: {e}");
        }
    }

    /// The rustls settings: built once, then shared by every connection.
    pub fn rustls_config(&mut self) -> io::Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = &self.custom {
            return Ok(config.clone());
        }
        if let Some(config) = &self.built {
            return Ok(config.clone());
        }
        let mut roots = RootCertStore::empty();
        if self.system_roots {
            for cert in system_roots() {
                // One unusable system certificate must not stop the rest.
                let _ = roots.add(cert.clone());
            }
        }
        for cert in &self.extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        if roots.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no root certificates: install the system's CA certificates \
                 (ca-certificates) or add a CA file",
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        self.built = Some(config.clone());
        Ok(config)
    }
}

static SYSTEM_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// The system's roots, read once per process (it reads files).
fn system_roots() -> &'static [CertificateDer<'static>] {
    SYSTEM_ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            log::debug!("system root certificates: {error}");
        }
        found.certs
    })
}
