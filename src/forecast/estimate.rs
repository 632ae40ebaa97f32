//! From a statement's effect and the bytes it works through to a duration range.
//!
//! The throughputs are measured on the server at hand where that matters
//! ([`super::calibration`]), else rough defaults; the forecast says which
//! (`throughput.source`). The range spans half to twice the midpoint: a forecast that
//! sends a migration out of the start-up path when it was not needed costs a job run; one
//! that lets it start and be killed costs an outage.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::WorkSample;
use crate::sql::{Effect, LockEffect};

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

/// Where a forecast's throughputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Not measured on this server: rough figures.
    Default,
    /// Measured on this server just now.
    Measured,
    /// Measured on this server earlier (`measured_at`), read from safemig's cache.
    Cached,
}

/// Bytes per second each kind of work goes through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub source: Source,
    /// When they were measured; `None` for the defaults.
    pub measured_at: Option<DateTime<Utc>>,
    pub rewrite_bytes_per_s: f64,
    pub index_build_bytes_per_s: f64,
    pub scan_bytes_per_s: f64,
    pub data_bytes_per_s: f64,
    /// A scan or copy that checks each row against a referenced table.
    pub foreign_key_bytes_per_s: f64,
    /// What a call of each function a volatile default may call costs, per row, in
    /// nanoseconds (measured only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_row_call_ns: BTreeMap<String, f64>,
    /// The rows of the table the figures were measured on: an index build sorts its
    /// rows, which takes n·log n, so a table 100 times the sample's takes about 140
    /// times as long, not 100 (measured only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rows: Option<u64>,
}

impl Default for Throughput {
    fn default() -> Self {
        const MB: f64 = 1024.0 * 1024.0;
        Throughput {
            source: Source::Default,
            measured_at: None,
            rewrite_bytes_per_s: 40.0 * MB,
            index_build_bytes_per_s: 40.0 * MB,
            scan_bytes_per_s: 200.0 * MB,
            data_bytes_per_s: 20.0 * MB,
            foreign_key_bytes_per_s: 40.0 * MB,
            per_row_call_ns: BTreeMap::new(),
            sample_rows: None,
        }
    }
}

/// The catalog change itself, whatever the table's size (lock waits aside).
pub(super) const CATALOG_MS: Estimate = Estimate { low: 0, high: 50 };

impl Throughput {
    /// The throughputs `sample` shows, measured at `at`.
    pub fn measured(sample: &WorkSample, at: DateTime<Utc>) -> Throughput {
        // A step too fast for the timer counts as a tenth of a millisecond.
        let rate = |took: Duration| sample.bytes as f64 / took.as_secs_f64().max(1e-4);
        Throughput {
            source: Source::Measured,
            measured_at: Some(at),
            rewrite_bytes_per_s: rate(sample.rewrite),
            index_build_bytes_per_s: rate(sample.index_build),
            scan_bytes_per_s: rate(sample.scan),
            data_bytes_per_s: rate(sample.data),
            foreign_key_bytes_per_s: rate(sample.foreign_key),
            per_row_call_ns: sample
                .per_row_calls
                .iter()
                .map(|(f, cost)| (f.to_string(), cost.as_secs_f64() * 1e9))
                .collect(),
            sample_rows: Some(sample.rows),
        }
    }

