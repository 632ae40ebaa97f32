//! Whether a migration safemig left unfinished can continue, decided the same way by
//! `deploy` (which then continues it) and by `status` (which only reports).
//!
//! A journal is a claim about the database: these statements ran, this one may have been
//! running. A restored backup, a hand edit or a file changed since can make the claim
//! false, and continuing on a false claim builds a wrong schema that the next migration
//! trips over forever. So before continuing, the claim is checked against what can be
//! seen: the file's statements, the other rows of the history, and the live schema.

use crate::Error;
use crate::engine::Engine;
use crate::error::DeployError;
use crate::history::HistoryRow;
use crate::journal::{InFlight, Journal, statement_hash};
use crate::migrations::LocalMigration;
use crate::sql::{self, Dialect, Statement, Target};
use crate::text;

pub use crate::journal::STUCK_AFTER;

/// Whether deploy would continue a migration safemig left unfinished, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumability {
    /// Deploy continues it (or retries it from a failed statement the file has changed).
    Resumable,
    /// Its failed statement applied nothing, but the file is unchanged: a retry would most
    /// likely fail the same way until the statement or its cause is fixed.
    RetryUnchanged,
    /// Deploys resumed it at the same statement this many times in a row without getting
    /// past it or recording why (the connection was lost each time).
    Stuck { statement: usize, count: u32 },
    /// Deploy refuses to continue it, for this reason.
    Refused(String),
}

