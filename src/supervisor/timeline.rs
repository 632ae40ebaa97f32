//! What the supervisor did and when: the log an operator reads after a slow or killed stop.

use serde::Serialize;

/// One step of the supervisor's life. Serialized as `{"event": "<name>", …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The stop budget in force, first: the grace period it assumes or was told, and what
    /// a stop signal gets.
    StopBudget {
        #[serde(flatten)]
        budget: super::StopBudget,
        /// With a pre-start migration: when a statement running at the stop is cancelled.
        migration_deadline_seconds: Option<f64>,
    },
    /// The database did not accept a connection; another attempt follows unless
    /// `retry_in_seconds` is `None`.
    DatabaseUnavailable {
        database: String,
        attempt: u32,
        error: String,
        retry_in_seconds: Option<f64>,
        waited_seconds: f64,
    },
    /// The database answered after failed attempts.
    DatabaseAvailable {
        database: String,
        attempts: u32,
        waited_seconds: f64,
    },
    /// The pre-start step starts.
    Migrating {
        action: MigrationStep,
        database: String,
    },
    /// Pre-start migrations applied or checked.
    MigrationsVerified {
        detail: String,
    },
    /// A failed migration healed by `--on-failed=repair` before the deploy went on.
    MigrationRepaired {
        migration: String,
        /// What repair found and did, as written into the row's `logs`.
        decision: String,
    },
    /// Pre-start migrations not verified, and the app started anyway (`--on-failed=warn`).
    MigrationsNotVerified {
        error: String,
    },
    Started {
        pid: i32,
        command: String,
    },
    SignalReceived {
        signal: String,
    },
    /// The stop signal is held back for the drain delay.
    Draining {
        seconds: f64,
    },
    Forwarded {
        signal: String,
        to: String,
    },
    /// The shutdown is under way; sent every few seconds.
    Waiting {
        main_child_running: bool,
        elapsed_seconds: f64,
        seconds_left: f64,
    },
    ChildExited {
        /// The code the supervisor exits with: the child's, or 128+n for signal n.
        code: i32,
        signal: Option<String>,
        ran_seconds: f64,
        after_stop_seconds: Option<f64>,
    },
    /// The deadline passed: SIGKILL to the child's process group.
    Escalated {
        process_group: i32,
        after_seconds: f64,
    },
    /// A re-parented orphan was reaped.
    OrphanReaped {
        pid: i32,
    },
    Exiting {
        code: i32,
        after_seconds: f64,
    },
}

/// What `run` does with the migrations before the app starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStep {
    /// Applies the pending ones (`--migrate=deploy`).
    Deploy,
    /// Checks the database is up to date (`--migrate=check`).
    Check,
}

/// Receives the supervisor's events as they happen.
pub trait Timeline {
    fn event(&mut self, event: Event);
}

impl<F: FnMut(Event)> Timeline for F {
    fn event(&mut self, event: Event) {
        self(event)
    }
}
