//! `drill --during-migration`: the incident's checklist item "stop the app during a
//! migration", on a scratch database, never the live one.
//!
//! The scratch database is made beside the live one as drift and repair make theirs
//! ([`ScratchDatabases`](crate::engine::ScratchDatabases): same server and login; SQLite:
//! a temporary file) and dropped however the drill ends. The project's migrations are
//! replayed into it with a setup migration that fills a table of 1,000 rows; then `safemig
//! run` starts against it (`--url`, and `DATABASE_URL` for the app) with one more
//! migration pending, the slow one: a statement counting the rows' fourfold cross join,
//! which runs until cancelled. Its empty `BEGIN; COMMIT;` makes safemig run it statement by
//! statement (journaled) on every engine, as MySQL runs every migration and PostgreSQL
//! and SQLite run scripts with transaction control or `CONCURRENTLY`: the longest stop
//! there is, where the running statement goes on until the budget's migration deadline
//! and is then cancelled. The drill sends SIGTERM once the migration runs, checks that
//! `safemig run` exits 11 inside the grace period and leaves the migration resumable (not
//! failed: that is the crash loop), deletes all rows but one so the statement finishes at
//! once, and starts again: the next start must resume and finish the migration, start the
//! app, see it ready and stop it cleanly.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::process::{Launch, Supervised};
use super::{Attempt, Options, Phase, Report, attempt};
use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::engine::{self, Access};
use crate::error::{ConfigError, DatabaseError, SuperviseError};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;
use crate::status::State;

/// The drill's migrations, named to sort after any migration of the project.
const SETUP: &str = "99990101000000_safemig_drill_setup";
const SLOW: &str = "99990101000001_safemig_drill_slow";

/// Rows of the table the slow statement joins with itself four times: 10¹² combinations,
/// counted until the statement is cancelled.
const ROWS: usize = 1000;

/// How long the drill lets the slow migration run before its SIGTERM; a stop that came
/// before the migration started (a slow connection) is tried again, waiting longer.
const LEADS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How long safemig's own connections wait for a busy SQLite scratch file.
const WAIT: Duration = Duration::from_secs(10);

