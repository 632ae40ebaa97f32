//! Drift's last result for `serve`, and when it no longer describes the database.
//!
//! Drift runs on a schedule (`drift.every`, an hour by default), but a deploy, a repair or
//! a resolve changes what it compares: against the folder, the migrations the history
//! applied; against another environment, that environment's schema. A result from before
//! such a change is about a database that no longer exists, and served for the rest of the
//! hour it raised (or hid) drift that was not there. So every [`DriftRun`] keeps the
//! [`Histories`] it was compared at, and a check that reads another history (the
//! environment's own, or that of the served environment it compares with) has drift
//! compared again before the result is served ([`DriftRun::outdated`]).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::check::{DriftSummary, EnvironmentReport, Lock, State, TargetReport};
use crate::status;

/// One comparison of an environment's schema.
pub(super) struct DriftRun {
    pub started: Instant,
    pub at: DateTime<Utc>,
    /// By tenant (`None`: the environment's database).
    pub summaries: BTreeMap<Option<String>, DriftSummary>,
    /// The histories the comparison read, with its result.
    pub histories: Histories,
    /// The histories of the served environment compared with, as last checked when the
    /// comparison started; `None` when it compares with no served environment.
    pub compared: Option<Histories>,
}

impl DriftRun {
    /// A comparison started at `started` that produced `report`.
    pub fn new(started: Instant, report: EnvironmentReport, compared: Option<Histories>) -> Self {
        let histories = Histories::of(&report);
        DriftRun {
            started,
            at: Utc::now(),
            summaries: report
                .targets
                .into_iter()
                .filter_map(|t| t.drift.map(|d| (t.tenant, d)))
                .collect(),
            histories,
            compared,
        }
    }

    /// Whether the environment's histories `own`, read by a check started at `read`, or
    /// the compared environment's last (`compared`) are not those this comparison saw. A
    /// comparison that started after the check read a history at least as new, so a
    /// report served from the cache (`--min-interval`) never outdates it.
    pub fn outdated(&self, own: &Histories, read: Instant, compared: Option<&Histories>) -> bool {
        (self.started < read && own.changed_since(&self.histories))
            || compared.is_some_and(|now| match &self.compared {
                Some(then) => now.changed_since(then),
                None => true,
            })
    }

