//! Throwaway database servers and fixtures for the integration tests.
//!
//! Each test binary starts at most one PostgreSQL and one MariaDB server, on free loopback
//! ports in temp dirs, the first time a test asks for one; every test then gets a database
//! of its own. Servers stop and their dirs are removed when the test process exits
//! (`atexit`), die with it if it is killed (`PR_SET_PDEATHSIG`), and dirs left by a killed
//! run are swept at the next start. A missing server binary fails the test: run
//! `scripts/test`, which installs them.

#![allow(dead_code)]

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

/// A database of its own for one test.
pub struct TestDb {
    pub kind: Kind,
    /// The URL safemig is given (with the password).
    pub url: String,
    pub name: String,
    _dir: Option<tempfile::TempDir>,
}

static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub fn new(kind: Kind) -> TestDb {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("file:{}", dir.path().join(format!("{name}.db")).display());
                TestDb {
                    kind,
                    url,
                    name,
                    _dir: Some(dir),
                }
            }
            Kind::Postgres => {
                let server = postgres();
                server.admin_exec(&format!("CREATE DATABASE {name}"));
                TestDb {
                    kind,
                    url: server.url(&name),
                    name,
                    _dir: None,
                }
            }
            Kind::Mysql => {
                let server = mariadb();
                server.admin_exec(&format!("CREATE DATABASE {name}"));
                TestDb {
                    kind,
                    url: server.url(&name),
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// A new database with the contents of `template` (PostgreSQL: `CREATE DATABASE …
    /// TEMPLATE`; MariaDB: dump and restore; SQLite: a file copy).
    pub fn copy_of(template: &TestDb) -> TestDb {
        let copy = match template.kind {
            Kind::Sqlite => TestDb::new(Kind::Sqlite),
            kind => {
                let name = format!(
                    "t{}_{}",
                    std::process::id(),
                    DB_COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                let server = if kind == Kind::Postgres {
                    postgres()
                } else {
                    mariadb()
                };
                TestDb {
                    kind,
                    url: server.url(&name),
                    name,
                    _dir: None,
                }
            }
        };
        match template.kind {
            Kind::Sqlite => {
                std::fs::copy(template.sqlite_path(), copy.sqlite_path()).unwrap();
            }
            Kind::Postgres => postgres().admin_exec(&format!(
                "CREATE DATABASE {} TEMPLATE {}",
                copy.name, template.name
            )),
            Kind::Mysql => {
                let server = mariadb();
                server.admin_exec(&format!("CREATE DATABASE {}", copy.name));
                let port = server.port.to_string();
                let password = format!("-p{PASSWORD}");
                let client = [
                    "-h",
                    "127.0.0.1",
                    "-P",
                    port.as_str(),
                    "-u",
                    "root",
                    password.as_str(),
                ];
                let dump = run_tool(
                    Command::new("mariadb-dump")
                        .args(client)
                        .args(["--routines", "--triggers", "--skip-comments"])
                        .arg(&template.name),
                );
                let mut restore = Command::new("mariadb")
                    .args(client)
                    .arg(&copy.name)
                    .stdin(Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                restore
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(&dump.stdout)
                    .unwrap();
                assert!(
                    restore.wait().unwrap().success(),
                    "restoring a MariaDB dump failed"
                );
            }
        }
        copy
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

    fn any_url(&self) -> String {
        match self.kind {
            Kind::Sqlite => format!("sqlite://{}?mode=rwc", self.sqlite_path().display()),
            _ => self.url.clone(),
        }
    }

    pub async fn connect(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.any_url())
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
        let sql = match self.kind {
            Kind::Mysql => {
                "SELECT migration_name, CASE WHEN finished_at IS NULL THEN 'no' ELSE 'yes' END, \
                 CASE WHEN rolled_back_at IS NULL THEN 'no' ELSE 'yes' END, CAST(applied_steps_count AS CHAR), logs \
                 FROM _prisma_migrations ORDER BY started_at, migration_name"
            }
            _ => {
                "SELECT migration_name, CASE WHEN finished_at IS NULL THEN 'no' ELSE 'yes' END, \
                 CASE WHEN rolled_back_at IS NULL THEN 'no' ELSE 'yes' END, CAST(applied_steps_count AS TEXT), logs \
                 FROM _prisma_migrations ORDER BY started_at, migration_name"
            }
        };
        self.rows(sql)
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
        let sql = match self.kind {
            Kind::Postgres => format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
            Kind::Mysql => format!(
                "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
            ),
            Kind::Sqlite => format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
        };
        self.scalar(&sql).as_deref() != Some("0")
    }

    /// The schema as the engine's own dump tool prints it, without `_prisma_migrations`.
    pub fn schema_dump(&self) -> String {
        match self.kind {
            Kind::Postgres => postgres().dump(&self.name),
            Kind::Mysql => mariadb().dump(&self.name),
            Kind::Sqlite => {
                let out = run_tool(Command::new("sqlite3").arg(self.sqlite_path()).arg(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master \
                         WHERE tbl_name <> '_prisma_migrations' ORDER BY type, name",
                ));
                String::from_utf8(out.stdout).unwrap()
            }
        }
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

    /// Runs safemig against `db` with this migrations folder.
    pub fn safemig(&self, db: &TestDb, args: &[&str]) -> Run {
        to_run(self.command(db, args).output().expect("running safemig"))
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

/// Runs safemig in `cwd` with a clean environment (no DATABASE_URL leaking in).
pub fn safemig(cwd: &Path, args: &[&str]) -> Run {
    let output = safemig_command(cwd, args)
        .output()
        .expect("running safemig");
    to_run(output)
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
    /// Builds the server's command line, for starts and restarts.
    command: Box<dyn Fn() -> Command + Send + Sync>,
    child: Mutex<Child>,
}

static PG: OnceLock<Server> = OnceLock::new();
static MARIADB: OnceLock<Server> = OnceLock::new();

pub fn postgres() -> &'static Server {
    PG.get_or_init(start_postgres)
}

pub fn mariadb() -> &'static Server {
    MARIADB.get_or_init(start_mariadb)
}

impl Server {
    pub fn url(&self, database: &str) -> String {
        match self.kind {
            Kind::Postgres => format!(
                "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
                self.port
            ),
            _ => format!("mysql://root:{PASSWORD}@127.0.0.1:{}/{database}", self.port),
        }
    }

    /// Runs SQL as the superuser, outside any test database.
    pub fn admin_exec(&self, sql: &str) {
        let url = match self.kind {
            Kind::Postgres => self.url("postgres"),
            _ => format!("mysql://root:{PASSWORD}@127.0.0.1:{}", self.port),
        };
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
        for _ in 0..20 {
            *child = spawn_server((self.command)());
            std::thread::sleep(Duration::from_millis(300));
            if child.try_wait().unwrap().is_none() {
                break;
            }
        }
        drop(child);
        self.wait_ready(&self.ready_url());
    }

    fn ready_url(&self) -> String {
        match self.kind {
            Kind::Postgres => self.url("postgres"),
            _ => format!("mysql://root:{PASSWORD}@127.0.0.1:{}", self.port),
        }
    }

    /// The PostgreSQL client and server tools' folder.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    fn dump(&self, database: &str) -> String {
        let out = match self.kind {
            Kind::Postgres => run_tool(
                Command::new(self.bin.join("pg_dump"))
                    .args([
                        "--schema-only",
                        "--no-owner",
                        "--no-privileges",
                        "--exclude-table=_prisma_migrations",
                    ])
                    .arg(format!("--dbname={}", self.url(database))),
            ),
            _ => run_tool(
                Command::new("mariadb-dump")
                    .args([
                        "--no-data",
                        "--skip-comments",
                        "--routines",
                        "--triggers",
                        "--events",
                    ])
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-P",
                        &self.port.to_string(),
                        "-u",
                        "root",
                    ])
                    .arg(format!("-p{PASSWORD}"))
                    .arg(format!("--ignore-table={database}._prisma_migrations"))
                    .arg(database),
            ),
        };
        // pg_dump 15.14+ brackets its output with `\restrict KEY` lines whose key is random.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
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
/// the dirs of runs that were killed.
fn server_root(kind: &str) -> PathBuf {
    let base = std::env::temp_dir().join("safemig-test-servers");
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
    for server in [PG.get(), MARIADB.get()].into_iter().flatten() {
        let Ok(child) = server.child.lock() else {
            continue;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        // SIGQUIT is PostgreSQL's immediate shutdown; MariaDB stops on SIGTERM.
        let signal = match server.kind {
            Kind::Postgres => nix::sys::signal::Signal::SIGQUIT,
            _ => nix::sys::signal::Signal::SIGTERM,
        };
        let _ = nix::sys::signal::kill(pid, signal);
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

fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let candidates: Vec<PathBuf> = versions.iter().rev().map(|b| b.join("postgres")).collect();
    find_binary(&candidates, "PostgreSQL's `postgres` server binary")
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The user a server must run as: PostgreSQL refuses to run as root.
fn service_user(name: &str) -> Option<nix::unistd::User> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some(
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!("running as root, but there is no `{name}` user to run the server as")
            }),
    )
}

fn as_user(cmd: &mut Command, user: &Option<nix::unistd::User>) {
    if let Some(user) = user {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
}

fn chown(path: &Path, user: &Option<nix::unistd::User>) {
    if let Some(user) = user {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).unwrap();
    }
}

fn start_postgres() -> Server {
    let bin = postgres_bin_dir();
    let user = service_user("postgres");
    let root = server_root("pg");
    chown(&root, &user);
    let data = root.join("data");
    let pwfile = root.join("pwfile");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    chown(&pwfile, &user);

    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    as_user(&mut initdb, &user);
    run_tool(&mut initdb);

    let port = free_port();
    let log_path = root.join("server.log");
    std::fs::File::create(&log_path).unwrap();
    chown(&log_path, &user);
    let (postgres, socket_dir) = (bin.join("postgres"), root.clone());
    let command = move || {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut cmd = Command::new(&postgres);
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&socket_dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                // Fast but crash-safe for a *process* crash (the OS keeps what was written):
                // commits must be durable for the server-kill tests.
                "fsync=off",
                "-c",
                "synchronous_commit=on",
            ])
            .args([
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=64MB",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        as_user(&mut cmd, &user);
        cmd
    };
    let server = Server {
        port,
        root,
        bin,
        kind: Kind::Postgres,
        child: Mutex::new(spawn_server(command())),
        command: Box::new(command),
    };
    server.wait_ready(&server.ready_url());
    server
}

fn start_mariadb() -> Server {
    let mariadbd = find_binary(
        &[
            PathBuf::from("/usr/sbin/mariadbd"),
            PathBuf::from("/usr/bin/mariadbd"),
        ],
        "MariaDB's `mariadbd` server binary",
    );
    let install = find_binary(
        &[
            PathBuf::from("/usr/bin/mariadb-install-db"),
            PathBuf::from("/usr/sbin/mariadb-install-db"),
        ],
        "mariadb-install-db",
    );
    let root = server_root("mariadb");
    let data = root.join("data");
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into());
    run_tool(
        Command::new(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]),
    );
    let port = free_port();
    let socket = root.join("mariadb.sock");
    let dir = root.clone();
    let socket_path = socket.clone();
    let command = move || {
        let (root, socket) = (&dir, &socket_path);
        let mut cmd = Command::new(&mariadbd);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", root.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", root.join("server.log").display()))
            .arg(format!("--port={port}"))
            .arg(format!("--user={user}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--max-connections=300",
            ])
            .args([
                // Each commit reaches the OS: durable across a server process crash.
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=64M",
            ])
            .args([
                "--skip-log-bin",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let server = Server {
        port,
        root: root.clone(),
        bin: PathBuf::new(),
        kind: Kind::Mysql,
        child: Mutex::new(spawn_server(command())),
        command: Box::new(command),
    };

    // The fresh server's root has no password and only connects through the socket: give
    // it the test password and a TCP account.
    let socket_url = format!("mysql://root@localhost/?socket={}", socket.display());
    server.wait_ready(&socket_url);
    block_on(async {
        let mut conn = sqlx::MySqlConnection::connect(&socket_url)
            .await
            .expect("socket connection");
        let sql = format!(
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
             ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; \
             ALTER USER 'root'@'localhost' IDENTIFIED BY '{PASSWORD}'; FLUSH PRIVILEGES;"
        );
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("setting up root");
    });
    server
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
