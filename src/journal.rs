//! The statement journal of a migration in flight, kept in its `_prisma_migrations` row.
//!
//! While safemig applies a migration statement by statement, the row's `applied_steps_count`
//! holds how many statements are done and `logs` holds this journal: which statements the
//! file had (their hashes), which one may be running, and the last error. Prisma never reads
//! `logs` back, and a finished row gets `logs = NULL` exactly as Prisma leaves it, so nothing
//! of the journal outlives the migration (ARCHITECTURE.md, "The crash-safety model"). No extra table is needed, so
//! `prisma migrate dev` sees no drift.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sql::{Dialect, Statement, Target, normalize};

/// The first line of a journal in `logs` starts with this and the format's version; what
/// follows it is JSON.
const MARKER: &str = "safemig journal";

/// Deploys in a row that may resume at the same statement without getting past it or
/// recording why, before the journal (and `status`) calls the migration stuck.
pub const STUCK_AFTER: u32 = 3;

/// The format written. Version 1 listed every statement's hash, which made the journal grow
/// with the script: past about 3,400 statements it no longer fit MySQL's `TEXT` column, and
/// every statement's journal write carried the whole list (quadratic in the statements).
/// Version 2 keeps two digests instead; version 1 journals are still read.
const VERSION: u32 = 2;

/// Progress of one migration. Serialized into `logs` by [`Journal::to_logs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// Hash of each statement's normalized text, in order, when known: always for a journal
    /// this process wrote or checked against the file; a journal read back from version 2
    /// has only the digests below.
    #[serde(skip)]
    pub statements: Vec<String>,
    /// How many statements the file had.
    pub count: usize,
    /// Digest of all the statement hashes: a file whose statements still hash the same can
    /// be resumed even if comments or line endings changed.
    pub all: String,
    /// Digest of the hashes of the statements done: those must not change.
    pub prefix: String,
    /// Statements completed; the next one to run is statement `done`.
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

