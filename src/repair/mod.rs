//! `safemig repair`: what a migration left behind, proven from the schema, and the history
//! correction that follows from it.
//!
//! A failed `_prisma_migrations` row (started, never finished, not rolled back) says only
//! that migration N did not finish; a finished row or a rolled-back one says all or none
//! of it ran, and can be wrong too: a blind `UPDATE … SET finished_at = NOW()` over a
//! half-applied migration, or `resolve --rolled-back` after statements took effect. Repair
//! replays migrations 1..N−1 into a scratch database (state S₀), runs N's statements there
//! one at a time (S₁…Sₙ, see [`states`]), and compares the live schema with each state
//! ([`verdict`]). What the row says ([`Recorded`]) and what the schema shows decide the
//! [`Plan`]. Only a verdict that names exactly one state, or states that differ by
//! statements harmless to run again, lets [`apply`] act; anything else writes nothing and
//! shows the evidence.

mod apply;
mod explain;
mod heal;
mod invalid;
mod roll_back;
mod states;
mod verdict;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Error;
use crate::context::Context;
use crate::engine::Access;
use crate::error::RepairError;
use crate::history::{self, HistoryRow};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;
use crate::schema::Schema;
use crate::sql::{self, StatementKind};

pub use apply::{Partial, Repaired, apply};
pub use explain::{Ahead, continue_ahead, explain_failure};
pub use heal::{Healed, heal};
pub use invalid::InvalidIndex;
pub use verdict::{Verdict, classify};

/// The report format of `repair --json`; a change older readers could misread raises it.
/// 2: reports migrations whose row is finished or rolled back too (`recorded`), so
/// `row_id` and `started_at` may be null; `plan` may be `agrees` or `retry`.
pub const REPORT_FORMAT: u32 = 2;

/// What the history records of the migration repair looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recorded {
    /// A failed row: started, never finished, not rolled back (P3009).
    Failed,
    /// A finished row: the history says every statement ran.
    Applied,
    /// Only rolled-back rows, or none: the history says none ran.
    NotApplied,
}

impl Recorded {
    /// What migration `name`'s rows say, the decisive row first: a failed row blocks
    /// everything, then a finished one.
    fn of<'r>(rows: &'r [HistoryRow], name: &str) -> (Recorded, Option<&'r HistoryRow>) {
        let mine = || rows.iter().rev().filter(|r| r.migration_name == name);
        if let Some(row) = mine().find(|r| r.is_failed()) {
            (Recorded::Failed, Some(row))
        } else if let Some(row) = mine().find(|r| r.is_applied()) {
            (Recorded::Applied, Some(row))
        } else {
            (Recorded::NotApplied, None)
        }
    }
}

/// One statement of the failed migration, as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementSummary {
    /// 1-based position in the migration.
    pub number: usize,
    /// 1-based line in `migration.sql`.
    pub line: usize,
    /// Its first line, as written.
    pub first_line: String,
    /// The splitter's kind (`ddl`, `dml`, …).
    pub kind: &'static str,
    /// Whether running it again is harmless, so that the schema need not show whether it
    /// ran: transaction control, session settings, and DDL that changed nothing in the
    /// scratch database (see [`rerunnable`]).
    pub rerun_safe: bool,
}

/// What `repair --apply` does for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// The schema is what the history says: nothing to repair.
    Agrees,
    /// A failed statement applied nothing and the schema shows the statements before it, as
    /// the journal says: the failure is real. Once its cause is fixed, deploy retries from
    /// statement `from` (1-based).
    Retry { from: usize },
    /// `none`: the row is marked rolled back, so deploy applies the migration again.
    MarkRolledBack,
    /// `all`: recorded applied as `prisma migrate resolve --applied` records it (for a
    /// finished row of an edited file: a new row records the file as it is now).
    RecordApplied,
    /// `partial k`: with `--finish`, statements `from..=to` (1-based) run on the live
    /// database as deploy's journaled mode runs them, then the migration is recorded
    /// applied; with `--roll-back`, the inverse of statements `1..from` runs, then the row
    /// is marked rolled back.
    Finish { from: usize, to: usize },
    /// `ambiguous`, `diverged` without `--assume-applied`: nothing is written; a person
    /// must decide.
    Nothing,
    /// What `--roll-back` did with a `Finish` plan: the inverse of statements 1..=`undone`
    /// ran and the row is marked rolled back. Never a report's plan.
    RollBack { undone: usize },
}

