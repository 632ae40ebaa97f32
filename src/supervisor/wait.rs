//! `safemig run`'s wait for its database, before the pre-start migration.
//!
//! On a first `compose up` the app's container starts while the database's is still
//! initialising its volume: the official MariaDB, MySQL and PostgreSQL images run their
//! initialisation on a temporary server that listens on a socket only (`--skip-networking`,
//! `listen_addresses=''`), stop it, and only then start the real server on the network.
//! Until then a client's connection is refused; once the port accepts connections, the
//! database and the user the image was told to create exist. So only "cannot connect"
//! failures are waited for (refused, unreachable, a name that does not resolve yet, no
//! answer, a server starting up or shutting down); a refused password, a missing database
//! or a missing privilege is the server's answer, and the pre-start step reports it at
//! once, as it would without the wait.

use std::time::Duration;

use tokio::time::Instant;

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::engine::{self, Access};
use crate::error::{DatabaseError, SuperviseError};
use crate::interrupt::Interrupt;

/// The default wait: a compose first start initialises MariaDB or PostgreSQL in seconds
/// to tens of seconds.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The pause after the first failed attempt; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// An attempt at least this long, even when less of the wait is left: one last try.
const SHORTEST_ATTEMPT: Duration = Duration::from_secs(1);

/// One attempt that found the database not accepting connections.
#[derive(Debug, Clone)]
pub struct Unavailable {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why it failed, as the error says it (credentials masked by whoever prints it).
    pub error: String,
    /// When the next attempt comes; `None` when this was the last.
    pub retry_in: Option<Duration>,
    /// Since the first attempt.
    pub waited: Duration,
}

/// How the wait ended, when the database answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    /// Connection attempts made; 0 when there was nothing to wait for.
    pub attempts: u32,
    pub waited: Duration,
}

/// Waits, at most about `limit`, until the server of `url` answers a connection attempt
/// (whatever it answers: a wrong password is for the pre-start step to report), with a
/// pause doubling from 0.5 s to 5 s between attempts, each failed attempt reported to
/// `on_unavailable`. A SQLite file, or a zero `limit`, is not waited for.
///
/// Returns the last attempt's error once the wait is over, and
/// [`SuperviseError::StoppedWaitingForDatabase`] (exit 11) as soon as a stop is requested.
pub async fn for_database(
    url: &DatabaseUrl,
    limit: Duration,
    interrupt: &Interrupt,
    on_unavailable: &mut dyn FnMut(&Unavailable),
) -> Result<Waited, Error> {
    if url.server_url().is_none() || limit.is_zero() {
        return Ok(Waited {
            attempts: 0,
            waited: Duration::ZERO,
        });
    }
    let started = Instant::now();
    let stopped = || {
        Error::Supervise(SuperviseError::StoppedWaitingForDatabase {
            database: url.describe(),
            waited: started.elapsed(),
        })
    };
    let mut pause = FIRST_PAUSE;
    for attempt in 1.. {
        let left = limit.saturating_sub(started.elapsed());
        let error = tokio::select! {
            _ = interrupt.stopped() => return Err(stopped()),
            answer = attempt_connection(url, left.max(SHORTEST_ATTEMPT)) => match answer {
                Ok(()) => {
                    return Ok(Waited {
                        attempts: attempt,
                        waited: started.elapsed(),
                    });
                }
                Err(e) => e,
            },
        };
        let left = limit.saturating_sub(started.elapsed());
        let retry_in = (!left.is_zero()).then(|| pause.min(left));
        on_unavailable(&Unavailable {
            attempt,
            error: error.to_string(),
            retry_in,
            waited: started.elapsed(),
        });
        let Some(retry_in) = retry_in else {
            return Err(error);
        };
        tokio::select! {
            _ = interrupt.stopped() => return Err(stopped()),
            _ = tokio::time::sleep(retry_in) => {}
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
    unreachable!("the attempts go on until one returns")
}

/// One connection attempt within `limit`: `Ok` when the server answered (a refusal of
/// the login or the database is an answer), the error when it could not be reached.
async fn attempt_connection(url: &DatabaseUrl, limit: Duration) -> Result<(), Error> {
    let attempt = engine::connect(url, Access::ReadOnly, Duration::ZERO);
    match tokio::time::timeout(limit, attempt).await {
        Err(_) => Err(Error::Database(DatabaseError::Connect {
            target: url.describe(),
            message: format!("no answer within {:.1}s", limit.as_secs_f32()),
        })),
        Ok(Err(e)) if cannot_connect(&e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// The failures a starting server gives: nothing listens yet, or it is not accepting
/// sessions yet.
fn cannot_connect(error: &Error) -> bool {
    matches!(
        error,
        Error::Database(DatabaseError::Connect { .. } | DatabaseError::ConnectionLost { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn url(raw: &str) -> DatabaseUrl {
        DatabaseUrl::parse(raw, Path::new("/"), "the test").unwrap()
    }

    /// Nothing listens on port 1: every attempt is refused, each reported with the pause
    /// before the next doubling, and the last error comes back once the wait is over.
    #[tokio::test]
    async fn a_refused_connection_is_retried_until_the_limit() {
        let mut seen = Vec::new();
        let result = for_database(
            &url("postgresql://app:secret@127.0.0.1:1/app"),
            Duration::from_millis(1600),
            &Interrupt::default(),
            &mut |attempt| seen.push(attempt.clone()),
        )
        .await;
        let error = result.unwrap_err();
        assert_eq!(error.exit_code(), crate::ExitCode::Unreachable);
        assert!(seen.len() >= 3, "{seen:?}");
        assert_eq!(seen[0].retry_in, Some(Duration::from_millis(500)));
        assert_eq!(seen[1].retry_in, Some(Duration::from_secs(1)));
        assert_eq!(seen.last().unwrap().retry_in, None);
        assert!(
            seen[0]
                .error
                .starts_with("cannot connect to PostgreSQL database `app`")
                && seen[0].error.contains("at 127.0.0.1:1:"),
            "{}",
            seen[0].error
        );
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait() {
        let interrupt = Interrupt::default();
        interrupt.request_stop();
        let error = for_database(
            &url("mysql://app@127.0.0.1:1/app"),
            Duration::from_secs(60),
            &interrupt,
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(error.exit_code(), crate::ExitCode::Interrupted);
    }

    #[tokio::test]
    async fn a_file_or_no_wait_is_not_waited_for() {
        let none = Waited {
            attempts: 0,
            waited: Duration::ZERO,
        };
        let mut called = false;
        let file = for_database(
            &url("file:/nonexistent/dir/dev.db"),
            DEFAULT_WAIT,
            &Interrupt::default(),
            &mut |_| called = true,
        )
        .await;
        assert_eq!(file.unwrap(), none);
        let zero = for_database(
            &url("postgresql://app@127.0.0.1:1/app"),
            Duration::ZERO,
            &Interrupt::default(),
            &mut |_| called = true,
        )
        .await;
        assert_eq!(zero.unwrap(), none);
        assert!(!called);
    }
}
