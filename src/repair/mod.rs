//! `safemig repair`: what a failed migration left behind, proven from the schema, and the
//! history correction that follows from it.
//!
//! A failed `_prisma_migrations` row (started, never finished, not rolled back) says only
//! that migration N did not finish. Repair replays migrations 1..N−1 into a scratch
//! database (state S₀), runs N's statements there one at a time (S₁…Sₙ, see [`states`]),
//! and compares the live schema with each state ([`verdict`]). Only a verdict that names
//! exactly one state, or states that differ by statements harmless to run again, lets
//! [`apply`] act; anything else writes nothing and shows the evidence.

mod apply;
mod states;
mod verdict;

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
use crate::sql::{self, StatementKind};

pub use apply::{Repaired, apply};
pub use verdict::{Verdict, classify};

/// The report format of `repair --json`; a change older readers could misread raises it.
pub const REPORT_FORMAT: u32 = 1;

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
}

/// What `repair --apply` does for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// `none`: the failed row is marked rolled back, so deploy applies the migration again.
    MarkRolledBack,
    /// `all`: recorded applied as `prisma migrate resolve --applied` records it.
    RecordApplied,
    /// `partial k`: with `--finish`, statements `from..=to` (1-based) run on the live
    /// database as deploy's journaled mode runs them, then the migration is recorded applied.
    Finish { from: usize, to: usize },
    /// `ambiguous`, `diverged`: nothing is written; a person must decide.
    Nothing,
}

impl Plan {
    pub fn of(verdict: &Verdict, total: usize) -> Plan {
        match verdict {
            Verdict::None => Plan::MarkRolledBack,
            Verdict::All => Plan::RecordApplied,
            Verdict::Partial { applied } => Plan::Finish {
                from: applied + 1,
                to: total,
            },
            Verdict::Ambiguous { .. } | Verdict::Diverged { .. } => Plan::Nothing,
        }
    }
}

/// What repair found about one failed migration.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub migration: String,
    /// The failed row's id.
    pub row_id: String,
    pub started_at: DateTime<Utc>,
    /// The line of the row's `logs` that says what went wrong.
    pub failure: Option<String>,
    /// Whether the file's checksum is the row's: a file edited since it failed is still
    /// classified, but the evidence is about today's file.
    pub checksum_matches: bool,
    pub statements: Vec<StatementSummary>,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub plan: Plan,
    /// The row's `applied_steps_count`, kept when repair annotates its `logs`.
    #[serde(skip)]
    pub(crate) applied_steps_count: u32,
    #[serde(skip)]
    pub(crate) logs: Option<String>,
}

impl Report {
    pub fn total(&self) -> usize {
        self.statements.len()
    }

    /// `partial 2 of 5` and the like.
    pub fn verdict_text(&self) -> String {
        self.verdict.describe(self.total())
    }
}

/// What to repair, and how.
pub struct Request<'a> {
    /// The failed migration; `None`: the only failed one.
    pub migration: Option<&'a str>,
    pub wait: Duration,
    pub interrupt: Interrupt,
}

/// Classifies the failed migration of `ctx`'s database, read only. `Ok(None)`: the
/// history has no failed migration, so there is nothing to repair.
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
    let Some(row) = failed_row(&rows, request.migration)? else {
        return Ok(None);
    };
    let index = dir
        .migrations
        .iter()
        .position(|m| m.name == row.migration_name)
        .ok_or_else(|| RepairError::NotInFolder {
            name: row.migration_name.clone(),
            dir: dir.path.clone(),
        })?;
    let migration = &dir.migrations[index];
    let dialect = ctx.url.provider().dialect();
    let statements = sql::executable_statements(migration.sql(), dialect);
    let live_schema =
        crate::drift::read_schema(&mut *live, crate::schema::Detail::default()).await?;
    drop(live);

    let states = states::build(
        &ctx.url,
        dir,
        index,
        &statements,
        &request.interrupt,
        request.wait,
    )
    .await?;
    let transparent: Vec<bool> = statements
        .iter()
        .map(|s| {
            matches!(
                s.kind,
                StatementKind::TransactionControl | StatementKind::ForeignKeysPragma
            ) || s.is_session(dialect)
        })
        .collect();
    let verdict = classify(&live_schema, &states, &transparent);
    let plan = Plan::of(&verdict, statements.len());
    Ok(Some(Report {
        format_version: REPORT_FORMAT,
        migration: row.migration_name.clone(),
        row_id: row.id.clone(),
        started_at: row.started_at,
        failure: row
            .logs
            .as_deref()
            .and_then(history::log_summary)
            .map(str::to_string),
        checksum_matches: row.checksum == migration.checksum,
        statements: statements
            .iter()
            .enumerate()
            .map(|(i, s)| StatementSummary {
                number: i + 1,
                line: s.line,
                first_line: s.sql.lines().next().unwrap_or_default().trim().to_string(),
                kind: s.kind.as_str(),
            })
            .collect(),
        verdict,
        plan,
        applied_steps_count: row.applied_steps_count,
        logs: row.logs.clone(),
    }))
}

/// The failed row to repair: the one of `named`, else the only one.
fn failed_row<'r>(
    rows: &'r [HistoryRow],
    named: Option<&str>,
) -> Result<Option<&'r HistoryRow>, Error> {
    let failed: Vec<&HistoryRow> = rows.iter().filter(|r| r.is_failed()).collect();
    match named {
        Some(name) => failed
            .iter()
            .rev()
            .find(|r| r.migration_name == name)
            .map(|r| Some(*r))
            .ok_or_else(|| {
                Error::Repair(RepairError::NotFailed {
                    name: name.to_string(),
                })
            }),
        None => match failed.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            several => Err(Error::Repair(RepairError::SeveralFailed {
                names: several.iter().map(|r| r.migration_name.clone()).collect(),
            })),
        },
    }
}
