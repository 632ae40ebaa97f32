//! The `next:` line under an error: what to do about it, naming safemig's (and Prisma's)
//! commands. It belongs to the command line, not to the library's errors: `serve` and
//! other callers show errors without telling anyone to run a command. Errors that are a
//! state of the database (a failed migration, an interrupted deploy) take their step from
//! [`safemig::diagnosis`], as `status` and `check` do. Commands are [`Advice`], which the
//! printer renders on the target the person selected (`--env`, `--tenant`, `--url`, …).

use safemig::advice::Advice;
use safemig::diagnosis;
use safemig::error::{
    Applied, ConfigError, DatabaseError, DeployError, DriftError, Error, LintError, RepairError,
    ResolveError, ServeError, SuperviseError,
};

/// The next thing to do about `error`, if there is one.
pub(crate) fn hint(error: &Error) -> Option<Advice> {
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

fn serve(error: &ServeError) -> Option<Advice> {
    use ServeError::*;
    Some(match error {
        Bind { .. } => Advice::text(
            "pass another --listen address: the port may be taken (`ss -ltnp`), or the address not one of this host's",
        ),
    })
}

fn repair(error: &RepairError) -> Option<Advice> {
    use RepairError::*;
    Some(match error {
        NotInFolder { .. } => {
            Advice::text("restore the migration's folder (from version control), or pass --dir")
        }
        LaterApplied { .. } => Advice::text("run ")
            .run(&["drift"])
            .then(" to see how the schema differs from the migrations folder"),
        AheadOfHistory { name, .. } => diagnosis::failed(name),
        SeveralFailed { names } => match names.first() {
            Some(first) => Advice::text("run ")
                .run(&["repair", first])
                .then(", then repair the next"),
            None => return None,
        },
        StatementFailsOnScratch { .. } => Advice::text(
            "the migration does not run on an empty copy of the schema: see which statement fails above, and resolve the row by hand",
        ),
        Replay { source, .. } => match &**source {
            Error::Deploy(DeployError::MigrationFailed { name, script, .. }) => {
                Advice::text(format!(
                    "{}, so repair cannot build the repaired migration's states: make {} run on one, then run repair again",
                    fails_on_an_empty_database(name),
                    safemig::text::path(script)
                ))
            }
            source => return hint(source),
        },
        ScratchLeft { scratch, .. } => Advice::text(format!(
            "drop {scratch} by hand; repair names its scratch databases safemig_repair_* so they are easy to find"
        )),
        FinishNeeded { name, assumed, .. } => {
            let with = |direction: &str| {
                let mut args = vec![name.clone(), "--apply".into(), direction.into()];
                if let Some(k) = assumed {
                    args.extend(["--assume-applied".into(), safemig::repair::assumption(*k)]);
                }
                args
            };
            Advice::text("run ")
                .run(&[&["repair".to_string()][..], &with("--finish")].concat())
                .then(" to run the remaining statements, or ")
                .run(&[&["repair".to_string()][..], &with("--roll-back")].concat())
                .then(" to undo the applied ones")
        }
        RowChanged { name } => Advice::text("run ")
            .run(&["repair", name])
            .then(" again: it classifies the row as it is now"),
        AssumptionContradicted { name, .. } => Advice::text("run ").run(&["repair", name]).then(
            " to see which states the schema matches; --assume-applied can only choose among them",
        ),
        AssumptionMalformed { .. } => {
            Advice::text("write --assume-applied 1,2,3 or 1-3 (statements 1 to 3 ran), or none")
        }
        RollBackNotExpressible { name, .. } => Advice::text("finish the migration instead: ")
            .run(&["repair", name, "--apply", "--finish"])
            .then("; or undo these objects by hand and run ")
            .run(&["repair", name])
            .then(" again"),
        RollBackLosesData { name, .. } => Advice::text("keep the data: finish the migration with ")
            .run(&["repair", name, "--apply", "--finish"])
            .then("; or, once the data is saved elsewhere, ")
            .run(&[
                "repair",
                name,
                "--apply",
                "--roll-back",
                "--allow-data-loss",
            ]),
        RollBackIncomplete { name, .. }
        | RollBackFailed { name, .. }
        | InvalidIndexNotDropped { name, .. } => Advice::text("run ")
            .run(&["repair", name])
            .then(" to see where the schema is now"),
        RollBackTableLocked { name, .. } => {
            Advice::text("end the session that holds the table (or wait for it), then run ")
                .run(&["repair", name])
                .then(" again")
        }
        NotHealable { name, .. } => Advice::text("run ")
            .run(&["repair", name])
            .then(" to see the evidence and decide; nothing was written"),
    })
}

fn drift(error: &DriftError) -> Option<Advice> {
    use DriftError::*;
    Some(match error {
        NoFolder => return None,
        NoServer => {
            Advice::text("pass --url (the scratch database is made on its server) or --shadow-url")
        }
        SnapshotUnreadable { .. } => Advice::text(
            "--against takes a database URL (with its scheme), environment:NAME, or a file written by safemig snapshot --output",
        ),
        ProviderMismatch { .. } => Advice::text(
            "compare databases of one provider: --url and --against must both be PostgreSQL, MySQL/MariaDB or SQLite",
        ),
        NoIntrospector { .. } => return None,
        // The replay's failure is about the folder on an empty database, not about the
        // database compared: deploy's own advice ("fix it, then deploy") would send the
        // person to deploy the live database.
        Replay { source, .. } => match &**source {
            Error::Deploy(DeployError::MigrationFailed { name, script, .. }) => Advice::text(
                format!(
                    "{}, so drift cannot build the folder's schema: make {} run on one (or pass --shadow-url with a server that has what it needs), then run ",
                    fails_on_an_empty_database(name),
                    safemig::text::path(script)
                ),
            )
            .run(&["drift"])
            .then(" again"),
            source => return hint(source),
        },
        ScratchLeft { scratch, .. } => Advice::text(format!(
            "drop {scratch} by hand; drift names its scratch databases safemig_drift_* so they are easy to find"
        )),
        Stopped { .. } => Advice::text("nothing needs to be resolved; run ")
            .run(&["drift"])
            .then(" again to compare"),
    })
}

/// A migration a replay into a scratch database could not apply: the folder's problem on an
/// empty database, not the database being looked at.
fn fails_on_an_empty_database(name: &str) -> String {
    format!(
        "`{}` does not run on an empty database",
        safemig::text::escaped(name)
    )
}

fn config(error: &ConfigError) -> Option<Advice> {
    use ConfigError::*;
    let path = |p: &std::path::Path| safemig::text::path(p).to_string();
    Some(Advice::text(match error {
        InEnvironment { source, .. } => return config(source),
        MissingUrl { variable, .. } => format!(
            "pass --url, or set {variable} (for example {variable}=\"file:./dev.db\" or postgresql://USER@HOST:5432/DB)"
        ),
        EnvFileNotLoaded { variable, config, .. } => format!(
            "load it in {} as Prisma 7 needs too (`import \"dotenv/config\"` loads ./.env; `config({{ path: \"FILE\" }})` from \"dotenv\" another file), or set {variable}, or pass --url",
            path(config)
        ),
        UrlInSchemaAndConfig { field, .. } => format!(
            "remove `{field}` from the datasource block: the URL is read from the config's datasource.url"
        ),
        PrismaNextConfig { .. } => "name a Prisma 7 config (a project that keeps Prisma 7 migrations names it prisma7.config.*), or pass --schema and --dir".into(),
        InvalidUrl { .. } => "check the URL's form: postgresql://USER:PASSWORD@HOST:PORT/DB?schema=public, mysql://USER:PASSWORD@HOST:PORT/DB or file:./dev.db; percent-encode special characters in the password".into(),
        UnsupportedScheme { .. } | UnsupportedProvider { .. } => {
            "safemig supports PostgreSQL, MySQL/MariaDB and SQLite; for Prisma Accelerate use the direct database URL".into()
        }
        MigrationsDirMissing { .. } => {
            "run safemig from the project folder that holds prisma/schema.prisma, or pass --dir with the migrations folder".into()
        }
        MigrationScriptMissing { path: p, .. } => format!(
            "restore {} from version control; or, if the migration was never meant to exist, delete its folder: `rm -r {}`",
            path(p),
            safemig::text::shell_arg(&p.parent().unwrap_or(p).to_string_lossy())
        ),
        NotRegularFile { path: p, .. } => format!(
            "safemig reads only regular files (it would wait forever on a pipe, or read a device without end): put the file itself at {}",
            path(p)
        ),
        FileTooLarge { .. } => "load data of that size with the database's own bulk tools (COPY, LOAD DATA, .import) instead of a migration".into(),
        SymlinkLoop { path: p } => format!(
            "a link at or above {} points back to itself: fix it (`ls -l` shows where it points)",
            path(p)
        ),
        SqliteFolderMissing { folder, .. } => format!(
            "create the folder (`mkdir -p {}`), or fix the path in the database URL (relative paths are resolved from the folder of schema.prisma)",
            safemig::text::shell_arg(&folder.to_string_lossy())
        ),
        ComputedConfig { instead, .. } => format!("pass {instead} instead"),
        DatasourceMismatch { declared, .. } => format!(
            "point --url / the datasource's variable at a {declared} database, or fix the datasource's provider"
        ),
        NotAFolder { path: p } => format!(
            "pass the folder that holds the migrations: {} is a file",
            path(p)
        ),
        NotUtf8 { .. } => "save the file as UTF-8 (Prisma reads migrations as UTF-8 too)".into(),
        DialectUnknown { .. } => "pass --dialect postgresql, mysql or sqlite".into(),
        InvalidLockFile { .. } => "migration_lock.toml should hold a line like provider = \"postgresql\"".into(),
        ProviderMismatch { locked, .. } => format!(
            "point --url / DATABASE_URL at a {locked} database, or use the migrations folder made for this provider"
        ),
        EnvironmentsFile { .. } => "fix the file: environments are [environments.NAME] tables with url, dir, schema, drift and tenants (docs/reference/safemig-toml.md)".into(),
        NoEnvironmentsFile { .. } => "write a safemig.toml in the working directory (docs/reference/safemig-toml.md), pass --config with its path (a .toml file), or pass --url instead of --env".into(),
        UnknownEnvironment { .. } => "pass one of the environments the file defines, or add an [environments.NAME] table".into(),
        EnvironmentVariableUnset { variable, .. } => format!(
            "export {variable} with the environment's database URL, or correct the variable's name in the file"
        ),
        InvalidEnvironment { .. } => return None,
        FleetOption { .. } => {
            "configure the tenants in safemig.toml and pass --env with the environment's name (docs/commands/deploy.md)".into()
        }
        TenantWithoutEnvironment { .. } => {
            "name the environment too: --env with its name, then --tenant".into()
        }
        Io { .. } => return None,
        NotWritable { .. } => "name a regular file (it is replaced whole), a new one, or - for standard output".into(),
        Write { .. } => "check that the folder exists and is writable, and that the disk has room".into(),
    }))
}

fn database(error: &DatabaseError) -> Option<Advice> {
    use DatabaseError::*;
    Some(match error {
        Connect { .. } => Advice::text(
            "check that the server is running and reachable at that address (and the host and port in the URL)",
        ),
        AuthenticationFailed { .. } => Advice::text(
            "check the user name and password in the URL (percent-encode special characters in the password)",
        ),
        AccessDenied { .. } => Advice::text(
            "give this login the right to write: for a server, the privileges migrations need (or the database owner's login); for SQLite, write access to the file and its folder (SQLite writes a journal file beside the database)",
        ),
        NotADatabase { target, .. } => Advice::text(format!(
            "check that the URL points at the database file; if {target} is damaged, restore it from a backup"
        )),
        ConnectionLost { .. } => Advice::text("check that the server is up and reachable, then ")
            .and(diagnosis::interrupted()),
        DatabaseMissing { .. } => Advice::text(
            "create the database first (CREATE DATABASE …), or fix the database name in the URL",
        ),
        LockTimeout { .. } => Advice::text(
            "another deploy is running: wait for it, or raise --lock-timeout; if the holder is stuck, end its session, or the session holding what it waits for",
        ),
        Query { .. } => return None,
    })
}

fn deploy(error: &DeployError) -> Option<Advice> {
    use DeployError::*;
    Some(match error {
        PrismaNext { .. } => Advice::text("apply its migrations with Prisma 8 (`prisma db migrate`); safemig applies Prisma 7 and earlier's migrations, and will not apply them to a database handed over to Prisma 8"),
        NotEmpty { .. } => diagnosis::baseline(),
        FailedMigrations { failed, .. } => {
            let first = failed.first()?;
            diagnosis::failed_row(&first.name, first.logs.as_deref())
        }
        MigrationFailed { script, applied: Applied::Nothing, .. } => Advice::text(format!(
            "fix {}, then run ",
            safemig::text::path(script)
        ))
        .run(&["deploy"])
        .then("; nothing needs to be resolved"),
        MigrationFailed { script, applied: Applied::Before(k), .. } => Advice::text(format!(
            "fix the cause (the statement in {}, or what the message names), then run ",
            safemig::text::path(script)
        ))
        .run(&["deploy"])
        .then(format!(
            ": it continues from statement {}, the statements before it stay applied; nothing needs to be resolved",
            k + 1
        )),
        MigrationFailed { name, applied: Applied::Unknown, .. } => diagnosis::failed(name),
        Interrupted { .. } => diagnosis::interrupted(),
        TableLocked { .. } => Advice::text(
            "end the session that holds the table (or wait until it commits), then run ",
        )
        .run(&["deploy"])
        .then("; to wait longer, add --table-lock-retry-for with more seconds"),
        SchemaContradictsJournal { name, .. } => diagnosis::failed(name),
        CannotResume { name, inspect, .. } => Advice::text(format!("{inspect}; then run "))
            .run(&["resolve", "--applied", name])
            .then(" if the migration's changes are all there, or undo them and run ")
            .run(&["resolve", "--rolled-back", name]),
    })
}

fn resolve(error: &ResolveError) -> Option<Advice> {
    use ResolveError::*;
    Some(match error {
        UnknownMigration { .. } => Advice::text("run ")
            .run(&["status"])
            .then(" to list the migrations safemig knows"),
        AlreadyApplied { .. } | NeverApplied { .. } | NotFailed { .. } => Advice::text("run ")
            .run(&["status"])
            .then(" to see the migration's state"),
    })
}

fn supervise(error: &SuperviseError) -> Option<Advice> {
    use SuperviseError::*;
    Some(Advice::text(match error {
        NoCommand => "put the app's command after --, as in safemig run -- node server.js".into(),
        InvalidGracePeriod { .. } => {
            "give the runtime's grace period in seconds, e.g. SAFEMIG_GRACE_PERIOD=30 or --grace-period 30".into()
        }
        Spawn { .. } => {
            "check the command and that it is installed in the image (PATH is searched)".into()
        }
        StopTimeoutTooLong {
            longest,
            grace_needed,
            ..
        } => {
            let needed = grace_needed.as_secs_f64().ceil();
            format!(
                "leave out --stop-timeout (safemig then stops the app after {}s); or, if the runtime really waits {needed}s or longer, declare it: --grace-period {needed} (or SAFEMIG_GRACE_PERIOD={needed}), with the runtime's own setting to match (compose's stop_grace_period, podman run --stop-timeout, Kubernetes' terminationGracePeriodSeconds)",
                longest.as_secs_f32()
            )
        }
        DrainDelayTooLong { stop_timeout, .. } => format!(
            "pass a --drain-delay well below {}s, or declare a longer grace period (--grace-period) if the runtime gives one",
            stop_timeout.as_secs_f32()
        ),
        NotUpToDate { .. } => {
            return Some(Advice::text("run ").run(&["status"]).then(
                " to see why; with --migrate=deploy safemig applies pending migrations itself",
            ));
        }
        ForecastExceeds { .. } => {
            return Some(
                Advice::text("run ")
                    .run(&["deploy"])
                    .then(" as a one-off job before starting the app (no stop deadline cuts it short there); or start with --forecast=warn to migrate at start-up anyway"),
            );
        }
        ScratchLeft { scratch, .. } => format!(
            "drop {scratch} by hand; the drill names its scratch databases safemig_drill_* so they are easy to find"
        ),
        StoppedWaitingForDatabase { .. } | SignalHandlers { .. } => return None,
    }))
}

fn lint(error: &LintError) -> Option<Advice> {
    use LintError::*;
    Some(match error {
        InvalidCompose { .. } => {
            Advice::text("check the file is a compose file (YAML with a services: mapping)")
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
