//! Crash safety at chosen points: a deploy killed between a statement and its journal write,
//! just before a statement, or in the middle of one, is finished by the next deploy, with
//! every statement applied exactly once. Also: status of an interrupted migration, SIGTERM,
//! resume refusals, and many deployers at once. The long randomized run is `tests/kill.rs`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb, corpus_dir, safemig, to_run};
use crate::status::{states, status_json};

/// A migration each engine runs journaled, statement by statement, with something
/// non-atomic in it, and a data statement that must run exactly once.
pub(crate) fn journaled_script(kind: Kind) -> &'static str {
    match kind {
        // DDL commits implicitly: every DDL statement is "in flight" while it runs.
        Kind::Mysql => {
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100));\n\
             ALTER TABLE accounts ADD COLUMN plan VARCHAR(20);\n\
             INSERT INTO accounts (id, email, plan) VALUES (1, 'a@example.com', 'free');\n\
             CREATE INDEX accounts_plan_idx ON accounts (plan);\n\
             UPDATE accounts SET plan = CONCAT(plan, '+') WHERE id = 1;\n"
        }
        // CONCURRENTLY cannot run in a transaction: the file runs journaled.
        Kind::Postgres => {
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100));\n\
             ALTER TABLE accounts ADD COLUMN plan VARCHAR(20);\n\
             INSERT INTO accounts (id, email, plan) VALUES (1, 'a@example.com', 'free');\n\
             CREATE INDEX CONCURRENTLY accounts_plan_idx ON accounts (plan);\n\
             UPDATE accounts SET plan = plan || '+' WHERE id = 1;\n"
        }
        // VACUUM cannot run in a transaction: the file runs journaled.
        Kind::Sqlite => {
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100));\n\
             ALTER TABLE accounts ADD COLUMN plan VARCHAR(20);\n\
             INSERT INTO accounts (id, email, plan) VALUES (1, 'a@example.com', 'free');\n\
             VACUUM;\n\
             UPDATE accounts SET plan = plan || '+' WHERE id = 1;\n"
        }
    }
}

const STATEMENTS: usize = 5;

/// Starts deploy and returns once it applied its quick first migration, one second later:
/// a signal sent now lands inside the slow second one, however slow the machine.
fn deploy_past_init(project: &Project, db: &TestDb, args: &[&str]) -> std::process::Child {
    let child = deploy_until_init_applied(project, db, args);
    std::thread::sleep(Duration::from_millis(1000));
    child
}

/// Starts deploy and returns as soon as it applied its first migration.
fn deploy_until_init_applied(project: &Project, db: &TestDb, args: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut child = project.spawn(db, args);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("Applied 20240101000000_init") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("deploy never applied its first migration");
    child
}

fn project(kind: Kind) -> Project {
    Project::new(
        kind,
        &[
            ("20240101000000_init", crate::deploy::INIT),
            ("20240102000000_accounts", journaled_script(kind)),
            ("20240103000000_tags", crate::deploy::TAGS),
        ],
    )
}

/// The end state of an uninterrupted deploy: every row finished, the data statements run
/// exactly once.
fn assert_converged(db: &TestDb) {
    let history = db.history();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(
        history
            .iter()
            .all(|h| h.finished && !h.rolled_back && h.steps == 1 && h.logs.is_none()),
        "{history:?}"
    );
    let text = if db.kind == Kind::Mysql {
        "CHAR"
    } else {
        "TEXT"
    };
    let rows = db.rows(&format!(
        "SELECT CAST(COUNT(*) AS {text}), MAX(plan) FROM accounts"
    ));
    assert_eq!(
        rows,
        [vec![Some("1".to_string()), Some("free+".to_string())]]
    );
    assert!(db.has_table("tags"));
}

