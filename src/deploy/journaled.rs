//! A migration applied statement by statement, each step recorded in the row's journal so
//! that a kill at any instant leaves a state the next deploy can finish.
//!
//! Every statement falls in one of these categories, which decide how its completion and
//! its journal write are tied together:
//!
//! - **atomic**: safemig wraps the statement and its journal write in one transaction
//!   (PostgreSQL and SQLite: anything a transaction allows; MySQL: data statements). After a
//!   crash the journal is exactly right.
//! - **in the script's transaction**: between the script's own `BEGIN` and `COMMIT` the
//!   journal is not written at all: the script's statements must see exactly what they
//!   would see without safemig (`SET TRANSACTION ISOLATION LEVEL`, `SET LOCAL`, `LOCK
//!   TABLE` must come first, and a history write would take the transaction's snapshot
//!   and locks before them). Their progress is written with the in-flight record of the
//!   `COMMIT` (or of MySQL DDL, which commits implicitly), which rides in that
//!   transaction: after a crash the journal says either "before the `BEGIN`" or
//!   "committed".
//! - **session**: `SET`, `PREPARE`, pragmas: run bare, and replayed on resume because the
//!   statements after them depend on the session they set up.
//! - **in flight**: the rest (MySQL DDL, which commits implicitly; `CREATE INDEX
//!   CONCURRENTLY` and the like; the script's `COMMIT`). Before it runs, the journal records
//!   it with the state of what it changes; on resume that state, compared with the live
//!   schema, tells whether it ran.

use super::resume::{InFlightVerdict, excerpt, state_hash};
use super::retry::{LockRetry, Next, Place, StatementAt};
use super::{Run, Step};
use crate::Error;
use crate::engine::{Engine, ErrorKind, ScriptError};
use crate::error::Applied;
use crate::error::{DatabaseError, DeployError};
use crate::failpoint;
use crate::history::{self, HistoryRow};
use crate::interrupt::Interrupt;
use crate::journal::{Attempts, InFlight, Journal, statement_hash};
use crate::migrations::LocalMigration;
use crate::sql::{self, Dialect, ScriptProfile, Statement, StatementKind, Target, TxEffect};
use crate::text;

/// How a statement is tied to its journal write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Session,
    Opens,
    Closes,
    InScriptTransaction,
    Atomic,
    InFlight,
}

fn categorize(
    stmt: &Statement<'_>,
    dialect: Dialect,
    transactional_ddl: bool,
    in_tx: bool,
) -> Category {
    match stmt.tx_effect(dialect) {
        TxEffect::Opens => return Category::Opens,
        TxEffect::Closes => return Category::Closes,
        TxEffect::None => {}
    }
    if stmt.kind == StatementKind::TransactionControl {
        // SAVEPOINT, RELEASE, ROLLBACK TO: only meaningful inside the script's transaction.
        return Category::InScriptTransaction;
    }
    if stmt.is_session(dialect) {
        return Category::Session;
    }
    if !transactional_ddl && stmt.kind != StatementKind::Dml {
        // MySQL: DDL commits implicitly, dynamic SQL and routines may hold DDL.
        return Category::InFlight;
    }
    if in_tx {
        return Category::InScriptTransaction;
    }
    if stmt.kind == StatementKind::NoTransaction {
        return Category::InFlight;
    }
    Category::Atomic
}

/// The journal and the row it lives in.
struct Progress<'a> {
    row_id: String,
    journal: Journal,
    migration: &'a LocalMigration,
}

impl Progress<'_> {
    async fn save(&mut self, engine: &mut dyn Engine) -> Result<(), Error> {
        self.journal.updated_at = Some(history::now());
        let done = u32::try_from(self.journal.done).unwrap_or(u32::MAX);
        engine
            .update_journal(&self.row_id, done, &self.journal.to_logs())
            .await
    }

    fn interrupted(&self, what: &str) -> Error {
        Error::Deploy(DeployError::Interrupted {
            detail: format!(
                "{what} `{}` after {} of {}; the next deploy resumes it",
                text::escaped(&self.migration.name),
                self.journal.done,
                text::count(self.journal.total(), "statement")
            ),
        })
    }

    /// The connection died under a statement: nothing can be recorded on it, and nothing
    /// needs to be. The journal says what the next deploy must check.
    fn connection_lost(
        &self,
        engine: &dyn Engine,
        stmt: &Statement<'_>,
        error: ScriptError,
    ) -> Error {
        Error::Database(DatabaseError::ConnectionLost {
            target: engine.target().to_string(),
            action: format!(
                "running statement {} of {} of `{}` (line {})",
                self.journal.done + 1,
                self.journal.total(),
                text::escaped(&self.migration.name),
                stmt.line
            ),
            message: error.message,
        })
    }
}

