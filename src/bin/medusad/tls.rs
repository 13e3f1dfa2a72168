//! `--tls-cert FILE --tls-key FILE`: HTTPS on the TCP port, with the
//! certificate and key read again on SIGHUP (connections already open keep
//! theirs; a reload that fails keeps the old ones and says why).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use medusa::http::TlsSetting;
use medusa::reactor::tls::server_config;
use medusa::reactor::{Context, Dispatcher};
use mio::event::Source;
use signal_hook::consts::SIGHUP;
use signal_hook_mio::v1_0::Signals;

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

/// A dispatcher for SIGHUP: reloads the TLS files into their setting, if
/// there are any. Installed either way, so that SIGHUP never has its
/// default action (the end of the process).
pub struct Reloader {
    signals: Signals,
    tls: Option<(TlsFiles, Vec<TlsSetting>)>,
}

impl Reloader {
    /// Catches SIGHUP from now on; nothing to reload yet.
    pub fn new() -> io::Result<Reloader> {
        Ok(Reloader {
            signals: Signals::new([SIGHUP])?,
            tls: None,
        })
    }

    /// Reloads `files` into `setting` on SIGHUP (and into every other
    /// setting watched with the same files: one server per TCP socket).
    pub fn watch(&mut self, files: TlsFiles, setting: TlsSetting) {
        match &mut self.tls {
            Some((watched, settings)) if *watched == files => settings.push(setting),
            _ => self.tls = Some((files, vec![setting])),
        }
    }
}

impl Dispatcher for Reloader {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.signals)
    }

    fn handle_read(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        if self.signals.pending().next().is_none() {
            return Ok(());
        }
        let Some((files, settings)) = &self.tls else {
            log::info!("SIGHUP: nothing to reload");
            return Ok(());
        };
        // Reading two small files: the one blocking call the loop makes
        // on purpose, at an operator's request.
        match files.load() {
            Ok(config) => {
                for setting in settings {
                    setting.set(Some(config.clone()));
                }
                log::info!("SIGHUP: TLS certificate and key reloaded");
            }
            Err(e) => log::error!("SIGHUP: TLS reload failed, keeping the old certificate: {e}"),
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
}
