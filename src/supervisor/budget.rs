//! The stop budget: how the runtime's grace period is spent once a stop signal comes.
//!
//! A runtime sends SIGTERM and, a grace period later, SIGKILLs the whole container:
//! Docker, Podman, compose (`stop_grace_period`) and systemd after 10 s unless told
//! otherwise, Kubernetes after `terminationGracePeriodSeconds` (30 s). Everything safemig
//! does after the signal has to be over before that SIGKILL, so one rule derives all its
//! times from the grace period, and `run`, `drill` and `lint compose` all use it:
//!
//! - the **margin** ([`StopBudget::margin`]): kept free before the runtime's SIGKILL, for
//!   safemig to SIGKILL the app's group, reap it and exit, and for the runtime's clock to
//!   differ from ours: 2 s, or half the grace period when that is shorter;
//! - the **stop timeout** ([`StopBudget::stop_timeout`]): the grace period less the
//!   margin. The supervisor SIGKILLs the app's process group then, and a stop during the
//!   pre-start migration ends by then whatever the database does;
//! - the **migration deadline** ([`StopBudget::migration_deadline`]): how long a running
//!   migration statement may go on after the stop signal before it is cancelled, which
//!   leaves the cancel and the session's termination ([`STOP_MARGIN`]) inside the stop
//!   timeout.
//!
//! The grace period is declared once ([`GracePeriod::declared`]: `--grace-period`, else
//! `SAFEMIG_GRACE_PERIOD`); `lint compose` reads it from `stop_grace_period`. Undeclared,
//! it is the runtimes' default of 10 s, so the defaults fit a plain `docker run`,
//! `podman stop` or compose file.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::error::SuperviseError;
use crate::interrupt::{Interrupt, STOP_MARGIN};

/// Where the grace period came from; messages say it, so an assumption reads as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GraceSource {
    /// Nothing declared it: the 10 s of Docker, Podman, compose and systemd.
    RuntimeDefault,
    /// `--grace-period`.
    Flag,
    /// The `SAFEMIG_GRACE_PERIOD` environment variable.
    Environment,
    /// A compose file's `stop_grace_period` (`lint compose`).
    ComposeFile,
}

impl fmt::Display for GraceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GraceSource::RuntimeDefault => "the runtimes' default: none was declared",
            GraceSource::Flag => "from --grace-period",
            GraceSource::Environment => "from SAFEMIG_GRACE_PERIOD",
            GraceSource::ComposeFile => "from stop_grace_period",
        })
    }
}

/// The runtime's grace period: SIGTERM, then SIGKILL this long after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GracePeriod {
    #[serde(rename = "grace_seconds", serialize_with = "seconds")]
    pub duration: Duration,
    #[serde(rename = "grace_source")]
    pub source: GraceSource,
}

impl GracePeriod {
    /// Docker's and Podman's stop timeout, compose's `stop_grace_period` and systemd's
    /// `TimeoutStopSec` when nothing sets them (podman-compose before 1.0.6, a plain
    /// `podman stop` and a host shutdown use it whatever the compose file says).
    pub const RUNTIME_DEFAULT: Duration = Duration::from_secs(10);

    /// The variable that declares it to `run` and `drill` when `--grace-period` does not.
    pub const ENV: &'static str = "SAFEMIG_GRACE_PERIOD";

    /// The grace period nothing declared.
    pub fn runtime_default() -> GracePeriod {
        GracePeriod {
            duration: Self::RUNTIME_DEFAULT,
            source: GraceSource::RuntimeDefault,
        }
    }

