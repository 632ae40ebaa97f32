//! Where each migration stands: the migrations folder compared with `_prisma_migrations`.
//!
//! [`report`] reads the database (never writing); everything else is pure functions over a
//! loaded folder and the history rows, so every class can be tested without a database.

use crate::error::DatabaseError;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checksum;
use crate::context::Context;
use crate::database_url::DatabaseUrl;
use crate::deploy::resume::Resumability;
use crate::engine::{Access, Engine};
use crate::error::{Error, ExitCode};
use crate::history::{self, HistoryRow};
use crate::journal::Journal;
use crate::migrations::MigrationsDir;

/// The class of one migration. The JSON names are stable (README, "status --json").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Finished, and the file still matches the checksum.
    Applied,
    /// In the folder, never applied.
    Pending,
    /// Started and never finished nor rolled back: deploy refuses to continue (P3009).
    Failed,
    /// Left unfinished by an interrupted safemig deploy: the next deploy resumes it.
    Interrupted,
    /// Only rolled-back attempts: deploy will apply it again.
    RolledBack,
    /// Finished, but the file changed since.
    Modified,
    /// Finished in the database, but its folder is gone.
    Missing,
    /// Finished after a migration that sorts later in the folder.
    OutOfOrder,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Failed => "failed",
            State::Interrupted => "interrupted",
            State::RolledBack => "rolled_back",
            State::Modified => "modified",
            State::Missing => "missing",
            State::OutOfOrder => "out_of_order",
        }
    }

    /// States that mean the history disagrees with the folder.
    fn is_inconsistent(self) -> bool {
        matches!(self, State::Modified | State::Missing | State::OutOfOrder)
    }
}

/// One migration's standing, from the folder and the row that decides its state.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub name: String,
    pub state: State,
    pub in_folder: bool,
    pub local_checksum: Option<String>,
    pub database_checksum: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    pub applied_steps_count: Option<u32>,
    pub logs: Option<String>,
    /// Statements done and in all, for a migration safemig applies statement by statement
    /// and that did not finish.
    pub progress: Option<Progress>,
    /// A sentence on anything worth knowing beyond the state.
    pub note: Option<String>,
    /// Applied after a migration that sorts later in the folder (a branch merge).
    pub out_of_order: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// What the database looks like before any history is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryTable {
    Present,
    /// No `_prisma_migrations` and nothing else: a fresh database.
    Missing,
    /// No `_prisma_migrations`, but other tables: deploy would refuse (P3005).
    MissingInNonEmptyDatabase,
    /// The database (or SQLite file) itself does not exist yet.
    NoDatabase,
}

/// The verdict on the whole history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    UpToDate,
    Pending,
    Failed,
    Inconsistent,
    BaselineNeeded,
    /// The database carries Prisma 8's marker: it is migrated by Prisma 8 now.
    HandedToPrismaNext,
}

impl Verdict {
    /// The name JSON uses (`baseline_needed`), which is also the name people see: one
    /// name per verdict, whatever prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::UpToDate => "up_to_date",
            Verdict::Pending => "pending",
            Verdict::Failed => "failed",
            Verdict::Inconsistent => "inconsistent",
            Verdict::BaselineNeeded => "baseline_needed",
            Verdict::HandedToPrismaNext => "handed_to_prisma_next",
        }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            Verdict::UpToDate => ExitCode::Success,
            Verdict::Pending => ExitCode::Pending,
            Verdict::Failed => ExitCode::FailedInHistory,
            Verdict::Inconsistent => ExitCode::Inconsistent,
            Verdict::BaselineNeeded => ExitCode::BaselineNeeded,
            Verdict::HandedToPrismaNext => ExitCode::Usage,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report `safemig status` prints; `--json` prints it as is.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Bumped only when a field changes meaning or disappears.
    pub format_version: u32,
    /// The URL, password masked.
    pub database: String,
    /// How messages name the database ([`crate::database_url::DatabaseUrl::describe`]).
    #[serde(skip)]
    pub target: String,
    pub provider: crate::provider::Provider,
    pub migrations_dir: String,
    pub history_table: HistoryTable,
    pub verdict: Verdict,
    pub counts: BTreeMap<&'static str, usize>,
    pub migrations: Vec<MigrationStatus>,
    /// Sentences about the whole folder or history (such as an order that older Prisma
    /// versions applied differently).
    pub notes: Vec<String>,
    /// Indexes the server keeps invalid (an interrupted `CREATE INDEX CONCURRENTLY`): the
    /// history may say every migration ran while one of them did not finish.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_indexes: Vec<String>,
}

