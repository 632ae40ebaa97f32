//! `safemig forecast`: [`safemig::forecast::forecast`] of the pending migrations, printed as a
//! table per statement or as JSON; the exit code is the verdict's.

use std::time::Duration;

use clap::Args;
use comfy_table::{Table, presets};

use safemig::advice::Advice;
use safemig::forecast::{Estimate, Forecast, Source, Throughput, Verdict};
use safemig::sql::Blocks;
use safemig::supervisor::{GracePeriod, StopBudget};
use safemig::{Error, ExitCode};

use super::output::{Printer, render_table};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// The time the pending migrations may take, in seconds [default: what a stop leaves a
    /// migration under the grace period: --grace-period, else SAFEMIG_GRACE_PERIOD, else the
    /// runtimes' 10 s, as for `run`]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    budget: Option<Duration>,

    /// The grace period the default budget derives from, in seconds
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, conflicts_with = "budget")]
    grace_period: Option<Duration>,

    /// Print the forecast as JSON (format: docs/reference/json.md)
    #[arg(long)]
    json: bool,

    /// Measure the server's throughputs again instead of reusing a measurement of the
    /// last week from safemig's cache
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

pub async fn forecast(
    args: ForecastArgs,
    before: ProjectArgs,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let project = args.project.or(before);
    printer.set_target(project.target());
    let budget = match args.budget {
        Some(budget) => budget,
        None => default_budget(args.grace_period)?,
    };
    let ctx = project.context()?;
    let dir = super::migrations(&ctx)?;
    let forecast =
        safemig::forecast::forecast(&ctx, &dir, budget, super::cache(args.no_cache).as_ref())
            .await?;
    if args.json {
        printer.json(&forecast);
    } else {
        printer.line(&render(&forecast));
        if let Some(next) = next(&forecast) {
            printer.line(&format!("next: {}", printer.advice(&next)));
        }
    }
    Ok(forecast.verdict.exit_code())
}

/// What a stop leaves a migration under the grace period `flag` declares (else
/// `SAFEMIG_GRACE_PERIOD`, else the runtimes' default), as `run` computes it.
pub(super) fn default_budget(flag: Option<Duration>) -> Result<Duration, Error> {
    let grace = GracePeriod::declared(flag, &|name| std::env::var(name).ok())?;
    Ok(StopBudget::new(grace).migration_deadline())
}

/// Milliseconds as people read them.
pub(super) fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

pub(super) fn range(estimate: Estimate) -> String {
    format!("{} – {}", duration(estimate.low), duration(estimate.high))
}

fn size(bytes: Option<u64>) -> String {
    match bytes {
        None => "-".into(),
        Some(b) if b < 1024 * 1024 => format!("{} kB", b.div_ceil(1024)),
        Some(b) => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn blocks(blocks: Blocks) -> &'static str {
    match blocks {
        Blocks::Nothing => "nothing",
        Blocks::Writes => "writes",
        Blocks::ReadsAndWrites => "reads and writes",
    }
}

/// The forecast as a table of statements with the verdict under it.
pub(super) fn render(forecast: &Forecast) -> String {
    let pending = forecast.migrations.len();
    if pending == 0 {
        return format!("No pending migrations on {}.", forecast.target);
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header([
        "migration",
        "#",
        "line",
        "effect",
        "lock",
        "blocks",
        "rows",
        "size",
        "estimate",
        "why",
    ]);
    for migration in &forecast.migrations {
        for s in &migration.statements {
            let lock = if s.lock.tables.is_empty() {
                s.lock.mode.to_string()
            } else {
                format!("{} on {}", s.lock.mode, s.lock.tables.join(", "))
            };
            table.add_row([
                migration.name.clone(),
                s.index.to_string(),
                s.line.to_string(),
                s.effect.as_str().to_string(),
                lock,
                blocks(s.lock.blocks).to_string(),
                s.rows.map_or("-".into(), |r| r.to_string()),
                size(s.bytes),
                range(s.estimate_ms),
                s.reason.to_string(),
            ]);
        }
    }
    let verdict = match forecast.verdict {
        Verdict::Fits => "fits the budget",
        Verdict::Exceeds => "EXCEEDS the budget",
        Verdict::Unknown => "UNKNOWN: a statement of unknown effect touches a table with rows",
    };
    format!(
        "{}\n{pending} pending migration{} on {}: {} against a budget of {}: {verdict}.\n\
         (Throughputs: {}.)",
        render_table(&table),
        if pending == 1 { "" } else { "s" },
        forecast.target,
        range(forecast.estimate_ms),
        duration(forecast.budget_ms),
        throughput_source(&forecast.throughput),
    )
}

/// Where the throughputs come from, in words.
fn throughput_source(throughput: &Throughput) -> String {
    let when = throughput
        .measured_at
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    match throughput.source {
        Source::Default => "defaults, not measured on this server".to_string(),
        Source::Measured => "measured on this server just now".to_string(),
        Source::Cached => format!("measured on this server at {when}, from safemig's cache"),
    }
}

/// What to do about a forecast that does not fit: deploy outside the app's start-up,
/// where no stop deadline cuts it short.
fn next(forecast: &Forecast) -> Option<Advice> {
    if forecast.verdict == Verdict::Fits {
        return None;
    }
    let (migration, statement) = forecast.longest()?;
    Some(
        Advice::text(format!(
            "statement {} of {} (line {}) is estimated at {}; run ",
            statement.index,
            migration.name,
            statement.line,
            range(statement.estimate_ms)
        ))
        .run(&["deploy"])
        .then(" as a one-off job before starting the app, so no stop deadline cuts it short"),
    )
}
