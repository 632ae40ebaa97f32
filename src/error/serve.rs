//! `serve`'s errors: the HTTP side of the exporter.

use super::ExitCode;

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
