//! The command line: parses arguments, calls the library, prints. One module per command
//! (each parses its own arguments, calls one library function that returns a typed
//! report, and prints it through [`output`]); no database access or policy lives here.

mod check;
mod completions;
mod deploy;
mod drift;
mod drill;
mod forecast;
mod hints;
mod lint;
mod long_statement;
mod man;
mod output;
mod repair;
mod resolve;
mod run;
mod serve;
mod signals;
mod snapshot;
mod split;
mod status;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use safemig::advice::Target;
use safemig::config::environments::Environments;
use safemig::config::{Locations, Project};
use safemig::context::Context;
use safemig::database_url::DatabaseUrl;
use safemig::environment::{self as check_lib, Prepared};
use safemig::error::ConfigError;
use safemig::lock::LockOptions;
use safemig::migrations::MigrationsDir;
use safemig::{Error, ExitCode};

use output::Printer;
use signals::{Policy, StopSignals};

#[derive(Debug, Parser)]
#[command(
    name = "safemig",
    version = env!("SAFEMIG_LONG_VERSION"),
    about = "Crash-safe Prisma migrations for PostgreSQL, MySQL/MariaDB and SQLite",
    long_about = "Crash-safe Prisma migrations for PostgreSQL, MySQL/MariaDB and SQLite.\n\n\
                  Reads prisma/migrations and _prisma_migrations exactly as Prisma does. \
                  Every command's exit code is listed below and by `safemig exit-codes`."
)]
struct Cli {
    /// The project options written before the command (`safemig --url URL deploy`), as
    /// every release so far has accepted them. They are not global: only the commands
    /// that take them accept them, before or after their name (see [`ProjectArgs::or`]).
    #[command(flatten)]
    before: ProjectArgs,

    /// Log more on stderr (-v: info, -vv: debug); SAFEMIG_LOG overrides
    // Listed after each command's own options, as before the options were per command.
    #[arg(short, long, global = true, action = ArgAction::Count, display_order = 900)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Parses the command line; exits on a usage error, as clap does.
    fn parse_args() -> Cli {
        let matches = command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        cli.forget_default_lock_timeouts(&matches);
        refuse_repeated_config_files(&matches);
        cli
    }

    /// A default `--lock-timeout` after the command must not hide one typed before it
    /// (`safemig --lock-timeout 60 deploy`), so defaults are dropped here, and applied
    /// again when nothing was typed ([`ProjectArgs::context`]).
    fn forget_default_lock_timeouts(&mut self, matches: &ArgMatches) {
        let typed = |matches: &ArgMatches| {
            matches.value_source("lock_timeout") == Some(ValueSource::CommandLine)
        };
        if !typed(matches) {
            self.before.lock.lock_timeout = None;
        }
        let project = match &mut self.command {
            Command::Status(args) => &mut args.project,
            Command::Deploy(args) => &mut args.project,
            Command::Resolve(args) => &mut args.project,
            Command::Run(args) => &mut args.project,
            Command::Drift(args) => &mut args.project,
            Command::Repair(args) => &mut args.project,
            Command::Snapshot(args) => &mut args.project,
            Command::Drill(args) => &mut args.project,
            Command::Forecast(args) => &mut args.project,
            _ => return,
        };
        if !matches.subcommand().is_some_and(|(_, sub)| typed(sub)) {
            project.lock.lock_timeout = None;
        }
    }
}

