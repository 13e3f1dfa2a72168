//! Running as a daemon: worker processes under a master (`prefork`), the
//! worker's side of that contract (`worker`), restart backoff (`backoff`)
//! and systemd socket activation (`activation`).
//!
//! `listening` is the one listening socket the master holds and passes
//! down to its workers.
//!
//! One reactor serves one core. To use more, `medusad --workers N` runs N
//! copies of itself, each a single-threaded reactor accepting on the
//! master's listening socket, and a small master that starts them,
//! restarts the ones that die and relays SIGTERM/SIGINT. This is Apache
//! prefork's model (and nginx's without `reuseport`), not a home-made
//! cluster: whichever worker is free accepts the next connection.
//! `docs/deploying.md` explains the design.

pub mod activation;
pub mod backoff;
pub mod listening;
pub mod prefork;
pub mod worker;

pub use backoff::Backoff;
pub use listening::Listening;
pub use prefork::{Master, MasterExit};
pub use worker::Worker;