/// Applies `step`'s migration statement by statement, each tied to its journal write as
/// its category says (see above), and finishes the row. A statement that gave up waiting
/// for a lock runs again after a pause, as `retry` allows ([`lock_wait_ran_out`]).
pub(super) async fn apply(
    engine: &mut dyn Engine,
    step: &Step<'_>,
    interrupt: &Interrupt,
    retry: &mut LockRetry<'_>,
) -> Result<(), Error> {
    let migration = step.migration;
    let dialect = engine.provider().dialect();
    let transactional_ddl = engine.capabilities().transactional_ddl;
    let statements = sql::executable_statements(migration.sql(), dialect);
    let mut progress = open_progress(engine, step, &statements, dialect).await?;

    let mut in_tx = false;
    // Where the script's own transaction began: a rollback returns the journal there.
    let mut tx_start = 0;
    while progress.journal.done < statements.len() {
        let k = progress.journal.done;
        if interrupt.stop_requested() {
            if in_tx {
                engine.rollback().await?;
                progress.journal.done = tx_start;
            }
            return Err(stopped(engine, &mut progress, "stopped").await);
        }
        let stmt = &statements[k];
        if let Some(refusal) = engine.refuse_statement(stmt.sql) {
            let script_tx = in_tx.then_some(tx_start);
            return Err(refused(engine, &mut progress, stmt, refusal, script_tx).await);
        }
        let category = categorize(stmt, dialect, transactional_ddl, in_tx);
        match category {
            Category::Atomic => engine.begin(&ScriptProfile::default()).await?,
            Category::InFlight | Category::Closes => {
                record_in_flight(engine, &mut progress, stmt, category, dialect).await?;
            }
            Category::Opens => tx_start = k,
            Category::Session | Category::InScriptTransaction => {}
        }

        failpoint::hit("during_statement");
        let at = StatementAt {
            number: k + 1,
            total: statements.len(),
            line: stmt.line,
        };
        let shown = excerpt(stmt.sql);
        let place = Place {
            migration: &migration.name,
            statement: Some((at, &shown)),
        };
        match retry
            .attempt(engine, stmt.sql, &place, interrupt.cancel_due(), interrupt)
            .await
        {
            Run::Done => {}
            Run::Cancelled => {
                if in_tx {
                    progress.journal.done = tx_start;
                }
                let open = category == Category::Atomic || in_tx;
                return Err(cancelled(engine, &mut progress, interrupt, open).await);
            }
            Run::Failed(error) if error.kind == ErrorKind::ConnectionLost => {
                return Err(progress.connection_lost(engine, stmt, error));
            }
            Run::Failed(error) if error.kind == ErrorKind::LockWaitTimeout => {
                let script_tx = in_tx.then_some(tx_start);
                let ran_out = LockWaitRanOut {
                    stmt,
                    at,
                    category,
                    script_tx,
                    error,
                };
                lock_wait_ran_out(engine, &mut progress, ran_out, retry, interrupt).await?;
                // Run again from where the journal now stands.
                in_tx = false;
                continue;
            }
            Run::Failed(error) => {
                let outcome = outcome_of(category, in_tx, tx_start, k);
                return Err(fail(engine, &mut progress, stmt, error, outcome).await);
            }
        }
        failpoint::hit("after_statement");

        in_tx = in_script_transaction_after(category, in_tx, transactional_ddl);
        progress.journal.in_flight = None;
        progress.journal.attempts = None;
        progress.journal.done = k + 1;
        if !in_tx {
            progress.save(engine).await?;
        }
        if category == Category::Atomic
            && let Err(error) = engine.commit().await
        {
            return Err(commit_failed(engine, &mut progress, stmt, k, error).await);
        }
    }
    if in_tx {
        return Err(never_committed(engine, &mut progress, &statements[tx_start], tx_start).await);
    }
    failpoint::hit("before_finish");
    engine
        .finish(&progress.row_id, &migration.checksum, history::now())
        .await
}

/// A statement that gave up waiting for its lock, and where it was.
struct LockWaitRanOut<'a, 's> {
    stmt: &'a Statement<'s>,
    at: StatementAt,
    category: Category,
    /// Where the script's open transaction began, if one was open.
    script_tx: Option<usize>,
    error: ScriptError,
}