impl Plan {
    /// The plan for `applied` statements of `total` known to have run (`None`: unknown),
    /// given what the history records.
    pub fn of(facts: &Facts, applied: Option<usize>, total: usize) -> Plan {
        let Some(k) = applied else {
            return Plan::Nothing;
        };
        match facts.recorded {
            // An invalid index is a statement that did not finish, whatever the row says.
            _ if facts.invalid_indexes => {}
            Recorded::Applied if k >= total && facts.checksum_matches => return Plan::Agrees,
            Recorded::NotApplied if k == 0 => return Plan::Agrees,
            Recorded::Failed if facts.retry_from == Some(k) && k < total => {
                return Plan::Retry { from: k + 1 };
            }
            _ => {}
        }
        match k {
            0 => Plan::MarkRolledBack,
            k if k >= total => Plan::RecordApplied,
            k => Plan::Finish {
                from: k + 1,
                to: total,
            },
        }
    }
}

/// What the history says of the migration, as far as the plan depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub recorded: Recorded,
    /// Whether the file's checksum is the row's.
    pub checksum_matches: bool,
    /// A safemig journal whose failed statement applied nothing: the statements done
    /// before it (deploy retries from the next).
    pub retry_from: Option<usize>,
    /// The live schema holds invalid indexes the migration creates.
    pub invalid_indexes: bool,
}

impl Facts {
    /// How many of the migration's `total` statements the history says ran, where it says:
    /// all for a finished row, none for a rolled-back one (or none), the journal's count for
    /// a failure it recorded exactly.
    pub fn claims(&self, total: usize) -> Option<usize> {
        match self.recorded {
            Recorded::Applied => Some(total),
            Recorded::NotApplied => Some(0),
            Recorded::Failed => self.retry_from,
        }
    }
}

/// How many statements repair takes as run: what the verdict proves, or what the operator
/// says with `--assume-applied` where the verdict leaves it open. An assumption the schema
/// contradicts is refused: it may choose among matching states, never overrule the schema.
pub fn applied(
    verdict: &Verdict,
    total: usize,
    assumed: Option<usize>,
    name: &str,
) -> Result<Option<usize>, RepairError> {
    let proven = match verdict {
        Verdict::None => Some(0),
        Verdict::All => Some(total),
        Verdict::Partial { applied } => Some(*applied),
        Verdict::Ambiguous { .. } | Verdict::Diverged { .. } => None,
    };
    let Some(k) = assumed else {
        return Ok(proven);
    };
    let contradicted = |evidence: String| RepairError::AssumptionContradicted {
        name: name.to_string(),
        assumed: k,
        evidence,
    };
    if k > total {
        return Err(contradicted(format!(
            "cannot show more than the migration's {total} statements"
        )));
    }
    match verdict {
        Verdict::Ambiguous { candidates, .. } if !candidates.contains(&k) => {
            let states: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
            Err(contradicted(format!(
                "matches only the states after statements {}",
                states.join(", ")
            )))
        }
        _ if proven.is_some_and(|p| p != k) => {
            Err(contradicted(format!("shows {}", verdict.describe(total))))
        }
        _ => Ok(Some(k)),
    }
}

/// `--assume-applied`'s value for `k` statements, as [`parse_assumed`] reads it.
pub fn assumption(k: usize) -> String {
    if k == 0 {
        "none".into()
    } else {
        format!("1-{k}")
    }
}

