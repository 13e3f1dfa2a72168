//! Running as a daemon: worker processes under a master (`prefork`), the
//! worker's side of that contract (`worker`), restart backoff (`backoff`)
//! and systemd socket activation (`activation`).
//!
//! `listening` is how the master holds the workers' address.
//!
//! One reactor serves one core. To use more, `medusad --workers N` runs N
//! copies of itself, each a single-threaded reactor on its own
//! `SO_REUSEPORT` socket on the same port, and a small master that starts
//! them, restarts the ones that die and relays SIGTERM/SIGINT. This is
//! nginx's and Apache prefork's model, not a home-made cluster: the kernel
//! spreads connections. `docs/deploying.md` explains the design.

pub mod activation;
pub mod backoff;
pub mod listening;
pub mod prefork;
pub mod worker;

pub use backoff::Backoff;
pub use listening::Listening;
pub use prefork::{Master, MasterExit};
pub use worker::Worker;
