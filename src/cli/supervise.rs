//! `safemig run`, `safemig drill` and `safemig lint`: the container side.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};

use safemig::drill::{self, Readiness};
use safemig::lint::compose;
use safemig::status::Verdict;
use safemig::supervisor::{self, DEFAULT_STOP_TIMEOUT, Event, Timeline};
use safemig::{Error, ExitCode};

use safemig::interrupt::{Interrupt, STOP_MARGIN};

use super::output::{self, Printer};
use super::signals::{Policy, StopSignals};
use super::{Context, GlobalArgs, parse_seconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Migrate {
    /// Apply pending migrations (crash-safe) before starting the app
    Deploy,
    /// Only check that the database is up to date
    Check,
    /// Start the app without looking at the database
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailed {
    /// Do not start the app; exit with the failure's code
    Fail,
    /// Log the failure and start the app anyway
    Warn,
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

    /// Seconds from the stop signal until the app's process group is SIGKILLed
    #[arg(long, value_name = "SECONDS", default_value = "25", value_parser = parse_seconds)]
    stop_timeout: Duration,

    /// The runtime's grace period; the stop timeout must be below it [env: SAFEMIG_GRACE_PERIOD]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    grace_period: Option<Duration>,

    /// Seconds to keep serving after a stop signal before passing it on
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    drain_delay: Duration,

    /// Forward signals to the app's whole process group, not only the app
    #[arg(long)]
    group: bool,

    /// Timeline format on stderr
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,

    /// The app's command
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

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

    /// The runtime's grace period every stop must fit in (compose's default: 10)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    grace_period: Duration,

    /// The supervisor's stop timeout [default: 2 s below the grace period, at most 25 s]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    stop_timeout: Option<Duration>,

    /// Print the report as JSON
    #[arg(long)]
    json: bool,

    /// The app's command
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum LintCommand {
    /// Check docker-compose / podman-compose files: grace periods, signal-swallowing
    /// commands, missing init, stop signals
    Compose {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the findings as JSON
        #[arg(long)]
        json: bool,
    },
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
                describe(&event)
            )),
        }
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::MigrationsVerified { detail } => format!("migrations verified: {detail}"),
        Event::MigrationsNotVerified { error } => {
            format!("WARNING migrations not verified, starting anyway (--on-failed=warn): {error}")
        }
        Event::Started { pid, command } => format!("started pid {pid}: {command}"),
        Event::SignalReceived { signal } => format!("received {signal}"),
        Event::Draining { seconds } => {
            format!("draining for {seconds:.1}s before passing the signal on")
        }
        Event::Forwarded { signal, to } => format!("forwarded {signal} to {to}"),
        Event::Waiting {
            main_child_running,
            elapsed_seconds,
            seconds_left,
        } => format!(
            "waiting for {} to exit ({elapsed_seconds:.1}s since the stop signal, SIGKILL in {seconds_left:.1}s)",
            if *main_child_running {
                "the app"
            } else {
                "the rest of its process group"
            }
        ),
        Event::ChildExited {
            code,
            signal,
            ran_seconds,
            after_stop_seconds,
        } => {
            let how = match signal {
                Some(signal) => format!("killed by {signal} (exit code {code})"),
                None => format!("exited with code {code}"),
            };
            match after_stop_seconds {
                Some(after) => format!("app {how}, {after:.3}s after the stop signal"),
                None => format!("app {how} after running {ran_seconds:.3}s"),
            }
        }
        Event::Escalated {
            process_group,
            after_seconds,
        } => format!(
            "deadline reached after {after_seconds:.3}s: sent SIGKILL to process group {process_group}"
        ),
        Event::OrphanReaped { pid } => format!("reaped orphaned process {pid}"),
        Event::Exiting { code, .. } => format!("exiting with code {code}"),
    }
}

/// The grace period and where it came from, if the operator gave one.
fn grace_period(flag: Option<Duration>) -> Result<Option<(Duration, String)>, Error> {
    if let Some(grace) = flag {
        return Ok(Some((grace, "--grace-period".into())));
    }
    let Some(value) = std::env::var("SAFEMIG_GRACE_PERIOD").ok() else {
        return Ok(None);
    };
    let grace =
        parse_seconds(&value).map_err(|reason| Error::InvalidGracePeriod { value, reason })?;
    Ok(Some((grace, "SAFEMIG_GRACE_PERIOD".into())))
}

