//! PostgreSQL: a throwaway server per test process, a database per test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::{
    Kind, PASSWORD, Server, TestDb, TestEngine, feed_tool, find_binary, free_port, run_tool,
    server_root, spawn_server, started,
};

pub struct Postgres;

pub fn postgres() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    started(&SERVER, start_postgres)
}

/// A server of the calling test's own, for a test that stops it: the shared one stays up
/// for the others. Stopped at exit like the shared ones.
pub fn private_postgres() -> &'static Server {
    let server: &'static Server = Box::leak(Box::new(start_postgres()));
    super::STARTED.lock().unwrap().push(server);
    server
}

impl TestEngine for Postgres {
    fn create_database(&self, name: &str) -> TestDb {
        let server = postgres();
        server.admin_exec(&format!("CREATE DATABASE {name}"));
        TestDb::on_server(Kind::Postgres, server, name)
    }

    fn copy_database(&self, template: &TestDb, name: &str) -> TestDb {
        let server = postgres();
        server.admin_exec(&format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            template.name
        ));
        TestDb::on_server(Kind::Postgres, server, name)
    }

    fn restore_dump(&self, template: &TestDb, name: &str) -> TestDb {
        let copy = self.create_database(name);
        let server = postgres();
        let dump = run_tool(
            Command::new(server.bin_dir().join("pg_dump"))
                .args(["--no-owner", "--no-privileges"])
                .arg(format!("--dbname={}", server.url(&template.name))),
        );
        feed_tool(
            Command::new(server.bin_dir().join("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &copy.url])
                .stdout(Stdio::null()),
            &dump.stdout,
            "restoring a pg_dump",
        );
        copy
    }

    fn count_tables_sql(&self, table: &str) -> String {
        format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{table}'"
        )
    }

    fn schema_dump(&self, db: &TestDb) -> String {
        let server = postgres();
        let out = run_tool(
            Command::new(server.bin_dir().join("pg_dump"))
                .args([
                    "--schema-only",
                    "--no-owner",
                    "--no-privileges",
                    "--exclude-table=_prisma_migrations",
                ])
                .arg(format!("--dbname={}", server.url(&db.name))),
        );
        // pg_dump 15.14+ brackets its output with `\restrict KEY` lines whose key is random.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn endless_statement(&self) -> &'static str {
        "SELECT pg_sleep(3600)"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // An index built CONCURRENTLY: an interrupted build leaves it invalid.
        &["CREATE INDEX CONCURRENTLY conformance_a ON conformance (a)"]
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
        url_base: format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/"),
        admin_database: "postgres",
        // PostgreSQL's immediate shutdown.
        stop_signal: nix::sys::signal::Signal::SIGQUIT,
        child: Mutex::new(spawn_server(command())),
        command: Box::new(command),
    };
    server.wait_ready(&server.admin_url());
    server
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
