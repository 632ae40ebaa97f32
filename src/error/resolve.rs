//! `resolve`'s refusals.

use std::path::PathBuf;

use super::ExitCode;

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