/// How each migration safemig left unfinished stands, by name: what `deploy` would find,
/// checked without writing anything.
pub async fn resumability(
    engine: &mut dyn Engine,
    dir: &crate::migrations::MigrationsDir,
    rows: &[HistoryRow],
) -> Result<std::collections::BTreeMap<String, Resumability>, Error> {
    let dialect = engine.provider().dialect();
    let mut found = std::collections::BTreeMap::new();
    for row in rows.iter().filter(|r| r.is_failed()) {
        let (Some(journal), Some(migration)) =
            (super::continuable(row), dir.find(&row.migration_name))
        else {
            continue;
        };
        let checked = match check_statements(migration, &journal, dialect) {
            Ok(hashes) => match assess(engine, migration, row, &journal, rows).await {
                Ok(_) => Ok(hashes),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let standing = match checked {
            Err(Error::Deploy(
                DeployError::CannotResume { reason, .. }
                | DeployError::SchemaContradictsJournal {
                    evidence: reason, ..
                },
            )) => Resumability::Refused(reason),
            Err(e) => return Err(e),
            Ok(_) if journal.stuck() => {
                let a = journal.attempts.expect("stuck journals count attempts");
                Resumability::Stuck {
                    statement: a.statement,
                    count: a.count,
                }
            }
            Ok(hashes) if !retry_ready(engine, migration, &journal, &hashes) => {
                Resumability::RetryUnchanged
            }
            Ok(_) => Resumability::Resumable,
        };
        found.insert(row.migration_name.clone(), standing);
    }
    Ok(found)
}

/// What to do with the statement that was in flight when deploy stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlightVerdict {
    /// No statement was in flight.
    None,
    /// It completed: continue after it.
    Ran,
    /// It did not run (or is harmless to run again): run it again.
    RunAgain,
    /// It left its target half-done (an invalid index): clean up, then run it again.
    RepairThenRunAgain(Target),
}

/// The file must still hold the statements the journal recorded (for a clean failure,
/// only those done: the failed statement may have been fixed). Returns the file's
/// statement hashes.
pub fn check_statements(
    migration: &LocalMigration,
    journal: &Journal,
    dialect: Dialect,
) -> Result<Vec<String>, Error> {
    let hashes: Vec<String> = sql::executable_statements(migration.sql(), dialect)
        .iter()
        .map(|s| statement_hash(s, dialect))
        .collect();
    let unchanged = match journal.retry_from {
        Some(_) => journal.matches_done(&hashes),
        None => journal.matches_all(&hashes),
    };
    if unchanged {
        return Ok(hashes);
    }
    let which = if journal.matches_done(&hashes) {
        format!(
            "a statement after the {} that had run differs",
            journal.done
        )
    } else {
        format!(
            "one of the {} statements that had run differs",
            journal.done
        )
    };
    Err(cannot_resume(
        migration,
        format!(
            "{} changed since it was started: {which} ({} statements now, {} then)",
            text::path(&migration.script_path),
            hashes.len(),
            journal.total(),
        ),
        format!(
            "restore the file as it was, or compare the database with the first {} statements of the old file",
            journal.done
        ),
    ))
}

/// Whether deploy may retry a failure whose failed statement applied nothing: only when
/// something changed since, or the retry would fail the same way. The file's statements
/// (`hashes`) were edited from the failed statement on, or the statement was refused before
/// it was sent and the server now takes it. Otherwise, as Prisma, the failed row blocks
/// deploy (P3009) until the file is fixed or the row resolved.
pub fn retry_ready(
    engine: &dyn Engine,
    migration: &LocalMigration,
    journal: &Journal,
    hashes: &[String],
) -> bool {
    let Some(from) = journal.retry_from else {
        return true;
    };
    if journal.changed_since_failure(hashes) {
        return true;
    }
    let dialect = engine.provider().dialect();
    journal.refused
        && sql::executable_statements(migration.sql(), dialect)
            .get(from)
            .is_some_and(|stmt| engine.refuse_statement(stmt.sql).is_none())
}

/// Checks the journal against the history and the live schema, and decides the statement
/// that was in flight. Reads only: `status` calls it too.
pub async fn assess(
    engine: &mut dyn Engine,
    migration: &LocalMigration,
    row: &HistoryRow,
    journal: &Journal,
    rows: &[HistoryRow],
) -> Result<InFlightVerdict, Error> {
    let dialect = engine.provider().dialect();
    let statements = sql::executable_statements(migration.sql(), dialect);
    check_neighbours(migration, row, journal, rows)?;
    if journal.retry_from.is_some() {
        // A clean failure: nothing was in flight, and what ran was atomic with the journal
        // or proven by the schema when the failure was recorded.
        return Ok(InFlightVerdict::None);
    }
    let in_flight = journal
        .in_flight
        .as_ref()
        .filter(|f| f.statement == journal.done && f.statement < statements.len());
    check_completed(engine, migration, &statements, journal, in_flight).await?;
    let verdict = match in_flight {
        Some(in_flight) => settle(engine, migration, &statements, journal, in_flight).await?,
        None => InFlightVerdict::None,
    };
    let next = journal.done + usize::from(verdict == InFlightVerdict::Ran);
    check_ahead(engine, migration, &statements, next).await?;
    Ok(verdict)
}

/// The statements still to run, from `next`, must find their tables as the journal's
/// position implies: a table one of them creates is not there yet, one it alters, indexes
/// or drops is (or a remaining statement before it makes it so). A restored
/// `mariadb-dump --single-transaction` fails this: it reads every table's rows from its
/// snapshot, history rows included, but each table's definition when it reaches it, so
/// its tables can be further on than its journal. Resuming would run again statements
/// whose effect is there until one fails, and that failure would look like the file's.
/// Checked only where the engine can show tables (where DDL is not atomic with the
/// journal); `repair` then tells from the whole schema where the migration stands.
async fn check_ahead(
    engine: &mut dyn Engine,
    migration: &LocalMigration,
    statements: &[Statement<'_>],
    next: usize,
) -> Result<(), Error> {
    let dialect = engine.provider().dialect();
    // What the remaining statements before the one checked leave of each table.
    let mut left: Vec<(String, bool)> = Vec::new();
    for (i, stmt) in statements.iter().enumerate().skip(next) {
        if !matches!(sql::target(stmt, dialect), Target::Tables(_)) {
            continue;
        }
        for (table, needed) in sql::table_preconditions(stmt, dialect) {
            let exists = match left.iter().find(|(t, _)| *t == table) {
                Some((_, exists)) => *exists,
                None => match engine
                    .snapshot(&Target::Tables(vec![table.clone()]))
                    .await?
                {
                    Some(now) => now.exists,
                    None => return Ok(()),
                },
            };
            if exists != needed {
                return Err(contradicted(
                    migration,
                    format!(
                        "statement {} of {} (line {}: `{}`), still to run, needs `{}` {}, but it {}",
                        i + 1,
                        statements.len(),
                        stmt.line,
                        excerpt(stmt.sql),
                        text::escaped(&table),
                        if needed {
                            "to exist"
                        } else {
                            "not to exist yet"
                        },
                        if exists { "exists" } else { "is missing" }
                    ),
                ));
            }
        }
        for (table, exists) in final_states(sql::table_effects(stmt, dialect)) {
            left.retain(|(t, _)| *t != table);
            left.push((table, exists));
        }
    }
    Ok(())
}

/// Another migration's row started after this journal was last written: a deploy went on
/// past this migration, which safemig never does, so the history was restored or edited.
fn check_neighbours(
    migration: &LocalMigration,
    row: &HistoryRow,
    journal: &Journal,
    rows: &[HistoryRow],
) -> Result<(), Error> {
    let Some(written) = journal.updated_at else {
        return Ok(());
    };
    let Some(later) = rows
        .iter()
        .filter(|r| r.id != row.id && r.migration_name != row.migration_name)
        .filter(|r| r.started_at > written)
        .max_by_key(|r| r.started_at)
    else {
        return Ok(());
    };
    Err(cannot_resume(
        migration,
        format!(
            "its journal was last written at {}, but `{}` was started later, at {}: the history looks restored from a backup or edited, so the journal may not describe this database",
            written.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            text::escaped(&later.migration_name),
            later.started_at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
        format!(
            "compare the database with the first {} statements of {}",
            journal.done,
            text::path(&migration.script_path)
        ),
    ))
}

/// The tables the completed statements created, kept or dropped must be so now (only
/// where the engine can show tables, that is where DDL is not atomic with the journal).
async fn check_completed(
    engine: &mut dyn Engine,
    migration: &LocalMigration,
    statements: &[Statement<'_>],
    journal: &Journal,
    in_flight: Option<&InFlight>,
) -> Result<(), Error> {
    let dialect = engine.provider().dialect();
    // The in-flight statement's tables may legitimately be in either state.
    let unsettled: Vec<String> = in_flight
        .map(|f| {
            sql::table_effects(&statements[f.statement], dialect)
                .into_iter()
                .map(|(table, _)| table)
                .collect()
        })
        .unwrap_or_default();
    // Table → (exists after the done statements, the last statement that decided it).
    let mut expected: Vec<(String, bool, usize)> = Vec::new();
    for (i, stmt) in statements[..journal.done.min(statements.len())]
        .iter()
        .enumerate()
    {
        if !matches!(sql::target(stmt, dialect), Target::Tables(_)) {
            continue;
        }
        for (table, exists) in sql::table_effects(stmt, dialect) {
            expected.retain(|(t, _, _)| *t != table);
            expected.push((table, exists, i));
        }
    }
    for (table, exists, i) in expected {
        if unsettled.contains(&table) {
            continue;
        }
        let Some(now) = engine
            .snapshot(&Target::Tables(vec![table.clone()]))
            .await?
        else {
            return Ok(());
        };
        if now.exists != exists {
            let stmt = &statements[i];
            return Err(contradicted(
                migration,
                format!(
                    "statement {} (line {}: `{}`) completed before deploy stopped, so `{}` should {}, but it {}: the database looks restored from a backup taken during the migration, or changed by hand",
                    i + 1,
                    stmt.line,
                    excerpt(stmt.sql),
                    text::escaped(&table),
                    if exists { "exist" } else { "be gone" },
                    if now.exists { "exists" } else { "is missing" }
                ),
            ));
        }
    }
    Ok(())
}

/// Decides whether the statement in flight ran, accepting only the state it produces.
async fn settle(
    engine: &mut dyn Engine,
    migration: &LocalMigration,
    statements: &[Statement<'_>],
    journal: &Journal,
    in_flight: &InFlight,
) -> Result<InFlightVerdict, Error> {
    let stmt = &statements[in_flight.statement];
    let running = format!(
        "statement {} of {} (line {}: `{}`) was running when deploy stopped, and",
        in_flight.statement + 1,
        journal.total(),
        stmt.line,
        excerpt(stmt.sql)
    );
    let undecidable = |why: &str| {
        cannot_resume(
            migration,
            format!("{running} {why}"),
            format!(
                "check in the database whether `{}` took effect",
                excerpt(stmt.sql)
            ),
        )
    };
    // What the schema shows, but no statement of the journal's position produces.
    let impossible = |why: String| contradicted(migration, format!("{running} {why}"));
    let target = &in_flight.target;
    match target {
        // Written inside the script's transaction: visible only if that COMMIT happened.
        Target::Commit => return Ok(InFlightVerdict::Ran),
        Target::Rerunnable => return Ok(InFlightVerdict::RunAgain),
        Target::Unknown => {
            return Err(undecidable(
                "its effect is not something safemig can inspect",
            ));
        }
        _ => {}
    }
    let Some(now) = engine.snapshot(target).await? else {
        return Err(undecidable("this database cannot show its target"));
    };
    if !now.complete {
        return Ok(InFlightVerdict::RepairThenRunAgain(target.clone()));
    }
    if state_hash(&now.state) == in_flight.before {
        return Ok(InFlightVerdict::RunAgain);
    }
    if let Target::Index { create, .. } = target
        && now.exists != *create
    {
        return Err(impossible(format!(
            "its index changed, but is {} now, which the statement cannot have produced",
            if now.exists { "present" } else { "gone" }
        )));
    }
    // Changed: proof that it ran only if every table is as the statement leaves it.
    let dialect = engine.provider().dialect();
    for (table, exists) in final_states(sql::table_effects(stmt, dialect)) {
        let Some(table_now) = engine
            .snapshot(&Target::Tables(vec![table.clone()]))
            .await?
        else {
            continue;
        };
        if table_now.exists != exists {
            return Err(impossible(format!(
                "its target changed, but not into a state it produces: `{}` {} now, and the statement leaves it {}; the database looks restored from a backup taken during the migration, or changed by hand",
                text::escaped(&table),
                if table_now.exists {
                    "exists"
                } else {
                    "is missing"
                },
                if exists { "present" } else { "gone" }
            )));
        }
    }
    Ok(InFlightVerdict::Ran)
}

/// The last effect on each table.
fn final_states(effects: Vec<(String, bool)>) -> Vec<(String, bool)> {
    let mut states: Vec<(String, bool)> = Vec::new();
    for (table, exists) in effects {
        states.retain(|(t, _)| *t != table);
        states.push((table, exists));
    }
    states
}

/// SHA-256 of a target's state, as the journal records it.
pub fn state_hash(state: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The schema contradicts the journal: repair's classification decides
/// (`repair::continue_ahead`), never a retry.
fn contradicted(migration: &LocalMigration, evidence: String) -> Error {
    Error::Deploy(DeployError::SchemaContradictsJournal {
        name: migration.name.clone(),
        evidence,
    })
}

fn cannot_resume(migration: &LocalMigration, reason: String, inspect: String) -> Error {
    Error::Deploy(DeployError::CannotResume {
        name: migration.name.clone(),
        reason,
        inspect,
    })
}

/// The start of a statement, for messages.
pub fn excerpt(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or_default();
    let mut text: String = line.chars().take(80).collect();
    if text.len() < sql.len() {
        text.push('…');
    }
    text::escaped(&text).to_string()
}