    /// How long `effect` takes over `rows` rows taking `bytes`.
    pub fn estimate(&self, effect: &LockEffect, rows: u64, bytes: u64) -> Estimate {
        let rate = match effect.effect {
            Effect::Metadata | Effect::Unknown => return CATALOG_MS,
            Effect::Rewrite => self.rewrite_bytes_per_s,
            Effect::IndexBuild => self.index_build_bytes_per_s,
            Effect::Scan => self.scan_bytes_per_s,
            Effect::Data => self.data_bytes_per_s,
        };
        // A foreign key checked along (its own clause, or one of an `ALTER TABLE` that
        // also copies the table): the slower of the two paces.
        let rate = if effect.checks_foreign_key {
            rate.min(self.foreign_key_bytes_per_s)
        } else {
            rate
        };
        let calls_ns: f64 = effect
            .per_row_calls
            .iter()
            .filter_map(|f| self.per_row_call_ns.get(*f))
            .sum();
        let sort = match (effect.effect, self.sample_rows) {
            (Effect::IndexBuild, Some(sample)) if rows > 1 && sample > 1 => {
                (rows as f64).ln() / (sample as f64).ln()
            }
            _ => 1.0,
        };
        let mid_ms = bytes as f64 / rate * 1000.0 * sort + rows as f64 * calls_ns / 1e6;
        Estimate {
            low: (mid_ms / 2.0) as u64,
            high: (mid_ms * 2.0).ceil() as u64 + CATALOG_MS.high,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sql::Blocks;

    /// A measurement of 10 MB and 100,000 rows.
    pub(in crate::forecast) fn sample() -> WorkSample {
        WorkSample {
            rows: 100_000,
            bytes: 10_000_000,
            rewrite: Duration::from_millis(50),
            index_build: Duration::from_millis(30),
            scan: Duration::from_millis(5),
            data: Duration::from_millis(200),
            foreign_key: Duration::from_millis(20),
            per_row_calls: vec![("gen_random_uuid", Duration::from_nanos(1000))],
        }
    }

    fn doing(effect: Effect) -> LockEffect {
        LockEffect {
            effect,
            mode: "ACCESS EXCLUSIVE",
            blocks: Blocks::ReadsAndWrites,
            tables: vec!["t".into()],
            reason: "",
            checks_foreign_key: false,
            per_row_calls: Vec::new(),
        }
    }

    #[test]
    fn work_grows_with_the_bytes_and_catalog_changes_do_not() {
        let t = Throughput::default();
        let gb = 1024 * 1024 * 1024;
        let rows = 10_000_000;
        assert_eq!(t.estimate(&doing(Effect::Metadata), rows, gb), CATALOG_MS);
        let small = t.estimate(&doing(Effect::Rewrite), rows / 1024, gb / 1024);
        let large = t.estimate(&doing(Effect::Rewrite), rows, gb);
        assert!(large.low > small.high, "{small:?} {large:?}");
        // A gigabyte copied at 40 MB/s: about 25 s, between 12.8 s and 51.2 s.
        assert_eq!(large.low, 12_800);
        assert_eq!(large.high, 51_250);
        assert!(t.estimate(&doing(Effect::Scan), rows, gb).high < large.high);
        assert_eq!(
            Estimate::sum([small, large].into_iter()).high,
            small.high + large.high
        );
    }

    #[test]
    fn measured_foreign_key_checks_and_per_row_calls_count() {
        let sample = sample();
        let t = Throughput::measured(&sample, Utc::now());
        // The sample's own table, a hundred times over: a hundred times its timings.
        let (rows, bytes) = (10_000_000, 1_000_000_000);
        assert_eq!(t.estimate(&doing(Effect::Scan), rows, bytes).low, 250);
        let mut foreign_key = doing(Effect::Scan);
        foreign_key.checks_foreign_key = true;
        assert_eq!(t.estimate(&foreign_key, rows, bytes).low, 1000);
        // With a copy in the same statement, the copy's slower pace.
        foreign_key.effect = Effect::Rewrite;
        assert_eq!(t.estimate(&foreign_key, rows, bytes).low, 2500);
        let mut uuid = doing(Effect::Rewrite);
        uuid.per_row_calls = vec!["gen_random_uuid", "nextval"];
        // 5 s of copying and 10 s of calls (nextval is not measured: nothing added).
        assert_eq!(t.estimate(&uuid, rows, bytes).low, 7500);
        assert_eq!(t.estimate(&doing(Effect::Rewrite), rows, bytes).low, 2500);
        // 3 s at the sample's pace, times log(10^7) / log(10^5) for the sort: 4.2 s.
        assert_eq!(
            t.estimate(&doing(Effect::IndexBuild), rows, bytes).low,
            2100
        );
    }
}