/// How strictly the history is judged against the folder.
///
/// By default only what stops or awaits a deploy counts: a failed or pending migration,
/// a missing baseline. A migration edited after it was applied, one whose folder is gone
/// and one applied out of order (a branch merge) are shown with a note, since `deploy`
/// applies past them as Prisma does, and a deploy that succeeded must leave `status` and
/// `check` at 0. `strict` (`--strict`, or `strict = true` for an environment of
/// `safemig.toml`) makes them `inconsistent` (exit 7), and out-of-order a state of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strictness {
    pub strict: bool,
}

/// `safemig status`: reads the database's history (never writing anything) and classifies
/// every migration of `dir` (the folder of `ctx`, loaded by the caller so it can warn about
/// its files first).
pub async fn report(
    ctx: &Context,
    dir: &MigrationsDir,
    strictness: Strictness,
) -> Result<StatusReport, Error> {
    dir.check_provider(ctx.url.provider())?;
    match ctx.connect(Access::ReadOnly).await {
        Ok(mut engine) => report_on(&mut *engine, &ctx.url, dir, strictness).await,
        Err(e) => without_database(&ctx.url, dir, e),
    }
}

/// [`report`] over a connection already open to `url` (`check` also asks it who holds the
/// lock). The caller has checked `dir`'s provider.
pub async fn report_on(
    engine: &mut dyn Engine,
    url: &DatabaseUrl,
    dir: &MigrationsDir,
    strictness: Strictness,
) -> Result<StatusReport, Error> {
    let marker = engine.prisma_next_marker().await?;
    let (table, rows, resumability) = if engine.history_exists().await? {
        let rows = engine.read_history().await?;
        let resumability = crate::deploy::resume::resumability(engine, dir, &rows).await?;
        (HistoryTable::Present, rows, resumability)
    } else if engine.user_objects().await?.is_empty() {
        (HistoryTable::Missing, Vec::new(), BTreeMap::new())
    } else {
        (
            HistoryTable::MissingInNonEmptyDatabase,
            Vec::new(),
            BTreeMap::new(),
        )
    };
    let report = from_history(url, dir, table, &rows, &resumability, marker);
    Ok(report
        .with_invalid_indexes(engine.invalid_indexes().await?)
        .judged(strictness))
}

/// The report when connecting to `url` failed with `error`. Deploy creates a missing SQLite
/// file, so a missing file is only pending work; a missing server database is an error
/// for deploy, and so for status too.
pub fn without_database(
    url: &DatabaseUrl,
    dir: &MigrationsDir,
    error: Error,
) -> Result<StatusReport, Error> {
    match error {
        Error::Database(DatabaseError::DatabaseMissing { .. })
            if url.provider().deploy_creates_database() =>
        {
            Ok(from_history(
                url,
                dir,
                HistoryTable::NoDatabase,
                &[],
                &BTreeMap::new(),
                None,
            ))
        }
        e => Err(e),
    }
}

