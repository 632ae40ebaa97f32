//! The metrics of `serve`, mapped from [`check`](crate::check)'s typed reports: nothing
//! here queries a database. Labels stay sparse: `env`, and `tenant` where the environment
//! has tenants; per target about twenty series, plus one `safemig_migration_failed_info`
//! per failed row and one `safemig_drift_objects` per kind and change that differ.
//! `safemig_drift` is the one series per target an alert on drift needs: labels that
//! differ between series of one target (as `kind` does) would make an alert fire once per
//! series.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::check::{Comparison, EnvironmentReport, Lock, TargetReport};
use crate::status;

/// What `Content-Type` the encoded text has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus's text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0, when the scraper asks for it.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

type Labels = Vec<(String, String)>;
type Series = Family<Labels, Gauge<f64, AtomicU64>>;

/// A gauge per metric name, in the order they are registered.
struct Gauges {
    up: Series,
    applied: Series,
    pending: Series,
    failed: Series,
    rolled_back: Series,
    interrupted: Series,
    checksum_mismatch: Series,
    missing_locally: Series,
    last_applied: Series,
    lock_held: Series,
    drift: Series,
    drift_objects: Series,
    drift_history: Series,
    drift_last_run: Series,
    duration: Series,
    failed_info: Series,
    forecast: Series,
}

impl Gauges {
    fn register(registry: &mut Registry) -> Gauges {
        let mut gauge = |name: &str, help: &str| {
            let family = Series::default();
            registry.register(name, help, family.clone());
            family
        };
        Gauges {
            up: gauge(
                "up",
                "1 when the target's history was read, 0 when it could not be reached or checked (the reason is in /status)",
            ),
            applied: gauge("migrations_applied", "Migrations applied"),
            pending: gauge(
                "migrations_pending",
                "Migrations in the folder waiting to be applied",
            ),
            failed: gauge(
                "migrations_failed",
                "Failed migrations that block deploys (P3009)",
            ),
            rolled_back: gauge(
                "migrations_rolled_back",
                "Migration attempts recorded as rolled back",
            ),
            interrupted: gauge(
                "migrations_interrupted",
                "Migrations a safemig deploy was interrupted in; the next deploy resumes them",
            ),
            checksum_mismatch: gauge(
                "migrations_checksum_mismatch",
                "Applied migrations whose file was edited since",
            ),
            missing_locally: gauge(
                "migrations_missing_locally",
                "Applied migrations that are not in the folder",
            ),
            last_applied: gauge(
                "last_applied_timestamp_seconds",
                "When the last applied migration finished, Unix time",
            ),
            lock_held: gauge("lock_held", "1 while a process holds the migration lock"),
            drift: gauge(
                "drift",
                "1 when the schema (or the history) differs from what drift compares it with, 0 when it is the same; `against` says with what: folder (the migrations the history applied), environment (`against_env`) or snapshot",
            ),
            drift_objects: gauge(
                "drift_objects",
                "Schema objects that differ from what drift compares with, per kind and change",
            ),
            drift_history: gauge(
                "drift_history_differences",
                "Differences between the two histories drift compared",
            ),
            drift_last_run: gauge(
                "drift_last_run_timestamp_seconds",
                "When drift last compared the schema, Unix time",
            ),
            duration: gauge(
                "check_duration_seconds",
                "How long the last check of the target took",
            ),
            failed_info: gauge(
                "migration_failed_info",
                "1 per failed migration row, named by the label `migration`",
            ),
            forecast: gauge(
                "pending_forecast_seconds",
                "How long the pending migrations are estimated to take on the live tables (safemig forecast), the range's `bound` low and high; 0 when none is pending; absent for tenants read in a batch",
            ),
        }
    }
}

fn labels(target: &TargetReport) -> Labels {
    let mut labels = vec![("env".to_string(), target.environment.clone())];
    if let Some(tenant) = &target.tenant {
        labels.push(("tenant".to_string(), tenant.clone()));
    }
    labels
}

fn with(mut labels: Labels, key: &str, value: &str) -> Labels {
    labels.push((key.to_string(), value.to_string()));
    labels
}

