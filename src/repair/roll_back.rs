//! `repair --roll-back`: undoes the applied statements of a partly applied migration. What
//! the statements renamed (tables, columns, indexes, constraints) is renamed back first, so
//! values, rows and places are kept where a drop and an add would lose them; the rest of the
//! inverse is written from the schemas, not the SQL: the differences from the schema then
//! read back to state 0, as drift's `--sql` writes them, with tables and columns dropped. It
//! is refused when an object has no inverse safemig writes, or when a drop would delete rows
//! or values (unless allowed), and then leaves nothing changed (renames are undone where DDL
//! is not transactional); it runs in one transaction where DDL is transactional; and the
//! schema is read again afterwards, so the row is marked rolled back only when the database
//! is back at state 0.

use std::collections::BTreeSet;
use std::time::Instant;

use super::Report;
use super::apply::unchanged;
use crate::Error;
use crate::context::Context;
use crate::drift::converge::{self, Step, Tables};
use crate::engine::{self, Engine, ErrorKind};
use crate::error::{DeployError, RepairError};
use crate::interrupt::Interrupt;
use crate::lock;
use crate::lock_wait::{self, AfterGiveUp, LockWait};
use crate::migrations::MigrationsDir;
use crate::provider::Provider;
use crate::schema::ddl::table_and_name;
use crate::schema::{Detail, Difference, ObjectKind, Schema, diff};
use crate::sql::{Rename, Renamed, ScriptProfile};
use crate::text::escaped;

/// What to roll back.
pub(super) struct Options {
    /// The statements that ran, from the first: their inverse runs.
    pub applied: usize,
    /// Drop tables and columns that hold data.
    pub allow_data_loss: bool,
    /// What statements 1..`applied` renamed, in order ([`renames`]).
    pub renames: Vec<Rename>,
}

/// What statements 1..=`applied` of `report`'s migration rename, in order.
pub(super) fn renames(
    dir: &MigrationsDir,
    report: &Report,
    applied: usize,
    provider: Provider,
) -> Vec<Rename> {
    let dialect = provider.dialect();
    let Some(migration) = dir.migrations.iter().find(|m| m.name == report.migration) else {
        return Vec::new();
    };
    crate::sql::executable_statements(migration.sql(), dialect)
        .iter()
        .take(applied)
        .flat_map(|s| crate::sql::renames(s, dialect))
        .collect()
}

/// The table and column names of `schema`, as [`rename_key`] writes them.
fn table_and_column_names(schema: &Schema) -> BTreeSet<String> {
    schema
        .objects
        .keys()
        .filter(|k| matches!(k.kind, ObjectKind::Table | ObjectKind::Column))
        .map(|k| k.name.clone())
        .collect()
}

/// A renamed table's or column's key (`table`, `table.column`) under `name`; `None` for
/// indexes and constraints.
fn rename_key(rename: &Rename, name: &str) -> Option<String> {
    let table = rename.table.as_deref().unwrap_or_default();
    match rename.renamed {
        Renamed::Table => Some(name.to_string()),
        Renamed::Column => Some(format!("{table}.{name}")),
        Renamed::Index | Renamed::Constraint => None,
    }
}

/// The renames of tables and columns state 0 (`before`) had, or that an earlier rename
/// made: one of an object the migration created is not undone by renaming (Prisma's
/// SQLite redefinition creates `new_T`, drops `T` and renames `new_T` to `T`: renamed
/// back, `T` would be gone and `new_T` full of rows).
fn renames_of_old_objects(before: &Schema, renames: &[Rename]) -> Vec<Rename> {
    let mut known = table_and_column_names(before);
    renames
        .iter()
        .filter(|rename| {
            let (Some(from), Some(to)) = (
                rename_key(rename, &rename.from),
                rename_key(rename, &rename.to),
            ) else {
                return true;
            };
            known.contains(&from) && known.insert(to)
        })
        .cloned()
        .collect()
}