/// The report from rows already read: `status` reads them from one database, `check`
/// reads many tenants' at once. `marker` is Prisma 8's marker, if the database has it.
pub fn from_history(
    url: &DatabaseUrl,
    dir: &MigrationsDir,
    history_table: HistoryTable,
    rows: &[HistoryRow],
    resumability: &BTreeMap<String, Resumability>,
    marker: Option<String>,
) -> StatusReport {
    let mut notes = folder_notes(dir);
    if let Some(marker) = &marker {
        notes.push(format!(
            "this database carries Prisma 8's marker ({marker}): Prisma 8 (Prisma Next) migrates it now, without _prisma_migrations, and safemig deploy and resolve refuse to touch it"
        ));
    }
    let mut migrations = evaluate(dir, rows, resumability);
    let verdict = if marker.is_some() {
        Verdict::HandedToPrismaNext
    } else {
        verdict(history_table, &migrations)
    };
    // A branch merge's migration, applied after later-named ones as deploy applies it, is
    // a note unless strictness is asked for (see `judged`).
    for m in &mut migrations {
        if m.state == State::OutOfOrder {
            m.state = State::Applied;
            m.out_of_order = true;
        }
    }
    StatusReport {
        format_version: 1,
        database: url.redacted().to_string(),
        target: url.describe(),
        provider: url.provider(),
        migrations_dir: dir.path.display().to_string(),
        history_table,
        verdict,
        counts: counts(&migrations),
        notes,
        migrations,
        invalid_indexes: Vec::new(),
    }
}

impl StatusReport {
    /// The report with the database's invalid indexes, each with a note.
    fn with_invalid_indexes(mut self, indexes: Vec<String>) -> StatusReport {
        for index in &indexes {
            self.notes.push(format!(
                "index `{}` is INVALID: a CREATE INDEX CONCURRENTLY of it did not finish, so the server does not use it (nor enforce it, if unique); `safemig repair` of the migration that creates it drops it and builds it again",
                crate::text::escaped(index)
            ));
        }
        self.invalid_indexes = indexes;
        self
    }

    /// The report judged with `strictness`: when strict, migrations edited after they
    /// were applied, gone from the folder or applied out of order make the history
    /// `inconsistent`, and out-of-order is their state.
    pub fn judged(mut self, strictness: Strictness) -> StatusReport {
        if !strictness.strict {
            return self;
        }
        for m in &mut self.migrations {
            if m.out_of_order {
                m.state = State::OutOfOrder;
            }
        }
        self.counts = counts(&self.migrations);
        if matches!(self.verdict, Verdict::UpToDate | Verdict::Pending)
            && self.migrations.iter().any(|m| m.state.is_inconsistent())
        {
            self.verdict = Verdict::Inconsistent;
        }
        self
    }

    /// The migrations the history and the folder disagree on without it stopping a
    /// deploy: edited after they were applied, or gone from the folder.
    pub fn disagreements(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.migrations
            .iter()
            .filter(|m| matches!(m.state, State::Modified | State::Missing))
    }
}

/// The notes about the folder as a whole: where Prisma ≤ 6.5 ordered it differently.
pub fn folder_notes(dir: &MigrationsDir) -> Vec<String> {
    let differences = dir.byte_order_differences();
    if differences.is_empty() {
        return Vec::new();
    }
    let pairs: Vec<String> = differences
        .iter()
        .take(3)
        .map(|(a, b)| {
            format!(
                "`{}` before `{}`",
                crate::text::escaped(a),
                crate::text::escaped(b)
            )
        })
        .collect();
    vec![format!(
        "the folder's order differs between Prisma 6.6 and later (which safemig follows: names compared as JavaScript's localeCompare does) and Prisma 6.5 and earlier (bytes): now {}{}; Prisma 6.5 applied them the other way round",
        pairs.join(", "),
        if differences.len() > 3 {
            format!(" and {} more", differences.len() - 3)
        } else {
            String::new()
        }
    )]
}

/// Classifies every migration in the folder and every migration the history names.
/// `resumability` says, for migrations safemig left unfinished, whether deploy would
/// continue them ([`crate::deploy::resume::resumability`]); without an entry, a journal
/// without an error counts as resumable.
pub fn evaluate(
    dir: &MigrationsDir,
    rows: &[HistoryRow],
    resumability: &BTreeMap<String, Resumability>,
) -> Vec<MigrationStatus> {
    let mut by_name: BTreeMap<&str, Vec<&HistoryRow>> = BTreeMap::new();
    for row in rows {
        by_name.entry(&row.migration_name).or_default().push(row);
    }
    let mut names: Vec<&str> = dir.migrations.iter().map(|m| m.name.as_str()).collect();
    names.extend(by_name.keys().filter(|n| dir.find(n).is_none()));
    // Folder order (Prisma's), which out-of-order detection below relies on.
    names.sort_by(|a, b| crate::migrations::compare_names(a, b));

    let mut statuses: Vec<MigrationStatus> = names
        .into_iter()
        .map(|name| {
            classify(
                name,
                dir,
                by_name.get(name).map(Vec::as_slice).unwrap_or(&[]),
                resumability.get(name),
            )
        })
        .collect();
    mark_out_of_order(&mut statuses);
    statuses
}