/// The first journal format: the statement hashes in full.
#[derive(Deserialize)]
struct JournalV1 {
    statements: Vec<String>,
    done: usize,
    in_flight: Option<InFlight>,
    error: Option<String>,
    #[serde(default)]
    failed_at: Option<usize>,
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

/// A digest of statement hashes, in order.
pub fn digest(hashes: &[String]) -> String {
    let mut sha = Sha256::new();
    for hash in hashes {
        sha.update(hash.as_bytes());
        sha.update(b"\n");
    }
    sha.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal {
    pub fn new(statements: Vec<String>) -> Self {
        Journal {
            version: VERSION,
            count: statements.len(),
            all: digest(&statements),
            prefix: digest(&[]),
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

    /// Whether the file's statements (`hashes`) are those of the journal, all of them.
    pub fn matches_all(&self, hashes: &[String]) -> bool {
        hashes.len() == self.count && digest(hashes) == self.all
    }

    /// Whether the file's first statements, the ones done, are those of the journal.
    pub fn matches_done(&self, hashes: &[String]) -> bool {
        hashes.len() >= self.done && digest(&hashes[..self.done]) == self.prefix
    }

    /// Whether the file's statements differ from the journal's anywhere: for a clean
    /// failure, the failed statement (or what follows it) was edited.
    pub fn changed_since_failure(&self, hashes: &[String]) -> bool {
        self.retry_from.is_some() && !self.matches_all(hashes)
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

    /// The journal read back, given the statements it was checked against.
    pub fn with_statements(&self, statements: Vec<String>) -> Self {
        Journal {
            statements,
            ..self.clone()
        }
    }

    /// The journal in a row's `logs`, if safemig wrote one (either format).
    pub fn from_logs(logs: &str) -> Option<Self> {
        let (first, json) = logs.split_once('\n')?;
        let version: u32 = first
            .strip_prefix(MARKER)?
            .strip_prefix(" v")?
            .split(':')
            .next()?
            .parse()
            .ok()?;
        let json = json.lines().next()?;
        match version {
            1 => {
                let v1 = serde_json::from_str::<JournalV1>(json).ok()?;
                let mut journal = Journal::new(v1.statements);
                journal.prefix = digest(&journal.statements[..v1.done.min(journal.count)]);
                Some(Journal {
                    done: v1.done,
                    in_flight: v1.in_flight,
                    error: v1.error,
                    failed_at: v1.failed_at,
                    ..journal
                })
            }
            VERSION => serde_json::from_str::<Journal>(json)
                .ok()
                .filter(|j| j.version == VERSION),
            _ => None,
        }
    }

    /// The `logs` text: a line a human can read (Prisma shows `logs` of failed migrations),
    /// then the JSON. Its size does not grow with the script.
    pub fn to_logs(&self) -> String {
        let mut journal = self.clone();
        if journal.statements.len() == journal.count && journal.done <= journal.count {
            journal.prefix = digest(&journal.statements[..journal.done]);
        }
        let total = self.count;
        let summary = match &self.error {
            Some(error) if let Some(from) = self.retry_from => format!(
                "failed at statement {} of {total}: {error}; it applied nothing: fix it and `safemig deploy` retries from statement {}",
                self.failed_at.unwrap_or(self.done) + 1,
                from + 1
            ),
            Some(error) => format!(
                "failed at statement {} of {total}: {error}",
                self.failed_at.unwrap_or(self.done) + 1
            ),
            None => format!(
                "interrupted after {} of {total} statements; `safemig deploy` resumes it",
                self.done
            ),
        };
        let json = serde_json::to_string(&journal).expect("journals serialize");
        format!("{MARKER} v{VERSION}: {summary}\n{json}\n")
    }

    /// Whether deploys resumed it at the same statement often enough, without getting
    /// past it or recording why, to call it stuck.
    pub fn stuck(&self) -> bool {
        self.attempts
            .is_some_and(|a| a.statement == self.done && a.count >= STUCK_AFTER)
    }

    pub fn total(&self) -> usize {
        self.count
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
        assert!(logs.starts_with("safemig journal v2: interrupted after 1 of 3 statements"));
        let read = Journal::from_logs(&logs).unwrap();
        assert!(read.matches_all(&journal.statements) && read.matches_done(&journal.statements));
        assert_eq!(
            read.with_statements(journal.statements.clone()),
            journal_with_prefix(&journal)
        );
        assert_eq!(Journal::from_logs("Database error code: 1064\n..."), None);
    }

    fn journal_with_prefix(journal: &Journal) -> Journal {
        Journal {
            prefix: digest(&journal.statements[..journal.done]),
            ..journal.clone()
        }
    }

    /// The journal's size does not grow with the script: 100,000 statements fit MySQL's
    /// 64 KB `TEXT` column with room to spare.
    #[test]
    fn size_is_independent_of_the_statements() {
        let hashes: Vec<String> = (0..100_000).map(|i| format!("{i:016x}")).collect();
        let mut journal = Journal::new(hashes.clone());
        journal.done = 99_999;
        let logs = journal.to_logs();
        assert!(logs.len() < 1_000, "{} bytes", logs.len());
        let read = Journal::from_logs(&logs).unwrap();
        assert!(read.matches_all(&hashes) && read.matches_done(&hashes));
        let mut edited = hashes.clone();
        edited[5] = "edited".into();
        assert!(!read.matches_done(&edited) && !read.matches_all(&edited));
        let mut later = hashes;
        later[99_999] = "edited".into();
        assert!(read.matches_done(&later) && !read.matches_all(&later));
    }

    /// Journals written by earlier versions (the full hash list) are still read.
    #[test]
    fn version_1_journals_are_read() {
        let logs = "safemig journal v1: interrupted after 1 of 2 statements; `safemig deploy` resumes it\n\
                    {\"version\":1,\"statements\":[\"aa\",\"bb\"],\"done\":1,\"in_flight\":null,\"error\":null}\n";
        let read = Journal::from_logs(logs).unwrap();
        assert_eq!((read.done, read.total()), (1, 2));
        let hashes = vec!["aa".to_string(), "bb".to_string()];
        assert!(read.matches_all(&hashes) && read.matches_done(&hashes));
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