/// The parser's definition with what only runs can add: the exit codes (one table, in
/// [`ExitCode::table`]) under `--help`, in the man page and as `exit-codes`' own help.
pub(crate) fn command() -> clap::Command {
    let codes = format!("Exit codes:\n{}", ExitCode::table());
    Cli::command()
        .after_long_help(codes.clone())
        .mut_subcommand("exit-codes", |sub| sub.after_long_help(codes))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare the migrations folder with the database's history. Exit code 0 only when
    /// every migration is applied and nothing disagrees
    Status(status::StatusArgs),
    /// Apply pending migrations, like `prisma migrate deploy`, crash-safe: an interrupted
    /// deploy is finished by the next one
    Deploy(deploy::DeployArgs),
    /// Record a migration as applied or rolled back without running it, like `prisma migrate
    /// resolve`
    Resolve(resolve::ResolveArgs),
    /// Run the app as the container's init: migrate first, forward signals, stop it before
    /// the runtime's deadline. Use as ENTRYPOINT ["safemig", "run", "--"]
    Run(run::RunArgs),
    /// Compare the database's schema and history with the migrations folder (replayed into
    /// a scratch database), another database, or a snapshot. Exit code 0: no drift; 14: drift
    Drift(drift::DriftArgs),
    /// Classify a failed migration from the schema (none, all, partial k of n, ambiguous,
    /// diverged) and, with --apply, correct the history accordingly. Exit code 0: nothing to
    /// repair or repairable; 5: a person must decide
    Repair(repair::RepairArgs),
    /// Print the database's schema and history as JSON, for `safemig drift --against FILE`
    Snapshot(snapshot::SnapshotArgs),
    /// Estimate, before they run, what the pending migrations lock and for how long on the
    /// live tables. Exit code 0: within the budget; 16: over it; 17: an unknown effect
    Forecast(forecast::ForecastArgs),
    /// Start the app under `safemig run` N times, stop it with SIGTERM, and check that every
    /// stop is clean and inside the grace period
    Drill(drill::DrillArgs),
    /// Check files around the app for settings that break clean stops
    #[command(subcommand)]
    Lint(lint::LintCommand),
    /// Show how a migration file splits into statements, and what kind each one is
    Split(split::SplitArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Print a manual page in roff: `safemig man | man -l -`
    Man(man::ManArgs),
    /// Print every exit code and what it means (also under `safemig --help`)
    ExitCodes,
    /// Check the environments of safemig.toml (and their tenants): status, lock holder and
    /// drift, read only. Exit code: the worst state's (`safemig exit-codes`)
    Check(check::CheckArgs),
    /// Serve Prometheus metrics of the environments of safemig.toml (/metrics, /probe),
    /// readiness for their apps (/readyz) and the check report (/status) until SIGTERM
    Serve(serve::ServeArgs),
}

/// `--url` or `--env`: the database, for the commands that work on it.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct DatabaseArgs {
    /// Database URL [default: DATABASE_URL (or the variable schema.prisma names) from the
    /// environment or a .env file]
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// An environment of safemig.toml instead of --url: its URL, and its migrations folder
    /// and schema unless --dir or --schema is given
    #[arg(long, value_name = "NAME", conflicts_with = "url")]
    env: Option<String>,

    /// With --env: only the environment's tenants matching PATTERN (`*` any characters,
    /// `?` one; a tenant file also matches by its file name). deploy, status and drift
    /// work on every tenant it selects; the other commands need it to name exactly one
    #[arg(long, value_name = "PATTERN")]
    tenant: Option<String>,
}

/// `--dir` and `--schema`: where the migrations are.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct FolderArgs {
    /// Migrations folder [default: migrations/ next to schema.prisma, else prisma/migrations]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Prisma schema file [default: prisma/schema.prisma when present]
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
}

/// A file `--config` names: Prisma's config file or safemig's environments file, told apart
/// by the extension, so that a Prisma user's `safemig deploy --config prisma.config.ts`
/// means what it means to Prisma and `--config safemig.toml` what it always meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigFile {
    /// `.ts`, `.mts`, `.cts`, `.js`, `.mjs`, `.cjs`: read instead of the one Prisma would
    /// find (and relative SQLite paths of its URL open from its folder, as with Prisma).
    Prisma(PathBuf),
    /// `.toml`: the environments, instead of `./safemig.toml`.
    Environments(PathBuf),
}

impl ConfigFile {
    fn parse(text: &str) -> Result<ConfigFile, String> {
        let path = PathBuf::from(text);
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if extension == "toml" {
            Ok(ConfigFile::Environments(path))
        } else if safemig::config::PRISMA_CONFIG_EXTENSIONS.contains(&extension) {
            Ok(ConfigFile::Prisma(path))
        } else {
            Err(format!(
                "{text} is neither a Prisma config file (.ts, .mts, .cts, .js, .mjs, .cjs) nor a safemig environments file (.toml)"
            ))
        }
    }

    /// The path as given.
    pub(crate) fn path(&self) -> &Path {
        match self {
            ConfigFile::Prisma(path) | ConfigFile::Environments(path) => path,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ConfigFile::Prisma(_) => "a Prisma config file",
            ConfigFile::Environments(_) => "an environments file",
        }
    }
}

