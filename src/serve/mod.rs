//! `safemig serve`: a long-running Prometheus exporter over [`check`](crate::check).
//!
//! Each environment of `safemig.toml` is [prepared](crate::environment::prepare) once; its
//! history is checked when it is scraped, at most once per [`ServeOptions::min_interval`]
//! (results are cached between scrapes), and never twice at once: a scrape that arrives
//! while a check of the same environment runs waits for that check and takes its result
//! (single-flight, by one lock per environment). Drift, which replays the migrations
//! folder, runs on its own schedule (the environment's `drift.every`) in a background task
//! and its last result is merged into every report; a check that finds the history
//! changed since that result has drift compare again first ([`drift`]). [`check::run`]
//! never fails: a target that cannot be reached is a report with `up 0` and the reason,
//! never a crashed exporter.
//!
//! [`metrics`] maps the typed reports to Prometheus metrics; [`http`] serves them.

mod drift;
pub mod http;
pub mod metrics;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::advice::Target;
use crate::check::{self, CheckOptions, CheckReport, EnvironmentReport};
use crate::environment::Prepared;
use crate::status;

use drift::{DriftRun, Histories};

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
    /// How the person selected what is served (`--config FILE`), for the `next` steps of
    /// `/status`, which add each target's `--env` and `--tenant`.
    pub base_target: Target,
    /// Whether the environments are those of `safemig.toml` (their commands carry
    /// `--env`), rather than the project's own database.
    pub named: bool,
}

/// The last check of an environment.
struct Checked {
    report: EnvironmentReport,
    started: Instant,
    finished: Instant,
}