/// A statement gave up waiting for its lock: rolls back what is open, sets the journal
/// back to what runs again (the statement, or the script's `BEGIN` when it was inside the
/// script's transaction, which rolled back whole) and pauses for the next attempt; `Ok`
/// means run again. The journal records no failure while retries remain: on a stop or
/// once the bound has run out, it stays as consistent as after an interruption, and the
/// next deploy continues. A statement that ran outside any transaction and may have left
/// something behind (PostgreSQL's `CREATE INDEX CONCURRENTLY`) is retried only once its
/// target is proven unchanged; otherwise it is a failure like any other.
async fn lock_wait_ran_out(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    ran_out: LockWaitRanOut<'_, '_>,
    retry: &mut LockRetry<'_>,
    interrupt: &Interrupt,
) -> Result<(), Error> {
    let transactional_ddl = engine.capabilities().transactional_ddl;
    let LockWaitRanOut {
        stmt,
        at,
        category,
        script_tx,
        error,
    } = ran_out;
    let k = progress.journal.done;
    let again = if category == Category::InFlight {
        // MySQL DDL (which committed the script's transaction before it ran): error 1205
        // means it was rolled back.
        !transactional_ddl
            || (script_tx.is_none()
                && applied_nothing(engine, progress.journal.in_flight.as_ref()).await)
    } else if let Some(tx_start) = script_tx {
        engine.rollback().await?;
        progress.journal.done = tx_start;
        true
    } else if category == Category::Atomic {
        engine.rollback().await?;
        true
    } else {
        false
    };
    if !again {
        let outcome = outcome_of(category, script_tx.is_some(), script_tx.unwrap_or(k), k);
        return Err(fail(engine, progress, stmt, error, outcome).await);
    }
    let migration = progress.migration;
    let shown = excerpt(stmt.sql);
    let place = Place {
        migration: &migration.name,
        statement: Some((at, &shown)),
    };
    let next = retry.after_lock_wait(&place, interrupt).await;
    if matches!(next, Next::Again) {
        return Ok(());
    }
    // Nothing of the statement was applied: nothing is in flight.
    progress.journal.in_flight = None;
    progress.journal.attempts = None;
    progress.save(engine).await?;
    Err(match next {
        Next::GiveUp => retry.gave_up(&place, progress.journal.done),
        _ => progress.interrupted("stopped waiting for a table lock in"),
    })
}

/// The journal this run continues: a resumed row's, prepared on this connection, or the
/// one of a row inserted now.
async fn open_progress<'a>(
    engine: &mut dyn Engine,
    step: &Step<'a>,
    statements: &[Statement<'_>],
    dialect: Dialect,
) -> Result<Progress<'a>, Error> {
    let migration = step.migration;
    let Some(resume) = &step.resume else {
        return insert_started(engine, migration, statements, dialect).await;
    };
    let mut progress = Progress {
        row_id: resume.row_id.clone(),
        journal: resume.journal.clone(),
        migration,
    };
    prepare_resume(
        engine,
        statements,
        &mut progress,
        &resume.in_flight,
        dialect,
    )
    .await?;
    Ok(progress)
}

/// Inserts the migration's started row, its journal holding every statement's hash.
async fn insert_started<'a>(
    engine: &mut dyn Engine,
    migration: &'a LocalMigration,
    statements: &[Statement<'_>],
    dialect: Dialect,
) -> Result<Progress<'a>, Error> {
    let hashes = statements
        .iter()
        .map(|s| statement_hash(s, dialect))
        .collect();
    let journal = Journal {
        updated_at: Some(history::now()),
        ..Journal::new(hashes)
    };
    let row = HistoryRow {
        logs: Some(journal.to_logs()),
        ..HistoryRow::started(&migration.name, &migration.checksum)
    };
    engine.insert_row(&row).await?;
    failpoint::hit("after_insert");
    Ok(Progress {
        row_id: row.id,
        journal,
        migration,
    })
}

/// A statement the engine refuses to send (`script_tx`: where the script's open
/// transaction began, if one is open). Never sent: the server would drop the connection,
/// and every resume would fail the same way without saying why.
async fn refused(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    stmt: &Statement<'_>,
    refusal: String,
    script_tx: Option<usize>,
) -> Error {
    if let Some(tx_start) = script_tx {
        if let Err(e) = engine.rollback().await {
            tracing::warn!("rolling back after the refusal failed: {e}");
        }
        progress.journal.done = tx_start;
    }
    progress.journal.refused = true;
    let error = ScriptError::statement(refusal);
    fail(engine, progress, stmt, error, Outcome::NotRun).await
}