    /// The grace period as declared: `flag` (`--grace-period`), else [`GracePeriod::ENV`]
    /// (read through `env`), else the runtimes' default. Below a second nothing can stop
    /// cleanly, so that is refused.
    pub fn declared(
        flag: Option<Duration>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GracePeriod, Error> {
        let invalid = |value: String, reason: String| {
            Error::Supervise(SuperviseError::InvalidGracePeriod { value, reason })
        };
        let (duration, source, value) = match (flag, env(Self::ENV)) {
            (Some(duration), _) => (
                duration,
                GraceSource::Flag,
                format!("--grace-period {}", duration.as_secs_f64()),
            ),
            (None, Some(value)) => {
                let duration = crate::text::seconds(&value)
                    .map_err(|reason| invalid(format!("{}={value}", Self::ENV), reason))?;
                (
                    duration,
                    GraceSource::Environment,
                    format!("{}={value}", Self::ENV),
                )
            }
            (None, None) => return Ok(Self::runtime_default()),
        };
        if duration < Duration::from_secs(1) {
            return Err(invalid(
                value,
                "a grace period under 1s leaves no time to stop".into(),
            ));
        }
        Ok(GracePeriod { duration, source })
    }
}

/// The times of a stop under one grace period (module documentation: the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StopBudget {
    #[serde(flatten)]
    grace: GracePeriod,
    #[serde(rename = "stop_timeout_seconds", serialize_with = "seconds")]
    stop_timeout: Duration,
}

/// The margin the rule keeps before the runtime's SIGKILL, at most.
const MARGIN: Duration = Duration::from_secs(2);

impl StopBudget {
    /// The budget the rule gives `grace`: the stop timeout is the grace period less the
    /// margin (2 s, or half of a shorter grace period).
    pub fn new(grace: GracePeriod) -> StopBudget {
        let margin = MARGIN.min(grace.duration / 2);
        StopBudget {
            grace,
            stop_timeout: grace.duration - margin,
        }
    }

    /// The budget with a shorter stop timeout the operator chose (`--stop-timeout`); one
    /// longer than the rule allows is refused, since the runtime would SIGKILL everything
    /// before safemig's own deadline.
    pub fn with_stop_timeout(self, stop_timeout: Option<Duration>) -> Result<StopBudget, Error> {
        match stop_timeout {
            None => Ok(self),
            Some(chosen) if chosen <= self.stop_timeout => Ok(StopBudget {
                stop_timeout: chosen,
                ..self
            }),
            Some(chosen) => Err(Error::Supervise(SuperviseError::StopTimeoutTooLong {
                stop_timeout: chosen,
                grace: self.grace.duration,
                grace_source: self.grace.source.to_string(),
                longest: self.stop_timeout,
                grace_needed: Self::grace_needed(chosen),
            })),
        }
    }

    /// Refuses a drain delay (`run --drain-delay`) that leaves the app no time of the stop
    /// timeout: the supervisor passes the stop signal on only after it.
    pub fn check_drain_delay(&self, drain_delay: Duration) -> Result<(), Error> {
        if !drain_delay.is_zero() && drain_delay >= self.stop_timeout {
            return Err(Error::Supervise(SuperviseError::DrainDelayTooLong {
                drain_delay,
                stop_timeout: self.stop_timeout,
            }));
        }
        Ok(())
    }

    /// The grace period this budget is made of.
    pub fn grace(&self) -> GracePeriod {
        self.grace
    }

    /// From the stop signal until the supervisor SIGKILLs the app's process group; also
    /// the most a stop during the pre-start migration takes.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// What is left between the stop timeout and the runtime's SIGKILL.
    pub fn margin(&self) -> Duration {
        self.grace.duration - self.stop_timeout
    }

    /// How long a migration statement running when the stop signal comes may go on before
    /// it is cancelled: the stop timeout less the cancel and termination sequence's bound
    /// ([`STOP_MARGIN`]); zero (cancel at once) when the stop timeout is shorter than that.
    pub fn migration_deadline(&self) -> Duration {
        self.stop_timeout.saturating_sub(STOP_MARGIN)
    }

    /// Whether a migration statement that runs this long is cancelled when a stop signal
    /// comes as it starts: it outlasts the migration deadline. (A cancelled statement is
    /// an interruption the next deploy resumes from, never a failed row.)
    pub fn cancels(&self, statement: Duration) -> bool {
        statement > self.migration_deadline()
    }

    /// The stop request a pre-start migration under this budget runs with: the running
    /// statement is cancelled at the migration deadline, and the process is gone at the
    /// stop timeout whatever the database does.
    pub fn interrupt(&self) -> Interrupt {
        Interrupt::bounded(self.migration_deadline(), self.stop_timeout)
    }

