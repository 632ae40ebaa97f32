//! `safemig drill`: the manual stop checklist, automated. Starts the app under the
//! supervisor, waits until it is ready, sends SIGTERM as the runtime would, and measures
//! whether it stopped cleanly inside the grace period — N times; with
//! [`during_migration`], once during a deliberately slow migration on a scratch database,
//! and then once more after the next start resumed it.

mod migration;
mod process;

use crate::error::ConfigError;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::interrupt::Interrupt;
use crate::supervisor::StopBudget;

pub use migration::during_migration;
use process::{Launch, Supervised};

/// How to tell the app is ready for traffic.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// An HTTP GET of this URL answers 200.
    Url(String),
    /// This TCP port on 127.0.0.1 accepts connections.
    Port(u16),
    /// This long after the app started.
    Delay(Duration),
}

impl Readiness {
    /// Without a readiness flag: two seconds after start.
    pub const DEFAULT: Readiness = Readiness::Delay(Duration::from_secs(2));
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The safemig executable, to run the app under `safemig run`.
    pub supervisor: PathBuf,
    pub command: Vec<OsString>,
    pub restarts: usize,
    pub readiness: Readiness,
    /// How long to wait for readiness, from the start of `safemig run`.
    pub ready_timeout: Duration,
    /// The grace period the stops must fit in, and the stop timeout `safemig run` gets.
    pub budget: StopBudget,
}

/// The executable that runs the app in each attempt: this one, as `safemig run`.
pub fn this_executable() -> Result<PathBuf, Error> {
    std::env::current_exe().map_err(|source| {
        Error::Config(ConfigError::Io {
            path: "the safemig executable".into(),
            source,
        })
    })
}

/// What an attempt rehearses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Start the app, wait until it is ready, stop it.
    Restart,
    /// Stop `safemig run` while its pre-start migration runs.
    DuringMigration,
    /// The start after that: the migration resumed and finished, the app ready, stopped.
    AfterMigrationStop,
}

/// One start and stop.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub phase: Phase,
    /// 1 for the first attempt.
    pub restart: usize,
    pub ready_seconds: Option<f64>,
    pub stop_seconds: Option<f64>,
    pub exit_code: Option<i32>,
    pub escalated: bool,
    pub passed: bool,
    pub problem: Option<String>,
    /// What the drill found of its slow migration after this attempt.
    pub migration: Option<String>,
}

impl Attempt {
    fn new(phase: Phase, restart: usize) -> Attempt {
        Attempt {
            phase,
            restart,
            ready_seconds: None,
            stop_seconds: None,
            exit_code: None,
            escalated: false,
            passed: false,
            problem: None,
            migration: None,
        }
    }

    /// Ends the attempt with `problem`, or passed without one.
    fn judged(mut self, problem: Option<String>) -> Attempt {
        self.passed = problem.is_none();
        self.problem = problem;
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub budget: StopBudget,
    pub attempts: Vec<Attempt>,
    pub passed: bool,
}

impl Report {
    fn new(budget: StopBudget, attempts: Vec<Attempt>) -> Report {
        Report {
            budget,
            passed: attempts.iter().all(|a| a.passed),
            attempts,
        }
    }
}

/// Runs the drill, reporting each attempt as it ends.
pub fn run(options: &Options, on_attempt: &mut dyn FnMut(&Attempt)) -> Result<Report, Error> {
    let mut attempts = Vec::new();
    let launch = Launch::without_migrations(options);
    let interrupt = Interrupt::default();
    for restart in 1..=options.restarts {
        let attempt = attempt(options, &launch, Phase::Restart, restart, &interrupt)?;
        on_attempt(&attempt);
        attempts.push(attempt);
    }
    Ok(Report::new(options.budget, attempts))
}

/// Starts the app as `launch` says, waits until it is ready and stops it as the runtime
/// would; the attempt fails on a stop that is not clean or not inside the grace period.
fn attempt(
    options: &Options,
    launch: &Launch,
    phase: Phase,
    restart: usize,
    interrupt: &Interrupt,
) -> Result<Attempt, Error> {
    let mut supervised = Supervised::spawn(options, launch)?;
    let result = Attempt::new(phase, restart);
    let ready = wait_ready(options, &mut supervised, interrupt)?;
    if let Err(problem) = ready {
        supervised.kill();
        return Ok(result.judged(Some(problem)));
    }
    let result = Attempt {
        ready_seconds: Some(supervised.since_spawn().as_secs_f64()),
        ..result
    };
    let stop = supervised.stop(options.budget.grace().duration);
    let escalated = supervised.has_event("escalated");
    let problem = judge(options, &stop, escalated, &supervised);
    Ok(Attempt {
        stop_seconds: Some(stop.took.as_secs_f64()),
        exit_code: stop.code,
        escalated,
        ..result
    }
    .judged(problem))
}

/// Waits until the app started and is ready; `Err` says why it never was.
fn wait_ready(
    options: &Options,
    supervised: &mut Supervised,
    interrupt: &Interrupt,
) -> Result<Result<(), String>, Error> {
    loop {
        if let Some(problem) = supervised.ended(interrupt, "before the app was ready")? {
            return Ok(Err(problem));
        }
        if let Some(app_started) = supervised.app_started()
            && is_ready(&options.readiness, app_started.elapsed())
        {
            return Ok(Ok(()));
        }
        if supervised.since_spawn() > options.ready_timeout {
            return Ok(Err(format!(
                "the app was not ready after {}s",
                options.ready_timeout.as_secs_f32()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What is wrong with a stop of the ready app, if anything.
fn judge(
    options: &Options,
    stop: &process::Stop,
    escalated: bool,
    supervised: &Supervised,
) -> Option<String> {
    let grace = options.budget.grace().duration;
    if escalated {
        return Some(format!(
            "the app ignored SIGTERM: the supervisor SIGKILLed it at its {}s deadline",
            options.budget.stop_timeout().as_secs_f32()
        ));
    }
    if stop.took > grace {
        return Some(format!(
            "stopping took {:.1}s, longer than the {}s grace period: the runtime would SIGKILL it",
            stop.took.as_secs_f32(),
            grace.as_secs_f32()
        ));
    }
    match stop.code {
        Some(0) => None,
        Some(code) if code > 128 => Some(format!(
            "the app was killed by signal {} (exit {code}): it has no SIGTERM handler, so in-flight work is cut off; close the server and exit 0 on SIGTERM",
            code - 128
        )),
        Some(code) => Some(format!(
            "the app exited with code {code} after SIGTERM{}",
            supervised.said()
        )),
        None => Some("the supervisor did not report an exit code".into()),
    }
}

fn is_ready(readiness: &Readiness, since_start: Duration) -> bool {
    match readiness {
        Readiness::Delay(delay) => since_start >= *delay,
        Readiness::Port(port) => {
            TcpStream::connect_timeout(&([127, 0, 0, 1], *port).into(), Duration::from_millis(200))
                .is_ok()
        }
        Readiness::Url(url) => http_status(url) == Some(200),
    }
}

/// The status code of an HTTP/1.0 GET; enough for a readiness probe, no TLS.
fn http_status(url: &str) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let address = (host, port).to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}
