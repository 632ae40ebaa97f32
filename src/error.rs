//! Every way safemig can fail, each carrying what the operator needs to act: one error
//! enum per domain (config, database, deploy, resolve, supervise, lint, drift, repair, serve), nested in
//! [`Error`], which owns exit codes and Prisma's error codes. The next steps printed under
//! an error belong to the command line (src/cli/hints.rs), since they name commands.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::provider::Provider;

pub use crate::exit_code::ExitCode;

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

/// Every way safemig can fail: one domain error each, so a command's errors say where
/// they come from. This type owns the exit codes and Prisma's error codes; the command
/// line owns the next steps it prints (they name commands).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    Database(#[from] DatabaseError),

    #[error(transparent)]
    Deploy(#[from] DeployError),

    #[error(transparent)]
    Resolve(#[from] ResolveError),

    #[error(transparent)]
    Supervise(#[from] SuperviseError),

    #[error(transparent)]
    Lint(#[from] LintError),

    #[error(transparent)]
    Drift(#[from] DriftError),

    #[error(transparent)]
    Repair(#[from] RepairError),

    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// `serve`: the HTTP side of the exporter (what it checks never fails, see `check::run`).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            // The --listen address does not suit this host (taken, not local, privileged):
            // fix the arguments.
            ServeError::Bind { .. } => ExitCode::Usage,
        }
    }
}

/// The project as found on disk and in the environment: the URL, the migrations folder, the
/// schema and config files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no database URL: --url was not given and {variable} is not set in the environment or in {}",
        display_paths(looked_in)
    )]
    MissingUrl {
        variable: String,
        looked_in: Vec<PathBuf>,
    },

    #[error(
        "no database URL: --url was not given and {variable} is not set in the environment; {} defines it, but {} does not load it (with a config file, Prisma reads only the .env files the config loads through dotenv)",
        display_paths(files),
        crate::text::path(config)
    )]
    EnvFileNotLoaded {
        variable: String,
        config: PathBuf,
        files: Vec<PathBuf>,
    },

    #[error(
        "the datasource in {} sets `{field}`, and {} sets `datasource.url`: Prisma 7 refuses a URL in the schema",
        crate::text::path(schema),
        crate::text::path(config)
    )]
    UrlInSchemaAndConfig {
        schema: PathBuf,
        field: String,
        config: PathBuf,
    },

    #[error(
        "{} is a Prisma 8 config (definePrismaConfig), which does not use _prisma_migrations",
        crate::text::path(path)
    )]
    PrismaNextConfig { path: PathBuf },

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

    #[error("cannot write to {}: it is {what}", crate::text::path(path))]
    NotWritable { path: PathBuf, what: &'static str },

    #[error("cannot write {}: {source}", crate::text::path(path))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

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

    #[error(
        "{}{}: {message}",
        crate::text::path(path),
        line.map(|l| format!(", line {l}")).unwrap_or_default()
    )]
    EnvironmentsFile {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error(
        "no {}: --env and check read their environments from it (or from the file --config names)",
        crate::text::path(path)
    )]
    NoEnvironmentsFile { path: PathBuf },

    #[error(
        "{} has no environment `{}`{}",
        crate::text::path(path),
        crate::text::escaped(name),
        if known.is_empty() { String::new() } else { format!(" (it has {})", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")) }
    )]
    UnknownEnvironment {
        name: String,
        path: PathBuf,
        known: Vec<String>,
    },

    #[error(
        "environment `{}` in {} takes its URL from the variable {variable}, which is not set",
        crate::text::escaped(environment),
        crate::text::path(path)
    )]
    EnvironmentVariableUnset {
        variable: String,
        environment: String,
        path: PathBuf,
    },

    /// Any other failure to prepare an environment, named: with several environments in
    /// `safemig.toml`, a bare "the lock file says mysql" does not say whose.
    #[error("environment `{}`: {source}", crate::text::escaped(environment))]
    InEnvironment {
        environment: String,
        #[source]
        source: Box<ConfigError>,
    },

    #[error("environment `{}`: {reason}", crate::text::escaped(environment))]
    InvalidEnvironment { environment: String, reason: String },

    #[error(
        "--tenant {} selects tenants of an environment, and no --env was given",
        crate::text::escaped(pattern)
    )]
    TenantWithoutEnvironment { pattern: String },

    #[error(
        "{flag} is an option of a deploy over an environment's tenants, and this deploy has one database"
    )]
    FleetOption { flag: &'static str },

    #[error(
        "the SQLite database {} cannot be created: its folder {} does not exist",
        crate::text::path(file),
        crate::text::path(folder)
    )]
    SqliteFolderMissing { file: PathBuf, folder: PathBuf },
}

/// Reaching the database and talking to it, and its migration lock.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },

    #[error("{target} does not exist")]
    DatabaseMissing { target: String },

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
        "migration `{}` was interrupted and cannot be resumed: {reason}",
        crate::text::escaped(name)
    )]
    CannotResume {
        name: String,
        reason: String,
        /// What to look at in the database to decide by hand.
        inspect: String,
    },
}

/// What `resolve` refuses, as `prisma migrate resolve` does.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
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

    /// The supervisor could not listen for the signals it forwards: the process is not
    /// allowed to (or cannot) register handlers. Nothing the operator passed is wrong.
    #[error("cannot install the signal handlers the supervisor needs: {source}")]
    SignalHandlers {
        #[source]
        source: std::io::Error,
    },
}

