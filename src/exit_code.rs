//! Process exit codes. They are part of the interface: scripts and orchestrators branch
//! on them, so a value never changes meaning. [`ExitCode::ALL`] with [`ExitCode::meaning`]
//! is the one table `safemig exit-codes`, `safemig --help` and the man page print, so a
//! person without the repository's docs (an npm install) has them too.

/// What the process exits with.
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
    /// The history holds a failed migration (Prisma's P3009), or the schema contradicts
    /// it: `repair` must look.
    FailedInHistory = 5,
    /// A migration failed during this run (Prisma's P3018).
    MigrationFailed = 6,
    /// `status`/`check` with `--strict`: the history disagrees with the folder (edited,
    /// missing, out of order).
    Inconsistent = 7,
    /// `status`: migrations are waiting to be applied; nothing is wrong otherwise.
    Pending = 8,
    /// The database has tables but no migration history (Prisma's P3005).
    BaselineNeeded = 9,
    /// `resolve`/`repair` refused because the history or the schema does not allow it
    /// (P3008, P3011, P3012).
    ResolveRefused = 10,
    /// Stopped by SIGTERM/SIGINT; the history is consistent and the next deploy continues.
    Interrupted = 11,
    /// `lint` found problems.
    LintFindings = 12,
    /// `drill`: a stop did not finish cleanly inside the grace period.
    DrillFailed = 13,
    /// `drift`: the two sides differ in schema or in history.
    Drift = 14,
    /// `deploy`/`run`: a migration could not get a table lock within its retries
    /// (`--table-lock-retry-for`); nothing half-done, the next deploy continues.
    TableLocked = 15,
    /// `forecast`: the pending migrations are estimated to outlast the budget.
    ForecastExceeds = 16,
    /// `forecast`: a statement whose effect the text does not tell touches a table with rows.
    ForecastUnknown = 17,
    /// `run`: the command is not executable (as shells report it).
    CommandNotExecutable = 126,
    /// `run`: the command does not exist (as shells report it).
    CommandNotFound = 127,
}

impl ExitCode {
    /// Every code, in numeric order.
    pub const ALL: [ExitCode; 20] = [
        ExitCode::Success,
        ExitCode::Internal,
        ExitCode::Usage,
        ExitCode::Unreachable,
        ExitCode::LockTimeout,
        ExitCode::FailedInHistory,
        ExitCode::MigrationFailed,
        ExitCode::Inconsistent,
        ExitCode::Pending,
        ExitCode::BaselineNeeded,
        ExitCode::ResolveRefused,
        ExitCode::Interrupted,
        ExitCode::LintFindings,
        ExitCode::DrillFailed,
        ExitCode::Drift,
        ExitCode::TableLocked,
        ExitCode::ForecastExceeds,
        ExitCode::ForecastUnknown,
        ExitCode::CommandNotExecutable,
        ExitCode::CommandNotFound,
    ];

    /// What the code means, for people: the situation, and which commands exit with it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success; status and check: up to date",
            ExitCode::Internal => "a bug, or an environment problem no other code covers",
            ExitCode::Usage => {
                "bad arguments or configuration, or an unreadable or malformed migrations folder"
            }
            ExitCode::Unreachable => {
                "the database cannot be reached, refused the credentials, or does not exist (P1000, P1001, P1003, P1010, P1017)"
            }
            ExitCode::LockTimeout => {
                "another process held the migration lock longer than --lock-timeout without progress (P1002)"
            }
            ExitCode::FailedInHistory => {
                "the history holds a failed migration (P3009), or the schema shows more of a migration than its history says; repair: a person must decide"
            }
            ExitCode::MigrationFailed => "a migration failed during this run (P3018)",
            ExitCode::Inconsistent => {
                "status and check with --strict (or strict = true): migrations edited after they were applied, gone from the folder, or applied out of order"
            }
            ExitCode::Pending => {
                "status and check: migrations wait to be applied (or an interrupted one to be resumed)"
            }
            ExitCode::BaselineNeeded => "the database has tables but no _prisma_migrations (P3005)",
            ExitCode::ResolveRefused => {
                "resolve and repair refused: the history or the schema does not allow it (P3008, P3011, P3012)"
            }
            ExitCode::Interrupted => {
                "stopped by SIGTERM or SIGINT at a safe point; the next deploy continues"
            }
            ExitCode::LintFindings => "lint found problems",
            ExitCode::DrillFailed => "drill: a stop did not end cleanly inside the grace period",
            ExitCode::Drift => "drift and check: the schema or the history differs",
            ExitCode::TableLocked => {
                "deploy, run and repair: another session held a table a migration (or a roll-back) needs for longer than --table-lock-retry-for; nothing half-done, the next deploy continues"
            }
            ExitCode::ForecastExceeds => {
                "forecast: the pending migrations are estimated to outlast the time budget"
            }
            ExitCode::ForecastUnknown => {
                "forecast: a statement of unknown effect touches a table that holds rows"
            }
            ExitCode::CommandNotExecutable => "run: the app's command is not executable",
            ExitCode::CommandNotFound => "run: the app's command does not exist",
        }
    }

    /// The table of every code, a line each.
    pub fn table() -> String {
        ExitCode::ALL
            .iter()
            .map(|code| format!("  {:>3}  {}", *code as u8, code.meaning()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_code_once_in_order() {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|c| *c as u8).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        assert_eq!(ExitCode::table().lines().count(), ExitCode::ALL.len());
    }
}
