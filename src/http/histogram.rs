//! A latency histogram with fixed buckets, Prometheus style: lock-free, so
//! a reply completed on any thread can be timed into it, and small (one
//! counter per bucket, whatever the number of observations).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The buckets' upper bounds, in seconds: 0.1 ms to 10 s, 1–2.5–5 per
/// decade (Prometheus' defaults, extended down to where a call answered on
/// the loop lands). Above the last, the `+Inf` bucket.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The same bounds in nanoseconds, for comparing without floats.
const BOUNDS_NANOS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Observations counted per bucket, and their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last is `+Inf`.
    counts: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of all observations, nanoseconds (saturating: 584 years).
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Counts one observation of `elapsed`.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        if let Some(count) = self.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Saturating rather than wrapping; the closure never declines.
        let _ = self
            .sum_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sum| {
                Some(sum.saturating_add(nanos))
            });
    }

    /// The counts now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum_seconds: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
        }
    }
}

/// A histogram's counts at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations per bucket of [`LATENCY_BUCKETS`], not cumulative; one
    /// more at the end for `+Inf`.
    pub counts: Vec<u64>,
    /// Sum of the observations, seconds.
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// All observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0, |a, &c| a.saturating_add(c))
    }

    /// `(upper bound, observations at or below it)` per bucket, as the
    /// exposition format's `_bucket{le=...}` lines say them; the last bound
    /// is infinity, its count [`count`](Self::count).
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let mut total = 0u64;
        bounds
            .zip(&self.counts)
            .map(|(bound, &c)| {
                total = total.saturating_add(c);
                (bound, total)
            })
            .collect()
    }

    /// Mean observation, seconds; `None` with none.
    pub fn mean(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| self.sum_seconds / count as f64)
    }

    /// The `q` quantile (0..=1) estimated as Prometheus'
    /// `histogram_quantile` does: linear within the bucket it falls in,
    /// the last finite bound if it falls in `+Inf`. `None` with no
    /// observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let mut lower = (0.0, 0u64);
        for (bound, below) in self.cumulative() {
            if below as f64 >= rank && below > lower.1 {
                if bound.is_infinite() {
                    return Some(lower.0);
                }
                let in_bucket = below.saturating_sub(lower.1) as f64;
                let into = (rank - lower.1 as f64).max(0.0);
                return Some(lower.0 + (bound - lower.0) * into / in_bucket);
            }
            lower = (bound, below);
        }
        Some(lower.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50)); // <= 0.1 ms
        h.observe(Duration::from_micros(100)); // exactly the bound: le is <=
        h.observe(Duration::from_millis(3)); // (2.5 ms, 5 ms]
        h.observe(Duration::from_secs(60)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.counts[0], 2);
        assert_eq!(s.counts[5], 1);
        assert_eq!(s.counts[16], 1);
        assert_eq!(s.count(), 4);
        let cumulative = s.cumulative();
        assert_eq!(cumulative.len(), 17);
        assert_eq!(cumulative[4], (0.0025, 2));
        assert_eq!(cumulative[16], (f64::INFINITY, 4));
        assert!((s.sum_seconds - 60.00315).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let h = Histogram::default();
        for _ in 0..10 {
            h.observe(Duration::from_millis(7)); // (5 ms, 10 ms]
        }
        let s = h.snapshot();
        let p50 = s.quantile(0.5).unwrap();
        assert!((p50 - 0.0075).abs() < 1e-12, "{p50}");
        assert!((s.quantile(1.0).unwrap() - 0.01).abs() < 1e-12);
        assert!((s.mean().unwrap() - 0.007).abs() < 1e-12);
        assert_eq!(HistogramSnapshot::default().quantile(0.5), None);
        // All in +Inf: the last finite bound is the best it can say.
        let slow = Histogram::default();
        slow.observe(Duration::from_secs(11));
        assert_eq!(slow.snapshot().quantile(0.99), Some(10.0));
    }
}
