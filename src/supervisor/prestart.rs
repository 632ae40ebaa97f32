//! `safemig run`'s step before the app starts, and what `--on-failed` makes of its failures.
//!
//! The step itself is a deploy ([`crate::deploy::run`]) or a status check
//! ([`crate::status::report`]); this decides whether the app may start after it.

use crate::Error;
use crate::deploy::Outcome;
use crate::error::{DeployError, SuperviseError};
use crate::status::{StatusReport, Verdict};

/// What to do when the migrations cannot be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailed {
    /// Do not start the app; exit with the failure's code
    Fail,
    /// Log the failure and start the app anyway
    Warn,
    /// A failed migration in the history is repaired when its schema proves what ran
    /// (`safemig repair`'s verdict `none`, `partial k` or `all`) and the deploy goes on;
    /// any other failure stops the start as `fail` does
    Repair,
}

/// How the step ended, when the app may start.
#[derive(Debug)]
pub enum Prestart {
    /// The migrations are verified.
    Verified { detail: &'static str },
    /// They are not, and `--on-failed=warn` starts the app anyway.
    NotVerified(Error),
}

/// After `--migrate=deploy`.
pub fn after_deploy(
    result: Result<Outcome, Error>,
    on_failed: OnFailed,
) -> Result<Prestart, Error> {
    settle(
        result.map(|_| "deploy finished, the database is up to date"),
        on_failed,
    )
}

/// After `--migrate=check`: anything but an up-to-date database is not verified.
pub fn after_check(report: &StatusReport, on_failed: OnFailed) -> Result<Prestart, Error> {
    let result = match report.verdict {
        Verdict::UpToDate => Ok("the database is up to date"),
        verdict => Err(Error::Supervise(SuperviseError::NotUpToDate {
            verdict: verdict.as_str(),
            code: verdict.exit_code(),
        })),
    };
    settle(result, on_failed)
}

/// `--on-failed=warn` tolerates only what says the migrations are not (all) applied: a
/// failed migration in the history or now, one that cannot be resumed or could not get its
/// table locks, a database that is not up to date. A database that cannot be reached, a
/// bad URL or folder stop the start whatever `--on-failed` says: the app would fail on
/// them too.
fn settle(result: Result<&'static str, Error>, on_failed: OnFailed) -> Result<Prestart, Error> {
    match result {
        Ok(detail) => Ok(Prestart::Verified { detail }),
        Err(
            e @ (Error::Deploy(DeployError::FailedMigrations { .. })
            | Error::Deploy(DeployError::MigrationFailed { .. })
            | Error::Deploy(DeployError::CannotResume { .. })
            | Error::Deploy(DeployError::TableLocked { .. })
            | Error::Deploy(DeployError::SchemaContradictsJournal { .. })
            | Error::Supervise(SuperviseError::NotUpToDate { .. })),
        ) if on_failed == OnFailed::Warn => Ok(Prestart::NotVerified(e)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_tolerates_unapplied_migrations_only() {
        let not_up_to_date = || {
            Err(Error::Supervise(SuperviseError::NotUpToDate {
                verdict: Verdict::Pending.as_str(),
                code: Verdict::Pending.exit_code(),
            }))
        };
        assert!(matches!(
            settle(not_up_to_date(), OnFailed::Warn),
            Ok(Prestart::NotVerified(_))
        ));
        assert!(settle(not_up_to_date(), OnFailed::Fail).is_err());
        let unreachable = Err(Error::Database(crate::error::DatabaseError::Connect {
            target: "db".into(),
            message: "refused".into(),
        }));
        assert!(settle(unreachable, OnFailed::Warn).is_err());
    }

    /// The verdict in the message is the name `status --json` uses, not `baselineneeded`.
    #[test]
    fn a_check_names_the_verdict_as_json_does() {
        let error = Error::Supervise(SuperviseError::NotUpToDate {
            verdict: Verdict::BaselineNeeded.as_str(),
            code: Verdict::BaselineNeeded.exit_code(),
        });
        assert_eq!(
            error.to_string(),
            "the database is not up to date: baseline_needed"
        );
        assert_eq!(error.exit_code(), crate::ExitCode::BaselineNeeded);
    }
}