fn classify(
    name: &str,
    dir: &MigrationsDir,
    rows: &[&HistoryRow],
    standing: Option<&Resumability>,
) -> MigrationStatus {
    let local = dir.find(name);
    // The row that decides: a failed attempt blocks everything, then a finished one, then
    // the latest rolled-back attempt. Rows arrive oldest first.
    let failed = rows.iter().rev().find(|r| r.is_failed());
    let applied = rows.iter().rev().find(|r| r.is_applied());
    let deciding = failed.or(applied).or(rows.last()).copied();
    let journal = deciding
        .filter(|r| r.is_failed())
        .and_then(|r| r.logs.as_deref())
        .and_then(Journal::from_logs);

    let (state, note) = match (deciding, local) {
        (None, _) => (State::Pending, None),
        (Some(row), _) if row.is_failed() => match (&journal, local) {
            (Some(j), Some(_)) if standing.is_some() => {
                resumable_state(j, standing.expect("checked above"))
            }
            (Some(j), Some(_)) if j.error.is_none() => (
                State::Interrupted,
                Some(format!(
                    "interrupted, resumable at statement {} of {}: the next deploy finishes it",
                    j.done + 1,
                    j.total()
                )),
            ),
            (Some(j), _) if j.error.is_some() => (
                State::Failed,
                Some(format!(
                    "failed at statement {} of {}: {}",
                    j.failed_at.unwrap_or(j.done) + 1,
                    j.total(),
                    j.error.as_deref().unwrap_or_default()
                )),
            ),
            (_, None) => (
                State::Failed,
                Some("failed, and its folder is missing from the migrations folder".into()),
            ),
            (_, Some(_)) => (
                State::Failed,
                Some(
                    "started but never finished: deploy refuses to continue until it is resolved"
                        .into(),
                ),
            ),
        },
        (Some(row), Some(local)) if row.is_applied() => {
            if checksum::matches(&row.checksum, &local.script) {
                (State::Applied, None)
            } else {
                let note = "migration.sql changed after the migration was applied";
                (State::Modified, Some(note.to_string()))
            }
        }
        (Some(row), None) if row.is_applied() => {
            let note = "applied to the database, but its folder is not in the migrations folder";
            (State::Missing, Some(note.to_string()))
        }
        (Some(row), _) => {
            let mut note = match local {
                Some(_) => "rolled back: deploy will apply it again".to_string(),
                None => "rolled back, and its folder is gone: nothing will apply it".to_string(),
            };
            if let Some(error) = row.logs.as_deref().and_then(history::log_summary) {
                note.push_str(&format!(" (last attempt failed: {error})"));
            }
            (State::RolledBack, Some(note))
        }
    };
    MigrationStatus {
        name: name.to_string(),
        state,
        in_folder: local.is_some(),
        local_checksum: local.map(|l| l.checksum.clone()),
        database_checksum: deciding.map(|r| r.checksum.clone()),
        started_at: deciding.map(|r| r.started_at),
        finished_at: deciding.and_then(|r| r.finished_at),
        rolled_back_at: deciding.and_then(|r| r.rolled_back_at),
        applied_steps_count: deciding.map(|r| r.applied_steps_count),
        logs: deciding.and_then(|r| r.logs.clone()),
        progress: journal.as_ref().map(|j| Progress {
            done: j.done,
            total: j.total(),
        }),
        note,
        out_of_order: false,
    }
}

