//! How long a migration's statements may wait for the table locks they need, and how the
//! waits are retried.
//!
//! A DDL statement that waits for its lock in PostgreSQL's queue (or MySQL's metadata lock
//! queue) makes every later query of that table wait behind it, even plain reads: one
//! long read transaction in the application turns a 10 ms `ALTER TABLE` into an outage as
//! long as that transaction. So every attempt waits at most [`LockWait::attempt`] (then
//! gives up, having applied nothing, and the queue behind it drains), and deploy tries
//! again after a pause, until [`LockWait::retry_for`] has passed. The pauses grow
//! exponentially, with jitter, so several deployers (or one deployer and a stream of
//! short transactions) do not retry in lockstep. This is not Prisma's migration lock
//! ([`crate::lock`], `--lock-timeout`), which excludes other deployers.

use std::time::Duration;

use crate::interrupt::Interrupt;

/// What follows an attempt that gave up its lock wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterGiveUp {
    /// Pause this long, then try again ([`paused`]).
    Pause(Duration),
    /// A stop was requested.
    Stopped,
    /// Another attempt would not end within the bound.
    GiveUp,
}

/// Sleeps `pause`, or less when a stop is requested: whether to try again.
pub async fn paused(pause: Duration, interrupt: &Interrupt) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        () = interrupt.stopped() => false,
    }
}

/// The bounds on waiting for table locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWait {
    /// The most one attempt of a statement (or of a transactional migration) waits for a
    /// lock: PostgreSQL's `lock_timeout`, MySQL's `lock_wait_timeout`.
    pub attempt: Duration,
    /// How long attempts go on, counted from the first attempt of the migration (or, for a
    /// journaled migration, of the statement), before deploy gives up.
    pub retry_for: Duration,
}

impl Default for LockWait {
    fn default() -> Self {
        LockWait {
            attempt: LockWait::DEFAULT_ATTEMPT,
            retry_for: LockWait::DEFAULT_RETRY_FOR,
        }
    }
}

/// The first pause between attempts; each later one doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// The longest pause between attempts: a lock that frees up is noticed within this.
const MAX_PAUSE: Duration = Duration::from_secs(15);

/// The shortest lock wait an attempt is given: PostgreSQL reads `lock_timeout = 0` as "no
/// limit", and a wait of a few milliseconds would fail on locks that are only ever held
/// for a moment.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

impl LockWait {
    /// Long enough for the short transactions of a web application to end, short enough
    /// that the queries queued behind the waiting statement stay within a request's
    /// patience.
    pub const DEFAULT_ATTEMPT: Duration = Duration::from_secs(2);

    /// Suited to a deploy at start-up: a blocking transaction that outlasts this is not
    /// going to end by itself, and a person should look.
    pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(300);

    /// These bounds within a stop budget (`run`): an attempt waits at most `deadline`
    /// (how long a running statement may go on after a stop signal, so that one waiting
    /// for a lock gives up by itself before it would be cancelled), and the attempts go on
    /// at most `stop_timeout`: a start-up that cannot get its locks fails (and the runtime
    /// restarts it, or a person looks) within the time a stop would take, instead of
    /// holding the container in its start for minutes.
    pub fn within(self, deadline: Duration, stop_timeout: Duration) -> LockWait {
        LockWait {
            attempt: self.attempt.min(deadline).max(MIN_ATTEMPT),
            retry_for: self.retry_for.min(stop_timeout),
        }
    }

    /// The lock wait an attempt is given: never below [`MIN_ATTEMPT`].
    pub fn per_attempt(&self) -> Duration {
        self.attempt.max(MIN_ATTEMPT)
    }

    /// The pause after the `failed`-th failed attempt (1-based): half of the exponential
    /// step for certain, the other half at random ("equal jitter"), so the application
    /// always gets a breathing space between two attempts and deployers drift apart.
    pub fn pause(&self, failed: u32) -> Duration {
        let step = FIRST_PAUSE
            .saturating_mul(1 << failed.saturating_sub(1).min(16))
            .min(MAX_PAUSE);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// After the `failed`-th attempt gave up, `spent` since the first: what follows (the
    /// one rule deploy's retries and repair's roll-back retries share).
    pub fn after_give_up(
        &self,
        failed: u32,
        spent: Duration,
        interrupt: &Interrupt,
    ) -> AfterGiveUp {
        let pause = self.pause(failed);
        if interrupt.stop_requested() {
            AfterGiveUp::Stopped
        } else if !self.allows_another(spent, pause) {
            AfterGiveUp::GiveUp
        } else {
            AfterGiveUp::Pause(pause)
        }
    }

    /// Whether another attempt, after `pause`, still ends within the bound when `spent`
    /// has gone since the first attempt.
    pub fn allows_another(&self, spent: Duration, pause: Duration) -> bool {
        spent + pause + self.per_attempt() <= self.retry_for
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_give_up_a_stop_comes_first_then_the_bound() {
        let wait = LockWait {
            attempt: Duration::from_secs(2),
            retry_for: Duration::from_secs(10),
        };
        let interrupt = Interrupt::new(Duration::from_secs(20));
        // The first pause is 0.25 s to 0.5 s: 1 s spent leaves room for 2 s more.
        let AfterGiveUp::Pause(pause) = wait.after_give_up(1, Duration::from_secs(1), &interrupt)
        else {
            panic!("a pause");
        };
        assert!(pause <= Duration::from_millis(500), "{pause:?}");
        assert_eq!(
            wait.after_give_up(1, Duration::from_secs(8), &interrupt),
            AfterGiveUp::GiveUp
        );
        interrupt.request_stop();
        assert_eq!(
            wait.after_give_up(1, Duration::from_secs(1), &interrupt),
            AfterGiveUp::Stopped
        );
    }

    #[test]
    fn pauses_grow_exponentially_with_jitter_up_to_the_cap() {
        let wait = LockWait::default();
        for _ in 0..100 {
            let first = wait.pause(1);
            assert!(first >= Duration::from_millis(250) && first <= FIRST_PAUSE);
            let third = wait.pause(3);
            assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
            let late = wait.pause(40);
            assert!(late >= MAX_PAUSE / 2 && late <= MAX_PAUSE);
        }
        let pauses: std::collections::HashSet<_> = (0..20).map(|_| wait.pause(5)).collect();
        assert!(pauses.len() > 1, "no jitter: {pauses:?}");
    }

    #[test]
    fn the_bound_counts_the_next_attempt_whole() {
        let wait = LockWait {
            attempt: Duration::from_secs(2),
            retry_for: Duration::from_secs(10),
        };
        assert!(wait.allows_another(Duration::from_secs(7), Duration::from_secs(1)));
        assert!(!wait.allows_another(Duration::from_secs(7), Duration::from_millis(1001)));
    }

    #[test]
    fn a_stop_budget_caps_both_bounds() {
        let capped = LockWait::default().within(Duration::from_secs(3), Duration::from_secs(8));
        assert_eq!(capped.attempt, Duration::from_secs(2));
        assert_eq!(capped.retry_for, Duration::from_secs(8));
        // A budget that cancels at once still gives an attempt a real wait.
        let short = LockWait::default().within(Duration::ZERO, Duration::from_millis(1500));
        assert_eq!(short.attempt, MIN_ATTEMPT);
        assert_eq!(short.retry_for, Duration::from_millis(1500));
    }
}
