//! Prisma's migration lock, taken around everything that writes the history, so safemig
//! and Prisma exclude each other and N replicas starting at once apply each migration once.

use std::time::{Duration, Instant};

use crate::Error;
use crate::engine::Engine;
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

/// How often a waiting process asks for the lock again.
const POLL: Duration = Duration::from_millis(100);

/// Takes the lock, waiting up to the timeout. `on_wait` hears once who holds it when the
/// lock is busy, so a waiting process can say what it waits for.
pub async fn acquire(
    engine: &mut dyn Engine,
    options: &LockOptions,
    interrupt: &Interrupt,
    on_wait: &mut dyn FnMut(Option<&str>),
) -> Result<(), Error> {
    if !options.enabled {
        return Ok(());
    }
    let started = Instant::now();
    if engine.try_lock().await? {
        return Ok(());
    }
    let first_holder = engine.lock_holder().await?;
    on_wait(first_holder.as_deref());
    loop {
        let left = options.timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            let holder = engine.lock_holder().await?.or(first_holder);
            return Err(Error::LockTimeout {
                target: engine.target().to_string(),
                waited: options.timeout,
                holder,
            });
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.min(left)) => {}
            () = interrupt.stopped() => {
                return Err(Error::Interrupted {
                    detail: "stopped while waiting for the migration lock; nothing was applied".into(),
                });
            }
        }
        if engine.try_lock().await? {
            return Ok(());
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
