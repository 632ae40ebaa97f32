//! `repair --apply`: the history correction a verdict allows, each logged in the row.

use serde::Serialize;

use super::{Plan, Report};
use crate::Error;
use crate::context::Context;
use crate::deploy::{self, Options};
use crate::engine::{Access, Engine};
use crate::error::RepairError;
use crate::interrupt::Interrupt;
use crate::journal::{Journal, statement_hash};
use crate::lock;
use crate::migrations::MigrationsDir;
use crate::resolve;
use crate::sql;

/// What `--apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Repaired {
    #[serde(flatten)]
    pub plan: Plan,
    /// The line written into the row's `logs`.
    pub log: String,
}

/// What `--apply` does with a partly applied migration: nothing unless told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partial {
    Refuse,
    /// `--finish`: run the statements that did not run.
    Finish,
    /// `--roll-back`: run the inverse of those that did.
    RollBack {
        allow_data_loss: bool,
    },
}

/// Acts on `report`, taken moments before: `none` marks the row rolled back, `all` records
/// the migration applied as `prisma migrate resolve --applied` does, `partial k` runs the
/// remaining statements through deploy's journaled mode (`Partial::Finish`) or the inverse
/// of the applied ones (`Partial::RollBack`). `Ok(None)`: the verdict lets nothing be
/// written, and nothing was.
pub async fn apply(
    ctx: &Context,
    dir: &MigrationsDir,
    report: &Report,
    partial: Partial,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<Option<Repaired>, Error> {
    // What is done: the report's plan, with a partial migration's direction chosen.
    let done = match (&report.plan, partial) {
        (Plan::Nothing | Plan::RollBack { .. }, _) => return Ok(None),
        (Plan::Finish { from, to }, Partial::Refuse) => {
            return Err(Error::Repair(RepairError::FinishNeeded {
                name: report.migration.clone(),
                from: *from,
                to: *to,
            }));
        }
        (Plan::Finish { from, .. }, Partial::RollBack { .. }) => {
            Plan::RollBack { undone: from - 1 }
        }
        (plan, _) => plan.clone(),
    };
    let grounds = report.grounds();
    let log = match &done {
        Plan::MarkRolledBack => format!("safemig repair: {grounds}; marked rolled back"),
        Plan::RecordApplied => format!("safemig repair: {grounds}; recorded applied"),
        Plan::Finish { from, to } => {
            format!("safemig repair: {grounds}; finished statements {from}..{to}")
        }
        Plan::RollBack { undone } => format!(
            "safemig repair: {grounds}; rolled back statements 1..{undone}, marked rolled back"
        ),
        Plan::Nothing => unreachable!("returned above"),
    };
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    let engine = &mut *engine;
    match &done {
        Plan::MarkRolledBack => {
            annotate(engine, report, &log).await?;
            resolve::mark_rolled_back(engine, &report.migration, &ctx.lock, interrupt, on_wait)
                .await?;
        }
        Plan::RollBack { undone } => {
            let options = super::roll_back::Options {
                applied: *undone,
                allow_data_loss: partial
                    == Partial::RollBack {
                        allow_data_loss: true,
                    },
            };
            super::roll_back::run(engine, ctx, report, options, interrupt, on_wait).await?;
            annotate(engine, report, &log).await?;
            resolve::mark_rolled_back(engine, &report.migration, &ctx.lock, interrupt, on_wait)
                .await?;
        }
        Plan::RecordApplied => {
            annotate(engine, report, &log).await?;
            resolve::mark_applied(
                engine,
                dir,
                &report.migration,
                &ctx.lock,
                interrupt,
                on_wait,
            )
            .await?;
        }
        Plan::Finish { from, .. } => {
            finish_rest(engine, ctx, dir, report, from - 1, interrupt, on_wait).await?;
            // Prisma leaves a finished row's logs NULL and reads them never again; the
            // decision is worth more to the next reader than that equality.
            engine.update_journal(&report.row_id, 1, &log).await?;
        }
        Plan::Nothing => unreachable!("returned above"),
    }
    Ok(Some(Repaired { plan: done, log }))
}

/// Appends the decision to the failed row's `logs`, leaving its other columns as they
/// are; the row keeps the database's error text above it.
async fn annotate(engine: &mut dyn Engine, report: &Report, log: &str) -> Result<(), Error> {
    let logs = match report.logs.as_deref() {
        Some(before) if !before.is_empty() => format!("{}\n{log}\n", before.trim_end()),
        _ => format!("{log}\n"),
    };
    engine
        .update_journal(&report.row_id, report.applied_steps_count, &logs)
        .await
}

/// Refuses when the failed row is no longer as `report` saw it (someone resolved it, or
/// another repair ran): the decision was about that row.
pub(super) async fn still_failed(engine: &mut dyn Engine, report: &Report) -> Result<(), Error> {
    let rows = engine.read_history().await?;
    let same = rows
        .iter()
        .any(|r| r.id == report.row_id && r.is_failed() && r.logs == report.logs);
    if same {
        Ok(())
    } else {
        Err(Error::Repair(RepairError::RowChanged {
            name: report.migration.clone(),
        }))
    }
}

/// Turns the failed row into a safemig journal that says "`done` statements applied,
/// interrupted", then lets deploy resume it as it resumes its own interrupted migrations:
/// each remaining statement tied to its journal write, so a kill at any instant leaves a
/// row the next `safemig deploy` finishes. Only the failed migration is deployed.
async fn finish_rest(
    engine: &mut dyn Engine,
    ctx: &Context,
    dir: &MigrationsDir,
    report: &Report,
    done: usize,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<(), Error> {
    let migration = dir
        .find(&report.migration)
        .ok_or_else(|| RepairError::NotInFolder {
            name: report.migration.clone(),
            dir: dir.path.clone(),
        })?;
    let dialect = engine.provider().dialect();
    let hashes = sql::executable_statements(migration.sql(), dialect)
        .iter()
        .map(|s| statement_hash(s, dialect))
        .collect();
    let journal = Journal {
        done,
        ..Journal::new(hashes)
    };
    lock::acquire(engine, &ctx.lock, interrupt, on_wait).await?;
    let written = async {
        still_failed(engine, report).await?;
        let steps = u32::try_from(done).unwrap_or(u32::MAX);
        engine
            .update_journal(&report.row_id, steps, &journal.to_logs())
            .await
    }
    .await;
    lock::release(engine, &ctx.lock).await;
    written?;

    let only = MigrationsDir {
        migrations: vec![migration.clone()],
        ..dir.clone()
    };
    let options = Options {
        lock: ctx.lock,
        interrupt: interrupt.clone(),
    };
    deploy::deploy(engine, &only, &options, &mut |event| {
        if let deploy::Event::WaitingForLock(wait) = event {
            on_wait(wait)
        }
    })
    .await?;
    Ok(())
}
