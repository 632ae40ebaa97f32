//! One diagnosis per state, one next step: what to run about a database in a given state,
//! written once for every command that can meet the state.
//!
//! The incident's hours were lost between commands: `status` said "failed" and suggested
//! `resolve`, `deploy` then said "fix migration.sql", `repair` said "nothing to repair".
//! Here each state has one next step, and `status`, `check`, `serve`'s `/status`,
//! `deploy`, `run`, `resolve`, `repair` and `drift` all take it from the functions below.
//! The steps are [`Advice`]: the command line renders them on the target the person
//! selected. A step leads toward healthy: `deploy` for pending work, `repair` (which
//! proves from the schema what ran) for anything the history and the schema disagree on,
//! never a blind `resolve`.

use crate::advice::Advice;
use crate::status::{State, StatusReport, Verdict};

/// Pending migrations: deploy applies them.
pub fn pending() -> Advice {
    Advice::text("run ")
        .run(&["deploy"])
        .then(" to apply the pending migrations")
}

/// A safemig deploy stopped mid-migration (a signal, a kill, a lost connection): the next
/// deploy resumes it.
pub fn interrupted() -> Advice {
    Advice::text("run ")
        .run(&["deploy"])
        .then(" again: it resumes where it stopped; nothing needs to be resolved")
}

/// A failed row (Prisma's P3009 state, or a migration safemig could not finish): repair
/// tells from the schema how much of it ran and what to do.
pub fn failed(name: &str) -> Advice {
    Advice::text("run ")
        .run(&["repair", name])
        .then(": it tells from the schema how much of the migration ran and what to do")
}

/// A failed row with its `logs`: where safemig's journal says the failed statement
/// applied nothing (safemig wrote it, so the history is exact), the statement or the
/// server is at fault and deploy retries from it once that is fixed; any other failed row
/// goes to [`failed`].
pub fn failed_row(name: &str, logs: Option<&str>) -> Advice {
    let journal = logs.and_then(crate::journal::Journal::from_logs);
    match journal.and_then(|j| {
        j.retry_from
            .map(|k| (j.failed_at.unwrap_or(k), k, j.refused))
    }) {
        Some((failed_at, k, refused)) => Advice::text(format!(
            "statement {} failed and applied nothing: {}, then run ",
            failed_at + 1,
            if refused {
                "raise the server limit the error names (or split the statement)"
            } else {
                "fix it in the migration's migration.sql (or what the error names)"
            }
        ))
        .run(&["deploy"])
        .then(format!(
            ", which retries from statement {} (the statements before it stay applied)",
            k + 1
        )),
        None => failed(name),
    }
}

/// What to run about the database `report` describes; `None` when it is healthy.
pub fn of_status(report: &StatusReport) -> Option<Advice> {
    let first = |state: State| report.migrations.iter().find(|m| m.state == state);
    let edited = report
        .disagreements()
        .find(|m| m.state == State::Modified)
        .map(|m| edited(&m.name));
    let missing = report
        .disagreements()
        .find(|m| m.state == State::Missing)
        .map(|m| missing(&m.name));
    match report.verdict {
        Verdict::UpToDate | Verdict::Inconsistent => edited.or(missing).or_else(|| {
            (report.verdict == Verdict::Inconsistent).then(|| {
                Advice::text(
                    "the history disagrees with the migrations folder: see the notes above",
                )
            })
        }),
        Verdict::Failed => first(State::Failed).map(|m| failed_row(&m.name, m.logs.as_deref())),
        Verdict::Pending if first(State::Interrupted).is_some() => Some(interrupted()),
        Verdict::Pending => Some(pending()),
        Verdict::BaselineNeeded => Some(baseline()),
        Verdict::HandedToPrismaNext => Some(Advice::text(
            "migrate this database with Prisma 8 (`prisma db migrate`): see the note above",
        )),
    }
}