/// `--assume-applied`'s value: `1,2,3` or `1-3` (statements 1 to 3 ran), `none` or `0`
/// (none did). Only a prefix can have run: statements run in order.
pub fn parse_assumed(given: &str) -> Result<usize, RepairError> {
    let malformed = |reason: &str| RepairError::AssumptionMalformed {
        given: given.to_string(),
        reason: reason.to_string(),
    };
    let given = given.trim();
    if given == "none" || given == "0" {
        return Ok(0);
    }
    let number = |n: &str| {
        n.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| malformed("statements are numbered from 1"))
    };
    let numbers: Vec<usize> = match given.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (number(from)?, number(to)?);
            (from..=to).collect()
        }
        None => given.split(',').map(number).collect::<Result<_, _>>()?,
    };
    if numbers.first() != Some(&1) || numbers.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(malformed(
            "statements run in order, so the ones that ran are 1 up to some k, each once",
        ));
    }
    Ok(numbers.len())
}

/// What repair found about one migration.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub migration: String,
    /// What the history records of it.
    pub recorded: Recorded,
    /// The decisive row's id (the failed one, else the finished one); `None` when the
    /// migration has only rolled-back rows, or none.
    pub row_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    /// The line of the row's `logs` that says what went wrong.
    pub failure: Option<String>,
    /// Whether the file's checksum is the row's: a file edited since it ran is still
    /// classified, but the evidence is about today's file.
    pub checksum_matches: bool,
    pub statements: Vec<StatementSummary>,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Indexes the migration creates that the live schema holds invalid (a `CREATE INDEX
    /// CONCURRENTLY` that did not finish): the verdict is about the schema without them,
    /// and `--apply` drops them so that they are built again.
    pub invalid_indexes: Vec<InvalidIndex>,
    /// `--assume-applied`: how many statements the operator says ran.
    pub assumed_applied: Option<usize>,
    pub plan: Plan,
    /// Whether S₀…Sₙ came from the cache rather than a replay.
    pub states_cached: bool,
    /// S₀…Sₙ, for `--roll-back` (`None` inside the script's own transaction).
    #[serde(skip)]
    pub(crate) states: Vec<Option<Schema>>,
    /// The row's `applied_steps_count`, kept when repair annotates its `logs`.
    #[serde(skip)]
    pub(crate) applied_steps_count: u32,
    #[serde(skip)]
    pub(crate) logs: Option<String>,
    /// The live rows of the migration when it was assessed: `apply` acts only while
    /// they are unchanged.
    #[serde(skip)]
    pub(crate) rows: Vec<HistoryRow>,
}

impl Report {
    pub fn total(&self) -> usize {
        self.statements.len()
    }

    /// `partial 2 of 5` and the like.
    pub fn verdict_text(&self) -> String {
        self.verdict.describe(self.total())
    }

    /// What the decision rests on, for the row's `logs`: the verdict, and the operator's
    /// assumption when there is one.
    pub fn grounds(&self) -> String {
        match self.assumed_applied {
            Some(k) => format!(
                "verdict {}, operator assumed statements 1..{k} applied",
                self.verdict_text()
            ),
            None => format!("verdict {}", self.verdict_text()),
        }
    }
}

/// What to repair, and how.
pub struct Request<'a> {
    /// The migration; `None`: the only failed one, else (unless `only_failed`) the one
    /// whose row the schema contradicts.
    pub migration: Option<&'a str>,
    /// Without a name, look only for a failed row (`run --on-failed=repair`).
    pub only_failed: bool,
    pub wait: Duration,
    pub interrupt: Interrupt,
    /// Where S₀…Sₙ are cached; `None`: always build them.
    pub cache: Option<PathBuf>,
    /// `--assume-applied`: the statements the operator says ran (1..k).
    pub assume_applied: Option<usize>,
}