/// The state of a migration safemig left unfinished, from what deploy would do with it.
fn resumable_state(journal: &Journal, standing: &Resumability) -> (State, Option<String>) {
    let at = |k: usize| format!("statement {} of {}", k + 1, journal.total());
    let error = journal.error.as_deref().unwrap_or_default();
    let failed_at = journal.failed_at.unwrap_or(journal.done);
    match standing {
        Resumability::Resumable => match journal.retry_from {
            Some(from) => (
                State::Interrupted,
                Some(format!(
                    "failed at {}, which applied nothing ({error}); the file or the server changed since: the next deploy retries from statement {}",
                    at(failed_at),
                    from + 1
                )),
            ),
            None => (
                State::Interrupted,
                Some(format!(
                    "interrupted, resumable at {}: the next deploy finishes it",
                    at(journal.done)
                )),
            ),
        },
        Resumability::RetryUnchanged => (
            State::Failed,
            Some(format!(
                "failed at {}, which applied nothing: {error}; once the statement or what the error names is fixed, deploy retries from statement {}",
                at(failed_at),
                journal.retry_from.unwrap_or(journal.done) + 1
            )),
        ),
        Resumability::Stuck { statement, count } => (
            State::Failed,
            Some(format!(
                "deploy resumed it at {} {count} times in a row and never got past it (the connection was lost each time): find the cause in the server's log (a crash, a size limit, a proxy timeout) before deploying again",
                at(*statement)
            )),
        ),
        Resumability::Refused(reason) => (
            State::Failed,
            Some(format!("interrupted, and cannot be resumed: {reason}")),
        ),
    }
}

/// An applied migration is out of order when a migration that sorts after it was started
/// before it; a pending one that sorts before an applied one will be applied out of order.
fn mark_out_of_order(statuses: &mut [MigrationStatus]) {
    // `statuses` is sorted by name. Walking it backwards, remember the earliest start among
    // the applied migrations that sort later, and the last-named applied migration.
    let mut earliest_later_start: Option<(DateTime<Utc>, String)> = None;
    let mut latest_applied_after: Option<String> = None;
    for status in statuses.iter_mut().rev() {
        match status.state {
            State::Applied => {
                if let (Some(started), Some((later_start, later_name))) =
                    (status.started_at, &earliest_later_start)
                    && *later_start < started
                {
                    status.state = State::OutOfOrder;
                    status.note = Some(format!(
                        "applied after `{later_name}`, which comes later in the folder (a branch merge; deploy applies such a migration, as Prisma does)"
                    ));
                }
            }
            State::Pending | State::RolledBack if status.in_folder => {
                if let Some(after) = &latest_applied_after {
                    let note = format!(
                        "comes before the applied migration `{after}`: deploy will apply it out of order"
                    );
                    status.note = Some(match status.note.take() {
                        Some(existing) => format!("{existing}; {note}"),
                        None => note,
                    });
                }
            }
            _ => {}
        }
        if let (State::Applied | State::OutOfOrder | State::Modified, Some(started)) =
            (status.state, status.started_at)
        {
            if earliest_later_start
                .as_ref()
                .is_none_or(|(t, _)| started < *t)
            {
                earliest_later_start = Some((started, status.name.clone()));
            }
            if latest_applied_after.is_none() {
                latest_applied_after = Some(status.name.clone());
            }
        }
    }
}

/// The verdict over all classified migrations, as deploy sees them: what stops it, what
/// it would do. Disagreements deploy applies past are judged by
/// [`StatusReport::judged`].
pub fn verdict(history: HistoryTable, statuses: &[MigrationStatus]) -> Verdict {
    if history == HistoryTable::MissingInNonEmptyDatabase {
        Verdict::BaselineNeeded
    } else if statuses.iter().any(|s| s.state == State::Failed) {
        Verdict::Failed
    } else if statuses.iter().any(|s| {
        s.in_folder
            && matches!(
                s.state,
                State::Pending | State::RolledBack | State::Interrupted
            )
    }) {
        Verdict::Pending
    } else {
        Verdict::UpToDate
    }
}

