//! Exit codes and `next:` lines for what goes wrong around the database: each situation
//! gets its documented code and a next step that fits it, never "internal error".

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use crate::deploy::INIT;
use crate::harness::{Kind, PASSWORD, Project, TestDb, mariadb, postgres, safemig, to_run};

fn next_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with("next:"))
        .unwrap_or_else(|| panic!("no next: line in\n{stderr}"))
}

/// A SQLite "database" of random bytes is a configuration error, not a bug.
#[test]
fn a_sqlite_file_that_is_not_a_database() {
    let db = TestDb::new(Kind::Sqlite);
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(db.sqlite_path(), bytes).unwrap();
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    for command in ["deploy", "status"] {
        let run = project.safemig(&db, &[command]).expect(2);
        assert!(
            run.stderr.contains("is not a usable database"),
            "{}",
            run.stderr
        );
        assert!(
            next_line(&run.stderr).contains("restore it from a backup"),
            "{}",
            run.stderr
        );
    }
}

/// A database this user may read but not write: access refused (3), with what to fix.
/// (Run as `nobody`: root may write any file.)
#[test]
fn a_read_only_sqlite_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    std::fs::set_permissions(project.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = tmp.path().join("app.db");
    let db = TestDb::sqlite_file(&file);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240102000000_more", "CREATE TABLE more (id INTEGER);\n");
    for path in [
        project.migrations(),
        project.migrations().join("20240102000000_more"),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a `nobody` user");
    let mut cmd = project.command(&db, &["deploy"]);
    cmd.uid(nobody.uid.as_raw()).gid(nobody.gid.as_raw());
    let run = to_run(cmd.output().unwrap()).expect(3);
    assert!(run.stderr.contains("[P1010]"), "{}", run.stderr);
    assert!(
        next_line(&run.stderr).contains("write access to the file and its folder"),
        "{}",
        run.stderr
    );
    assert_eq!(db.history().len(), 1, "nothing was recorded");
}

/// `status` while a deploy holds the SQLite file waits up to --lock-timeout, then says who
/// holds it (4), as a deploy would.
#[test]
fn status_waits_for_a_running_sqlite_deploy_then_names_it() {
    let db = TestDb::new(Kind::Sqlite);
    let slow = "CREATE TABLE slow (id INTEGER);\n\
                WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000000) SELECT count(*) FROM c;\n";
    let project = Project::new(Kind::Sqlite, &[("20240101000000_slow", slow)]);
    let mut deploy = project
        .command(&db, &["deploy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Until deploy has the file.
    let started = std::time::Instant::now();
    while crate::harness::lock_holders(&db.sqlite_path()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deploy never locked the file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = project
        .safemig(&db, &["status", "--lock-timeout", "1"])
        .expect(4);
    assert!(
        run.stderr.contains("timed out after 1s")
            && run
                .stderr
                .contains(&format!("held by process {}", deploy.id())),
        "{}",
        run.stderr
    );
    deploy.kill().unwrap();
    deploy.wait().unwrap();
}

/// A database the URL names that does not exist: status and deploy agree (3, P1003).
/// A SQLite file in a missing folder: --dry-run and deploy agree (2, with `mkdir`).
#[test]
fn missing_databases_and_folders() {
    // MySQL's error for it shares its SQLSTATE with syntax errors: told by its number.
    for (kind, missing) in [
        (Kind::Postgres, postgres().url("no_such_database_at_all")),
        (Kind::Mysql, mariadb().url("no_such_database_at_all")),
    ] {
        let project = Project::new(kind, &[("20240101000000_init", INIT)]);
        let dir = project.migrations();
        let dir = dir.to_str().unwrap();
        for command in ["status", "deploy"] {
            let run = safemig(
                project.dir.path(),
                &["--url", &missing, "--dir", dir, command],
            )
            .expect(3);
            assert!(
                run.stderr.contains("error[P1003]")
                    && run.stderr.contains("`no_such_database_at_all`")
                    && run.stderr.contains("does not exist"),
                "{kind:?} {command}: {}",
                run.stderr
            );
        }
    }

    let sqlite = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let in_missing_folder = format!("file:{}/nowhere/app.db", sqlite.dir.path().display());
    let dir = sqlite.migrations();
    let dir = dir.to_str().unwrap();
    for args in [
        &["deploy", "--dry-run"][..],
        &["deploy"][..],
        &["status"][..],
    ] {
        let mut full = vec!["--url", in_missing_folder.as_str(), "--dir", dir];
        full.extend(args);
        let run = safemig(sqlite.dir.path(), &full).expect(2);
        assert!(
            run.stderr.contains("its folder"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            next_line(&run.stderr).contains("mkdir -p"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("password"), "{args:?}: {}", run.stderr);
    }
}

/// Refused credentials are Prisma's P1000 on both servers, in the server's own words
/// (no "at line 334" source position of the server).
#[test]
fn refused_credentials_are_p1000() {
    let urls = [
        (
            Kind::Postgres,
            format!(
                "postgresql://postgres:Wr0ng-{PASSWORD}@127.0.0.1:{}/postgres",
                postgres().port
            ),
        ),
        (
            Kind::Mysql,
            format!(
                "mysql://root:Wr0ng-{PASSWORD}@127.0.0.1:{}/mysql",
                mariadb().port
            ),
        ),
    ];
    for (kind, url) in urls {
        let project = Project::new(kind, &[("20240101000000_init", INIT)]);
        let dir = project.migrations();
        let dir = dir.to_str().unwrap();
        let run = safemig(project.dir.path(), &["--url", &url, "--dir", dir, "status"]).expect(3);
        assert!(run.stderr.contains("error[P1000]"), "{}", run.stderr);
        assert!(!run.stderr.contains("at line"), "{}", run.stderr);
        assert!(!run.stderr.contains("Wr0ng"), "{}", run.stderr);
        assert!(
            next_line(&run.stderr).contains("user name and password"),
            "{}",
            run.stderr
        );
    }
}

/// The server ends the session under a running migration (as on a crash or a restart):
/// "unreachable" (3), never an internal error or a failed migration; the next deploy
/// finishes. (Real server crashes are the kill test's server kills, which check the same
/// code.)
fn a_lost_connection_is_unreachable(kind: Kind) {
    let sleep = match kind {
        Kind::Postgres => "SELECT pg_sleep(30)",
        _ => "DO SLEEP(30)",
    };
    let scripts = match kind {
        // Transactional, then journaled (own transaction).
        Kind::Postgres => vec![
            format!("CREATE TABLE a (id INTEGER);\n{sleep};\n"),
            format!("CREATE TABLE a (id INTEGER);\nBEGIN;\n{sleep};\nCOMMIT;\n"),
        ],
        _ => vec![format!("CREATE TABLE a (id INTEGER);\n{sleep};\n")],
    };
    for script in scripts {
        let db = TestDb::new(kind);
        let project = Project::new(kind, &[("20240101000000_sleepy", &script)]);
        let child = project.spawn(&db, &["deploy"]);
        // Until the sleep runs, then end its session from the server side.
        let (find, kill) = match kind {
            Kind::Postgres => (
                format!(
                    "SELECT CAST(pid AS TEXT) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
                    db.name
                ),
                "SELECT pg_terminate_backend({})",
            ),
            _ => (
                format!(
                    "SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO LIKE '%SLEEP(30)%' AND ID <> CONNECTION_ID()",
                    db.name
                ),
                "KILL CONNECTION {}",
            ),
        };
        let started = std::time::Instant::now();
        let session = loop {
            if let Some(id) = db.scalar(&find) {
                break id;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sleep never started"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        db.exec(&kill.replace("{}", &session));
        let run = to_run(child.wait_with_output().unwrap()).expect(3);
        assert!(run.stderr.contains("lost the connection"), "{}", run.stderr);
        assert!(
            next_line(&run.stderr).contains("safemig deploy"),
            "{}",
            run.stderr
        );
        assert!(
            db.history().iter().all(|h| !h.finished || h.logs.is_none()),
            "no failed row: {:?}",
            db.history()
        );
        // Pending or interrupted, never failed: the next deploy carries on.
        let report = crate::status::status_json(&project, &db, 8);
        assert_ne!(report["migrations"][0]["state"], "failed", "{report}");
    }
}

#[test]
fn postgres_lost_connection_is_unreachable() {
    a_lost_connection_is_unreachable(Kind::Postgres);
}

#[test]
fn mysql_lost_connection_is_unreachable() {
    a_lost_connection_is_unreachable(Kind::Mysql);
}

/// MariaDB: a migration whose only statement fails applies nothing (the schema proves it),
/// so the attempt is rolled back, not a P3009 failed row; fixed, it deploys.
#[test]
fn mariadb_a_lone_failing_statement_leaves_a_rolled_back_attempt() {
    let db = TestDb::new(Kind::Mysql);
    let project = Project::new(
        Kind::Mysql,
        &[("20240101000000_typo", "CREATE TABLEE typo (id INTEGER);\n")],
    );
    let run = project.safemig(&db, &["deploy"]).expect(6);
    assert!(
        run.stderr.contains("nothing of it was applied"),
        "{}",
        run.stderr
    );
    assert!(
        next_line(&run.stderr).contains("nothing needs to be resolved"),
        "{}",
        run.stderr
    );
    let history = db.history();
    assert_eq!(history.len(), 1);
    assert!(history[0].rolled_back, "{history:?}");
    project.safemig(&db, &["status"]).expect(8);
    project.write("20240101000000_typo", "CREATE TABLE typo (id INTEGER);\n");
    project.safemig(&db, &["deploy"]).expect(0);
}
