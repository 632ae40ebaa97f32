//! `safemig check`: where every environment of `safemig.toml`, and every tenant in it,
//! stands: its status class (as `status` evaluates it: [`crate::status`]), who holds the
//! migration lock, and drift where the environment asks for it ([`crate::drift`]).
//!
//! Read only: connections are opened read-only, nothing is created (not even
//! `_prisma_migrations`) and the lock is only looked at, so a login that can only `SELECT`
//! is enough. Each environment becomes a [`Prepared`] once ([`prepare`]: variables read,
//! project located, folder loaded); [`run`] checks it and returns a typed
//! [`EnvironmentReport`], never an error, so a long-running exporter can call it on a
//! timer. Many targets are checked fast:
//!
//! - tenants on one server (PostgreSQL schemas, MySQL databases) share one connection: one
//!   catalog query finds the namespaces holding `_prisma_migrations`
//!   ([`crate::engine::Inspect::namespaces`]) and batched `UNION ALL` queries read their
//!   histories ([`crate::engine::HistoryStore::read_histories`]). A tenant the batch cannot
//!   settle (no history table, a journal in flight whose resumability needs the catalog,
//!   an unreadable history) is checked on a connection of its own;
//! - separate databases (SQLite tenant files, those fallbacks) run at most
//!   [`CheckOptions::jobs`] at once, each within [`CheckOptions::timeout`]: a dead target
//!   is reported `unreachable` when its time is up and never holds the others back.

mod drift;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::Error;
use crate::config::environments::Tenants;
use crate::database_url::DatabaseUrl;
use crate::engine::{self, Access, Engine};
use crate::environment::{Discovered, Prepared, discover, nothing_selected, tenant_files};
use crate::error::{DatabaseError, ExitCode};
use crate::history::HistoryRow;
use crate::journal::Journal;
use crate::status::{self, HistoryTable, MigrationStatus, StatusReport, Verdict};

use drift::add_drift;
pub use drift::{Comparison, DriftCount, DriftSummary};

/// The `check --json` format; a change older readers could misread raises it.
pub const FORMAT_VERSION: u32 = 1;

/// How to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Separate connections open at once.
    pub jobs: usize,
    /// How long one target (or one server's batch of tenants) may take to answer, from
    /// connecting to its last query; drift's comparison comes after and is not bounded by
    /// it (its replay drops its scratch database whatever happens, which a cut-off future
    /// could not).
    pub timeout: Duration,
    /// Whether to compare schemas where the environment configures drift.
    pub drift: bool,
    /// Where drift caches replayed folders and the forecast the server's measured
    /// throughputs; `None`: always replay, and measure once per process.
    pub cache: Option<crate::cache::Cache>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            jobs: 16,
            timeout: Duration::from_secs(10),
            drift: true,
            cache: None,
        }
    }
}

/// The state of one target, and of anything made of targets (the worst of theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Every migration applied, nothing disagrees, no drift.
    UpToDate,
    /// Migrations wait to be applied.
    Pending,
    /// A safemig deploy was interrupted mid-migration: the next deploy resumes it.
    Interrupted,
    /// The schema differs from what drift compares it with.
    Drift,
    /// Tables but no `_prisma_migrations` (P3005).
    BaselineNeeded,
    /// The history disagrees with the folder: edited, missing or out-of-order migrations.
    Inconsistent,
    /// The target did not answer: down, refused the login, missing, or over the timeout.
    Unreachable,
    /// The target cannot be checked as configured: Prisma 8 migrates it, the tenants
    /// selection names nothing, the file is not a database.
    Misconfigured,
    /// A query failed for another reason.
    Error,
    /// A failed migration blocks deploys (P3009).
    Failed,
}

