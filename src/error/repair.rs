//! Repair's errors: classifying and repairing a failed migration.

use std::path::PathBuf;

use super::{Error, ExitCode};

/// Classifying and repairing a failed migration.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(
        "failed migration `{}` is not in the migrations folder {}: repair needs its file to know what it does",
        crate::text::escaped(name),
        crate::text::path(dir)
    )]
    NotInFolder { name: String, dir: PathBuf },

    #[error(
        "`{}` is recorded applied, but so {} after it ({}): repair compares the schema with the migration's own states, which only the last applied migration can be",
        crate::text::escaped(name),
        if later.len() == 1 { "is 1 migration" } else { "are migrations" },
        later.iter().map(|n| format!("`{}`", crate::text::escaped(n))).collect::<Vec<_>>().join(", ")
    )]
    LaterApplied { name: String, later: Vec<String> },

    /// A deploy failed on a statement whose effect the database already shows: the
    /// history says less ran than did.
    #[error(
        "{failure}, because the database already holds more of `{}` than its history says: {}",
        crate::text::escaped(name),
        evidence
    )]
    AheadOfHistory {
        name: String,
        /// The deploy's own failure.
        failure: String,
        /// What repair's classification found, as a phrase.
        evidence: String,
    },

    #[error(
        "the history has {} failed migrations ({}); name the one to repair",
        names.len(),
        names.iter().map(|n| format!("`{}`", crate::text::escaped(n))).collect::<Vec<_>>().join(", ")
    )]
    SeveralFailed { names: Vec<String> },

    #[error(
        "statement {statement} (line {line}) of the failed migration fails in the scratch database, so its states cannot be built: {message}"
    )]
    StatementFailsOnScratch {
        statement: usize,
        line: usize,
        message: String,
    },

    #[error("replaying the migrations before the failed one into {scratch} failed: {source}")]
    Replay {
        scratch: String,
        #[source]
        source: Box<Error>,
    },

    #[error("the scratch database {scratch} could not be dropped: {message}")]
    ScratchLeft { scratch: String, message: String },

    #[error(
        "`{}` is partly applied: finishing it runs statements {from}..{to} on the database and undoing it runs the inverse of statements 1..{}, which `--apply` does only with `--finish` or `--roll-back`",
        crate::text::escaped(name),
        from - 1
    )]
    FinishNeeded {
        name: String,
        from: usize,
        to: usize,
        /// `--assume-applied`, which the commands that follow must repeat.
        assumed: Option<usize>,
    },

    #[error(
        "`--assume-applied` says {assumed} statement{} of `{}` ran, but the live schema {evidence}; nothing was written",
        if *assumed == 1 { "" } else { "s" },
        crate::text::escaped(name)
    )]
    AssumptionContradicted {
        name: String,
        assumed: usize,
        /// What the schema shows instead, as a phrase.
        evidence: String,
    },

    #[error(
        "`--assume-applied` takes the statements that ran, from the first on: `1,2,3`, `1-3` or `none` (got `{}`): {reason}",
        crate::text::escaped(given)
    )]
    AssumptionMalformed { given: String, reason: String },

    #[error(
        "rolling back `{}` is not written for these objects, so nothing was changed: {}",
        crate::text::escaped(name),
        objects.join("; ")
    )]
    RollBackNotExpressible { name: String, objects: Vec<String> },

    #[error(
        "rolling back `{}` would delete data ({}); nothing was changed",
        crate::text::escaped(name),
        objects.join(", ")
    )]
    RollBackLosesData { name: String, objects: Vec<String> },

    #[error(
        "rolling back `{}` did not bring the schema back to the state before the migration ({}); the row is left failed",
        crate::text::escaped(name),
        differences.join("; ")
    )]
    RollBackIncomplete {
        name: String,
        differences: Vec<String>,
    },

    #[error(
        "the inverse statement `{}` of `{}` failed: {message}; {}",
        crate::text::escaped(statement),
        crate::text::escaped(name),
        if *undone { "nothing of the roll-back was kept" } else { "the statements before it ran (this engine has no transactional DDL)" }
    )]
    RollBackFailed {
        name: String,
        statement: String,
        message: String,
        undone: bool,
    },

    /// A roll-back statement kept giving up waiting for a table lock another session
    /// holds, until the bound on retries ran out.
    #[error(
        "rolling back `{}`: `{}` gave up waiting for a table lock {attempts} times ({:.0?} each, over {:.0?}); {}",
        crate::text::escaped(name),
        crate::text::escaped(statement),
        lock_wait,
        spent,
        if *undone { "nothing of the roll-back was kept" } else { "the statements before it ran (this engine has no transactional DDL)" }
    )]
    RollBackTableLocked {
        name: String,
        statement: String,
        attempts: u32,
        lock_wait: std::time::Duration,
        spent: std::time::Duration,
        undone: bool,
    },

    #[error(
        "dropping the invalid index `{}` (left by `{}`) failed: {message}; nothing else was written",
        crate::text::escaped(index),
        crate::text::escaped(name)
    )]
    InvalidIndexNotDropped {
        name: String,
        index: String,
        message: String,
    },

    /// `run --on-failed=repair` met a verdict it does not act on alone.
    #[error(
        "failed migration `{}`: the verdict is `{verdict}`, which `--on-failed=repair` does not act on without a person",
        crate::text::escaped(name)
    )]
    NotHealable { name: String, verdict: String },

    #[error(
        "the history of `{}` changed while repair looked at it; nothing was written",
        crate::text::escaped(name)
    )]
    RowChanged { name: String },
}

impl RepairError {
    pub fn exit_code(&self) -> ExitCode {
        use RepairError::*;
        match self {
            NotInFolder { .. }
            | SeveralFailed { .. }
            | FinishNeeded { .. }
            | AssumptionMalformed { .. } => ExitCode::Usage,
            LaterApplied { .. } => ExitCode::Drift,
            AheadOfHistory { .. } => ExitCode::FailedInHistory,
            RowChanged { .. }
            | AssumptionContradicted { .. }
            | RollBackNotExpressible { .. }
            | RollBackLosesData { .. } => ExitCode::ResolveRefused,
            RollBackIncomplete { .. }
            | RollBackFailed { .. }
            | InvalidIndexNotDropped { .. }
            | NotHealable { .. } => ExitCode::FailedInHistory,
            RollBackTableLocked { .. } => ExitCode::TableLocked,
            StatementFailsOnScratch { .. } => ExitCode::MigrationFailed,
            // The folder's own failure decides (a failing migration, a stop).
            Replay { source, .. } => source.exit_code(),
            ScratchLeft { .. } => ExitCode::Internal,
        }
    }
}
