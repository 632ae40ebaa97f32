//! `resolve`: Prisma's manual history corrections, with Prisma's refusals.

use crate::Error;
use crate::engine::Engine;
use crate::history::{self, HistoryRow};
use crate::interrupt::Interrupt;
use crate::lock::{self, LockOptions};
use crate::migrations::MigrationsDir;

/// What a resolve changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Failed rows of the migration now marked rolled back.
    pub rolled_back_rows: usize,
    /// Whether a finished row was recorded (`--applied`).
    pub recorded_applied: bool,
}

/// `resolve --applied NAME`: records the migration as applied without running it, after
/// marking its failed attempts rolled back. This is also how a database is baselined, so
/// the history table is created when missing.
pub async fn mark_applied(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    name: &str,
    lock_options: &LockOptions,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<Resolved, Error> {
    let migration = dir.find(name).ok_or_else(|| Error::UnknownMigration {
        name: name.to_string(),
        dir: dir.path.clone(),
    })?;
    dir.check_provider(engine.provider())?;
    crate::deploy::refuse_prisma_next(engine).await?;
    lock::acquire(engine, lock_options, interrupt, on_wait).await?;
    let result = async {
        if !engine.history_exists().await? {
            engine.create_history().await?;
        }
        let rows = engine.read_history().await?;
        let rows: Vec<&HistoryRow> = rows.iter().filter(|r| r.migration_name == name).collect();
        if rows.iter().any(|r| r.is_applied()) {
            return Err(Error::AlreadyApplied {
                name: name.to_string(),
            });
        }
        let rolled_back_rows = roll_back_failed(engine, &rows).await?;
        engine
            .insert_row(&HistoryRow::resolved_applied(name, &migration.checksum))
            .await?;
        Ok(Resolved {
            rolled_back_rows,
            recorded_applied: true,
        })
    }
    .await;
    lock::release(engine, lock_options).await;
    result
}

/// `resolve --rolled-back NAME`: marks the migration's failed rows rolled back, so deploy
/// applies it again. The folder is not needed: a failed migration may have been deleted.
pub async fn mark_rolled_back(
    engine: &mut dyn Engine,
    name: &str,
    lock_options: &LockOptions,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(lock::Wait<'_>),
) -> Result<Resolved, Error> {
    crate::deploy::refuse_prisma_next(engine).await?;
    lock::acquire(engine, lock_options, interrupt, on_wait).await?;
    let result = async {
        let rows = if engine.history_exists().await? {
            engine.read_history().await?
        } else {
            Vec::new()
        };
        let rows: Vec<&HistoryRow> = rows.iter().filter(|r| r.migration_name == name).collect();
        if rows.is_empty() {
            return Err(Error::NeverApplied {
                name: name.to_string(),
            });
        }
        if !rows.iter().any(|r| r.is_failed()) {
            return Err(Error::NotFailed {
                name: name.to_string(),
            });
        }
        Ok(Resolved {
            rolled_back_rows: roll_back_failed(engine, &rows).await?,
            recorded_applied: false,
        })
    }
    .await;
    lock::release(engine, lock_options).await;
    result
}

async fn roll_back_failed(engine: &mut dyn Engine, rows: &[&HistoryRow]) -> Result<usize, Error> {
    let mut count = 0;
    for row in rows.iter().filter(|r| r.is_failed()) {
        engine.mark_rolled_back(&row.id, history::now()).await?;
        count += 1;
    }
    Ok(count)
}
