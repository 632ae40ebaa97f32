//! `safemig run`: the container's init process.
//!
//! What tini, dumb-init and catatonit do — reap zombies, forward signals, report a child's
//! death by signal as 128+n — plus what they lack (ARCHITECTURE.md, "safemig run"): a stop deadline below the
//! runtime's grace period ([`StopBudget`]), after which the child's whole process group is SIGKILLed; waiting
//! for the whole group, not only the main child, before exiting (when PID 1 exits, the kernel
//! kills every other process of the container without grace); an optional drain delay; and a
//! timeline of the shutdown. Linux only.

mod budget;
mod footprint;
pub mod prestart;
mod timeline;
pub mod wait;

use crate::error::{DeployError, SuperviseError};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

pub use budget::{GracePeriod, GraceSource, StopBudget};
pub use timeline::{Event, MigrationStep, Timeline};

use crate::Error;

/// How the child is run and stopped.
#[derive(Debug, Clone)]
pub struct Options {
    pub command: Vec<OsString>,
    /// Forward signals to the child's whole process group, not only the child.
    pub group: bool,
    /// From the stop signal until the process group is SIGKILLed: the stop budget's
    /// ([`StopBudget::stop_timeout`]).
    pub stop_timeout: Duration,
    /// After a stop signal, keep serving this long before forwarding it (load balancers
    /// remove the instance asynchronously).
    pub drain_delay: Duration,
}

/// The signals passed on to the child; the first three also start the shutdown.
const FORWARDED: [(Signal, bool); 6] = [
    (Signal::SIGTERM, true),
    (Signal::SIGINT, true),
    (Signal::SIGQUIT, true),
    (Signal::SIGHUP, false),
    (Signal::SIGUSR1, false),
    (Signal::SIGUSR2, false),
];

/// How often the loop reaps, checks the deadline and reports progress.
const TICK: Duration = Duration::from_millis(50);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A handler that cannot be registered is an internal error (exit 1), not a file that
/// cannot be read (exit 2): the operator's arguments are not the cause.
fn signal_handlers(source: std::io::Error) -> Error {
    Error::Supervise(SuperviseError::SignalHandlers { source })
}

/// Where the shutdown stands.
struct Shutdown {
    since: Instant,
    signal: Signal,
    forwarded: bool,
    last_progress: Instant,
}

impl Shutdown {
    /// A shutdown starting now, to be passed on to the child as `signal`.
    fn new(signal: Signal) -> Self {
        Shutdown {
            since: Instant::now(),
            signal,
            forwarded: false,
            last_progress: Instant::now(),
        }
    }
}

/// Runs the command until it and its process group are gone; returns the exit code to
/// exit with: the child's own, or 128+n when a signal killed it.
///
/// `stopped_before_start` is asked once the supervisor listens for signals itself, just
/// before the app would start: a stop that came earlier (during the pre-start migration,
/// or just before the supervisor took over) means the app is not started at all.
pub async fn supervise(
    options: &Options,
    timeline: &mut dyn Timeline,
    stopped_before_start: &dyn Fn() -> bool,
) -> Result<i32, Error> {
    if std::process::id() != 1 {
        // Orphaned grandchildren are re-parented to us instead of to PID 1, so we reap them.
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!("cannot become a child subreaper: {e}");
        }
    }
    // Listen before spawning: a child that dies at once must not be missed.
    let mut listeners = Listeners::install()?;

    let (program, args) = options
        .command
        .split_first()
        .ok_or(Error::Supervise(SuperviseError::NoCommand))?;
    if stopped_before_start() {
        return Err(Error::Deploy(DeployError::Interrupted {
            detail: "a stop signal came before the app started, so it was not started".into(),
        }));
    }
    let pid = spawn(program, args)?;
    let mut child = Supervised {
        pid,
        started: Instant::now(),
        options,
        exit_code: None,
        shutdown: None,
        escalated: false,
    };
    timeline.event(Event::Started {
        pid: pid.as_raw(),
        command: options
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
    });

    let mut tick = tokio::time::interval(TICK);
    let mut start_up_pages = footprint::StartUpPages::default();
    loop {
        if let Some((sig, stops)) = listeners.next(&mut tick).await {
            child.on_signal(sig, stops, timeline);
        }
        start_up_pages.release_once_settled(child.started);
        child.reap(timeline);
        let group_alive = nix::sys::signal::killpg(pid, None).is_ok();
        if child.exit_code.is_some() && !group_alive {
            break;
        }
        child.advance_shutdown(timeline);
    }
    let code = child.exit_code.unwrap_or(1);
    timeline.event(Event::Exiting {
        code,
        after_seconds: child.started.elapsed().as_secs_f64(),
    });
    Ok(code)
}

