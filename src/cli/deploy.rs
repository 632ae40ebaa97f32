//! `safemig deploy` ([`safemig::deploy::run`]) and `safemig deploy --dry-run`
//! ([`safemig::deploy::dry_run`]), with their progress and results printed; over an
//! environment with tenants, [`safemig::fleet::deploy`] (its dry run is `status` over
//! the same tenants).

use std::time::Duration;

use clap::Args;

use safemig::context::Context;
use safemig::deploy::{self, Event, Outcome, Retrying, StatementAt};
use safemig::error::{ConfigError, DeployError};
use safemig::fleet::{self, Event as FleetEvent, FleetOptions, OnError};
use safemig::interrupt::Interrupt;
use safemig::lock::Wait;
use safemig::lock_wait::LockWait;
use safemig::migrations::MigrationsDir;
use safemig::text::escaped;
use safemig::{Error, ExitCode};
use serde_json::json;

use super::long_statement::LongStatement;
use super::output::{Printer, stderr_line};
use super::signals::{Policy, StopSignals};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// List what would be applied, and how, without changing anything
    #[arg(long)]
    dry_run: bool,

    /// On SIGTERM/SIGINT, seconds a running statement may go on before it is cancelled
    /// server-side (keep it below the container's stop grace period)
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
    deadline: Duration,

    /// Print JSON: each event as a line (one database), or the per-tenant summary (an
    /// environment with tenants)
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    pub(super) table_locks: TableLockArgs,

    #[command(flatten)]
    fleet: FleetArgs,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

/// The options of a deploy over an environment's tenants (`--env NAME` with tenants).
#[derive(Debug, Args)]
struct FleetArgs {
    /// Tenants deployed at once (an environment with tenants) [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Deploy the first N tenants that need it before any other, and stop if one of them
    /// fails (an environment with tenants)
    #[arg(long, value_name = "N")]
    canary: Option<usize>,

    /// When a tenant fails: start no other (stop), or deploy the others (continue)
    /// [default: stop] (an environment with tenants)
    #[arg(long, value_name = "POLICY", value_enum)]
    on_error: Option<OnErrorArg>,
}

/// How long a migration's statements wait for table locks (deploy, and run's pre-start
/// deploy): `--lock-timeout` is another thing, the wait for Prisma's migration lock.
#[derive(Debug, Args)]
pub(super) struct TableLockArgs {
    /// Seconds a migration's statement may wait for a table lock another session holds
    /// (PostgreSQL lock_timeout, MySQL lock_wait_timeout) before it gives up, having
    /// applied nothing, and is tried again; the app's queries never queue behind it longer
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
    table_lock_wait: Duration,

    /// Seconds to keep trying a migration that cannot get its table locks before giving
    /// up (exit 15); in run, at most its stop timeout
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    table_lock_retry_for: Duration,
}

