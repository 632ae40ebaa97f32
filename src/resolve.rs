//! `resolve`: Prisma's manual history corrections, with Prisma's refusals.

use crate::Error;
use crate::context::Context;
use crate::engine::{Access, Engine};
use crate::error::ResolveError;
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

/// What `resolve` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `--applied NAME`
    Applied(String),
    /// `--rolled-back NAME`
    RolledBack(String),
}

impl Action {
    /// The migration's name.
    pub fn name(&self) -> &str {
        match self {
            Action::Applied(name) | Action::RolledBack(name) => name,
        }
    }
}

/// What happens on the way, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// The migrations folder was read (only `--applied` needs it), before anything is
    /// written: its unreadable bytes are worth a warning.
    FolderRead(&'a MigrationsDir),
    /// The lock is busy; resolve waits for it.
    WaitingForLock(lock::Wait<'a>),
}

/// `safemig resolve`: connects to the database of `ctx` and records `action` under the
/// migration lock.
pub async fn run(
    ctx: &Context,
    action: &Action,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Resolved, Error> {
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    match action {
        Action::Applied(name) => {
            let dir = ctx.migrations()?;
            on_event(Event::FolderRead(&dir));
            let mut on_wait = |wait: lock::Wait<'_>| on_event(Event::WaitingForLock(wait));
            mark_applied(&mut *engine, &dir, name, &ctx.lock, interrupt, &mut on_wait).await
        }
        Action::RolledBack(name) => {
            let mut on_wait = |wait: lock::Wait<'_>| on_event(Event::WaitingForLock(wait));
            mark_rolled_back(&mut *engine, name, &ctx.lock, interrupt, &mut on_wait).await
        }
    }
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
    let migration = dir.find(name).ok_or_else(|| {
        Error::Resolve(ResolveError::UnknownMigration {
            name: name.to_string(),
            dir: dir.path.clone(),
        })
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
            return Err(Error::Resolve(ResolveError::AlreadyApplied {
                name: name.to_string(),
            }));
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
            return Err(Error::Resolve(ResolveError::NeverApplied {
                name: name.to_string(),
            }));
        }
        if !rows.iter().any(|r| r.is_failed()) {
            return Err(Error::Resolve(ResolveError::NotFailed {
                name: name.to_string(),
            }));
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