pub async fn run(
    global: &GlobalArgs,
    args: RunArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<u8, Error> {
    // Before the app runs, a stop signal stops the pre-start deploy as `deploy` would,
    // with a deadline that leaves the stop margin inside the stop timeout.
    let deadline = args.stop_timeout.saturating_sub(STOP_MARGIN);
    let interrupt = Interrupt::new(deadline.max(Duration::from_secs(1)));
    signals.set(Policy::Stop(interrupt.clone()));
    supervisor::check_deadline(args.stop_timeout, grace_period(args.grace_period)?)?;
    let mut timeline = TimelinePrinter {
        format: args.log_format,
        started: Instant::now(),
    };
    if args.migrate != Migrate::Off {
        prestart(global, &args, &interrupt, printer, &mut timeline).await?;
    }
    // From here the supervisor forwards signals to the app.
    signals.set(Policy::Count);
    let options = supervisor::Options {
        command: args.command,
        group: args.group,
        stop_timeout: args.stop_timeout,
        drain_delay: args.drain_delay,
    };
    let stopped = || interrupt.stop_requested() || signals.received() > 0;
    let code = supervisor::supervise(&options, &mut timeline, &stopped).await?;
    Ok(code.clamp(0, 255) as u8)
}

/// Deploys or checks the migrations before the app starts, as `--on-failed` says.
async fn prestart(
    global: &GlobalArgs,
    args: &RunArgs,
    interrupt: &Interrupt,
    printer: &mut Printer,
    timeline: &mut TimelinePrinter,
) -> Result<(), Error> {
    let ctx = Context::load(global)?;
    let result = match args.migrate {
        // A stop signal during the deploy is handled as in `deploy`, within the stop timeout.
        Migrate::Deploy => super::deploy(&ctx, interrupt, printer)
            .await
            .map(|_| "deploy finished, the database is up to date".to_string()),
        Migrate::Check => {
            let report = super::status_report(&ctx).await?;
            match report.verdict {
                Verdict::UpToDate => Ok("the database is up to date".into()),
                verdict => Err(Error::NotUpToDate {
                    verdict: format!("{verdict:?}").to_lowercase(),
                    code: verdict.exit_code(),
                }),
            }
        }
        Migrate::Off => return Ok(()),
    };
    match result {
        Ok(detail) => {
            timeline.event(Event::MigrationsVerified { detail });
            Ok(())
        }
        Err(
            e @ (Error::FailedMigrations { .. }
            | Error::MigrationFailed { .. }
            | Error::CannotResume { .. }
            | Error::NotUpToDate { .. }),
        ) if args.on_failed == OnFailed::Warn => {
            printer.error(&e);
            timeline.event(Event::MigrationsNotVerified {
                error: e.to_string(),
            });
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub fn drill(args: DrillArgs, printer: &mut Printer) -> Result<ExitCode, Error> {
    let stop_timeout = args.stop_timeout.unwrap_or_else(|| {
        args.grace_period
            .saturating_sub(Duration::from_secs(2))
            .clamp(Duration::from_secs(1), DEFAULT_STOP_TIMEOUT)
    });
    supervisor::check_deadline(
        stop_timeout,
        Some((args.grace_period, "--grace-period".into())),
    )?;
    let readiness = match (args.ready_url, args.ready_port, args.ready_delay) {
        (Some(url), _, _) => Readiness::Url(url),
        (_, Some(port), _) => Readiness::Port(port),
        (_, _, Some(delay)) => Readiness::Delay(delay),
        _ => Readiness::Delay(Duration::from_secs(2)),
    };
    let options = drill::Options {
        supervisor: std::env::current_exe().map_err(|source| Error::Io {
            path: "the safemig executable".into(),
            source,
        })?,
        command: args.command,
        restarts: args.restarts,
        readiness,
        ready_timeout: args.ready_timeout,
        grace: args.grace_period,
        stop_timeout,
    };
    let json = args.json;
    let report = drill::run(&options, &mut |attempt| {
        if !json {
            printer.drill_attempt(attempt, options.grace);
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

pub fn lint(command: LintCommand, printer: &mut Printer) -> Result<ExitCode, Error> {
    let LintCommand::Compose { files, json } = command;
    let mut findings = Vec::new();
    for file in &files {
        let bytes = safemig::files::read_existing(file, safemig::files::CONFIG_LIMIT)?;
        let text = String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
            path: file.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        findings.extend(compose::lint(file, &text, &compose::Options::default())?);
    }
    if json {
        printer.json(&findings);
    } else {
        printer.lint(&findings, files.len());
    }
    Ok(if findings.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::LintFindings
    })
}
