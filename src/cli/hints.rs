//! The `next:` line under an error: what to do about it, naming safemig's (and Prisma's)
//! commands. It belongs to the command line, not to the library's errors: `serve` and
//! other callers show errors without telling anyone to run a command.

use safemig::error::{
    Applied, ConfigError, DatabaseError, DeployError, DriftError, Error, LintError, RepairError,
    ResolveError, ServeError, SuperviseError,
};

/// The next thing to do about `error`, if there is one.
pub(crate) fn hint(error: &Error) -> Option<String> {
    match error {
        Error::Config(e) => config(e),
        Error::Database(e) => database(e),
        Error::Deploy(e) => deploy(e),
        Error::Resolve(e) => resolve(e),
        Error::Supervise(e) => supervise(e),
        Error::Lint(e) => lint(e),
        Error::Drift(e) => drift(e),
        Error::Repair(e) => repair(e),
        Error::Serve(e) => serve(e),
    }
}

fn serve(error: &ServeError) -> Option<String> {
    use ServeError::*;
    Some(match error {
        Bind { .. } => {
            "pass another --listen address: the port may be taken (`ss -ltnp`), or the address not one of this host's".into()
        }
    })
}

fn repair(error: &RepairError) -> Option<String> {
    use RepairError::*;
    Some(match error {
        NotInFolder { .. } => "restore the migration's folder (from version control), or pass --dir".into(),
        NotFailed { .. } => "run `safemig status` to see the migration's state".into(),
        SeveralFailed { names } => format!(
            "run `safemig repair {}`, then the next",
            names.first().map(|n| safemig::text::shell_arg(n)).unwrap_or_else(|| "NAME".into())
        ),
        StatementFailsOnScratch { .. } => {
            "the migration does not run on an empty copy of the schema; inspect it with `safemig split` and resolve the row by hand".into()
        }
        Replay { source, .. } => {
            return hint(source).map(|h| format!("the migrations before it do not deploy: {h}"));
        }
        ScratchLeft { scratch, .. } => format!(
            "drop {scratch} by hand; repair names its scratch databases safemig_repair_* so they are easy to find"
        ),
        FinishNeeded { name, .. } => format!(
            "run `safemig repair {0} --apply --finish` to run the remaining statements, or `safemig repair {0} --apply --roll-back` to undo the applied ones",
            safemig::text::shell_arg(name)
        ),
        RowChanged { .. } => "run `safemig repair` again: it classifies the row as it is now".into(),
        AssumptionContradicted { name, .. } => format!(
            "run `safemig repair {}` to see which states the schema matches; --assume-applied can only choose among them",
            safemig::text::shell_arg(name)
        ),
        AssumptionMalformed { .. } => "write --assume-applied 1,2,3 or 1-3 (statements 1 to 3 ran), or none".into(),
        RollBackNotExpressible { name, .. } => format!(
            "finish the migration instead (`safemig repair {} --apply --finish`), or undo these objects by hand and run `safemig repair` again",
            safemig::text::shell_arg(name)
        ),
        RollBackLosesData { name, .. } => format!(
            "keep the data: finish the migration (`safemig repair {0} --apply --finish`); or, once the data is saved elsewhere, `safemig repair {0} --apply --roll-back --allow-data-loss`",
            safemig::text::shell_arg(name)
        ),
        RollBackIncomplete { name, .. } | RollBackFailed { name, .. } => format!(
            "run `safemig repair {}` to see where the schema is now",
            safemig::text::shell_arg(name)
        ),
        NotHealable { name, .. } => format!(
            "run `safemig repair {}` to see the evidence and decide; nothing was written",
            safemig::text::shell_arg(name)
        ),
    })
}

fn drift(error: &DriftError) -> Option<String> {
    use DriftError::*;
    Some(match error {
        NoFolder => return None,
        NoServer => "pass --url (the scratch database is made on its server) or --shadow-url".into(),
        SnapshotUnreadable { .. } => {
            "write a snapshot with `safemig snapshot --output FILE`; --against takes a URL (with its scheme) or such a file".into()
        }
        ProviderMismatch { .. } => {
            "compare databases of one provider: --url and --against must both be PostgreSQL, MySQL/MariaDB or SQLite".into()
        }
        NoIntrospector { .. } => return None,
        Replay { source, .. } => {
            return hint(source).map(|h| format!("the folder itself does not deploy: {h}"));
        }
        ScratchLeft { scratch, .. } => format!(
            "drop {scratch} by hand; drift names its scratch databases safemig_drift_* so they are easy to find"
        ),
    })
}

