//! SIGHUP: read the TLS files and the `--config` file's endpoints again.
//!
//! What a reload changes applies to requests that arrive after it; calls
//! already running finish with the methods they started with. A file with
//! an error changes nothing: the error is logged, and the old settings
//! stay. The `[server]` keys (addresses, limits, workers...) are not
//! applied by a reload: when they differ from those running, the log says
//! a restart is needed.

use std::io;
use std::path::PathBuf;

use medusa::http::{HandlerChain, TlsSetting};
use medusa::reactor::{Context, Dispatcher};
use mio::event::Source;
use signal_hook::consts::SIGHUP;
use signal_hook_mio::v1_0::Signals;

use crate::config::{ConfigFile, ServerKeys};
use crate::endpoints::{self, Defaults};
use crate::tls::TlsFiles;

/// The endpoints a reload replaces: where they are in the handler chain
/// (the front: positions `0..count`) and how to build them again.
pub struct Endpoints {
    pub file: PathBuf,
    pub keys: ServerKeys,
    pub chain: HandlerChain,
    pub count: usize,
    pub defaults: Defaults,
}

/// A dispatcher for SIGHUP. Installed whether or not there is anything to
/// reload, so that SIGHUP never has its default action (the end of the
/// process).
pub struct Reloader {
    signals: Signals,
    tls: Option<(TlsFiles, Vec<TlsSetting>)>,
    endpoints: Option<Endpoints>,
}

impl Reloader {
    /// Catches SIGHUP from now on; nothing to reload yet.
    pub fn new() -> io::Result<Reloader> {
        Ok(Reloader {
            signals: Signals::new([SIGHUP])?,
            tls: None,
            endpoints: None,
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

    /// Rebuilds these endpoints from their file on SIGHUP.
    pub fn watch_endpoints(&mut self, endpoints: Endpoints) {
        self.endpoints = Some(endpoints);
    }

    fn reload_tls(&self) {
        let Some((files, settings)) = &self.tls else {
            return;
        };
        // Reading two small files: a blocking call the loop makes on
        // purpose, at an operator's request.
        match files.load() {
            Ok(config) => {
                for setting in settings {
                    setting.set(Some(config.clone()));
                }
                log::info!("SIGHUP: TLS certificate and key reloaded");
            }
            Err(e) => log::error!("SIGHUP: TLS reload failed, keeping the old certificate: {e}"),
        }
    }

    fn reload_endpoints(&mut self, cx: &mut Context<'_>) {
        let Some(watched) = &mut self.endpoints else {
            return;
        };
        let file = match ConfigFile::read(&watched.file) {
            Ok(file) => file,
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the configuration that is running");
                return;
            }
        };
        if file.server != watched.keys {
            log::warn!(
                "SIGHUP: the [server] keys of {} changed: restart medusad to apply them (only endpoints are reloaded)",
                watched.file.display()
            );
        }
        let Some(specs) = file.endpoints else {
            log::warn!(
                "SIGHUP: {} has no [[endpoint]] now: keeping the endpoints that are running",
                watched.file.display()
            );
            return;
        };
        let handlers = match endpoints::build(&specs, &watched.defaults, cx) {
            Ok(handlers) => handlers,
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the configuration that is running");
                return;
            }
        };
        let count = handlers.len();
        match watched.chain.splice(0..watched.count, handlers) {
            Ok(()) => {
                watched.count = count;
                log::info!(
                    "SIGHUP: {} reloaded: {count} endpoint(s) at {}",
                    watched.file.display(),
                    endpoints::paths(&specs).join(", ")
                );
            }
            Err(e) => log::error!("SIGHUP: cannot swap the endpoints in: {e}"),
        }
    }
}

impl Dispatcher for Reloader {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.signals)
    }

    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.signals.pending().next().is_none() {
            return Ok(());
        }
        if self.tls.is_none() && self.endpoints.is_none() {
            log::info!("SIGHUP: nothing to reload");
        }
        self.reload_tls();
        self.reload_endpoints(cx);
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
}