/// Records the statement about to run in flight, with the state of what it changes (or,
/// for the script's `COMMIT`, of the commit), so a resume can tell whether it ran.
async fn record_in_flight(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    stmt: &Statement<'_>,
    category: Category,
    dialect: Dialect,
) -> Result<(), Error> {
    let target = match category {
        Category::Closes => Target::Commit,
        _ => sql::target(stmt, dialect),
    };
    let before = match engine.snapshot(&target).await? {
        Some(snapshot) => state_hash(&snapshot.state),
        None => String::new(),
    };
    progress.journal.in_flight = Some(InFlight {
        statement: progress.journal.done,
        target,
        before,
    });
    progress.save(engine).await
}

/// A statement cancelled by a stop, the journal already back at what is committed;
/// `open`: whether a transaction (safemig's or the script's) is open around it.
async fn cancelled(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    interrupt: &Interrupt,
    open: bool,
) -> Error {
    if interrupt.abandoned() {
        // Nothing more is sent on the connection: its session ends with it, rolling back
        // what is open; the journal already says what to check.
        return progress.interrupted("abandoned a statement of");
    }
    if open && let Err(e) = engine.rollback().await {
        tracing::warn!("rolling back the cancelled statement failed: {e}");
    }
    stopped(engine, progress, "cancelled a statement of").await
}

/// Whether the script's own transaction is open after a statement of `category` ran.
fn in_script_transaction_after(category: Category, in_tx: bool, transactional_ddl: bool) -> bool {
    match category {
        Category::Opens => true,
        Category::Closes => false,
        // MySQL DDL ends any open transaction implicitly.
        Category::InFlight if !transactional_ddl => false,
        _ => in_tx,
    }
}

/// The commit of safemig's transaction around statement `k` failed: the connection died
/// under it, or a check deferred to commit time failed, so the statement failed.
async fn commit_failed(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    stmt: &Statement<'_>,
    k: usize,
    error: ScriptError,
) -> Error {
    if error.kind == ErrorKind::ConnectionLost {
        return progress.connection_lost(engine, stmt, error);
    }
    progress.journal.done = k;
    fail(engine, progress, stmt, error, Outcome::RolledBack { to: k }).await
}

/// The script's `BEGIN` (statement `tx_start`) without its `COMMIT`: the transaction would
/// roll back when the connection closes, and every deploy would start it again.
async fn never_committed(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    begin: &Statement<'_>,
    tx_start: usize,
) -> Error {
    if let Err(e) = engine.rollback().await {
        return e;
    }
    progress.journal.done = tx_start;
    let error = ScriptError::statement(
        "the script's transaction is never committed: add COMMIT at its end".into(),
    );
    fail(
        engine,
        progress,
        begin,
        error,
        Outcome::RolledBack { to: tx_start },
    )
    .await
}

/// Records a stop by a signal: the journal is consistent as it is; what is written is
/// only that this was not a lost connection (so it does not count as a stuck attempt).
async fn stopped(engine: &mut dyn Engine, progress: &mut Progress<'_>, what: &str) -> Error {
    if progress.journal.attempts.take().is_some()
        && let Err(e) = progress.save(engine).await
    {
        tracing::warn!("recording the stop failed: {e}");
    }
    progress.interrupted(what)
}

