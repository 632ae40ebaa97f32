//! SM101: a `safemig run` service's stop budget against the runtime's grace period.
//!
//! The runtime's grace period is the compose file's `stop_grace_period` (compose's
//! default: 10 s); what `safemig run` plans with is the grace period declared to it
//! (`--grace-period`, `SAFEMIG_GRACE_PERIOD`), else the same 10 s. Both go through the one
//! rule, [`StopBudget`]; the two must agree, and a chosen `--stop-timeout` must fit.

use std::time::Duration;

use super::compose::{Issue, RULE_GRACE, parse_duration};
use super::entrypoint::SafemigRun;
use super::yaml::Entry;
use crate::supervisor::{GracePeriod, GraceSource, StopBudget};

/// The finding for `service`, whose entrypoint is `run`, if its budget is wrong.
pub(super) fn check(service: &Entry, run: &SafemigRun) -> Option<Issue> {
    let issue = |line, message, why, fix| {
        Some(Issue {
            rule: RULE_GRACE,
            line,
            message,
            why,
            fix,
        })
    };
    let (runtime, line) = match service.value.entry("stop_grace_period") {
        None => (GracePeriod::runtime_default(), service.line),
        Some(entry) => match entry.value.as_str().and_then(parse_duration) {
            Some(duration) => (
                GracePeriod {
                    duration,
                    source: GraceSource::ComposeFile,
                },
                entry.line,
            ),
            None => {
                return issue(
                    entry.line,
                    "stop_grace_period is not a duration compose understands".into(),
                    "an unreadable value leaves the 10 s default in force",
                    "stop_grace_period: 10s (or the grace period the app needs, such as 30s)"
                        .into(),
                );
            }
        },
    };
    if run.grace_unknown {
        return None;
    }
    let told = run.grace.unwrap_or_else(GracePeriod::runtime_default);
    let budget = StopBudget::new(told);
    if let Some(chosen) = run.stop_timeout
        && budget.with_stop_timeout(Some(chosen)).is_err()
    {
        let needed = StopBudget::grace_needed(chosen).as_secs_f64().ceil();
        return issue(
            run.line,
            format!(
                "`--stop-timeout {}` does not fit the grace period `safemig run` is given ({}s, {}): it refuses to start (exit 2)",
                seconds(chosen),
                seconds(told.duration),
                told.source
            ),
            "the stop timeout must end 2 s before the runtime's SIGKILL, or the runtime kills the app and a running migration before safemig's own deadline",
            format!(
                "leave out --stop-timeout (safemig then stops the app after {}s); or, for a longer stop, give the runtime and safemig the same grace period: stop_grace_period: {needed}s and SAFEMIG_GRACE_PERIOD: \"{needed}\"",
                seconds(budget.stop_timeout())
            ),
        );
    }
    if told.duration > runtime.duration {
        return issue(
            line,
            format!(
                "`safemig run` is told the grace period is {}s ({}), but the runtime SIGKILLs after {}s ({})",
                seconds(told.duration),
                told.source,
                seconds(runtime.duration),
                match runtime.source {
                    GraceSource::ComposeFile => "stop_grace_period",
                    _ => "compose's default: no stop_grace_period",
                }
            ),
            "safemig plans its stop for the longer period: the runtime SIGKILLs the app, or a running migration, before safemig's own deadline",
            format!("stop_grace_period: {}s", seconds(told.duration)),
        );
    }
    if run.grace.is_none() && runtime.duration > told.duration {
        let grace = seconds(runtime.duration);
        return issue(
            line,
            format!(
                "stop_grace_period {grace}s is not declared to `safemig run`: it assumes the runtimes' 10s and stops the app after {}s, a running migration statement after {}s",
                seconds(budget.stop_timeout()),
                seconds(budget.migration_deadline())
            ),
            "safemig cannot read the compose file, and without SAFEMIG_GRACE_PERIOD (or --grace-period) it plans for the 10 s that a plain `podman stop`, podman-compose before 1.0.6 and systemd give; declare the longer grace period where the runtime really gives it (under Podman also `podman run --stop-timeout`, or `StopTimeout=` in a quadlet)",
            format!("environment: SAFEMIG_GRACE_PERIOD: \"{grace}\""),
        );
    }
    None
}

/// Seconds as people write them: `30`, `1.5`.
fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}