fn config(error: &ConfigError) -> Option<String> {
    use ConfigError::*;
    Some(match error {
        MissingUrl { variable, .. } => format!(
            "pass --url, or set {variable} (for example {variable}=\"file:./dev.db\" or postgresql://USER@HOST:5432/DB)"
        ),
        InvalidUrl { .. } => "check the URL's form: postgresql://USER:PASSWORD@HOST:PORT/DB?schema=public, mysql://USER:PASSWORD@HOST:PORT/DB or file:./dev.db; percent-encode special characters in the password".into(),
        UnsupportedScheme { .. } | UnsupportedProvider { .. } => {
            "safemig supports PostgreSQL, MySQL/MariaDB and SQLite; for Prisma Accelerate use the direct database URL".into()
        }
        MigrationsDirMissing { .. } => {
            "run safemig from the project folder that holds prisma/schema.prisma, or pass --dir PATH/TO/migrations".into()
        }
        MigrationScriptMissing { path, .. } => format!(
            "restore {} from version control, or delete the folder if the migration was never meant to exist",
            safemig::text::path(path)
        ),
        NotRegularFile { path, .. } => format!(
            "safemig reads only regular files (it would wait forever on a pipe, or read a device without end): put the file itself at {}",
            safemig::text::path(path)
        ),
        FileTooLarge { .. } => "load data of that size with the database's own bulk tools (COPY, LOAD DATA, .import) instead of a migration".into(),
        SymlinkLoop { path } => format!(
            "a link at or above {} points back to itself: fix it (`ls -l` shows where it points)",
            safemig::text::path(path)
        ),
        SqliteFolderMissing { folder, .. } => format!(
            "create the folder (`mkdir -p {}`), or fix the path in the database URL (relative paths are resolved from the folder of schema.prisma)",
            safemig::text::path(folder)
        ),
        ComputedConfig { instead, .. } => format!("pass {instead} instead"),
        DatasourceMismatch { declared, .. } => format!(
            "point --url / the datasource's variable at a {declared} database, or fix the datasource's provider"
        ),
        NotAFolder { path } => format!(
            "pass the folder that holds the migrations: {} is a file",
            safemig::text::path(path)
        ),
        NotUtf8 { .. } => "save the file as UTF-8 (Prisma reads migrations as UTF-8 too)".into(),
        DialectUnknown { .. } => "pass --dialect postgresql, mysql or sqlite".into(),
        InvalidLockFile { .. } => "migration_lock.toml should hold a line like provider = \"postgresql\"".into(),
        ProviderMismatch { locked, .. } => format!(
            "point --url / DATABASE_URL at a {locked} database, or use the migrations folder made for this provider"
        ),
        EnvironmentsFile { .. } => "fix the file: environments are [environments.NAME] tables with url, dir, schema, drift and tenants (README, \"safemig.toml\")".into(),
        NoEnvironmentsFile { .. } => "write a safemig.toml in the working directory (README, \"safemig.toml\"), pass --config FILE, or pass --url instead of --env".into(),
        UnknownEnvironment { .. } => "pass one of the environments the file defines, or add an [environments.NAME] table".into(),
        EnvironmentVariableUnset { variable, .. } => format!(
            "export {variable} with the environment's database URL, or correct the variable's name in the file"
        ),
        InvalidEnvironment { .. } => return None,
        FleetOption { .. } => {
            "configure the tenants in safemig.toml and pass --env NAME (README, \"Fleet deploys\")"
                .into()
        }
        TenantWithoutEnvironment { .. } => {
            "name the environment: safemig deploy --env NAME --tenant PATTERN".into()
        }
        Io { .. } => return None,
        NotWritable { .. } => "name a regular file (it is replaced whole), a new one, or `-` for standard output".into(),
        Write { .. } => "check that the folder exists and is writable, and that the disk has room".into(),
    })
}

fn database(error: &DatabaseError) -> Option<String> {
    use DatabaseError::*;
    Some(match error {
        Connect { .. } => "check that the server is running and reachable at that address (and the host and port in the URL)".into(),
        AuthenticationFailed { .. } => "check the user name and password in the URL (percent-encode special characters in the password)".into(),
        AccessDenied { .. } => "give this login the right to write: for a server, the privileges migrations need (or the database owner's login); for SQLite, write access to the file and its folder (SQLite writes a journal file beside the database)".into(),
        NotADatabase { target, .. } => format!(
            "check that the URL points at the database file; if {target} is damaged, restore it from a backup"
        ),
        ConnectionLost { .. } => "check that the server is up and reachable, then run `safemig deploy` again: an interrupted migration is resumed or rolled back, never half-recorded".into(),
        DatabaseMissing { .. } => "create the database first (CREATE DATABASE …), or fix the database name in the URL".into(),
        LockTimeout { .. } => "another deploy is running: wait for it, or raise --lock-timeout; if the holder is stuck, end its session, or the session holding what it waits for".into(),
        Query { .. } => return None,
    })
}

