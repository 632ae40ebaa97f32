//! What people and programs read: credentials masked by their shape (never by their text),
//! output that survives a closed pipe, colour only on a terminal, names from the file
//! system escaped, counts in the singular, one way of naming the database.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::deploy::INIT;
use crate::harness::{Kind, Project, TestDb, mariadb, postgres, run_within, safemig_command};

/// A login whose password is `password`, owning the test database.
fn db_with_password(kind: Kind, password: &str) -> (TestDb, String) {
    let db = TestDb::new(kind);
    let user = format!("{}_u", db.name);
    let url = match kind {
        Kind::Postgres => {
            let server = postgres();
            server.admin_exec(&format!(
                "CREATE ROLE {user} LOGIN PASSWORD '{password}'; ALTER DATABASE {} OWNER TO {user}",
                db.name
            ));
            format!(
                "postgresql://{user}:{password}@127.0.0.1:{}/{}",
                server.port, db.name
            )
        }
        Kind::Mysql => {
            let server = mariadb();
            server.admin_exec(&format!(
                "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
                 CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'; \
                 GRANT ALL ON {db}.* TO '{user}'@'127.0.0.1'; GRANT ALL ON {db}.* TO '{user}'@'localhost'",
                db = db.name
            ));
            format!(
                "mysql://{user}:{password}@127.0.0.1:{}/{}",
                server.port, db.name
            )
        }
        Kind::Sqlite => unreachable!("SQLite has no password"),
    };
    (db, url)
}

fn with_url(project: &Project, url: &str, args: &[&str]) -> crate::harness::Run {
    let dir = project.migrations();
    let mut full = vec!["--url", url, "--dir", dir.to_str().unwrap()];
    full.extend(args);
    crate::harness::to_run(safemig_command(project.dir.path(), &full).output().unwrap())
}

/// Passwords that are also words safemig prints: the output stays intact (and the JSON
/// valid), and the password itself appears only where a password belongs, masked.
#[test]
fn a_password_that_is_a_common_word_changes_nothing_else() {
    for password in ["postgres", "null", "applied"] {
        let (_db, url) = db_with_password(Kind::Postgres, password);
        let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
        with_url(&project, &url, &["deploy"]).expect(0);
        let run = with_url(&project, &url, &["status", "--json"]).expect(0);
        let report: Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("password {password}: invalid JSON ({e}):\n{}", run.stdout));
        assert_eq!(report["provider"], "postgresql", "{password}");
        assert_eq!(report["migrations"][0]["state"], "applied", "{password}");
        assert_eq!(report["migrations"][0]["logs"], Value::Null, "{password}");
        let database = report["database"].as_str().unwrap();
        assert!(database.contains("_u:****@127.0.0.1"), "{database}");
        assert!(!database.contains(&format!(":{password}@")), "{database}");
    }

    let (_db, url) = db_with_password(Kind::Mysql, "MySQL");
    let project = Project::new(Kind::Mysql, &[("20240101000000_init", INIT)]);
    let run = with_url(&project, &url, &["deploy"]).expect(0);
    assert!(
        run.stdout.contains("database: MySQL database `"),
        "{}",
        run.stdout
    );
    let run = with_url(&project, &url, &["status"]).expect(0);
    assert!(
        run.stdout.contains("Database: MySQL database `"),
        "{}",
        run.stdout
    );
}

/// `safemig -vv deploy 2>&1 >/dev/null | head -2`: the reader goes away after two log
/// lines. Deploy must neither panic nor hang (holding the lock), and must finish.
#[test]
fn a_closed_stderr_neither_panics_nor_hangs() {
    for attempt in 0..5 {
        let db = TestDb::new(Kind::Sqlite);
        let project = crate::deploy::three(Kind::Sqlite);
        let mut child = project
            .command(&db, &["-vv", "deploy"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        for _ in 0..2 {
            let mut line = String::new();
            stderr.read_line(&mut line).unwrap();
        }
        drop(stderr);
        let (tx, rx) = std::sync::mpsc::channel();
        let pid = child.id();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                panic!("attempt {attempt}: deploy hung after its stderr closed");
            });
        assert_eq!(status.unwrap().code(), Some(0), "attempt {attempt}");
        // Finished, and the lock is free: status can read the database.
        project.safemig(&db, &["status"]).expect(0);
    }
}