impl State {
    /// Worst first: the one place the states are ordered. A report's state, and `check`'s
    /// exit code, are its worst target's.
    pub const PRECEDENCE: [State; 10] = [
        State::Failed,
        State::Error,
        State::Misconfigured,
        State::Unreachable,
        State::Inconsistent,
        State::BaselineNeeded,
        State::Drift,
        State::Interrupted,
        State::Pending,
        State::UpToDate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::UpToDate => "up_to_date",
            State::Pending => "pending",
            State::Interrupted => "interrupted",
            State::Drift => "drift",
            State::BaselineNeeded => "baseline_needed",
            State::Inconsistent => "inconsistent",
            State::Unreachable => "unreachable",
            State::Misconfigured => "misconfigured",
            State::Error => "error",
            State::Failed => "failed",
        }
    }

    /// The exit code of `check` when this is the worst state (README, "Exit codes").
    pub fn exit_code(self) -> ExitCode {
        match self {
            State::UpToDate => ExitCode::Success,
            State::Pending | State::Interrupted => ExitCode::Pending,
            State::Drift => ExitCode::Drift,
            State::BaselineNeeded => ExitCode::BaselineNeeded,
            State::Inconsistent => ExitCode::Inconsistent,
            State::Unreachable => ExitCode::Unreachable,
            State::Misconfigured => ExitCode::Usage,
            State::Error => ExitCode::Internal,
            State::Failed => ExitCode::FailedInHistory,
        }
    }

    fn rank(self) -> usize {
        State::PRECEDENCE
            .iter()
            .position(|s| *s == self)
            .expect("every state is ranked")
    }

    /// The worst of `states`; up to date when there are none.
    pub fn worst(states: impl IntoIterator<Item = State>) -> State {
        states
            .into_iter()
            .min_by_key(|s| s.rank())
            .unwrap_or(State::UpToDate)
    }

    /// The state an error leaves a target in.
    pub fn of_error(error: &Error) -> State {
        match error.exit_code() {
            ExitCode::Unreachable => State::Unreachable,
            ExitCode::Usage => State::Misconfigured,
            ExitCode::FailedInHistory => State::Failed,
            _ => State::Error,
        }
    }

    /// The state a status report leaves a target in; invalid indexes are drift whatever
    /// the history says.
    fn of_status(report: &StatusReport) -> State {
        let history = match report.verdict {
            Verdict::UpToDate => State::UpToDate,
            Verdict::Pending
                if report
                    .migrations
                    .iter()
                    .any(|m| m.state == status::State::Interrupted) =>
            {
                State::Interrupted
            }
            Verdict::Pending => State::Pending,
            Verdict::Failed => State::Failed,
            Verdict::Inconsistent => State::Inconsistent,
            Verdict::BaselineNeeded => State::BaselineNeeded,
            Verdict::HandedToPrismaNext => State::Misconfigured,
        };
        let invalid = (!report.invalid_indexes.is_empty()).then_some(State::Drift);
        State::worst(std::iter::once(history).chain(invalid))
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds the migration lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Lock {
    Free,
    Held {
        holder: String,
        /// Running a statement right now, and not blocked on another session's lock.
        busy: bool,
        /// What its running statement waits for, when it waits on a lock.
        #[serde(skip_serializing_if = "Option::is_none")]
        waiting: Option<String>,
    },
    /// The engine could not tell (the reason, credentials masked by the printer).
    Unknown {
        reason: String,
    },
}

/// One database (or one tenant in it) checked.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub environment: String,
    /// The schema, database or file of a tenant; `None` for the environment's database
    /// itself.
    pub tenant: Option<String>,
    /// The URL, password masked.
    pub database: String,
    /// How messages name the database.
    pub target: String,
    pub state: State,
    /// `status`'s verdict, when the history could be read.
    pub verdict: Option<Verdict>,
    pub history_table: Option<HistoryTable>,
    /// Migrations per status class (`applied`, `pending`, `failed`, `interrupted`,
    /// `rolled_back`, `modified`, `missing`, `out_of_order`).
    pub counts: BTreeMap<&'static str, usize>,
    /// The migrations that are not simply applied, with their notes.
    pub migrations: Vec<MigrationStatus>,
    /// When the last applied migration finished, when one is.
    pub last_applied_at: Option<DateTime<Utc>>,
    pub notes: Vec<String>,
    /// `None` when the target was not reached.
    pub lock: Option<Lock>,
    pub drift: Option<DriftSummary>,
    /// The forecast of the pending migrations on the live tables (`safemig forecast`),
    /// when some are pending and the target was checked on a connection of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_ms: Option<crate::forecast::Estimate>,
    /// Why the target could not be checked, credentials masked by the printer.
    pub error: Option<String>,
    /// How the history was read: `batch` (with other tenants of the server) or `single`.
    pub read: &'static str,
    pub elapsed_ms: u64,
}

