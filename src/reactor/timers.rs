//! Timers: one-shot and repeating deadlines owned by dispatchers.
//!
//! asyncore has no timers (Medusa bolted on a `schedule` list scanned every
//! pass). Here they are an ordered map keyed by `(deadline, id)`, so the loop
//! can ask for the next deadline in O(log n) and sleep exactly until then.
//!
//! A timer belongs to the dispatcher that set it. When that dispatcher closes,
//! its timers are not hunted down; they are dropped lazily when they come due,
//! because the owner's `serial` no longer matches a live dispatcher.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mio::Token;

/// Names a timer so it can be cancelled, and tells a dispatcher with several
/// timers which one fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(u64);

/// Who a timer belongs to and whether it comes back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timer {
    pub(crate) owner: Token,
    /// The owner's serial at the time the timer was set; see `Entry::serial`.
    pub(crate) serial: u64,
    pub(crate) period: Option<Duration>,
}

/// The reactor's timer queue.
#[derive(Default)]
pub(crate) struct Timers {
    queue: BTreeMap<(Instant, u64), Timer>,
    /// id -> deadline, so `cancel` can find the queue key.
    deadlines: HashMap<u64, Instant>,
    next_id: u64,
}

impl Timers {
    pub(crate) fn insert(&mut self, deadline: Instant, timer: Timer) -> TimerId {
        let id = self.next_id;
        self.next_id += 1;
        self.queue.insert((deadline, id), timer);
        self.deadlines.insert(id, deadline);
        TimerId(id)
    }

    /// Removes a pending timer; false if it already fired (one-shot) or was
    /// cancelled before.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.deadlines.remove(&id.0) {
            Some(deadline) => self.queue.remove(&(deadline, id.0)).is_some(),
            None => false,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue
            .first_key_value()
            .map(|(&(deadline, _), _)| deadline)
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Takes the earliest timer due at `now`, if any. A repeating timer is put
    /// back for its next period before it is returned, so the owner may cancel
    /// it from inside its `handle_timer`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(TimerId, Timer)> {
        let (&(deadline, id), _) = self.queue.first_key_value()?;
        if deadline > now {
            return None;
        }
        let (_, timer) = self.queue.pop_first()?;
        self.deadlines.remove(&id);
        if let Some(period) = timer.period {
            // A zero period would fire forever within one pass.
            let period = period.max(Duration::from_micros(1));
            let mut next = deadline + period;
            if next <= now {
                // We fell behind (a long pass): skip the missed ticks rather
                // than firing a burst of them.
                next = now + period;
            }
            self.queue.insert((next, id), timer);
            self.deadlines.insert(id, next);
        }
        Some((TimerId(id), timer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(period: Option<Duration>) -> Timer {
        Timer {
            owner: Token(0),
            serial: 0,
            period,
        }
    }

    #[test]
    fn pops_in_deadline_order_not_insertion_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let late = timers.insert(t0 + Duration::from_millis(30), timer(None));
        let early = timers.insert(t0 + Duration::from_millis(10), timer(None));
        let mid = timers.insert(t0 + Duration::from_millis(20), timer(None));
        let now = t0 + Duration::from_millis(100);
        let order: Vec<TimerId> =
            std::iter::from_fn(|| timers.pop_expired(now).map(|(id, _)| id)).collect();
        assert_eq!(order, vec![early, mid, late]);
        assert_eq!(timers.len(), 0);
    }

    #[test]
    fn nothing_pops_before_its_deadline() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.insert(t0 + Duration::from_millis(10), timer(None));
        assert!(timers.pop_expired(t0).is_none());
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(10)));
    }

    #[test]
    fn repeating_timer_comes_back_one_period_later() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let id = timers.insert(t0, timer(Some(Duration::from_millis(5))));
        assert_eq!(timers.pop_expired(t0).map(|(i, _)| i), Some(id));
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(5)));
        assert!(timers.pop_expired(t0).is_none());
        assert!(timers.cancel(id));
        assert_eq!(timers.len(), 0);
    }

    #[test]
    fn behind_schedule_repeat_skips_missed_ticks() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.insert(t0, timer(Some(Duration::from_millis(1))));
        let late = t0 + Duration::from_millis(50);
        assert!(timers.pop_expired(late).is_some());
        assert!(
            timers.pop_expired(late).is_none(),
            "no burst of missed ticks"
        );
    }

    #[test]
    fn cancel_is_idempotent() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let id = timers.insert(t0, timer(None));
        assert!(timers.cancel(id));
        assert!(!timers.cancel(id));
        assert!(timers.pop_expired(t0).is_none());
    }
}
