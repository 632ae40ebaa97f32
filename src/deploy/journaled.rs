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

use sha2::{Digest, Sha256};

use super::{Run, Step, run_cancellable};
use crate::Error;
use crate::engine::{Engine, ScriptError};
use crate::failpoint;
use crate::history::{self, HistoryRow};
use crate::interrupt::Interrupt;
use crate::journal::{InFlight, Journal, statement_hash};
use crate::migrations::LocalMigration;
use crate::sql::{self, Dialect, ScriptProfile, Statement, StatementKind, Target, TxEffect};

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
    migration: &'a str,
}

impl Progress<'_> {
    async fn save(&self, engine: &mut dyn Engine) -> Result<(), Error> {
        let done = u32::try_from(self.journal.done).unwrap_or(u32::MAX);
        engine
            .update_journal(&self.row_id, done, &self.journal.to_logs())
            .await
    }

    fn interrupted(&self, what: &str) -> Error {
        Error::Interrupted {
            detail: format!(
                "{what} `{}` after {} of {} statements; the next deploy resumes it",
                self.migration,
                self.journal.done,
                self.journal.total()
            ),
        }
    }
}

fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) async fn apply(
    engine: &mut dyn Engine,
    step: &Step<'_>,
    interrupt: &Interrupt,
) -> Result<(), Error> {
    let migration = step.migration;
    let dialect = engine.provider().dialect();
    let transactional_ddl = engine.transactional_ddl();
    let statements = sql::executable_statements(&migration.script, dialect);

    let mut progress = match &step.resume {
        Some(resume) => Progress {
            row_id: resume.row_id.clone(),
            journal: resume.journal.clone(),
            migration: &migration.name,
        },
        None => {
            let hashes = statements
                .iter()
                .map(|s| statement_hash(s, dialect))
                .collect();
            let journal = Journal::new(hashes);
            let row = HistoryRow {
                logs: Some(journal.to_logs()),
                ..HistoryRow::started(&migration.name, &migration.checksum)
            };
            engine.insert_row(&row).await?;
            failpoint::hit("after_insert");
            Progress {
                row_id: row.id,
                journal,
                migration: &migration.name,
            }
        }
    };

    if step.resume.is_some() {
        resume(engine, &statements, &mut progress, dialect).await?;
    }

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
            return Err(progress.interrupted("stopped"));
        }
        let stmt = &statements[k];
        let category = categorize(stmt, dialect, transactional_ddl, in_tx);
        match category {
            Category::Atomic => engine.begin(&ScriptProfile::default()).await?,
            Category::InFlight | Category::Closes => {
                let target = match category {
                    Category::Closes => Target::Commit,
                    _ => sql::target(stmt, dialect),
                };
                let before = match engine.snapshot(&target).await? {
                    Some(snapshot) => state_hash(&snapshot.state),
                    None => String::new(),
                };
                progress.journal.in_flight = Some(InFlight {
                    statement: k,
                    target,
                    before,
                });
                progress.save(engine).await?;
            }
            Category::Opens => tx_start = k,
            Category::Session | Category::InScriptTransaction => {}
        }

        failpoint::hit("during_statement");
        match run_cancellable(engine, stmt.sql, interrupt.cancel_due()).await {
            Run::Done => {}
            Run::Cancelled => {
                if category == Category::Atomic || in_tx {
                    engine.rollback().await?;
                }
                if in_tx {
                    progress.journal.done = tx_start;
                }
                return Err(progress.interrupted("cancelled a statement of"));
            }
            Run::Failed(error) => {
                let undo = undo_for(category, in_tx, tx_start);
                return Err(fail(engine, &mut progress, stmt, error, undo, migration).await);
            }
        }
        failpoint::hit("after_statement");

        match category {
            Category::Opens => in_tx = true,
            Category::Closes => in_tx = false,
            // MySQL DDL ends any open transaction implicitly.
            Category::InFlight if !transactional_ddl => in_tx = false,
            _ => {}
        }
        progress.journal.in_flight = None;
        progress.journal.done = k + 1;
        if !in_tx {
            progress.save(engine).await?;
        }
        if category == Category::Atomic
            && let Err(error) = engine.commit().await
        {
            // A check deferred to commit time failed: the statement failed.
            progress.journal.done = k;
            let undo = Undo::Wrapper;
            return Err(fail(engine, &mut progress, stmt, error, undo, migration).await);
        }
    }
    failpoint::hit("before_finish");
    engine.finish(&progress.row_id, history::now()).await
}