/// What to run about what `repair` found: the `--apply` that acts on its verdict, the
/// choices a person has where it cannot, or what comes after. `None`: nothing to do.
pub fn of_repair(report: &crate::repair::Report) -> Option<Advice> {
    use crate::repair::{Plan, Recorded, assumption};
    let name = report.migration.as_str();
    // A command on this migration, repeating the operator's --assume-applied.
    let repair = |extra: &[&str]| {
        let mut args = vec!["repair".to_string(), name.to_string(), "--apply".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        if let Some(k) = report.assumed_applied {
            args.extend(["--assume-applied".into(), assumption(k)]);
        }
        args
    };
    let total = report.total();
    Some(match &report.plan {
        Plan::Agrees if report.recorded == Recorded::NotApplied => pending(),
        Plan::Agrees | Plan::RollBack { .. } => return None,
        Plan::Retry { from } => Advice::text(format!(
            "statement {from} really failed: the schema shows the statements before it and no more, as the journal says; fix it in the migration's migration.sql (or what the error names), then run "
        ))
        .run(&["deploy"])
        .then(format!(": it retries from statement {from}")),
        Plan::MarkRolledBack => Advice::text("run ")
            .run(&repair(&[]))
            .then(" to mark it rolled back; deploy then applies it again"),
        Plan::RecordApplied if report.recorded == Recorded::Applied => Advice::text("run ")
            .run(&repair(&[]))
            .then(" to record migration.sql as it is now: the schema is what it makes"),
        Plan::RecordApplied => Advice::text("run ")
            .run(&repair(&[]))
            .then(" to record it applied: every statement took effect"),
        Plan::Finish { from, to } => Advice::text("run ")
            .run(&repair(&["--finish"]))
            .then(format!(" to run statements {from}..{to} on the database, or "))
            .run(&repair(&["--roll-back"]))
            .then(format!(" to undo statements 1..{}", from - 1)),
        Plan::Nothing => decide(name, total, &report.verdict),
    })
}

/// How many of a migration's statements ran, in words: "statements 1..0" is no range.
fn ran(k: usize) -> String {
    match k {
        0 => "none ran".to_string(),
        1 => "only statement 1 ran".to_string(),
        k => format!("statements 1..{k} ran"),
    }
}

/// The decision a person makes where the schema cannot tell how far a migration ran: each
/// possible answer as the command that acts on it.
fn decide(name: &str, total: usize, verdict: &crate::repair::Verdict) -> Advice {
    use crate::repair::{Verdict, assumption};
    let command = |k: usize| {
        let mut args = vec![
            "repair".to_string(),
            name.to_string(),
            "--apply".into(),
            "--assume-applied".into(),
            assumption(k),
        ];
        if k > 0 && k < total {
            args.push("--finish".into());
        }
        args
    };
    match verdict {
        Verdict::Ambiguous { candidates, unseen } => {
            let unseen: Vec<String> = unseen.iter().map(|n| n.to_string()).collect();
            let mut advice = Advice::text(format!(
                "decide from the data whether statement{} {} ran (the schema cannot show it), then run the command for what you found: ",
                if unseen.len() == 1 { "" } else { "s" },
                unseen.join(", ")
            ));
            for (i, k) in candidates.iter().enumerate() {
                if i > 0 {
                    advice = advice.then("; ");
                }
                advice = advice.then(format!("{}: ", ran(*k))).run(&command(*k));
            }
            advice
        }
        Verdict::Diverged { nearest, .. } => Advice::text(
            "no state of the migration matches: the differences above were made by something else; undo them by hand and run ",
        )
        .run(&["repair", name])
        .then(format!(
            " again, or, if you know {} and the rest of the differences are wanted, run ",
            ran(*nearest)
        ))
        .run(&command(*nearest)),
        Verdict::None | Verdict::All | Verdict::Partial { .. } => Advice::text(
            "the schema shows how far it ran; say which statements ran with --assume-applied",
        ),
    }
}

/// What to run about one target `check` looked at; `None` when it is healthy.
pub fn of_check_target(target: &crate::check::TargetReport) -> Option<Advice> {
    use crate::check::State as Check;
    let first = |state: State| target.migrations.iter().find(|m| m.state == state);
    let disagreement = first(State::Modified)
        .map(|m| edited(&m.name))
        .or_else(|| first(State::Missing).map(|m| missing(&m.name)));
    match target.state {
        Check::UpToDate => disagreement,
        Check::Pending => Some(pending()),
        Check::Interrupted => Some(interrupted()),
        Check::Failed => first(State::Failed).map(|m| failed_row(&m.name, m.logs.as_deref())),
        Check::Inconsistent => disagreement,
        Check::BaselineNeeded => Some(baseline()),
        Check::Drift => {
            let drift = target.drift.as_ref()?;
            Some(match (&drift.suspect, &drift.comparison) {
                (Some(name), crate::check::Comparison::Folder) => suspect(name),
                _ => Advice::text("run ")
                    .run(&["drift"])
                    .then(" for the differences"),
            })
        }
        Check::Unreachable | Check::Misconfigured | Check::Error => None,
    }
}

/// `check`'s report as JSON (what `check --json` prints and `serve`'s `/status`
/// serves), each target with the `next:` step `check` prints for it (`null` when none),
/// on the target as [`check_target_selection`] selects it.
pub fn check_json(
    report: &crate::check::CheckReport,
    base: &crate::advice::Target,
    named: bool,
) -> serde_json::Value {
    let mut value = serde_json::to_value(report).expect("reports serialize");
    let targets = report.environments.iter().flat_map(|e| &e.targets);
    let slots = value["environments"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .flat_map(|e| e["targets"].as_array_mut().into_iter().flatten());
    for (target, slot) in targets.zip(slots) {
        slot["next"] = match of_check_target(target) {
            Some(advice) => advice
                .render(&check_target_selection(base, target, named))
                .into(),
            None => serde_json::Value::Null,
        };
    }
    value
}

/// A migration edited after it was applied.
pub fn edited(name: &str) -> Advice {
    Advice::text("migration.sql of an applied migration changed: run ")
        .run(&["repair", name])
        .then(" to see whether the database is what the file makes now")
}

/// A migration the history has and the folder does not.
pub fn missing(name: &str) -> Advice {
    Advice::text(format!(
        "restore the folder of {} from version control (git log --all -- on its path finds it): the database has it, the migrations folder does not",
        crate::text::escaped(name)
    ))
}

/// Tables but no history (P3005).
pub fn baseline() -> Advice {
    Advice::text(
        "baseline it: record each migration already reflected in the schema as applied (safemig resolve --applied with its name), then deploy the rest (https://pris.ly/d/migrate-baseline)",
    )
}

/// The flags that select one target of a checked environment: `--env` (unless the
/// environment is the project's own, found without `safemig.toml`) and its `--tenant`,
/// after `base` (what the person passed, such as `--config`). Pending work on a tenant
/// is deployed over the whole environment (current tenants are skipped), so its step
/// names no tenant.
pub fn check_target_selection(
    base: &crate::advice::Target,
    target: &crate::check::TargetReport,
    named: bool,
) -> crate::advice::Target {
    use crate::check::State;
    let mut selection = base.clone();
    if named {
        selection = selection.env(&target.environment);
    }
    let fleet_wide = named && matches!(target.state, State::Pending | State::Interrupted);
    if let Some(tenant) = target.tenant.as_ref().filter(|_| !fleet_wide) {
        selection = selection.tenant(tenant);
    }
    selection
}

/// What to run about what `drift` found; `None` when nothing differs or the comparison
/// was between two databases (a report for a person, not a state of either).
pub fn of_drift(report: &crate::drift::Report) -> Option<Advice> {
    if report.verdict == crate::drift::Verdict::Same || report.right.kind != "folder" {
        return None;
    }
    Some(match report.suspect() {
        Some(name) => suspect(name),
        None => Advice::text(
            "the schema was changed outside the migrations: keep the changes in a new migration, or undo them (",
        )
        .run(&["drift", "--sql"])
        .then(" prints the DDL that brings the database back to the folder's schema)"),
    })
}

/// Drift whose every difference is of one migration: repair sees how much of it the
/// schema shows.
fn suspect(name: &str) -> Advice {
    Advice::text(format!(
        "the schema differs from what the history says the folder made, and every difference is of {}: run ",
        crate::text::escaped(name)
    ))
    .run(&["repair", name])
    .then(" to see how much of it the schema shows")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advice::Target;
    use crate::repair::Verdict;

    /// A diverged migration nearest to "nothing ran" is advised in words that read, with
    /// both steps as commands on the migration.
    #[test]
    fn diverged_advice_names_the_statements_that_ran() {
        let target = Target::default();
        let diverged = |nearest| Verdict::Diverged {
            nearest,
            differences: Vec::new(),
        };
        let none = decide("m", 3, &diverged(0)).render(&target);
        assert!(none.contains("if you know none ran"), "{none}");
        assert!(!none.contains("1..0"), "{none}");
        assert!(none.contains("`safemig repair m` again"), "{none}");
        assert!(none.contains("--assume-applied none"), "{none}");
        let two = decide("m", 3, &diverged(2)).render(&target);
        assert!(two.contains("if you know statements 1..2 ran"), "{two}");
    }
}
