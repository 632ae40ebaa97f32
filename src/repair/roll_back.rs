//! `repair --roll-back`: undoes the applied statements of a partly applied migration. The
//! inverse is written from the schemas, not the SQL: the differences from state k back to
//! state 0, as drift's `--sql` writes them, with tables and columns dropped. Columns the
//! statements renamed are renamed back first (and state k taken with their old names), so
//! their values and places are kept where a drop and an add would lose them. It is refused
//! when an object has no inverse safemig writes, or when a drop would delete rows or values
//! (unless allowed); it runs in one transaction where DDL is transactional; and the schema
//! is read again afterwards, so the row is marked rolled back only when the database is
//! back at state 0.

use std::collections::BTreeSet;

use super::Report;
use super::apply::unchanged;
use crate::Error;
use crate::context::Context;
use crate::drift::converge::{self, Step, Tables};
use crate::engine::{self, Engine};
use crate::error::RepairError;
use crate::interrupt::Interrupt;
use crate::lock;
use crate::migrations::MigrationsDir;
use crate::provider::Provider;
use crate::schema::ddl::table_and_name;
use crate::schema::{Detail, Difference, ObjectKey, ObjectKind, Schema, diff};
use crate::sql::{ColumnRename, ScriptProfile};
use crate::text::escaped;

/// What to roll back.
pub(super) struct Options {
    /// The statements that ran, from the first: their inverse runs.
    pub applied: usize,
    /// Drop tables and columns that hold data.
    pub allow_data_loss: bool,
    /// The columns statements 1..`applied` renamed, in order ([`column_renames`]).
    pub renames: Vec<ColumnRename>,
}

/// The columns statements 1..=`applied` of `report`'s migration rename, in order.
pub(super) fn column_renames(
    dir: &MigrationsDir,
    report: &Report,
    applied: usize,
    provider: Provider,
) -> Vec<ColumnRename> {
    let dialect = provider.dialect();
    let Some(migration) = dir.migrations.iter().find(|m| m.name == report.migration) else {
        return Vec::new();
    };
    crate::sql::executable_statements(migration.sql(), dialect)
        .iter()
        .take(applied)
        .flat_map(|s| crate::sql::column_renames(s, dialect))
        .collect()
}

/// `after` with the renamed columns under their names before the renames, and the
/// statements that rename them back, last rename first.
fn renamed_back(
    after: &Schema,
    renames: &[ColumnRename],
    provider: Provider,
) -> (Schema, Vec<String>) {
    let ddl = engine::ddl(provider);
    let mut schema = after.clone();
    let mut statements = Vec::new();
    for r in renames.iter().rev() {
        let key = |column: &str| ObjectKey {
            kind: ObjectKind::Column,
            name: format!("{}.{column}", r.table),
        };
        if let Some(object) = schema.objects.remove(&key(&r.to)) {
            schema.objects.insert(key(&r.from), object);
            statements.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {};",
                ddl.quote(&r.table),
                ddl.quote(&r.to),
                ddl.quote(&r.from)
            ));
        }
    }
    (schema, statements)
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
    let (after, mut statements) =
        renamed_back(state(options.applied), &options.renames, engine.provider());
    let differences = diff(&after, before);

    lock::acquire(engine, &ctx.lock, interrupt, on_wait).await?;
    let ran = async {
        unchanged(engine, report).await?;
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
        statements.extend(inverse(report, &sides, &differences, engine.provider())?);
        if !options.allow_data_loss {
            refuse_data_loss(engine, report, &differences).await?;
        }
        execute(engine, report, &statements).await?;
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

/// Runs the statements, in one transaction where DDL is transactional (a failure then
/// leaves nothing), one by one elsewhere.
async fn execute(
    engine: &mut dyn Engine,
    report: &Report,
    statements: &[String],
) -> Result<(), Error> {
    let atomic = engine.capabilities().transactional_ddl;
    if atomic {
        engine.begin(&ScriptProfile::default()).await?;
    }
    for statement in statements {
        if let Err(e) = engine.run_script(statement).await {
            if atomic {
                engine.rollback().await?;
            }
            return Err(Error::Repair(RepairError::RollBackFailed {
                name: report.migration.clone(),
                statement: statement.clone(),
                message: e.message,
                undone: atomic,
            }));
        }
    }
    if atomic {
        engine.commit().await.map_err(|e| {
            Error::Repair(RepairError::RollBackFailed {
                name: report.migration.clone(),
                statement: "COMMIT".into(),
                message: e.message,
                undone: true,
            })
        })?;
    }
    Ok(())
}
