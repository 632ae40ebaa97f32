//! Every way safemig can fail, each carrying what the operator needs to act: one error
//! enum per domain (config, database, deploy, resolve, supervise, lint, drift, repair,
//! serve), a file each in error/, nested in [`Error`], which owns exit codes and Prisma's
//! error codes. The next steps printed under an error belong to the command line
//! (src/cli/hints.rs), since they name commands.

mod config;
mod database;
mod deploy;
mod drift;
mod lint;
mod repair;
mod resolve;
mod serve;
mod supervise;

pub use crate::exit_code::ExitCode;
pub use config::ConfigError;
pub use database::DatabaseError;
pub use deploy::{Applied, DeployError, FailedMigration};
pub use drift::DriftError;
pub use lint::LintError;
pub use repair::RepairError;
pub use resolve::ResolveError;
pub use serve::ServeError;
pub use supervise::SuperviseError;

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