/// A kill between each statement and its journal write, and just before each statement:
/// the next deploy settles the statement in flight and finishes.
fn killed_at_every_statement_boundary_resumes(kind: Kind) {
    let reference = TestDb::new(kind);
    project(kind).safemig(&reference, &["deploy"]).expect(0);
    let expected = reference.schema_dump();
    // Statement hits count from the first migration (transactional, one hit) on.
    for point in ["after_statement", "during_statement"] {
        for n in 2..=STATEMENTS + 1 {
            let db = TestDb::new(kind);
            let project = project(kind);
            project.deploy_killed_at(&db, &format!("{point}:{n}"));
            let report = status_json(&project, &db, 8);
            let interrupted = &report["migrations"][1];
            assert_eq!(
                interrupted["state"], "interrupted",
                "{point}:{n}: {interrupted}"
            );
            let note = interrupted["note"].as_str().unwrap();
            assert!(
                note.starts_with("interrupted, resumable at statement"),
                "{note}"
            );
            assert_eq!(interrupted["progress"]["total"], STATEMENTS);

            let run = project.safemig(&db, &["deploy"]).expect(0);
            assert!(
                run.stdout.contains("Resuming 20240102000000_accounts"),
                "{}",
                run.stdout
            );
            assert_converged(&db);
            assert_eq!(db.schema_dump(), expected, "{point}:{n}");
        }
    }
}

/// Killed after the history INSERT and before the final UPDATE, in both modes.
fn killed_around_the_history_writes(kind: Kind) {
    for point in [
        "after_insert:1",
        "after_insert:2",
        "before_finish:1",
        "before_finish:2",
        "before_finish:3",
    ] {
        let db = TestDb::new(kind);
        let project = project(kind);
        project.deploy_killed_at(&db, point);
        project.safemig(&db, &["deploy"]).expect(0);
        assert_converged(&db);
    }
}

/// Killed while a statement runs on the server.
fn killed_mid_statement(kind: Kind) {
    let slow = match kind {
        Kind::Postgres => {
            "CREATE TABLE slow (id INTEGER PRIMARY KEY);\nSELECT pg_sleep(1);\nCREATE INDEX CONCURRENTLY slow_idx ON slow (id);\n"
        }
        Kind::Mysql => {
            "CREATE TABLE slow (id INTEGER PRIMARY KEY);\nDO SLEEP(1);\nCREATE INDEX slow_idx ON slow (id);\n"
        }
        Kind::Sqlite => {
            "CREATE TABLE slow (id INTEGER PRIMARY KEY);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT count(*) FROM c;\nVACUUM;\n"
        }
    };
    for transactional in [true, false] {
        if transactional && kind == Kind::Mysql {
            continue;
        }
        let script = if transactional {
            slow.replace("CONCURRENTLY ", "").replace("VACUUM;\n", "")
        } else {
            slow.to_string()
        };
        let db = TestDb::new(kind);
        let project = Project::new(kind, &[("20240101000000_slow", &script)]);
        // The second statement starts; 300 ms later the process dies.
        let statement = if transactional { 1 } else { 2 };
        project.deploy_killed_at(&db, &format!("during_statement:{statement}:300"));
        project.safemig(&db, &["deploy"]).expect(0);
        let history = db.history();
        assert_eq!(history.len(), 1);
        assert!(history[0].finished && history[0].logs.is_none());
        assert!(db.has_table("slow"));
    }
}