/// Starts the command in a process group of its own, so the whole group can be signalled
/// and waited for.
fn spawn(program: &OsString, args: &[OsString]) -> Result<Pid, Error> {
    let child = std::process::Command::new(program)
        .args(args)
        .process_group(0)
        .spawn()
        .map_err(|source| {
            Error::Supervise(SuperviseError::Spawn {
                command: program.to_string_lossy().into_owned(),
                source,
            })
        })?;
    // Reaped with waitpid(-1): dropping `Child` neither waits nor kills.
    Ok(Pid::from_raw(child.id() as i32))
}

/// What the supervisor listens for: SIGCHLD, and each signal it forwards.
struct Listeners {
    chld: tokio::signal::unix::Signal,
    /// Each forwarded signal, whether it starts the shutdown, and its listener.
    forwarded: Vec<(Signal, bool, tokio::signal::unix::Signal)>,
}

impl Listeners {
    fn install() -> Result<Self, Error> {
        let chld = signal(SignalKind::child()).map_err(signal_handlers)?;
        let mut forwarded = Vec::new();
        for (sig, stops) in FORWARDED {
            let listener = signal(SignalKind::from_raw(sig as i32)).map_err(signal_handlers)?;
            forwarded.push((sig, stops, listener));
        }
        Ok(Listeners { chld, forwarded })
    }

    /// Waits for a forwarded signal (returned, with whether it stops), SIGCHLD or the
    /// next tick (both `None`).
    async fn next(&mut self, tick: &mut tokio::time::Interval) -> Option<(Signal, bool)> {
        // One future per forwarded signal, raced together with SIGCHLD and the tick.
        let signals = self.forwarded.iter_mut().map(|(sig, stops, listener)| {
            let (sig, stops) = (*sig, *stops);
            Box::pin(async move {
                listener.recv().await;
                (sig, stops)
            })
        });
        let any_signal = futures_select_all(signals.collect());
        tokio::select! {
            received = any_signal => Some(received),
            _ = self.chld.recv() => None,
            _ = tick.tick() => None,
        }
    }
}

/// The main child and where its stop stands.
struct Supervised<'a> {
    pid: Pid,
    started: Instant,
    options: &'a Options,
    /// The main child's, once it ended.
    exit_code: Option<i32>,
    shutdown: Option<Shutdown>,
    /// Whether the process group was SIGKILLed.
    escalated: bool,
}