/// `--config FILE`, at most once for each kind of file, in the order given.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ConfigArgs {
    /// Prisma config file (.ts .mts .cts .js .mjs .cjs), as Prisma's --config, or
    /// environments file (.toml) [default: found as Prisma finds it; ./safemig.toml]
    #[arg(
        long = "config",
        value_name = "FILE",
        value_parser = ConfigFile::parse,
        action = ArgAction::Append,
        display_order = 899
    )]
    pub(crate) files: Vec<ConfigFile>,
}

impl ConfigArgs {
    /// The Prisma config file named.
    fn prisma(&self) -> Option<PathBuf> {
        self.files.iter().find_map(|file| match file {
            ConfigFile::Prisma(path) => Some(path.clone()),
            ConfigFile::Environments(_) => None,
        })
    }

    /// The environments file named.
    fn environments(&self) -> Option<&Path> {
        self.files.iter().find_map(|file| match file {
            ConfigFile::Environments(path) => Some(path.as_path()),
            ConfigFile::Prisma(_) => None,
        })
    }

    /// These files, completed by those given before the command name: for each kind, the
    /// one after the name wins.
    fn or(self, before: ConfigArgs) -> ConfigArgs {
        let mut files = self.files;
        for file in before.files {
            if !files.iter().any(|f| f.kind() == file.kind()) {
                files.push(file);
            }
        }
        ConfigArgs { files }
    }

    /// `--config FILE` for each file, as given, for the commands advice suggests.
    pub(crate) fn target(&self) -> Target {
        self.files.iter().fold(Target::default(), |target, file| {
            target.flag("--config", &file.path().to_string_lossy())
        })
    }

    /// The usage error for two files of one kind.
    fn repeated(&self) -> Option<String> {
        self.files.iter().enumerate().find_map(|(i, file)| {
            let other = self.files[..i].iter().find(|f| f.kind() == file.kind())?;
            Some(format!(
                "--config names {} twice ({} and {}): give at most one of each kind",
                file.kind(),
                other.path().display(),
                file.path().display()
            ))
        })
    }
}

/// `--config` names at most one file of each kind, before the command name and after it
/// alike (clap exits with a usage error, 2).
fn refuse_repeated_config_files(matches: &ArgMatches) {
    let levels = std::iter::once(matches).chain(matches.subcommand().map(|(_, sub)| sub));
    for level in levels {
        let files = match level.try_get_many::<ConfigFile>("files") {
            Ok(Some(files)) => files.cloned().collect(),
            _ => continue,
        };
        if let Some(message) = (ConfigArgs { files }).repeated() {
            Cli::command()
                .error(ErrorKind::ArgumentConflict, message)
                .exit();
        }
    }
}

/// `--lock-timeout`: how long to wait for another process's migration lock.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct LockArgs {
    // A clap default, so help, man pages and completions show it; `None` once
    // [`Cli::forget_default_lock_timeouts`] has run, unless typed.
    /// Seconds to wait for another process's migration lock
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    lock_timeout: Option<Duration>,
}

/// The options of the commands that work on the project's database: status, deploy,
/// resolve, run (for its pre-start migration), drift, repair and snapshot.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ProjectArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    folder: FolderArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

impl ProjectArgs {
    /// These options, completed by those written before the command name; after it wins.
    fn or(self, before: ProjectArgs) -> ProjectArgs {
        ProjectArgs {
            // The database as a whole: `--url` after the command replaces `--env` before it.
            database: {
                let tenant = self
                    .database
                    .tenant
                    .clone()
                    .or(before.database.tenant.clone());
                let chosen = if self.database.url.is_some() || self.database.env.is_some() {
                    self.database
                } else {
                    before.database
                };
                DatabaseArgs { tenant, ..chosen }
            },
            folder: FolderArgs {
                dir: self.folder.dir.or(before.folder.dir),
                schema: self.folder.schema.or(before.folder.schema),
            },
            lock: LockArgs {
                lock_timeout: self.lock.lock_timeout.or(before.lock.lock_timeout),
            },
            config: self.config.or(before.config),
        }
    }

