//! MariaDB (for the MySQL provider): a throwaway server per test process, a database per
//! test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sqlx::{AssertSqlSafe, Connection};

use super::{
    Kind, PASSWORD, Server, TestDb, TestEngine, block_on, feed_tool, find_binary, free_port,
    run_tool, server_root, spawn_server, started,
};

pub struct Mysql;

pub fn mariadb() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    started(&SERVER, start_mariadb)
}

/// A server of the calling test's own, for a test that stops it: the shared one stays up
/// for the others. Stopped at exit like the shared ones.
pub fn private_mariadb() -> &'static Server {
    let server: &'static Server = Box::leak(Box::new(start_mariadb()));
    super::STARTED.lock().unwrap().push(server);
    server
}

/// The client tools' connection arguments.
fn client_args(server: &Server) -> Vec<String> {
    vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-P".into(),
        server.port.to_string(),
        "-u".into(),
        "root".into(),
        format!("-p{PASSWORD}"),
    ]
}

/// The `mariadb` command-line client on `db`, applying a migration file as the tests'
/// reference: the whole file as one query (a delimiter no file contains: the client
/// cannot split trigger bodies written without `DELIMITER`), as Prisma sends it, in
/// utf8mb4 as Prisma and safemig talk (the client's own default follows the locale).
pub fn mariadb_client(db: &TestDb) -> Command {
    let mut command = Command::new("mariadb");
    command
        .args(client_args(mariadb()))
        .args([
            "--default-character-set=utf8mb4",
            "--delimiter=@@no-delimiter@@",
        ])
        .arg(&db.name);
    command
}

/// `mariadb-dump --single-transaction` of `db`'s `tables` (all of them when empty) but
/// the `ignored` ones: the rows of every table from one snapshot, but each table's
/// definition as it is when the dump reaches it, as a backup taken during a deploy is.
/// `Err`: the tool's complaint (a table altered after the snapshot may refuse its rows).
pub fn mariadb_dump(db: &TestDb, tables: &[&str], ignored: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("mariadb-dump")
        .args(client_args(mariadb()))
        .args([
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
        ])
        .args(
            ignored
                .iter()
                .map(|t| format!("--ignore-table={}.{t}", db.name)),
        )
        .arg(&db.name)
        .args(tables)
        .output()
        .unwrap_or_else(|e| panic!("running mariadb-dump: {e}"));
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Restores a `mariadb-dump` into `db` with the `mariadb` client.
pub fn mariadb_restore(db: &TestDb, dump: &[u8]) {
    feed_tool(
        Command::new("mariadb")
            .args(client_args(mariadb()))
            .arg(&db.name),
        dump,
        "restoring a MariaDB dump",
    );
}

impl TestEngine for Mysql {
    fn create_database(&self, name: &str) -> TestDb {
        let server = mariadb();
        server.admin_exec(&format!("CREATE DATABASE {name}"));
        TestDb::on_server(Kind::Mysql, server, name)
    }

    fn copy_database(&self, template: &TestDb, name: &str) -> TestDb {
        let copy = self.create_database(name);
        let client = client_args(mariadb());
        let dump = run_tool(
            Command::new("mariadb-dump")
                .args(&client)
                .args(["--routines", "--triggers", "--events", "--skip-comments"])
                .arg(&template.name),
        );
        feed_tool(
            Command::new("mariadb").args(&client).arg(&copy.name),
            &dump.stdout,
            "restoring a MariaDB dump",
        );
        copy
    }

    fn restore_dump(&self, template: &TestDb, name: &str) -> TestDb {
        // A copy is already a dump restored.
        self.copy_database(template, name)
    }

    fn text_type(&self) -> &'static str {
        "CHAR"
    }

    fn count_tables_sql(&self, table: &str) -> String {
        format!(
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        )
    }

    fn schema_dump(&self, db: &TestDb) -> String {
        let out = run_tool(
            Command::new("mariadb-dump")
                .args([
                    "--no-data",
                    "--skip-comments",
                    "--routines",
                    "--triggers",
                    "--events",
                ])
                .args(client_args(mariadb()))
                .arg(format!("--ignore-table={}._prisma_migrations", db.name))
                .arg(&db.name),
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn endless_statement(&self) -> &'static str {
        // Not SLEEP() or BENCHMARK(): killed, they return a value instead of failing; nor
        // a recursive CTE, which MariaDB stops after 1,000 rounds. Billions of rows do.
        "SELECT COUNT(*) FROM information_schema.COLLATIONS a, information_schema.COLLATIONS b, \
         information_schema.COLLATIONS c, information_schema.COLLATIONS d"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // DDL commits implicitly, so each table's definition is what tells.
        &[
            "ALTER TABLE conformance ADD COLUMN b INTEGER",
            "CREATE INDEX conformance_a ON conformance (a)",
        ]
    }
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
            // Its own temporary folder: nothing else's cleaning of /tmp can pull an
            // internal temporary table from under a running query.
            .arg(format!("--tmpdir={}", root.display()))
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
        url_base: format!("mysql://root:{PASSWORD}@127.0.0.1:{port}/"),
        admin_database: "",
        stop_signal: nix::sys::signal::Signal::SIGTERM,
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