/// The labels saying what drift compared with: `against` (the kind) and, for another
/// environment, `against_env` (its name in safemig.toml: bounded, never a URL).
fn with_comparison(labels: Labels, comparison: &Comparison) -> Labels {
    match comparison {
        Comparison::Folder => with(labels, "against", "folder"),
        Comparison::Environment { name } => {
            with(with(labels, "against", "environment"), "against_env", name)
        }
        Comparison::Database => with(labels, "against", "database"),
        Comparison::Snapshot => with(labels, "against", "snapshot"),
    }
}

fn set(series: &Series, labels: &Labels, value: f64) {
    series.get_or_create(labels).set(value);
}

/// Whether the target's history was read.
pub fn is_up(target: &TargetReport) -> bool {
    target.verdict.is_some()
}

fn add_target(gauges: &Gauges, target: &TargetReport) {
    let labels = labels(target);
    set(&gauges.up, &labels, if is_up(target) { 1.0 } else { 0.0 });
    set(&gauges.duration, &labels, target.elapsed_ms as f64 / 1000.0);
    if !is_up(target) {
        return;
    }
    let count = |class: &str| target.counts.get(class).copied().unwrap_or(0) as f64;
    set(&gauges.applied, &labels, count("applied"));
    set(&gauges.pending, &labels, count("pending"));
    set(&gauges.failed, &labels, count("failed"));
    set(&gauges.rolled_back, &labels, count("rolled_back"));
    set(&gauges.interrupted, &labels, count("interrupted"));
    set(&gauges.checksum_mismatch, &labels, count("modified"));
    set(&gauges.missing_locally, &labels, count("missing"));
    if let Some(at) = target.last_applied_at {
        set(
            &gauges.last_applied,
            &labels,
            at.timestamp_millis() as f64 / 1000.0,
        );
    }
    if let Some(lock) = &target.lock {
        let held = matches!(lock, Lock::Held { .. });
        set(&gauges.lock_held, &labels, if held { 1.0 } else { 0.0 });
    }
    // Nothing pending takes no time; tenants read in a batch are not forecast (absent).
    let forecast = match target.forecast_ms {
        Some(forecast) => Some(forecast),
        None => (count("pending") == 0.0).then(Default::default),
    };
    for (bound, ms) in forecast
        .iter()
        .flat_map(|f| [("low", f.low), ("high", f.high)])
    {
        set(
            &gauges.forecast,
            &with(labels.clone(), "bound", bound),
            ms as f64 / 1000.0,
        );
    }
    for migration in &target.migrations {
        if migration.state == status::State::Failed {
            set(
                &gauges.failed_info,
                &with(labels.clone(), "migration", &migration.name),
                1.0,
            );
        }
    }
    if let Some(drift) = &target.drift
        && let Some(verdict) = drift.verdict
    {
        let differs = verdict != crate::drift::Verdict::Same;
        set(
            &gauges.drift,
            &with_comparison(labels.clone(), &drift.comparison),
            if differs { 1.0 } else { 0.0 },
        );
        for objects in &drift.objects {
            let series = with(
                with(labels.clone(), "kind", &objects.kind),
                "change",
                objects.change,
            );
            set(&gauges.drift_objects, &series, objects.count as f64);
        }
        if let Some(history) = drift.history_differences {
            set(&gauges.drift_history, &labels, history as f64);
        }
    }
}

/// The metrics of `environments`, each with when drift last ran on it (Unix seconds).
pub fn encode_reports<'a>(
    environments: impl IntoIterator<Item = (&'a EnvironmentReport, Option<f64>)>,
    format: Format,
) -> String {
    let mut registry = Registry::with_prefix("safemig");
    let gauges = Gauges::register(&mut registry);
    for (environment, drift_at) in environments {
        for target in &environment.targets {
            add_target(&gauges, target);
            if let Some(at) = drift_at
                && target.drift.is_some()
            {
                set(&gauges.drift_last_run, &labels(target), at);
            }
        }
    }
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    match format {
        Format::OpenMetrics => text,
        // The text format is OpenMetrics without its `# EOF` and `# UNIT` lines (gauges
        // only: no `_total` or `_created` to translate).
        Format::Text => text
            .lines()
            .filter(|l| *l != "# EOF" && !l.starts_with("# UNIT "))
            .flat_map(|l| [l, "\n"])
            .collect(),
    }
}