/// Runs the drill on a scratch database made beside `url` with the migrations of `dir`,
/// reporting each attempt as it ends: the stop during the migration, then the next start.
/// The scratch database is dropped after a failure and a stop request too.
pub async fn during_migration(
    options: &Options,
    url: &DatabaseUrl,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    on_attempt: &mut dyn FnMut(&Attempt),
) -> Result<Report, Error> {
    dir.check_provider(url.provider())?;
    let mut admin = engine::connect(url, Access::ReadOnly, WAIT).await?;
    let name = format!(
        "safemig_drill_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let scratch = admin.create_scratch(&name).await?;
    tracing::info!("the drill runs on {}", scratch.describe());
    let drilled = drill_on(options, &scratch, dir, interrupt, on_attempt).await;
    let dropped = admin.drop_scratch(&name).await;
    match (drilled, dropped) {
        (Ok(report), Ok(())) => Ok(report),
        (Ok(_), Err(e)) => Err(Error::Supervise(SuperviseError::ScratchLeft {
            scratch: scratch.describe(),
            message: e.to_string(),
        })),
        (Err(e), dropped) => {
            if let Err(left) = dropped {
                tracing::error!("{left}");
            }
            Err(e)
        }
    }
}

/// The drill on the scratch database `scratch`.
async fn drill_on(
    options: &Options,
    scratch: &DatabaseUrl,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    on_attempt: &mut dyn FnMut(&Attempt),
) -> Result<Report, Error> {
    let folder = tempfile::Builder::new()
        .prefix("safemig-drill-")
        .tempdir()
        .map_err(|source| io_error(Path::new("a temporary folder"), source))?;
    let migrations = folder.path().join("migrations");
    copy_migrations(dir, &migrations)?;
    write_migration(&migrations, SETUP, &setup_sql())?;
    crate::drift::replay::deploy_into(scratch, &MigrationsDir::load(&migrations)?, interrupt, WAIT)
        .await?;
    write_migration(&migrations, SLOW, SLOW_SQL)?;
    let slow_dir = MigrationsDir::load(&migrations)?;

    let secret: OsString = match scratch.server_url() {
        Some(url) => url.as_str().into(),
        None => scratch.redacted().into(),
    };
    let launch = Launch {
        args: vec![
            "--url".into(),
            secret.clone(),
            "--dir".into(),
            migrations.into_os_string(),
        ],
        // The app talks to the scratch database too; no lock: nothing else knows the
        // scratch database, and MySQL's lock would hold up deploys of the whole server.
        env: vec![
            ("DATABASE_URL", secret),
            ("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK", "1".into()),
        ],
    }
    .with_budget(options);

    let stopped = stop_mid_migration(options, &launch, scratch, &slow_dir, interrupt).await?;
    on_attempt(&stopped);
    make_fast(scratch).await?;
    let resumed = attempt(options, &launch, Phase::AfterMigrationStop, 2, interrupt)?;
    let resumed = after_resume(resumed, slow_state(scratch, &slow_dir).await?);
    on_attempt(&resumed);
    Ok(Report::new(options.budget, vec![stopped, resumed]))
}

/// Starts `safemig run` on the slow migration and sends SIGTERM while it runs.
async fn stop_mid_migration(
    options: &Options,
    launch: &Launch,
    scratch: &DatabaseUrl,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
) -> Result<Attempt, Error> {
    let result = Attempt::new(Phase::DuringMigration, 1);
    for (round, lead) in LEADS.iter().enumerate() {
        let mut supervised = Supervised::spawn(options, launch)?;
        if let Err(problem) = migrating_for(options, &mut supervised, *lead, interrupt)? {
            supervised.kill();
            return Ok(result.judged(Some(problem)));
        }
        let stop = supervised.stop(options.budget.grace().duration);
        let state = slow_state(scratch, dir).await?;
        if state == SlowState::NotStarted && round + 1 < LEADS.len() {
            tracing::info!("the stop came before the slow migration started; trying again");
            continue;
        }
        let problem = judge_stop(
            options.budget.grace().duration,
            &stop,
            &state,
            supervised.said(),
        );
        return Ok(Attempt {
            stop_seconds: Some(stop.took.as_secs_f64()),
            exit_code: stop.code,
            migration: Some(state.to_string()),
            ..result
        }
        .judged(problem));
    }
    unreachable!("the last round returns")
}

/// Waits until `safemig run` starts migrating, then `lead` more; `Err` says why it did
/// not get there.
fn migrating_for(
    options: &Options,
    supervised: &mut Supervised,
    lead: Duration,
    interrupt: &Interrupt,
) -> Result<Result<(), String>, Error> {
    let mut since: Option<std::time::Instant> = None;
    loop {
        if let Some(problem) = supervised.ended(interrupt, "before the stop signal")? {
            return Ok(Err(problem));
        }
        match since {
            Some(at) if at.elapsed() >= lead => return Ok(Ok(())),
            Some(_) => {}
            None if supervised.has_event("migrating") => since = Some(std::time::Instant::now()),
            None if supervised.since_spawn() > options.ready_timeout => {
                return Ok(Err(format!(
                    "safemig run did not start migrating within {}s",
                    options.ready_timeout.as_secs_f32()
                )));
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What is wrong with a stop during the migration, if anything.
fn judge_stop(
    grace: Duration,
    stop: &super::process::Stop,
    state: &SlowState,
    said: String,
) -> Option<String> {
    let Some(code) = stop.code else {
        return Some(format!(
            "safemig run had not stopped {:.0}s after SIGTERM during the migration: the runtime would SIGKILL it mid-statement",
            stop.took.as_secs_f32()
        ));
    };
    if stop.took > grace {
        return Some(format!(
            "stopping during the migration took {:.1}s, longer than the {}s grace period: the runtime would SIGKILL it mid-statement",
            stop.took.as_secs_f32(),
            grace.as_secs_f32()
        ));
    }
    if code != crate::ExitCode::Interrupted as i32 {
        return Some(format!(
            "safemig run exited with code {code} after SIGTERM during the migration, not 11 (stopped, the next start resumes){said}"
        ));
    }
    match state {
        SlowState::Resumable { .. } => None,
        SlowState::NotStarted => Some(format!(
            "the stop came before the slow migration started, {} times: safemig run was slow to connect",
            LEADS.len()
        )),
        SlowState::Other(State::Failed) => Some(
            "the stop left the migration failed: every start would exit 5 until a person repairs it (the crash loop)".into(),
        ),
        other => Some(format!("the stop left the migration {other}")),
    }
}

/// The next start's attempt, with what became of the slow migration.
fn after_resume(attempt: Attempt, state: SlowState) -> Attempt {
    let finished = state == SlowState::Other(State::Applied);
    let problem = attempt.problem.clone().or_else(|| {
        (!finished).then(|| format!("the next start did not finish the migration: it is {state}"))
    });
    Attempt {
        migration: Some(if finished {
            "resumed and finished".into()
        } else {
            state.to_string()
        }),
        ..attempt
    }
    .judged(problem)
}

/// The slow migration as `status` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SlowState {
    NotStarted,
    /// Interrupted after `done` of `total` statements.
    Resumable {
        done: usize,
        total: usize,
    },
    Other(State),
}

impl std::fmt::Display for SlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlowState::NotStarted => f.write_str("not started"),
            SlowState::Resumable { done, total } => write!(
                f,
                "interrupted at statement {} of {total}, resumable",
                done + 1
            ),
            SlowState::Other(state) => f.write_str(&state.as_str().replace('_', " ")),
        }
    }
}

async fn slow_state(scratch: &DatabaseUrl, dir: &MigrationsDir) -> Result<SlowState, Error> {
    let mut engine = engine::connect(scratch, Access::ReadOnly, WAIT).await?;
    let report = crate::status::report_on(&mut *engine, scratch, dir, Default::default()).await?;
    let slow = report.migrations.iter().find(|m| m.name == SLOW);
    Ok(match slow.map(|m| (m.state, m.progress)) {
        None | Some((State::Pending, _)) => SlowState::NotStarted,
        Some((State::Interrupted, Some(progress))) => SlowState::Resumable {
            done: progress.done,
            total: progress.total,
        },
        Some((state, _)) => SlowState::Other(state),
    })
}

/// Leaves one row, so the slow statement's count finishes at once on the next start.
async fn make_fast(scratch: &DatabaseUrl) -> Result<(), Error> {
    let mut engine = engine::connect(scratch, Access::ReadWrite, WAIT).await?;
    engine
        .run_script("DELETE FROM safemig_drill_rows WHERE n > 1")
        .await
        .map_err(|e| {
            Error::Database(DatabaseError::Query {
                action: "shortening the drill's slow migration".into(),
                target: scratch.describe(),
                message: e.message,
            })
        })
}

fn setup_sql() -> String {
    let values: Vec<String> = (1..=ROWS).map(|n| format!("({n})")).collect();
    format!(
        "-- safemig drill: the rows the slow migration counts.\nCREATE TABLE safemig_drill_rows (n INTEGER);\nINSERT INTO safemig_drill_rows (n) VALUES {};\n",
        values.join(", ")
    )
}

const SLOW_SQL: &str = "-- safemig drill: a migration that runs until it is cancelled, stopped mid-way by the drill.
CREATE TABLE safemig_drill_started (id INTEGER);
SELECT COUNT(*) FROM safemig_drill_rows a, safemig_drill_rows b, safemig_drill_rows c, safemig_drill_rows d;
CREATE TABLE safemig_drill_finished (id INTEGER);
-- The script's own (empty) transaction: safemig runs it statement by statement on every engine.
BEGIN;
COMMIT;
";

/// Copies the project's migrations (byte for byte: their checksums) and lock file.
fn copy_migrations(dir: &MigrationsDir, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(|e| io_error(to, e))?;
    if let Some(lock) = &dir.lock {
        let copy = to.join("migration_lock.toml");
        std::fs::copy(&lock.path, &copy).map_err(|e| io_error(&lock.path, e))?;
    }
    for migration in &dir.migrations {
        let folder = to.join(&migration.name);
        std::fs::create_dir(&folder).map_err(|e| io_error(&folder, e))?;
        std::fs::copy(&migration.script_path, folder.join("migration.sql"))
            .map_err(|e| io_error(&migration.script_path, e))?;
    }
    Ok(())
}

fn write_migration(migrations: &Path, name: &str, sql: &str) -> Result<(), Error> {
    let folder = migrations.join(name);
    std::fs::create_dir(&folder).map_err(|e| io_error(&folder, e))?;
    let file = folder.join("migration.sql");
    std::fs::write(&file, sql).map_err(|e| io_error(&file, e))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Config(ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::process::Stop;

    fn stop(seconds: f64, code: Option<i32>) -> Stop {
        Stop {
            took: Duration::from_secs_f64(seconds),
            code,
        }
    }

    const GRACE: Duration = Duration::from_secs(10);
    const RESUMABLE: SlowState = SlowState::Resumable { done: 1, total: 5 };

    #[test]
    fn a_clean_stop_leaves_the_migration_resumable() {
        assert_eq!(
            judge_stop(GRACE, &stop(3.1, Some(11)), &RESUMABLE, String::new()),
            None
        );
        assert_eq!(
            RESUMABLE.to_string(),
            "interrupted at statement 2 of 5, resumable"
        );
    }

    #[test]
    fn what_fails_a_stop_during_the_migration() {
        let failed = SlowState::Other(State::Failed);
        assert_eq!(
            judge_stop(GRACE, &stop(3.1, Some(11)), &failed, String::new()).unwrap(),
            "the stop left the migration failed: every start would exit 5 until a person repairs it (the crash loop)"
        );
        assert_eq!(
            judge_stop(GRACE, &stop(10.5, Some(11)), &RESUMABLE, String::new()).unwrap(),
            "stopping during the migration took 10.5s, longer than the 10s grace period: the runtime would SIGKILL it mid-statement"
        );
        assert_eq!(
            judge_stop(GRACE, &stop(15.0, None), &RESUMABLE, String::new()).unwrap(),
            "safemig run had not stopped 15s after SIGTERM during the migration: the runtime would SIGKILL it mid-statement"
        );
        assert_eq!(
            judge_stop(
                GRACE,
                &stop(0.2, Some(6)),
                &failed,
                ": error[P3018]: migration failed".into()
            )
            .unwrap(),
            "safemig run exited with code 6 after SIGTERM during the migration, not 11 (stopped, the next start resumes): error[P3018]: migration failed"
        );
    }

    #[test]
    fn the_next_start_must_finish_the_migration() {
        let passed = Attempt::new(Phase::AfterMigrationStop, 2).judged(None);
        let finished = after_resume(passed.clone(), SlowState::Other(State::Applied));
        assert!(finished.passed);
        assert_eq!(finished.migration.as_deref(), Some("resumed and finished"));
        let not = after_resume(passed, RESUMABLE);
        assert_eq!(
            not.problem.as_deref(),
            Some(
                "the next start did not finish the migration: it is interrupted at statement 2 of 5, resumable"
            )
        );
    }
}