/// Logs on stderr carry colour codes only on a terminal, and never with NO_COLOR.
#[test]
fn colour_only_on_a_terminal_without_no_color() {
    let project = crate::deploy::three(Kind::Sqlite);
    let esc = "\u{1b}[";
    // A pipe: no colour.
    let db = TestDb::new(Kind::Sqlite);
    let run = project.safemig(&db, &["-vv", "deploy"]).expect(0);
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
    assert!(!run.stderr.contains(esc), "{:?}", run.stderr);

    // A terminal (util-linux `script` gives the command a pseudo-terminal).
    let in_terminal = |no_color: bool| {
        let db = TestDb::new(Kind::Sqlite);
        let dir = project.migrations();
        let command = format!(
            "{} --url {} --dir {} -vv deploy",
            env!("CARGO_BIN_EXE_safemig"),
            db.url,
            dir.display()
        );
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &command, "/dev/null"]);
        if no_color {
            script.env("NO_COLOR", "1");
        } else {
            script.env_remove("NO_COLOR");
        }
        let run = run_within(&mut script, Duration::from_secs(60));
        assert_eq!(run.code, 0, "{run:?}");
        run.stdout
    };
    assert!(in_terminal(false).contains(esc), "no colour on a terminal");
    let plain = in_terminal(true);
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(!plain.contains(esc), "{plain:?}");
}

/// Folder names with a newline or an escape sequence are printed escaped, so they can
/// neither break the table apart nor drive the terminal; counts of one are singular; the
/// database is named the same way by deploy, --dry-run and status.
#[test]
fn names_are_escaped_counts_singular_and_the_database_named_once() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let run = project.safemig(&db, &["deploy"]).expect(0);
    let first = run.stdout.lines().next().unwrap();
    let described = format!("SQLite database {}", db.sqlite_path().display());
    assert_eq!(
        first,
        format!(
            "1 migration in {}; database: {described}",
            project.migrations().display()
        )
    );
    assert!(
        run.stdout
            .contains("1 migration applied; 0 already applied."),
        "{}",
        run.stdout
    );

    project.write(
        "20240102000000_two\nlines",
        "CREATE TABLE two (id INTEGER);\n",
    );
    project.write(
        "20240103000000_\u{1b}[31mred",
        "CREATE TABLE red (id INTEGER);\n",
    );
    let plan = project.safemig(&db, &["deploy", "--dry-run"]).expect(0);
    assert!(
        plan.stdout.starts_with(&format!("Database: {described}\n")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("20240102000000_two\\nlines"),
        "{}",
        plan.stdout
    );
    let run = project.safemig(&db, &["deploy"]).expect(0);
    for out in [&plan.stdout, &run.stdout, &run.stderr] {
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
    assert!(
        run.stdout
            .contains("Applied 20240103000000_\\u{1b}[31mred (transactional"),
        "{}",
        run.stdout
    );
    let status = project.safemig(&db, &["status"]).expect(0);
    assert!(
        status
            .stdout
            .starts_with(&format!("Database: {described}\n")),
        "{}",
        status.stdout
    );
    let rows: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("2024"))
        .collect();
    assert_eq!(
        rows.len(),
        3,
        "one table row per migration:\n{}",
        status.stdout
    );
    assert!(!status.stdout.contains('\u{1b}'), "{:?}", status.stdout);

    let file = project.dir.path().join("one.sql");
    std::fs::write(&file, "SELECT 1;\n").unwrap();
    let split = crate::harness::safemig(
        project.dir.path(),
        &["split", file.to_str().unwrap(), "--dialect", "sqlite"],
    )
    .expect(0);
    assert!(split.stdout.ends_with("1 statement.\n"), "{}", split.stdout);
}
