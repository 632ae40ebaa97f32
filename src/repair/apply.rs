//! `repair --apply`: the history correction a verdict allows, each logged in the row.

use serde::Serialize;

use super::{Plan, Recorded, Report};
use crate::Error;
use crate::context::Context;
use crate::deploy::{self, Options};
use crate::engine::{Access, Engine};
use crate::error::RepairError;
use crate::history::HistoryRow;
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

/// Acts on `report`, taken moments before, once the invalid indexes it names are dropped
/// (so the statements that create them build them again): `none` marks the row rolled back, `all` records
/// the migration applied as `prisma migrate resolve --applied` does, `partial k` runs the
/// remaining statements through deploy's journaled mode (`Partial::Finish`) or the inverse
/// of the applied ones (`Partial::RollBack`; also for `all`, where every statement is
/// undone). `Ok(None)`: the verdict lets nothing be written (or nothing needs to be), and
/// nothing was.
pub async fn apply(
    ctx: &Context,
    dir: &MigrationsDir,
    report: &Report,
    partial: Partial,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<Option<Repaired>, Error> {
    let Some(done) = decide(report, partial)? else {
        return Ok(None);
    };
    let log = decision_log(report, &done);
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    let engine = &mut *engine;
    if !report.invalid_indexes.is_empty() {
        under_lock(engine, ctx, report, interrupt, on_wait, async |engine| {
            super::invalid::drop(engine, &report.migration, &report.invalid_indexes).await
        })
        .await?;
    }
    match &done {
        Plan::MarkRolledBack => {
            under_lock(engine, ctx, report, interrupt, on_wait, async |engine| {
                annotate(engine, report, &log).await?;
                mark_rolled_back(engine, report).await
            })
            .await?;
        }
        Plan::RollBack { undone } => {
            let options = super::roll_back::Options {
                applied: *undone,
                allow_data_loss: partial
                    == Partial::RollBack {
                        allow_data_loss: true,
                    },
                renames: super::roll_back::renames(dir, report, *undone, ctx.url.provider()),
            };
            super::roll_back::run(engine, ctx, report, options, interrupt, on_wait).await?;
            under_lock(engine, ctx, report, interrupt, on_wait, async |engine| {
                annotate(engine, report, &log).await?;
                mark_rolled_back(engine, report).await
            })
            .await?;
        }
        Plan::RecordApplied if report.recorded == Recorded::Applied => {
            record_as_it_is(engine, ctx, dir, report, &log, interrupt, on_wait).await?;
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
            finish_rest(engine, ctx, dir, report, from - 1, &log, interrupt, on_wait).await?;
        }
        Plan::Agrees | Plan::Retry { .. } | Plan::Nothing => unreachable!("decided above"),
    }
    Ok(Some(Repaired { plan: done, log }))
}

/// What `--apply` does: the report's plan, with a partly (or wholly) applied migration's
/// direction chosen. `None`: nothing to write.
fn decide(report: &Report, partial: Partial) -> Result<Option<Plan>, Error> {
    Ok(Some(match (&report.plan, partial) {
        (Plan::Nothing | Plan::Agrees | Plan::Retry { .. } | Plan::RollBack { .. }, _) => {
            return Ok(None);
        }
        (Plan::Finish { from, to }, Partial::Refuse) => {
            return Err(Error::Repair(RepairError::FinishNeeded {
                name: report.migration.clone(),
                from: *from,
                to: *to,
                assumed: report.assumed_applied,
            }));
        }
        (Plan::Finish { from, .. }, Partial::RollBack { .. }) => {
            Plan::RollBack { undone: from - 1 }
        }
        // `--roll-back` of a migration whose every statement ran undoes all of them, when
        // its states are known (not for one compared only as part of the whole folder).
        (Plan::RecordApplied, Partial::RollBack { .. }) if report.states.is_empty() => {
            return Err(Error::Repair(RepairError::RollBackNotExpressible {
                name: report.migration.clone(),
                objects: vec![
                    "its statements: migrations applied after it were built on them".into(),
                ],
            }));
        }
        (Plan::RecordApplied, Partial::RollBack { .. }) => Plan::RollBack {
            undone: report.total(),
        },
        (plan, _) => plan.clone(),
    }))
}

/// The line the decision leaves in the row's `logs`.
fn decision_log(report: &Report, done: &Plan) -> String {
    let mut grounds = report.grounds();
    for index in &report.invalid_indexes {
        grounds += &format!("; dropped invalid index {}", index.name);
    }
    match done {
        Plan::MarkRolledBack => format!("safemig repair: {grounds}; marked rolled back"),
        Plan::RecordApplied => format!("safemig repair: {grounds}; recorded applied"),
        Plan::Finish { from, to } => {
            format!("safemig repair: {grounds}; finished statements {from}..{to}")
        }
        Plan::RollBack { undone } => format!(
            "safemig repair: {grounds}; rolled back statements 1..{undone}, marked rolled back"
        ),
        Plan::Agrees | Plan::Retry { .. } | Plan::Nothing => unreachable!("nothing is written"),
    }
}

/// Runs `write` under the migration lock, once the migration's rows are as the report saw
/// them.
async fn under_lock(
    engine: &mut dyn Engine,
    ctx: &Context,
    report: &Report,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
    write: impl AsyncFnOnce(&mut dyn Engine) -> Result<(), Error>,
) -> Result<(), Error> {
    lock::acquire(engine, &ctx.lock, interrupt, on_wait).await?;
    let written = async {
        unchanged(engine, report).await?;
        write(engine).await
    }
    .await;
    lock::release(engine, &ctx.lock).await;
    written
}

/// Withdraws a failed row's claim that its failed statement applied nothing (its
/// journal's `retry_from`) once the schema shows the migration elsewhere than the journal
/// says: deploy would otherwise wait for the file to change and `status` advise fixing
/// `migration.sql`, over a correct file. The row stays failed, for `safemig repair`.
pub async fn withdraw_retry(
    ctx: &Context,
    report: &Report,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<(), Error> {
    let journal = report.logs.as_deref().and_then(Journal::from_logs);
    let (Some(row_id), Some(mut journal)) = (&report.row_id, journal) else {
        return Ok(());
    };
    if report.recorded != Recorded::Failed || journal.retry_from.take().is_none() {
        return Ok(());
    }
    journal.error = journal.error.map(|e| {
        format!("{e}; the schema shows more of the migration than this journal: `safemig repair` settles it")
    });
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    under_lock(
        &mut *engine,
        ctx,
        report,
        interrupt,
        on_wait,
        async |engine| {
            engine
                .update_journal(row_id, report.applied_steps_count, &journal.to_logs())
                .await
        },
    )
    .await
}

/// Marks the report's row rolled back: a failed row as `resolve --rolled-back` does, a
/// finished one (a row finished by hand) the same way, so deploy applies the migration
/// again. A migration without a live row has nothing to mark.
async fn mark_rolled_back(engine: &mut dyn Engine, report: &Report) -> Result<(), Error> {
    for row in &report.rows {
        engine
            .mark_rolled_back(&row.id, crate::history::now())
            .await?;
    }
    Ok(())
}

/// Appends the decision to the decisive row's `logs`, leaving its other columns as they
/// are; the row keeps the database's error text above it. A migration without a row has
/// nowhere to keep it (the repaired row carries it instead).
async fn annotate(engine: &mut dyn Engine, report: &Report, log: &str) -> Result<(), Error> {
    let Some(row_id) = &report.row_id else {
        return Ok(());
    };
    let logs = match report.logs.as_deref() {
        Some(before) if !before.is_empty() => format!("{}\n{log}\n", before.trim_end()),
        _ => format!("{log}\n"),
    };
    engine
        .update_journal(row_id, report.applied_steps_count, &logs)
        .await
}

/// Refuses when the migration's live rows are no longer as `report` saw them (someone
/// resolved it, or another repair or a deploy ran): the decision was about those rows.
pub(super) async fn unchanged(engine: &mut dyn Engine, report: &Report) -> Result<(), Error> {
    let rows = if engine.history_exists().await? {
        engine.read_history().await?
    } else {
        Vec::new()
    };
    let now: Vec<&HistoryRow> = rows
        .iter()
        .filter(|r| r.migration_name == report.migration && r.is_live())
        .collect();
    let same = now.len() == report.rows.len() && now.iter().zip(&report.rows).all(|(a, b)| *a == b);
    if same {
        Ok(())
    } else {
        Err(Error::Repair(RepairError::RowChanged {
            name: report.migration.clone(),
        }))
    }
}

/// A finished row of a file edited since: the row stays, marked rolled back, and a copy
/// with the file's checksum as it is now takes its place. The copy keeps the old row's
/// times, so the history's order (what `status` judges out-of-order by) is unchanged.
#[allow(clippy::too_many_arguments)]
async fn record_as_it_is(
    engine: &mut dyn Engine,
    ctx: &Context,
    dir: &MigrationsDir,
    report: &Report,
    log: &str,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<(), Error> {
    let migration = dir
        .find(&report.migration)
        .ok_or_else(|| RepairError::NotInFolder {
            name: report.migration.clone(),
            dir: dir.path.clone(),
        })?;
    let finished = report
        .rows
        .iter()
        .rev()
        .find(|r| r.is_applied())
        .ok_or_else(|| RepairError::RowChanged {
            name: report.migration.clone(),
        })?;
    let copy = HistoryRow {
        id: HistoryRow::started(&migration.name, &migration.checksum).id,
        checksum: migration.checksum.clone(),
        logs: Some(format!("{log}\n")),
        ..finished.clone()
    };
    under_lock(engine, ctx, report, interrupt, on_wait, async |engine| {
        mark_rolled_back(engine, report).await?;
        engine.insert_row(&copy).await
    })
    .await
}

/// Leaves a safemig journal that says "`done` statements applied, interrupted" and lets
/// deploy resume it as it resumes its own interrupted migrations: each remaining statement
/// tied to its journal write, so a kill at any instant leaves a row the next `safemig
/// deploy` finishes. A failed row becomes that journal; a finished row (finished by hand)
/// is marked rolled back and, as for a migration without a live row, a new row holds it.
/// Only this migration is deployed.
#[allow(clippy::too_many_arguments)]
async fn finish_rest(
    engine: &mut dyn Engine,
    ctx: &Context,
    dir: &MigrationsDir,
    report: &Report,
    done: usize,
    log: &str,
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
    let steps = u32::try_from(done).unwrap_or(u32::MAX);
    let mut row_id = None;
    under_lock(engine, ctx, report, interrupt, on_wait, async |engine| {
        let id = match (report.recorded, &report.row_id) {
            (Recorded::Failed, Some(id)) => id.clone(),
            _ => {
                mark_rolled_back(engine, report).await?;
                let row = HistoryRow::started(&migration.name, &migration.checksum);
                engine.insert_row(&row).await?;
                row.id
            }
        };
        engine
            .update_journal(&id, steps, &journal.to_logs())
            .await?;
        row_id = Some(id);
        Ok(())
    })
    .await?;

    let only = MigrationsDir {
        migrations: vec![migration.clone()],
        ..dir.clone()
    };
    let options = Options {
        lock: ctx.lock,
        lock_wait: ctx.lock_wait,
        interrupt: interrupt.clone(),
    };
    deploy::deploy(engine, &only, &options, &mut |event| {
        if let deploy::Event::WaitingForLock(wait) = event {
            on_wait(wait)
        }
    })
    .await?;
    // Prisma leaves a finished row's logs NULL and reads them never again; the decision is
    // worth more to the next reader than that equality.
    let row_id = row_id.expect("set under the lock");
    engine.update_journal(&row_id, 1, log).await
}
