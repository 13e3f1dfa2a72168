//! SIGUSR1: reopen the access log file, after `logrotate` (with `create`)
//! renamed it.
//!
//! Not a reload (SIGHUP, `reload`): nothing is read or rebuilt, the same
//! path is opened again. The lines buffered before the signal go to the
//! renamed file, those after it to the new one, so none is lost. The rest
//! of medusad's log goes to stderr, which it does not own (the journal, or
//! whatever the service manager gave it): nothing to reopen there.

use std::io;

use medusa::http::AccessLogHandle;
use medusa::reactor::{Context, Dispatcher};
use mio::event::Source;
use signal_hook::consts::SIGUSR1;
use signal_hook_mio::v1_0::Signals;

/// A dispatcher for SIGUSR1. Installed whether or not there is a file to
/// reopen, so that SIGUSR1 never has its default action (the end of the
/// process).
pub struct Reopener {
    signals: Signals,
    logs: Vec<AccessLogHandle>,
}

impl Reopener {
    /// Catches SIGUSR1 from now on; nothing to reopen yet.
    pub fn new() -> io::Result<Reopener> {
        Ok(Reopener {
            signals: Signals::new([SIGUSR1])?,
            logs: Vec::new(),
        })
    }

    /// Reopens this access log's file (if it has one) on SIGUSR1.
    pub fn watch(&mut self, log: AccessLogHandle) {
        self.logs.push(log);
    }

    fn reopen(&self) {
        let mut reopened = 0;
        for log in &self.logs {
            if log.path().is_none() {
                continue;
            }
            match log.reopen() {
                // The error names the path.
                Err(e) => log::error!("SIGUSR1: {e}; still writing to the old file"),
                Ok(()) => reopened += 1,
            }
        }
        if reopened > 0 {
            log::info!("SIGUSR1: access log reopened");
        } else if self.logs.iter().all(|log| log.path().is_none()) {
            log::info!("SIGUSR1: no log file to reopen (the log goes to stderr)");
        }
    }
}

impl Dispatcher for Reopener {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.signals)
    }

    fn handle_read(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        // Several signals before the loop got here: one reopen is enough.
        if self.signals.pending().count() > 0 {
            self.reopen();
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
}
