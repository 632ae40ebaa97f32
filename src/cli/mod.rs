//! Argument parsing and command dispatch. Everything printed goes through [`output`].

mod completions;
mod output;
mod signals;
mod supervise;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use safemig::config::{Locations, Project};
use safemig::database_url::DatabaseUrl;
use safemig::deploy::{self, Event};
use safemig::engine::{self, Access, Engine};
use safemig::interrupt::Interrupt;
use safemig::lock::LockOptions;
use safemig::migrations::MigrationsDir;
use safemig::provider::Provider;
use safemig::sql::{self, Dialect};
use safemig::status::{self, HistoryTable, StatusReport};
use safemig::{Error, ExitCode, resolve};

use output::Printer;
use signals::{Policy, StopSignals};

#[derive(Debug, Parser)]
#[command(
    name = "safemig",
    version = env!("SAFEMIG_LONG_VERSION"),
    about = "Crash-safe Prisma migrations for PostgreSQL, MySQL/MariaDB and SQLite",
    long_about = "Crash-safe Prisma migrations for PostgreSQL, MySQL/MariaDB and SQLite.\n\n\
                  Reads prisma/migrations and _prisma_migrations exactly as Prisma does. \
                  Exit codes are listed in the README."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Database URL [default: DATABASE_URL (or the variable schema.prisma names) from the
    /// environment or a .env file]
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,

    /// Migrations folder [default: migrations/ next to schema.prisma, else prisma/migrations]
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Prisma schema file [default: prisma/schema.prisma when present]
    #[arg(long, global = true, value_name = "FILE")]
    schema: Option<PathBuf>,

    /// Seconds to wait for another process's migration lock
    #[arg(long, global = true, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    lock_timeout: Duration,

    /// Log more on stderr (-v: info, -vv: debug); SAFEMIG_LOG overrides
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare the migrations folder with the database's history. Exit code 0 only when
    /// every migration is applied and nothing disagrees
    Status {
        /// Print the report as JSON (format documented in the README)
        #[arg(long)]
        json: bool,
    },
    /// Apply pending migrations, like `prisma migrate deploy`, crash-safe: an interrupted
    /// deploy is finished by the next one
    Deploy {
        /// List what would be applied, and how, without changing anything
        #[arg(long)]
        dry_run: bool,
        /// On SIGTERM/SIGINT, seconds a running statement may go on before it is cancelled
        /// server-side (keep it below the container's stop grace period)
        #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
        deadline: Duration,
    },
    /// Record a migration as applied or rolled back without running it, like `prisma migrate
    /// resolve`
    #[command(group = clap::ArgGroup::new("action").required(true))]
    Resolve {
        /// Record NAME as applied (its failed attempts are marked rolled back)
        #[arg(long, value_name = "NAME", group = "action")]
        applied: Option<String>,
        /// Mark NAME's failed attempts rolled back, so deploy applies it again
        #[arg(long, value_name = "NAME", group = "action")]
        rolled_back: Option<String>,
    },
    /// Run the app as the container's init: migrate first, forward signals, stop it before
    /// the runtime's deadline. Use as ENTRYPOINT ["safemig", "run", "--"]
    Run(supervise::RunArgs),
    /// Start the app under `safemig run` N times, stop it with SIGTERM, and check that every
    /// stop is clean and inside the grace period
    Drill(supervise::DrillArgs),
    /// Check files around the app for settings that break clean stops
    #[command(subcommand)]
    Lint(supervise::LintCommand),
    /// Show how a migration file splits into statements, and what kind each one is
    Split {
        /// The SQL file, usually a migration.sql
        file: PathBuf,
        /// SQL dialect [default: the provider in the migrations folder's migration_lock.toml]
        #[arg(long, value_parser = parse_dialect)]
        dialect: Option<Dialect>,
        /// Print a JSON array of {line, kind, sql, start, end}
        #[arg(long)]
        json: bool,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Print a manual page in roff: `safemig man | man -l -`
    Man(completions::ManArgs),
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Provider::from_lock_name(text)
        .or_else(|| (text == "mariadb").then_some(Provider::Mysql))
        .map(Provider::dialect)
        .ok_or_else(|| format!("`{text}` is not one of postgresql, mysql, sqlite"))
}

pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is not a valid duration"))
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
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let mut printer = Printer::stdout();
    let code = match runtime.block_on(run(cli, &mut printer, &stop_signals)) {
        Ok(code) => code,
        Err(error) => {
            printer.error(&error);
            error.exit_code() as u8
        }
    };
    std::process::ExitCode::from(code)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,sqlx::query=error",
        1 => "info,sqlx=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAFEMIG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour only for a person at a terminal, and never with NO_COLOR (no-color.org):
        // escape codes in a log file or a CI pipe are noise.
        .with_ansi(colour_on_stderr())
        // A log line that cannot be written (stderr closed) is dropped. By default the
        // subscriber reports that with `eprintln!`, which panics on the same closed stderr.
        .log_internal_errors(false)
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

/// What every command needs: the project, its migrations, and the database URL.
pub(crate) struct Context {
    project: Project,
    pub(crate) url: DatabaseUrl,
    pub(crate) lock: LockOptions,
}

impl Context {
    pub(crate) fn load(global: &GlobalArgs) -> Result<Self, Error> {
        let project = Project::locate(&Locations {
            dir: global.dir.clone(),
            schema: global.schema.clone(),
        })?;
        for notice in &project.notices {
            output::stderr_line(&format!("note: {notice}"));
        }
        let url = project.database_url(global.url.as_deref(), &|name| std::env::var(name).ok())?;
        project.check_provider(url.provider())?;
        let enabled = std::env::var_os("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK").is_none();
        if !enabled {
            tracing::warn!(
                "PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK is set: migrating without the lock, so concurrent deploys are not excluded"
            );
        }
        Ok(Context {
            project,
            url,
            lock: LockOptions {
                timeout: global.lock_timeout,
                enabled,
            },
        })
    }

    /// The migrations folder; scripts that are not UTF-8 are reported on stderr.
    pub(crate) fn migrations(&self) -> Result<MigrationsDir, Error> {
        let dir = MigrationsDir::load(&self.project.migrations_dir)?;
        for file in &dir.not_utf8 {
            output::stderr_line(&format!(
                "warning: {} is not valid UTF-8 (first invalid byte at offset {}): it is read with U+FFFD in place of invalid bytes, as Prisma reads it, and checksummed so",
                safemig::text::path(&file.path),
                file.offset
            ));
        }
        Ok(dir)
    }

    pub(crate) async fn connect(&self, access: Access) -> Result<Box<dyn Engine>, Error> {
        engine::connect(&self.url, access, self.lock.timeout).await
    }
}

/// Runs the command; returns the process exit code.
async fn run(cli: Cli, printer: &mut Printer, signals: &StopSignals) -> Result<u8, Error> {
    // What a stop signal means: deploy and resolve stop at a safe point; `run` decides
    // per phase; everything else holds nothing and exits at once.
    let interrupt = match &cli.command {
        Command::Deploy {
            dry_run: false,
            deadline,
        } => Some(Interrupt::new(*deadline)),
        Command::Resolve { .. } => Some(Interrupt::default()),
        _ => None,
    };
    match &interrupt {
        Some(interrupt) => signals.set(Policy::Stop(interrupt.clone())),
        None if matches!(cli.command, Command::Run(_)) => {}
        None => signals.set(Policy::Exit),
    }
    let interrupt = interrupt.unwrap_or_default();
    match cli.command {
        Command::Split {
            file,
            dialect,
            json,
        } => split(&file, dialect, json, printer).map(|c| c as u8),
        Command::Run(args) => supervise::run(&cli.global, args, printer, signals).await,
        Command::Drill(args) => supervise::drill(args, printer).map(|c| c as u8),
        Command::Lint(lint) => supervise::lint(lint, printer).map(|c| c as u8),
        Command::Completions(args) => completions::completions(args, printer).map(|c| c as u8),
        Command::Man(args) => completions::man(args, printer).map(|c| c as u8),
        command => project_command(command, &cli.global, &interrupt, printer)
            .await
            .map(|c| c as u8),
    }
}

/// The commands that work on the project's migrations and database.
async fn project_command(
    command: Command,
    global: &GlobalArgs,
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let ctx = Context::load(global)?;
    match command {
        Command::Status { json } => status(&ctx, json, printer).await,
        Command::Deploy { dry_run: true, .. } => dry_run(&ctx, printer).await,
        Command::Deploy { dry_run: false, .. } => deploy(&ctx, interrupt, printer).await,
        Command::Resolve {
            applied,
            rolled_back,
        } => {
            let mut engine = ctx.connect(Access::ReadWrite).await?;
            let lock = ctx.lock;
            let mut on_wait =
                |wait: safemig::lock::Wait<'_>| printer.lock_wait(&wait, lock.timeout);
            let resolved = match (applied, rolled_back) {
                (Some(name), _) => {
                    let dir = ctx.migrations()?;
                    let done = resolve::mark_applied(
                        &mut *engine,
                        &dir,
                        &name,
                        &ctx.lock,
                        interrupt,
                        &mut on_wait,
                    )
                    .await?;
                    (name, done)
                }
                (None, Some(name)) => {
                    let done = resolve::mark_rolled_back(
                        &mut *engine,
                        &name,
                        &ctx.lock,
                        interrupt,
                        &mut on_wait,
                    )
                    .await?;
                    (name, done)
                }
                (None, None) => unreachable!("clap requires one of --applied / --rolled-back"),
            };
            let (name, resolved) = resolved;
            printer.resolved(&name, &resolved);
            Ok(ExitCode::Success)
        }
        Command::Split { .. }
        | Command::Run(_)
        | Command::Drill(_)
        | Command::Lint(_)
        | Command::Completions(_)
        | Command::Man(_) => {
            unreachable!("dispatched in `run`")
        }
    }
}

fn split(
    file: &Path,
    dialect: Option<Dialect>,
    json: bool,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let bytes = safemig::files::read_existing(file, safemig::files::SCRIPT_LIMIT)?;
    let script = String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: file.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let dialect = match dialect {
        Some(dialect) => dialect,
        None => dialect_of_folder(file)?,
    };
    let statements = sql::split(&script, dialect);
    if json {
        printer.split_json(&statements);
    } else {
        printer.split(&statements);
    }
    Ok(ExitCode::Success)
}

/// The dialect named by the `migration_lock.toml` of the migrations folder holding `file`.
fn dialect_of_folder(file: &Path) -> Result<Dialect, Error> {
    let folder = file
        .parent()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let lock = MigrationsDir::load(folder)
        .ok()
        .and_then(|dir| dir.lock)
        .ok_or_else(|| Error::DialectUnknown {
            file: file.to_path_buf(),
        })?;
    Provider::from_lock_name(&lock.provider)
        .map(Provider::dialect)
        .ok_or(Error::UnsupportedProvider {
            path: lock.path,
            provider: lock.provider,
        })
}

async fn status(ctx: &Context, json: bool, printer: &mut Printer) -> Result<ExitCode, Error> {
    let report = status_report(ctx).await?;
    if json {
        printer.json(&report);
    } else {
        printer.status(&report);
    }
    Ok(report.verdict.exit_code())
}

/// Reads the database's history (never writing anything) and classifies every migration.
pub(crate) async fn status_report(ctx: &Context) -> Result<StatusReport, Error> {
    let dir = ctx.migrations()?;
    dir.check_provider(ctx.url.provider())?;
    let mut resumability = std::collections::BTreeMap::new();
    let mut notes = status::folder_notes(&dir);
    let mut prisma_next = false;
    let (history_table, rows) = match ctx.connect(Access::ReadOnly).await {
        Ok(mut engine) => {
            if let Some(marker) = engine.prisma_next_marker().await? {
                prisma_next = true;
                notes.push(format!(
                    "this database carries Prisma 8's marker ({marker}): Prisma 8 (Prisma Next) migrates it now, without _prisma_migrations, and safemig deploy and resolve refuse to touch it"
                ));
            }
            if engine.history_exists().await? {
                let rows = engine.read_history().await?;
                resumability = deploy::resume::resumability(&mut *engine, &dir, &rows).await?;
                (HistoryTable::Present, rows)
            } else if engine.user_objects().await?.is_empty() {
                (HistoryTable::Missing, Vec::new())
            } else {
                (HistoryTable::MissingInNonEmptyDatabase, Vec::new())
            }
        }
        // Deploy creates a missing SQLite file, so a missing file is only pending work; a
        // missing server database is an error for deploy, and so for status too.
        Err(Error::DatabaseMissing { .. }) if ctx.url.provider().deploy_creates_database() => {
            (HistoryTable::NoDatabase, Vec::new())
        }
        Err(e) => return Err(e),
    };
    let migrations = status::evaluate(&dir, &rows, &resumability);
    let verdict = if prisma_next {
        status::Verdict::HandedToPrismaNext
    } else {
        status::verdict(history_table, &migrations)
    };
    Ok(StatusReport {
        format_version: 1,
        database: ctx.url.redacted().to_string(),
        target: ctx.url.describe(),
        provider: ctx.url.provider(),
        migrations_dir: dir.path.display().to_string(),
        history_table,
        verdict,
        counts: status::counts(&migrations),
        notes,
        migrations,
    })
}

async fn dry_run(ctx: &Context, printer: &mut Printer) -> Result<ExitCode, Error> {
    let dir = ctx.migrations()?;
    dir.check_provider(ctx.url.provider())?;
    let mut engine = match ctx.connect(Access::ReadOnly).await {
        Ok(engine) => engine,
        Err(Error::DatabaseMissing { target }) if ctx.url.provider().deploy_creates_database() => {
            printer.line(&format!(
                "{target} does not exist yet: deploy would create it and apply {}.",
                safemig::text::count(dir.migrations.len(), "migration")
            ));
            return Ok(ExitCode::Success);
        }
        Err(e) => return Err(e),
    };
    let plan = deploy::plan(&mut *engine, &dir).await?;
    printer.plan(engine.target(), &plan, engine.provider());
    Ok(ExitCode::Success)
}

pub(crate) async fn deploy(
    ctx: &Context,
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let dir = ctx.migrations()?;
    dir.check_provider(ctx.url.provider())?;
    if interrupt.stop_requested() {
        return Err(Error::Interrupted {
            detail: "stopped before connecting; nothing was applied".into(),
        });
    }
    let mut engine = ctx.connect(Access::ReadWrite).await?;
    printer.line(&format!(
        "{} in {}; database: {}",
        safemig::text::count(dir.migrations.len(), "migration"),
        safemig::text::path(&dir.path),
        engine.target()
    ));
    let options = deploy::Options {
        lock: ctx.lock,
        interrupt: interrupt.clone(),
    };
    let timeout = ctx.lock.timeout;
    let result = deploy::deploy(&mut *engine, &dir, &options, &mut |event| match event {
        Event::WaitingForLock(wait) => printer.lock_wait(&wait, timeout),
        Event::CreatedHistoryTable => printer.line("Created the _prisma_migrations table."),
        Event::Resuming { name, done, total } => printer.resuming(name, done, total),
        Event::Applied {
            name,
            mode,
            elapsed,
        } => printer.applied(name, mode, elapsed),
    })
    .await;
    printer.deploy_summary(&result?);
    Ok(ExitCode::Success)
}