/// SIGTERM during a long statement: the deploy stops well before the deadline with the
/// interrupted code, the history is consistent, and the next deploy finishes.
fn sigterm_stops_cleanly(kind: Kind) {
    // Transactional migrations roll back at once; journaled ones finish the statement that
    // runs (here 2 s) and stop before the next.
    let (sleep, transactional) = match kind {
        Kind::Postgres => ("SELECT pg_sleep(2)", Some("SELECT pg_sleep(4)")),
        Kind::Mysql => ("DO SLEEP(2)", None),
        Kind::Sqlite => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) FROM c",
            Some(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40000000) SELECT count(*) FROM c",
            ),
        ),
    };
    let journaled = match kind {
        Kind::Mysql => format!(
            "CREATE TABLE before_sleep (id INTEGER PRIMARY KEY);\n{sleep};\nCREATE TABLE after_sleep (id INTEGER PRIMARY KEY);\n"
        ),
        _ => format!(
            "CREATE TABLE before_sleep (id INTEGER PRIMARY KEY);\nBEGIN;\n{sleep};\nCOMMIT;\nCREATE TABLE after_sleep (id INTEGER PRIMARY KEY);\n"
        ),
    };
    let mut cases = vec![("journaled", journaled)];
    if let Some(long) = transactional {
        cases.push((
            "transactional",
            format!("CREATE TABLE before_sleep (id INTEGER PRIMARY KEY);\n{long};\n"),
        ));
    }
    for (mode, script) in cases {
        let db = TestDb::new(kind);
        let project = Project::new(
            kind,
            &[
                ("20240101000000_init", crate::deploy::INIT),
                ("20240102000000_sleepy", &script),
            ],
        );
        let child = deploy_past_init(&project, &db, &["deploy"]);
        let signalled = Instant::now();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let run = to_run(child.wait_with_output().unwrap()).expect(11);
        // The default deadline is 20 s: nothing here may need it.
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "{mode}: took {:?}",
            signalled.elapsed()
        );
        assert!(run.stderr.contains("Received SIGTERM"), "{}", run.stderr);
        assert!(
            run.stderr.contains("error: stopped by a signal"),
            "{}",
            run.stderr
        );
        let history = db.history();
        assert!(history[0].finished, "{history:?}");
        match mode {
            "transactional" => {
                assert_eq!(
                    history.len(),
                    1,
                    "a rolled-back migration leaves no row: {history:?}"
                );
                assert!(!db.has_table("before_sleep"));
            }
            _ => {
                let report = status_json(&project, &db, 8);
                assert_eq!(report["migrations"][1]["state"], "interrupted", "{report}");
            }
        }
        project.safemig(&db, &["deploy"]).expect(0);
        assert!(db.history().iter().all(|h| h.finished && h.logs.is_none()));
        assert!(db.has_table("before_sleep"));
    }
}

/// The deadline passing, or a second signal, cancels the running statement server-side;
/// the cancelled statement is an interruption, not a failure, and runs again on resume.
fn deadline_or_second_signal_cancels_the_statement(kind: Kind) {
    let (sleep, setup) = match kind {
        Kind::Postgres => ("SELECT pg_sleep(4)", "VACUUM t1;\n"),
        // (An interrupted SLEEP() or BENCHMARK() returns early without an error; a scan of
        // MariaDB's sequence engine fails as a killed query should.)
        Kind::Mysql => (
            "SELECT COUNT(*) FROM seq_1_to_150000 a JOIN seq_1_to_1000 b ON (a.seq + b.seq) % 7 = 3",
            "",
        ),
        Kind::Sqlite => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT count(*) FROM c",
            "VACUUM;\n",
        ),
    };
    // Journaled on every engine (VACUUM cannot run in a transaction).
    let script = format!(
        "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n{setup}{sleep};\nCREATE TABLE t2 (id INTEGER PRIMARY KEY);\n"
    );
    for second_signal in [true, false] {
        let db = TestDb::new(kind);
        let project = Project::new(
            kind,
            &[
                ("20240101000000_init", crate::deploy::INIT),
                ("20240102000000_sleepy", &script),
            ],
        );
        let args: &[&str] = if second_signal {
            &["deploy"]
        } else {
            &["deploy", "--deadline", "0.5"]
        };
        let child = deploy_past_init(&project, &db, args);
        let pid = Pid::from_raw(child.id() as i32);
        kill(pid, Signal::SIGTERM).unwrap();
        if second_signal {
            std::thread::sleep(Duration::from_millis(200));
            kill(pid, Signal::SIGINT).unwrap();
        }
        let run = to_run(child.wait_with_output().unwrap()).expect(11);
        assert!(
            run.stderr
                .contains("cancelled a statement of `20240102000000_sleepy`"),
            "{}",
            run.stderr
        );
        let report = status_json(&project, &db, 8);
        let sleepy = &report["migrations"][1];
        assert_eq!(sleepy["state"], "interrupted", "{report}");
        assert!(!db.has_table("t2"));
        let run = project.safemig(&db, &["deploy"]).expect(0);
        assert!(
            run.stdout.contains("Resuming 20240102000000_sleepy"),
            "{}",
            run.stdout
        );
        assert!(db.has_table("t2"));
        assert!(db.history().iter().all(|h| h.finished && h.logs.is_none()));
    }
}

