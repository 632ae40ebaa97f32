//! `safemig drift`: two schemas and their histories compared object by object. Either side
//! is a live database, the migrations folder (replayed into a scratch database, see
//! [`replay`]) or a saved [`Snapshot`]; the report names each object and attribute that
//! differs, says which case holds (same schema and history, same schema but another
//! history, another schema), and never writes to a database it compares.

pub(crate) mod converge;
pub mod history;
mod order;
pub(crate) mod replay;
mod snapshot;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::cache::Cache;
use crate::database_url::DatabaseUrl;
use crate::engine::{self, Access, Engine};
use crate::error::{DriftError, ExitCode};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;
use crate::schema::{Detail, Difference, ObjectKey, Schema, diff};
use crate::sql::without_comments;

pub use converge::{Script, Step, render as render_script};
pub use history::HistoryDifference;
pub use snapshot::Snapshot;

/// The report format of `drift --json`; a change that older readers could misread
/// raises it.
pub const REPORT_FORMAT: u32 = 1;

/// One side of a comparison.
#[derive(Debug, Clone)]
pub enum Source {
    /// A live database, read only.
    Database(DatabaseUrl),
    /// The migrations folder, replayed into a scratch database.
    Folder,
    /// A file written by `safemig snapshot`.
    Snapshot(PathBuf),
}

/// What to compare, and how.
pub struct Request<'a> {
    pub left: Source,
    pub right: Source,
    /// The migrations folder: replayed for [`Source::Folder`], and searched for the
    /// migration that last touched each differing object.
    pub folder: Option<&'a MigrationsDir>,
    /// The server the scratch database is made on; by default the one of a
    /// [`Source::Database`] side.
    pub shadow: Option<DatabaseUrl>,
    /// Where replayed schemas are cached; `None`: always replay, and keep nothing.
    pub cache: Option<Cache>,
    /// How long to wait for a SQLite file another process holds.
    pub wait: Duration,
    /// Whether to write the DDL that would converge the left side ([`Report::converge`]).
    pub converge: bool,
    /// The opt-in attributes to compare as well.
    pub detail: Detail,
    pub interrupt: Interrupt,
}

/// Which case holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Same schema and the same history, or no history on either side.
    Same,
    SameSchemaDifferentHistory,
    DifferentSchema,
}

impl Verdict {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Verdict::Same => ExitCode::Success,
            Verdict::SameSchemaDifferentHistory | Verdict::DifferentSchema => ExitCode::Drift,
        }
    }
}

/// How a side is named in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    /// `database`, `folder` or `snapshot`.
    pub kind: &'static str,
    /// What it is, without credentials.
    pub description: String,
    /// How many objects it has.
    pub objects: usize,
    /// For the folder: whether its schema came from drift's cache rather than a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
}

/// One schema difference, with the migration that last mentions its object when the
/// folder tells.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub difference: Difference,
    pub last_migration: Option<String>,
}

/// What `drift` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub verdict: Verdict,
    pub left: SideSummary,
    pub right: SideSummary,
    pub differences: Vec<Finding>,
    /// `None` when neither side has a history (databases without `_prisma_migrations`,
    /// snapshots taken of them); a side without one against a side with one has applied
    /// none of its migrations.
    pub history: Option<Vec<HistoryDifference>>,
    /// How many objects were compared (those on either side).
    pub compared: usize,
    /// The objects compared by their whole definition text, not attribute by attribute.
    pub compared_by_text: Vec<ObjectKey>,
    /// Migrations of the folder the database's history has not applied: pending work,
    /// left out of the comparison with the folder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
    /// `drift --sql`: the statements that would bring the left side to the right side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converge: Option<Script>,
}

