//! `deploy`: Prisma's apply algorithm, made crash-safe (ARCHITECTURE.md, "The crash-safety model").
//!
//! Prisma writes the history row, runs the script and finishes the row as separate commits,
//! so a kill in between leaves a failed row and every later deploy stops on P3009. safemig
//! runs each migration in one of two modes:
//!
//! - [`Mode::Transactional`] (engines with transactional DDL: PostgreSQL, SQLite): the
//!   script, then the INSERT of its already finished history row, in one transaction. A kill
//!   leaves nothing or a finished row.
//! - [`Mode::Journaled`] (MySQL/MariaDB always; PostgreSQL and SQLite for scripts that manage
//!   their own transactions or hold statements refused in one): statement by statement,
//!   progress recorded on the row ([`crate::journal`]), so the next deploy resumes where a
//!   kill stopped it.

mod journaled;
mod long_statement;
pub mod resume;
mod retry;
mod transactional;

use crate::error::{DatabaseError, DeployError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Error;
use crate::context::Context;
use crate::engine::{Access, Engine};
use crate::error::FailedMigration;
use crate::history::HistoryRow;
use crate::interrupt::{CANCEL_GRACE, Interrupt, TERMINATE_GRACE};
use crate::journal::Journal;
use crate::lock::{self, LockOptions};
use crate::lock_wait::LockWait;
use crate::migrations::{LocalMigration, MigrationsDir};
use crate::provider::Provider;
use crate::sql::ScriptProfile;

pub use long_statement::StillRunning;
pub use retry::{Retrying, StatementAt};

/// How a migration is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The script and the INSERT of its finished history row in one transaction.
    Transactional,
    /// Statement by statement, each recorded in the row's journal.
    Journaled,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Transactional => "transactional",
            Mode::Journaled => "journaled",
        }
    }
}

/// An interrupted journaled migration to continue, or one whose failed statement applied
/// nothing, to retry from that statement.
#[derive(Debug, Clone)]
pub struct Resume {
    pub row_id: String,
    pub journal: Journal,
    /// What to do with the statement that was in flight.
    pub in_flight: resume::InFlightVerdict,
    /// Whether this retries from a failed statement that applied nothing.
    pub retrying: bool,
}

/// A migration deploy will apply, and how.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub migration: &'a LocalMigration,
    pub mode: Mode,
    pub profile: ScriptProfile,
    pub resume: Option<Resume>,
}

impl Step<'_> {
    /// Why the step runs in its mode (or resumes), in a phrase for `deploy --dry-run`.
    pub fn reason(&self, provider: Provider) -> String {
        match (&self.resume, self.mode) {
            (Some(resume), _) if resume.retrying => format!(
                "failed earlier at a statement that applied nothing: retries from statement {} of {}",
                resume.journal.done + 1,
                resume.journal.total()
            ),
            (Some(resume), _) => format!(
                "interrupted earlier: resumes at statement {} of {}",
                resume.journal.done + 1,
                resume.journal.total()
            ),
            (None, Mode::Transactional) => "runs with its history row in one transaction".into(),
            (None, Mode::Journaled) if provider == Provider::Mysql => {
                "MySQL commits DDL implicitly: statement by statement, journaled".into()
            }
            (None, Mode::Journaled) if self.profile.transaction_control => {
                "the script manages its own transactions: statement by statement, journaled".into()
            }
            (None, Mode::Journaled) => {
                "has statements that cannot run in a transaction: statement by statement, journaled"
                    .into()
            }
        }
    }
}

/// What deploy would do to the database as it is now.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub history_exists: bool,
    /// Migrations of the folder already applied.
    pub applied: usize,
    pub steps: Vec<Step<'a>>,
}

