//! Errors reaching and talking to a database, and of its migration lock.

use std::time::Duration;

use super::ExitCode;

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
