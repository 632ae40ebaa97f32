//! Every way safemig can fail, each carrying what the operator needs to act, and the one
//! place that turns them into exit codes, Prisma error codes and next steps.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::provider::Provider;

/// Process exit codes. They are part of the interface (README, "Exit codes"): scripts and
/// orchestrators branch on them, so a value never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    /// A bug or an environment problem not covered below.
    Internal = 1,
    /// Bad arguments or configuration, an unreadable or malformed migrations folder.
    Usage = 2,
    /// The database cannot be reached, refused the credentials, or does not exist.
    Unreachable = 3,
    /// Another process held the migration lock for longer than the lock timeout.
    LockTimeout = 4,
    /// The history holds a failed migration (Prisma's P3009).
    FailedInHistory = 5,
    /// A migration failed during this run (Prisma's P3018).
    MigrationFailed = 6,
    /// `status`: the history disagrees with the folder (edited, missing, out of order).
    Inconsistent = 7,
    /// `status`: migrations are waiting to be applied; nothing is wrong otherwise.
    Pending = 8,
    /// The database has tables but no migration history (Prisma's P3005).
    BaselineNeeded = 9,
    /// `resolve` refused because the history does not allow it (P3008, P3011, P3012).
    ResolveRefused = 10,
    /// Stopped by SIGTERM/SIGINT; the history is consistent and the next deploy continues.
    Interrupted = 11,
    /// `lint` found problems.
    LintFindings = 12,
    /// `drill`: a stop did not finish cleanly inside the grace period.
    DrillFailed = 13,
    /// `run`: the command is not executable (as shells report it).
    CommandNotExecutable = 126,
    /// `run`: the command does not exist (as shells report it).
    CommandNotFound = 127,
}

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no database URL: --url was not given and {variable} is not set in the environment or in {}",
        display_paths(looked_in)
    )]
    MissingUrl {
        variable: String,
        looked_in: Vec<PathBuf>,
    },

    #[error("the database URL from {origin} is not valid: {reason}")]
    InvalidUrl { origin: String, reason: String },

    #[error(
        "database URLs starting with `{scheme}:` are not supported (use postgresql://, mysql:// or file:)"
    )]
    UnsupportedScheme { scheme: String },

    #[error(
        "{path} names provider \"{provider}\", which safemig does not support (postgresql, mysql, sqlite)"
    )]
    UnsupportedProvider { path: PathBuf, provider: String },

    #[error("the migrations folder {} does not exist", crate::text::path(path))]
    MigrationsDirMissing { path: PathBuf },

    #[error("{} is {what}, not a regular file", crate::text::path(path))]
    NotRegularFile { path: PathBuf, what: &'static str },

    #[error(
        "{} is {}, over the {} safemig reads",
        crate::text::path(path),
        crate::text::size(*size),
        crate::text::size(*limit)
    )]
    FileTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    #[error("{} is a symbolic link loop", crate::text::path(path))]
    SymlinkLoop { path: PathBuf },

    #[error("{} is not a folder", crate::text::path(path))]
    NotAFolder { path: PathBuf },

    #[error("cannot read {}: {source}", crate::text::path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "migration `{}` has no migration.sql (expected {})",
        crate::text::escaped(name),
        crate::text::path(path)
    )]
    MigrationScriptMissing { name: String, path: PathBuf },

    #[error(
        "{} is not valid UTF-8 (first invalid byte at offset {offset})",
        crate::text::path(path)
    )]
    NotUtf8 { path: PathBuf, offset: usize },

    #[error(
        "cannot tell which SQL dialect {} is in: no migration_lock.toml beside its folder",
        crate::text::path(file)
    )]
    DialectUnknown { file: PathBuf },

    #[error("{} is not valid: {reason}", crate::text::path(path))]
    InvalidLockFile { path: PathBuf, reason: String },

    #[error(
        "the migrations in {} were created for {locked}, but the database URL is for {actual}",
        crate::text::path(dir)
    )]
    ProviderMismatch {
        dir: PathBuf,
        locked: String,
        actual: Provider,
    },

    #[error(
        "{} sets `{field}` to `{text}`, which safemig cannot evaluate without running Node",
        crate::text::path(file)
    )]
    ComputedConfig {
        file: PathBuf,
        field: String,
        text: String,
        /// The flag or variable to pass instead.
        instead: String,
    },

    #[error(
        "the datasource in {} says provider = \"{declared}\", but the database URL is for {actual}",
        crate::text::path(schema)
    )]
    DatasourceMismatch {
        schema: PathBuf,
        declared: String,
        actual: Provider,
    },

    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },

    #[error("{target} does not exist")]
    DatabaseMissing { target: String },

    #[error(
        "the SQLite database {} cannot be created: its folder {} does not exist",
        crate::text::path(file),
        crate::text::path(folder)
    )]
    SqliteFolderMissing { file: PathBuf, folder: PathBuf },

    #[error("{action} on {target} failed: {message}")]
    Query {
        action: String,
        target: String,
        message: String,
    },

    #[error("lost the connection to {target} while {action}: {message}")]
    ConnectionLost {
        target: String,
        action: String,
        message: String,
    },

    #[error("{target} refused the credentials: {message}")]
    AuthenticationFailed { target: String, message: String },

    #[error("{target} does not allow {action}: {message}")]
    AccessDenied {
        target: String,
        action: String,
        message: String,
    },

    #[error("{target} is not a usable database: {message}")]
    NotADatabase { target: String, message: String },

    #[error(
        "timed out after {}s waiting for the migration lock on {target}{}",
        waited.as_secs_f32(),
        holder.as_ref().map(|h| format!("; it is held by {h}")).unwrap_or_default()
    )]
    LockTimeout {
        target: String,
        waited: Duration,
        holder: Option<String>,
    },

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
        "migration `{}` was interrupted and cannot be resumed: {reason}",
        crate::text::escaped(name)
    )]
    CannotResume {
        name: String,
        reason: String,
        /// What to look at in the database to decide by hand.
        inspect: String,
    },

    #[error("no command to run: put it after `--`, as in `safemig run -- node server.js`")]
    NoCommand,

    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the stop timeout ({}s) is not below the grace period ({}s, from {origin}): the runtime would SIGKILL everything before safemig could",
        stop_timeout.as_secs_f32(),
        grace.as_secs_f32()
    )]
    StopTimeoutTooLong {
        stop_timeout: Duration,
        grace: Duration,
        origin: String,
    },

    #[error("SAFEMIG_GRACE_PERIOD={value} is not valid: {reason}")]
    InvalidGracePeriod { value: String, reason: String },

    /// `run --migrate=check`: the status verdict, shown by the name `status --json` uses.
    #[error("the database is not up to date: {verdict}")]
    NotUpToDate { verdict: crate::status::Verdict },

    /// The supervisor could not listen for the signals it forwards: the process is not
    /// allowed to (or cannot) register handlers. Nothing the operator passed is wrong.
    #[error("cannot install the signal handlers the supervisor needs: {source}")]
    SignalHandlers {
        #[source]
        source: std::io::Error,
    },

    #[error("{}: {reason}", crate::text::path(path))]
    InvalidCompose { path: PathBuf, reason: String },

    #[error(
        "migration `{}` is not in the migrations folder {}",
        crate::text::escaped(name),
        crate::text::path(dir)
    )]
    UnknownMigration { name: String, dir: PathBuf },

    #[error(
        "migration `{}` is already recorded as applied",
        crate::text::escaped(name)
    )]
    AlreadyApplied { name: String },

    #[error(
        "migration `{}` cannot be marked rolled back: it was never applied",
        crate::text::escaped(name)
    )]
    NeverApplied { name: String },

    #[error(
        "migration `{}` cannot be marked rolled back: it is not in a failed state",
        crate::text::escaped(name)
    )]
    NotFailed { name: String },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if shown.is_empty() {
        "any .env file".into()
    } else {
        shown.join(" or ")
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

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        use Error::*;
        match self {
            MissingUrl { .. }
            | InvalidUrl { .. }
            | UnsupportedScheme { .. }
            | UnsupportedProvider { .. }
            | MigrationsDirMissing { .. }
            | MigrationScriptMissing { .. }
            | NotUtf8 { .. }
            | InvalidLockFile { .. }
            | DialectUnknown { .. }
            | ProviderMismatch { .. }
            | UnknownMigration { .. }
            | NotRegularFile { .. }
            | FileTooLarge { .. }
            | SymlinkLoop { .. }
            | NotAFolder { .. }
            | SqliteFolderMissing { .. }
            | PrismaNext { .. }
            | ComputedConfig { .. }
            | DatasourceMismatch { .. } => ExitCode::Usage,
            Io { .. } => ExitCode::Usage,
            Connect { .. }
            | DatabaseMissing { .. }
            | ConnectionLost { .. }
            | AuthenticationFailed { .. }
            | AccessDenied { .. } => ExitCode::Unreachable,
            NotADatabase { .. } => ExitCode::Usage,
            Query { .. } => ExitCode::Internal,
            LockTimeout { .. } => ExitCode::LockTimeout,
            NotEmpty { .. } => ExitCode::BaselineNeeded,
            FailedMigrations { .. } | CannotResume { .. } => ExitCode::FailedInHistory,
            Interrupted { .. } => ExitCode::Interrupted,
            NoCommand
            | StopTimeoutTooLong { .. }
            | InvalidCompose { .. }
            | InvalidGracePeriod { .. } => ExitCode::Usage,
            Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ExitCode::CommandNotFound
            }
            Spawn { .. } => ExitCode::CommandNotExecutable,
            NotUpToDate { verdict } => verdict.exit_code(),
            SignalHandlers { .. } => ExitCode::Internal,
            MigrationFailed { .. } => ExitCode::MigrationFailed,
            AlreadyApplied { .. } | NeverApplied { .. } | NotFailed { .. } => {
                ExitCode::ResolveRefused
            }
        }
    }

    /// The Prisma error code for the same situation, so users can search for it.
    pub fn prisma_code(&self) -> Option<&'static str> {
        use Error::*;
        Some(match self {
            MigrationScriptMissing { .. } => "P3015",
            ProviderMismatch { .. } => "P3019",
            DatasourceMismatch { .. } => "P1012",
            NotEmpty { .. } => "P3005",
            FailedMigrations { .. } => "P3009",
            MigrationFailed { .. } => "P3018",
            UnknownMigration { .. } => "P3017",
            AlreadyApplied { .. } => "P3008",
            NeverApplied { .. } => "P3011",
            NotFailed { .. } => "P3012",
            LockTimeout { .. } => "P1002",
            Connect { .. } => "P1001",
            AuthenticationFailed { .. } => "P1000",
            AccessDenied { .. } => "P1010",
            ConnectionLost { .. } => "P1017",
            DatabaseMissing { .. } => "P1003",
            _ => return None,
        })
    }

    /// The next thing to do.
    pub fn hint(&self) -> Option<String> {
        use Error::*;
        Some(match self {
            MissingUrl { variable, .. } => format!(
                "pass --url, or set {variable} (for example {variable}=\"file:./dev.db\" or postgresql://USER@HOST:5432/DB)"
            ),
            InvalidUrl { .. } => "check the URL's form: postgresql://USER:PASSWORD@HOST:PORT/DB?schema=public, mysql://USER:PASSWORD@HOST:PORT/DB or file:./dev.db; percent-encode special characters in the password".into(),
            UnsupportedScheme { .. } | UnsupportedProvider { .. } => {
                "safemig supports PostgreSQL, MySQL/MariaDB and SQLite; for Prisma Accelerate use the direct database URL".into()
            }
            MigrationsDirMissing { .. } => {
                "run safemig from the project folder that holds prisma/schema.prisma, or pass --dir PATH/TO/migrations".into()
            }
            MigrationScriptMissing { path, .. } => format!(
                "restore {} from version control, or delete the folder if the migration was never meant to exist",
                crate::text::path(path)
            ),
            NotRegularFile { path, .. } => format!(
                "safemig reads only regular files (it would wait forever on a pipe, or read a device without end): put the file itself at {}",
                crate::text::path(path)
            ),
            FileTooLarge { .. } => "load data of that size with the database's own bulk tools (COPY, LOAD DATA, .import) instead of a migration".into(),
            SymlinkLoop { path } => format!(
                "a link at or above {} points back to itself: fix it (`ls -l` shows where it points)",
                crate::text::path(path)
            ),
            SqliteFolderMissing { folder, .. } => format!(
                "create the folder (`mkdir -p {}`), or fix the path in the database URL (relative paths are resolved from the folder of schema.prisma)",
                crate::text::path(folder)
            ),
            ComputedConfig { instead, .. } => format!("pass {instead} instead"),
            DatasourceMismatch { declared, .. } => format!(
                "point --url / the datasource's variable at a {declared} database, or fix the datasource's provider"
            ),
            PrismaNext { .. } => "apply its migrations with Prisma 8 (`prisma db migrate`); safemig applies Prisma 7 and earlier's migrations, and will not apply them to a database handed over to Prisma 8".into(),
            NotAFolder { path } => format!(
                "pass the folder that holds the migrations: {} is a file",
                crate::text::path(path)
            ),
            NotUtf8 { .. } => "save the file as UTF-8 (Prisma reads migrations as UTF-8 too)".into(),
            DialectUnknown { .. } => "pass --dialect postgresql, mysql or sqlite".into(),
            InvalidLockFile { .. } => "migration_lock.toml should hold a line like provider = \"postgresql\"".into(),
            ProviderMismatch { locked, .. } => format!(
                "point --url / DATABASE_URL at a {locked} database, or use the migrations folder made for this provider"
            ),
            Connect { .. } => "check that the server is running and reachable at that address (and the host and port in the URL)".into(),
            AuthenticationFailed { .. } => "check the user name and password in the URL (percent-encode special characters in the password)".into(),
            AccessDenied { .. } => "give this login the right to write: for a server, the privileges migrations need (or the database owner's login); for SQLite, write access to the file and its folder (SQLite writes a journal file beside the database)".into(),
            NotADatabase { target, .. } => format!(
                "check that the URL points at the database file; if {target} is damaged, restore it from a backup"
            ),
            ConnectionLost { .. } => "check that the server is up and reachable, then run `safemig deploy` again: an interrupted migration is resumed or rolled back, never half-recorded".into(),
            DatabaseMissing { .. } => "create the database first (CREATE DATABASE …), or fix the database name in the URL".into(),
            LockTimeout { .. } => "another deploy is running: wait for it, or raise --lock-timeout; if the holder is stuck, end its session".into(),
            NotEmpty { .. } => "baseline it: for each migration already reflected in the schema run `safemig resolve --applied NAME`, then `safemig deploy` (https://pris.ly/d/migrate-baseline)".into(),
            FailedMigrations { failed, .. } => {
                let name = failed
                    .first()
                    .map(|f| crate::text::shell_arg(&f.name))
                    .unwrap_or_else(|| "NAME".into());
                let clean = failed
                    .first()
                    .and_then(|f| f.logs.as_deref())
                    .and_then(crate::journal::Journal::from_logs)
                    .and_then(|j| j.retry_from.map(|k| (k, j.refused)));
                match clean {
                    Some((k, refused)) => format!(
                        "statement {} failed and applied nothing: {}, then run `safemig deploy`, which retries from it (the statements before it stay applied); or resolve the row by hand: `safemig resolve --rolled-back {name}` or `safemig resolve --applied {name}`",
                        k + 1,
                        if refused {
                            "raise the server limit the error names (or split the statement)"
                        } else {
                            "fix it in the migration's migration.sql"
                        }
                    ),
                    None => format!(
                        "inspect with `safemig status`; fix the database by hand, then run `safemig resolve --rolled-back {name}` to retry it, or `safemig resolve --applied {name}` if its changes are complete"
                    ),
                }
            }
            MigrationFailed { script, applied: Applied::Nothing, .. } => format!(
                "fix {} and run `safemig deploy` again; nothing needs to be resolved",
                crate::text::path(script)
            ),
            MigrationFailed { script, applied: Applied::Before(k), .. } => format!(
                "fix the cause (the statement in {}, or what the message names) and run `safemig deploy` again: it continues from statement {}, the statements before it stay applied; nothing needs to be resolved",
                crate::text::path(script),
                k + 1
            ),
            MigrationFailed { name, applied: Applied::Unknown, .. } => {
                let name = crate::text::shell_arg(name);
                format!(
                    "some of its statements may have been applied: inspect the database, then run `safemig resolve --rolled-back {name}` after undoing them or `safemig resolve --applied {name}` after completing them"
                )
            }
            UnknownMigration { .. } => "run `safemig status` to list the migrations safemig knows".into(),
            Interrupted { .. } => "run `safemig deploy` again to finish; nothing needs to be resolved".into(),
            NoCommand => "safemig run [OPTIONS] -- COMMAND [ARGS…]".into(),
            InvalidGracePeriod { .. } => "give the grace period in seconds, e.g. SAFEMIG_GRACE_PERIOD=30".into(),
            Spawn { .. } => "check the command and that it is installed in the image (PATH is searched)".into(),
            StopTimeoutTooLong { grace, .. } => format!(
                "pass --stop-timeout below {}s (leave a few seconds of margin), or raise the runtime's grace period (compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`)",
                grace.as_secs_f32()
            ),
            NotUpToDate { .. } => "run `safemig status` to see why; with --migrate=deploy safemig applies pending migrations itself".into(),
            InvalidCompose { .. } => "check the file is a compose file (YAML with a `services:` mapping)".into(),
            CannotResume { name, inspect, .. } => {
                let name = crate::text::shell_arg(name);
                format!(
                    "{inspect}; then run `safemig resolve --applied {name}` if the migration's changes are all there, or undo them and run `safemig resolve --rolled-back {name}`"
                )
            }
            AlreadyApplied { .. } | NeverApplied { .. } | NotFailed { .. } => {
                "run `safemig status` to see the migration's state".into()
            }
            Io { .. } | Query { .. } | SignalHandlers { .. } => return None,
        })
    }
}
