//! Per-call timing shared by the log-call benches.
//!
//! Every call is timed on its own, so the figures are the distribution a caller sees (median,
//! p99), not a mean over a loop. Each figure includes one clock read pair (printed as
//! "timer overhead"), which is small next to a log call.

#![allow(dead_code)] // each bench uses a different part

use std::fmt;
use std::time::{Duration, Instant};

/// Durations of single calls, in nanoseconds.
pub struct Samples(Vec<u64>);

impl Samples {
    /// Room for `n` calls, so recording a sample never allocates.
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    /// Runs `f` once and keeps how long it took.
    #[inline(always)]
    pub fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = f();
        self.0.push(start.elapsed().as_nanos() as u64);
        r
    }

    /// Adds another thread's samples.
    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Sorts the samples and picks the percentiles.
    pub fn summary(mut self) -> Summary {
        self.0.sort_unstable();
        let n = self.0.len().max(1);
        let at = |q: f64| {
            self.0
                .get(((n as f64 * q) as usize).min(n - 1))
                .copied()
                .unwrap_or(0)
        };
        Summary {
            calls: self.0.len(),
            mean: self.0.iter().sum::<u64>() / n as u64,
            median: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: self.0.last().copied().unwrap_or(0),
        }
    }
}

/// Percentiles of one bench's calls, in nanoseconds.
#[derive(Clone, Copy)]
pub struct Summary {
    pub calls: usize,
    pub mean: u64,
    pub median: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

fn us(ns: u64) -> String {
    if ns >= 100_000 {
        format!("{:.0} µs", ns as f64 / 1000.0)
    } else {
        format!("{:.2} µs", ns as f64 / 1000.0)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}  ({} calls)",
            us(self.median),
            us(self.p90),
            us(self.p99),
            us(self.p999),
            us(self.max),
            us(self.mean),
            self.calls
        )
    }
}

/// The median cost of the timing itself (two clock reads), included in every sample.
pub fn timer_overhead() -> Duration {
    let mut samples = Samples::with_capacity(100_000);
    for _ in 0..100_000 {
        samples.time(|| ());
    }
    Duration::from_nanos(samples.summary().median)
}