/// Prepares an interrupted migration to continue: replays the session statements already
/// done on this new connection, and settles the statement that was in flight.
async fn resume(
    engine: &mut dyn Engine,
    statements: &[Statement<'_>],
    progress: &mut Progress<'_>,
    dialect: Dialect,
) -> Result<(), Error> {
    let done = progress.journal.done;
    for stmt in statements[..done].iter().filter(|s| s.is_session(dialect)) {
        engine
            .run_script(stmt.sql)
            .await
            .map_err(|e| Error::CannotResume {
                name: progress.migration.to_string(),
                reason: format!(
                    "replaying the session statement at line {} (`{}`) failed: {}",
                    stmt.line,
                    excerpt(stmt.sql),
                    e.message
                ),
                inspect: "check the objects that statement reads".into(),
            })?;
    }
    let Some(in_flight) = progress.journal.in_flight.take() else {
        return Ok(());
    };
    if in_flight.statement != done || done >= statements.len() {
        return Ok(());
    }
    let stmt = &statements[done];
    let ran = match &in_flight.target {
        // Written inside the script's transaction: visible only if that COMMIT happened.
        Target::Commit => true,
        Target::Rerunnable => false,
        Target::Unknown => {
            return Err(undecidable(
                progress,
                stmt,
                "its effect is not something safemig can inspect",
            ));
        }
        target => match engine.snapshot(target).await? {
            None => {
                return Err(undecidable(
                    progress,
                    stmt,
                    "this database cannot show its target",
                ));
            }
            Some(now) if !now.complete => {
                engine.repair_incomplete(target).await?;
                false
            }
            Some(now) => state_hash(&now.state) != in_flight.before,
        },
    };
    tracing::info!(
        "resuming `{}`: statement {} (line {}) {}",
        progress.migration,
        done + 1,
        stmt.line,
        if ran { "had completed" } else { "runs again" }
    );
    if ran {
        progress.journal.done += 1;
    }
    progress.save(engine).await
}

fn undecidable(progress: &Progress<'_>, stmt: &Statement<'_>, why: &str) -> Error {
    Error::CannotResume {
        name: progress.migration.to_string(),
        reason: format!(
            "statement {} of {} (line {}: `{}`) was running when deploy stopped, and {why}",
            progress.journal.done + 1,
            progress.journal.total(),
            stmt.line,
            excerpt(stmt.sql)
        ),
        inspect: format!(
            "check in the database whether `{}` took effect",
            excerpt(stmt.sql)
        ),
    }
}

/// What a failure must roll back.
#[derive(Debug, Clone, Copy)]
enum Undo {
    /// Nothing is open (MySQL DDL, statements refused in a transaction, session statements).
    Nothing,
    /// safemig's transaction around one statement.
    Wrapper,
    /// The script's own transaction, begun at this statement.
    ScriptTransaction(usize),
}

fn undo_for(category: Category, in_tx: bool, tx_start: usize) -> Undo {
    if in_tx {
        Undo::ScriptTransaction(tx_start)
    } else if category == Category::Atomic {
        Undo::Wrapper
    } else {
        Undo::Nothing
    }
}

/// Records a statement that really failed: rolls back what is open, keeps the error in the
/// journal, and leaves the row failed, unless nothing at all was applied.
async fn fail(
    engine: &mut dyn Engine,
    progress: &mut Progress<'_>,
    stmt: &Statement<'_>,
    error: ScriptError,
    undo: Undo,
    migration: &LocalMigration,
) -> Error {
    let failed_at = progress.journal.done;
    if !matches!(undo, Undo::Nothing)
        && let Err(e) = engine.rollback().await
    {
        tracing::warn!("rolling back after the failure failed: {e}");
    }
    if let Undo::ScriptTransaction(tx_start) = undo {
        // The journal writes since the script's BEGIN rolled back with it.
        progress.journal.done = tx_start;
    }
    // The failed statement was rolled back and nothing ran before it: such an attempt
    // blocks nothing, as in transactional mode.
    let nothing_applied = !matches!(undo, Undo::Nothing) && progress.journal.done == 0;
    progress.journal.in_flight = None;
    progress.journal.failed_at = Some(failed_at);
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
        if nothing_applied {
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
    Error::MigrationFailed {
        name: migration.name.clone(),
        script: migration.script_path.clone(),
        message: format!("statement at line {}: {}", stmt.line, error.message),
        rolled_back: nothing_applied,
    }
}

/// The start of a statement, for messages.
fn excerpt(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or_default();
    let mut text: String = line.chars().take(80).collect();
    if text.len() < sql.len() {
        text.push('…');
    }
    text
}
