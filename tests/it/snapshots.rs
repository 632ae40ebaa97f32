//! What people read, pinned: the status table, the drift report, the dry-run plan, one error of each exit code
//! class with its `next:` line, lint findings, the drill report and every `--help`.
//!
//! Volatile parts (temp dirs, ports, database names, durations, timestamps, process ids)
//! are replaced by the filters of [`settings`], so the snapshots are the same on every run
//! and machine. Review a change with `cargo insta review`, or accept it with
//! `INSTA_UPDATE=always`.

use std::path::Path;

use crate::deploy::{FAILING_MIDWAY, INIT, POSTS, TAGS};
use crate::harness::{Kind, PASSWORD, Project, Run, TestDb, safemig};

/// The filters, most specific first.
pub(crate) fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    let temp = regex_escape(&std::env::temp_dir().display().to_string());
    let temp = temp.trim_end_matches('/');
    for (pattern, replacement) in [
        // A temp dir of `tempfile` (projects, SQLite files), whatever TMPDIR is.
        (format!(r"{temp}/\.tmp[A-Za-z0-9]+"), "[TMP]"),
        // The per-test databases (`t{pid}_{n}`).
        (r"\bt[0-9]+_[0-9]+\b".into(), "[DB]"),
        (r"127\.0\.0\.1:[0-9]+".into(), "127.0.0.1:[PORT]"),
        (
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?( UTC)?".into(),
            "[TIMESTAMP]",
        ),
        (r"\b[0-9]+ ms\b".into(), "[N] ms"),
        // Measured durations; configured ones (grace periods, timeouts) stay.
        (r"ready after [0-9.]+s".into(), "ready after [N]s"),
        (r"stopped in [0-9.]+s".into(), "stopped in [N]s"),
        (r"timed out after [0-9.]+s".into(), "timed out after [N]s"),
        (r"safemig run \[ *[0-9.]+s\]".into(), "safemig run [[N]s]"),
        (r"process [0-9]+".into(), "process [PID]"),
        (r"session [0-9]+".into(), "session [PID]"),
    ] {
        settings.add_filter(&pattern, replacement);
    }
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// A run as a snapshot: exit code, stdout, stderr.
fn shown(run: &Run) -> String {
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    )
}

macro_rules! snapshot {
    ($name:expr, $run:expr) => {
        settings().bind(|| insta::assert_snapshot!($name, shown(&$run)))
    };
}

#[test]
fn status_table() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", INIT),
            ("20240201000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240201000000_posts", &format!("{POSTS}-- edited\n"));
    project.write("20240301000000_tags", TAGS);
    snapshot!("status_table", project.safemig(&db, &["status"]).expect(8));
}

#[test]
fn drift_report() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", INIT),
            ("20240201000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec(
        "ALTER TABLE posts ADD COLUMN body TEXT DEFAULT 'none'; DROP INDEX posts_user_id_idx; \
         UPDATE _prisma_migrations SET checksum = 'edited' WHERE migration_name = '20240101000000_init'",
    );
    project.write("20240301000000_tags", TAGS);
    let run = project
        .command(&db, &["drift", "--no-cache"])
        .output()
        .expect("running safemig drift");
    snapshot!("drift_report", crate::harness::to_run(run).expect(14));
}

#[test]
fn dry_run_plan() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240201000000_posts", POSTS);
    project.write(
        "20240301000000_own_transaction",
        "BEGIN;\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\nCOMMIT;\n",
    );
    snapshot!(
        "dry_run_plan",
        project.safemig(&db, &["deploy", "--dry-run"]).expect(0)
    );
}

/// A SQLite file that does not exist yet is a plan too: deploy would create it.
#[test]
fn dry_run_plan_without_a_database() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", INIT),
            ("20240201000000_posts", POSTS),
        ],
    );
    snapshot!(
        "dry_run_plan_without_a_database",
        project.safemig(&db, &["deploy", "--dry-run"]).expect(0)
    );
    assert!(!db.sqlite_path().exists(), "a dry run creates nothing");
}