/// Classifies a migration of `ctx`'s database, read only: the one `request` names, else
/// the history's only failed one, else (unless `request.only_failed`) the one whose row
/// the schema contradicts: the last applied migration, or the first pending one.
/// `Ok(None)`: nothing to repair (no failed row, and the schema agrees with the history).
pub async fn assess(
    ctx: &Context,
    dir: &MigrationsDir,
    request: &Request<'_>,
) -> Result<Option<Report>, Error> {
    dir.check_provider(ctx.url.provider())?;
    let mut live = ctx.connect(Access::ReadOnly).await?;
    let rows = if live.history_exists().await? {
        live.read_history().await?
    } else {
        Vec::new()
    };
    let live_schema =
        crate::drift::read_schema(&mut *live, crate::schema::Detail::default()).await?;
    drop(live);
    let candidates = match (request.migration, failed_row(&rows, request.migration)?) {
        (_, Some(row)) => vec![row.migration_name.clone()],
        (Some(name), None) => vec![name.to_string()],
        (None, None) if request.only_failed => return Ok(None),
        (None, None) => suspects(dir, &rows),
    };
    // The first migration the schema contradicts; a `diverged` one only when no later
    // suspect explains the schema better (a half-applied pending migration makes the last
    // applied one look diverged).
    let mut diverged = None;
    for name in candidates {
        let report = classify_migration(ctx, dir, request, &rows, &name, &live_schema).await?;
        if request.migration.is_some() {
            return Ok(Some(report));
        }
        match (&report.plan, &report.verdict) {
            // The schema is the history's up to here, so what follows starts from it too.
            (Plan::Agrees, _) => break,
            (_, Verdict::Diverged { .. }) => {
                diverged.get_or_insert(report);
            }
            _ => return Ok(Some(report)),
        }
    }
    Ok(diverged)
}

/// The migrations whose row the schema may contradict when no row is failed: the last
/// applied one in folder order (a row finished by hand over a half-applied migration),
/// then the first pending one after it (a row marked rolled back, or none, over statements
/// that took effect).
fn suspects(dir: &MigrationsDir, rows: &[HistoryRow]) -> Vec<String> {
    let applied = |name: &str| {
        rows.iter()
            .any(|r| r.migration_name == name && r.is_applied())
    };
    let last = dir.migrations.iter().rposition(|m| applied(&m.name));
    let next = dir.migrations[last.map_or(0, |i| i + 1)..]
        .iter()
        .find(|m| !applied(&m.name));
    last.map(|i| dir.migrations[i].name.clone())
        .into_iter()
        .chain(next.map(|m| m.name.clone()))
        .collect()
}

