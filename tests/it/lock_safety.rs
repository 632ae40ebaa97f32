//! Lock-safe execution: while an application's transaction holds a table, a migration's
//! DDL waits at most its lock wait per attempt and retries, so the application's own
//! queries of that table are never queued behind it for longer; the deploy completes once
//! the transaction ends, stops cleanly on SIGTERM, and gives up with its own exit code
//! when the retries run out. Servers only: SQLite has no lock queue (its migration lock
//! holds the whole file).

use std::io::BufRead;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::harness::{
    Kind, Project, Server, TestDb, block_on, private_mariadb, run_as_printed, run_within, to_run,
};
use crate::journeys::next_commands;

const INIT: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY);\n\
                    INSERT INTO t (id) VALUES (1), (2), (3);\n";
const ADD_COLUMN: &str = "ALTER TABLE t ADD COLUMN y INTEGER;\n";
const SECOND: &str = "20240102000000_add_y";

/// The lock wait the tests give deploy, in seconds.
const LOCK_WAIT: f64 = 1.0;

/// What a measured wait may exceed its bound by on a shared, loaded machine.
const SLACK: Duration = Duration::from_millis(1500);

/// A new database. MySQL's migration lock is server-wide and these tests hold it for
/// seconds while their deploys wait for a table: on a MariaDB server of their own, the
/// other tests' deploys and lock checks never see it.
fn database(kind: Kind) -> TestDb {
    match kind {
        Kind::Mysql => {
            static SERVER: OnceLock<&'static Server> = OnceLock::new();
            TestDb::new_on(kind, SERVER.get_or_init(private_mariadb))
        }
        _ => TestDb::new(kind),
    }
}

/// A project whose first migration made `t` (deployed), the second adding a column.
fn deployed(kind: Kind) -> (TestDb, Project) {
    let db = database(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(SECOND, ADD_COLUMN);
    (db, project)
}

/// An application's open transaction that has read `table`: PostgreSQL holds its ACCESS
/// SHARE lock, MariaDB its metadata lock, until it ends.
pub(crate) fn hold_table(db: &TestDb, table: &str) -> AnyConnection {
    block_on(async {
        let mut conn = db.connect().await;
        let read = format!("BEGIN; SELECT COUNT(*) FROM {table}");
        sqlx::raw_sql(AssertSqlSafe(read))
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    })
}

pub(crate) fn end(holder: AnyConnection) {
    block_on(holder.close()).unwrap();
}

/// `deploy --json` with the tests' lock wait, and its events as they come.
fn deploy_watched(
    project: &Project,
    db: &TestDb,
    extra: &[&str],
) -> (Child, mpsc::Receiver<serde_json::Value>) {
    let wait = LOCK_WAIT.to_string();
    let mut args = vec!["deploy", "--json", "--table-lock-wait", &wait];
    args.extend(extra);
    let mut child = project.spawn(db, &args);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let event = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("deploy --json printed a line that is not JSON ({e}): {line}")
            });
            let _ = tx.send(event);
        }
    });
    (child, rx)
}

/// Waits for the `n`-th lock-wait retry, collecting the events on the way; kills the
/// deploy if it never comes.
fn until_retries(
    child: &mut Child,
    rx: &mpsc::Receiver<serde_json::Value>,
    n: usize,
    events: &mut Vec<serde_json::Value>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while retries(events).count() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(event) => events.push(event),
            Err(_) => {
                let _ = child.kill();
                panic!("deploy did not retry its lock wait {n} times: {events:?}");
            }
        }
    }
}

/// Sets the flag when dropped: the application's reads stop however the test ends.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn retries(events: &[serde_json::Value]) -> impl Iterator<Item = &serde_json::Value> {
    events.iter().filter(|e| e["event"] == "lock_wait_retry")
}

fn seconds(value: &serde_json::Value) -> Duration {
    Duration::from_secs_f64(
        value
            .as_f64()
            .unwrap_or_else(|| panic!("not seconds: {value}")),
    )
}

