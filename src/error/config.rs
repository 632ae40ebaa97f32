//! The project's errors: what is found (or missing) on disk and in the environment.

use std::path::PathBuf;

use crate::provider::Provider;

use super::ExitCode;

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

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if shown.is_empty() {
        "any .env file".into()
    } else {
        shown.join(" or ")
    }
}
