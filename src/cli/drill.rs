//! `safemig drill`: [`safemig::drill::run`] (or [`safemig::drill::during_migration`]),
//! each attempt and the verdict printed.

use std::ffi::OsString;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory};

use safemig::drill::{self, Readiness};
use safemig::interrupt::Interrupt;
use safemig::supervisor::{GracePeriod, StopBudget};
use safemig::{Error, ExitCode};

use super::output::Printer;
use super::signals::{Policy, StopSignals};
use super::{Cli, ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// How many times to start and stop the app
    #[arg(long, default_value = "3")]
    restarts: usize,

    /// Stop `safemig run` during a deliberately slow migration on a scratch database made
    /// beside the project's (never the project's own), check the stop fits the grace period
    /// and leaves the migration resumable, then that the next start finishes it and the app
    /// becomes ready. The app gets the scratch database as DATABASE_URL
    #[arg(long, conflicts_with = "restarts")]
    during_migration: bool,

    /// Ready when a GET of this URL answers 200
    #[arg(long, value_name = "URL", group = "ready")]
    ready_url: Option<String>,

    /// Ready when this port on 127.0.0.1 accepts connections
    #[arg(long, value_name = "PORT", group = "ready")]
    ready_port: Option<u16>,

    /// Ready this many seconds after the app started
    #[arg(long, value_name = "SECONDS", group = "ready", value_parser = parse_seconds)]
    ready_delay: Option<Duration>,

    /// Seconds to wait for readiness, from the start of `safemig run`
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    ready_timeout: Duration,

    /// The runtime's grace period every stop must fit in [env: SAFEMIG_GRACE_PERIOD]
    /// [default: 10, the default of Docker, Podman, compose and systemd]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    grace_period: Option<Duration>,

    /// The supervisor's stop timeout; at most, and by default, the grace period less 2 s
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    stop_timeout: Option<Duration>,

    /// Print the report as JSON
    #[arg(long)]
    json: bool,

    /// The project whose migrations `--during-migration` replays into its scratch database
    #[command(flatten)]
    pub(super) project: ProjectArgs,

    /// The app's command
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Exits 0 when every stop passed, 13 otherwise.
pub async fn drill(
    args: DrillArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    let project = args.project.clone().or(before);
    if !args.during_migration {
        // Nothing open but the app, which its own supervisor stops.
        signals.set(Policy::Exit);
        if let Some(flag) = project.given().first() {
            Cli::command()
                .error(
                    ErrorKind::ArgumentConflict,
                    format!("`{flag}` names the database of `drill --during-migration`; without it the drill runs the app with --migrate=off"),
                )
                .exit();
        }
    }
    let grace = GracePeriod::declared(args.grace_period, &|name| std::env::var(name).ok())?;
    let budget = StopBudget::new(grace).with_stop_timeout(args.stop_timeout)?;
    // The group lets at most one through.
    let readiness = match (&args.ready_url, args.ready_port, args.ready_delay) {
        (Some(url), _, _) => Readiness::Url(url.clone()),
        (_, Some(port), _) => Readiness::Port(port),
        (_, _, Some(delay)) => Readiness::Delay(delay),
        _ => Readiness::DEFAULT,
    };
    let options = drill::Options {
        supervisor: drill::this_executable()?,
        command: args.command,
        restarts: args.restarts,
        readiness,
        ready_timeout: args.ready_timeout,
        budget,
    };
    let json = args.json;
    let mut on_attempt = |attempt: &drill::Attempt| {
        if !json {
            printer.drill_attempt(attempt, budget.grace().duration);
        }
    };
    let report = if args.during_migration {
        // A stop signal ends the drill's own app and drops its scratch database.
        let interrupt = Interrupt::default();
        signals.set(Policy::Stop(interrupt.clone()));
        let ctx = project.context()?;
        let dir = super::migrations(&ctx)?;
        drill::during_migration(&options, &ctx.url, &dir, &interrupt, &mut on_attempt).await?
    } else {
        drill::run(&options, &mut on_attempt)?
    };
    if json {
        printer.json(&report);
    } else {
        printer.drill_summary(&report);
    }
    Ok(if report.passed {
        ExitCode::Success
    } else {
        ExitCode::DrillFailed
    })
}