impl TableLockArgs {
    pub(super) fn lock_wait(&self) -> LockWait {
        LockWait {
            attempt: self.table_lock_wait,
            retry_for: self.table_lock_retry_for,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OnErrorArg {
    Stop,
    Continue,
}

impl FleetArgs {
    /// The fleet options given, by name: refused for a single database.
    fn given(&self) -> Option<&'static str> {
        [
            ("--jobs", self.jobs.is_some()),
            ("--canary", self.canary.is_some()),
            ("--on-error", self.on_error.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

pub async fn deploy(
    args: DeployArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    let project = args.project.or(before);
    printer.set_target(project.target());
    if let Some(environment) = project.fleet()? {
        if args.dry_run {
            // What deploy would do to each tenant is what status says of it.
            signals.set(Policy::Exit);
            let base = project.folder_target();
            return Ok(super::status::tenants(&environment, args.json, &base, printer).await);
        }
        let interrupt = Interrupt::new(args.deadline);
        signals.set(Policy::Stop(interrupt.clone()));
        let options = FleetOptions {
            jobs: args.fleet.jobs.map_or(8, usize::from),
            canary: args.fleet.canary.unwrap_or(0),
            on_error: match args.fleet.on_error {
                Some(OnErrorArg::Continue) => OnError::Continue,
                Some(OnErrorArg::Stop) | None => OnError::Stop,
            },
            lock: project.lock_options(),
            lock_wait: args.table_locks.lock_wait(),
        };
        let json = args.json;
        let timeout = options.lock.timeout;
        let report = fleet::deploy(&environment, &options, &interrupt, &mut |event| {
            match &event {
                // On stderr, with --json too.
                FleetEvent::Tenant { tenant, event } => tenant_event(tenant, event),
                _ if !json => printer.fleet_event(&environment.name, &event, timeout),
                _ => {}
            }
        })
        .await?;
        if json {
            printer.json(&report);
        } else {
            printer.fleet_summary(&report, &project.folder_target());
        }
        return Ok(report.code);
    }
    if let Some(flag) = args.fleet.given() {
        return Err(Error::Config(ConfigError::FleetOption { flag }));
    }
    if args.dry_run {
        // Reads only: nothing to stop cleanly.
        signals.set(Policy::Exit);
        let ctx = project.context()?;
        let dir = super::migrations(&ctx)?;
        let plan = deploy::dry_run(&ctx, &dir).await?;
        printer.dry_run(&plan);
        if plan.pending() > 0 {
            let budget = super::forecast::default_budget(None)?;
            let forecast =
                safemig::forecast::forecast(&ctx, &dir, budget, super::cache(false).as_ref())
                    .await?;
            printer.line(&format!(
                "\nForecast:\n{}",
                super::forecast::render(&forecast)
            ));
        }
    } else {
        let interrupt = Interrupt::new(args.deadline);
        signals.set(Policy::Stop(interrupt.clone()));
        let mut ctx = project.context()?;
        ctx.lock_wait = args.table_locks.lock_wait();
        let format = if args.json {
            Format::Json
        } else {
            Format::Text
        };
        apply(&ctx, &interrupt, printer, format).await?;
    }
    Ok(ExitCode::Success)
}

/// How deploy's progress is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines for people.
    Text,
    /// A JSON object per event on stdout (`deploy --json`).
    Json,
}

/// Deploys, printing each step and the summary; also `run`'s pre-start deploy. A schema
/// that contradicts an interrupted migration's journal is settled from the schema, as
/// repair settles it, and deploy runs again from where it stands.
pub async fn apply(
    ctx: &Context,
    interrupt: &Interrupt,
    printer: &mut Printer,
    format: Format,
) -> Result<Outcome, Error> {
    let dir = super::migrations(ctx)?;
    let cache = || super::cache_dir(false);
    let outcome = match run(ctx, &dir, interrupt, printer, format).await {
        Err(error @ Error::Deploy(DeployError::SchemaContradictsJournal { .. })) => {
            let found = error.to_string();
            let timeout = ctx.lock.timeout;
            let ahead = safemig::repair::continue_ahead(
                ctx,
                &dir,
                error,
                cache(),
                interrupt,
                &mut |wait| printer.lock_wait(&wait, timeout),
            )
            .await?;
            match format {
                Format::Json => printer.json_line(json!({
                    "format_version": 1,
                    "event": "settled_from_schema",
                    "found": found,
                })),
                Format::Text => {
                    printer.line(&found);
                    printer.ahead(&ahead);
                }
            }
            run(ctx, &dir, interrupt, printer, format).await
        }
        outcome => outcome,
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            return Err(
                safemig::repair::explain_failure(ctx, &dir, error, cache(), interrupt).await,
            );
        }
    };
    match format {
        Format::Json => printer.json_line(json!({
            "format_version": 1,
            "event": "finished",
            "applied": outcome.applied,
            "already_applied": outcome.already_applied,
        })),
        Format::Text => printer.deploy_summary(&outcome),
    }
    Ok(outcome)
}

/// One deploy, its progress printed.
async fn run(
    ctx: &Context,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    printer: &mut Printer,
    format: Format,
) -> Result<Outcome, Error> {
    let timeout = ctx.lock.timeout;
    let mut long_statement = LongStatement::default();
    let outcome = deploy::run(ctx, dir, interrupt, &mut |event| match format {
        Format::Json => printer.json_line(event_json(&event)),
        Format::Text => {
            // The bar goes before any other line is printed.
            if !matches!(event, Event::StillRunning(_)) {
                long_statement.clear();
            }
            match event {
                Event::Connected { target } => printer.deploy_header(dir, target),
                Event::WaitingForLock(wait) => printer.lock_wait(&wait, timeout),
                Event::CreatedHistoryTable => printer.line("Created the _prisma_migrations table."),
                Event::Resuming { name, done, total } => printer.resuming(name, done, total),
                Event::Applied {
                    name,
                    mode,
                    elapsed,
                } => printer.applied(name, mode, elapsed),
                Event::RetryingLockWait(retrying) => stderr_line(&lock_wait_retry(&retrying)),
                Event::StillRunning(running) => long_statement.show(&running),
            }
        }
    })
    .await;
    long_statement.clear();
    outcome
}

/// "Lock wait: `m` statement 1 of 2 (line 1) gave up waiting for a lock after 2s
/// (attempt 1; waiting for …); trying again in 0.4s (2s of 300s spent)".
fn lock_wait_retry(retrying: &Retrying<'_>) -> String {
    let statement = retrying
        .statement
        .map(|s| format!(" statement {} of {} (line {})", s.number, s.total, s.line))
        .unwrap_or_default();
    let waiting = retrying
        .waiting_for
        .map(|w| format!("; {w}"))
        .unwrap_or_default();
    format!(
        "Lock wait: {}{statement} gave up waiting for a lock after {}s (attempt {}{waiting}); trying again in {:.1}s ({:.0}s of {}s spent)",
        escaped(retrying.migration),
        retrying.lock_wait.as_secs_f64(),
        retrying.attempts,
        retrying.pause.as_secs_f64(),
        retrying.spent.as_secs_f64(),
        retrying.retry_for.as_secs_f64(),
    )
}

/// A tenant's lock-wait retry or long statement during a fleet deploy, on stderr with
/// the tenant's name.
pub(super) fn tenant_event(tenant: &str, event: &Event<'_>) {
    let line = match event {
        Event::RetryingLockWait(retrying) => lock_wait_retry(retrying),
        Event::StillRunning(running) => super::long_statement::line(running),
        _ => return,
    };
    stderr_line(&format!("Tenant `{}`: {line}", escaped(tenant)));
}

/// A journaled migration's statement in `deploy --json`'s events.
fn statement_json(at: StatementAt) -> serde_json::Value {
    json!({"number": at.number, "total": at.total, "line": at.line})
}

/// An event of `deploy --json` (docs/reference/json.md, "deploy").
fn event_json(event: &Event<'_>) -> serde_json::Value {
    let seconds = |d: Duration| d.as_secs_f64();
    let mut value = match event {
        Event::Connected { target } => json!({"event": "connected", "target": target}),
        Event::WaitingForLock(Wait::Busy { holder }) => {
            json!({"event": "waiting_for_migration_lock", "holder": holder})
        }
        Event::WaitingForLock(Wait::HolderWorking { holder, waited }) => json!({
            "event": "waiting_for_migration_lock",
            "holder": holder,
            "waited_seconds": seconds(*waited),
        }),
        Event::CreatedHistoryTable => json!({"event": "created_history_table"}),
        Event::Resuming { name, done, total } => {
            json!({"event": "resuming", "migration": name, "done": done, "total": total})
        }
        Event::Applied {
            name,
            mode,
            elapsed,
        } => json!({
            "event": "applied",
            "migration": name,
            "mode": mode,
            "elapsed_seconds": seconds(*elapsed),
        }),
        Event::StillRunning(r) => json!({
            "event": "still_running",
            "migration": r.migration,
            "statement": r.statement.map(statement_json),
            "elapsed_seconds": seconds(r.elapsed),
            "phase": r.progress.as_ref().map(|p| &p.phase),
            "percent": r.progress.as_ref().and_then(|p| p.percent),
            "left_seconds": r.left.map(seconds),
        }),
        Event::RetryingLockWait(r) => json!({
            "event": "lock_wait_retry",
            "migration": r.migration,
            "statement": r.statement.map(statement_json),
            "attempts": r.attempts,
            "lock_wait_seconds": seconds(r.lock_wait),
            "waiting_for": r.waiting_for,
            "spent_seconds": seconds(r.spent),
            "retry_in_seconds": seconds(r.pause),
            "retry_for_seconds": seconds(r.retry_for),
        }),
    };
    value["format_version"] = json!(1);
    value
}