/// The renames that undo `renames`, last first, leaving out those whose object state k
/// (`after`) no longer has under its new name (a table or column renamed, then dropped).
/// Indexes and constraints are not looked up: their keys differ per engine, and renaming
/// back one that is gone fails the roll-back, which then changes nothing.
fn renames_back(after: &Schema, renames: &[Rename]) -> Vec<Rename> {
    let mut names = table_and_column_names(after);
    let mut back = Vec::new();
    for rename in renames.iter().rev().map(Rename::back) {
        if let (Some(from), Some(to)) = (
            rename_key(&rename, &rename.from),
            rename_key(&rename, &rename.to),
        ) {
            if !names.remove(&from) {
                continue;
            }
            names.insert(to);
        }
        if rename.renamed == Renamed::Table {
            let prefix = format!("{}.", rename.from);
            let columns: Vec<String> = names
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .cloned()
                .collect();
            for column in columns {
                names.remove(&column);
                names.insert(format!("{}.{}", rename.to, &column[prefix.len()..]));
            }
        }
        back.push(rename);
    }
    back
}

/// Runs the inverse of the first `applied` statements of `report`'s migration under the
/// migration lock. The row is left as it is: the caller marks it rolled back.
pub(super) async fn run(
    engine: &mut dyn Engine,
    ctx: &Context,
    report: &Report,
    options: Options,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<(), Error> {
    let state = |k: usize| {
        report.states[k]
            .as_ref()
            .expect("a plan's states are ones a failure leaves, so they were read")
    };
    let before = state(0);
    let renamed = renames_of_old_objects(before, &options.renames);
    let back = renames_back(state(options.applied), &renamed);
    lock::acquire(engine, &ctx.lock, interrupt, on_wait).await?;
    let ran = async {
        unchanged(engine, report).await?;
        engine.set_lock_wait(ctx.lock_wait.per_attempt()).await?;
        let mut retries = Retries::new(ctx.lock_wait, interrupt);
        let atomic = engine.capabilities().transactional_ddl;
        // Where foreign keys differ, the inverse may redefine a table (SQLite):
        // enforcement off for the transaction, and no new violation allowed at its commit
        // (a check of every key, so only then).
        let profile = ScriptProfile {
            foreign_keys_pragma: diff(state(options.applied), before)
                .iter()
                .any(|d| d.object().kind == ObjectKind::ForeignKey),
            ..ScriptProfile::default()
        };
        loop {
            if atomic {
                engine.begin(&profile).await?;
            }
            let undone = undo(engine, report, &options, &back, before, &mut retries).await;
            match (&undone, atomic) {
                (Ok(()), true) => commit(engine, report).await?,
                (Err(_), true) => engine.rollback().await?,
                _ => {}
            }
            // Rolled back whole: all of it runs again after the pause.
            match &undone {
                Err(Error::Repair(RepairError::RollBackTableLocked { statement, .. }))
                    if atomic =>
                {
                    retries.again(report, statement, true).await?;
                }
                _ => break undone,
            }
        }?;
        let now = crate::drift::read_schema(engine, Detail::default()).await?;
        let left: Vec<String> = diff(&now, before)
            .iter()
            .map(|d| d.object().to_string())
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(Error::Repair(RepairError::RollBackIncomplete {
                name: report.migration.clone(),
                differences: left,
            }))
        }
    }
    .await;
    lock::release(engine, &ctx.lock).await;
    ran
}

