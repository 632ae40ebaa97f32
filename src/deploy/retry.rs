//! Lock-safe execution: a statement that gives up waiting for its lock ([`LockWait`], set on
//! the session before each migration) applied nothing, so it is tried again after a pause
//! until the bound runs out. What is retried is what was rolled back: a transactional
//! migration as a whole, a journaled migration's statement (or the script's own
//! transaction it was in). Nothing is recorded as failed while retries remain; each retry
//! is an [`Event::RetryingLockWait`].

use std::time::{Duration, Instant};

use super::long_statement::{self, Pace, StillRunning};
use super::{Event, Run, run_cancellable};
use crate::Error;
use crate::engine::{Engine, ErrorKind};
use crate::error::DeployError;
use crate::interrupt::Interrupt;
use crate::lock_wait::{self, AfterGiveUp, LockWait};

/// Which statement of a journaled migration gave up its lock wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementAt {
    /// 1-based.
    pub number: usize,
    pub total: usize,
    pub line: usize,
}

/// A retry about to happen, as deploy reports it.
#[derive(Debug)]
pub struct Retrying<'a> {
    pub migration: &'a str,
    /// `None` for a transactional migration, retried whole.
    pub statement: Option<StatementAt>,
    /// The attempts that gave up so far.
    pub attempts: u32,
    /// Each attempt's lock wait.
    pub lock_wait: Duration,
    /// What the last attempt waited for, when the server said.
    pub waiting_for: Option<&'a str>,
    /// Since the first attempt.
    pub spent: Duration,
    /// Before the next attempt.
    pub pause: Duration,
    /// The bound on all attempts.
    pub retry_for: Duration,
}

/// Where an attempt gave up: the migration, and for a journaled one the statement (with
/// an excerpt of its text for the final error).
pub(super) struct Place<'a> {
    pub migration: &'a str,
    pub statement: Option<(StatementAt, &'a str)>,
}

/// What follows an attempt that gave up its lock wait.
pub(super) enum Next {
    /// Paused; run the attempt again.
    Again,
    /// A stop was requested: stop as a signal stops deploy.
    Stopped,
    /// Another attempt would not end within the bound: [`LockRetry::gave_up`].
    GiveUp,
}

/// The retries of one migration (and, for a journaled one, of its current statement).
pub(super) struct LockRetry<'f> {
    wait: LockWait,
    on_event: &'f mut dyn FnMut(Event<'_>),
    /// When the first attempt of what is being retried began.
    first: Option<Instant>,
    /// The attempts that gave up since.
    failed: u32,
    /// What the last attempt waited for, as the server said while it waited.
    waiting_for: Option<String>,
}

impl<'f> LockRetry<'f> {
    pub fn new(wait: LockWait, on_event: &'f mut dyn FnMut(Event<'_>)) -> Self {
        LockRetry {
            wait,
            on_event,
            first: None,
            failed: 0,
            waiting_for: None,
        }
    }

    /// Runs `sql` (what `place` names) as [`run_cancellable`] does. Once the attempt has
    /// used most of its lock wait, asks the server (on another connection) what it waits
    /// for: after the wait has run out, the server no longer knows. A statement that runs
    /// long is reported every few seconds ([`Event::StillRunning`]).
    pub async fn attempt(
        &mut self,
        engine: &mut dyn Engine,
        sql: &str,
        place: &Place<'_>,
        cancel_when: impl std::future::Future<Output = ()>,
        interrupt: &Interrupt,
    ) -> Run {
        self.first.get_or_insert_with(Instant::now);
        let started = Instant::now();
        let mut word = tokio::time::interval_at(
            (started + long_statement::FIRST_AFTER).into(),
            long_statement::EVERY,
        );
        word.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pace = Pace::default();
        // Asked in a task of its own: the statement's end and a stop request are seen
        // while the server answers.
        let mut asking = None;
        let canceller = engine.canceller();
        let look_after = self.wait.per_attempt().mul_f64(0.6);
        let look = async {
            tokio::time::sleep(look_after).await;
            canceller.waiting_for().await
        };
        let run = run_cancellable(engine, sql, cancel_when, interrupt);
        tokio::pin!(run, look);
        let mut looked = false;
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                seen = &mut look, if !looked => {
                    looked = true;
                    match seen {
                        Ok(Some(seen)) => self.waiting_for = Some(seen),
                        Ok(None) => {}
                        Err(e) => tracing::debug!("asking what the statement waits for: {e}"),
                    }
                }
                _ = word.tick(), if asking.is_none() => {
                    asking = Some(tokio::spawn(long_statement::ask(canceller.clone())));
                }
                progress = async { asking.as_mut().expect("asked").await }, if asking.is_some() => {
                    asking = None;
                    let progress = progress.unwrap_or(None);
                    let left = pace.left(progress.as_ref(), Instant::now());
                    (self.on_event)(Event::StillRunning(StillRunning {
                        migration: place.migration,
                        statement: place.statement.map(|(at, _)| at),
                        elapsed: started.elapsed(),
                        progress,
                        left,
                    }));
                }
            }
        };
        if let Some(asking) = asking {
            asking.abort();
        }
        if !matches!(&result, Run::Failed(e) if e.kind == ErrorKind::LockWaitTimeout) {
            // Done, or failed otherwise: what comes next starts its own count.
            self.first = None;
            self.failed = 0;
            self.waiting_for = None;
        }
        result
    }

    /// After an attempt at `place` gave up its lock wait (and what it opened was rolled
    /// back): reports the retry and pauses, unless another attempt would not end within
    /// the bound or a stop is requested (also during the pause).
    pub async fn after_lock_wait(&mut self, place: &Place<'_>, interrupt: &Interrupt) -> Next {
        self.failed += 1;
        let spent = self.first.map_or(Duration::ZERO, |first| first.elapsed());
        let pause = match self.wait.after_give_up(self.failed, spent, interrupt) {
            AfterGiveUp::Pause(pause) => pause,
            AfterGiveUp::Stopped => return Next::Stopped,
            AfterGiveUp::GiveUp => return Next::GiveUp,
        };
        (self.on_event)(Event::RetryingLockWait(Retrying {
            migration: place.migration,
            statement: place.statement.map(|(at, _)| at),
            attempts: self.failed,
            lock_wait: self.wait.per_attempt(),
            waiting_for: self.waiting_for.as_deref(),
            spent,
            pause,
            retry_for: self.wait.retry_for,
        }));
        if lock_wait::paused(pause, interrupt).await {
            Next::Again
        } else {
            Next::Stopped
        }
    }

    /// The error once the bound ran out at `place`; `applied_before`: the statements of a
    /// journaled migration applied before the one that could not get its lock.
    pub fn gave_up(&self, place: &Place<'_>, applied_before: usize) -> Error {
        Error::Deploy(DeployError::TableLocked {
            name: place.migration.to_string(),
            statement: place.statement.map(|(at, excerpt)| {
                format!(
                    "statement {} of {} (line {}, `{excerpt}`)",
                    at.number, at.total, at.line
                )
            }),
            attempts: self.failed,
            lock_wait: self.wait.per_attempt(),
            spent: self.first.map_or(Duration::ZERO, |first| first.elapsed()),
            waiting_for: self.waiting_for.clone(),
            applied_before,
        })
    }
}