/// An in-flight statement whose effect safemig cannot inspect stops the resume with a
/// message naming it.
#[test]
fn undecidable_statement_stops_resume_naming_it() {
    let db = TestDb::new(Kind::Postgres);
    let other = format!("{}_created", db.name);
    let script = format!(
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE DATABASE {other};\nCREATE TABLE b (id INTEGER PRIMARY KEY);\n"
    );
    let project = Project::new(Kind::Postgres, &[("20240101000000_db", &script)]);
    project.deploy_killed_at(&db, "after_statement:2");
    let run = project.safemig(&db, &["deploy"]).expect(5);
    assert!(
        run.stderr
            .contains("cannot be resumed: statement 2 of 3 (line 2: `CREATE DATABASE"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("not something safemig can inspect"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("safemig resolve --applied 20240101000000_db"),
        "{}",
        run.stderr
    );
    crate::harness::postgres().admin_exec(&format!("DROP DATABASE {other}"));
}

/// A migration interrupted by safemig, then edited: its statements no longer match.
#[test]
fn edited_interrupted_migration_is_not_resumed() {
    let db = TestDb::new(Kind::Mysql);
    let project = project(Kind::Mysql);
    project.deploy_killed_at(&db, "after_statement:3");
    project.write(
        "20240102000000_accounts",
        &journaled_script(Kind::Mysql).replace("VARCHAR(20)", "VARCHAR(30)"),
    );
    let run = project.safemig(&db, &["deploy"]).expect(5);
    assert!(
        run.stderr
            .contains("changed since it was started: a statement after the 1 that had run differs"),
        "{}",
        run.stderr
    );
    // Formatting alone does not block a resume.
    project.write(
        "20240102000000_accounts",
        &journaled_script(Kind::Mysql).replace('\n', "\r\n  -- reformatted\n"),
    );
    project.safemig(&db, &["deploy"]).expect(0);
    assert_converged(&db);
}

/// Many replicas starting at once: one applies each migration, the rest wait and find
/// nothing to do.
fn sixteen_deployers_at_once(kind: Kind) {
    let corpus = match kind {
        Kind::Postgres => "evolution-api-postgresql",
        Kind::Mysql => "evolution-api-mysql",
        Kind::Sqlite => "pingvin-share-sqlite",
    };
    let Some(corpus_dir) = corpus_dir() else {
        return;
    };
    let migrations = corpus_dir.join(corpus).join("migrations");
    let db = TestDb::new(kind);
    let dir = migrations.to_str().unwrap();
    let children: Vec<_> = (0..16)
        .map(|_| {
            crate::harness::safemig_command(
                &std::env::temp_dir(),
                &[
                    "--url",
                    &db.url,
                    "--dir",
                    dir,
                    "deploy",
                    "--lock-timeout",
                    "600",
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|c| to_run(c.wait_with_output().unwrap()).expect(0))
        .collect();
    let total: usize = std::fs::read_dir(&migrations)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    let applied: usize = runs
        .iter()
        .map(|r| r.stdout.matches("Applied ").count())
        .sum();
    assert_eq!(
        applied, total,
        "every migration applied exactly once across the 16"
    );
    let waited = runs
        .iter()
        .filter(|r| r.stderr.contains("Waiting up to"))
        .count();
    assert!(waited > 0, "nobody waited for the lock?");
    let history = db.history();
    assert_eq!(history.len(), total);
    let mut names: Vec<_> = history.iter().map(|h| h.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), total, "a migration has two rows");
    assert!(history.iter().all(|h| h.finished));
    let project = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let report = safemig(
        project.dir.path(),
        &["--url", &db.url, "--dir", dir, "status", "--json"],
    )
    .expect(0);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(states(&report).len(), total);
}

for_each_engine!(
    killed_at_every_statement_boundary_resumes,
    killed_around_the_history_writes,
    killed_mid_statement,
    sigterm_stops_cleanly,
    deadline_or_second_signal_cancels_the_statement,
    sixteen_deployers_at_once,
);

/// A PL/pgSQL block that catches its own cancel, for up to a minute: a statement the
/// server does not stop when asked (a long CREATE INDEX, deep parsing behave alike).
const IGNORES_CANCEL: &str = "DO $$\n\
    DECLARE until timestamptz := clock_timestamp() + interval '60 seconds';\n\
    BEGIN\n\
      WHILE clock_timestamp() < until LOOP\n\
        BEGIN\n\
          PERFORM pg_sleep(0.05);\n\
        EXCEPTION WHEN query_canceled THEN\n\
          NULL;\n\
        END;\n\
      END LOOP;\n\
    END $$;\n";

/// SIGTERM (and a second one) against a statement that ignores its cancel: the stop ends
/// within the deadline plus the documented margin (the session is terminated), exits 11,
/// leaves the lock free and the history consistent; in both modes.
#[test]
fn stop_is_bounded_when_a_statement_ignores_its_cancel() {
    let margin = safemig::interrupt::STOP_MARGIN;
    let journaled = format!(
        "CREATE TABLE t (id INTEGER);\nCREATE INDEX CONCURRENTLY t_idx ON t (id);\n{IGNORES_CANCEL}"
    );
    let transactional = format!("CREATE TABLE t (id INTEGER);\n{IGNORES_CANCEL}");
    let cases: [(&str, &str, &[&str], bool); 3] = [
        (
            "journaled",
            &journaled,
            &["deploy", "--deadline", "1"],
            false,
        ),
        ("transactional", &transactional, &["deploy"], false),
        ("second signal", &journaled, &["deploy"], true),
    ];
    for (label, script, args, second_signal) in cases {
        let db = TestDb::new(Kind::Postgres);
        let project = Project::new(
            Kind::Postgres,
            &[
                ("20240101000000_init", crate::deploy::INIT),
                ("20240102000000_stubborn", script),
            ],
        );
        let child = deploy_past_init(&project, &db, args);
        let pid = Pid::from_raw(child.id() as i32);
        let signalled = Instant::now();
        kill(pid, Signal::SIGTERM).unwrap();
        if second_signal {
            std::thread::sleep(Duration::from_millis(200));
            kill(pid, Signal::SIGTERM).unwrap();
        }
        let run = to_run(child.wait_with_output().unwrap()).expect(11);
        let deadline = if label == "journaled" {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        // A bound on the stop, not a speed measurement: the block runs for a minute, and
        // the runtime's grace period would end it with SIGKILL.
        assert!(
            signalled.elapsed() < deadline + margin + Duration::from_secs(5),
            "{label}: took {:?}\n{}",
            signalled.elapsed(),
            run.stderr
        );
        assert!(
            run.stderr.contains("terminating its session"),
            "{label}: {}",
            run.stderr
        );
        let running = db.scalar(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'DO $$%'",
            db.name
        ));
        assert_eq!(
            running.as_deref(),
            Some("0"),
            "{label}: the block still runs"
        );
        let locks = db.scalar(
            "SELECT CAST(COUNT(*) AS TEXT) FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369",
        );
        assert_eq!(
            locks.as_deref(),
            Some("0"),
            "{label}: the lock is still held"
        );
        let report = status_json(&project, &db, 8);
        assert_ne!(
            report["migrations"][1]["state"], "failed",
            "{label}: {report}"
        );
    }
}

/// A SQLite project of `count` migrations, one table each: a folder that takes a while
/// to load.
fn tables_project(count: usize) -> Project {
    let migrations: Vec<(String, String)> = (0..count)
        .map(|i| {
            (
                format!("2024{i:06}_m"),
                format!("CREATE TABLE t{i} (id INTEGER);\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    Project::new(Kind::Sqlite, &refs)
}

/// A stop signal in the first milliseconds, before any work (here while a large folder
/// loads): exit 11, "stopped", nothing applied, never death by signal 15.
#[test]
fn a_signal_at_start_up_exits_11() {
    let project = tables_project(3000);
    for delay_ms in [1, 5, 20] {
        let db = TestDb::new(Kind::Sqlite);
        let child = project.spawn(&db, &["deploy"]);
        // Rust's runtime installs its SIGSEGV handler just before `main`: from then on the
        // process runs safemig's code.
        let status = format!("/proc/{}/status", child.id());
        let started = Instant::now();
        loop {
            let caught = std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("SigCgt:"))
                        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                })
                .unwrap_or(0);
            if caught & (1 << (libc::SIGSEGV - 1)) != 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "never started");
            std::thread::sleep(Duration::from_micros(100));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let run = to_run(child.wait_with_output().unwrap()).expect(11);
        assert!(
            run.stderr.contains("Received SIGTERM"),
            "{delay_ms} ms: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("stopped"),
            "{delay_ms} ms: {}",
            run.stderr
        );
        assert!(
            !db.sqlite_path().exists() || db.history().iter().all(|h| h.finished),
            "{delay_ms} ms: nothing half-applied"
        );
    }
}

/// SIGTERM at random instants in the first 10 ms of 50 runs of a command: once safemig's
/// first instruction has run (an initialiser that blocks SIGTERM and SIGINT until `main`
/// installs the handlers; the test reads the process's signal mask just before it
/// signals), no run dies of signal 15: each exits 11 or finishes as it would have. Runs
/// signalled earlier, during the kernel's `exec` or the dynamic loader (README, "Signals"),
/// may die of it, as any program would, and are counted apart.
#[test]
fn sigterm_in_the_first_10_ms_never_kills_safemig() {
    use std::hash::{BuildHasher, RandomState};

    let project = tables_project(300);
    let db = TestDb::new(Kind::Sqlite);
    // Uninterrupted, `status` reports the migrations pending.
    let finished = 8;
    project.safemig(&db, &["status"]).expect(finished);
    let (mut protected, mut early_deaths) = (0, 0);
    for run in 0..50 {
        let delay = Duration::from_micros(RandomState::new().hash_one(run) % 10_000);
        let child = project.spawn(&db, &["status"]);
        let spawned = Instant::now();
        while spawned.elapsed() < delay {
            std::hint::spin_loop();
        }
        let pid = child.id() as i32;
        let running = stop_signals_handled(pid);
        kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
        let result = to_run(child.wait_with_output().unwrap());
        match result.signal {
            Some(signal) => {
                assert!(
                    !running,
                    "run {run}: killed by signal {signal} {delay:?} after spawn, although safemig's code was running"
                );
                early_deaths += 1;
            }
            None => {
                assert!(
                    [11, finished].contains(&result.code),
                    "run {run} ({delay:?}): {result:?}"
                );
                protected += usize::from(running);
            }
        }
    }
    eprintln!(
        "{protected} of 50 signalled while safemig ran, none killed; {early_deaths} killed before its first instruction"
    );
    assert!(
        protected >= 10,
        "only {protected} of 50 runs were signalled after start-up: the test proved little"
    );
}

/// Whether process `pid` already blocks or handles SIGTERM: safemig's own code has run.
fn stop_signals_handled(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let mask = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0)
    };
    (mask("SigBlk:") | mask("SigCgt:")) & (1 << (libc::SIGTERM - 1)) != 0
}

/// A SQLite data migration of many small statements (a million INSERT lines, 26 MB): SIGTERM
/// rolls it back at once. (sqlx's multi-statement path never saw the stop: SQLite's
/// interrupt is lost between two short statements, and that path spent its time copying
/// the script between statements.)
#[test]
fn sqlite_data_migration_stops_on_sigterm() {
    let mut data = String::from("CREATE TABLE bulk (id INTEGER);\n");
    for i in 0..1_000_000 {
        data.push_str(&format!("INSERT INTO bulk VALUES ({i});\n"));
    }
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", crate::deploy::INIT),
            ("20240102000000_bulk", &data),
        ],
    );
    let mut child = deploy_until_init_applied(&project, &db, &["deploy"]);
    // Signal once the data migration has written a megabyte (its pages spill from SQLite's
    // cache into the file), however fast the machine.
    let size = || std::fs::metadata(db.sqlite_path()).map_or(0, |m| m.len());
    let started = Instant::now();
    while size() < 1 << 20 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "deploy ended before the signal"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let signalled = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let run = to_run(child.wait_with_output().unwrap()).expect(11);
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "took {:?}",
        signalled.elapsed()
    );
    assert!(
        run.stderr.contains("`20240102000000_bulk` was rolled back"),
        "{}",
        run.stderr
    );
    assert!(!db.has_table("bulk"), "rolled back as a whole");
    assert_eq!(db.history().len(), 1);
}
