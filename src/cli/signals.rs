//! SIGTERM and SIGINT, from safemig's first instruction to the last.
//!
//! A container runtime may send SIGTERM at any moment, also in the first milliseconds,
//! before a deploy has connected. Left to the default action, safemig would die by signal
//! 15 instead of exiting 11 ("stopped, the history is consistent"). So the signals are
//! blocked by an initialiser that runs before `main` ([`BLOCK_AT_START`]), the handlers
//! are installed before anything else in `main`, and a thread of their own (not a task of
//! the async runtime, which a blocked statement or a synchronous command can hold up)
//! decides what a signal means once the command is known:
//!
//! - for `deploy` (and `run`'s pre-start deploy, and `resolve` waiting for the lock): a stop
//!   request to the library ([`Interrupt`]), plus a watchdog that ends the process when
//!   its bound ([`Interrupt::bound`]: the deadline and the stop margin, or `run`'s stop
//!   timeout) has passed, whatever the database does;
//! - for everything else: an immediate exit with code 11;
//! - for `serve`: a stop request that ends the HTTP server gracefully, plus the same
//!   watchdog;
//! - while `safemig run` supervises the app: nothing (the supervisor forwards signals); the
//!   count lets it see a stop that arrived just before it took over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use safemig::ExitCode;
use safemig::interrupt::Interrupt;

use super::output::stderr_line;

/// SIGTERM and SIGINT.
fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

/// Blocks SIGTERM and SIGINT at safemig's first instruction, an initialiser that runs
/// before Rust's runtime and `main`: a signal that arrives before [`StopSignals::install`]
/// waits for the handler instead of ending the process by its default action. (What runs
/// earlier is not safemig's: the kernel's `exec` and, in a dynamically linked build, the
/// dynamic loader; README, "Signals".) No other thread exists before `install` unblocks
/// them, and child processes start with an empty mask (Rust's `Command` resets it).
#[used]
#[unsafe(link_section = ".init_array")]
static BLOCK_AT_START: extern "C" fn() = block_at_start;

extern "C" fn block_at_start() {
    // Nothing to report to yet: without the block, the handlers still come in `main`.
    let _ = stop_signals().thread_block();
}

/// What a stop signal means for the command that runs.
pub enum Policy {
    /// Not known yet: signals are kept until it is.
    Undecided,
    /// Exit at once with code 11: nothing is open that needs a clean stop.
    Exit,
    /// Ask the library to stop at a safe point; end the process when the interrupt's bound
    /// has passed.
    Stop(Interrupt),
    /// Count only: the supervisor handles signals itself.
    Count,
    /// `serve`: stop accepting connections and let the requests in flight finish; end the
    /// process when the interrupt's bound has passed.
    Drain(Interrupt),
}

struct State {
    policy: Policy,
    /// Signals received while the policy was undecided.
    pending: Vec<i32>,
    watchdog_armed: bool,
}

/// The installed handlers.
#[derive(Clone)]
pub struct StopSignals {
    state: Arc<Mutex<State>>,
    received: Arc<AtomicUsize>,
}

impl StopSignals {
    /// Installs the handlers and starts the thread that acts on them.
    pub fn install() -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        // Handled from now on: a signal held back since the first instruction
        // ([`BLOCK_AT_START`]) is delivered to the handler here.
        stop_signals().thread_unblock()?;
        let stop = StopSignals {
            state: Arc::new(Mutex::new(State {
                policy: Policy::Undecided,
                pending: Vec::new(),
                watchdog_armed: false,
            })),
            received: Arc::new(AtomicUsize::new(0)),
        };
        let acting = stop.clone();
        std::thread::Builder::new()
            .name("stop-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    acting.received.fetch_add(1, Ordering::SeqCst);
                    let mut state = acting.state.lock().unwrap_or_else(|e| e.into_inner());
                    if matches!(state.policy, Policy::Undecided) {
                        state.pending.push(signal);
                    } else {
                        act(&mut state, signal);
                    }
                }
            })?;
        Ok(stop)
    }

    /// Decides what signals mean from now on; signals that came before are applied now.
    pub fn set(&self, policy: Policy) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.policy = policy;
        for signal in std::mem::take(&mut state.pending) {
            act(&mut state, signal);
        }
    }

    /// Stop signals received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

fn name(signal: i32) -> &'static str {
    if signal == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}

fn act(state: &mut State, signal: i32) {
    match &state.policy {
        Policy::Undecided | Policy::Count => {}
        Policy::Exit => {
            stderr_line(&format!("Received {}: stopping.", name(signal)));
            std::process::exit(ExitCode::Interrupted as i32);
        }
        Policy::Stop(interrupt) => {
            stderr_line(&format!(
                "Received {}: stopping at the next safe point (a running statement is cancelled after {}s; a second signal cancels it now)",
                name(signal),
                interrupt.deadline().as_secs_f32()
            ));
            interrupt.request_stop();
            if !state.watchdog_armed {
                state.watchdog_armed = true;
                watchdog(interrupt.bound());
            }
        }
        Policy::Drain(interrupt) => {
            stderr_line(&format!(
                "Received {}: stopping once the requests in flight are answered (at most {}s)",
                name(signal),
                interrupt.bound().as_secs_f32()
            ));
            interrupt.request_stop();
            if !state.watchdog_armed {
                state.watchdog_armed = true;
                watchdog(interrupt.bound());
            }
        }
    }
}

/// Ends the process `after` the first stop signal if it is still running: the last resort
/// when a statement ignores both the cancel and the session's termination. What was
/// committed stays; the session, its transaction and the migration lock end with the
/// process, and the next deploy resumes, as after any crash.
fn watchdog(after: Duration) {
    let spawned = std::thread::Builder::new()
        .name("stop-watchdog".into())
        .spawn(move || {
            std::thread::sleep(after);
            stderr_line(&format!(
                "error: still not stopped {}s after the stop signal: exiting now; the next `safemig deploy` resumes",
                after.as_secs_f32()
            ));
            std::process::exit(ExitCode::Interrupted as i32);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the stop watchdog: {e}");
    }
}
