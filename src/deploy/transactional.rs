//! A whole migration and its history row in one transaction.

use super::retry::{LockRetry, Next, Place};
use super::{Mode, Run, Step, journaled};
use crate::Error;
use crate::engine::{Engine, ErrorKind, ScriptError};
use crate::error::Applied;
use crate::error::{DatabaseError, DeployError};
use crate::failpoint;
use crate::history::{self, HistoryRow};
use crate::interrupt::Interrupt;

/// Why the attempt stopped.
enum Stop {
    /// The migration's own SQL failed.
    Script(ScriptError),
    /// A stop was requested; the transaction was cancelled.
    Interrupted,
    /// safemig's bookkeeping failed: the connection or the history table is the problem.
    Bookkeeping(Error),
}

/// Applies the step in one transaction; returns the mode that finally applied it (journaled
/// when the transaction failed only because it was one). A transaction that gave up
/// waiting for a lock was rolled back whole: it runs again after a pause, as `retry` allows.
pub(super) async fn apply(
    engine: &mut dyn Engine,
    step: &Step<'_>,
    interrupt: &Interrupt,
    retry: &mut LockRetry<'_>,
) -> Result<Mode, Error> {
    let place = Place {
        migration: &step.migration.name,
        statement: None,
    };
    loop {
        if let Some(mode) = attempt(engine, step, interrupt, retry).await? {
            return Ok(mode);
        }
        match retry.after_lock_wait(&place, interrupt).await {
            Next::Again => {}
            Next::Stopped => {
                return Err(Error::Deploy(DeployError::Interrupted {
                    detail: format!(
                        "`{}` was rolled back while it waited for a table lock",
                        crate::text::escaped(&step.migration.name)
                    ),
                }));
            }
            Next::GiveUp => return Err(retry.gave_up(&place, 0)),
        }
    }
}

/// One attempt at the transaction: the mode that applied it, or `None` when it gave up
/// waiting for a lock and was rolled back.
async fn attempt(
    engine: &mut dyn Engine,
    step: &Step<'_>,
    interrupt: &Interrupt,
    retry: &mut LockRetry<'_>,
) -> Result<Option<Mode>, Error> {
    let migration = step.migration;
    let row = HistoryRow::started(&migration.name, &migration.checksum);
    engine.begin(&step.profile).await?;
    let outcome = async {
        failpoint::hit("during_statement");
        // Rolling back is the quickest clean stop: cancel at once.
        let sql = migration.sql();
        let place = Place {
            migration: &migration.name,
            statement: None,
        };
        match retry
            .attempt(engine, sql, &place, interrupt.stopped(), interrupt)
            .await
        {
            Run::Done => {}
            Run::Failed(e) => return Err(Stop::Script(e)),
            Run::Cancelled => return Err(Stop::Interrupted),
        }
        failpoint::hit("after_statement");
        // The history row goes in after the script, finished: a write before it would
        // start the transaction's snapshot and take locks ahead of the script's own first
        // statement, which may have to come first (`SET TRANSACTION ISOLATION LEVEL`,
        // `LOCK TABLE`). Committed together, the row ends exactly as Prisma's does.
        let applied = HistoryRow {
            finished_at: Some(history::now()),
            applied_steps_count: 1,
            ..row.clone()
        };
        engine
            .insert_row(&applied)
            .await
            .map_err(Stop::Bookkeeping)?;
        failpoint::hit("after_insert");
        failpoint::hit("before_finish");
        engine.commit().await.map_err(Stop::Script)
    }
    .await;
    let Err(stop) = outcome else {
        return Ok(Some(Mode::Transactional));
    };
    if let Stop::Script(error) = &stop
        && error.kind == ErrorKind::ConnectionLost
    {
        // The server rolls the transaction back when the session ends: nothing of the
        // migration was applied, and nothing can be recorded on this connection.
        return Err(Error::Database(DatabaseError::ConnectionLost {
            target: engine.target().to_string(),
            action: format!("applying `{}`", crate::text::escaped(&migration.name)),
            message: error.message.clone(),
        }));
    }
    if interrupt.abandoned() {
        // The server rolls the transaction back when the session ends.
        return Err(Error::Deploy(DeployError::Interrupted {
            detail: format!(
                "`{}` was abandoned with its transaction, which the server rolls back",
                crate::text::escaped(&migration.name)
            ),
        }));
    }
    if let Err(e) = engine.rollback().await {
        tracing::warn!("rolling back `{}` failed: {e}", migration.name);
    }
    match stop {
        Stop::Bookkeeping(e) => Err(e),
        Stop::Interrupted => Err(Error::Deploy(DeployError::Interrupted {
            detail: format!("`{}` was rolled back before it finished", migration.name),
        })),
        // Rolled back: nothing was applied, nothing is recorded while retries remain.
        Stop::Script(error) if error.kind == ErrorKind::LockWaitTimeout => Ok(None),
        Stop::Script(error) if error.kind == ErrorKind::NeedsNoTransaction => {
            // The rollback proves nothing was applied: run it statement by statement.
            tracing::info!(
                "`{}` cannot run in one transaction ({}); running it journaled",
                migration.name,
                error.message
            );
            journaled::apply(engine, step, interrupt, retry).await?;
            Ok(Some(Mode::Journaled))
        }
        Stop::Script(error) => {
            // Nothing of the migration was applied. Keep a record of the attempt that no
            // deploy treats as a failure (Prisma ignores rolled-back rows), so the fixed
            // migration applies without a manual resolve.
            let attempt = HistoryRow {
                logs: Some(history::failure_log(&error.message, error.code.as_deref())),
                rolled_back_at: Some(history::now()),
                ..row
            };
            engine.insert_row(&attempt).await?;
            Err(Error::Deploy(DeployError::MigrationFailed {
                name: migration.name.clone(),
                script: migration.script_path.clone(),
                message: error.message,
                applied: Applied::Nothing,
            }))
        }
    }
}
