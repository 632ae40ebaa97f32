//! Throwaway database servers and fixtures for the integration tests.
//!
//! Each test binary starts at most one PostgreSQL and one MariaDB server, on free loopback
//! ports in temp dirs, the first time a test asks for one; every test then gets a database
//! of its own. Servers stop and their dirs are removed when the test process exits
//! (`atexit`), die with it if it is killed (`PR_SET_PDEATHSIG`), and dirs left by a killed
//! run are swept at the next start. A missing server binary fails the test: run
//! `scripts/test`, which installs them.

#![allow(dead_code)]

mod mysql;
mod postgres;
mod sqlite;

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};

/// The password every throwaway server uses; tests check it never appears in output.
pub const PASSWORD: &str = "s3cret-Test-pw";

// ---------------------------------------------------------------------------------------
// Async bridge

/// Runs a future to completion from a synchronous test.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime")
        })
        .block_on(future)
}

// ---------------------------------------------------------------------------------------
// Engines and databases

/// The engine a test runs on: safemig's own provider, so names, dialect and
/// capabilities come from its descriptor (`safemig::provider`), not from a second list.
pub use safemig::provider::Provider as Kind;

/// Everything the tests do differently per engine, one module each (`postgres.rs`,
/// `mysql.rs`, `sqlite.rs`) behind this trait; what is not here comes from safemig's own
/// provider descriptor through [`Kind`]. A new engine is a new module and one line in
/// [`test_engine`].
pub trait TestEngine: Sync {
    /// A new, empty database called `name`.
    fn create_database(&self, name: &str) -> TestDb;

    /// A new database called `name` with the contents of `template`.
    fn copy_database(&self, template: &TestDb, name: &str) -> TestDb;

    /// A new database called `name` restored from a dump of `template` by the engine's own
    /// tools, as a backup is restored.
    fn restore_dump(&self, template: &TestDb, name: &str) -> TestDb;

    /// The URL sqlx's `Any` driver opens `db` with.
    fn any_url(&self, db: &TestDb) -> String {
        db.url.clone()
    }

    /// The type a `CAST(… AS type)` to text names.
    fn text_type(&self) -> &'static str {
        "TEXT"
    }

    /// A query for the number of tables called `table`, as text.
    fn count_tables_sql(&self, table: &str) -> String;

    /// The schema as the engine's own dump tool prints it, without `_prisma_migrations`.
    fn schema_dump(&self, db: &TestDb) -> String;

    /// A statement that runs until it is cancelled, and then fails.
    fn endless_statement(&self) -> &'static str;

    /// Statements whose target this engine inspects (`Inspect::snapshot` answers `Some`),
    /// run after `CREATE TABLE conformance (a INTEGER)`.
    fn inspected_statements(&self) -> &'static [&'static str];
}

