//! Latency summaries and unit conversions shared by the measurements and the report.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// p50, p99 and max of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles (every reported value is a real sample). Sorts `samples`.
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let index = (p / 100.0 * samples.len() as f64).ceil() as usize;
            ms(samples[index.clamp(1, samples.len()) - 1])
        };
        Percentiles {
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: ms(samples[samples.len() - 1]),
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Decimal megabytes, the unit of the RSS target.
pub fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.p50_ms, p.p99_ms, p.max_ms), (50.0, 99.0, 100.0));
        let mut one = vec![Duration::from_millis(7)];
        assert_eq!(Percentiles::of(&mut one).p50_ms, 7.0);
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
    }
}