/// Classifies migration `name` against the live schema.
async fn classify_migration(
    ctx: &Context,
    dir: &MigrationsDir,
    request: &Request<'_>,
    rows: &[HistoryRow],
    name: &str,
    live_schema: &Schema,
) -> Result<Report, Error> {
    let index = dir
        .migrations
        .iter()
        .position(|m| m.name == name)
        .ok_or_else(|| RepairError::NotInFolder {
            name: name.to_string(),
            dir: dir.path.clone(),
        })?;
    let (recorded, row) = Recorded::of(rows, name);
    let migration = &dir.migrations[index];
    if recorded == Recorded::Applied
        && let Err(later) = refuse_later_applied(dir, rows, index)
    {
        return edited_before_others(ctx, dir, request, rows, migration, later).await;
    }
    let dialect = ctx.url.provider().dialect();
    let statements = sql::executable_statements(migration.sql(), dialect);
    let states = states::build(
        &ctx.url,
        dir,
        index,
        &statements,
        request.cache.as_deref(),
        &request.interrupt,
        request.wait,
    )
    .await?;
    let transparent: Vec<bool> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let changed_nothing = || match (&states.schemas[i], &states.schemas[i + 1]) {
                (Some(before), Some(after)) => crate::schema::diff(before, after).is_empty(),
                _ => false,
            };
            matches!(
                s.kind,
                StatementKind::TransactionControl | StatementKind::ForeignKeysPragma
            ) || s.is_session(dialect)
                || (s.kind == StatementKind::Ddl && changed_nothing() && rerunnable(s.sql))
        })
        .collect();
    let (live_schema, invalid_indexes) = invalid::set_aside(live_schema, &states.schemas);
    let verdict = classify(&live_schema, &states.schemas, &transparent);
    let facts = Facts {
        recorded,
        checksum_matches: row
            .is_none_or(|r| crate::checksum::matches(&r.checksum, &migration.script)),
        retry_from: row
            .filter(|r| r.is_failed())
            .and_then(|r| r.logs.as_deref())
            .and_then(crate::journal::Journal::from_logs)
            .and_then(|j| j.retry_from),
        invalid_indexes: !invalid_indexes.is_empty(),
    };
    let applied = match (
        &verdict,
        facts.claims(statements.len()),
        request.assume_applied,
    ) {
        // Where the schema cannot tell between states and the history names one of them,
        // the history is not contradicted: a finished row over a migration ending with a
        // data statement is what it says.
        (Verdict::Ambiguous { candidates, .. }, Some(claim), None)
            if candidates.contains(&claim) =>
        {
            Some(claim)
        }
        _ => applied(&verdict, statements.len(), request.assume_applied, name)?,
    };
    if let Some(k) = request.assume_applied {
        states::refuse_inside_transaction(&states.schemas, k, name)?;
    }
    let plan = Plan::of(&facts, applied, statements.len());
    Ok(Report {
        format_version: REPORT_FORMAT,
        migration: name.to_string(),
        recorded,
        row_id: row.map(|r| r.id.clone()),
        started_at: row.map(|r| r.started_at),
        failure: row
            .and_then(|r| r.logs.as_deref())
            .and_then(history::log_summary)
            .map(str::to_string),
        checksum_matches: facts.checksum_matches,
        statements: summaries(&statements, &transparent),
        verdict,
        invalid_indexes,
        assumed_applied: request.assume_applied,
        plan,
        states_cached: states.cached,
        states: states.schemas,
        applied_steps_count: row.map_or(0, |r| r.applied_steps_count),
        logs: row.and_then(|r| r.logs.clone()),
        rows: live_rows(rows, name),
    })
}

/// A finished migration with others applied after it cannot be compared with its own
/// states. One thing can still be told: whether the whole schema is what the folder's
/// applied migrations make, with its file as it is now. Then an edit to the file changed
/// nothing the schema shows, and the file can be recorded as it is (`RecordApplied`);
/// otherwise `later` (the refusal) stands.
async fn edited_before_others(
    ctx: &Context,
    dir: &MigrationsDir,
    request: &Request<'_>,
    rows: &[HistoryRow],
    migration: &crate::migrations::LocalMigration,
    later: RepairError,
) -> Result<Report, Error> {
    let (_, Some(row)) = Recorded::of(rows, &migration.name) else {
        return Err(later.into());
    };
    if crate::checksum::matches(&row.checksum, &migration.script) {
        return Err(later.into());
    }
    let comparison = crate::drift::Request {
        left: crate::drift::Source::Database(ctx.url.clone()),
        right: crate::drift::Source::Folder,
        folder: Some(dir),
        shadow: None,
        cache: request
            .cache
            .clone()
            .map(|dir| crate::cache::Cache { dir, read: true }),
        wait: request.wait,
        converge: false,
        detail: Default::default(),
        interrupt: request.interrupt.clone(),
    };
    if !crate::drift::compare(&comparison)
        .await?
        .differences
        .is_empty()
    {
        return Err(later.into());
    }
    let dialect = ctx.url.provider().dialect();
    let statements = sql::executable_statements(migration.sql(), dialect);
    Ok(Report {
        format_version: REPORT_FORMAT,
        migration: migration.name.clone(),
        recorded: Recorded::Applied,
        row_id: Some(row.id.clone()),
        started_at: Some(row.started_at),
        failure: None,
        checksum_matches: false,
        statements: summaries(&statements, &vec![false; statements.len()]),
        verdict: Verdict::All,
        invalid_indexes: Vec::new(),
        assumed_applied: None,
        plan: Plan::RecordApplied,
        states_cached: false,
        states: Vec::new(),
        applied_steps_count: row.applied_steps_count,
        logs: row.logs.clone(),
        rows: live_rows(rows, &migration.name),
    })
}