    /// The shortest grace period whose budget allows `stop_timeout`.
    pub fn grace_needed(stop_timeout: Duration) -> Duration {
        if stop_timeout >= MARGIN {
            stop_timeout + MARGIN
        } else {
            stop_timeout * 2
        }
    }
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(seconds: f64) -> StopBudget {
        StopBudget::new(GracePeriod {
            duration: Duration::from_secs_f64(seconds),
            source: GraceSource::Flag,
        })
    }

    #[test]
    fn the_rule() {
        let compose = StopBudget::new(GracePeriod::runtime_default());
        assert_eq!(compose.stop_timeout(), Duration::from_secs(8));
        assert_eq!(compose.margin(), Duration::from_secs(2));
        assert_eq!(compose.migration_deadline(), Duration::from_secs(3));
        let kubernetes = budget(30.0);
        assert_eq!(kubernetes.stop_timeout(), Duration::from_secs(28));
        assert_eq!(kubernetes.migration_deadline(), Duration::from_secs(23));
        // A short grace period keeps half of itself as the margin, and cancels at once.
        let short = budget(3.0);
        assert_eq!(short.stop_timeout(), Duration::from_secs_f64(1.5));
        assert_eq!(short.migration_deadline(), Duration::ZERO);
        assert!(short.cancels(Duration::from_millis(1)));
        assert!(!compose.cancels(Duration::from_secs(3)));
        assert!(compose.cancels(Duration::from_secs(4)));
    }

    #[test]
    fn grace_needed_is_the_inverse_of_the_rule() {
        for stop_timeout in [0.5, 1.0, 1.5, 3.0, 3.9, 4.0, 8.0, 25.0, 28.0] {
            let stop_timeout = Duration::from_secs_f64(stop_timeout);
            let needed = StopBudget::grace_needed(stop_timeout);
            let at_least = budget(needed.as_secs_f64());
            assert_eq!(at_least.stop_timeout(), stop_timeout, "{stop_timeout:?}");
            let less = budget(needed.as_secs_f64() - 0.1);
            assert!(less.stop_timeout() < stop_timeout, "{stop_timeout:?}");
        }
    }

    #[test]
    fn a_chosen_stop_timeout_must_fit() {
        let compose = StopBudget::new(GracePeriod::runtime_default());
        let shorter = compose
            .with_stop_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(shorter.stop_timeout(), Duration::from_secs(5));
        assert_eq!(shorter.migration_deadline(), Duration::ZERO);
        let error = compose
            .with_stop_timeout(Some(Duration::from_secs(25)))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the stop timeout (25s) does not fit the grace period (10s, the runtimes' default: none was declared): the runtime would SIGKILL everything before safemig's own deadline; it allows at most 8s"
        );
        assert_eq!(error.exit_code(), crate::ExitCode::Usage);
    }

    #[test]
    fn declared_by_flag_then_environment_then_default() {
        let env = |value: &'static str| {
            move |name: &str| (name == GracePeriod::ENV).then(|| value.to_string())
        };
        let flag = GracePeriod::declared(Some(Duration::from_secs(30)), &env("20")).unwrap();
        assert_eq!(
            (flag.duration.as_secs(), flag.source),
            (30, GraceSource::Flag)
        );
        let from_env = GracePeriod::declared(None, &env("20s")).unwrap();
        assert_eq!(
            (from_env.duration.as_secs(), from_env.source),
            (20, GraceSource::Environment)
        );
        let none = GracePeriod::declared(None, &|_| None).unwrap();
        assert_eq!(none, GracePeriod::runtime_default());
        let error = GracePeriod::declared(None, &env("0.5")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "SAFEMIG_GRACE_PERIOD=0.5 is not valid: a grace period under 1s leaves no time to stop"
        );
    }

    #[test]
    fn serialized_as_seconds_with_the_source() {
        let json = serde_json::to_value(StopBudget::new(GracePeriod::runtime_default())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "grace_seconds": 10.0,
                "grace_source": "runtime_default",
                "stop_timeout_seconds": 8.0,
            })
        );
    }
}