/// One environment checked.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentReport {
    pub name: String,
    pub state: State,
    pub targets: Vec<TargetReport>,
    pub elapsed_ms: u64,
}

/// Every environment checked: what `check` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub format_version: u32,
    pub state: State,
    /// Targets per state.
    pub counts: BTreeMap<&'static str, usize>,
    pub environments: Vec<EnvironmentReport>,
}

impl CheckReport {
    pub fn new(environments: Vec<EnvironmentReport>) -> CheckReport {
        let mut counts = BTreeMap::new();
        for target in environments.iter().flat_map(|e| &e.targets) {
            *counts.entry(target.state.as_str()).or_insert(0) += 1;
        }
        CheckReport {
            format_version: FORMAT_VERSION,
            state: State::worst(environments.iter().map(|e| e.state)),
            counts,
            environments,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        self.state.exit_code()
    }
}

/// Checks one environment: its database, or each of its tenants.
pub async fn run(environment: &Prepared, options: &CheckOptions) -> EnvironmentReport {
    let permits = Semaphore::new(options.jobs.max(1));
    run_with(environment, options, &permits).await
}

/// Checks every environment, sharing one bound on open connections.
pub async fn run_all(environments: &[Prepared], options: &CheckOptions) -> CheckReport {
    let permits = Semaphore::new(options.jobs.max(1));
    let reports = futures_util::future::join_all(
        environments
            .iter()
            .map(|environment| run_with(environment, options, &permits)),
    )
    .await;
    CheckReport::new(reports)
}

async fn run_with(
    environment: &Prepared,
    options: &CheckOptions,
    permits: &Semaphore,
) -> EnvironmentReport {
    let started = Instant::now();
    let targets = match (&environment.tenants, &environment.url) {
        (Some(Tenants::Files(_)), _) => match tenant_files(environment) {
            Ok(files) if files.is_empty() => vec![nothing_matched(environment)],
            Ok(files) => {
                let targets = files
                    .into_iter()
                    .map(|(url, name)| (url, Some(name)))
                    .collect();
                check_each(environment, targets, options, permits).await
            }
            Err(e) => vec![failed_target(environment, None, None, &e, 0)],
        },
        (Some(tenants), Some(url)) => {
            check_tenants(environment, url, tenants, options, permits).await
        }
        (None, Some(url)) => {
            check_each(environment, vec![(url.clone(), None)], options, permits).await
        }
        (_, None) => unreachable!("an environment without a URL has tenant files"),
    };
    EnvironmentReport {
        name: environment.name.clone(),
        state: State::worst(targets.iter().map(|t| t.state)),
        targets,
        elapsed_ms: millis(started),
    }
}

/// Checks separate databases, at most `permits` at once, each on its own connection.
async fn check_each(
    environment: &Prepared,
    targets: Vec<(DatabaseUrl, Option<String>)>,
    options: &CheckOptions,
    permits: &Semaphore,
) -> Vec<TargetReport> {
    futures_util::future::join_all(targets.into_iter().map(|(url, tenant)| async move {
        let _permit = permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        check_single(environment, url, tenant, options).await
    }))
    .await
}

/// One database on a connection of its own: status, lock, drift.
async fn check_single(
    environment: &Prepared,
    url: DatabaseUrl,
    tenant: Option<String>,
    options: &CheckOptions,
) -> TargetReport {
    let started = Instant::now();
    let read = async {
        match engine::connect(&url, Access::ReadOnly, options.timeout).await {
            Ok(mut engine) => {
                let report =
                    status::report_on(&mut *engine, &url, &environment.dir, environment.strictness)
                        .await?;
                let lock = lock_of(&mut *engine).await;
                let forecast = crate::forecast::estimate_of_pending(
                    &mut *engine,
                    &environment.dir,
                    &report,
                    options.cache.as_ref(),
                )
                .await;
                Ok((report, Some(lock), forecast))
            }
            Err(e) => Ok((
                status::without_database(&url, &environment.dir, e)?,
                None,
                None,
            )),
        }
    };
    let result = match tokio::time::timeout(options.timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(&url, options.timeout)),
    };
    match result {
        Ok((report, lock, forecast_ms)) => {
            let mut target = from_status(environment, tenant, report, lock, "single");
            target.forecast_ms = forecast_ms;
            add_drift(environment, &url, &mut target, options).await;
            target.elapsed_ms = millis(started);
            target
        }
        Err(e) => failed_target(environment, Some(&url), tenant, &e, millis(started)),
    }
}