impl Supervised<'_> {
    /// A stop signal starts the shutdown (forwarded after the drain delay); any other, or
    /// a second stop, is forwarded at once.
    fn on_signal(&mut self, sig: Signal, stops: bool, timeline: &mut dyn Timeline) {
        timeline.event(Event::SignalReceived { signal: name(sig) });
        if stops && self.shutdown.is_none() {
            self.shutdown = Some(Shutdown::new(sig));
            if !self.options.drain_delay.is_zero() && self.exit_code.is_none() {
                timeline.event(Event::Draining {
                    seconds: self.options.drain_delay.as_secs_f64(),
                });
            }
        } else {
            forward(self.pid, sig, self.options.group, timeline);
        }
    }

    /// Reaps every child that ended: ours, and orphans re-parented to us.
    fn reap(&mut self, timeline: &mut dyn Timeline) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(dead, code)) => self.on_exit(dead, code, None, timeline),
                Ok(WaitStatus::Signaled(dead, sig, _)) => {
                    self.on_exit(dead, 128 + sig as i32, Some(sig), timeline);
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) => {}
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::warn!("waitpid failed: {e}");
                    break;
                }
            }
        }
    }

    fn on_exit(&mut self, dead: Pid, code: i32, sig: Option<Signal>, timeline: &mut dyn Timeline) {
        if dead != self.pid {
            timeline.event(Event::OrphanReaped { pid: dead.as_raw() });
            return;
        }
        self.exit_code = Some(code);
        timeline.event(Event::ChildExited {
            code,
            signal: sig.map(name),
            ran_seconds: self.started.elapsed().as_secs_f64(),
            after_stop_seconds: self
                .shutdown
                .as_ref()
                .map(|s| s.since.elapsed().as_secs_f64()),
        });
    }

    /// Moves the shutdown on: forwards the stop signal once the drain delay is over (or
    /// the main child is gone), SIGKILLs the group at the stop timeout, and reports
    /// progress while it waits.
    fn advance_shutdown(&mut self, timeline: &mut dyn Timeline) {
        let main_exited = self.exit_code.is_some();
        // The main child ended on its own while others of its group live on: stop them too.
        if main_exited && self.shutdown.is_none() {
            self.shutdown = Some(Shutdown::new(Signal::SIGTERM));
        }
        let Some(stop) = &mut self.shutdown else {
            return;
        };
        let options = self.options;
        if !stop.forwarded && (stop.since.elapsed() >= options.drain_delay || main_exited) {
            stop.forwarded = true;
            // The rest of the group gets the signal once the main child is gone.
            forward(
                self.pid,
                stop.signal,
                options.group || main_exited,
                timeline,
            );
        }
        let elapsed = stop.since.elapsed();
        if elapsed >= options.stop_timeout && !self.escalated {
            self.escalated = true;
            let _ = nix::sys::signal::killpg(self.pid, Signal::SIGKILL);
            timeline.event(Event::Escalated {
                process_group: self.pid.as_raw(),
                after_seconds: elapsed.as_secs_f64(),
            });
        } else if stop.last_progress.elapsed() >= PROGRESS_EVERY && !self.escalated {
            stop.last_progress = Instant::now();
            timeline.event(Event::Waiting {
                main_child_running: !main_exited,
                elapsed_seconds: elapsed.as_secs_f64(),
                seconds_left: (options.stop_timeout - elapsed).as_secs_f64(),
            });
        }
    }
}

fn forward(pid: Pid, sig: Signal, group: bool, timeline: &mut dyn Timeline) {
    let result = if group {
        nix::sys::signal::killpg(pid, sig)
    } else {
        nix::sys::signal::kill(pid, sig)
    };
    match result {
        Ok(()) => timeline.event(Event::Forwarded {
            signal: name(sig),
            to: if group {
                format!("process group {pid}")
            } else {
                format!("child {pid}")
            },
        }),
        Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!("forwarding {} failed: {e}", name(sig)),
    }
}

fn name(sig: Signal) -> String {
    sig.as_str().to_string()
}

/// Resolves with the first of several futures.
async fn futures_select_all<F: std::future::Future + Unpin>(futures: Vec<F>) -> F::Output {
    let mut futures = futures;
    std::future::poll_fn(move |cx| {
        for fut in futures.iter_mut() {
            if let std::task::Poll::Ready(out) = std::pin::Pin::new(fut).poll(cx) {
                return std::task::Poll::Ready(out);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::ExitCode;

    /// It once came out as `Error::Io { path: "signal handler" }`: "cannot read signal
    /// handler", exit 2, as if the operator had named an unreadable file.
    #[test]
    fn signal_handlers_that_cannot_be_installed_are_an_internal_error() {
        let error = super::signal_handlers(std::io::Error::other("no more signal slots"));
        assert_eq!(error.exit_code(), ExitCode::Internal);
        assert_eq!(
            error.to_string(),
            "cannot install the signal handlers the supervisor needs: no more signal slots"
        );
    }
}
