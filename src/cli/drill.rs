//! `safemig drill`: [`safemig::drill::run`], each attempt and the verdict printed.

use std::ffi::OsString;
use std::time::Duration;

use clap::Args;

use safemig::drill::{self, Readiness};
use safemig::supervisor::{GracePeriod, StopBudget};
use safemig::{Error, ExitCode};

use super::output::Printer;
use super::parse_seconds;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// How many times to start and stop the app
    #[arg(long, default_value = "3")]
    restarts: usize,

    /// Ready when a GET of this URL answers 200
    #[arg(long, value_name = "URL", group = "ready")]
    ready_url: Option<String>,

    /// Ready when this port on 127.0.0.1 accepts connections
    #[arg(long, value_name = "PORT", group = "ready")]
    ready_port: Option<u16>,

    /// Ready this many seconds after start
    #[arg(long, value_name = "SECONDS", group = "ready", value_parser = parse_seconds)]
    ready_delay: Option<Duration>,

    /// Seconds to wait for readiness
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

    /// The app's command
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Exits 0 when every stop passed, 13 otherwise.
pub fn drill(args: DrillArgs, printer: &mut Printer) -> Result<ExitCode, Error> {
    let grace = GracePeriod::declared(args.grace_period, &|name| std::env::var(name).ok())?;
    let budget = StopBudget::new(grace).with_stop_timeout(args.stop_timeout)?;
    // The group lets at most one through.
    let readiness = match (args.ready_url, args.ready_port, args.ready_delay) {
        (Some(url), _, _) => Readiness::Url(url),
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
    let report = drill::run(&options, &mut |attempt| {
        if !json {
            printer.drill_attempt(attempt, budget.grace().duration);
        }
    })?;
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
