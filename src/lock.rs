//! Prisma's migration lock, taken around everything that writes the history, so safemig
//! and Prisma exclude each other and N replicas starting at once apply each migration once.

use crate::error::{DatabaseError, DeployError};
use std::time::{Duration, Instant};

use crate::Error;
use crate::engine::{Engine, LockHolder};
use crate::interrupt::Interrupt;

/// How the lock is taken.
#[derive(Debug, Clone, Copy)]
pub struct LockOptions {
    /// How long to wait for another holder; Prisma waits 10 s.
    pub timeout: Duration,
    /// False when `PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK` is set (connection poolers that
    /// cannot hold session locks).
    pub enabled: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            timeout: Duration::from_secs(10),
            enabled: true,
        }
    }
}

impl LockOptions {
    /// The lock with `timeout`, unless `PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK` is set.
    pub fn from_environment(timeout: Duration) -> LockOptions {
        // Prisma's switch for connection poolers that cannot hold session locks. Set at all
        // (even to a value that is not UTF-8) means set.
        let enabled = std::env::var_os("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK").is_none();
        if !enabled {
            tracing::warn!(
                "PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK is set: migrating without the lock, so concurrent deploys are not excluded"
            );
        }
        LockOptions { timeout, enabled }
    }
}

/// How often a waiting process asks for the lock again.
const POLL: Duration = Duration::from_millis(100);

/// How often a waiting process looks at what the holder is doing.
const WATCH: Duration = Duration::from_secs(1);

/// How often a long wait is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What a waiting process hears while it waits.
#[derive(Debug)]
pub enum Wait<'a> {
    /// The lock is busy; this holds it, if the engine can tell.
    Busy { holder: Option<&'a str> },
    /// Still waiting after `waited`, because the holder keeps working.
    HolderWorking { holder: &'a str, waited: Duration },
}

/// Takes the lock. While the holder visibly works (its session runs statement after
/// statement, or it writes the database), the wait goes on: sixteen replicas starting
/// together queue behind a deploy longer than the lock timeout instead of crash-looping.
/// The timeout bounds the wait on a holder that makes no progress: a stuck or idle
/// session (such as Prisma's pool holding the lock for a while after its deploy), or one
/// whose statement waits on a lock another session holds, which may last as long as an
/// application keeps its transaction open.
pub async fn acquire(
    engine: &mut dyn Engine,
    options: &LockOptions,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(Wait<'_>),
) -> Result<(), Error> {
    if !options.enabled {
        return Ok(());
    }
    let started = Instant::now();
    if engine.try_lock().await? {
        return Ok(());
    }
    let mut holder = engine.lock_holder().await?;
    on_wait(Wait::Busy {
        holder: holder.as_ref().map(LockHolder::describe).as_deref(),
    });
    let mut progress_at = Instant::now();
    let mut made_progress = false;
    let (mut watched_at, mut reported_at) = (Instant::now(), Instant::now());
    loop {
        let idle = progress_at.elapsed();
        if idle >= options.timeout {
            // The whole wait when the holder worked for a while; the timeout otherwise.
            let waited = if made_progress {
                Duration::from_secs(started.elapsed().as_secs())
            } else {
                options.timeout
            };
            return Err(Error::Database(DatabaseError::LockTimeout {
                target: engine.target().to_string(),
                waited,
                holder: holder.map(|h| h.describe()),
            }));
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.min(options.timeout - idle)) => {}
            () = interrupt.stopped() => {
                return Err(Error::Deploy(DeployError::Interrupted {
                    detail: "stopped while waiting for the migration lock; nothing was applied".into(),
                }));
            }
        }
        if engine.try_lock().await? {
            return Ok(());
        }
        if watched_at.elapsed() < WATCH {
            continue;
        }
        watched_at = Instant::now();
        let now = engine.lock_holder().await?;
        if let Some(current) = &now
            && (current.working()
                || holder
                    .as_ref()
                    .is_some_and(|h| h.activity != current.activity))
        {
            progress_at = Instant::now();
            made_progress = true;
            if reported_at.elapsed() >= REPORT_EVERY {
                reported_at = Instant::now();
                on_wait(Wait::HolderWorking {
                    holder: &current.description,
                    waited: started.elapsed(),
                });
            }
        }
        if now.is_some() {
            holder = now;
        }
    }
}

/// Releases the lock. A failure only delays the release until the connection closes,
/// so it is logged rather than reported.
pub async fn release(engine: &mut dyn Engine, options: &LockOptions) {
    if options.enabled
        && let Err(e) = engine.unlock().await
    {
        tracing::warn!("releasing the migration lock failed: {e}");
    }
}
