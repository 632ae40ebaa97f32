//! `safemig run --on-failed=repair`: a failed row healed at container start, without a
//! person, only where the schema proves what happened. `none` (nothing of the migration
//! is there: the row is marked rolled back and deploy applies it again), `partial k`
//! (statements 1..k are there and no other: the rest run crash-safely) and `all` (every
//! statement is there and none the schema cannot show: recorded applied) qualify, and
//! only while the migration's file is the one that failed (same checksum). Every other
//! verdict stops the start with the evidence: nothing is ever marked applied on a guess.

use std::path::PathBuf;

use super::{Partial, Plan, Repaired, Report, Request, apply, assess};
use crate::Error;
use crate::context::Context;
use crate::error::RepairError;
use crate::interrupt::Interrupt;
use crate::lock;
use crate::migrations::MigrationsDir;

/// What `heal` did about the history's failed migration.
#[derive(Debug)]
pub enum Healed {
    /// Repaired, with the evidence.
    Repaired { report: Report, repaired: Repaired },
    /// The verdict needs a person: nothing was written. The caller shows the report and
    /// stops the start ([`RepairError::NotHealable`], from [`Healed::refusal`]).
    NeedsPerson(Report),
}

impl Healed {
    /// The error a start stops with when a person must decide.
    pub fn refusal(report: &Report) -> Error {
        Error::Repair(RepairError::NotHealable {
            name: report.migration.clone(),
            verdict: match report.plan {
                Plan::Retry { from } => format!(
                    "{} (statement {from} failed for real, applying nothing)",
                    report.verdict_text()
                ),
                _ if !report.checksum_matches => {
                    format!("{} (about an edited migration.sql)", report.verdict_text())
                }
                _ => report.verdict_text(),
            },
        })
    }
}

/// Whether `report` lets repair act without a person.
pub fn unattended(report: &Report) -> bool {
    report.checksum_matches
        && report.verdict.repairable()
        && report.assumed_applied.is_none()
        && matches!(
            report.plan,
            Plan::MarkRolledBack | Plan::RecordApplied | Plan::Finish { .. }
        )
}

/// Assesses the history's failed migration and, when [`unattended`] allows, repairs it
/// (finishing a partial one). `Ok(None)`: there is no failed migration.
pub async fn heal(
    ctx: &Context,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    cache: Option<PathBuf>,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<Option<Healed>, Error> {
    let request = Request {
        migration: None,
        only_failed: true,
        wait: ctx.lock.timeout,
        interrupt: interrupt.clone(),
        cache,
        assume_applied: None,
    };
    let Some(report) = assess(ctx, dir, &request).await? else {
        return Ok(None);
    };
    if !unattended(&report) {
        return Ok(Some(Healed::NeedsPerson(report)));
    }
    match apply(ctx, dir, &report, Partial::Finish, interrupt, on_wait).await? {
        Some(repaired) => Ok(Some(Healed::Repaired { report, repaired })),
        None => Ok(Some(Healed::NeedsPerson(report))),
    }
}