/// What `deploy --dry-run` found.
#[derive(Debug)]
pub enum DryRun<'a> {
    /// The SQLite file does not exist yet: deploy would create it and apply every
    /// migration of the folder.
    NoDatabase { target: String, migrations: usize },
    /// The database exists: what deploy would do to it.
    Plan {
        target: String,
        provider: Provider,
        plan: Plan<'a>,
    },
}

impl DryRun<'_> {
    /// How many migrations deploy would apply.
    pub fn pending(&self) -> usize {
        match self {
            DryRun::NoDatabase { migrations, .. } => *migrations,
            DryRun::Plan { plan, .. } => plan.steps.len(),
        }
    }
}

/// Progress, reported as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// Connected to the database, before the lock is taken.
    Connected {
        target: &'a str,
    },
    /// The lock is busy; deploy waits for it.
    WaitingForLock(lock::Wait<'a>),
    CreatedHistoryTable,
    /// An interrupted migration continues.
    Resuming {
        name: &'a str,
        done: usize,
        total: usize,
    },
    Applied {
        name: &'a str,
        mode: Mode,
        elapsed: Duration,
    },
    /// A migration (or a statement of one) gave up waiting for a table lock, applying
    /// nothing; it runs again after a pause.
    RetryingLockWait(Retrying<'a>),
    /// A statement has run for a while and runs on: every few seconds.
    StillRunning(StillRunning<'a>),
}

/// What a deploy did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub applied: Vec<String>,
    pub already_applied: usize,
}

/// What deploy needs besides the database and the folder.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lock: LockOptions,
    /// How long the migrations' statements wait for table locks, and retry.
    pub lock_wait: LockWait,
    pub interrupt: Interrupt,
}

/// `safemig deploy --dry-run`: what deploy would do to the database of `ctx` with the
/// folder `dir` (loaded by the caller), read-only. A database deploy would create (a missing
/// SQLite file) is a plan too, not an error.
pub async fn dry_run<'a>(ctx: &Context, dir: &'a MigrationsDir) -> Result<DryRun<'a>, Error> {
    dir.check_provider(ctx.url.provider())?;
    let mut engine = match ctx.connect(Access::ReadOnly).await {
        Ok(engine) => engine,
        Err(Error::Database(DatabaseError::DatabaseMissing { target }))
            if ctx.url.provider().deploy_creates_database() =>
        {
            return Ok(DryRun::NoDatabase {
                target,
                migrations: dir.migrations.len(),
            });
        }
        Err(e) => return Err(e),
    };
    let plan = plan(&mut *engine, dir).await?;
    Ok(DryRun::Plan {
        target: engine.target().to_string(),
        provider: engine.provider(),
        plan,
    })
}

