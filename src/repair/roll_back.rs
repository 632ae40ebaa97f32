//! `repair --roll-back`: undoes the applied statements of a partly applied migration. The
//! inverse is written from the schemas, not the SQL: the differences from state k back to
//! state 0, as drift's `--sql` writes them, with tables and columns dropped. It is refused
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
use crate::provider::Provider;
use crate::schema::ddl::table_and_name;
use crate::schema::{Detail, Difference, ObjectKind, Schema, diff};
use crate::sql::ScriptProfile;
use crate::text::escaped;

/// What to roll back.
pub(super) struct Options {
    /// The statements that ran, from the first: their inverse runs.
    pub applied: usize,
    /// Drop tables and columns that hold data.
    pub allow_data_loss: bool,
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
    let (before, after) = (state(0), state(options.applied));
    let differences = diff(after, before);
    let statements = inverse(report, after, before, &differences, engine.provider())?;

    lock::acquire(engine, &ctx.lock, interrupt, on_wait).await?;
    let ran = async {
        unchanged(engine, report).await?;
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
    after: &Schema,
    before: &Schema,
    differences: &[Difference],
    provider: Provider,
) -> Result<Vec<String>, Error> {
    let steps = converge::steps(
        differences,
        after,
        before,
        engine::ddl(provider),
        Tables::Drop,
    );
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
