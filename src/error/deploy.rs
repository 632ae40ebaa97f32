//! `deploy`'s errors, and the failed migrations they describe.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::ExitCode;

/// How much of a failed migration is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing: the attempt is recorded rolled back and blocks nothing.
    Nothing,
    /// Exactly the statements before this one (0-based); deploy retries from it.
    Before(usize),
    /// Part of it, and safemig cannot tell which (P3009 until a person decides).
    Unknown,
}

/// A failed row as the operator needs to see it.
#[derive(Debug, Clone)]
pub struct FailedMigration {
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub logs: Option<String>,
}

/// What the history and the migrations allow `deploy` to do, and how a migration failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(
        "{target} is not empty ({}) but has no _prisma_migrations table, so safemig cannot tell which migrations it already contains",
        preview(objects)
    )]
    NotEmpty {
        target: String,
        objects: Vec<String>,
    },

    #[error(
        "the migration history of {target} holds {} failed migration{}: {}; no new migration can be applied until {} resolved",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        failed.iter().map(describe_failed).collect::<Vec<_>>().join("; "),
        if failed.len() == 1 { "it is" } else { "they are" }
    )]
    FailedMigrations {
        target: String,
        failed: Vec<FailedMigration>,
    },

    #[error(
        "migration `{}` failed{}: {message}",
        crate::text::escaped(name),
        match applied {
            Applied::Nothing => " and was rolled back, nothing of it was applied",
            Applied::Before(_) => ", and the failed statement applied nothing",
            Applied::Unknown => "",
        }
    )]
    MigrationFailed {
        name: String,
        script: PathBuf,
        message: String,
        applied: Applied,
    },

    #[error(
        "{target} is migrated by Prisma 8 (Prisma Next) now: it carries {marker}, and Prisma 8 no longer uses _prisma_migrations"
    )]
    PrismaNext { target: String, marker: String },

    #[error("stopped by a signal: {detail}")]
    Interrupted { detail: String },

    #[error(
        "migration `{}` could not get the lock it needs: {} waited {}s for it {} over {}s, and gave up{}; {}",
        crate::text::escaped(name),
        statement.as_deref().unwrap_or("the migration's transaction"),
        lock_wait.as_secs_f64(),
        crate::text::count(*attempts as usize, "time"),
        spent.as_secs(),
        waiting_for.as_deref().map(|w| format!(" (last {w})")).unwrap_or_default(),
        match applied_before {
            0 => "nothing of it was applied".to_string(),
            n => format!("the {} before it are applied, and the next deploy continues from it", crate::text::count(*n, "statement")),
        }
    )]
    TableLocked {
        name: String,
        /// The statement of a journaled migration, with its line and an excerpt.
        statement: Option<String>,
        attempts: u32,
        /// Each attempt's lock wait.
        lock_wait: std::time::Duration,
        /// From the first attempt to the last one's end.
        spent: std::time::Duration,
        /// What the last attempt waited for (the table, its holder), if the server said.
        waiting_for: Option<String>,
        /// Statements of a journaled migration applied before this one.
        applied_before: usize,
    },

    #[error(
        "migration `{}` was interrupted and cannot be resumed: {reason}",
        crate::text::escaped(name)
    )]
    CannotResume {
        name: String,
        reason: String,
        /// What to look at in the database to decide by hand.
        inspect: String,
    },

    /// The live schema contradicts the journal of an interrupted migration: a table a
    /// completed statement made is gone, the statement in flight left its target in a
    /// state it cannot produce, or the statements still to run find their effect there (a
    /// restored `mariadb-dump --single-transaction`, whose tables are newer than its
    /// history rows). Repair's classification of the whole schema decides.
    #[error(
        "migration `{}` was interrupted, but the schema is not where its journal says: {evidence}",
        crate::text::escaped(name)
    )]
    SchemaContradictsJournal { name: String, evidence: String },
}

impl DeployError {
    pub fn exit_code(&self) -> ExitCode {
        use DeployError::*;
        match self {
            NotEmpty { .. } => ExitCode::BaselineNeeded,
            FailedMigrations { .. } | CannotResume { .. } | SchemaContradictsJournal { .. } => {
                ExitCode::FailedInHistory
            }
            MigrationFailed { .. } => ExitCode::MigrationFailed,
            PrismaNext { .. } => ExitCode::Usage,
            Interrupted { .. } => ExitCode::Interrupted,
            TableLocked { .. } => ExitCode::TableLocked,
        }
    }

    pub fn prisma_code(&self) -> Option<&'static str> {
        use DeployError::*;
        match self {
            NotEmpty { .. } => Some("P3005"),
            FailedMigrations { .. } => Some("P3009"),
            MigrationFailed { .. } => Some("P3018"),
            PrismaNext { .. }
            | Interrupted { .. }
            | CannotResume { .. }
            | SchemaContradictsJournal { .. }
            | TableLocked { .. } => None,
        }
    }
}

fn preview(objects: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = objects
        .iter()
        .take(SHOWN)
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > SHOWN {
        text.push_str(&format!(" and {} more", objects.len() - SHOWN));
    }
    text
}

fn describe_failed(f: &FailedMigration) -> String {
    let first_line = f
        .logs
        .as_deref()
        .and_then(crate::history::log_summary)
        .map(|l| format!(", {l}"))
        .unwrap_or_default();
    format!(
        "`{}` (started {}{first_line})",
        f.name,
        f.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}
