//! Calls, faults and latency per method name, for `/status` and
//! `/status/metrics`.
//!
//! Method names come from the peer, so the set of names kept is bounded:
//! a name is tracked only once the service has answered it with anything
//! but "method not found" (-32601), only if it is at most
//! [`MAX_TRACKED_NAME`] bytes, and only while fewer than
//! [`MAX_TRACKED_METHODS`] names are tracked. Everything else (unknown
//! names, undecodable calls, names past the cap) is counted under
//! [`OTHER`]. A client calling random names therefore grows nothing; a
//! service that answers every name grows the table to the cap and no
//! further.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::http::{Histogram, OperationStats};
use crate::xmlrpc::fault::Fault;

/// Distinct method names tracked at most, per handler.
pub(crate) const MAX_TRACKED_METHODS: usize = 256;

/// Longer names are counted under [`OTHER`].
pub(crate) const MAX_TRACKED_NAME: usize = 128;

/// Where the untracked calls are counted. Not a valid XML-RPC method name
/// (the spec allows letters, digits, `_ . : /`), so no real method is
/// confused with it; a service that used it anyway is counted here too.
pub(crate) const OTHER: &str = "(other)";

/// One name's counts.
#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    faults: AtomicU64,
    latency: Histogram,
}

impl Counts {
    fn count(&self, faulted: bool, elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if faulted {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe(elapsed);
    }

    fn snapshot(&self, name: &str) -> OperationStats {
        OperationStats {
            name: name.to_string(),
            calls: self.calls.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
        }
    }
}

/// Per-method counts of one XML-RPC handler. Answers are counted under a
/// read lock (the counts are atomics); the write lock is taken only to add
/// a name, at most [`MAX_TRACKED_METHODS`] times.
#[derive(Debug, Default)]
pub(crate) struct MethodStats {
    named: RwLock<HashMap<String, Counts>>,
    other: Counts,
}

impl MethodStats {
    /// Counts an answer to `method` that took `elapsed`; `fault` is the
    /// fault's code if it was one.
    pub(crate) fn record(&self, method: &str, fault: Option<i32>, elapsed: Duration) {
        let faulted = fault.is_some();
        let trackable = !method.is_empty()
            && method.len() <= MAX_TRACKED_NAME
            && method != OTHER
            && fault != Some(Fault::METHOD_NOT_FOUND);
        if trackable {
            {
                let named = self.named.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(counts) = named.get(method) {
                    counts.count(faulted, elapsed);
                    return;
                }
            }
            let mut named = self.named.write().unwrap_or_else(PoisonError::into_inner);
            // Checked again: another thread may have added it meanwhile.
            if named.len() < MAX_TRACKED_METHODS || named.contains_key(method) {
                named
                    .entry(method.to_string())
                    .or_default()
                    .count(faulted, elapsed);
                return;
            }
        }
        self.other.count(faulted, elapsed);
    }

    /// Every tracked name's counts, by name, then [`OTHER`]'s (always
    /// there, so the series exist from the start).
    pub(crate) fn snapshot(&self) -> Vec<OperationStats> {
        let named = self.named.read().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<OperationStats> = named
            .iter()
            .map(|(name, counts)| counts.snapshot(name))
            .collect();
        drop(named);
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.push(self.other.snapshot(OTHER));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_tracked_and_the_rest_is_other() {
        let stats = MethodStats::default();
        let ms = Duration::from_millis(1);
        stats.record("add", None, ms);
        stats.record("add", Some(Fault::INVALID_PARAMS), ms);
        stats.record("nope", Some(Fault::METHOD_NOT_FOUND), ms);
        stats.record("", Some(Fault::PARSE_ERROR), ms);
        stats.record(&"x".repeat(MAX_TRACKED_NAME + 1), None, ms);
        let list = stats.snapshot();
        let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["add", OTHER]);
        assert_eq!((list[0].calls, list[0].faults), (2, 1));
        assert_eq!((list[1].calls, list[1].faults), (3, 2));
        assert_eq!(list[0].latency.count(), 2);
    }

    #[test]
    fn the_number_of_names_is_capped() {
        let stats = MethodStats::default();
        for i in 0..MAX_TRACKED_METHODS + 50 {
            stats.record(&format!("m{i}"), None, Duration::ZERO);
        }
        let list = stats.snapshot();
        assert_eq!(list.len(), MAX_TRACKED_METHODS + 1);
        assert_eq!(list.last().map(|s| s.calls), Some(50));
    }
}