/// Compares the two sides of `request`.
///
/// A database is compared with the part of the folder its history has applied: migrations
/// merged but not deployed yet are pending work (`Report::pending`), not drift. For the
/// same reason the history's order and checksums are not compared with the folder's: a
/// branch merge applies a migration after later-named ones, and an edited file is
/// `status`'s to report; deploy goes on past both, as Prisma does.
pub async fn compare(request: &Request<'_>) -> Result<Report, Error> {
    let (left, left_summary) = read_side(request, &request.left, request.folder).await?;
    let (folder, pending) = match (request.folder, &left.history) {
        (Some(dir), Some(history)) if matches!(request.right, Source::Folder) => {
            let (applied, pending) = applied_part(dir, history);
            (Some(applied), pending)
        }
        (dir, _) => (dir.cloned(), Vec::new()),
    };
    let (right, right_summary) = read_side(request, &request.right, folder.as_ref()).await?;
    if left.provider != right.provider {
        return Err(Error::Drift(DriftError::ProviderMismatch {
            left: left.provider,
            right: right.provider,
        }));
    }
    let schema_differences = diff(&left.schema, &right.schema);
    let converge = if request.converge {
        Some(script(request, &left, &right, &schema_differences).await?)
    } else {
        None
    };
    let differences = findings(schema_differences, request.folder, left.provider.dialect());
    let history = match (&left.history, &right.history) {
        (Some(l), Some(r)) => Some::<Vec<HistoryDifference>>(
            history::compare(l, r)
                .into_iter()
                .filter(|d| {
                    !matches!(request.right, Source::Folder)
                        || !matches!(
                            d,
                            HistoryDifference::Order { .. } | HistoryDifference::Checksum { .. }
                        )
                })
                .collect(),
        ),
        // A side without `_prisma_migrations` has applied nothing as far as Prisma can
        // tell (`status`: every migration pending): its history differs from one that has
        // applied migrations, however equal the schemas.
        (None, Some(r)) => Some(history::compare(&[], r)),
        (Some(l), None) => Some(history::compare(l, &[])),
        (None, None) => None,
    };
    let verdict = if !differences.is_empty() {
        Verdict::DifferentSchema
    } else if history.as_ref().is_some_and(|h| !h.is_empty()) {
        Verdict::SameSchemaDifferentHistory
    } else {
        Verdict::Same
    };
    let mut keys: Vec<&ObjectKey> = left.schema.objects.keys().collect();
    keys.extend(right.schema.objects.keys());
    keys.sort();
    keys.dedup();
    let compared_by_text = keys
        .iter()
        .filter(|k| {
            [&left.schema, &right.schema]
                .iter()
                .any(|s| s.objects.get(**k).is_some_and(|o| o.by_text))
        })
        .map(|k| (*k).clone())
        .collect();
    Ok(Report {
        format_version: REPORT_FORMAT,
        verdict,
        left: left_summary,
        right: right_summary,
        differences,
        history,
        compared: keys.len(),
        compared_by_text,
        pending,
        converge,
    })
}

/// `drift --sql`'s script from the left side to the right. The left database is asked
/// which tables hold rows where the script would add a NOT NULL column without a default.
async fn script(
    request: &Request<'_>,
    left: &Snapshot,
    right: &Snapshot,
    differences: &[Difference],
) -> Result<Script, Error> {
    let ddl = engine::ddl(left.provider);
    let url = match &request.left {
        Source::Database(url) => Some(url),
        _ => None,
    };
    let mut occupied = std::collections::BTreeSet::new();
    let probe = converge::tables_to_probe(differences, &left.schema, &right.schema);
    if let (Some(url), false) = (url, probe.is_empty()) {
        let mut engine = engine::connect(url, Access::ReadOnly, request.wait).await?;
        for table in probe {
            if engine.holds_data(&table, None).await? {
                occupied.insert(table);
            }
        }
    }
    let sides = converge::Sides {
        left: &left.schema,
        right: &right.schema,
        occupied: &occupied,
    };
    Ok(Script {
        preamble: ddl.preamble(url.and_then(|u| u.schema()).as_deref()),
        steps: converge::steps(differences, &sides, ddl, converge::Tables::Keep),
    })
}

impl Report {
    /// The one migration the differences point to, if they point to one: where `repair`
    /// should look first. A migration recorded applied but half run leaves its objects
    /// missing (or unchanged); one recorded not applied but half run leaves its objects
    /// present while it is pending. So every differing object a script names must be last
    /// named in the same migration, an applied one for a missing or changed object and a
    /// pending one for an extra object; anything else (a column added by hand to an
    /// applied table, or one no script names) is a change made outside the migrations.
    /// Missing objects no script names (a constraint's generated name) do not count
    /// against it.
    pub fn suspect(&self) -> Option<&str> {
        let mut suspect = None;
        for finding in &self.differences {
            let name = match (&finding.last_migration, &finding.difference) {
                (Some(name), _) => name.as_str(),
                (None, Difference::Extra { .. }) => return None,
                (None, _) => continue,
            };
            let pending = self.pending.iter().any(|p| p == name);
            let fits = match finding.difference {
                Difference::Extra { .. } => pending,
                Difference::Missing { .. } | Difference::Changed { .. } => !pending,
            };
            if !fits || suspect.is_some_and(|s| s != name) {
                return None;
            }
            suspect = Some(name);
        }
        suspect
    }
}

/// The migrations of `dir` that `history` has applied (the rest are pending), in the
/// folder's order.
fn applied_part(dir: &MigrationsDir, history: &[history::Entry]) -> (MigrationsDir, Vec<String>) {
    let applied = |name: &str| {
        history
            .iter()
            .any(|e| e.name == name && e.state == history::EntryState::Applied)
    };
    let (done, pending): (Vec<_>, Vec<_>) = dir
        .migrations
        .iter()
        .cloned()
        .partition(|m| applied(&m.name));
    (
        MigrationsDir {
            migrations: done,
            ..dir.clone()
        },
        pending.into_iter().map(|m| m.name).collect(),
    )
}

