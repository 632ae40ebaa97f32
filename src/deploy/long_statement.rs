//! Word from a statement that runs long. A start-up that has printed nothing for a
//! minute looks stuck, and the person watching it is tempted to kill it: after a few
//! seconds deploy says which statement runs, for how long, and, where the server counts
//! the work, its phase, how far it has got and about how long is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::retry::StatementAt;
use crate::engine::{Canceller, StatementProgress};

/// The first word once a statement has run this long, then one every [`EVERY`].
pub(super) const FIRST_AFTER: Duration = Duration::from_secs(5);
pub(super) const EVERY: Duration = Duration::from_secs(5);
/// How long asking the server may take (over a new connection).
pub(super) const ASK_FOR: Duration = Duration::from_secs(1);

/// What the server says of the statement `canceller`'s connection runs, if it says
/// anything within [`ASK_FOR`].
pub(super) async fn ask(canceller: Arc<dyn Canceller>) -> Option<StatementProgress> {
    match tokio::time::timeout(ASK_FOR, canceller.progress()).await {
        Ok(Ok(progress)) => progress,
        Ok(Err(e)) => {
            tracing::debug!("asking how far the statement has got: {e}");
            None
        }
        Err(_) => None,
    }
}

/// A statement still running, as deploy reports it.
#[derive(Debug)]
pub struct StillRunning<'a> {
    pub migration: &'a str,
    /// `None` for a transactional migration, run as one script.
    pub statement: Option<StatementAt>,
    pub elapsed: Duration,
    /// What the server reports, if anything.
    pub progress: Option<StatementProgress>,
    /// What is left of the phase at its pace so far, once the server's count has moved.
    pub left: Option<Duration>,
}

/// The pace of the phase the server reports: the percentage and when it was first seen
/// in that phase. An index build counts blocks while it scans, then tuples while it
/// sorts: each phase has its own count, so the pace starts again with each.
#[derive(Debug, Default)]
pub(super) struct Pace {
    phase: Option<(String, Instant, f64)>,
}

impl Pace {
    /// What is left of the phase `progress` is in, as seen at `now`.
    pub fn left(&mut self, progress: Option<&StatementProgress>, now: Instant) -> Option<Duration> {
        let progress = progress?;
        let percent = progress.percent?;
        match &self.phase {
            Some((phase, since, then)) if *phase == progress.phase => {
                let rate = (percent - then) / now.duration_since(*since).as_secs_f64();
                (rate > 0.0 && percent < 100.0)
                    .then(|| Duration::from_secs_f64((100.0 - percent) / rate))
            }
            _ => {
                self.phase = Some((progress.phase.clone(), now, percent));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(phase: &str, percent: f64) -> StatementProgress {
        StatementProgress {
            phase: phase.into(),
            percent: Some(percent),
        }
    }

    #[test]
    fn what_is_left_follows_the_pace_of_the_phase() {
        let mut pace = Pace::default();
        let start = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(pace.left(Some(&at("scanning", 10.0)), start), None);
        // 20 points in 10 s: the 70 left take 35 s.
        assert_eq!(
            pace.left(Some(&at("scanning", 30.0)), start + s(10)),
            Some(s(35))
        );
        // A new phase counts anew.
        assert_eq!(pace.left(Some(&at("sorting", 5.0)), start + s(12)), None);
        assert_eq!(
            pace.left(Some(&at("sorting", 55.0)), start + s(22)),
            Some(s(9))
        );
        // A count that does not move, or none at all, says nothing.
        assert_eq!(pace.left(Some(&at("sorting", 5.0)), start + s(30)), None);
        assert_eq!(pace.left(None, start + s(31)), None);
    }
}