#[test]
fn error_connection_refused() {
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    // Nothing listens on port 1.
    let url = format!("postgresql://app:{PASSWORD}@127.0.0.1:1/app");
    let run = safemig(
        project.dir.path(),
        &["--url", &url, "--dir", dir.to_str().unwrap(), "deploy"],
    );
    snapshot!("error_connection_refused", run.expect(3));
}

#[test]
fn error_bad_url() {
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let url = format!("postgresql://app:{PASSWORD}@db:port/app");
    let run = safemig(
        project.dir.path(),
        &["--url", &url, "--dir", dir.to_str().unwrap(), "status"],
    );
    snapshot!("error_bad_url", run.expect(2));
}

#[test]
fn error_missing_migrations_folder() {
    let db = TestDb::new(Kind::Sqlite);
    let tmp = tempfile::tempdir().unwrap();
    let run = safemig(tmp.path(), &["--url", &db.url, "deploy"]);
    snapshot!("error_missing_migrations_folder", run.expect(2));
}

#[test]
fn error_not_empty_p3005() {
    let db = TestDb::new(Kind::Sqlite);
    db.exec("CREATE TABLE legacy (id INTEGER PRIMARY KEY)");
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    snapshot!(
        "error_not_empty_p3005",
        project.safemig(&db, &["deploy"]).expect(9)
    );
}

#[test]
fn error_failed_migration_p3018_then_p3009() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(
        Kind::Postgres,
        &[("20240101000000_broken", crate::deploy::BROKEN)],
    );
    snapshot!(
        "error_failed_migration_p3018",
        project.safemig(&db, &["deploy"]).expect(6)
    );
    // A script that manages its own transaction fails midway: part of it is applied, so
    // the failed row stays and blocks the next deploy.
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_midway", FAILING_MIDWAY)]);
    project.safemig(&db, &["deploy"]).expect(6);
    snapshot!(
        "error_failed_in_history_p3009",
        project.safemig(&db, &["deploy"]).expect(5)
    );
}

#[test]
fn error_lock_timeout() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let holder = crate::locking::hold_lock(&db);
    let run = project.safemig(&db, &["deploy", "--lock-timeout", "1"]);
    crate::locking::release(holder);
    snapshot!("error_lock_timeout", run.expect(4));
}

/// Exit 15: a table another session holds outlasts the lock-wait retries (here one
/// attempt: a second would not end within the bound).
#[test]
fn error_table_locked() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(
        "20240102000000_note",
        "ALTER TABLE users ADD COLUMN note TEXT;\n",
    );
    let holder = crate::lock_safety::hold_table(&db, "users");
    let args = [
        "deploy",
        "--table-lock-wait",
        "1",
        "--table-lock-retry-for",
        "1.5",
    ];
    let run = project.safemig(&db, &args);
    crate::lock_safety::end(holder);
    snapshot!("error_table_locked", run.expect(15));
}

/// `run --migrate=check` names the verdict as `status --json` does (`baseline_needed`),
/// never by its Rust name (`baselineneeded`).
#[test]
fn run_check_names_the_verdict_as_json_does() {
    let db = TestDb::new(Kind::Sqlite);
    db.exec("CREATE TABLE legacy (id INTEGER PRIMARY KEY)");
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    let run = project
        .safemig(&db, &["run", "--migrate=check", "--", "true"])
        .expect(9);
    assert!(
        run.stderr
            .contains("error: the database is not up to date: baseline_needed"),
        "{}",
        run.stderr
    );
    snapshot!("error_run_check_not_up_to_date", run);
}

#[test]
fn lint_findings() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("compose.yaml"),
        "services:\n  app:\n    image: app\n    command: npm start\n    stop_grace_period: 5s\n    stop_signal: SIGKILL\n  worker:\n    build: .\n    entrypoint: [\"safemig\", \"run\", \"--stop-timeout\", \"25\", \"--\"]\n    command: [\"node\", \"worker.js\"]\n    stop_grace_period: 30s\n  cron:\n    build: .\n    entrypoint: [\"safemig\", \"run\", \"--migrate=off\", \"--\"]\n    command: [\"node\", \"cron.js\"]\n    depends_on: [db]\n  db:\n    image: mariadb:11\n",
    )
    .unwrap();
    snapshot!(
        "lint_findings",
        safemig(tmp.path(), &["lint", "compose", "compose.yaml"]).expect(12)
    );
}