/// What one server's connection tells about all its tenants.
struct Batch {
    lock: Lock,
    marker: Option<String>,
    names: Vec<String>,
    /// The histories read, by tenant; tenants without `_prisma_migrations` are absent.
    histories: BTreeMap<String, Vec<HistoryRow>>,
}

/// Tenants on one server: one connection, one catalog query, batched history reads; what
/// the batch cannot settle is checked on connections of its own.
async fn check_tenants(
    environment: &Prepared,
    url: &DatabaseUrl,
    tenants: &Tenants,
    options: &CheckOptions,
    permits: &Semaphore,
) -> Vec<TargetReport> {
    let started = Instant::now();
    let batch = {
        let _permit = permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let read = read_batch(
            url,
            tenants,
            environment.tenant_filter.as_deref(),
            options.timeout,
        );
        match tokio::time::timeout(options.timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(url, options.timeout)),
        }
    };
    let batch = match batch {
        Ok(batch) => batch,
        Err(e) => {
            return vec![failed_target(
                environment,
                Some(url),
                None,
                &e,
                millis(started),
            )];
        }
    };
    if batch.names.is_empty() {
        return vec![nothing_matched(environment)];
    }
    let elapsed = millis(started);
    let mut settled: BTreeMap<String, TargetReport> = BTreeMap::new();
    let mut alone = Vec::new();
    for name in &batch.names {
        let Some(tenant_url) = url.for_tenant(name) else {
            continue;
        };
        match batch.histories.get(name) {
            Some(rows) if !has_journal_in_flight(rows) => {
                let report = status::from_history(
                    &tenant_url,
                    &environment.dir,
                    HistoryTable::Present,
                    rows,
                    &BTreeMap::new(),
                    batch.marker.clone(),
                )
                .judged(environment.strictness);
                let mut target = from_status(
                    environment,
                    Some(name.clone()),
                    report,
                    Some(batch.lock.clone()),
                    "batch",
                );
                target.elapsed_ms = elapsed;
                settled.insert(name.clone(), target);
            }
            _ => alone.push((tenant_url, Some(name.clone()))),
        }
    }
    for target in check_each(environment, alone, options, permits).await {
        settled.insert(target.tenant.clone().unwrap_or_default(), target);
    }
    // Drift compares each tenant's schema on connections of its own.
    if options.drift && environment.drift.is_some() {
        futures_util::future::join_all(settled.values_mut().filter(|t| t.read == "batch").map(
            |target| async move {
                let _permit = permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                let tenant = target.tenant.clone().unwrap_or_default();
                if let Some(tenant_url) = url.for_tenant(&tenant) {
                    add_drift(environment, &tenant_url, target, options).await;
                }
            },
        ))
        .await;
    }
    batch
        .names
        .iter()
        .filter_map(|name| settled.remove(name))
        .collect()
}

/// Reads everything the batch needs on one connection.
async fn read_batch(
    url: &DatabaseUrl,
    tenants: &Tenants,
    filter: Option<&str>,
    wait: Duration,
) -> Result<Batch, Error> {
    let mut engine = engine::connect(url, Access::ReadOnly, wait).await?;
    let lock = lock_of(&mut *engine).await;
    let marker = engine.prisma_next_marker().await?;
    let Discovered { names, histories } = discover(&mut *engine, tenants, filter).await?;
    Ok(Batch {
        lock,
        marker,
        names,
        histories,
    })
}