/// `safemig deploy`: checks the folder `dir` (loaded by the caller) against the database of
/// `ctx`, connects, and [`deploy`]s under the lock, reporting progress to `on_event`.
pub async fn run(
    ctx: &Context,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Error> {
    dir.check_provider(ctx.url.provider())?;
    if interrupt.stop_requested() {
        return Err(Error::Deploy(DeployError::Interrupted {
            detail: "stopped before connecting; nothing was applied".into(),
        }));
    }
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    on_event(Event::Connected {
        target: engine.target(),
    });
    let options = Options {
        lock: ctx.lock,
        lock_wait: ctx.lock_wait,
        interrupt: interrupt.clone(),
    };
    deploy(&mut *engine, dir, &options, on_event).await
}

/// Works out what deploy would do, refusing where Prisma refuses: a provider mismatch
/// (P3019), tables without a history (P3005), failed migrations in the history (P3009).
/// Unlike Prisma, a migration safemig itself left interrupted is not a failure: it is
/// planned as a resumption.
pub async fn plan<'a>(engine: &mut dyn Engine, dir: &'a MigrationsDir) -> Result<Plan<'a>, Error> {
    dir.check_provider(engine.provider())?;
    refuse_prisma_next(engine).await?;
    let history_exists = engine.history_exists().await?;
    let rows = if history_exists {
        engine.read_history().await?
    } else {
        let objects = engine.user_objects().await?;
        if !objects.is_empty() {
            return Err(Error::Deploy(DeployError::NotEmpty {
                target: engine.target().to_string(),
                objects,
            }));
        }
        Vec::new()
    };

    let mut resumable: Vec<(&HistoryRow, Journal)> = Vec::new();
    let mut failed: Vec<FailedMigration> = Vec::new();
    let dialect = engine.provider().dialect();
    for row in rows.iter().filter(|r| r.is_failed()) {
        let journal = continuable(row);
        let local = dir.find(&row.migration_name);
        match (journal, local) {
            (Some(journal), Some(migration))
                if journal.retry_from.is_none() || {
                    let hashes = resume::check_statements(migration, &journal, dialect)?;
                    resume::retry_ready(engine, migration, &journal, &hashes)
                } =>
            {
                resumable.push((row, journal))
            }
            _ => failed.push(FailedMigration {
                name: row.migration_name.clone(),
                started_at: row.started_at,
                logs: row.logs.clone(),
            }),
        }
    }
    if !failed.is_empty() {
        return Err(Error::Deploy(DeployError::FailedMigrations {
            target: engine.target().to_string(),
            failed,
        }));
    }

    let mut applied = 0;
    let mut steps = Vec::new();
    for migration in &dir.migrations {
        if let Some((row, journal)) = resumable
            .iter()
            .rev()
            .find(|(row, _)| row.migration_name == migration.name)
        {
            let hashes = resume::check_statements(migration, journal, dialect)?;
            let in_flight = resume::assess(engine, migration, row, journal, &rows).await?;
            steps.push(Step {
                migration,
                mode: Mode::Journaled,
                profile: ScriptProfile::of(migration.sql(), dialect),
                resume: Some(Resume {
                    row_id: row.id.clone(),
                    retrying: journal.retry_from.is_some(),
                    journal: journal
                        .retried(hashes.clone())
                        .unwrap_or_else(|| journal.with_statements(hashes)),
                    in_flight,
                }),
            });
            continue;
        }
        if rows
            .iter()
            .any(|r| r.migration_name == migration.name && r.is_live())
        {
            applied += 1;
            continue;
        }
        // Only pending migrations are read statement by statement: a deploy with nothing
        // to do does not split the whole history.
        let profile = ScriptProfile::of(migration.sql(), dialect);
        let mode = if engine.capabilities().transactional_ddl && profile.fits_in_transaction() {
            Mode::Transactional
        } else {
            Mode::Journaled
        };
        steps.push(Step {
            migration,
            mode,
            profile,
            resume: None,
        });
    }
    Ok(Plan {
        history_exists,
        applied,
        steps,
    })
}

/// A database handed over to Prisma 8 must not get old-style migrations (nor a history).
pub async fn refuse_prisma_next(engine: &mut dyn Engine) -> Result<(), Error> {
    match engine.prisma_next_marker().await? {
        Some(marker) => Err(Error::Deploy(DeployError::PrismaNext {
            target: engine.target().to_string(),
            marker,
        })),
        None => Ok(()),
    }
}

/// The journal of a failed row that deploy may continue: one safemig left interrupted, or
/// one whose failed statement applied nothing. Other failed rows are Prisma's P3009.
pub fn continuable(row: &HistoryRow) -> Option<Journal> {
    row.logs
        .as_deref()
        .and_then(Journal::from_logs)
        .filter(|j| j.error.is_none() || j.retry_from.is_some())
}