    /// The flags given, by name.
    fn given(&self) -> Vec<&'static str> {
        [
            ("--url", self.database.url.is_some()),
            ("--env", self.database.env.is_some()),
            ("--tenant", self.database.tenant.is_some()),
            ("--dir", self.folder.dir.is_some()),
            ("--schema", self.folder.schema.is_some()),
            ("--lock-timeout", self.lock.lock_timeout.is_some()),
            ("--config", !self.config.files.is_empty()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }

    /// The environment's tenants when `--env` names an environment with tenants (deploy,
    /// status and drift then work on each tenant `--tenant` selects); `None` otherwise.
    pub(crate) fn fleet(&self) -> Result<Option<Prepared>, Error> {
        self.refuse_tenant_without_env()?;
        let Some(name) = &self.database.env else {
            return Ok(None);
        };
        let environments = Environments::require(self.config.environments())?;
        let environment = environments.get(name)?;
        if environment.tenants.is_none() {
            return Ok(None);
        }
        for warning in environment.warnings() {
            output::stderr_line(&format!("warning: {warning}"));
        }
        let lookup = |name: &str| std::env::var(name).ok();
        let mut prepared = check_lib::prepare(&environments, name, &lookup, &self.locations())?;
        output::not_utf8_warnings(&prepared.dir);
        prepared.tenant_filter = self.database.tenant.clone();
        Ok(Some(prepared))
    }

    /// The database as the person selected it, for the commands advice suggests: the same
    /// flags, so a pasted command reaches the same database.
    pub(crate) fn target(&self) -> Target {
        let mut target = Target::default();
        if let Some(url) = &self.database.url {
            target = target.url(url, std::env::vars());
        }
        if let Some(env) = &self.database.env {
            target = target.env(env);
        }
        if let Some(tenant) = &self.database.tenant {
            target = target.tenant(tenant);
        }
        target.and(self.folder_target())
    }

    /// The flags besides the database: `--config`, `--dir`, `--schema`. Commands over an
    /// environment's tenants add `--env` and each tenant's `--tenant` to them.
    pub(crate) fn folder_target(&self) -> Target {
        let mut target = self.config.target();
        if let Some(dir) = &self.folder.dir {
            target = target.flag("--dir", &dir.to_string_lossy());
        }
        if let Some(schema) = &self.folder.schema {
            target = target.flag("--schema", &schema.to_string_lossy());
        }
        target
    }

    /// The drift comparison `--env`'s environment configures, resolved; `None` without
    /// `--env` or when it configures none.
    pub(crate) fn environment_drift(
        &self,
    ) -> Result<Option<safemig::environment::PreparedDrift>, Error> {
        let Some(name) = &self.database.env else {
            return Ok(None);
        };
        let environments = Environments::require(self.config.environments())?;
        if environments.get(name)?.drift.is_none() {
            return Ok(None);
        }
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(check_lib::prepare(&environments, name, &lookup, &self.locations())?.drift)
    }

    /// Whether `--env` names an environment with `strict = true`.
    pub(crate) fn environment_is_strict(&self) -> Result<bool, Error> {
        match &self.database.env {
            None => Ok(false),
            Some(name) => Ok(Environments::require(self.config.environments())?
                .get(name)?
                .strict),
        }
    }

    /// Where `--dir`, `--schema` and a Prisma `--config` say the project is.
    fn locations(&self) -> Locations {
        Locations {
            dir: self.folder.dir.clone(),
            schema: self.folder.schema.clone(),
            config: self.config.prisma(),
        }
    }

    /// The lock as `--lock-timeout` and the environment set it.
    pub(crate) fn lock_options(&self) -> LockOptions {
        LockOptions::from_environment(self.lock_timeout())
    }

    fn lock_timeout(&self) -> Duration {
        self.lock
            .lock_timeout
            .unwrap_or(LockOptions::default().timeout)
    }

    fn refuse_tenant_without_env(&self) -> Result<(), Error> {
        match (&self.database.tenant, &self.database.env) {
            (Some(pattern), None) => Err(Error::Config(ConfigError::TenantWithoutEnvironment {
                pattern: pattern.clone(),
            })),
            _ => Ok(()),
        }
    }

    /// Locates the project and resolves its database (project notices go to stderr).
    /// With `--tenant`, the database is that one tenant of the environment.
    pub(crate) fn context(&self) -> Result<Context, Error> {
        self.refuse_tenant_without_env()?;
        let lookup = |name: &str| std::env::var(name).ok();
        let (url, locations) = match &self.database.env {
            None => (self.database.url.clone(), self.locations()),
            Some(name) => {
                let environments = Environments::require(self.config.environments())?;
                let environment = environments.get(name)?;
                for warning in environment.warnings() {
                    output::stderr_line(&format!("warning: {warning}"));
                }
                let locations = Locations {
                    dir: self.folder.dir.clone().or(environment.dir.clone()),
                    schema: self.folder.schema.clone().or(environment.schema.clone()),
                    config: self.config.prisma(),
                };
                if let Some(tenant) = &self.database.tenant {
                    let url = self.one_tenant(&environments, name, tenant)?;
                    let project = Project::locate(&locations)?;
                    return Context::for_url(project, url, self.lock_timeout());
                }
                let project = Project::locate(&locations)?;
                let url = environment
                    .url(&check_lib::with_dotenv(&project, &lookup))?
                    .ok_or_else(|| {
                    Error::Config(ConfigError::InvalidEnvironment {
                        environment: name.clone(),
                        reason: "its tenants are SQLite files, so it names no single database: pass --tenant NAME or --url file:PATH".into(),
                    })
                    })?;
                (Some(url), locations)
            }
        };
        let project = Project::locate(&locations)?;
        let url_notice = url.is_none().then(|| project.url_notice()).flatten();
        for notice in project.notices.iter().chain(&url_notice) {
            output::stderr_line(&format!("note: {notice}"));
        }
        Context::new(project, url.as_deref(), self.lock_timeout(), &lookup)
    }

    /// The URL of the one tenant `--tenant` names, for the commands that work on one
    /// database (resolve, repair, snapshot, run, deploy --dry-run).
    fn one_tenant(
        &self,
        environments: &Environments,
        name: &str,
        tenant: &str,
    ) -> Result<DatabaseUrl, Error> {
        let refuse = |reason: String| {
            Error::Config(ConfigError::InvalidEnvironment {
                environment: name.to_string(),
                reason,
            })
        };
        let lookup = |name: &str| std::env::var(name).ok();
        let mut prepared = check_lib::prepare(environments, name, &lookup, &Default::default())?;
        if prepared.tenants.is_none() {
            return Err(refuse(format!(
                "it has no tenants, so --tenant {tenant} selects nothing"
            )));
        }
        match &prepared.url {
            Some(url) => {
                if tenant.contains(['*', '?']) {
                    return Err(refuse(format!(
                        "this command works on one database: --tenant {tenant} must name one tenant, without wildcards"
                    )));
                }
                url.for_tenant(tenant)
                    .ok_or_else(|| refuse(format!("`{tenant}` cannot name a tenant of its URL")))
            }
            None => {
                prepared.tenant_filter = Some(tenant.to_string());
                match check_lib::tenant_files(&prepared)?.as_slice() {
                    [(url, _)] => Ok(url.clone()),
                    [] => Err(check_lib::nothing_selected(&prepared)),
                    many => Err(refuse(format!(
                        "this command works on one database, and --tenant {tenant} matches {} files",
                        many.len()
                    ))),
                }
            }
        }
    }
}

/// The migrations folder of `ctx`; scripts that are not UTF-8 are reported on stderr.
pub(crate) fn migrations(ctx: &Context) -> Result<MigrationsDir, Error> {
    let dir = ctx.migrations()?;
    output::not_utf8_warnings(&dir);
    Ok(dir)
}

/// Where drift and repair cache replayed schemas; with `--no-cache` nothing is read, and
/// the fresh result is written over a suspect entry.
fn cache(no_cache: bool) -> Option<safemig::cache::Cache> {
    let dir = safemig::cache::default_dir(&|name| std::env::var(name).ok())?;
    Some(safemig::cache::Cache {
        dir,
        read: !no_cache,
    })
}

/// Where repair's states are cached: none with `--no-cache` (repair neither reads nor
/// writes them then).
fn cache_dir(no_cache: bool) -> Option<PathBuf> {
    cache(no_cache).filter(|c| c.read).map(|c| c.dir)
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    safemig::text::seconds(text)
}

pub fn main() -> std::process::ExitCode {
    // First of all: a stop signal from now on ends the command cleanly (exit 11), never
    // as death by signal 15.
    let stop_signals = match StopSignals::install() {
        Ok(signals) => signals,
        Err(e) => {
            output::stderr_line(&format!("error: cannot install the signal handlers: {e}"));
            return std::process::ExitCode::from(ExitCode::Internal as u8);
        }
    };
    exit_on_panic();
    let cli = Cli::parse_args();
    init_logging(cli.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let mut printer = Printer::stdout();
    let code = match runtime.block_on(dispatch(cli, &mut printer, &stop_signals)) {
        Ok(code) => code,
        Err(error) => {
            printer.error(&error);
            error.exit_code() as u8
        }
    };
    std::process::ExitCode::from(code)
}

/// Runs the command; returns the process exit code. Each arm first says what a stop
/// signal means for its command: deploy and resolve stop at a safe point, `run` decides
/// per phase, everything else holds nothing and exits at once.
async fn dispatch(cli: Cli, printer: &mut Printer, signals: &StopSignals) -> Result<u8, Error> {
    let Cli {
        mut before,
        command,
        verbose,
    } = cli;
    let code = match command {
        Command::Status(args) => {
            signals.set(Policy::Exit);
            status::status(args, before, printer).await?
        }
        Command::Deploy(args) => deploy::deploy(args, before, printer, signals).await?,
        Command::Resolve(args) => resolve::resolve(args, before, printer, signals).await?,
        Command::Run(args) => return run::run(args, before, printer, signals).await,
        Command::Drift(args) => drift::drift(args, before, printer, signals).await?,
        Command::Repair(args) => repair::repair(args, before, printer, signals).await?,
        Command::Snapshot(args) => {
            signals.set(Policy::Exit);
            snapshot::snapshot(args, before, printer).await?
        }
        Command::Drill(args) => drill::drill(args, before, printer, signals).await?,
        Command::Forecast(args) => {
            signals.set(Policy::Exit);
            forecast::forecast(args, before, printer).await?
        }
        Command::Lint(command) => {
            without_project(&before, "lint", signals);
            lint::lint(command, printer)?
        }
        Command::Split(args) => {
            without_project(&before, "split", signals);
            split::split(args, printer)?
        }
        Command::Completions(args) => {
            without_project(&before, "completions", signals);
            completions::completions(args, printer)
        }
        Command::Man(args) => {
            without_project(&before, "man", signals);
            man::man(args, printer)
        }
        Command::ExitCodes => {
            without_project(&before, "exit-codes", signals);
            printer.line(&format!("Exit codes of safemig:\n{}", ExitCode::table()));
            ExitCode::Success
        }
        Command::Check(mut args) => {
            // `safemig --env prod check` selects the environment, as `check --env prod`.
            args.env.extend(before.database.env.take());
            args.tenant = args.tenant.or(before.database.tenant.take());
            args.config = args.config.or(std::mem::take(&mut before.config));
            without_project(&before, "check", signals);
            check::check(args, verbose > 0, printer).await?
        }
        Command::Serve(mut args) => {
            args.env.extend(before.database.env.take());
            args.config = args.config.or(std::mem::take(&mut before.config));
            without_project(&before, "serve", signals);
            serve::serve(args, signals).await?
        }
    };
    Ok(code as u8)
}

/// For a command that works on no database: a stop signal exits at once, and project
/// options written before its name are refused as clap refuses them after it (exit 2),
/// rather than silently ignored.
fn without_project(before: &ProjectArgs, command: &str, signals: &StopSignals) {
    signals.set(Policy::Exit);
    if let Some(flag) = before.given().first() {
        let commands = match *flag {
            "--config" => "status, deploy, resolve, run, drift, repair, snapshot, check and serve",
            _ => "status, deploy, resolve, run, drift, repair and snapshot",
        };
        Cli::command()
            .error(
                ErrorKind::ArgumentConflict,
                format!("`{flag}` is an option of {commands}, not of `{command}`"),
            )
            .exit();
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let default = match verbose {
        0 => "warn,sqlx::query=error",
        1 => "info,sqlx=warn",
        _ => "debug",
    };
    // `Targets` reads the `target=level,…` lists people write; tracing's `EnvFilter` also
    // matches span fields with regular expressions, which no one asked of safemig's logs and
    // which cost the static binary a regex engine (a quarter of a megabyte).
    let filter = std::env::var("SAFEMIG_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| default.parse().expect("the default filters parse"));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour only for a person at a terminal, and never with NO_COLOR (no-color.org):
        // escape codes in a log file or a CI pipe are noise.
        .with_ansi(colour_on_stderr())
        // A log line that cannot be written (stderr closed) is dropped. By default the
        // layer reports that with `eprintln!`, which panics on the same closed stderr.
        .log_internal_errors(false);
    // The filter alone decides the levels (the `fmt()` builder would add a cap at INFO).
    tracing_subscriber::registry()
        .with(lines)
        .with(filter)
        .init();
}

fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// A panic is a bug (exit code 1), and it must end the process at once, whatever thread it
/// happens on: a panicking worker thread could otherwise leave the process waiting forever
/// while it holds the migration lock. The database sessions, and with them the lock, end
/// with the process.
fn exit_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(ExitCode::Internal as i32);
    }));
}
