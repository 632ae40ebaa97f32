//! `safemig serve`: a long-running Prometheus exporter over [`check`](crate::check).
//!
//! Each environment of `safemig.toml` is [prepared](crate::environment::prepare) once; its
//! history is checked when it is scraped, at most once per [`ServeOptions::min_interval`]
//! (results are cached between scrapes), and never twice at once: a scrape that arrives
//! while a check of the same environment runs waits for that check and takes its result
//! (single-flight, by one lock per environment). Drift, which replays the migrations
//! folder, runs on its own schedule (the environment's `drift.every`) in a background task
//! and its last result is merged into every report. [`check::run`] never fails: a target
//! that cannot be reached is a report with `up 0` and the reason, never a crashed exporter.
//!
//! [`metrics`] maps the typed reports to Prometheus metrics; [`http`] serves them.

pub mod http;
pub mod metrics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::check::{self, CheckOptions, CheckReport, DriftSummary, EnvironmentReport, State};
use crate::environment::Prepared;
use crate::status;

/// How `serve` checks.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A history checked less than this long ago is served from the cache.
    pub min_interval: Duration,
    /// `/readyz` tolerates this many pending migrations.
    pub pending_tolerance: usize,
    /// How each check runs (`drift` decides whether the drift tasks run at all).
    pub check: CheckOptions,
    /// How often drift compares where the environment sets no `every`.
    pub default_drift_every: Duration,
    /// The idle timeout and the cap on client connections.
    pub connections: http::ConnectionLimits,
}

/// The last check of an environment.
struct Checked {
    report: EnvironmentReport,
    started: Instant,
    finished: Instant,
}

/// The last drift comparison of an environment.
struct DriftRun {
    at: DateTime<Utc>,
    /// By tenant (`None`: the environment's database).
    summaries: BTreeMap<Option<String>, DriftSummary>,
}

/// One environment served.
struct Environment {
    prepared: Prepared,
    last: tokio::sync::Mutex<Option<Checked>>,
    drift: Mutex<Option<DriftRun>>,
}

/// A check for the checker task to run: environment `index`, with or without drift.
struct Job {
    index: usize,
    drift: bool,
    reply: oneshot::Sender<EnvironmentReport>,
}

/// Every environment served, and how.
///
/// [`check::run`]'s future is not `Send` (drift's replay reports through a plain
/// `FnMut`), while axum's handlers must be: checks therefore run on one task of the
/// serving thread ([`Exporter::run`]'s `LocalSet`), and the handlers send it [`Job`]s.
pub struct Exporter {
    environments: Vec<Environment>,
    options: ServeOptions,
    jobs: mpsc::UnboundedSender<Job>,
    queue: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    checks: AtomicUsize,
}

impl Exporter {
    pub fn new(environments: Vec<Prepared>, options: ServeOptions) -> Exporter {
        let (jobs, queue) = mpsc::unbounded_channel();
        Exporter {
            environments: environments
                .into_iter()
                .map(|prepared| Environment {
                    prepared,
                    last: tokio::sync::Mutex::new(None),
                    drift: Mutex::new(None),
                })
                .collect(),
            options,
            jobs,
            queue: Mutex::new(Some(queue)),
            checks: AtomicUsize::new(0),
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then lets the requests in flight
    /// finish; drift runs meanwhile on its schedule. Call once.
    pub async fn run(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("Exporter::run is called once");
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                tokio::task::spawn_local(self.clone().checker(queue));
                tokio::task::spawn_local(self.clone().drift_forever());
                let limits = self.options.connections;
                http::serve(listener, self, limits, shutdown).await
            })
            .await
        // Dropping the LocalSet ends the checker and drift tasks.
    }

    /// Runs the checks asked for, each as soon as it is asked (the callers keep them
    /// single-flight per environment).
    async fn checker(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = queue.recv().await {
            let exporter = self.clone();
            tokio::task::spawn_local(async move {
                let options = CheckOptions {
                    drift: job.drift,
                    ..exporter.options.check.clone()
                };
                let prepared = &exporter.environments[job.index].prepared;
                let report = check::run(prepared, &options).await;
                let _ = job.reply.send(report);
            });
        }
    }