/// Applies every pending migration in folder order under the migration lock, resuming one
/// that was interrupted, and stopping at the first failure (P3018) or on a stop request.
pub async fn deploy(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    options: &Options,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Error> {
    lock::acquire(engine, &options.lock, &options.interrupt, &mut |wait| {
        on_event(Event::WaitingForLock(wait))
    })
    .await?;
    let result = deploy_locked(engine, dir, options, on_event).await;
    // A connection that was let go may still be busy on the server: nothing more is sent
    // on it. The lock ends with its session.
    if !options.interrupt.abandoned() {
        lock::release(engine, &options.lock).await;
    }
    result
}

async fn deploy_locked(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    options: &Options,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Error> {
    let interrupt = &options.interrupt;
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
        if interrupt.stop_requested() {
            return Err(Error::Deploy(DeployError::Interrupted {
                detail: format!(
                    "{} of {} pending migrations applied; the rest were not started",
                    outcome.applied.len(),
                    plan.steps.len()
                ),
            }));
        }
        if let Some(resume) = &step.resume {
            on_event(Event::Resuming {
                name: &step.migration.name,
                done: resume.journal.done,
                total: resume.journal.total(),
            });
        }
        let started = Instant::now();
        // Set again for each migration: the last one's session was reset.
        engine
            .set_lock_wait(options.lock_wait.per_attempt())
            .await?;
        let mut retry = retry::LockRetry::new(options.lock_wait, &mut *on_event);
        let mode = match step.mode {
            Mode::Transactional => {
                transactional::apply(engine, step, interrupt, &mut retry).await?
            }
            Mode::Journaled => {
                journaled::apply(engine, step, interrupt, &mut retry).await?;
                Mode::Journaled
            }
        };
        on_event(Event::Applied {
            name: &step.migration.name,
            mode,
            elapsed: started.elapsed(),
        });
        outcome.applied.push(step.migration.name.clone());
        // What a migration SETs stays with it, as if each ran on a connection of its own.
        engine.reset_session().await?;
    }
    Ok(outcome)
}

/// How a running statement ended.
enum Run {
    Done,
    Failed(crate::engine::ScriptError),
    /// Cancelled on a stop request. When it did not stop even after its session was
    /// terminated, the connection was let go ([`Interrupt::abandoned`]).
    Cancelled,
}

/// Runs SQL on the engine; when `cancel_when` resolves first, stops it in bounded time:
/// a server-side cancel, then, if the statement ignores it for [`CANCEL_GRACE`], the end
/// of its session, and if even that does not end it within [`TERMINATE_GRACE`], letting
/// go of the connection. A statement that completes despite the cancel counts as done.
async fn run_cancellable(
    engine: &mut dyn Engine,
    sql: &str,
    cancel_when: impl std::future::Future<Output = ()>,
    interrupt: &Interrupt,
) -> Run {
    let canceller = engine.canceller();
    let statement = engine.run_script(sql);
    tokio::pin!(statement, cancel_when);
    let finished = |result: Result<(), crate::engine::ScriptError>| match result {
        Ok(()) => Run::Done,
        Err(_) => Run::Cancelled,
    };
    tokio::select! {
        result = &mut statement => return match result {
            Ok(()) => Run::Done,
            Err(e) => Run::Failed(e),
        },
        () = &mut cancel_when => {}
    }
    let steps = [
        (CANCEL_GRACE, "cancelling the running statement"),
        (TERMINATE_GRACE, "terminating its session"),
    ];
    for (i, (grace, action)) in steps.into_iter().enumerate() {
        let request = if i == 0 {
            canceller.cancel()
        } else {
            tracing::warn!("the statement ignored its cancel: {action}");
            canceller.terminate()
        };
        // Asking the server goes over a new connection, which may itself hang: bounded.
        match tokio::time::timeout(grace, request).await {
            Ok(Err(e)) => tracing::warn!("{action} failed: {e}"),
            Err(_) => tracing::warn!("{action} timed out"),
            Ok(Ok(())) => {}
        }
        if let Ok(result) = tokio::time::timeout(grace, &mut statement).await {
            return finished(result);
        }
    }
    tracing::warn!("the session did not end either: letting go of the connection");
    interrupt.abandon();
    Run::Cancelled
}