/// The application: reads `t` over and over from its own connection until `stop`, and
/// returns the longest a read took (a read the server cut off at 3 s counts as 3 s and
/// more: PostgreSQL's `statement_timeout`, MariaDB's `max_statement_time`).
fn app_reads(db: &TestDb, stop: &AtomicBool) -> Duration {
    block_on(async {
        let mut conn = db.connect().await;
        let limit = match db.kind {
            Kind::Postgres => "SET statement_timeout = '3s'",
            _ => "SET SESSION max_statement_time = 3",
        };
        sqlx::raw_sql(limit).execute(&mut conn).await.unwrap();
        let mut longest = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let read = sqlx::raw_sql(AssertSqlSafe(
                "SELECT COUNT(*) FROM t WHERE id < 10".to_string(),
            ))
            .execute(&mut conn)
            .await;
            let took = match read {
                Ok(_) => started.elapsed(),
                Err(e) => {
                    eprintln!(
                        "an application read failed after {:?}: {e}",
                        started.elapsed()
                    );
                    started.elapsed().max(Duration::from_secs(3))
                }
            };
            longest = longest.max(took);
            // Pacing, not synchronisation: a read every 20 ms.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        longest
    })
}

fn has_column(db: &TestDb) -> bool {
    db.try_exec("SELECT y FROM t").is_ok()
}

/// The second migration's state in `status --json` (exit 8: it still waits).
fn second_state(project: &Project, db: &TestDb) -> String {
    let run = project.safemig(db, &["status", "--json"]).expect(8);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let second = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == SECOND)
        .unwrap_or_else(|| panic!("{report}"));
    second["state"].as_str().unwrap().to_string()
}

/// The holder blocks the ALTER: each attempt waits at most the lock wait, the
/// application's reads of the table never wait longer than that (plus slack), and the
/// deploy completes as soon as the holder ends. Before: the ALTER waited in the queue for
/// as long as the holder lived, and every read of `t` behind it (PostgreSQL's 3 s
/// `statement_timeout` failed them).
fn app_reads_never_queue_behind_a_waiting_migration(kind: Kind) {
    let (db, project) = deployed(kind);
    let holder = hold_table(&db, "t");
    let stop = AtomicBool::new(false);
    let (longest, events, run) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| app_reads(&db, &stop));
        let stopping = StopOnDrop(&stop);
        let (mut child, rx) = deploy_watched(&project, &db, &[]);
        let mut events = Vec::new();
        until_retries(&mut child, &rx, 3, &mut events);
        end(holder);
        let run = to_run(child.wait_with_output().unwrap());
        // Everything it printed: the reader ends at the end of its output.
        events.extend(rx.iter());
        drop(stopping);
        (reader.join().unwrap(), events, run)
    });
    let run = run.expect(0);
    assert!(has_column(&db), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "applied" && e["migration"] == SECOND),
        "{events:?}"
    );
    assert!(
        events.last().is_some_and(|e| e["event"] == "finished"),
        "{events:?}"
    );
    let bound = Duration::from_secs_f64(LOCK_WAIT) + SLACK;
    assert!(
        longest <= bound,
        "an application read waited {longest:?} (bound {bound:?})\n{}",
        run.stderr
    );
    // Each attempt gave up after its lock wait: the time between two retries' reports is
    // the pause before the attempt and the attempt itself.
    let retries: Vec<_> = retries(&events).collect();
    let mut before = (Duration::ZERO, Duration::ZERO);
    for retry in &retries {
        assert_eq!(retry["migration"], SECOND, "{retry}");
        assert_eq!(
            seconds(&retry["lock_wait_seconds"]),
            Duration::from_secs_f64(LOCK_WAIT)
        );
        let spent = seconds(&retry["spent_seconds"]);
        let attempt = spent.saturating_sub(before.0 + before.1);
        assert!(
            attempt <= bound,
            "an attempt waited {attempt:?}: {retries:?}"
        );
        before = (spent, seconds(&retry["retry_in_seconds"]));
    }
    if kind == Kind::Postgres {
        // Asked while the ALTER waited: the table, and the holder's session.
        let waiting = retries.last().unwrap()["waiting_for"]
            .as_str()
            .unwrap_or_default();
        assert!(
            waiting.contains("lock on t, held by PostgreSQL session"),
            "{retries:?}"
        );
    }
    let history = db.history();
    assert!(
        history.iter().all(|h| h.finished && !h.rolled_back),
        "{history:?}"
    );
}