/// Prepares a migration to continue: counts the attempt, replays the session statements
/// already done on this new connection, and settles the statement that was in flight as
/// [`super::resume::assess`] decided.
async fn prepare_resume(
    engine: &mut dyn Engine,
    statements: &[Statement<'_>],
    progress: &mut Progress<'_>,
    in_flight: &InFlightVerdict,
    dialect: Dialect,
) -> Result<(), Error> {
    let done = progress.journal.done;
    let count = match progress.journal.attempts {
        Some(a) if a.statement == done => a.count + 1,
        _ => 1,
    };
    progress.journal.attempts = Some(Attempts {
        statement: done,
        count,
    });
    for stmt in statements[..done].iter().filter(|s| s.is_session(dialect)) {
        engine.run_script(stmt.sql).await.map_err(|e| {
            Error::Deploy(DeployError::CannotResume {
                name: progress.migration.name.clone(),
                reason: format!(
                    "replaying the session statement at line {} (`{}`) failed: {}",
                    stmt.line,
                    excerpt(stmt.sql),
                    e.message
                ),
                inspect: "check the objects that statement reads".into(),
            })
        })?;
    }
    progress.journal.in_flight = None;
    match in_flight {
        InFlightVerdict::None | InFlightVerdict::RunAgain => {}
        InFlightVerdict::Ran => progress.journal.done += 1,
        InFlightVerdict::RepairThenRunAgain(target) => engine.repair_incomplete(target).await?,
    }
    if let Some(stmt) = statements.get(done) {
        tracing::info!(
            "resuming `{}` at statement {} (line {}): the statement in flight {}",
            text::escaped(&progress.migration.name),
            done + 1,
            stmt.line,
            match in_flight {
                InFlightVerdict::None => "was none",
                InFlightVerdict::Ran => "had completed",
                _ => "runs again",
            }
        );
    }
    progress.save(engine).await
}

/// How much of the failed statement, and of the migration, is applied after a failure.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Rolled back to statement `to`: safemig's transaction around one statement, or the
    /// script's own transaction, begun at `to`.
    RolledBack { to: usize },
    /// Never sent to the server.
    NotRun,
    /// Ran outside any transaction (MySQL DDL, statements refused in a transaction,
    /// session statements): the schema tells whether it changed anything.
    Inspect,
}

fn outcome_of(category: Category, in_tx: bool, tx_start: usize, k: usize) -> Outcome {
    if in_tx {
        Outcome::RolledBack { to: tx_start }
    } else {
        match category {
            Category::Atomic => Outcome::RolledBack { to: k },
            // A failed SET, PREPARE or pragma changes nothing.
            Category::Session => Outcome::NotRun,
            _ => Outcome::Inspect,
        }
    }
}

/// Whether the failed in-flight statement left its target as it was (after cleaning up a
/// half-built index): then it applied nothing.
async fn applied_nothing(engine: &mut dyn Engine, in_flight: Option<&InFlight>) -> bool {
    let Some(in_flight) = in_flight.filter(|f| !f.before.is_empty()) else {
        return false;
    };
    let mut now = engine.snapshot(&in_flight.target).await;
    if let Ok(Some(snapshot)) = &now
        && !snapshot.complete
        && engine.repair_incomplete(&in_flight.target).await.is_ok()
    {
        now = engine.snapshot(&in_flight.target).await;
    }
    matches!(now, Ok(Some(snapshot)) if state_hash(&snapshot.state) == in_flight.before)
}

/// Records a statement that really failed: rolls back what is open, keeps the error in the
/// journal, and tells how much is applied. When the failed statement applied nothing, deploy
/// retries from it once the cause is fixed; when nothing at all is applied, the attempt is
/// recorded rolled back and blocks nothing, as in transactional mode.
async fn fail(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    stmt: &Statement<'_>,
    error: ScriptError,
    outcome: Outcome,
) -> Error {
    let failed_at = progress.journal.done;
    let clean = match outcome {
        Outcome::RolledBack { to } => {
            if let Err(e) = engine.rollback().await {
                tracing::warn!("rolling back after the failure failed: {e}");
            }
            // The journal writes since the script's BEGIN rolled back with it.
            progress.journal.done = to;
            true
        }
        Outcome::NotRun => true,
        Outcome::Inspect => applied_nothing(engine, progress.journal.in_flight.as_ref()).await,
    };
    let applied = match (clean, progress.journal.done) {
        (true, 0) => Applied::Nothing,
        (true, from) => Applied::Before(from),
        (false, _) => Applied::Unknown,
    };
    progress.journal.in_flight = None;
    progress.journal.attempts = None;
    progress.journal.failed_at = Some(failed_at);
    progress.journal.retry_from = clean.then_some(progress.journal.done);
    let code = error
        .code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let message = error
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    progress.journal.error = Some(format!("line {}: {message}{code}", stmt.line));
    let recorded = async {
        progress.save(engine).await?;
        if applied == Applied::Nothing {
            engine
                .mark_rolled_back(&progress.row_id, history::now())
                .await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = recorded {
        return e;
    }
    let migration = progress.migration;
    Error::Deploy(DeployError::MigrationFailed {
        name: migration.name.clone(),
        script: migration.script_path.clone(),
        message: format!(
            "statement {} of {} (line {}): {}",
            failed_at + 1,
            progress.journal.total(),
            stmt.line,
            error.message
        ),
        applied,
    })
}