/// How many migrations are in each state.
pub fn counts(statuses: &[MigrationStatus]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for status in statuses {
        *counts.entry(status.state.as_str()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::LocalMigration;
    use chrono::TimeZone;

    fn dir(names: &[&str]) -> MigrationsDir {
        MigrationsDir {
            path: "m".into(),
            lock: None,
            not_utf8: Vec::new(),
            migrations: names
                .iter()
                .map(|n| LocalMigration {
                    name: n.to_string(),
                    script_path: format!("m/{n}/migration.sql").into(),
                    script: format!("-- {n}"),
                    checksum: checksum::checksum(&format!("-- {n}")),
                })
                .collect(),
        }
    }

    fn row(name: &str, minute: u32, finished: bool) -> HistoryRow {
        let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, minute, 0).unwrap();
        HistoryRow {
            id: format!("id-{name}-{minute}"),
            checksum: checksum::checksum(&format!("-- {name}")),
            finished_at: finished.then_some(at),
            migration_name: name.into(),
            logs: None,
            rolled_back_at: None,
            started_at: at,
            applied_steps_count: finished as u32,
        }
    }

    fn states(statuses: &[MigrationStatus]) -> Vec<(&str, State)> {
        statuses
            .iter()
            .map(|s| (s.name.as_str(), s.state))
            .collect()
    }

    #[test]
    fn every_class() {
        let folder = dir(&["1_a", "2_b", "3_c", "4_d", "5_e", "6_f"]);
        let mut modified = row("2_b", 2, true);
        modified.checksum = checksum::checksum("something else");
        let mut rolled = row("4_d", 4, false);
        rolled.rolled_back_at = Some(rolled.started_at);
        let rows = vec![
            row("1_a", 1, true),
            modified,
            row("3_c", 3, false),
            rolled,
            row("0_gone", 5, true),
        ];
        let statuses = evaluate(&folder, &rows, &BTreeMap::new());
        assert_eq!(
            states(&statuses),
            [
                ("0_gone", State::Missing),
                ("1_a", State::Applied),
                ("2_b", State::Modified),
                ("3_c", State::Failed),
                ("4_d", State::RolledBack),
                ("5_e", State::Pending),
                ("6_f", State::Pending),
            ]
        );
        assert_eq!(verdict(HistoryTable::Present, &statuses), Verdict::Failed);
    }

    #[test]
    fn out_of_order_application() {
        let folder = dir(&["1_a", "2_b", "3_c", "4_d"]);
        // 3_c was applied before 2_b; 1_a is pending though later ones are applied.
        let rows = vec![
            row("3_c", 1, true),
            row("2_b", 2, true),
            row("4_d", 3, true),
        ];
        let statuses = evaluate(&folder, &rows, &BTreeMap::new());
        assert_eq!(
            states(&statuses),
            [
                ("1_a", State::Pending),
                ("2_b", State::OutOfOrder),
                ("3_c", State::Applied),
                ("4_d", State::Applied),
            ]
        );
        assert!(
            statuses[0]
                .note
                .as_deref()
                .unwrap()
                .contains("out of order")
        );
        assert_eq!(verdict(HistoryTable::Present, &statuses), Verdict::Pending);
    }

    #[test]
    fn up_to_date_and_pending() {
        let folder = dir(&["1_a", "2_b"]);
        let all = vec![row("1_a", 1, true), row("2_b", 2, true)];
        assert_eq!(
            verdict(
                HistoryTable::Present,
                &evaluate(&folder, &all, &BTreeMap::new())
            ),
            Verdict::UpToDate
        );
        let some = vec![row("1_a", 1, true)];
        assert_eq!(
            verdict(
                HistoryTable::Present,
                &evaluate(&folder, &some, &BTreeMap::new())
            ),
            Verdict::Pending
        );
        assert_eq!(
            verdict(
                HistoryTable::MissingInNonEmptyDatabase,
                &evaluate(&folder, &[], &BTreeMap::new())
            ),
            Verdict::BaselineNeeded
        );
    }

    #[test]
    fn a_retried_migration_is_applied() {
        let folder = dir(&["1_a"]);
        let mut first = row("1_a", 1, false);
        first.rolled_back_at = Some(first.started_at);
        let statuses = evaluate(&folder, &[first, row("1_a", 2, true)], &BTreeMap::new());
        assert_eq!(states(&statuses), [("1_a", State::Applied)]);
    }
}