/// A live database as a snapshot: its schema (with the opt-in `detail`) and history, read
/// only.
pub async fn snapshot(
    url: &DatabaseUrl,
    wait: Duration,
    detail: Detail,
) -> Result<Snapshot, Error> {
    let mut engine = engine::connect(url, Access::ReadOnly, wait).await?;
    let history = if engine.history_exists().await? {
        Some(history::from_rows(&engine.read_history().await?))
    } else {
        None
    };
    let schema = read_schema(&mut *engine, detail).await?;
    Ok(Snapshot::new(
        url.provider(),
        url.describe(),
        history,
        schema,
    ))
}

async fn read_side(
    request: &Request<'_>,
    source: &Source,
    folder: Option<&MigrationsDir>,
) -> Result<(Snapshot, SideSummary), Error> {
    let (snapshot, kind, cached) = match source {
        Source::Database(url) => (
            snapshot(url, request.wait, request.detail).await?,
            "database",
            None,
        ),
        Source::Snapshot(path) => (Snapshot::read(path)?, "snapshot", None),
        Source::Folder => {
            let dir = folder.ok_or(DriftError::NoFolder)?;
            let server = request
                .shadow
                .as_ref()
                .or_else(|| {
                    [&request.left, &request.right]
                        .into_iter()
                        .find_map(|s| match s {
                            Source::Database(url) => Some(url),
                            _ => None,
                        })
                })
                .ok_or(DriftError::NoServer)?;
            let replayed = replay::replay(
                server,
                dir,
                request.cache.as_ref(),
                &request.interrupt,
                request.wait,
                request.detail,
            )
            .await?;
            (replayed.snapshot, "folder", Some(replayed.cached))
        }
    };
    let summary = SideSummary {
        kind,
        description: snapshot.source.clone(),
        objects: snapshot.schema.objects.len(),
        cached,
    };
    Ok((snapshot, summary))
}

/// The whole schema of `engine`'s database, with the opt-in `detail`; an engine without
/// an introspector is an error, since nothing can be compared.
pub(crate) async fn read_schema(engine: &mut dyn Engine, detail: Detail) -> Result<Schema, Error> {
    engine.schema(detail).await?.ok_or_else(|| {
        Error::Drift(DriftError::NoIntrospector {
            provider: engine.provider(),
        })
    })
}

/// The last migration of the folder whose script names the object (and, for an object of
/// a table, the table too): a hint of where to look, found by identifier, not by parsing.
/// Each difference with the migration that last names its object.
fn findings(
    differences: Vec<Difference>,
    folder: Option<&MigrationsDir>,
    dialect: crate::sql::Dialect,
) -> Vec<Finding> {
    // Each script without its comments, once: every difference searches all of them.
    let scripts: Vec<(&str, String)> = match folder {
        Some(dir) if !differences.is_empty() => dir
            .migrations
            .iter()
            .map(|m| (m.name.as_str(), without_comments(&m.script, dialect)))
            .collect(),
        _ => Vec::new(),
    };
    differences
        .into_iter()
        .map(|difference| Finding {
            last_migration: last_migration(&scripts, difference.object()),
            difference,
        })
        .collect()
}

/// `scripts` are the folder's migrations by name, without their comments: a name mentioned
/// only in a comment is not a migration's doing.
fn last_migration(scripts: &[(&str, String)], object: &ObjectKey) -> Option<String> {
    let parts: Vec<&str> = object.name.split('.').collect();
    let (table, own) = (parts[0], parts[parts.len() - 1]);
    scripts
        .iter()
        .rev()
        .find(|(_, code)| names(code, own) && names(code, table))
        .map(|(name, _)| name.to_string())
}

/// Whether `script` holds `identifier` as a whole word.
fn names(script: &str, identifier: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    script.match_indices(identifier).any(|(at, _)| {
        let before = script[..at].chars().next_back();
        let after = script[at + identifier.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Dialect;

    #[test]
    fn names_in_comments_are_not_a_migrations_doing() {
        let script = "-- drop \"User\" later\n/* \"User\" */ CREATE TABLE \"Post\" (id INT);";
        let code = without_comments(script, Dialect::Postgres);
        assert!(!names(&code, "User"));
        assert!(names(&code, "Post"));
        let mysql = "# `User`\n/*!50003 CREATE TRIGGER t BEFORE INSERT ON `User` */";
        let code = without_comments(mysql, Dialect::Mysql);
        assert!(
            names(&code, "User"),
            "MySQL's conditional comments are code"
        );
        assert_eq!(code.matches("User").count(), 1);
    }

    #[test]
    fn identifiers_are_found_as_whole_words() {
        assert!(names(r#"ALTER TABLE "User" ADD "name" TEXT"#, "User"));
        assert!(names("CREATE INDEX `Post_idx` ON `Post`", "Post"));
        assert!(!names(r#"CREATE TABLE "UserProfile""#, "User"));
        assert!(!names("CREATE TABLE my_user", "user"));
    }
}
