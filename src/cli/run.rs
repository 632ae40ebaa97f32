//! `safemig run`: the pre-start migration ([`safemig::deploy::run`] or
//! [`safemig::status::report`], judged by [`safemig::supervisor::prestart`]), then
//! [`safemig::supervisor::supervise`], with its timeline printed on stderr.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use safemig::Error;
use safemig::context::Context;
use safemig::error::{DeployError, SuperviseError};
use safemig::forecast::Verdict;
use safemig::interrupt::Interrupt;
use safemig::repair::Healed;
use safemig::sql::Effect;
use safemig::supervisor::prestart::{self, OnFailed, Prestart};
use safemig::supervisor::{self, Event, GracePeriod, MigrationStep, StopBudget, Timeline, wait};

use super::forecast;
use super::output::{self, Printer};
use super::signals::{Policy, StopSignals};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Migrate {
    /// Apply pending migrations (crash-safe) before starting the app
    Deploy,
    /// Only check that the database is up to date
    Check,
    /// Start the app without looking at the database
    Off,
}

/// What `run` does with a pending migration forecast to outlast the stop budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ForecastPolicy {
    /// Do not migrate nor start the app; exit 16 (run `safemig deploy` as a job instead)
    Refuse,
    /// Say so on stderr and migrate anyway
    Warn,
    /// Do not forecast
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to do with the migrations before the app starts
    #[arg(long, value_enum, default_value = "deploy")]
    migrate: Migrate,

    /// When the migrations cannot be verified (a failed migration in the history or now, or
    /// with --migrate=check a database that is not up to date)
    #[arg(long, value_enum, default_value = "fail")]
    on_failed: OnFailed,

    /// With --migrate=deploy: what to do when the pending migrations are forecast to take
    /// longer than a stop leaves them (`safemig forecast`)
    #[arg(long, value_enum, default_value = "refuse")]
    forecast: ForecastPolicy,

    /// The runtime's grace period: it SIGKILLs everything this long after its stop signal
    /// [env: SAFEMIG_GRACE_PERIOD] [default: 10, the default of Docker, Podman, compose and
    /// systemd]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    grace_period: Option<Duration>,

    /// Seconds from the stop signal until the app's process group is SIGKILLed; at most,
    /// and by default, the grace period less 2 s
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    stop_timeout: Option<Duration>,

    /// Seconds to wait for the database to accept connections before migrating (a first
    /// `compose up` initialises it meanwhile); 0 does not wait
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    wait_for_database: Duration,

    /// Seconds to keep serving after a stop signal before passing it on
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    drain_delay: Duration,

    /// Forward signals to the app's whole process group, not only the app
    #[arg(long)]
    group: bool,

    /// Timeline format on stderr
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,

    #[command(flatten)]
    table_locks: super::deploy::TableLockArgs,

    #[command(flatten)]
    pub(super) project: ProjectArgs,

    /// The app's command
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Returns the app's exit code (or 128+n when a signal killed it).
pub async fn run(
    args: RunArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<u8, Error> {
    let grace = GracePeriod::declared(args.grace_period, &|name| std::env::var(name).ok())?;
    let budget = StopBudget::new(grace).with_stop_timeout(args.stop_timeout)?;
    budget.check_drain_delay(args.drain_delay)?;
    // Before the app runs, a stop signal stops the pre-start deploy as `deploy` would,
    // within the budget: safemig is gone at the stop timeout.
    let interrupt = budget.interrupt();
    signals.set(Policy::Stop(interrupt.clone()));
    let mut timeline = TimelinePrinter {
        format: args.log_format,
        started: Instant::now(),
    };
    timeline.event(Event::StopBudget {
        budget,
        migration_deadline_seconds: (args.migrate != Migrate::Off)
            .then(|| budget.migration_deadline().as_secs_f64()),
    });
    let project = args.project.or(before);
    printer.set_target(project.target());
    let prestart = match args.migrate {
        Migrate::Off => None,
        // A stop signal during the deploy is handled as in `deploy`, within the budget.
        Migrate::Deploy => {
            let mut ctx = project.context()?;
            // Within the stop budget: an attempt gives up its lock wait before a stop
            // would cancel it, and the attempts end within a stop's time.
            ctx.lock_wait = args
                .table_locks
                .lock_wait()
                .within(budget.migration_deadline(), budget.stop_timeout());
            await_database(&ctx, args.wait_for_database, &interrupt, &mut timeline).await?;
            check_forecast(&ctx, budget, args.forecast).await?;
            timeline.event(Event::Migrating {
                action: MigrationStep::Deploy,
                database: ctx.url.describe(),
            });
            let text = super::deploy::Format::Text;
            let mut result = super::deploy::apply(&ctx, &interrupt, printer, text).await;
            if args.on_failed == OnFailed::Repair
                && matches!(
                    result,
                    Err(Error::Deploy(DeployError::FailedMigrations { .. }))
                )
            {
                heal(&ctx, &interrupt, printer, &mut timeline).await?;
                result = super::deploy::apply(&ctx, &interrupt, printer, text).await;
            }
            Some(prestart::after_deploy(result, args.on_failed)?)
        }
        Migrate::Check => {
            let ctx = project.context()?;
            await_database(&ctx, args.wait_for_database, &interrupt, &mut timeline).await?;
            timeline.event(Event::Migrating {
                action: MigrationStep::Check,
                database: ctx.url.describe(),
            });
            let dir = super::migrations(&ctx)?;
            let report = safemig::status::report(&ctx, &dir, Default::default()).await?;
            Some(prestart::after_check(&report, args.on_failed)?)
        }
    };
    match prestart {
        None => {}
        Some(Prestart::Verified { detail }) => timeline.event(Event::MigrationsVerified {
            detail: detail.into(),
        }),
        Some(Prestart::NotVerified(error)) => {
            printer.error(&error);
            timeline.event(Event::MigrationsNotVerified {
                error: error.to_string(),
            });
        }
    }
    // From here the supervisor forwards signals to the app.
    signals.set(Policy::Count);
    let options = supervisor::Options {
        command: args.command,
        group: args.group,
        stop_timeout: budget.stop_timeout(),
        drain_delay: args.drain_delay,
    };
    let stopped = || interrupt.stop_requested() || signals.received() > 0;
    let code = supervisor::supervise(&options, &mut timeline, &stopped).await?;
    Ok(code.clamp(0, 255) as u8)
}

/// Before the pre-start deploy: pending migrations forecast to outlast what a stop leaves
/// a migration under `budget` are refused (exit 16; they belong in a `safemig deploy` job),
/// or with `warn` reported and migrated anyway.
async fn check_forecast(
    ctx: &Context,
    budget: StopBudget,
    policy: ForecastPolicy,
) -> Result<(), Error> {
    if policy == ForecastPolicy::Off {
        return Ok(());
    }
    let dir = super::migrations(ctx)?;
    // A forecast that cannot be made (statistics not readable) is no reason not to start:
    // the deploy after it finds out what is really wrong, if anything.
    let forecast = match safemig::forecast::forecast(
        ctx,
        &dir,
        budget.migration_deadline(),
        super::cache(false).as_ref(),
    )
    .await
    {
        Ok(forecast) => forecast,
        Err(e) => {
            output::stderr_line(&format!(
                "warning: no forecast of the pending migrations: {e}"
            ));
            return Ok(());
        }
    };
    let Some((migration, statement)) = forecast.longest() else {
        return Ok(());
    };
    // Catalog changes take as long on a large table as on an empty one: under a grace
    // period that leaves a migration no time at all, they are not what to move out.
    if forecast.verdict != Verdict::Exceeds || statement.effect == Effect::Metadata {
        return Ok(());
    }
    let error = SuperviseError::ForecastExceeds {
        total: forecast::range(forecast.estimate_ms),
        budget: forecast::duration(forecast.budget_ms),
        longest: format!(
            "statement {} of {} (line {}, {}: {})",
            statement.index,
            migration.name,
            statement.line,
            statement.effect.as_str(),
            forecast::range(statement.estimate_ms)
        ),
    };
    if policy == ForecastPolicy::Refuse {
        return Err(Error::Supervise(error));
    }
    output::stderr_line(&format!(
        "warning: the pending migrations are estimated at {} ({} budget); migrating anyway (--forecast=warn)",
        forecast::range(forecast.estimate_ms),
        forecast::duration(forecast.budget_ms)
    ));
    Ok(())
}

/// Waits for the database to accept connections (`--wait-for-database`), one timeline
/// line per failed attempt.
async fn await_database(
    ctx: &Context,
    limit: Duration,
    interrupt: &Interrupt,
    timeline: &mut TimelinePrinter,
) -> Result<(), Error> {
    let database = ctx.url.describe();
    let waited = wait::for_database(&ctx.url, limit, interrupt, &mut |failed| {
        timeline.event(Event::DatabaseUnavailable {
            database: database.clone(),
            attempt: failed.attempt,
            error: failed.error.clone(),
            retry_in_seconds: failed.retry_in.map(|d| d.as_secs_f64()),
            waited_seconds: failed.waited.as_secs_f64(),
        })
    })
    .await?;
    if waited.attempts > 1 {
        timeline.event(Event::DatabaseAvailable {
            database,
            attempts: waited.attempts,
            waited_seconds: waited.waited.as_secs_f64(),
        });
    }
    Ok(())
}

/// `--on-failed=repair`: repairs the history's failed migration when the schema proves what
/// ran, logging the decision; otherwise the start stops with repair's report.
async fn heal(
    ctx: &Context,
    interrupt: &Interrupt,
    printer: &Printer,
    timeline: &mut TimelinePrinter,
) -> Result<(), Error> {
    let dir = super::migrations(ctx)?;
    let timeout = ctx.lock.timeout;
    let healed =
        safemig::repair::heal(ctx, &dir, interrupt, super::cache_dir(false), &mut |wait| {
            printer.lock_wait(&wait, timeout)
        })
        .await;
    match healed? {
        Some(Healed::Repaired { report, repaired }) => {
            timeline.event(Event::MigrationRepaired {
                migration: report.migration.clone(),
                decision: repaired.log.clone(),
            });
            Ok(())
        }
        Some(Healed::NeedsPerson(report)) => {
            output::stderr_line(&super::repair::render(
                &report,
                false,
                None,
                &ctx.url.describe(),
            ));
            Err(Healed::refusal(&report))
        }
        None => Ok(()),
    }
}

/// Prints the supervisor's timeline on stderr, as text or JSON lines. Commands and errors
/// may carry credentials (URLs, `--password` flags): both forms mask them.
struct TimelinePrinter {
    format: LogFormat,
    started: Instant,
}

impl Timeline for TimelinePrinter {
    fn event(&mut self, event: Event) {
        let elapsed = self.started.elapsed().as_secs_f64();
        match self.format {
            LogFormat::Json => {
                let mut value = serde_json::to_value(&event).expect("events serialize");
                if let Some(object) = value.as_object_mut() {
                    object.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
                    object.insert("elapsed_seconds".into(), elapsed.into());
                }
                output::stderr_json_line(value);
            }
            LogFormat::Text => output::stderr_line(&format!(
                "safemig run [{elapsed:8.3}s] {}",
                output::describe(&event)
            )),
        }
    }
}