/// One environment served.
struct Environment {
    prepared: Prepared,
    last: tokio::sync::Mutex<Option<Checked>>,
    /// The histories its last check read (kept apart from `last`, which a running check
    /// holds, for the environments that compare with this one).
    histories: Mutex<Option<Histories>>,
    drift: Mutex<Option<DriftRun>>,
    /// Held while drift compares: one comparison of an environment at a time.
    comparing: tokio::sync::Mutex<()>,
    /// The served environment drift compares with (`against = "environment:NAME"`).
    compared_with: Option<usize>,
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
        let names: Vec<String> = environments.iter().map(|p| p.name.clone()).collect();
        Exporter {
            environments: environments
                .into_iter()
                .map(|prepared| Environment {
                    compared_with: prepared
                        .drift
                        .as_ref()
                        .and_then(|d| d.environment.as_ref())
                        .and_then(|other| names.iter().position(|n| n == other)),
                    prepared,
                    last: tokio::sync::Mutex::new(None),
                    histories: Mutex::new(None),
                    drift: Mutex::new(None),
                    comparing: tokio::sync::Mutex::new(()),
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
    /// single-flight per environment). A comparison's result is kept here, so that it is
    /// not lost when the scrape that asked for it goes away.
    async fn checker(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = queue.recv().await {
            let exporter = self.clone();
            tokio::task::spawn_local(async move {
                let options = CheckOptions {
                    drift: job.drift,
                    ..exporter.options.check.clone()
                };
                let environment = &exporter.environments[job.index];
                let started = Instant::now();
                let compared = job
                    .drift
                    .then(|| exporter.compared_histories(job.index))
                    .flatten();
                let report = check::run(&environment.prepared, &options).await;
                if job.drift {
                    environment.keep_drift(DriftRun::new(started, report.clone(), compared));
                }
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
    /// ago; `None` for an unknown environment. With drift's result merged in (compared
    /// again first when the history changed since), and when drift last ran (Unix
    /// seconds).
    pub async fn report(&self, name: &str) -> Option<(EnvironmentReport, Option<f64>)> {
        let index = self.find(name)?;
        let (report, read) = self.history(index).await;
        Some(self.with_drift(index, report, read).await)
    }

    /// Environment `index`'s history report, from the cache when it is fresh, and when
    /// the check that read it started.
    async fn history(&self, index: usize) -> (EnvironmentReport, Instant) {
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
            *lock(&environment.histories) = Some(Histories::of(&report));
            *last = Some(Checked {
                report,
                started,
                finished: Instant::now(),
            });
        }
        let checked = last.as_ref().expect("checked above");
        (checked.report.clone(), checked.started)
    }

    /// `report` (read by a check started at `read`) with drift's last result merged in,
    /// compared again first when `report` shows a history that result was not compared
    /// at.
    async fn with_drift(
        &self,
        index: usize,
        mut report: EnvironmentReport,
        read: Instant,
    ) -> (EnvironmentReport, Option<f64>) {
        let seen = Histories::of(&report);
        if self.drift_outdated(index, &seen, read) {
            self.compare(index, |exporter| {
                exporter.drift_outdated(index, &seen, read)
            })
            .await;
        }
        let drift = lock(&self.environments[index].drift);
        let at = drift
            .as_ref()
            .map(|d| d.at.timestamp_millis() as f64 / 1000.0);
        if let Some(run) = drift.as_ref() {
            run.merge_into(&mut report);
        }
        (report, at)
    }

    /// Every environment's report, checked concurrently where not cached; the histories
    /// first, so that drift against another environment sees that one's latest.
    pub async fn reports(&self) -> Vec<(EnvironmentReport, Option<f64>)> {
        let histories =
            futures_util::future::join_all((0..self.environments.len()).map(|i| self.history(i)))
                .await;
        futures_util::future::join_all(
            histories
                .into_iter()
                .enumerate()
                .map(|(i, (report, read))| self.with_drift(i, report, read)),
        )
        .await
    }

    /// What `check --json` prints, from the same cache, each target with its `next` step
    /// as `check` words it.
    pub async fn status(&self) -> serde_json::Value {
        let report = CheckReport::new(self.reports().await.into_iter().map(|(r, _)| r).collect());
        crate::diagnosis::check_json(&report, &self.options.base_target, self.options.named)
    }

    /// Whether environment `index` compares drift and its last comparison (if any) saw
    /// other histories than `seen` (its own, read by a check started at `read`) and the
    /// compared environment's last.
    fn drift_outdated(&self, index: usize, seen: &Histories, read: Instant) -> bool {
        if !self.options.check.drift || self.environments[index].prepared.drift.is_none() {
            return false;
        }
        let compared = self.compared_histories(index);
        match lock(&self.environments[index].drift).as_ref() {
            Some(run) => run.outdated(seen, read, compared.as_ref()),
            None => true,
        }
    }

    /// The histories last read of the served environment `index` compares with.
    fn compared_histories(&self, index: usize) -> Option<Histories> {
        let other = self.environments[index].compared_with?;
        lock(&self.environments[other].histories).clone()
    }

    /// Compares environment `index`'s schema now (the checker keeps the result), unless
    /// `still_needed` says a comparison that ran while this one waited for its turn
    /// already did what was asked.
    async fn compare(&self, index: usize, still_needed: impl Fn(&Self) -> bool) {
        let _turn = self.environments[index].comparing.lock().await;
        if still_needed(self) {
            self.check(index, true).await;
        }
    }

    /// Runs drift for every environment that configures it, each on its own schedule,
    /// until the process ends: whenever its last comparison (scheduled, or asked for by
    /// a changed history) is `every` old. Returns at once when drift is turned off.
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
                let due = move || {
                    lock(&environment.drift)
                        .as_ref()
                        .map_or_else(Instant::now, |run| run.started + every)
                };
                Some(async move {
                    loop {
                        tokio::time::sleep_until(due().into()).await;
                        exporter.compare(index, |_| due() <= Instant::now()).await;
                    }
                })
            });
        futures_util::future::join_all(tasks).await;
    }

    /// Why `name` is not ready for its app (`Err`), or `Ok` when it is: every target
    /// read, no failed or interrupted migration, at most the tolerated pending ones.
    /// From the history alone: an app waiting to start never waits for drift.
    pub async fn readiness(&self, name: &str) -> Option<Result<(), String>> {
        let (report, _) = self.history(self.find(name)?).await;
        Some(readiness(&report, self.options.pending_tolerance))
    }
}

impl Environment {
    /// Keeps `run` unless a comparison that started later is already kept.
    fn keep_drift(&self, run: DriftRun) {
        let mut drift = lock(&self.drift);
        if drift
            .as_ref()
            .is_none_or(|kept| kept.started <= run.started)
        {
            *drift = Some(run);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
    use crate::check::{Lock, State, TargetReport};
    use crate::status::{MigrationStatus, Verdict};

    pub(super) fn target(tenant: Option<&str>, counts: &[(&'static str, usize)]) -> TargetReport {
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
            forecast_ms: None,
            error: None,
            read: "single",
            elapsed_ms: 1500,
        }
    }

    fn failed(name: &str) -> MigrationStatus {
        with_state(name, status::State::Failed)
    }

    pub(super) fn with_state(name: &str, state: status::State) -> MigrationStatus {
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
