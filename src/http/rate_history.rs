//! Events per interval over the last minutes, for the status page's load
//! graph: a ring of [`HISTORY_SLOTS`] slots of [`HISTORY_INTERVAL`] each.
//!
//! Nothing ticks: each event finds its slot from the clock and counts into
//! it, resetting a slot left from an earlier lap of the ring on the way, so
//! an idle server has no timer wake-ups and the history is there whenever
//! someone looks. A slot packs its interval's number and its count into one
//! atomic word, so the reset and the count are one compare-and-swap:
//! exact, and safe from any thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The length of one slot.
pub const HISTORY_INTERVAL: Duration = Duration::from_secs(5);

/// Slots kept: 120 × 5 s, the last ten minutes.
pub const HISTORY_SLOTS: usize = 120;

/// Bits of a slot word holding the count; the rest hold the interval's
/// number (modulo 2^24: 2.6 years of 5 s intervals, far more than a lap).
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// The number of the interval `at` falls in, counted from one origin for
/// the whole process, so every history's slots line up.
fn interval_number(at: Instant) -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let elapsed = at.saturating_duration_since(origin);
    // HISTORY_INTERVAL is not zero, so neither is the divisor.
    elapsed
        .as_secs()
        .checked_div(HISTORY_INTERVAL.as_secs())
        .unwrap_or(0)
}

/// The interval's tag as stored in a slot word.
fn tag(interval: u64) -> u64 {
    interval << COUNT_BITS
}

fn slot_index(interval: u64) -> usize {
    // HISTORY_SLOTS is not zero; the remainder is below it, so fits usize.
    interval.checked_rem(HISTORY_SLOTS as u64).unwrap_or(0) as usize
}

/// Counts of events in the last [`HISTORY_SLOTS`] intervals.
#[derive(Debug)]
pub struct RateHistory {
    slots: Box<[AtomicU64]>,
}

impl Default for RateHistory {
    fn default() -> RateHistory {
        // Tag u64::MAX's interval: no real interval matches, so every slot
        // reads as empty until counted into.
        let empty = tag(u64::MAX);
        RateHistory {
            slots: (0..HISTORY_SLOTS).map(|_| AtomicU64::new(empty)).collect(),
        }
    }
}

impl RateHistory {
    /// Counts one event, now.
    pub fn record(&self) {
        self.record_at(Instant::now());
    }

    /// Counts one event at `at`.
    pub fn record_at(&self, at: Instant) {
        let interval = interval_number(at);
        let Some(slot) = self.slots.get(slot_index(interval)) else {
            return;
        };
        let mine = tag(interval);
        // The closure never declines, so this always counts.
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
            if word & !COUNT_MASK == mine {
                // A full count stays full rather than spilling into the tag.
                Some(mine | (word & COUNT_MASK).saturating_add(1).min(COUNT_MASK))
            } else {
                Some(mine | 1)
            }
        });
    }

    /// Events in each of the last [`HISTORY_SLOTS`] complete intervals
    /// before the one `now` is in, oldest first (the current interval is
    /// still filling, so it would read low).
    pub fn per_interval(&self, now: Instant) -> Vec<u64> {
        let current = interval_number(now);
        (1..=HISTORY_SLOTS as u64)
            .rev()
            .map(|back| match current.checked_sub(back) {
                Some(interval) => self.count_in(interval),
                // Before the process started.
                None => 0,
            })
            .collect()
    }

    fn count_in(&self, interval: u64) -> u64 {
        let Some(slot) = self.slots.get(slot_index(interval)) else {
            return 0;
        };
        let word = slot.load(Ordering::Relaxed);
        if word & !COUNT_MASK == tag(interval) {
            word & COUNT_MASK
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_count_into_their_interval_and_old_laps_are_forgotten() {
        let history = RateHistory::default();
        // The origin first, so that `start` is not before it.
        interval_number(Instant::now());
        let start = Instant::now();
        // Whole intervals after `start`: exactly that many interval numbers on.
        let later = |intervals: u32| start + HISTORY_INTERVAL * intervals;
        for _ in 0..3 {
            history.record_at(later(0));
        }
        history.record_at(later(2));
        let seen = history.per_interval(later(3));
        assert_eq!(seen.len(), HISTORY_SLOTS);
        // Oldest first; the interval `later(3)` is in is not shown.
        assert_eq!(seen[HISTORY_SLOTS - 3..], [3, 0, 1]);
        assert_eq!(seen.iter().sum::<u64>(), 4);
        // A lap later, the slot of later(0) is counted into afresh: its old
        // three are gone, while later(2)'s slot is still its own.
        let lap = u32::try_from(HISTORY_SLOTS).unwrap();
        history.record_at(later(lap));
        let seen = history.per_interval(later(lap + 1));
        assert_eq!(seen[HISTORY_SLOTS - 1], 1);
        assert_eq!(seen[1], 1, "later(2)");
        assert_eq!(seen.iter().sum::<u64>(), 2, "{seen:?}");
        assert_eq!(history.per_interval(later(lap))[0], 0, "later(0), reset");
    }
}
