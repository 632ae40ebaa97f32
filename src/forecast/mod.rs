//! `safemig forecast`: before pending migrations run, what each statement will do to the
//! tables it touches, which lock it holds meanwhile, and how long that will take on the
//! live tables — against a time budget (by default what a stop leaves a migration under
//! the declared grace period: [`crate::supervisor::StopBudget::migration_deadline`]).
//!
//! Static linters (squawk, strong_migrations) read the text alone and flag every index
//! build and every foreign key, on an empty table as on a large one. The forecast reads the
//! text the same way ([`crate::sql::lock_effect`]) and then sizes each statement's work
//! with the live tables' statistics ([`crate::engine::Inspect::table_sizes`]), so that
//! only what is slow *here* counts against the budget.
//!
//! It changes nothing the database keeps: it reads as `status` does, and the measurement
//! of the server's speed (`calibration.rs`) works on throwaway tables, rolled back
//! (PostgreSQL) or dropped (MariaDB, MySQL).

mod calibration;
mod estimate;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::cache::Cache;
use crate::context::Context;
use crate::engine::{Access, Engine, TableSize};
use crate::error::DatabaseError;
use crate::exit_code::ExitCode;
use crate::history;
use crate::migrations::{LocalMigration, MigrationsDir};
use crate::sql::{self, Blocks, Dialect, Effect};
use crate::status::{self, State, StatusReport, Strictness};

pub use estimate::{Estimate, Source, Throughput};

/// Whether the pending migrations fit the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The highest estimate of all pending migrations together is within the budget.
    Fits,
    /// It is not.
    Exceeds,
    /// A statement whose effect the text does not tell touches a table that holds rows.
    Unknown,
}

impl Verdict {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Verdict::Fits => ExitCode::Success,
            Verdict::Exceeds => ExitCode::ForecastExceeds,
            Verdict::Unknown => ExitCode::ForecastUnknown,
        }
    }
}

/// The lock a statement holds while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lock {
    pub mode: &'static str,
    pub tables: Vec<String>,
    /// What the app's queries on those tables wait for meanwhile.
    pub blocks: Blocks,
}

/// One statement's forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementForecast {
    /// 1-based, in the migration.
    pub index: usize,
    /// 1-based line of the statement in `migration.sql`.
    pub line: usize,
    pub effect: Effect,
    pub lock: Lock,
    /// Rows and bytes of the tables whose size decides the duration, where known.
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub estimate_ms: Estimate,
    pub reason: &'static str,
    /// Whether this statement alone makes the verdict `unknown`.
    #[serde(skip)]
    pub unknown_matters: bool,
}

/// One pending migration's forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationForecast {
    pub name: String,
    pub estimate_ms: Estimate,
    pub statements: Vec<StatementForecast>,
}

/// `safemig forecast`'s report (`--json`: docs/reference/json.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub format_version: u32,
    pub target: String,
    pub budget_ms: u64,
    pub verdict: Verdict,
    pub estimate_ms: Estimate,
    /// The throughputs the estimates assume.
    pub throughput: Throughput,
    pub migrations: Vec<MigrationForecast>,
}

impl Forecast {
    /// The statement with the highest estimate, for messages.
    pub fn longest(&self) -> Option<(&MigrationForecast, &StatementForecast)> {
        self.migrations
            .iter()
            .flat_map(|m| m.statements.iter().map(move |s| (m, s)))
            .max_by_key(|(_, s)| s.estimate_ms.high)
    }
}

/// Forecasts the migrations of `dir` that the database of `ctx` has not applied, against
/// `budget`, with the server's throughputs measured or read from `cache`.
pub async fn forecast(
    ctx: &Context,
    dir: &MigrationsDir,
    budget: Duration,
    cache: Option<&Cache>,
) -> Result<Forecast, Error> {
    dir.check_provider(ctx.url.provider())?;
    let dialect = ctx.url.provider().dialect();
    let mut engine = match ctx.connect(Access::ReadOnly).await {
        Ok(engine) => engine,
        // A database deploy would create (a SQLite file): everything pending, no tables.
        Err(Error::Database(DatabaseError::DatabaseMissing { target }))
            if ctx.url.provider().deploy_creates_database() =>
        {
            let all: Vec<&LocalMigration> = dir.migrations.iter().collect();
            return Ok(of_migrations(
                &target,
                &all,
                dialect,
                &BTreeMap::new(),
                &Throughput::default(),
                budget,
            ));
        }
        Err(e) => return Err(e),
    };
    let report = status::report_on(&mut *engine, &ctx.url, dir, Strictness::default()).await?;
    of_report(&mut *engine, dir, &report, budget, cache).await
}