    /// How many checks ran (history and drift), for tests.
    pub fn checks_run(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    /// Environment `index` checked by the checker task.
    async fn check(&self, index: usize, drift: bool) -> EnvironmentReport {
        self.checks.fetch_add(1, Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        let job = Job {
            index,
            drift,
            reply,
        };
        if self.jobs.send(job).is_err() {
            panic!("the checker task runs as long as the server");
        }
        answer.await.expect("the checker answers every job")
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.environments.iter().map(|e| e.prepared.name.as_str())
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.environments
            .iter()
            .position(|e| e.prepared.name == name)
    }

    /// `name`'s report, checked now unless a check started less than the minimum interval
    /// ago; `None` for an unknown environment. With drift's last result merged in, and
    /// when drift last ran (Unix seconds).
    pub async fn report(&self, name: &str) -> Option<(EnvironmentReport, Option<f64>)> {
        let index = self.find(name)?;
        Some(self.report_of(index).await)
    }

    async fn report_of(&self, index: usize) -> (EnvironmentReport, Option<f64>) {
        let environment = &self.environments[index];
        let asked = Instant::now();
        // Held while the check runs: a scrape arriving meanwhile waits, then takes this
        // check's result (it was in flight when the scrape came: single-flight).
        let mut last = environment.last.lock().await;
        let fresh = last
            .as_ref()
            .is_some_and(|c| c.finished >= asked || c.started + self.options.min_interval >= asked);
        if !fresh {
            let started = Instant::now();
            let report = self.check(index, false).await;
            *last = Some(Checked {
                report,
                started,
                finished: Instant::now(),
            });
        }
        let mut report = last.as_ref().expect("checked above").report.clone();
        drop(last);
        let drift = environment.drift.lock().unwrap_or_else(|e| e.into_inner());
        let at = drift
            .as_ref()
            .map(|d| d.at.timestamp_millis() as f64 / 1000.0);
        if let Some(run) = drift.as_ref() {
            merge_drift(&mut report, run);
        }
        (report, at)
    }

    /// Every environment's report, checked concurrently where not cached.
    pub async fn reports(&self) -> Vec<(EnvironmentReport, Option<f64>)> {
        futures_util::future::join_all((0..self.environments.len()).map(|i| self.report_of(i)))
            .await
    }

    /// What `check --json` prints, from the same cache.
    pub async fn status(&self) -> CheckReport {
        CheckReport::new(self.reports().await.into_iter().map(|(r, _)| r).collect())
    }

    /// Compares environment `index`'s schema now and keeps the result for the reports.
    async fn compare(&self, index: usize) {
        let report = self.check(index, true).await;
        let summaries = report
            .targets
            .into_iter()
            .filter_map(|t| t.drift.map(|d| (t.tenant, d)))
            .collect();
        *self.environments[index]
            .drift
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(DriftRun {
            at: Utc::now(),
            summaries,
        });
    }

    /// Runs drift for every environment that configures it, each on its own schedule,
    /// until the process ends. Returns at once when drift is turned off.
    async fn drift_forever(self: Arc<Self>) {
        if !self.options.check.drift {
            return;
        }
        let tasks = self
            .environments
            .iter()
            .enumerate()
            .filter_map(|(index, environment)| {
                let every = environment
                    .prepared
                    .drift
                    .as_ref()?
                    .every
                    .unwrap_or(self.options.default_drift_every);
                let exporter = &self;
                Some(async move {
                    loop {
                        exporter.compare(index).await;
                        tokio::time::sleep(every).await;
                    }
                })
            });
        futures_util::future::join_all(tasks).await;
    }

    /// Why `name` is not ready for its app (`Err`), or `Ok` when it is: every target
    /// read, no failed or interrupted migration, at most the tolerated pending ones.
    pub async fn readiness(&self, name: &str) -> Option<Result<(), String>> {
        let (report, _) = self.report(name).await?;
        Some(readiness(&report, self.options.pending_tolerance))
    }
}

/// Drift's last result in a fresh history report: the target's drift, and its state.
fn merge_drift(report: &mut EnvironmentReport, run: &DriftRun) {
    for target in &mut report.targets {
        if let Some(summary) = run.summaries.get(&target.tenant) {
            if summary
                .verdict
                .is_some_and(|v| v != crate::drift::Verdict::Same)
            {
                target.state = State::worst([target.state, State::Drift]);
            }
            target.drift = Some(summary.clone());
        }
    }
    report.state = State::worst(report.targets.iter().map(|t| t.state));
}

/// `/readyz`'s rule over one report.
pub fn readiness(report: &EnvironmentReport, pending_tolerance: usize) -> Result<(), String> {
    let mut reasons = Vec::new();
    for target in &report.targets {
        let who = match &target.tenant {
            Some(tenant) => format!("{} tenant {tenant}", report.name),
            None => report.name.clone(),
        };
        if !metrics::is_up(target) {
            reasons.push(format!(
                "{who}: not checked ({}): {}",
                target.state,
                target.error.as_deref().unwrap_or("no answer")
            ));
            continue;
        }
        let names = |state: status::State| {
            target
                .migrations
                .iter()
                .filter(|m| m.state == state)
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
        };
        let failed = names(status::State::Failed);
        if !failed.is_empty() {
            reasons.push(format!("{who}: failed migration {}", failed.join(", ")));
        }
        let interrupted = names(status::State::Interrupted);
        if !interrupted.is_empty() {
            reasons.push(format!(
                "{who}: interrupted migration {}",
                interrupted.join(", ")
            ));
        }
        // What deploy would apply: pending migrations, and those whose only attempts
        // were rolled back.
        let pending = target
            .migrations
            .iter()
            .filter(|m| {
                m.state == status::State::Pending
                    || (m.state == status::State::RolledBack && m.in_folder)
            })
            .count();
        if pending > pending_tolerance {
            reasons.push(format!(
                "{who}: {pending} pending migration(s), tolerance {pending_tolerance}"
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(crate::redact::redact(&reasons.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Lock, TargetReport};
    use crate::status::{MigrationStatus, Verdict};

    fn target(tenant: Option<&str>, counts: &[(&'static str, usize)]) -> TargetReport {
        TargetReport {
            environment: "prod".into(),
            tenant: tenant.map(String::from),
            database: "postgresql://app:****@db/app".into(),
            target: "database `app`".into(),
            state: State::UpToDate,
            verdict: Some(Verdict::UpToDate),
            history_table: None,
            counts: counts.iter().copied().collect(),
            migrations: Vec::new(),
            last_applied_at: None,
            notes: Vec::new(),
            lock: Some(Lock::Free),
            drift: None,
            error: None,
            read: "single",
            elapsed_ms: 1500,
        }
    }

    fn failed(name: &str) -> MigrationStatus {
        with_state(name, status::State::Failed)
    }

    fn with_state(name: &str, state: status::State) -> MigrationStatus {
        MigrationStatus {
            name: name.into(),
            state,
            in_folder: true,
            local_checksum: None,
            database_checksum: None,
            started_at: None,
            finished_at: None,
            rolled_back_at: None,
            applied_steps_count: None,
            logs: None,
            progress: None,
            note: None,
            out_of_order: false,
        }
    }

    fn report(targets: Vec<TargetReport>) -> EnvironmentReport {
        EnvironmentReport {
            name: "prod".into(),
            state: State::worst(targets.iter().map(|t| t.state)),
            targets,
            elapsed_ms: 0,
        }
    }

    #[test]
    fn readiness_names_each_reason() {
        assert_eq!(
            readiness(&report(vec![target(None, &[("applied", 3)])]), 0),
            Ok(())
        );
        let mut broken = target(Some("t1"), &[("failed", 1), ("pending", 2)]);
        broken.migrations.push(failed("20240102000000_four"));
        broken
            .migrations
            .push(with_state("20240103000000_five", status::State::Pending));
        broken
            .migrations
            .push(with_state("20240104000000_six", status::State::RolledBack));
        let mut down = target(Some("t2"), &[]);
        down.verdict = None;
        down.state = State::Unreachable;
        down.error = Some("cannot connect to postgresql://app:secret@db/app".into());
        let reason = readiness(&report(vec![broken, down]), 1).unwrap_err();
        assert_eq!(
            reason,
            "prod tenant t1: failed migration 20240102000000_four\n\
             prod tenant t1: 2 pending migration(s), tolerance 1\n\
             prod tenant t2: not checked (unreachable): cannot connect to postgresql://app:****@db/app"
        );
        // Within the tolerance, pending migrations do not make an app wait.
        assert_eq!(
            readiness(&report(vec![target(None, &[("pending", 2)])]), 2),
            Ok(())
        );
    }

    #[test]
    fn metrics_are_sparse_and_up_0_has_no_counts() {
        let mut broken = target(Some("t1"), &[("applied", 1), ("failed", 1)]);
        broken.migrations.push(failed("20240102000000_four"));
        let mut down = target(Some("t2"), &[]);
        down.verdict = None;
        let environment = report(vec![broken, down]);
        let text = metrics::encode_reports([(&environment, None)], metrics::Format::Text);
        assert!(
            text.contains("safemig_up{env=\"prod\",tenant=\"t1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("safemig_up{env=\"prod\",tenant=\"t2\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("safemig_migration_failed_info{env=\"prod\",tenant=\"t1\",migration=\"20240102000000_four\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("safemig_check_duration_seconds{env=\"prod\",tenant=\"t1\"} 1.5"),
            "{text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("safemig_migrations_applied") && l.contains("t2")),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
        let open = metrics::encode_reports([(&environment, None)], metrics::Format::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert!(series <= 2 * 20 + 1, "{series} series: {text}");
    }

    #[test]
    fn the_accept_header_chooses_the_format() {
        use metrics::Format;
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(
            Format::from_accept(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
    }
}
