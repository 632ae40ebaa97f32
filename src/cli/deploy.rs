//! `safemig deploy` ([`safemig::deploy::run`]) and `safemig deploy --dry-run`
//! ([`safemig::deploy::dry_run`]), with their progress and results printed; over an
//! environment with tenants, [`safemig::fleet::deploy`] (its dry run is `status` over
//! the same tenants).

use std::time::Duration;

use clap::Args;

use safemig::context::Context;
use safemig::deploy::{self, Event, Outcome};
use safemig::error::{ConfigError, DeployError};
use safemig::fleet::{self, FleetOptions, OnError};
use safemig::interrupt::Interrupt;
use safemig::migrations::MigrationsDir;
use safemig::{Error, ExitCode};

use super::output::Printer;
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

    /// Print the per-tenant summary as JSON (an environment with tenants)
    #[arg(long)]
    json: bool,
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
            ("--json", self.json),
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
            return Ok(super::status::tenants(&environment, args.fleet.json, &base, printer).await);
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
        };
        let json = args.fleet.json;
        let timeout = options.lock.timeout;
        let report = fleet::deploy(&environment, &options, &interrupt, &mut |event| {
            if !json {
                printer.fleet_event(&environment.name, &event, timeout);
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
            let forecast = safemig::forecast::forecast(&ctx, &dir, budget).await?;
            printer.line(&format!(
                "\nForecast:\n{}",
                super::forecast::render(&forecast)
            ));
        }
    } else {
        let interrupt = Interrupt::new(args.deadline);
        signals.set(Policy::Stop(interrupt.clone()));
        let ctx = project.context()?;
        apply(&ctx, &interrupt, printer).await?;
    }
    Ok(ExitCode::Success)
}

/// Deploys, printing each step and the summary; also `run`'s pre-start deploy. A schema
/// that contradicts an interrupted migration's journal is settled from the schema, as
/// repair settles it, and deploy runs again from where it stands.
pub async fn apply(
    ctx: &Context,
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<Outcome, Error> {
    let dir = super::migrations(ctx)?;
    let cache = || super::cache_dir(false);
    let outcome = match run(ctx, &dir, interrupt, printer).await {
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
            printer.line(&found);
            printer.ahead(&ahead);
            run(ctx, &dir, interrupt, printer).await
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
    printer.deploy_summary(&outcome);
    Ok(outcome)
}

/// One deploy, its progress printed.
async fn run(
    ctx: &Context,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<Outcome, Error> {
    let timeout = ctx.lock.timeout;
    deploy::run(ctx, dir, interrupt, &mut |event| match event {
        Event::Connected { target } => printer.deploy_header(dir, target),
        Event::WaitingForLock(wait) => printer.lock_wait(&wait, timeout),
        Event::CreatedHistoryTable => printer.line("Created the _prisma_migrations table."),
        Event::Resuming { name, done, total } => printer.resuming(name, done, total),
        Event::Applied {
            name,
            mode,
            elapsed,
        } => printer.applied(name, mode, elapsed),
    })
    .await
}