/// Whether a journal of safemig's is in flight or failed: deciding whether deploy would
/// resume it needs the tenant's catalog, so it is checked on a connection of its own.
fn has_journal_in_flight(rows: &[HistoryRow]) -> bool {
    rows.iter()
        .any(|r| r.is_failed() && r.logs.as_deref().and_then(Journal::from_logs).is_some())
}

async fn lock_of(engine: &mut dyn Engine) -> Lock {
    match engine.lock_holder().await {
        Ok(None) => Lock::Free,
        Ok(Some(holder)) => Lock::Held {
            busy: holder.working(),
            holder: holder.description,
            waiting: holder.waiting,
        },
        Err(e) => Lock::Unknown {
            reason: e.to_string(),
        },
    }
}

fn from_status(
    environment: &Prepared,
    tenant: Option<String>,
    report: StatusReport,
    lock: Option<Lock>,
    read: &'static str,
) -> TargetReport {
    let state = State::of_status(&report);
    let last_applied_at = report
        .migrations
        .iter()
        .filter(|m| m.state == status::State::Applied)
        .filter_map(|m| m.finished_at)
        .max();
    TargetReport {
        environment: environment.name.clone(),
        tenant,
        database: report.database,
        target: report.target,
        state,
        verdict: Some(report.verdict),
        history_table: Some(report.history_table),
        counts: report.counts,
        migrations: report
            .migrations
            .into_iter()
            .filter(|m| m.state != status::State::Applied)
            .collect(),
        last_applied_at,
        notes: report.notes,
        lock,
        drift: None,
        forecast_ms: None,
        error: None,
        read,
        elapsed_ms: 0,
    }
}

fn failed_target(
    environment: &Prepared,
    url: Option<&DatabaseUrl>,
    tenant: Option<String>,
    error: &Error,
    elapsed_ms: u64,
) -> TargetReport {
    TargetReport {
        environment: environment.name.clone(),
        tenant,
        database: url.map(|u| u.redacted().to_string()).unwrap_or_default(),
        target: url.map(DatabaseUrl::describe).unwrap_or_default(),
        state: State::of_error(error),
        verdict: None,
        history_table: None,
        counts: BTreeMap::new(),
        migrations: Vec::new(),
        last_applied_at: None,
        notes: Vec::new(),
        lock: None,
        drift: None,
        forecast_ms: None,
        error: Some(error.to_string()),
        read: "single",
        elapsed_ms,
    }
}

/// A tenant selection that names nothing: a check that covers nothing must not pass.
fn nothing_matched(environment: &Prepared) -> TargetReport {
    let error = nothing_selected(environment);
    failed_target(environment, environment.url.as_ref(), None, &error, 0)
}

fn timed_out(url: &DatabaseUrl, limit: Duration) -> Error {
    Error::Database(DatabaseError::Connect {
        target: url.describe(),
        message: format!("no answer within {}s (--timeout)", limit.as_secs_f32()),
    })
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_lists_every_state_once() {
        for state in State::PRECEDENCE {
            assert_eq!(
                State::PRECEDENCE.iter().filter(|s| **s == state).count(),
                1,
                "{state}"
            );
        }
        assert_eq!(State::worst([]), State::UpToDate);
        assert_eq!(
            State::worst([State::Pending, State::Unreachable, State::Drift]),
            State::Unreachable
        );
        assert_eq!(
            State::worst([State::Unreachable, State::Failed]),
            State::Failed
        );
        assert_eq!(
            State::worst([State::Interrupted, State::Pending]),
            State::Interrupted
        );
    }

    #[test]
    fn exit_codes_reuse_the_documented_ones() {
        let codes: Vec<u8> = State::PRECEDENCE
            .iter()
            .map(|s| s.exit_code() as u8)
            .collect();
        assert_eq!(codes, [5, 1, 2, 3, 7, 9, 14, 8, 8, 0]);
    }
}