    /// This result in a fresh history report: each target's drift, and its state.
    pub fn merge_into(&self, report: &mut EnvironmentReport) {
        for target in &mut report.targets {
            if let Some(summary) = self.summaries.get(&target.tenant) {
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
}

/// What a check read of each target's `_prisma_migrations`, by tenant; targets whose
/// history was not read are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Histories(BTreeMap<Option<String>, History>);

/// One target's history, as far as a check's report shows it: enough to tell that a row
/// was added, finished, rolled back or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct History {
    /// Migrations per status class.
    counts: BTreeMap<&'static str, usize>,
    /// When the last applied migration finished.
    last_applied_at: Option<DateTime<Utc>>,
    /// The rows deciding the migrations that are not simply applied.
    unsettled: Vec<Row>,
    /// Someone holds the migration lock: a deploy may be half-way, so a change is not
    /// acted on until it is released (a comparison then would see half a migration).
    locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    name: String,
    state: status::State,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    rolled_back_at: Option<DateTime<Utc>>,
    applied_steps_count: Option<u32>,
}

impl Histories {
    pub fn of(report: &EnvironmentReport) -> Histories {
        Histories(
            report
                .targets
                .iter()
                .filter(|t| t.verdict.is_some())
                .map(|t| (t.tenant.clone(), History::of(t)))
                .collect(),
        )
    }

    /// Whether any target whose lock is free has a history other than in `then` (or had
    /// none read then).
    fn changed_since(&self, then: &Histories) -> bool {
        self.0.iter().any(|(tenant, now)| {
            !now.locked && then.0.get(tenant).is_none_or(|then| !now.same_rows(then))
        })
    }
}

impl History {
    fn of(target: &TargetReport) -> History {
        History {
            counts: target.counts.clone(),
            last_applied_at: target.last_applied_at,
            unsettled: target
                .migrations
                .iter()
                .map(|m| Row {
                    name: m.name.clone(),
                    state: m.state,
                    started_at: m.started_at,
                    finished_at: m.finished_at,
                    rolled_back_at: m.rolled_back_at,
                    applied_steps_count: m.applied_steps_count,
                })
                .collect(),
            locked: matches!(target.lock, Some(Lock::Held { .. })),
        }
    }

    fn same_rows(&self, other: &History) -> bool {
        self.counts == other.counts
            && self.last_applied_at == other.last_applied_at
            && self.unsettled == other.unsettled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::TargetReport;
    use crate::status::MigrationStatus;

    fn target(tenant: Option<&str>, applied: usize, pending: usize) -> TargetReport {
        let counts: Vec<_> = [("applied", applied), ("pending", pending)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        let mut target = super::super::tests::target(tenant, &counts);
        target.last_applied_at = DateTime::from_timestamp(1_700_000_000 + applied as i64, 0);
        target
    }

    fn report(targets: Vec<TargetReport>) -> EnvironmentReport {
        EnvironmentReport {
            name: "prod".into(),
            state: State::UpToDate,
            targets,
            elapsed_ms: 0,
        }
    }

    fn run(targets: Vec<TargetReport>, compared: Option<Histories>) -> DriftRun {
        DriftRun::new(Instant::now(), report(targets), compared)
    }

    fn histories(targets: Vec<TargetReport>) -> Histories {
        Histories::of(&report(targets))
    }

    impl DriftRun {
        /// Outdated by histories read after it started.
        fn outdated_later(&self, own: &Histories, compared: Option<&Histories>) -> bool {
            let read = self.started + std::time::Duration::from_secs(1);
            self.outdated(own, read, compared)
        }
    }

    #[test]
    fn a_history_read_before_the_comparison_started_does_not_outdate_it() {
        let then = run(vec![target(None, 2, 0)], None);
        let read = then.started - std::time::Duration::from_millis(1);
        // Cached from before the comparison, which already saw the deploy.
        assert!(!then.outdated(&histories(vec![target(None, 1, 1)]), read, None));
        assert!(then.outdated_later(&histories(vec![target(None, 1, 1)]), None));
    }

    #[test]
    fn a_deploy_repair_or_resolve_outdates_the_comparison() {
        let then = run(vec![target(None, 1, 1)], None);
        assert!(!then.outdated_later(&histories(vec![target(None, 1, 1)]), None));
        // Deployed: one more applied, none pending.
        assert!(then.outdated_later(&histories(vec![target(None, 2, 0)]), None));
        // A failed row resolved as rolled back: same counts of applied, another row.
        let mut failed = target(None, 1, 0);
        failed.counts.insert("failed", 1);
        failed
            .migrations
            .push(row("b", status::State::Failed, None));
        let then = run(vec![failed.clone()], None);
        let mut resolved = failed.clone();
        resolved.counts = [("applied", 1), ("rolled_back", 1)].into_iter().collect();
        resolved.migrations = vec![row("b", status::State::RolledBack, Some(5))];
        assert!(then.outdated_later(&histories(vec![resolved]), None));
        // A failed journal that advanced a statement.
        let mut advanced = failed.clone();
        advanced.migrations[0].applied_steps_count = Some(2);
        assert!(then.outdated_later(&histories(vec![advanced]), None));
    }

    #[test]
    fn a_target_whose_lock_is_held_waits_and_an_unread_one_counts_for_nothing() {
        let then = run(vec![target(Some("a"), 1, 1), target(Some("b"), 1, 1)], None);
        let mut deploying = target(Some("a"), 2, 0);
        deploying.lock = Some(Lock::Held {
            holder: "safemig deploy".into(),
            busy: true,
            waiting: None,
        });
        let mut down = target(Some("b"), 0, 0);
        down.verdict = None;
        assert!(!then.outdated_later(&histories(vec![deploying, down]), None));
        // A tenant the comparison did not read (new, or down then) is compared.
        assert!(then.outdated_later(&histories(vec![target(Some("c"), 1, 1)]), None));
    }

    #[test]
    fn the_compared_environments_history_outdates_it_too() {
        let production = histories(vec![target(None, 1, 1)]);
        let then = run(vec![target(None, 2, 0)], Some(production.clone()));
        let own = histories(vec![target(None, 2, 0)]);
        assert!(!then.outdated_later(&own, Some(&production)));
        assert!(then.outdated_later(&own, Some(&histories(vec![target(None, 2, 0)]))));
        // Compared before the other environment was first checked.
        let blind = run(vec![target(None, 2, 0)], None);
        assert!(blind.outdated_later(&own, Some(&production)));
    }

    fn row(name: &str, state: status::State, rolled_back: Option<i64>) -> MigrationStatus {
        MigrationStatus {
            started_at: DateTime::from_timestamp(1_700_000_000, 0),
            rolled_back_at: rolled_back.and_then(|s| DateTime::from_timestamp(s, 0)),
            applied_steps_count: Some(0),
            ..super::super::tests::with_state(name, state)
        }
    }
}