/// Renames back, then reads the schema and runs the rest of the inverse, inside the
/// caller's transaction where there is one. Refused without one (MySQL): the renames are
/// made again, so a refusal leaves the database as it was.
async fn undo(
    engine: &mut dyn Engine,
    report: &Report,
    options: &Options,
    back: &[Rename],
    before: &Schema,
    retries: &mut Retries<'_>,
) -> Result<(), Error> {
    let ddl = engine::ddl(engine.provider());
    let renames: Vec<String> = back.iter().filter_map(|r| ddl.rename(r)).collect();
    execute(engine, report, &renames, retries).await?;
    let planned = plan(engine, report, options, before).await;
    let statements = match planned {
        Ok(statements) => statements,
        Err(refused) => {
            if !engine.capabilities().transactional_ddl {
                let again: Vec<String> = back
                    .iter()
                    .rev()
                    .filter_map(|r| ddl.rename(&r.back()))
                    .collect();
                execute(engine, report, &again, retries).await?;
            }
            return Err(refused);
        }
    };
    execute(engine, report, &statements, retries).await
}

/// The inverse of what is left once the renames are undone: the differences from the
/// schema as it is now back to `before`, refused when one has no inverse or a drop would
/// lose data that is not allowed to go.
async fn plan(
    engine: &mut dyn Engine,
    report: &Report,
    options: &Options,
    before: &Schema,
) -> Result<Vec<String>, Error> {
    let after = crate::drift::read_schema(engine, Detail::default()).await?;
    let differences = diff(&after, before);
    let mut occupied = BTreeSet::new();
    for table in converge::tables_to_probe(&differences, &after, before) {
        if engine.holds_data(&table, None).await? {
            occupied.insert(table);
        }
    }
    let sides = converge::Sides {
        left: &after,
        right: before,
        occupied: &occupied,
    };
    let statements = inverse(report, &sides, &differences, engine.provider())?;
    if !options.allow_data_loss {
        refuse_data_loss(engine, report, &differences).await?;
    }
    Ok(statements)
}

/// The inverse statements (from `after` back to `before`), or the objects that have none.
fn inverse(
    report: &Report,
    sides: &converge::Sides,
    differences: &[Difference],
    provider: Provider,
) -> Result<Vec<String>, Error> {
    let steps = converge::steps(differences, sides, engine::ddl(provider), Tables::Drop);
    let mut statements = Vec::new();
    let mut missing = Vec::new();
    for step in steps {
        match step {
            Step::Sql { sql, .. } => statements.push(sql),
            Step::NotExpressed { object, reason } => missing.push(format!("{object}: {reason}")),
        }
    }
    if missing.is_empty() {
        Ok(statements)
    } else {
        Err(Error::Repair(RepairError::RollBackNotExpressible {
            name: report.migration.clone(),
            objects: missing,
        }))
    }
}

/// Refuses when a table the inverse drops has a row, or a column it drops has a value.
async fn refuse_data_loss(
    engine: &mut dyn Engine,
    report: &Report,
    differences: &[Difference],
) -> Result<(), Error> {
    let extra = |kind: ObjectKind| {
        differences
            .iter()
            .filter(move |d| matches!(d, Difference::Extra { .. }) && d.object().kind == kind)
            .map(|d| d.object().name.as_str())
    };
    let tables: BTreeSet<&str> = extra(ObjectKind::Table).collect();
    let mut losing = Vec::new();
    for table in &tables {
        if engine.holds_data(table, None).await? {
            losing.push(format!("table `{}` has rows", escaped(table)));
        }
    }
    for column in extra(ObjectKind::Column) {
        let (table, name) = table_and_name(column);
        if !tables.contains(table) && engine.holds_data(table, Some(name)).await? {
            losing.push(format!("column `{}` has values", escaped(column)));
        }
    }
    if losing.is_empty() {
        Ok(())
    } else {
        Err(Error::Repair(RepairError::RollBackLosesData {
            name: report.migration.clone(),
            objects: losing,
        }))
    }
}

