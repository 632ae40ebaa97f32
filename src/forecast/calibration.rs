//! The throughputs a forecast assumes, measured on the server it forecasts for
//! ([`crate::engine::Calibrate`]): the same statement takes ten times longer on a small
//! cloud volume than on a laptop's disk, so no fixed figure is within 2× of both.
//!
//! A measurement takes about a second, so it is taken only when the pending work could
//! matter (the defaults put it at [`MEASURE_FROM_MS`] or more), and kept: in the process
//! (`serve` and a fleet's checks ask again and again) and in safemig's cache, keyed by the
//! server's version and defaults and its address (one measurement for all its databases
//! and schemas), for [`MAX_AGE`]. A measurement that fails (a login that may not create a
//! table, a read-only replica) leaves the defaults, with a warning: a forecast never fails
//! for want of one, and the process does not try again.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{TimeDelta, Utc};
use tokio::sync::Mutex;

use super::estimate::{Source, Throughput};
use crate::cache::{self, Cache, Key};
use crate::engine::Engine;

/// Pending work the default throughputs put at this much or more is worth measuring the
/// server for; below it, no budget is close enough for their error to change a verdict.
pub(super) const MEASURE_FROM_MS: u64 = 1000;

/// How long a measurement is reused: a server's disks and load change, and a week-old
/// figure costs one more second to renew.
const MAX_AGE: TimeDelta = TimeDelta::days(7);

/// Measurements (and failures to measure) of this process, by cache file name. The lock
/// is held while measuring, so that the checks of a fleet's tenants on one server wait
/// for one measurement instead of each taking its own.
static MEASURED: LazyLock<Mutex<HashMap<String, Throughput>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The throughputs of `engine`'s server: measured earlier (in this process, or in
/// `cache` unless it is not to be read), else measured now if `measure`, else defaults.
pub async fn throughput(
    engine: &mut dyn Engine,
    cache: Option<&Cache>,
    measure: bool,
) -> Throughput {
    let key = match Key::replay("throughput", engine, None).await {
        Ok(mut key) => {
            key.part(&engine.server());
            key.file(
                cache.map_or(std::path::Path::new(""), |c| &c.dir),
                "throughput",
            )
        }
        Err(e) => {
            tracing::warn!("cannot identify the server to measure its speed: {e}");
            return Throughput::default();
        }
    };
    let name = key.to_string_lossy().into_owned();
    let read = cache.is_none_or(|c| c.read);
    let mut measured = MEASURED.lock().await;
    if read {
        if let Some(known) = measured.get(&name) {
            return known.clone();
        }
        if let Some(cached) = cache.and_then(|c| c.entry(&key)).and_then(|t| recent(&t)) {
            measured.insert(name, cached.clone());
            return cached;
        }
    }
    if !measure {
        return Throughput::default();
    }
    let throughput = match engine.measure_work().await {
        Ok(Some(sample)) => {
            let throughput = Throughput::measured(&sample, Utc::now());
            if cache.is_some() {
                let json = serde_json::to_string(&throughput).expect("throughputs serialize");
                cache::write(&key, &json);
            }
            throughput
        }
        Ok(None) => Throughput::default(),
        Err(e) => {
            tracing::warn!(
                "cannot measure the server's speed, so the forecast assumes default \
                 throughputs: {e}"
            );
            Throughput::default()
        }
    };
    measured.insert(name, throughput.clone());
    throughput
}

/// A cache entry's throughputs, if they parse and are younger than [`MAX_AGE`].
fn recent(text: &str) -> Option<Throughput> {
    let throughput: Throughput = serde_json::from_str(text).ok()?;
    let age = Utc::now() - throughput.measured_at?;
    (age < MAX_AGE).then_some(Throughput {
        source: Source::Cached,
        ..throughput
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recent_measurement_is_reused() {
        let sample = super::super::estimate::tests::sample();
        let fresh = Throughput::measured(&sample, Utc::now());
        assert_eq!(fresh.rewrite_bytes_per_s, 200_000_000.0);
        let text = serde_json::to_string(&fresh).unwrap();
        let reused = recent(&text).expect("a fresh measurement is reused");
        assert_eq!(reused.source, Source::Cached);
        assert_eq!(reused.scan_bytes_per_s, fresh.scan_bytes_per_s);

        let old = Throughput::measured(&sample, Utc::now() - MAX_AGE - TimeDelta::hours(1));
        assert_eq!(recent(&serde_json::to_string(&old).unwrap()), None);
        assert_eq!(recent("{not json"), None);
        // The defaults were never measured: not an entry to reuse.
        let defaults = serde_json::to_string(&Throughput::default()).unwrap();
        assert_eq!(recent(&defaults), None);
    }
}