/// A connection to `db` through safemig's engine layer, as the library opens it.
pub async fn engine_for(db: &TestDb) -> Box<dyn safemig::engine::Engine> {
    let url = safemig::database_url::DatabaseUrl::parse(&db.url, Path::new("."), "the test")
        .unwrap_or_else(|e| panic!("{e}"));
    safemig::engine::connect(
        &url,
        safemig::engine::Access::ReadWrite,
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The one `match` over engines in the tests.
pub fn test_engine(kind: Kind) -> &'static dyn TestEngine {
    match kind {
        Kind::Postgres => &postgres::Postgres,
        Kind::Mysql => &mysql::Mysql,
        Kind::Sqlite => &sqlite::Sqlite,
    }
}

/// A database of its own for one test.
pub struct TestDb {
    pub kind: Kind,
    /// The URL safemig is given (with the password).
    pub url: String,
    pub name: String,
    _dir: Option<tempfile::TempDir>,
}

static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other database of this test process has.
fn next_database_name() -> String {
    format!(
        "t{}_{}",
        std::process::id(),
        DB_COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

impl TestDb {
    pub fn new(kind: Kind) -> TestDb {
        test_engine(kind).create_database(&next_database_name())
    }

    /// A new database restored from a dump of `template` (`pg_dump`, `mariadb-dump`,
    /// `sqlite3 .dump`), as a backup is restored.
    pub fn restored_from_dump(template: &TestDb) -> TestDb {
        test_engine(template.kind).restore_dump(template, &next_database_name())
    }

    /// A new database with the contents of `template` (PostgreSQL: `CREATE DATABASE …
    /// TEMPLATE`; MariaDB: dump and restore; SQLite: a file copy).
    pub fn copy_of(template: &TestDb) -> TestDb {
        test_engine(template.kind).copy_database(template, &next_database_name())
    }

    /// A new database on `server` (a private one: [`private_mariadb`], [`private_postgres`]).
    pub fn new_on(kind: Kind, server: &Server) -> TestDb {
        let name = next_database_name();
        server.admin_exec(&format!("CREATE DATABASE {name}"));
        TestDb::on_server(kind, server, &name)
    }

    /// The database `name` on a server.
    fn on_server(kind: Kind, server: &Server, name: &str) -> TestDb {
        TestDb {
            kind,
            url: server.url(name),
            name: name.to_string(),
            _dir: None,
        }
    }

    /// An existing SQLite file, such as a project's own `dev.db`.
    pub fn sqlite_file(path: &Path) -> TestDb {
        TestDb {
            kind: Kind::Sqlite,
            url: format!("file:{}", path.display()),
            name: path.display().to_string(),
            _dir: None,
        }
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> PathBuf {
        PathBuf::from(
            self.url
                .strip_prefix("file:")
                .expect("a SQLite test database"),
        )
    }

    pub async fn connect(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&test_engine(self.kind).any_url(self))
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database {}: {e}", self.name))
    }

    /// Runs SQL (one or more statements) on the test database.
    pub fn exec(&self, sql: &str) {
        block_on(async {
            let mut conn = self.connect().await;
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    /// Runs SQL that may fail (a `CREATE INDEX CONCURRENTLY` meant to fail, a statement
    /// a test reports rather than panics on).
    pub fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        block_on(async {
            let mut conn = self.connect().await;
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .map(|_| ())
        })
    }

    /// Runs a query whose columns are all text (cast them in the SQL) and returns its rows.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        block_on(async {
            use sqlx::Row;
            let mut conn = self.connect().await;
            let rows = sqlx::query(AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).unwrap())
                        .collect()
                })
                .collect()
        })
    }

    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten()
    }

    /// Names of migrations in `_prisma_migrations` with their state, oldest first:
    /// `(name, finished, rolled_back, applied_steps_count, logs)`.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let text = test_engine(self.kind).text_type();
        let sql = format!(
            "SELECT migration_name, CASE WHEN finished_at IS NULL THEN 'no' ELSE 'yes' END, \
             CASE WHEN rolled_back_at IS NULL THEN 'no' ELSE 'yes' END, CAST(applied_steps_count AS {text}), logs \
             FROM _prisma_migrations ORDER BY started_at, migration_name"
        );
        self.rows(&sql)
            .into_iter()
            .map(|r| HistoryEntry {
                name: r[0].clone().unwrap(),
                finished: r[1].as_deref() == Some("yes"),
                rolled_back: r[2].as_deref() == Some("yes"),
                steps: r[3].clone().unwrap().parse().unwrap(),
                logs: r[4].clone(),
            })
            .collect()
    }

    /// Whether a table exists.
    pub fn has_table(&self, table: &str) -> bool {
        let sql = test_engine(self.kind).count_tables_sql(table);
        self.scalar(&sql).as_deref() != Some("0")
    }

    /// The schema as the engine's own dump tool prints it, without `_prisma_migrations`.
    pub fn schema_dump(&self) -> String {
        test_engine(self.kind).schema_dump(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub name: String,
    pub finished: bool,
    pub rolled_back: bool,
    pub steps: u32,
    pub logs: Option<String>,
}

// ---------------------------------------------------------------------------------------
// A project: a migrations folder in a temp dir

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A migrations folder with a lock file for `kind` and the given migrations.
    pub fn new(kind: Kind, migrations: &[(&str, &str)]) -> Project {
        let project = Project {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(project.migrations()).unwrap();
        std::fs::write(
            project.migrations().join("migration_lock.toml"),
            format!(
                "# Please do not edit this file manually\nprovider = \"{}\"\n",
                kind.lock_name()
            ),
        )
        .unwrap();
        for (name, sql) in migrations {
            project.write(name, sql);
        }
        project
    }

    /// A copy of a corpus history; `None` when the corpus is missing (see
    /// [`corpus_dir`]).
    pub fn from_corpus(name: &str) -> Option<Project> {
        let corpus = corpus_dir()?;
        let project = Project {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        copy_dir(&corpus.join(name).join("migrations"), &project.migrations());
        Some(project)
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    pub fn write(&self, name: &str, sql: &str) {
        let dir = self.migrations().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("migration.sql"), sql).unwrap();
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_dir_all(self.migrations().join(name)).unwrap();
    }

    /// Runs safemig against `db` with this migrations folder (a deploy that succeeds is
    /// followed by [`assert_settled`]'s checks).
    pub fn safemig(&self, db: &TestDb, args: &[&str]) -> Run {
        let run = to_run(self.command(db, args).output().expect("running safemig"));
        let dir = self.migrations();
        let mut full = vec!["--url", &db.url, "--dir", dir.to_str().unwrap()];
        full.extend(args);
        assert_settled(&full, &run, |args| safemig_command(self.dir.path(), args));
        run
    }

    /// The safemig command against `db` with this migrations folder, to adjust and run.
    pub fn command(&self, db: &TestDb, args: &[&str]) -> Command {
        let dir = self.migrations();
        let mut full = vec!["--url", &db.url, "--dir", dir.to_str().unwrap()];
        // MySQL's lock is server-wide: tests running in parallel queue on it. Unless a test
        // is about the lock, give them time (the lock itself is tested in locking.rs).
        if !args.contains(&"--lock-timeout") {
            full.extend(["--lock-timeout", "120"]);
        }
        full.extend(args);
        safemig_command(self.dir.path(), &full)
    }

    /// Starts safemig against `db` with its output piped, to signal or watch it.
    pub fn spawn(&self, db: &TestDb, args: &[&str]) -> Child {
        self.command(db, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting safemig")
    }

    /// Runs deploy with a failpoint (`SAFEMIG_FAILPOINT`) that kills it.
    pub fn deploy_killed_at(&self, db: &TestDb, failpoint: &str) -> Run {
        let output = self
            .command(db, &["deploy"])
            .env("SAFEMIG_FAILPOINT", failpoint)
            .output()
            .expect("running safemig");
        let run = to_run(output);
        assert_eq!(
            run.code, -1,
            "the failpoint {failpoint} did not kill deploy:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

pub use crate::corpus_location::corpus_dir;

// ---------------------------------------------------------------------------------------
// Running the binary

/// One run of the safemig binary.
#[derive(Debug)]
pub struct Run {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test unless the exit code is `code`, showing the output.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            code,
            "unexpected exit code{}\n--- stdout\n{}\n--- stderr\n{}",
            self.signal
                .map(|s| format!(" (killed by signal {s})"))
                .unwrap_or_default(),
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stdout.contains(PASSWORD) && !self.stderr.contains(PASSWORD),
            "the password was printed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs safemig in `cwd` with a clean environment (no DATABASE_URL leaking in); a deploy
/// that succeeds is followed by [`assert_settled`]'s checks.
pub fn safemig(cwd: &Path, args: &[&str]) -> Run {
    let output = safemig_command(cwd, args)
        .output()
        .expect("running safemig");
    let run = to_run(output);
    assert_settled(args, &run, |args| safemig_command(cwd, args));
    run
}

/// The journey issue's invariant, checked after every deploy a test runs through the
/// harness: a deploy that exits 0 leaves `status` and `check` of the same target at 0.
/// `args` is the deploy's command line; `command` builds another one the same way (same
/// folder, same variables).
pub fn assert_settled(args: &[&str], run: &Run, command: impl Fn(&[&str]) -> Command) {
    let asks = |flags: &[&str]| args.iter().any(|a| flags.contains(a));
    if run.code != 0 || !args.contains(&"deploy") || asks(&["--dry-run", "--help", "-h"]) {
        return;
    }
    // The flags that select the target, with their values; check takes no lock timeout.
    const TARGET: [&str; 6] = [
        "--url", "--dir", "--schema", "--env", "--tenant", "--config",
    ];
    let mut target = Vec::new();
    let mut lock = Vec::new();
    for pair in args.windows(2) {
        if TARGET.contains(&pair[0]) {
            target.extend_from_slice(pair);
        } else if pair[0] == "--lock-timeout" {
            lock.extend_from_slice(pair);
        }
    }
    let mut status = vec!["status"];
    status.extend(&target);
    status.extend(&lock);
    let mut check = vec!["check"];
    check.extend(&target);
    for line in [status, check] {
        let after = to_run(command(&line).output().expect("running safemig"));
        assert_eq!(
            after.code,
            0,
            "`{}` after a deploy that exited 0 ({}):\n{}\n{}\n--- the deploy\n{}\n{}",
            line.join(" "),
            args.join(" "),
            after.stdout,
            after.stderr,
            run.stdout,
            run.stderr
        );
    }
}

/// Runs a command line as a `next:` line prints it (`safemig …`, the binary under test
/// standing for `safemig`), through `sh` in `cwd`, with only `PATH` and `vars` set: what
/// a person pastes, with what their shell holds. Advice never prints a password, so a
/// `--url` that holds one is printed as `"$DATABASE_URL"`, which `vars` then gives.
pub fn run_as_printed(cwd: &Path, line: &str, vars: &[(&str, &str)]) -> Run {
    let rest = line.strip_prefix("safemig ").expect("a safemig command");
    let binary = env!("CARGO_BIN_EXE_safemig");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("exec '{binary}' {rest}"))
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap());
    for (name, value) in vars {
        command.env(name, value);
    }
    to_run(command.output().expect("running sh"))
}

pub fn safemig_command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_safemig"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("SAFEMIG_LOG")
        .env_remove("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK");
    cmd
}

/// The processes holding a POSIX lock on `path` (from /proc/locks).
pub fn lock_holders(path: &Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(inode) = std::fs::metadata(path).map(|m| m.ino()) else {
        return Vec::new();
    };
    std::fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let pid = fields.get(4)?.parse().ok()?;
            let lock_inode: u64 = fields.get(5)?.rsplit(':').next()?.parse().ok()?;
            (lock_inode == inode).then_some(pid)
        })
        .collect()
}

/// Runs a command that must finish within `limit`: a hang fails the test (after killing
/// the process) instead of hanging the suite.
pub fn run_within(cmd: &mut Command, limit: Duration) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running safemig");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => to_run(output.unwrap()),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let partial = rx.recv().map(|o| to_run(o.unwrap()));
            panic!("{cmd:?} did not finish within {limit:?}: {partial:?}");
        }
    }
}