/// Runs the statements one by one, inside the caller's transaction where there is one.
/// Each waits at most the lock wait for its table locks, as deploy's statements do, so the
/// app's queries never queue behind a waiting roll-back for longer. One that gave up
/// applied nothing: without a transaction it runs again after a pause; in one, the
/// transaction is aborted and the caller runs it all again.
async fn execute(
    engine: &mut dyn Engine,
    report: &Report,
    statements: &[String],
    retries: &mut Retries<'_>,
) -> Result<(), Error> {
    let undone = engine.capabilities().transactional_ddl;
    for statement in statements {
        loop {
            let Err(e) = engine.run_script(statement).await else {
                break;
            };
            if e.kind != ErrorKind::LockWaitTimeout {
                return Err(Error::Repair(RepairError::RollBackFailed {
                    name: report.migration.clone(),
                    statement: statement.clone(),
                    message: e.message,
                    undone,
                }));
            }
            retries.failed += 1;
            if undone {
                // The transaction is aborted: the caller runs it all again.
                return Err(retries.gave_up(report, statement, undone));
            }
            retries.again(report, statement, undone).await?;
        }
    }
    Ok(())
}

/// The attempts of roll-back statements that gave up waiting for a table lock, within
/// the bounds deploy's retries have (`--table-lock-wait`, `--table-lock-retry-for`).
struct Retries<'a> {
    wait: LockWait,
    interrupt: &'a Interrupt,
    first: Instant,
    /// The attempts that gave up so far.
    failed: u32,
}

impl<'a> Retries<'a> {
    fn new(wait: LockWait, interrupt: &'a Interrupt) -> Self {
        Retries {
            wait,
            interrupt,
            first: Instant::now(),
            failed: 0,
        }
    }

    /// After the [`Retries::failed`]-th attempt at `statement` gave up: pauses (a line on
    /// stderr says so) before the next, or ends the roll-back: stopped on a stop request
    /// (exit 11), given up once another attempt would pass the bound (exit 15). `undone`:
    /// whether what ran before it was rolled back.
    async fn again(&self, report: &Report, statement: &str, undone: bool) -> Result<(), Error> {
        let spent = self.first.elapsed();
        let pause = match self.wait.after_give_up(self.failed, spent, self.interrupt) {
            AfterGiveUp::Pause(pause) => pause,
            AfterGiveUp::GiveUp => return Err(self.gave_up(report, statement, undone)),
            AfterGiveUp::Stopped => return Err(stopped(report, undone)),
        };
        tracing::warn!(
            "rolling back `{}`: a statement gave up waiting for a table lock after {:.0?} (attempt {}); trying again in {:.1?} ({:.0?} of {:.0?} spent)",
            escaped(&report.migration),
            self.wait.per_attempt(),
            self.failed,
            pause,
            spent,
            self.wait.retry_for
        );
        if lock_wait::paused(pause, self.interrupt).await {
            Ok(())
        } else {
            Err(stopped(report, undone))
        }
    }

    fn gave_up(&self, report: &Report, statement: &str, undone: bool) -> Error {
        Error::Repair(RepairError::RollBackTableLocked {
            name: report.migration.clone(),
            statement: statement.to_string(),
            attempts: self.failed,
            lock_wait: self.wait.per_attempt(),
            spent: self.first.elapsed(),
            undone,
        })
    }
}

/// A stop that came while a roll-back statement waited to try again for its lock.
fn stopped(report: &Report, undone: bool) -> Error {
    Error::Deploy(DeployError::Interrupted {
        detail: format!(
            "the roll-back of `{}` stopped while it waited for a table lock; {}",
            escaped(&report.migration),
            if undone {
                "nothing of it was kept"
            } else {
                "the statements before it ran (this engine has no transactional DDL)"
            }
        ),
    })
}

/// Commits the roll-back's transaction.
async fn commit(engine: &mut dyn Engine, report: &Report) -> Result<(), Error> {
    engine.commit().await.map_err(|e| {
        Error::Repair(RepairError::RollBackFailed {
            name: report.migration.clone(),
            statement: "COMMIT".into(),
            message: e.message,
            undone: true,
        })
    })
}
