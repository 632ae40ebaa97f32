//! The `_prisma_migrations` table: its rows and the lifecycle Prisma gives them.
//!
//! A row is written when a migration starts, and finished, failed or rolled back later.
//! Every state transition safemig makes is one of the constructors or predicates here, so
//! the rows stay exactly what Prisma writes and reads (ARCHITECTURE.md, "The Prisma contract").

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

/// The history table's name, unqualified as Prisma creates it.
pub const TABLE: &str = "_prisma_migrations";

/// One row of `_prisma_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub id: String,
    pub checksum: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub migration_name: String,
    pub logs: Option<String>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub applied_steps_count: u32,
}

impl HistoryRow {
    /// The row Prisma inserts when it starts applying a migration.
    pub fn started(name: &str, checksum: &str) -> Self {
        HistoryRow {
            id: uuid::Uuid::new_v4().to_string(),
            checksum: checksum.to_string(),
            finished_at: None,
            migration_name: name.to_string(),
            logs: None,
            rolled_back_at: None,
            started_at: now(),
            applied_steps_count: 0,
        }
    }

    /// The row `migrate resolve --applied` inserts: finished the moment it starts, with
    /// empty logs and no steps.
    pub fn resolved_applied(name: &str, checksum: &str) -> Self {
        let at = now();
        HistoryRow {
            finished_at: Some(at),
            logs: Some(String::new()),
            started_at: at,
            ..HistoryRow::started(name, checksum)
        }
    }

    /// Failed: never finished and not rolled back. Prisma refuses to deploy past one (P3009).
    pub fn is_failed(&self) -> bool {
        self.finished_at.is_none() && self.rolled_back_at.is_none()
    }

    /// Finished and not rolled back.
    pub fn is_applied(&self) -> bool {
        self.finished_at.is_some() && self.rolled_back_at.is_none()
    }

    /// Rows that count for deploy: a migration with such a row is not applied again.
    pub fn is_live(&self) -> bool {
        self.rolled_back_at.is_none()
    }
}

/// The current time at the precision every engine stores (milliseconds), so a row read
/// back equals the row written.
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .expect("millisecond truncation of the current time cannot overflow")
}

/// The line of a failed row's `logs` that says what went wrong: the database's message in
/// logs written by Prisma or safemig, else the first non-empty line.
pub fn log_summary(logs: &str) -> Option<&str> {
    let mut lines = logs.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().next();
    lines
        .by_ref()
        .find(|l| *l == "Database error:")
        .and_then(|_| lines.next())
        .or(first)
}

/// The text Prisma-style `logs` hold for a failed migration.
pub fn failure_log(message: &str, code: Option<&str>) -> String {
    match code {
        Some(code) => format!("Database error code: {code}\n\nDatabase error:\n{message}\n"),
        None => format!("Database error:\n{message}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_summary_finds_the_database_message() {
        let logs = failure_log("relation \"x\" does not exist", Some("42P01"));
        assert_eq!(log_summary(&logs), Some("relation \"x\" does not exist"));
        assert_eq!(
            log_summary("\n  something broke\nmore"),
            Some("something broke")
        );
        assert_eq!(log_summary(""), None);
    }
}