/// SIGTERM while deploy retries: it stops at once with exit 11, nothing of the migration
/// applied and no failed row; the next deploy applies it.
fn sigterm_during_the_retries(kind: Kind) {
    let (db, project) = deployed(kind);
    let holder = hold_table(&db, "t");
    let (mut child, rx) = deploy_watched(&project, &db, &[]);
    let mut events = Vec::new();
    until_retries(&mut child, &rx, 1, &mut events);
    let signalled = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let run = to_run(child.wait_with_output().unwrap()).expect(11);
    // At most one attempt's lock wait: far below the 20 s deadline.
    let bound = Duration::from_secs_f64(LOCK_WAIT) + Duration::from_secs(5);
    assert!(
        signalled.elapsed() <= bound,
        "took {:?}",
        signalled.elapsed()
    );
    assert!(
        run.stderr.contains("error: stopped by a signal"),
        "{}",
        run.stderr
    );
    assert!(!has_column(&db));
    let state = second_state(&project, &db);
    assert!(state == "pending" || state == "interrupted", "{state}");
    if kind == Kind::Postgres {
        // The transaction rolled back: not even an attempt is recorded.
        assert_eq!(db.history().len(), 1, "{:?}", db.history());
    }
    end(holder);
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(has_column(&db));
}

/// The holder outlasts the retries: exit 15, naming the statement and what it waited for,
/// nothing applied, and a `next:` line that deploys once the holder is gone, as printed.
fn retries_run_out(kind: Kind) {
    let (db, project) = deployed(kind);
    let holder = hold_table(&db, "t");
    let holder_session = match kind {
        Kind::Postgres => db.scalar(
            "SELECT CAST(pid AS TEXT) FROM pg_stat_activity \
             WHERE state = 'idle in transaction' AND datname = current_database()",
        ),
        _ => None,
    };
    let wait = LOCK_WAIT.to_string();
    let args = [
        "deploy",
        "--table-lock-wait",
        &wait,
        "--table-lock-retry-for",
        "4",
    ];
    let run = run_within(&mut project.command(&db, &args), Duration::from_secs(60)).expect(15);
    assert!(
        run.stderr.contains(&format!(
            "migration `{SECOND}` could not get the lock it needs"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Lock wait: "),
        "each retry is a line: {}",
        run.stderr
    );
    match kind {
        Kind::Postgres => {
            let pid = holder_session.expect("the holder's session");
            let held = format!("relation lock on t, held by PostgreSQL session {pid}");
            assert!(run.stderr.contains(&held), "{}", run.stderr);
        }
        _ => {
            assert!(
                run.stderr
                    .contains("statement 1 of 1 (line 1, `ALTER TABLE t ADD COLUMN y INTEGER`)"),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr.contains("waiting for table metadata lock"),
                "{}",
                run.stderr
            );
        }
    }
    assert!(!has_column(&db));
    let state = second_state(&project, &db);
    assert!(state == "pending" || state == "interrupted", "{state}");
    end(holder);
    let next = crate::journeys::next_commands(&run);
    let printed = next
        .iter()
        .find(|c| c.starts_with("safemig deploy"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    run_as_printed(project.dir.path(), printed, &[("DATABASE_URL", &db.url)]).expect(0);
    assert!(has_column(&db));
}

/// A PostgreSQL migration with its own `BEGIN … COMMIT` runs journaled: the statement
/// inside that gave up its lock wait rolled the script's transaction back, so it runs again
/// from the `BEGIN`, and nothing is recorded as failed meanwhile.
fn journaled_retries_from_the_scripts_begin() {
    let (db, project) = deployed(Kind::Postgres);
    project.write(SECOND, &format!("BEGIN;\n{ADD_COLUMN}COMMIT;\n"));
    let holder = hold_table(&db, "t");
    let (mut child, rx) = deploy_watched(&project, &db, &[]);
    let mut events = Vec::new();
    until_retries(&mut child, &rx, 2, &mut events);
    let history = db.history();
    assert!(
        history.iter().all(|h| h
            .logs
            .as_deref()
            .is_none_or(|l| !l.contains("failed at statement"))),
        "a retry recorded a failure: {history:?}"
    );
    end(holder);
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    // Everything it printed: the reader ends at the end of its output.
    events.extend(rx.iter());
    let statement = &retries(&events).next().unwrap()["statement"];
    assert_eq!(statement["number"], 2, "{events:?}");
    assert_eq!(statement["total"], 3, "{events:?}");
    assert!(has_column(&db), "{}", run.stderr);
    let history = db.history();
    assert!(
        history.iter().all(|h| h.finished && h.logs.is_none()),
        "{history:?}"
    );
}

/// Inside `run`, the retries end within its stop timeout (8 s for the default 10 s grace
/// period), whatever `--table-lock-retry-for` says: the start fails with exit 15 and the
/// app is not started.
fn run_gives_up_within_its_stop_timeout() {
    let (db, project) = deployed(Kind::Postgres);
    let holder = hold_table(&db, "t");
    let started = Instant::now();
    let args = ["run", "--table-lock-retry-for", "300", "--", "true"];
    let run = run_within(&mut project.command(&db, &args), Duration::from_secs(60));
    let took = started.elapsed();
    end(holder);
    let run = run.expect(15);
    assert!(run.stderr.contains("Lock wait: "), "{}", run.stderr);
    assert!(!run.stderr.contains("started pid"), "{}", run.stderr);
    assert!(took <= Duration::from_secs(8) + SLACK * 2, "took {took:?}");
    assert!(!has_column(&db));
}

/// A database where the second migration failed after adding `t.y`, as Prisma leaves
/// it when it dies there.
fn failed_after_adding_y(kind: Kind) -> (TestDb, Project) {
    let db = database(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let failed = format!("{ADD_COLUMN}CREATE TABLE u (id INTEGER PRIMARY KEY);\n");
    project.write(SECOND, &failed);
    crate::repair::fail_after(&db, SECOND, &failed, 1);
    assert!(has_column(&db));
    (db, project)
}

/// When the holder outlives `--table-lock-retry-for`, the roll-back gives up with exit 15
/// and nothing of it kept; its `next:` line, run as printed once the holder is gone, shows
/// the same verdict, whose roll-back (of the two ways it offers) then heals.
fn roll_back_retries_run_out(kind: Kind) {
    let (db, project) = failed_after_adding_y(kind);
    let holder = hold_table(&db, "t");
    let wait = LOCK_WAIT.to_string();
    let args = [
        "repair",
        SECOND,
        "--apply",
        "--roll-back",
        "--table-lock-wait",
        &wait,
        "--table-lock-retry-for",
        "3",
    ];
    let run = run_within(&mut project.command(&db, &args), Duration::from_secs(60)).expect(15);
    assert!(
        run.stderr.contains("gave up waiting for a table lock"),
        "{}",
        run.stderr
    );
    assert!(has_column(&db), "{}", run.stderr);
    end(holder);
    let vars = [("DATABASE_URL", db.url.as_str())];
    let next = next_commands(&run);
    assert_eq!(next.len(), 1, "{}", run.stderr);
    let report = run_as_printed(project.dir.path(), &next[0], &vars);
    let next = next_commands(&report);
    let roll_back = next
        .iter()
        .find(|n| n.contains("--roll-back"))
        .unwrap_or_else(|| panic!("{next:?}"));
    run_as_printed(project.dir.path(), roll_back, &vars).expect(0);
    assert!(!has_column(&db));
    project.safemig(&db, &["deploy"]).expect(0);
}

/// SIGTERM while the roll-back waits to try again: exit 11 at once, nothing of the
/// roll-back kept, and the roll-back run again once the holder is gone heals.
fn sigterm_during_the_roll_back_retries(kind: Kind) {
    let (db, project) = failed_after_adding_y(kind);
    let holder = hold_table(&db, "t");
    let wait = LOCK_WAIT.to_string();
    let args = [
        "repair",
        SECOND,
        "--apply",
        "--roll-back",
        "--table-lock-wait",
        &wait,
    ];
    let mut child = project.spawn(&db, &args);
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        let retried = line.contains("gave up waiting for a table lock");
        lines.push(line);
        if retried {
            break;
        }
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(11), "{lines:?}");
    assert!(has_column(&db), "nothing of the roll-back is kept");
    end(holder);
    project
        .safemig(&db, &["repair", SECOND, "--apply", "--roll-back"])
        .expect(0);
    assert!(!has_column(&db));
}

/// Repair's roll-back waits for table locks as deploy does: while the app's transaction
/// holds `t`, from which the roll-back must drop the column the failed migration added,
/// each attempt waits at most the lock wait and is retried, the app's reads never queue
/// longer, and the roll-back completes once the transaction ends. Before: its DROP
/// COLUMN waited in the lock queue for as long as the holder lived, the reads behind it.
fn roll_back_never_queues_the_app(kind: Kind) {
    let (db, project) = failed_after_adding_y(kind);
    let holder = hold_table(&db, "t");
    let stop = AtomicBool::new(false);
    let wait = LOCK_WAIT.to_string();
    let (longest, run, retried) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| app_reads(&db, &stop));
        let stopping = StopOnDrop(&stop);
        let args = [
            "repair",
            SECOND,
            "--apply",
            "--roll-back",
            "--table-lock-wait",
            &wait,
        ];
        let mut child = project.spawn(&db, &args);
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        scope.spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let retry = |l: &String| l.contains("gave up waiting for a table lock");
        while lines.iter().filter(|l| retry(l)).count() < 2 {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("the roll-back did not retry twice: {lines:?}");
                }
            }
        }
        end(holder);
        let status = child.wait().unwrap();
        lines.extend(rx.iter());
        drop(stopping);
        let retried = lines.iter().filter(|l| retry(l)).count();
        (reader.join().unwrap(), (status, lines.join("\n")), retried)
    });
    let (status, stderr) = run;
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(retried >= 2, "{stderr}");
    assert!(!has_column(&db), "the column is still there:\n{stderr}");
    assert!(db.try_exec("SELECT id FROM u").is_err(), "{stderr}");
    let bound = Duration::from_secs_f64(LOCK_WAIT) + SLACK;
    assert!(
        longest <= bound,
        "an application read waited {longest:?} (bound {bound:?})\n{stderr}"
    );
    // Rolled back: the next deploy applies the migration whole.
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(has_column(&db));
}

