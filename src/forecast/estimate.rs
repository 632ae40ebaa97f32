//! From a statement's effect and the bytes it works through to a duration range.
//!
//! The throughputs are rough defaults, not yet measured on the server at hand (the
//! forecast says so: `throughput.source` is `default`). The range spans half to twice the
//! midpoint: a forecast that sends a migration out of the start-up path when it was not
//! needed costs a job run; one that lets it start and be killed costs an outage.

use serde::Serialize;

use crate::sql::Effect;

/// A duration range, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub low: u64,
    pub high: u64,
}

impl Estimate {
    pub fn sum(estimates: impl Iterator<Item = Estimate>) -> Estimate {
        estimates.fold(Estimate::default(), |a, b| Estimate {
            low: a.low.saturating_add(b.low),
            high: a.high.saturating_add(b.high),
        })
    }

    /// The midpoint, for sentences.
    pub fn mid(self) -> u64 {
        self.low / 2 + self.high / 2
    }
}

/// Bytes per second each kind of work goes through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Throughput {
    /// Where the figures come from: `default` (not measured on this server).
    pub source: &'static str,
    pub rewrite_bytes_per_s: f64,
    pub index_build_bytes_per_s: f64,
    pub scan_bytes_per_s: f64,
    pub data_bytes_per_s: f64,
}

impl Default for Throughput {
    fn default() -> Self {
        const MB: f64 = 1024.0 * 1024.0;
        Throughput {
            source: "default",
            rewrite_bytes_per_s: 40.0 * MB,
            index_build_bytes_per_s: 40.0 * MB,
            scan_bytes_per_s: 200.0 * MB,
            data_bytes_per_s: 20.0 * MB,
        }
    }
}

/// The catalog change itself, whatever the table's size (lock waits aside).
const CATALOG_MS: Estimate = Estimate { low: 0, high: 50 };

impl Throughput {
    /// How long `effect` over `bytes` takes.
    pub fn estimate(&self, effect: Effect, bytes: u64) -> Estimate {
        let rate = match effect {
            Effect::Metadata | Effect::Unknown => return CATALOG_MS,
            Effect::Rewrite => self.rewrite_bytes_per_s,
            Effect::IndexBuild => self.index_build_bytes_per_s,
            Effect::Scan => self.scan_bytes_per_s,
            Effect::Data => self.data_bytes_per_s,
        };
        let mid_ms = bytes as f64 / rate * 1000.0;
        Estimate {
            low: (mid_ms / 2.0) as u64,
            high: (mid_ms * 2.0).ceil() as u64 + CATALOG_MS.high,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_grows_with_the_bytes_and_catalog_changes_do_not() {
        let t = Throughput::default();
        let gb = 1024 * 1024 * 1024;
        assert_eq!(t.estimate(Effect::Metadata, gb), CATALOG_MS);
        let small = t.estimate(Effect::Rewrite, gb / 1024);
        let large = t.estimate(Effect::Rewrite, gb);
        assert!(large.low > small.high, "{small:?} {large:?}");
        // A gigabyte copied at 40 MB/s: about 25 s, between 12.8 s and 51.2 s.
        assert_eq!(large.low, 12_800);
        assert_eq!(large.high, 51_250);
        assert!(t.estimate(Effect::Scan, gb).high < large.high);
        assert_eq!(
            Estimate::sum([small, large].into_iter()).high,
            small.high + large.high
        );
    }
}
