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
/// 5: `safemig repair NAME` sees the evidence and heals); the failed row's claim that deploy
/// may retry once the file is fixed is withdrawn, so later deploys and `status` name repair
/// too. A classification that cannot be made leaves the deploy's own error as it is.
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
        _ => {
            if let Err(e) = super::apply::withdraw_retry(ctx, &report, interrupt, &mut |_| {}).await
            {
                tracing::warn!("the failed row still says its statement applied nothing: {e}");
            }
            ahead_of_history(name, &error, &report)
        }
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

/// How deploy went on from a schema that contradicts an interrupted migration's journal.
#[derive(Debug, Clone)]
pub enum Ahead {
    /// Repair's verdict on the migration proves a state and lets it act without a person
    /// (the rule of `run --on-failed=repair`): what it did.
    Repaired {
        migration: String,
        verdict: String,
        log: String,
    },
    /// The schema is the whole folder's and none of the migrations from the interrupted
    /// one on holds a statement the schema cannot show: they were recorded applied.
    RecordedApplied { names: Vec<String> },
}

/// Deploy found the schema elsewhere than the journal of an interrupted migration says
/// ([`DeployError::SchemaContradictsJournal`]: further on, as a restored mid-deploy
/// `mariadb-dump` is, or changed by hand): decides from the schema, as repair does, where
/// the history stands and corrects it, so that deploy continues from the state found. The
/// migration's own states first (S₀…Sₙ: a `partial k` finishes it, an `all` records it);
/// a schema past its last state is compared with the whole folder's. Anything else is
/// [`RepairError::AheadOfHistory`] (exit 5, next: `safemig repair NAME`), nothing written.
pub async fn continue_ahead(
    ctx: &Context,
    dir: &MigrationsDir,
    error: Error,
    cache: Option<PathBuf>,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(crate::lock::Wait<'_>),
) -> Result<Ahead, Error> {
    let Error::Deploy(DeployError::SchemaContradictsJournal { name, .. }) = &error else {
        return Err(error);
    };
    let name = name.clone();
    let request = Request {
        migration: Some(&name),
        only_failed: false,
        wait: ctx.lock.timeout,
        interrupt: interrupt.clone(),
        cache: cache.clone(),
        assume_applied: None,
    };
    let report = match assess(ctx, dir, &request).await {
        Ok(Some(report)) => report,
        Ok(None) => return Err(error),
        Err(e) => {
            tracing::info!("the schema could not be classified: {e}");
            return Err(error);
        }
    };
    if super::heal::unattended(&report) {
        let repaired = super::apply(
            ctx,
            dir,
            &report,
            super::Partial::Finish,
            interrupt,
            on_wait,
        )
        .await?
        .ok_or_else(|| ahead_of_history(&name, &error, &report))?;
        return Ok(Ahead::Repaired {
            migration: name,
            verdict: report.verdict_text(),
            log: repaired.log,
        });
    }
    let Some(from) = dir.migrations.iter().position(|m| m.name == name) else {
        return Err(error);
    };
    if matches!(report.verdict, Verdict::Diverged { .. })
        && folder_reached(ctx, dir, from, cache, interrupt).await?
    {
        let names = record_through_folder(ctx, dir, from, &report, interrupt, on_wait).await?;
        return Ok(Ahead::RecordedApplied { names });
    }
    Err(ahead_of_history(&name, &error, &report))
}

fn ahead_of_history(name: &str, error: &Error, report: &super::Report) -> Error {
    Error::Repair(RepairError::AheadOfHistory {
        name: name.to_string(),
        failure: error.to_string(),
        evidence: evidence(&report.verdict, report.total()),
    })
}

/// Whether every migration from `from` on shows in the schema: the live schema is the
/// whole folder's, and none of them holds a data statement, which no schema shows (a dump
/// reads rows from its snapshot, so one that ran after it is not in the restore).
async fn folder_reached(
    ctx: &Context,
    dir: &MigrationsDir,
    from: usize,
    cache: Option<PathBuf>,
    interrupt: &Interrupt,
) -> Result<bool, Error> {
    let dialect = ctx.url.provider().dialect();
    let unseen = dir.migrations[from..].iter().any(|m| {
        crate::sql::executable_statements(m.sql(), dialect)
            .iter()
            .any(|s| s.kind == crate::sql::StatementKind::Dml)
    });
    if unseen {
        return Ok(false);
    }
    // The folder on the left: drift compares a database on the left with only the part
    // of the folder its history applied.
    let comparison = crate::drift::Request {
        left: crate::drift::Source::Folder,
        right: crate::drift::Source::Database(ctx.url.clone()),
        folder: Some(dir),
        shadow: None,
        cache: cache.map(|dir| crate::cache::Cache { dir, read: true }),
        wait: ctx.lock.timeout,
        converge: false,
        detail: Default::default(),
        interrupt: interrupt.clone(),
    };
    Ok(crate::drift::compare(&comparison)
        .await?
        .differences
        .is_empty())
}

/// Records every migration from `from` on that is not applied yet as applied, as `resolve
/// --applied` does (the interrupted one's row is marked rolled back first), each under the
/// lock.
async fn record_through_folder(
    ctx: &Context,
    dir: &MigrationsDir,
    from: usize,
    report: &super::Report,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(crate::lock::Wait<'_>),
) -> Result<Vec<String>, Error> {
    let mut engine = ctx.connect(crate::engine::Access::ReadWrite).await?;
    let rows = engine.read_history().await?;
    let mut names = Vec::new();
    for migration in &dir.migrations[from..] {
        let applied = rows
            .iter()
            .any(|r| r.migration_name == migration.name && r.is_applied());
        if applied {
            continue;
        }
        crate::resolve::mark_applied(
            &mut *engine,
            dir,
            &migration.name,
            &ctx.lock,
            interrupt,
            on_wait,
        )
        .await?;
        names.push(migration.name.clone());
    }
    tracing::info!(
        "recorded {} applied: the schema is the folder's, past the journal of `{}` ({})",
        names.join(", "),
        report.migration,
        report.verdict_text()
    );
    Ok(names)
}
