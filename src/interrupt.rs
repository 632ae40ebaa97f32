//! A stop request (SIGTERM, SIGINT) as deploy sees it: finish or roll back what is running,
//! start nothing new, and cancel a statement server-side once the deadline passes.
//!
//! The library never installs signal handlers itself; the command line (or the supervisor)
//! calls [`Interrupt::request_stop`] when a signal arrives.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The default deadline: below the common 30 s grace period of container runtimes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);

/// How long a cancelled statement may take to stop before its session is terminated.
pub const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// How long a terminated session may take to end before safemig lets go of it (closes
/// the socket without waiting for an answer).
pub const TERMINATE_GRACE: Duration = Duration::from_secs(2);

/// The most a stop takes beyond the deadline. The cancel and the termination each wait up
/// to their grace for the request and again for the statement, so the whole sequence could
/// run longer; the command line's watchdog ends the process at this bound whatever happens
/// (exit 11), so a stop never outlasts it. With the default deadline a deploy is gone 25 s
/// after SIGTERM, inside the common 30 s grace period.
pub const STOP_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    /// Stop requested at this instant.
    Stopping(Instant),
    /// Cancel whatever runs, now (the deadline passed, or a second signal came).
    CancelNow,
    /// A statement ignored its cancel and its session's termination: the connection was
    /// let go, and nothing more may be sent on it.
    Abandoned,
}

/// Shared between the signal listener and the executor. Cloning shares the state.
#[derive(Debug, Clone)]
pub struct Interrupt {
    stage: Arc<watch::Sender<Stage>>,
    deadline: Duration,
    bound: Duration,
}

impl Interrupt {
    /// A running statement is cancelled `deadline` after the stop request; the process is
    /// gone [`STOP_MARGIN`] after that.
    pub fn new(deadline: Duration) -> Self {
        Interrupt::bounded(deadline, deadline + STOP_MARGIN)
    }

    /// As [`Interrupt::new`], with the process gone `bound` after the stop request: a stop
    /// budget shorter than the deadline plus [`STOP_MARGIN`]
    /// ([`crate::supervisor::StopBudget::interrupt`]).
    pub fn bounded(deadline: Duration, bound: Duration) -> Self {
        Interrupt {
            stage: Arc::new(watch::Sender::new(Stage::Running)),
            deadline,
            bound,
        }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The most a stop may take: the command line's watchdog ends the process then.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// A signal arrived. The first asks for a stop; a second one means "now".
    pub fn request_stop(&self) {
        self.stage.send_modify(|stage| {
            *stage = match *stage {
                Stage::Running => Stage::Stopping(Instant::now()),
                Stage::Abandoned => Stage::Abandoned,
                _ => Stage::CancelNow,
            }
        });
    }

    /// The connection was let go while a statement still ran on it.
    pub fn abandon(&self) {
        self.stage.send_replace(Stage::Abandoned);
    }

    /// Whether the connection was let go: nothing may be sent on it any more.
    pub fn abandoned(&self) -> bool {
        *self.stage.borrow() == Stage::Abandoned
    }

    pub fn stop_requested(&self) -> bool {
        *self.stage.borrow() != Stage::Running
    }

    /// Resolves once a stop is requested.
    pub async fn stopped(&self) {
        let mut rx = self.stage.subscribe();
        let _ = rx.wait_for(|s| *s != Stage::Running).await;
    }

    /// Resolves when a running statement must be cancelled: the deadline after the stop
    /// request passed, or a second signal came.
    pub async fn cancel_due(&self) {
        let mut rx = self.stage.subscribe();
        loop {
            let stage = *rx.borrow_and_update();
            match stage {
                Stage::CancelNow | Stage::Abandoned => return,
                Stage::Stopping(since) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(since + self.deadline) => return,
                        _ = rx.changed() => {}
                    }
                }
                Stage::Running => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt::new(DEFAULT_DEADLINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cancel_is_due_at_the_deadline_or_the_second_signal() {
        let interrupt = Interrupt::new(Duration::from_secs(20));
        assert!(!interrupt.stop_requested());
        interrupt.request_stop();
        assert!(interrupt.stop_requested());
        interrupt.stopped().await;
        let started = Instant::now();
        interrupt.cancel_due().await;
        assert_eq!(started.elapsed(), Duration::from_secs(20));

        let again = Interrupt::new(Duration::from_secs(20));
        again.request_stop();
        let second = again.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            second.request_stop();
        });
        let started = Instant::now();
        again.cancel_due().await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