/// The forecast of what `report` (status over `engine`'s database) finds pending, sized
/// with `engine`'s table statistics and timed with its server's throughputs: `check`
/// asks it on its own connection.
pub async fn of_report(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    report: &StatusReport,
    budget: Duration,
    cache: Option<&Cache>,
) -> Result<Forecast, Error> {
    let pending: Vec<&LocalMigration> = report
        .migrations
        .iter()
        .filter(|m| m.in_folder && matches!(m.state, State::Pending | State::RolledBack))
        .filter_map(|m| dir.find(&m.name))
        .collect();
    // Nothing pending (every restart of an up-to-date app under `run`): no sizes to read.
    let sizes = if pending.is_empty() {
        BTreeMap::new()
    } else {
        engine.table_sizes().await?
    };
    let dialect = engine.provider().dialect();
    let defaults = Throughput::default();
    let guess = of_migrations(
        engine.target(),
        &pending,
        dialect,
        &sizes,
        &defaults,
        budget,
    );
    // Only work on tables that hold something depends on the throughputs.
    let sized_work = guess
        .migrations
        .iter()
        .flat_map(|m| &m.statements)
        .any(|s| s.estimate_ms != estimate::CATALOG_MS);
    if !sized_work {
        return Ok(guess);
    }
    let measure = guess.estimate_ms.high >= calibration::MEASURE_FROM_MS;
    let throughput = calibration::throughput(engine, cache, measure).await;
    if throughput == defaults {
        return Ok(guess);
    }
    Ok(of_migrations(
        engine.target(),
        &pending,
        dialect,
        &sizes,
        &throughput,
        budget,
    ))
}

/// For `check`'s metric: the estimate of what `report` finds pending; `None` when
/// nothing is pending or the statistics cannot be read (a check does not fail on that).
pub async fn estimate_of_pending(
    engine: &mut dyn Engine,
    dir: &MigrationsDir,
    report: &StatusReport,
    cache: Option<&Cache>,
) -> Option<Estimate> {
    if report.verdict != status::Verdict::Pending {
        return None;
    }
    let forecast = of_report(engine, dir, report, Duration::MAX, cache).await;
    forecast.ok().map(|f| f.estimate_ms)
}

/// The forecast of `pending`, in order, on tables of `sizes`: the part without a database.
pub fn of_migrations(
    target: &str,
    pending: &[&LocalMigration],
    dialect: Dialect,
    sizes: &BTreeMap<String, TableSize>,
    throughput: &Throughput,
    budget: Duration,
) -> Forecast {
    // The history table's rows are the migrations', not the app's.
    let any_rows = sizes
        .iter()
        .any(|(name, s)| name != history::TABLE && holds_rows(s));
    let migrations: Vec<MigrationForecast> = pending
        .iter()
        .map(|m| of_migration(m, dialect, sizes, throughput, any_rows))
        .collect();
    let estimate_ms = Estimate::sum(migrations.iter().map(|m| m.estimate_ms));
    let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
    let unknown = migrations
        .iter()
        .flat_map(|m| &m.statements)
        .any(|s| s.unknown_matters);
    let verdict = if unknown {
        Verdict::Unknown
    } else if estimate_ms.high > budget_ms {
        Verdict::Exceeds
    } else {
        Verdict::Fits
    };
    Forecast {
        format_version: 1,
        target: target.to_string(),
        budget_ms,
        verdict,
        estimate_ms,
        throughput: throughput.clone(),
        migrations,
    }
}

/// Whether a table holds rows: as counted or estimated, else whether it takes room.
fn holds_rows(size: &TableSize) -> bool {
    size.rows.map_or(size.bytes > 0, |rows| rows > 0)
}

fn of_migration(
    migration: &LocalMigration,
    dialect: Dialect,
    sizes: &BTreeMap<String, TableSize>,
    throughput: &Throughput,
    any_rows: bool,
) -> MigrationForecast {
    let statements: Vec<StatementForecast> = sql::executable_statements(migration.sql(), dialect)
        .iter()
        .enumerate()
        .map(|(i, stmt)| {
            let effect = sql::lock_effect(stmt, dialect);
            // Unquoted names are folded to lower case by PostgreSQL (and by MySQL with
            // lower_case_table_names).
            let known: Vec<&TableSize> = effect
                .tables
                .iter()
                .filter_map(|t| sizes.get(t).or_else(|| sizes.get(&t.to_lowercase())))
                .collect();
            let sized = !known.is_empty();
            let rows = sized.then(|| known.iter().filter_map(|s| s.rows).sum());
            let bytes = sized.then(|| known.iter().map(|s| s.bytes).sum());
            // An effect the text does not tell matters where it may touch rows: a table
            // of its own that holds some, or, naming none, any table of the database.
            let holds_rows = known.iter().any(|s| holds_rows(s));
            let unknown_matters = effect.effect == Effect::Unknown
                && (holds_rows || (effect.tables.is_empty() && any_rows));
            StatementForecast {
                index: i + 1,
                line: stmt.line,
                effect: effect.effect,
                estimate_ms: throughput.estimate(&effect, rows.unwrap_or(0), bytes.unwrap_or(0)),
                lock: Lock {
                    mode: effect.mode,
                    tables: effect.tables,
                    blocks: effect.blocks,
                },
                rows,
                bytes,
                reason: effect.reason,
                unknown_matters,
            }
        })
        .collect();
    MigrationForecast {
        name: migration.name.clone(),
        estimate_ms: Estimate::sum(statements.iter().map(|s| s.estimate_ms)),
        statements,
    }
}