/// Files `lint` cannot read as what they claim to be.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("{}: {reason}", crate::text::path(path))]
    InvalidCompose { path: PathBuf, reason: String },
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
        match self {
            Error::Config(e) => e.exit_code(),
            Error::Database(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::Resolve(e) => e.exit_code(),
            Error::Supervise(e) => e.exit_code(),
            Error::Lint(_) => ExitCode::Usage,
            Error::Drift(e) => e.exit_code(),
            Error::Repair(e) => e.exit_code(),
            Error::Serve(e) => e.exit_code(),
        }
    }

    /// The Prisma error code for the same situation, so users can search for it.
    pub fn prisma_code(&self) -> Option<&'static str> {
        match self {
            Error::Config(e) => e.prisma_code(),
            Error::Database(e) => e.prisma_code(),
            Error::Deploy(e) => e.prisma_code(),
            Error::Resolve(e) => Some(e.prisma_code()),
            Error::Supervise(_)
            | Error::Lint(_)
            | Error::Drift(_)
            | Error::Repair(_)
            | Error::Serve(_) => None,
        }
    }
}

impl ConfigError {
    /// Bad arguments or configuration, an unreadable or malformed folder: all usage errors.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }

    pub fn prisma_code(&self) -> Option<&'static str> {
        use ConfigError::*;
        match self {
            InEnvironment { source, .. } => source.prisma_code(),
            MigrationScriptMissing { .. } => Some("P3015"),
            ProviderMismatch { .. } => Some("P3019"),
            DatasourceMismatch { .. } | UrlInSchemaAndConfig { .. } => Some("P1012"),
            _ => None,
        }
    }
}

impl DatabaseError {
    pub fn exit_code(&self) -> ExitCode {
        use DatabaseError::*;
        match self {
            Connect { .. }
            | DatabaseMissing { .. }
            | ConnectionLost { .. }
            | AuthenticationFailed { .. }
            | AccessDenied { .. } => ExitCode::Unreachable,
            NotADatabase { .. } => ExitCode::Usage,
            Query { .. } => ExitCode::Internal,
            LockTimeout { .. } => ExitCode::LockTimeout,
        }
    }

    pub fn prisma_code(&self) -> Option<&'static str> {
        use DatabaseError::*;
        match self {
            LockTimeout { .. } => Some("P1002"),
            Connect { .. } => Some("P1001"),
            AuthenticationFailed { .. } => Some("P1000"),
            AccessDenied { .. } => Some("P1010"),
            ConnectionLost { .. } => Some("P1017"),
            DatabaseMissing { .. } => Some("P1003"),
            Query { .. } | NotADatabase { .. } => None,
        }
    }
}

impl DeployError {
    pub fn exit_code(&self) -> ExitCode {
        use DeployError::*;
        match self {
            NotEmpty { .. } => ExitCode::BaselineNeeded,
            FailedMigrations { .. } | CannotResume { .. } => ExitCode::FailedInHistory,
            MigrationFailed { .. } => ExitCode::MigrationFailed,
            PrismaNext { .. } => ExitCode::Usage,
            Interrupted { .. } => ExitCode::Interrupted,
        }
    }

    pub fn prisma_code(&self) -> Option<&'static str> {
        use DeployError::*;
        match self {
            NotEmpty { .. } => Some("P3005"),
            FailedMigrations { .. } => Some("P3009"),
            MigrationFailed { .. } => Some("P3018"),
            PrismaNext { .. } | Interrupted { .. } | CannotResume { .. } => None,
        }
    }
}

impl ResolveError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            // A name the folder does not have is a usage error, not a refusal.
            ResolveError::UnknownMigration { .. } => ExitCode::Usage,
            ResolveError::AlreadyApplied { .. }
            | ResolveError::NeverApplied { .. }
            | ResolveError::NotFailed { .. } => ExitCode::ResolveRefused,
        }
    }

    pub fn prisma_code(&self) -> &'static str {
        use ResolveError::*;
        match self {
            UnknownMigration { .. } => "P3017",
            AlreadyApplied { .. } => "P3008",
            NeverApplied { .. } => "P3011",
            NotFailed { .. } => "P3012",
        }
    }
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
            SignalHandlers { .. } => ExitCode::Internal,
        }
    }
}

/// Comparing schemas: the sides drift reads and the scratch database it replays into.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("comparing with the migrations folder needs the folder")]
    NoFolder,

    #[error(
        "replaying the migrations folder needs a database server to make a scratch database on"
    )]
    NoServer,

    #[error("cannot read the snapshot {}: {message}", crate::text::path(path))]
    SnapshotUnreadable { path: PathBuf, message: String },

    #[error("cannot compare a {left} database with a {right} one")]
    ProviderMismatch { left: Provider, right: Provider },

    #[error("safemig cannot describe a {provider} schema yet")]
    NoIntrospector { provider: Provider },

    #[error("replaying the migrations folder into {scratch} failed: {source}")]
    Replay {
        scratch: String,
        #[source]
        source: Box<Error>,
    },

    #[error("the scratch database {scratch} could not be dropped: {message}")]
    ScratchLeft { scratch: String, message: String },
}

impl DriftError {
    pub fn exit_code(&self) -> ExitCode {
        use DriftError::*;
        match self {
            NoFolder
            | NoServer
            | SnapshotUnreadable { .. }
            | ProviderMismatch { .. }
            | NoIntrospector { .. } => ExitCode::Usage,
            // The folder's own failure decides (a failing migration, a stop).
            Replay { source, .. } => source.exit_code(),
            ScratchLeft { .. } => ExitCode::Internal,
        }
    }
}

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
            RollBackIncomplete { .. } | RollBackFailed { .. } | NotHealable { .. } => {
                ExitCode::FailedInHistory
            }
            StatementFailsOnScratch { .. } => ExitCode::MigrationFailed,
            // The folder's own failure decides (a failing migration, a stop).
            Replay { source, .. } => source.exit_code(),
            ScratchLeft { .. } => ExitCode::Internal,
        }
    }
}
