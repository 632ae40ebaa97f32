//! The entrypoint's (`run`) errors.

use std::time::Duration;

use super::ExitCode;

/// The entrypoint (`run`): the command it starts, the stop deadline, the pre-start check.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("no command to run: put it after `--`, as in `safemig run -- node server.js`")]
    NoCommand,

    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the stop timeout ({}s) does not fit the grace period ({}s, {}): the runtime would SIGKILL everything before safemig's own deadline; it allows at most {}s",
        stop_timeout.as_secs_f32(),
        grace.as_secs_f32(),
        grace_source,
        longest.as_secs_f32()
    )]
    StopTimeoutTooLong {
        stop_timeout: Duration,
        /// The grace period and where it was declared, as messages name it.
        grace: Duration,
        grace_source: String,
        /// The longest stop timeout the grace period allows.
        longest: Duration,
        /// The shortest grace period that allows `stop_timeout`.
        grace_needed: Duration,
    },

    #[error(
        "the drain delay ({}s) leaves the app no time to stop: the stop timeout is {}s, and the app gets the stop signal only after the drain delay",
        drain_delay.as_secs_f32(),
        stop_timeout.as_secs_f32()
    )]
    DrainDelayTooLong {
        drain_delay: Duration,
        stop_timeout: Duration,
    },

    /// `value` as given: `--grace-period 0.5`, `SAFEMIG_GRACE_PERIOD=ten`.
    #[error("{value} is not valid: {reason}")]
    InvalidGracePeriod { value: String, reason: String },

    /// A stop signal came while `run` waited for its database to accept connections.
    #[error(
        "stopped by a signal while waiting {}s for {database} to accept connections: the app was not started and nothing was written",
        waited.as_secs_f32()
    )]
    StoppedWaitingForDatabase { database: String, waited: Duration },

    /// `drill --during-migration` could not drop its scratch database.
    #[error("the drill's scratch database {scratch} could not be dropped: {message}")]
    ScratchLeft { scratch: String, message: String },

    /// `run --migrate=check`: the status verdict, shown by the name `status --json` uses.
    #[error("the database is not up to date: {verdict}")]
    NotUpToDate {
        /// As `status --json` names it (`baseline_needed`).
        verdict: &'static str,
        /// The verdict's own exit code (`status`'s).
        code: ExitCode,
    },

    /// `run`: a pending migration is forecast to outlast what a stop leaves it.
    #[error(
        "the pending migrations are estimated at {total}, over the {budget} a stop leaves a migration under the grace period; the longest is {longest}. The app was not started and nothing was applied"
    )]
    ForecastExceeds {
        /// The estimates and the budget, as people read them; `longest` names the
        /// statement: `statement 2 of NAME (line 2, rewrite: 1.2 s – 4.8 s)`.
        total: String,
        budget: String,
        longest: String,
    },

    /// The supervisor could not listen for the signals it forwards: the process is not
    /// allowed to (or cannot) register handlers. Nothing the operator passed is wrong.
    #[error("cannot install the signal handlers the supervisor needs: {source}")]
    SignalHandlers {
        #[source]
        source: std::io::Error,
    },
}

impl SuperviseError {
    pub fn exit_code(&self) -> ExitCode {
        use SuperviseError::*;
        match self {
            NoCommand
            | StopTimeoutTooLong { .. }
            | DrainDelayTooLong { .. }
            | InvalidGracePeriod { .. } => ExitCode::Usage,
            StoppedWaitingForDatabase { .. } => ExitCode::Interrupted,
            ScratchLeft { .. } => ExitCode::Internal,
            Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ExitCode::CommandNotFound
            }
            Spawn { .. } => ExitCode::CommandNotExecutable,
            NotUpToDate { code, .. } => *code,
            ForecastExceeds { .. } => ExitCode::ForecastExceeds,
            SignalHandlers { .. } => ExitCode::Internal,
        }
    }
}