pub fn to_run(output: Output) -> Run {
    use std::os::unix::process::ExitStatusExt;
    Run {
        code: output.status.code().unwrap_or(-1),
        signal: output.status.signal(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a tool with `input` on its stdin (a dump fed to a client to restore it) and fails
/// the test, naming `what`, if it fails.
pub fn feed_tool(cmd: &mut Command, input: &[u8], what: &str) {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "{what} failed");
}

pub fn run_tool(cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

// ---------------------------------------------------------------------------------------
// Servers

/// A running throwaway server.
pub struct Server {
    pub port: u16,
    pub root: PathBuf,
    bin: PathBuf,
    kind: Kind,
    /// `scheme://user:password@127.0.0.1:port/`: a database name completes it.
    url_base: String,
    /// The database an admin connection names (PostgreSQL's `postgres`; none on MariaDB).
    admin_database: &'static str,
    /// The signal that stops the server at once without a checkpoint.
    stop_signal: nix::sys::signal::Signal,
    /// Builds the server's command line, for starts and restarts.
    command: Box<dyn Fn() -> Command + Send + Sync>,
    child: Mutex<Child>,
}

pub use mysql::mariadb;
// tests/kill.rs includes this harness too, and applies no file with the client.
#[allow(unused_imports)]
pub use mysql::mariadb_client;
// tests/it and the kill test's restores of dumps taken mid-deploy.
#[allow(unused_imports)]
pub use mysql::{mariadb_dump, mariadb_restore};
pub use postgres::postgres;
// tests/kill.rs includes this harness too, and starts no private server.
#[allow(unused_imports)]
pub use {mysql::private_mariadb, postgres::private_postgres};

/// Every server this process started, for [`stop_servers`] at exit.
static STARTED: Mutex<Vec<&'static Server>> = Mutex::new(Vec::new());

/// Starts a server once per test process and registers it to be stopped at exit.
fn started(cell: &'static OnceLock<Server>, start: fn() -> Server) -> &'static Server {
    let mut registered = false;
    let server = cell.get_or_init(|| {
        registered = true;
        start()
    });
    if registered {
        STARTED.lock().unwrap().push(server);
    }
    server
}

impl Server {
    /// The URL of `database` on this server, with the superuser's credentials.
    pub fn url(&self, database: &str) -> String {
        format!("{}{database}", self.url_base)
    }

    /// The URL of the server itself, outside any test database.
    fn admin_url(&self) -> String {
        self.url(self.admin_database)
    }

    /// Runs SQL as the superuser, outside any test database.
    pub fn admin_exec(&self, sql: &str) {
        let url = self.admin_url();
        block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url)
                .await
                .expect("admin connection");
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    /// Simulates a database server crash: SIGKILL to the server and all its processes
    /// (its process group), then starts it again on the same data and port.
    pub fn crash_and_restart(&self) {
        self.kill();
        self.restart();
    }

    /// SIGKILL to the server and all its processes; [`Server::restart`] starts it again.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        kill_group(child.id());
        let _ = child.wait();
        // The server's other processes die with it, but may take a moment to let go of its
        // shared memory; a restart before that fails.
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && nix::sys::signal::killpg(pgid, None).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a [killed](Server::kill) server again on the same data and port.
    pub fn restart(&self) {
        let mut child = self.child.lock().unwrap();
        for _ in 0..20 {
            *child = spawn_server((self.command)());
            std::thread::sleep(Duration::from_millis(300));
            if child.try_wait().unwrap().is_none() {
                break;
            }
        }
        drop(child);
        self.wait_ready(&self.admin_url());
    }

    /// The PostgreSQL client and server tools' folder.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where server dirs live; named by the owning test process so a later run can sweep
/// the dirs of runs that were killed. In memory (`/dev/shm`) where there is one: the
/// servers' fsyncs (MariaDB's on every table it creates or rebuilds) then cost nothing,
/// and what a killed server process wrote is still there when it restarts, which is all
/// the server-kill tests need. `SAFEMIG_TEST_SERVERS` overrides.
fn server_root(kind: &str) -> PathBuf {
    let base = match std::env::var_os("SAFEMIG_TEST_SERVERS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let shm = Path::new("/dev/shm");
            let usable = nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok();
            if usable {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            }
            .join("safemig-test-servers")
        }
    };
    std::fs::create_dir_all(&base).unwrap();
    sweep_stale(&base);
    let root = base.join(format!("{}-{kind}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn sweep_stale(base: &Path) {
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Spawns server processes from one long-lived thread: `PR_SET_PDEATHSIG` fires when the
/// *thread* that spawned a child exits, and test threads come and go.
fn spawn_server(mut cmd: Command) -> Child {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        });
        unsafe { libc::atexit(stop_servers) };
        Mutex::new(tx)
    });
    // Its own process group: a crash test can kill the server with all its processes.
    cmd.process_group(0);
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    sender.lock().unwrap().send((cmd, reply_tx)).unwrap();
    reply_rx
        .recv()
        .unwrap()
        .expect("spawning a database server")
}

extern "C" fn stop_servers() {
    let Ok(servers) = STARTED.lock() else {
        return;
    };
    for server in servers.iter() {
        let Ok(child) = server.child.lock() else {
            continue;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, server.stop_signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && nix::sys::signal::kill(pid, None).is_ok() {
            let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(child.id());
        let _ = std::fs::remove_dir_all(&server.root);
    }
}

/// SIGKILL to a server's whole process group (it leads its own, see `spawn_server`).
fn kill_group(pid: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn find_binary(candidates: &[PathBuf], what: &str) -> PathBuf {
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{what} not found (looked at {candidates:?}). Integration tests need real servers: \
             run scripts/test, which installs them with apt"
            )
        })
}

impl Server {
    fn wait_ready(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let attempt = block_on(async {
                sqlx::any::install_default_drivers();
                sqlx::AnyConnection::connect(url).await.map(drop)
            });
            match attempt {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
                    panic!("the {:?} server did not come up: {e}\n{log}", self.kind);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}
