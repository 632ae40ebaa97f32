//! `safemig drill`: the manual stop checklist, automated. Starts the app under the
//! supervisor, waits until it is ready, sends SIGTERM as the runtime would, and measures
//! whether it stopped cleanly inside the grace period — N times.

use crate::error::{ConfigError, SuperviseError};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use crate::Error;
use crate::supervisor::StopBudget;

/// How to tell the app is ready for traffic.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// An HTTP GET of this URL answers 200.
    Url(String),
    /// This TCP port on 127.0.0.1 accepts connections.
    Port(u16),
    /// This long after start.
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
    /// How long to wait for readiness.
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

/// One start and stop.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub restart: usize,
    pub ready_seconds: Option<f64>,
    pub stop_seconds: Option<f64>,
    pub exit_code: Option<i32>,
    pub escalated: bool,
    pub passed: bool,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub budget: StopBudget,
    pub attempts: Vec<Attempt>,
    pub passed: bool,
}

/// Runs the drill, reporting each attempt as it ends.
pub fn run(options: &Options, on_attempt: &mut dyn FnMut(&Attempt)) -> Result<Report, Error> {
    let mut attempts = Vec::new();
    for restart in 1..=options.restarts {
        let attempt = attempt(options, restart)?;
        on_attempt(&attempt);
        attempts.push(attempt);
    }
    Ok(Report {
        budget: options.budget,
        passed: attempts.iter().all(|a| a.passed),
        attempts,
    })
}

fn attempt(options: &Options, restart: usize) -> Result<Attempt, Error> {
    let mut supervisor = Command::new(&options.supervisor)
        .args(["run", "--migrate=off", "--log-format=json"])
        // The drill's budget, so `safemig run` stops as the drill measures.
        .arg(format!(
            "--grace-period={}",
            options.budget.grace().duration.as_secs_f64()
        ))
        .arg(format!(
            "--stop-timeout={}",
            options.budget.stop_timeout().as_secs_f64()
        ))
        .arg("--")
        .args(&options.command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            Error::Supervise(SuperviseError::Spawn {
                command: options.supervisor.display().to_string(),
                source,
            })
        })?;
    // The timeline, read as it comes so the pipe never fills.
    let stderr = supervisor.stderr.take().expect("stderr is piped");
    let timeline = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let mut result = Attempt {
        restart,
        ready_seconds: None,
        stop_seconds: None,
        exit_code: None,
        escalated: false,
        passed: false,
        problem: None,
    };

    let started = Instant::now();
    let ready = loop {
        if supervisor.try_wait().ok().flatten().is_some() {
            break Err("the app exited before it was ready".to_string());
        }
        if is_ready(&options.readiness, started.elapsed()) {
            break Ok(());
        }
        if started.elapsed() > options.ready_timeout {
            break Err(format!(
                "the app was not ready after {}s",
                options.ready_timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if let Err(problem) = ready {
        let _ = supervisor.kill();
        let _ = supervisor.wait();
        result.problem = Some(problem);
        return Ok(result);
    }
    result.ready_seconds = Some(started.elapsed().as_secs_f64());

    let stopping = Instant::now();
    let _ = kill(Pid::from_raw(supervisor.id() as i32), Signal::SIGTERM);
    // The runtime's SIGKILL comes at the grace period; give the supervisor a little more
    // only to observe what it would have done.
    let grace = options.budget.grace().duration;
    let limit = grace + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = supervisor.try_wait().ok().flatten() {
            break Some(status);
        }
        if stopping.elapsed() > limit {
            let _ = supervisor.kill();
            let _ = supervisor.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = stopping.elapsed();
    result.stop_seconds = Some(took.as_secs_f64());
    result.exit_code = status.and_then(|s| s.code());
    let lines = timeline.join().unwrap_or_default();
    result.escalated = lines.iter().any(|l| l.contains("\"event\":\"escalated\""));

    result.problem = if result.escalated {
        Some(format!(
            "the app ignored SIGTERM: the supervisor SIGKILLed it at its {}s deadline",
            options.budget.stop_timeout().as_secs_f32()
        ))
    } else if took > grace {
        Some(format!(
            "stopping took {:.1}s, longer than the {}s grace period: the runtime would SIGKILL it",
            took.as_secs_f32(),
            grace.as_secs_f32()
        ))
    } else {
        match result.exit_code {
            Some(0) => None,
            Some(code) if code > 128 => Some(format!(
                "the app was killed by signal {} (exit {code}): it has no SIGTERM handler, so in-flight work is cut off; close the server and exit 0 on SIGTERM",
                code - 128
            )),
            Some(code) => Some(format!("the app exited with code {code} after SIGTERM")),
            None => Some("the supervisor did not report an exit code".into()),
        }
    };
    result.passed = result.problem.is_none();
    Ok(result)
}

fn is_ready(readiness: &Readiness, elapsed: Duration) -> bool {
    match readiness {
        Readiness::Delay(delay) => elapsed >= *delay,
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
