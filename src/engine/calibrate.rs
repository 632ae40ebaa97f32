//! Timing each kind of work a migration statement does (a table copy, an index build, a
//! scan, rows updated) on a throwaway table of this server: `forecast` turns the timings
//! into throughputs, so that its durations are this server's (its disks, its settings
//! such as `maintenance_work_mem`, its load), not figures from another machine.
//!
//! Each engine leaves nothing behind: PostgreSQL works in a transaction that is rolled
//! back (other sessions never see the table); MariaDB and MySQL, whose DDL cannot be
//! rolled back, drop their table at the end, and a later measurement drops one a killed
//! measurement left.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::HistoryAccess;
use crate::Error;
use crate::database_url::DatabaseUrl;

/// The throwaway table's rows: enough that each step takes milliseconds to tens of
/// milliseconds, so that timer and round-trip noise stay small, and the whole
/// measurement stays under a second on a small server.
pub const SAMPLE_ROWS: u64 = 100_000;

/// How long each kind of work took on a table of `rows` rows taking `bytes` (with its
/// index), on this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkSample {
    pub rows: u64,
    pub bytes: u64,
    /// A column's type changed, so that every row is copied and the indexes rebuilt.
    pub rewrite: Duration,
    /// An index built over the table (the mean of an integer and a text column).
    pub index_build: Duration,
    /// A `CHECK` constraint added: every row read under the table's lock.
    pub scan: Duration,
    /// Every row updated.
    pub data: Duration,
    /// A foreign key added: every row looked up in a referenced table of 1,000 rows.
    pub foreign_key: Duration,
    /// What each function a volatile default may call costs per call, beyond a constant's
    /// (PostgreSQL: `gen_random_uuid()` about a microsecond, as much as the rest of a
    /// narrow row's rewrite).
    pub per_row_calls: Vec<(&'static str, Duration)>,
}

/// Measures [`WorkSample`]s.
#[async_trait]
pub trait Calibrate: Send {
    /// Times each kind of work on a throwaway table of [`SAMPLE_ROWS`] rows. `None` where
    /// this engine does not measure (SQLite: the database is a local file whose speed a
    /// temporary table elsewhere would not tell).
    async fn measure_work(&mut self) -> Result<Option<WorkSample>, Error> {
        Ok(None)
    }

    /// The server a measurement holds for, for its cache key: its address, so that the
    /// schemas and databases of one server (a fleet's tenants) share one measurement.
    /// Never holds credentials.
    fn server(&self) -> String;
}

/// [`Calibrate::server`] of a server engine: `host:port`.
pub(super) fn server_of(url: &DatabaseUrl) -> String {
    let (host, port) = url.host_port().unwrap_or_default();
    format!("{host}:{port}")
}

/// Runs one statement of a measurement, as plain SQL, through the engine's own
/// [`HistoryAccess::execute`].
pub(super) async fn run(
    engine: &mut (impl HistoryAccess + ?Sized),
    sql: &str,
) -> Result<(), Error> {
    engine
        .execute(sql, &[], "measuring the server's speed")
        .await
}

/// How long `step` took.
pub(super) async fn timed<E>(
    step: impl std::future::Future<Output = Result<(), E>>,
) -> Result<Duration, E> {
    let start = Instant::now();
    step.await?;
    Ok(start.elapsed())
}
