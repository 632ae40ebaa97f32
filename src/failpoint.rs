//! Crash injection for the kill tests: `SAFEMIG_FAILPOINT=NAME:N[:DELAY_MS]` kills this
//! process with SIGKILL the N-th time execution reaches the point NAME (after DELAY_MS,
//! from a separate thread, so that a statement is running when the kill lands). Several
//! points may be given, separated by commas. Unset, every check is one atomic load.
//!
//! Compiled in only with the `failpoints` cargo feature, which only the test build enables:
//! in a release binary [`hit`] is empty and the variable is never read, so nothing in a
//! production environment can make safemig kill itself.
//!
//! Points: `after_insert` (history row written), `during_statement` (a statement, or a
//! transactional script, has been sent), `after_statement` (it returned, its journal write
//! not yet done), `before_finish` (before the final history UPDATE).

#[cfg(feature = "failpoints")]
pub use enabled::hit;

/// Marks that execution reached `name`: nothing, in a build without failpoints.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

#[cfg(feature = "failpoints")]
mod enabled {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::OnceLock;
    use std::time::Duration;

    struct Point {
        at: usize,
        delay: Duration,
        seen: usize,
    }

    fn points() -> &'static Option<Mutex<HashMap<String, Point>>> {
        static POINTS: OnceLock<Option<Mutex<HashMap<String, Point>>>> = OnceLock::new();
        POINTS.get_or_init(|| {
            let spec = std::env::var("SAFEMIG_FAILPOINT").ok()?;
            let points = spec
                .split(',')
                .filter_map(|item| {
                    let mut parts = item.trim().split(':');
                    let name = parts.next()?.to_string();
                    let at = parts.next()?.parse().ok()?;
                    let delay = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0);
                    Some((
                        name,
                        Point {
                            at,
                            delay: Duration::from_millis(delay),
                            seen: 0,
                        },
                    ))
                })
                .collect();
            Some(Mutex::new(points))
        })
    }

    /// Marks that execution reached `name`. A no-op without the `failpoints` feature.
    #[cfg(not(feature = "failpoints"))]
    #[inline(always)]
    pub fn hit(_name: &str) {}

    /// Marks that execution reached `name`.
    pub fn hit(name: &str) {
        let Some(points) = points() else { return };
        let mut points = points.lock().unwrap_or_else(|e| e.into_inner());
        let Some(point) = points.get_mut(name) else {
            return;
        };
        point.seen += 1;
        if point.seen != point.at {
            return;
        }
        let delay = point.delay;
        let kill = move || {
            std::thread::sleep(delay);
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        };
        if delay.is_zero() {
            kill();
        } else {
            std::thread::spawn(kill);
        }
    }
}
