//! The statement journal of a migration in flight, kept in its `_prisma_migrations` row.
//!
//! While safemig applies a migration statement by statement, the row's `applied_steps_count`
//! holds how many statements are done and `logs` holds this journal: which statements the
//! file had (their hashes), which one may be running, and the last error. Prisma never reads
//! `logs` back, and a finished row gets `logs = NULL` exactly as Prisma leaves it, so nothing
//! of the journal outlives the migration (DESIGN.md §3). No extra table is needed, so
//! `prisma migrate dev` sees no drift.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sql::{Dialect, Statement, Target, normalize};

/// The first line of a journal in `logs`; what follows it is JSON.
const MARKER: &str = "safemig journal v1";

/// Progress of one migration. Serialized into `logs` by [`Journal::to_logs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// Hash of each statement's normalized text, in order: a file whose statements still
    /// hash the same can be resumed even if comments or line endings changed.
    pub statements: Vec<String>,
    /// Statements completed; the next one to run is `statements[done]`.
    pub done: usize,
    /// A statement that cannot be atomic with the journal, recorded just before it runs.
    pub in_flight: Option<InFlight>,
    /// The error of a statement that really failed, on one line. A journal without one
    /// was interrupted.
    pub error: Option<String>,
    /// The statement that failed.
    #[serde(default)]
    pub failed_at: Option<usize>,
    /// Set when the failure applied nothing of the failed statement (it was rolled back,
    /// refused before it was sent, or the schema shows it changed nothing): everything
    /// before this statement is applied and nothing from it on, so deploy can retry from
    /// here once the file or the cause is fixed.
    #[serde(default)]
    pub retry_from: Option<usize>,
    /// The failed statement was refused before it was sent (too large for the server):
    /// once the server accepts it, deploy retries it even if the file is unchanged.
    #[serde(default)]
    pub refused: bool,
    /// Deploys that resumed at the same statement without getting past it or recording
    /// why (the connection was lost each time): such a state may fail the same way on
    /// every resume.
    #[serde(default)]
    pub attempts: Option<Attempts>,
    /// When the journal was last written: a later row of another migration means the
    /// history was restored or edited around it.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    pub statement: usize,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub statement: usize,
    pub target: Target,
    /// The target's state before the statement ran.
    pub before: String,
}

/// A statement's identity: SHA-256 of its normalized text, 16 hex digits.
pub fn statement_hash(stmt: &Statement<'_>, dialect: Dialect) -> String {
    Sha256::digest(normalize(stmt.sql, dialect).as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal {
    pub fn new(statements: Vec<String>) -> Self {
        Journal {
            version: 1,
            statements,
            done: 0,
            in_flight: None,
            error: None,
            failed_at: None,
            retry_from: None,
            refused: false,
            attempts: None,
            updated_at: None,
        }
    }

    /// Whether the file's statements (`hashes`) differ from the journal's from the retry
    /// point on: the failed statement, or what follows it, was edited.
    pub fn changed_since_failure(&self, hashes: &[String]) -> bool {
        self.retry_from
            .is_some_and(|from| hashes.get(from..) != self.statements.get(from..))
    }

    /// A journal whose failure applied nothing of the failed statement, made ready to run
    /// again from that statement with the file's current statements.
    pub fn retried(&self, statements: Vec<String>) -> Option<Self> {
        let from = self.retry_from?;
        Some(Journal {
            done: from,
            ..Journal::new(statements)
        })
    }

    /// The statements that must be unchanged in the file for the journal to continue:
    /// those before the retry point of a clean failure, else all of them.
    pub fn fixed_prefix(&self) -> usize {
        self.retry_from.unwrap_or(self.statements.len())
    }

    /// The journal in a row's `logs`, if safemig wrote one.
    pub fn from_logs(logs: &str) -> Option<Self> {
        let json = logs.strip_prefix(MARKER)?.split_once('\n')?.1;
        serde_json::from_str::<Journal>(json.lines().next()?)
            .ok()
            .filter(|j| j.version == 1)
    }

    /// The `logs` text: a line a human can read (Prisma shows `logs` of failed migrations),
    /// then the JSON.
    pub fn to_logs(&self) -> String {
        let summary = match &self.error {
            Some(error) if let Some(from) = self.retry_from => format!(
                "failed at statement {} of {}: {error}; it applied nothing: fix it and `safemig deploy` retries from statement {}",
                self.failed_at.unwrap_or(self.done) + 1,
                self.statements.len(),
                from + 1
            ),
            Some(error) => format!(
                "failed at statement {} of {}: {error}",
                self.failed_at.unwrap_or(self.done) + 1,
                self.statements.len()
            ),
            None => format!(
                "interrupted after {} of {} statements; `safemig deploy` resumes it",
                self.done,
                self.statements.len()
            ),
        };
        let json = serde_json::to_string(self).expect("journals serialize");
        format!("{MARKER}: {summary}\n{json}\n")
    }

    /// Whether deploys resumed it at the same statement often enough, without getting
    /// past it or recording why, to call it stuck.
    pub fn stuck(&self) -> bool {
        self.attempts.is_some_and(|a| {
            a.statement == self.done && a.count >= crate::deploy::resume::STUCK_AFTER
        })
    }

    pub fn total(&self) -> usize {
        self.statements.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    #[test]
    fn round_trip_through_logs() {
        let mut journal = Journal::new(vec!["aa".into(), "bb".into(), "cc".into()]);
        journal.done = 1;
        journal.in_flight = Some(InFlight {
            statement: 1,
            target: Target::Tables(vec!["users".into()]),
            before: "absent".into(),
        });
        let logs = journal.to_logs();
        assert!(logs.starts_with("safemig journal v1: interrupted after 1 of 3 statements"));
        assert_eq!(Journal::from_logs(&logs), Some(journal));
        assert_eq!(Journal::from_logs("Database error code: 1064\n..."), None);
    }

    #[test]
    fn statement_hashes_ignore_formatting() {
        let a = &split("CREATE TABLE a (x int) -- c", Dialect::Postgres)[0];
        let b = &split("CREATE  TABLE a\r\n(x int)", Dialect::Postgres)[0];
        let c = &split("CREATE TABLE a (x bigint)", Dialect::Postgres)[0];
        assert_eq!(
            statement_hash(a, Dialect::Postgres),
            statement_hash(b, Dialect::Postgres)
        );
        assert_ne!(
            statement_hash(a, Dialect::Postgres),
            statement_hash(c, Dialect::Postgres)
        );
    }
}
