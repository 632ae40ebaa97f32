//! Drift's errors: comparing schemas.

use std::path::PathBuf;

use crate::provider::Provider;

use super::{Error, ExitCode};

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

    /// A stop signal during the folder's replay. The replay's own deploy reports a stop
    /// as deploy does ("run safemig deploy again: it resumes"), which would be about the
    /// scratch database, already dropped: this says what was stopped.
    #[error(
        "stopped by a signal {when}; its scratch database is dropped, and nothing was written to the database compared"
    )]
    Stopped { when: String },
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
            Stopped { .. } => ExitCode::Interrupted,
        }
    }
}