/// The report's summary of each statement.
fn summaries(statements: &[sql::Statement<'_>], transparent: &[bool]) -> Vec<StatementSummary> {
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| StatementSummary {
            number: i + 1,
            line: s.line,
            first_line: s.sql.lines().next().unwrap_or_default().trim().to_string(),
            kind: s.kind.as_str(),
            rerun_safe: transparent[i],
        })
        .collect()
}

/// The rows of migration `name` that count (not rolled back), as `apply` expects to find
/// them unchanged.
fn live_rows(rows: &[HistoryRow], name: &str) -> Vec<HistoryRow> {
    rows.iter()
        .filter(|r| r.migration_name == name && r.is_live())
        .cloned()
        .collect()
}

/// The states of a migration are the schema before it plus its statements: a migration
/// applied before others that the folder puts after it can only be compared once those
/// are taken into account, which repair does not do.
fn refuse_later_applied(
    dir: &MigrationsDir,
    rows: &[HistoryRow],
    index: usize,
) -> Result<(), RepairError> {
    let later: Vec<String> = dir.migrations[index + 1..]
        .iter()
        .filter(|m| {
            rows.iter()
                .any(|r| r.migration_name == m.name && r.is_live())
        })
        .map(|m| m.name.clone())
        .collect();
    if later.is_empty() {
        Ok(())
    } else {
        Err(RepairError::LaterApplied {
            name: dir.migrations[index].name.clone(),
            later,
        })
    }
}

/// Whether a DDL statement that changed nothing in the scratch database may run again:
/// whatever it did is there already or was nothing (a MariaDB `MODIFY` to the type a
/// column already has, `CREATE … IF NOT EXISTS` of what exists, a grant). Not `TRUNCATE`
/// and not a sequence restart, which change data the schema does not show, and would
/// undo what was written since.
fn rerunnable(sql: &str) -> bool {
    let words: Vec<String> = sql
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("--"))
        .flat_map(|l| l.split_whitespace())
        .take(8)
        .map(str::to_ascii_uppercase)
        .collect();
    let first = words.first().map(String::as_str);
    let sequence_restart =
        words.iter().any(|w| w == "SEQUENCE") && sql.to_ascii_uppercase().contains("RESTART");
    first != Some("TRUNCATE") && !sequence_restart
}

