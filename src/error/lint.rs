//! `lint`'s errors.

use std::path::PathBuf;

/// Files `lint` cannot read as what they claim to be.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("{}: {reason}", crate::text::path(path))]
    InvalidCompose { path: PathBuf, reason: String },
}