mod postgres {
    use crate::harness::Kind;

    #[test]
    fn run_gives_up_within_its_stop_timeout() {
        super::run_gives_up_within_its_stop_timeout()
    }

    #[test]
    fn journaled_retries_from_the_scripts_begin() {
        super::journaled_retries_from_the_scripts_begin()
    }

    #[test]
    fn app_reads_never_queue_behind_a_waiting_migration() {
        super::app_reads_never_queue_behind_a_waiting_migration(Kind::Postgres)
    }

    #[test]
    fn sigterm_during_the_retries() {
        super::sigterm_during_the_retries(Kind::Postgres)
    }

    #[test]
    fn retries_run_out() {
        super::retries_run_out(Kind::Postgres)
    }

    #[test]
    fn roll_back_never_queues_the_app() {
        super::roll_back_never_queues_the_app(Kind::Postgres)
    }

    #[test]
    fn roll_back_retries_run_out() {
        super::roll_back_retries_run_out(Kind::Postgres)
    }

    #[test]
    fn sigterm_during_the_roll_back_retries() {
        super::sigterm_during_the_roll_back_retries(Kind::Postgres)
    }
}

mod mysql {
    use crate::harness::Kind;

    #[test]
    fn app_reads_never_queue_behind_a_waiting_migration() {
        super::app_reads_never_queue_behind_a_waiting_migration(Kind::Mysql)
    }

    #[test]
    fn sigterm_during_the_retries() {
        super::sigterm_during_the_retries(Kind::Mysql)
    }

    #[test]
    fn retries_run_out() {
        super::retries_run_out(Kind::Mysql)
    }

    #[test]
    fn roll_back_never_queues_the_app() {
        super::roll_back_never_queues_the_app(Kind::Mysql)
    }
}
