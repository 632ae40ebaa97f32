//! One `safemig run` the drill starts, watches through its JSON timeline, and stops as a
//! runtime would.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Options;
use crate::Error;
use crate::error::{DeployError, SuperviseError};
use crate::interrupt::Interrupt;

/// How an attempt starts `safemig run`: its options before `--`, and the environment
/// added for it and the app.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
}

impl Launch {
    /// The app alone, without the database: `--migrate=off`.
    pub fn without_migrations(options: &Options) -> Launch {
        Launch {
            args: vec!["--migrate=off".into()],
            env: Vec::new(),
        }
        .with_budget(options)
    }

    /// `--grace-period` and `--stop-timeout` of the drill's budget, so `safemig run` stops
    /// as the drill measures.
    pub fn with_budget(mut self, options: &Options) -> Launch {
        let budget = options.budget;
        self.args.extend([
            format!("--grace-period={}", budget.grace().duration.as_secs_f64()).into(),
            format!("--stop-timeout={}", budget.stop_timeout().as_secs_f64()).into(),
        ]);
        self
    }
}

/// How a stop went.
pub(super) struct Stop {
    pub took: Duration,
    /// `None` when it did not end by itself within the limit and was killed.
    pub code: Option<i32>,
}

/// A running `safemig run` and the timeline lines it wrote so far.
pub(super) struct Supervised {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    spawned: Instant,
    /// When the timeline said the app started, and its process id (it leads a process
    /// group of its own).
    app_started: Option<(Instant, i32)>,
}

impl Supervised {
    pub fn spawn(options: &Options, launch: &Launch) -> Result<Supervised, Error> {
        let mut child = Command::new(&options.supervisor)
            .args(["run", "--log-format=json"])
            .args(&launch.args)
            .arg("--")
            .args(&options.command)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
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
        // Read as it comes, so the pipe never fills.
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Supervised {
            child,
            lines,
            seen: Vec::new(),
            spawned: Instant::now(),
            app_started: None,
        })
    }

    pub fn since_spawn(&self) -> Duration {
        self.spawned.elapsed()
    }

    /// Takes in the lines written since the last look.
    fn read(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            if self.app_started.is_none()
                && let Some(pid) = started_pid(&line)
            {
                self.app_started = Some((Instant::now(), pid));
            }
            self.seen.push(line);
        }
    }

    /// When the drill saw the timeline say the app started.
    pub fn app_started(&mut self) -> Option<Instant> {
        self.read();
        self.app_started.map(|(at, _)| at)
    }

    /// Whether the timeline holds the event `name`.
    pub fn has_event(&mut self, name: &str) -> bool {
        self.read();
        self.seen
            .iter()
            .any(|l| event_of(l).as_deref() == Some(name))
    }

    /// The last error safemig printed (not a timeline event), as `: error…` to append to
    /// a problem; empty when it printed none.
    pub fn said(&self) -> String {
        self.seen
            .iter()
            .rev()
            .find(|l| l.starts_with("error"))
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    }

    /// Whether the attempt is over before its time: `Err` when the drill is asked to stop
    /// (after killing what it started), the problem when `safemig run` exited (`before`
    /// says before what), `None` while it runs.
    pub fn ended(&mut self, interrupt: &Interrupt, before: &str) -> Result<Option<String>, Error> {
        if interrupt.stop_requested() {
            self.kill();
            return Err(Error::Deploy(DeployError::Interrupted {
                detail: "the drill was stopped, and what it started with it".into(),
            }));
        }
        Ok(self.exited().map(|code| {
            format!(
                "safemig run exited with code {code} {before}{}",
                self.said()
            )
        }))
    }

    /// The exit code, once it exited (-1 for a death by signal), with its last lines read.
    fn exited(&mut self) -> Option<i32> {
        let status = self.child.try_wait().ok().flatten()?;
        self.finish_reading();
        Some(status.code().unwrap_or(-1))
    }

    /// SIGKILL to the app's process group and to `safemig run`: an attempt given up.
    pub fn kill(&mut self) {
        self.read();
        if let Some((_, app)) = self.app_started {
            let _ = nix::sys::signal::killpg(Pid::from_raw(app), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.finish_reading();
    }

    /// SIGTERM, as the runtime sends it, then the wait for the exit: a little past the
    /// grace period, only to see what the supervisor would have done, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Stop {
        let sent = Instant::now();
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let limit = grace + Duration::from_secs(5);
        let code = loop {
            if let Some(status) = self.child.try_wait().ok().flatten() {
                break Some(status.code().unwrap_or(-1));
            }
            if sent.elapsed() > limit {
                self.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = sent.elapsed();
        self.finish_reading();
        Stop { took, code }
    }

    /// Reads the rest of the timeline once the process is gone (for at most 2 s: the app
    /// may keep the pipe open).
    fn finish_reading(&mut self) {
        self.read();
        let until = Instant::now() + Duration::from_secs(2);
        while let Ok(line) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
    }
}

/// The `event` of a JSON timeline line.
fn event_of(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("event")?.as_str().map(String::from)
}

/// The app's process id, from the timeline's `started` event.
fn started_pid(line: &str) -> Option<i32> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("event")?.as_str()? != "started" {
        return None;
    }
    value.get("pid")?.as_i64()?.try_into().ok()
}
