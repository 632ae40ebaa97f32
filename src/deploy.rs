//! `deploy`: Prisma's apply algorithm, with each migration made atomic where the engine
//! allows it.
//!
//! Prisma writes the history row, runs the script and finishes the row as three separate
//! commits, so a kill in between leaves a failed row and every later deploy stops on P3009.
//! Where DDL is transactional (PostgreSQL, SQLite) and the script does not manage
//! transactions itself, safemig puts all three in one transaction: a kill leaves either
//! nothing or a finished row (DESIGN.md §3).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Error;
use crate::engine::{Engine, ScriptError};
use crate::error::FailedMigration;
use crate::history::{self, HistoryRow};
use crate::lock::{self, LockOptions};
use crate::migrations::{LocalMigration, MigrationsDir};
use crate::sql::ScriptProfile;

/// How a migration is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// History INSERT, script and history UPDATE in one transaction.
    Transactional,
    /// As Prisma does it: INSERT, the script as one batch, UPDATE, each committed alone.
    Direct,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Transactional => "transactional",
            Mode::Direct => "direct",
        }
    }
}

/// A migration deploy will apply, and how.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub migration: &'a LocalMigration,
    pub mode: Mode,
    pub profile: ScriptProfile,
}

/// What deploy would do to the database as it is now.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub history_exists: bool,
    /// Migrations of the folder already applied.
    pub applied: usize,
    pub steps: Vec<Step<'a>>,
}

/// Progress, reported as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The lock is busy; deploy waits for it.
    WaitingForLock {
        holder: Option<&'a str>,
    },
    CreatedHistoryTable,
    Applied {
        name: &'a str,
        mode: Mode,
        elapsed: Duration,
    },
}

/// What a deploy did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub applied: Vec<String>,
    pub already_applied: usize,
}

/// Works out what deploy would do, refusing where Prisma refuses: a provider mismatch
/// (P3019), tables without a history (P3005), failed migrations in the history (P3009).
pub async fn plan<'a>(engine: &mut dyn Engine, dir: &'a MigrationsDir) -> Result<Plan<'a>, Error> {
    dir.check_provider(engine.provider())?;
    let history_exists = engine.history_exists().await?;
    let rows = if history_exists {
        engine.read_history().await?
    } else {
        let objects = engine.user_objects().await?;
        if !objects.is_empty() {
            return Err(Error::NotEmpty {
                target: engine.target().to_string(),
                objects,
            });
        }
        Vec::new()
    };
    let failed: Vec<FailedMigration> = rows
        .iter()
        .filter(|r| r.is_failed())
        .map(|r| FailedMigration {
            name: r.migration_name.clone(),
            started_at: r.started_at,
            logs: r.logs.clone(),
        })
        .collect();
    if !failed.is_empty() {
        return Err(Error::FailedMigrations {
            target: engine.target().to_string(),
            failed,
        });
    }

    let dialect = engine.provider().dialect();
    let mut applied = 0;
    let mut steps = Vec::new();
    for migration in &dir.migrations {
        if rows
            .iter()
            .any(|r| r.migration_name == migration.name && r.is_live())
        {
            applied += 1;
            continue;
        }
        let profile = ScriptProfile::of(&migration.script, dialect);
        let mode = if engine.transactional_ddl() && profile.fits_in_transaction() {
            Mode::Transactional
        } else {
            Mode::Direct
        };
        steps.push(Step {
            migration,
            mode,
            profile,
        });
    }
    Ok(Plan {
        history_exists,
        applied,
        steps,
    })
}

/// Applies every pending migration in folder order under the migration lock, stopping at
/// the first failure (P3018).
pub async fn deploy(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    lock_options: &LockOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Error> {
    lock::acquire(engine, lock_options, &mut |holder| {
        on_event(Event::WaitingForLock { holder })
    })
    .await?;
    let result = deploy_locked(engine, dir, on_event).await;
    lock::release(engine, lock_options).await;
    result
}

async fn deploy_locked(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Error> {
    // Planned only now, under the lock: another deployer may have just finished.
    let plan = plan(engine, dir).await?;
    if !plan.history_exists {
        engine.create_history().await?;
        on_event(Event::CreatedHistoryTable);
    }
    let mut outcome = Outcome {
        applied: Vec::new(),
        already_applied: plan.applied,
    };
    for step in &plan.steps {
        let started = Instant::now();
        apply(engine, step).await?;
        on_event(Event::Applied {
            name: &step.migration.name,
            mode: step.mode,
            elapsed: started.elapsed(),
        });
        outcome.applied.push(step.migration.name.clone());
    }
    Ok(outcome)
}

/// Why a transactional attempt stopped.
enum Stop {
    /// The migration's own SQL failed: it is the migration's failure.
    Script(ScriptError),
    /// safemig's bookkeeping failed: the connection or the history table is the problem.
    Bookkeeping(Error),
}

async fn apply(engine: &mut dyn Engine, step: &Step<'_>) -> Result<(), Error> {
    let migration = step.migration;
    let row = HistoryRow::started(&migration.name, &migration.checksum);
    match step.mode {
        Mode::Transactional => {
            engine.begin(&step.profile).await?;
            let attempt = async {
                engine.insert_row(&row).await.map_err(Stop::Bookkeeping)?;
                engine
                    .run_script(&migration.script)
                    .await
                    .map_err(Stop::Script)?;
                engine
                    .mark_finished(&row.id, history::now())
                    .await
                    .map_err(Stop::Bookkeeping)?;
                engine.commit().await.map_err(Stop::Script)
            }
            .await;
            let Err(stop) = attempt else {
                return Ok(());
            };
            if let Err(e) = engine.rollback().await {
                tracing::warn!("rolling back `{}` failed: {e}", migration.name);
            }
            match stop {
                Stop::Bookkeeping(e) => Err(e),
                Stop::Script(error) => {
                    // Nothing of the migration was applied. Keep a record of the attempt
                    // that no deploy treats as a failure (Prisma ignores rolled-back rows),
                    // so the fixed migration applies without a manual resolve.
                    let attempt = HistoryRow {
                        logs: Some(history::failure_log(&error.message, error.code.as_deref())),
                        rolled_back_at: Some(history::now()),
                        ..row
                    };
                    engine.insert_row(&attempt).await?;
                    Err(Error::MigrationFailed {
                        name: migration.name.clone(),
                        script: migration.script_path.clone(),
                        message: error.message,
                        rolled_back: true,
                    })
                }
            }
        }
        Mode::Direct => {
            engine.insert_row(&row).await?;
            match engine.run_script(&migration.script).await {
                Ok(()) => engine.mark_finished(&row.id, history::now()).await,
                Err(error) => {
                    // A script that opened its own transaction may have left it open and
                    // aborted; end it so the failure can be recorded on this connection.
                    if let Err(e) = engine.rollback().await {
                        tracing::debug!("no transaction to end after the failure: {e}");
                    }
                    let logs = history::failure_log(&error.message, error.code.as_deref());
                    engine.mark_failed(&row.id, &logs).await?;
                    Err(Error::MigrationFailed {
                        name: migration.name.clone(),
                        script: migration.script_path.clone(),
                        message: error.message,
                        rolled_back: false,
                    })
                }
            }
        }
    }
}