/// An app for the drill: it runs until SIGTERM and then exits 0.
const STOPS_ON_SIGTERM: &str = "trap 'exit 0' TERM; while :; do sleep 0.05; done";

#[test]
fn drill_report() {
    let tmp = tempfile::tempdir().unwrap();
    let run = safemig(
        tmp.path(),
        &[
            "drill",
            "--restarts",
            "2",
            "--ready-delay",
            "0.2",
            "--",
            "sh",
            "-c",
            STOPS_ON_SIGTERM,
        ],
    );
    snapshot!("drill_report", run.expect(0));
}

#[test]
fn drill_report_during_migration() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let run = project.safemig(
        &db,
        &[
            "drill",
            "--during-migration",
            "--ready-delay",
            "0.2",
            "--",
            "sh",
            "-c",
            STOPS_ON_SIGTERM,
        ],
    );
    snapshot!("drill_report_during_migration", run.expect(0));
}

#[test]
fn check_table() {
    let mut envs = crate::check::Environments::new();
    let ok = TestDb::new(Kind::Sqlite);
    let ok_project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    ok_project.safemig(&ok, &["deploy"]).expect(0);
    envs.add("production", &ok.url, &ok_project, "");
    let pending = TestDb::new(Kind::Sqlite);
    let pending_project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    pending_project.safemig(&pending, &["deploy"]).expect(0);
    pending_project.write("20240201000000_posts", POSTS);
    envs.add("staging", &pending.url, &pending_project, "");
    let failed = TestDb::new(Kind::Sqlite);
    let failed_project = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    failed_project.safemig(&failed, &["deploy"]).expect(6);
    envs.add("preview", &failed.url, &failed_project, "");
    let down = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    // Nothing listens on port 1.
    envs.add(
        "reports",
        &format!("postgresql://app:{PASSWORD}@127.0.0.1:1/app"),
        &down,
        "",
    );
    snapshot!("check_table", envs.run(&["check"]).expect(5));
}

#[test]
fn help_of_every_command() {
    let commands: &[&[&str]] = &[
        &[],
        &["status"],
        &["deploy"],
        &["resolve"],
        &["run"],
        &["drift"],
        &["repair"],
        &["snapshot"],
        &["drill"],
        &["lint"],
        &["lint", "compose"],
        &["split"],
        &["completions"],
        &["man"],
        &["exit-codes"],
        &["check"],
        &["serve"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = safemig(Path::new("."), &args).expect(0);
        let name = format!(
            "help_{}",
            ["safemig"]
                .iter()
                .chain(*command)
                .copied()
                .collect::<Vec<_>>()
                .join("_")
        );
        settings().bind(|| insta::assert_snapshot!(name, run.stdout));
    }
}

/// The exit codes without the repository's docs (an npm install): `safemig exit-codes`,
/// the same table under `safemig --help` and in the man page.
#[test]
fn exit_codes_offline() {
    let run = safemig(Path::new("."), &["exit-codes"]).expect(0);
    settings().bind(|| insta::assert_snapshot!("exit_codes", shown(&run)));
    for code in safemig::ExitCode::ALL {
        let line = format!("{:>3}  {}", code as u8, code.meaning());
        assert!(run.stdout.contains(&line), "{line}");
    }
    let help = safemig(Path::new("."), &["--help"]).expect(0);
    assert!(
        help.stdout.contains(&safemig::ExitCode::table()),
        "{}",
        help.stdout
    );
    let man = safemig(Path::new("."), &["man"]).expect(0);
    assert!(man.stdout.contains("127  run: the app"), "{}", man.stdout);
}
