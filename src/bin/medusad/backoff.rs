//! How long to wait before restarting a worker that died.

use std::time::Duration;

/// Restart delays for one worker slot: the first restart is immediate,
/// each further quick death doubles the wait (from `first` up to `max`),
/// and a worker that lived at least `stable` resets the sequence. A worker
/// that crashes at start-up therefore costs a few restarts a second at
/// first and one per `max` after that, never a spinning loop.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// Delay after the second quick death in a row.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A worker that lived this long was healthy: its death starts over.
    pub stable: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
    }
}

impl Backoff {
    /// A backoff with these bounds and no failures yet.
    pub fn new(first: Duration, max: Duration, stable: Duration) -> Backoff {
        Backoff {
            first,
            max,
            stable,
            failures: 0,
        }
    }

    /// The delay before restarting a worker that died after living `lived`.
    pub fn next_delay(&mut self, lived: Duration) -> Duration {
        if lived >= self.stable {
            self.failures = 0;
        }
        let delay = match self.failures {
            0 => Duration::ZERO,
            n => self
                .first
                .checked_mul(1 << (n - 1).min(20))
                .map_or(self.max, |d| d.min(self.max)),
        };
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(ms(100), ms(1000), Duration::from_secs(10));
        let delays: Vec<_> = (0..7).map(|_| b.next_delay(ms(1))).collect();
        assert_eq!(
            delays,
            [
                ms(0),
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000)
            ]
        );
        // Forever capped, no overflow.
        for _ in 0..100 {
            assert_eq!(b.next_delay(ms(1)), ms(1000));
        }
    }

    #[test]
    fn a_stable_worker_resets_it() {
        let mut b = Backoff::new(ms(100), ms(1000), Duration::from_secs(10));
        b.next_delay(ms(1));
        b.next_delay(ms(1));
        assert_eq!(b.next_delay(ms(1)), ms(200));
        assert_eq!(b.next_delay(Duration::from_secs(10)), ms(0));
        assert_eq!(b.next_delay(ms(1)), ms(100));
    }
}