/// The failed row to repair: the one of `named`, else the only one.
fn failed_row<'r>(
    rows: &'r [HistoryRow],
    named: Option<&str>,
) -> Result<Option<&'r HistoryRow>, Error> {
    let failed: Vec<&HistoryRow> = rows.iter().filter(|r| r.is_failed()).collect();
    match named {
        Some(name) => Ok(failed
            .iter()
            .rev()
            .find(|r| r.migration_name == name)
            .copied()),
        None => match failed.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            several => Err(Error::Repair(RepairError::SeveralFailed {
                names: several.iter().map(|r| r.migration_name.clone()).collect(),
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_that_changes_data_is_not_rerun() {
        assert!(rerunnable(
            "ALTER TABLE `Chat` MODIFY `createdAt` TIMESTAMP NULL"
        ));
        assert!(rerunnable(
            "-- CreateTable\nCREATE TABLE IF NOT EXISTS a (id INT)"
        ));
        assert!(!rerunnable("-- Clear\nTRUNCATE TABLE a"));
        assert!(!rerunnable("truncate a"));
        assert!(!rerunnable("ALTER SEQUENCE \"a_id_seq\" RESTART WITH 100"));
    }

    #[test]
    fn assumptions_name_a_prefix() {
        assert_eq!(parse_assumed("1,2,3").unwrap(), 3);
        assert_eq!(parse_assumed("1-4").unwrap(), 4);
        assert_eq!(parse_assumed(" 1 ").unwrap(), 1);
        assert_eq!(parse_assumed("none").unwrap(), 0);
        assert_eq!(parse_assumed("0").unwrap(), 0);
        for bad in ["2,3", "1,3", "1,1", "x", "", "3-1", "1,2,"] {
            assert!(parse_assumed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_assumption_chooses_among_matching_states_only() {
        let ambiguous = Verdict::Ambiguous {
            candidates: vec![2, 3],
            unseen: vec![3],
        };
        assert_eq!(applied(&ambiguous, 3, None, "m").unwrap(), None);
        assert_eq!(applied(&ambiguous, 3, Some(3), "m").unwrap(), Some(3));
        assert_eq!(applied(&ambiguous, 3, Some(2), "m").unwrap(), Some(2));
        let error = applied(&ambiguous, 3, Some(1), "m")
            .unwrap_err()
            .to_string();
        assert!(error.contains("states after statements 2, 3"), "{error}");

        let partial = Verdict::Partial { applied: 2 };
        assert_eq!(applied(&partial, 4, None, "m").unwrap(), Some(2));
        assert!(applied(&partial, 4, Some(3), "m").is_err());
        assert!(applied(&Verdict::None, 4, Some(5), "m").is_err());

        let diverged = Verdict::Diverged {
            nearest: 1,
            differences: vec![],
        };
        assert_eq!(applied(&diverged, 4, Some(1), "m").unwrap(), Some(1));
    }

    #[test]
    fn the_plan_follows_the_statements_applied() {
        let facts = |recorded, checksum_matches, retry_from| Facts {
            recorded,
            checksum_matches,
            retry_from,
            invalid_indexes: false,
        };
        let failed = facts(Recorded::Failed, true, None);
        assert_eq!(Plan::of(&failed, None, 3), Plan::Nothing);
        assert_eq!(Plan::of(&failed, Some(0), 3), Plan::MarkRolledBack);
        assert_eq!(
            Plan::of(&failed, Some(1), 3),
            Plan::Finish { from: 2, to: 3 }
        );
        assert_eq!(Plan::of(&failed, Some(3), 3), Plan::RecordApplied);
        // A journal whose failed statement applied nothing, and the schema agrees.
        let journaled = facts(Recorded::Failed, true, Some(1));
        assert_eq!(Plan::of(&journaled, Some(1), 3), Plan::Retry { from: 2 });
        assert_eq!(
            Plan::of(&journaled, Some(2), 3),
            Plan::Finish { from: 3, to: 3 }
        );

        // A finished row: all agrees, anything less is a row finished by hand.
        let applied = facts(Recorded::Applied, true, None);
        assert_eq!(Plan::of(&applied, Some(3), 3), Plan::Agrees);
        assert_eq!(
            Plan::of(&applied, Some(2), 3),
            Plan::Finish { from: 3, to: 3 }
        );
        assert_eq!(Plan::of(&applied, Some(0), 3), Plan::MarkRolledBack);
        // ... of a file edited since: recorded again as it is now.
        let edited = facts(Recorded::Applied, false, None);
        assert_eq!(Plan::of(&edited, Some(3), 3), Plan::RecordApplied);
        // An invalid index left: never "agrees" or "retry", it is dropped and built again.
        let invalid = Facts {
            invalid_indexes: true,
            ..facts(Recorded::NotApplied, true, None)
        };
        assert_eq!(Plan::of(&invalid, Some(0), 3), Plan::MarkRolledBack);
        let invalid = Facts {
            invalid_indexes: true,
            ..journaled
        };
        assert_eq!(
            Plan::of(&invalid, Some(1), 3),
            Plan::Finish { from: 2, to: 3 }
        );

        // Rolled back or never run: none agrees, anything more took effect regardless.
        let not_applied = facts(Recorded::NotApplied, true, None);
        assert_eq!(Plan::of(&not_applied, Some(0), 3), Plan::Agrees);
        assert_eq!(
            Plan::of(&not_applied, Some(2), 3),
            Plan::Finish { from: 3, to: 3 }
        );
        assert_eq!(Plan::of(&not_applied, Some(3), 3), Plan::RecordApplied);
    }
}