fn deploy(error: &DeployError) -> Option<String> {
    use DeployError::*;
    Some(match error {
        PrismaNext { .. } => "apply its migrations with Prisma 8 (`prisma db migrate`); safemig applies Prisma 7 and earlier's migrations, and will not apply them to a database handed over to Prisma 8".into(),
        NotEmpty { .. } => "baseline it: for each migration already reflected in the schema run `safemig resolve --applied NAME`, then `safemig deploy` (https://pris.ly/d/migrate-baseline)".into(),
        FailedMigrations { failed, .. } => {
            let name = failed
                .first()
                .map(|f| safemig::text::shell_arg(&f.name))
                .unwrap_or_else(|| "NAME".into());
            let clean = failed
                .first()
                .and_then(|f| f.logs.as_deref())
                .and_then(safemig::journal::Journal::from_logs)
                .and_then(|j| j.retry_from.map(|k| (k, j.refused)));
            match clean {
                Some((k, refused)) => format!(
                    "statement {} failed and applied nothing: {}, then run `safemig deploy`, which retries from it (the statements before it stay applied); or resolve the row by hand: `safemig resolve --rolled-back {name}` or `safemig resolve --applied {name}`",
                    k + 1,
                    if refused {
                        "raise the server limit the error names (or split the statement)"
                    } else {
                        "fix it in the migration's migration.sql"
                    }
                ),
                None => format!(
                    "run `safemig repair {name}`: it tells from the schema how much of the migration is applied and what `--apply` would do; or fix the database by hand, then run `safemig resolve --rolled-back {name}` to retry it, or `safemig resolve --applied {name}` if its changes are complete"
                ),
            }
        }
        MigrationFailed { script, applied: Applied::Nothing, .. } => format!(
            "fix {} and run `safemig deploy` again; nothing needs to be resolved",
            safemig::text::path(script)
        ),
        MigrationFailed { script, applied: Applied::Before(k), .. } => format!(
            "fix the cause (the statement in {}, or what the message names) and run `safemig deploy` again: it continues from statement {}, the statements before it stay applied; nothing needs to be resolved",
            safemig::text::path(script),
            k + 1
        ),
        MigrationFailed { name, applied: Applied::Unknown, .. } => {
            let name = safemig::text::shell_arg(name);
            format!(
                "some of its statements may have been applied: inspect the database, then run `safemig resolve --rolled-back {name}` after undoing them or `safemig resolve --applied {name}` after completing them"
            )
        }
        Interrupted { .. } => "run `safemig deploy` again to finish; nothing needs to be resolved".into(),
        CannotResume { name, inspect, .. } => {
            let name = safemig::text::shell_arg(name);
            format!(
                "{inspect}; then run `safemig resolve --applied {name}` if the migration's changes are all there, or undo them and run `safemig resolve --rolled-back {name}`"
            )
        }
    })
}

fn resolve(error: &ResolveError) -> Option<String> {
    use ResolveError::*;
    Some(match error {
        UnknownMigration { .. } => {
            "run `safemig status` to list the migrations safemig knows".into()
        }
        AlreadyApplied { .. } | NeverApplied { .. } | NotFailed { .. } => {
            "run `safemig status` to see the migration's state".into()
        }
    })
}

fn supervise(error: &SuperviseError) -> Option<String> {
    use SuperviseError::*;
    Some(match error {
        NoCommand => "safemig run [OPTIONS] -- COMMAND [ARGS…]".into(),
        InvalidGracePeriod { .. } => "give the grace period in seconds, e.g. SAFEMIG_GRACE_PERIOD=30".into(),
        Spawn { .. } => "check the command and that it is installed in the image (PATH is searched)".into(),
        StopTimeoutTooLong { grace, .. } => format!(
            "pass --stop-timeout below {}s (leave a few seconds of margin), or raise the runtime's grace period (compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`)",
            grace.as_secs_f32()
        ),
        NotUpToDate { .. } => "run `safemig status` to see why; with --migrate=deploy safemig applies pending migrations itself".into(),
        SignalHandlers { .. } => return None,
    })
}

fn lint(error: &LintError) -> Option<String> {
    use LintError::*;
    Some(match error {
        InvalidCompose { .. } => {
            "check the file is a compose file (YAML with a `services:` mapping)".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Internal errors are bugs or the environment's: there is no command to suggest.
    #[test]
    fn internal_errors_have_no_next_step() {
        let error = Error::Supervise(SuperviseError::SignalHandlers {
            source: std::io::Error::other("no more signal slots"),
        });
        assert_eq!(hint(&error), None);
        let query = Error::Database(DatabaseError::Query {
            action: "reading".into(),
            target: "db".into(),
            message: "boom".into(),
        });
        assert_eq!(hint(&query), None);
    }
}
