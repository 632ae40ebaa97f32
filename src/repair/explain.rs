//! A deploy's failure, explained by the schema: when a statement fails because what it
//! creates is already there (or what it drops is already gone), the database holds more
//! of the migration than its history says — a half-applied migration whose row was marked
//! rolled back, a dump taken mid-deploy — and "fix migration.sql" would be wrong advice:
//! the file is right. Repair's classification tells the two apart.

use std::path::PathBuf;

use super::{Plan, Request, Verdict, assess};
use crate::Error;
use crate::context::Context;
use crate::error::{Applied, DeployError, RepairError};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;

/// `error`, or, when it is a statement failure that applied nothing and the schema shows
/// more of the migration than the history records, [`RepairError::AheadOfHistory`] (exit
/// 5: `safemig repair NAME` sees the evidence and heals). A classification that cannot be
/// made leaves the deploy's own error as it is.
pub async fn explain_failure(
    ctx: &Context,
    dir: &MigrationsDir,
    error: Error,
    cache: Option<PathBuf>,
    interrupt: &Interrupt,
) -> Error {
    let Error::Deploy(DeployError::MigrationFailed {
        name,
        applied: Applied::Nothing | Applied::Before(_),
        ..
    }) = &error
    else {
        return error;
    };
    let request = Request {
        migration: Some(name),
        only_failed: false,
        wait: ctx.lock.timeout,
        interrupt: interrupt.clone(),
        cache,
        assume_applied: None,
    };
    let report = match assess(ctx, dir, &request).await {
        Ok(Some(report)) => report,
        Ok(None) => return error,
        Err(e) => {
            tracing::info!("the failure could not be compared with the schema: {e}");
            return error;
        }
    };
    match report.plan {
        // The schema is where the failed run left it: the failure is the statement's.
        Plan::Agrees | Plan::Retry { .. } => error,
        _ => Error::Repair(RepairError::AheadOfHistory {
            name: name.clone(),
            failure: error.to_string(),
            evidence: evidence(&report.verdict, report.total()),
        }),
    }
}

/// What the schema shows of the migration, as a phrase.
fn evidence(verdict: &Verdict, total: usize) -> String {
    match verdict {
        Verdict::None => "the schema shows none of its statements".into(),
        Verdict::All => format!("the schema shows all {total} of its statements"),
        Verdict::Partial { applied } => {
            format!("the schema shows statements 1..{applied} of its {total}")
        }
        Verdict::Ambiguous { candidates, .. } => format!(
            "the schema matches its states after statements {}",
            candidates
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Verdict::Diverged { .. } => "the schema matches none of its states".into(),
    }
}
