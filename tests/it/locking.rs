//! The migration lock: a second deploy waits for the holder, then times out naming it.

use std::process::Stdio;
use std::time::Duration;

use sqlx::Connection;

use crate::deploy::INIT;
use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb, block_on, to_run};

/// A connection holding Prisma's migration lock, as another deployer would.
pub(crate) enum Holder {
    Server(sqlx::AnyConnection),
    Sqlite(sqlx::SqliteConnection),
}

pub(crate) fn hold_lock(db: &TestDb) -> Holder {
    block_on(async {
        match db.kind {
            Kind::Postgres => {
                let mut conn = db.connect().await;
                sqlx::raw_sql("SELECT pg_advisory_lock(72707369)")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Holder::Server(conn)
            }
            Kind::Mysql => {
                // The lock is server-wide: other tests' deploys may hold it for a moment.
                let mut conn = db.connect().await;
                let got: i64 =
                    sqlx::query_scalar("SELECT CAST(GET_LOCK('prisma_migrate', 30) AS SIGNED)")
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                assert_eq!(got, 1, "the test could not take the MySQL lock");
                Holder::Server(conn)
            }
            Kind::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", db.sqlite_path().display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("PRAGMA main.locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Holder::Sqlite(conn)
            }
        }
    })
}

pub(crate) fn release(holder: Holder) {
    block_on(async {
        match holder {
            Holder::Server(conn) => conn.close().await.unwrap(),
            Holder::Sqlite(conn) => conn.close().await.unwrap(),
        }
    })
}

fn times_out_naming_the_holder(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    let holder = hold_lock(&db);
    let run = project
        .safemig(&db, &["deploy", "--lock-timeout", "1"])
        .expect(4);
    assert!(run.stderr.contains("error[P1002]"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("timed out after 1s waiting for the migration lock"),
        "{}",
        run.stderr
    );
    let named = match kind {
        Kind::Postgres => "held by PostgreSQL session",
        Kind::Mysql => "held by MySQL connection",
        Kind::Sqlite => "held by process",
    };
    assert!(run.stderr.contains(named), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Waiting up to 1s for the migration lock"),
        "{}",
        run.stderr
    );
    release(holder);
    assert!(!db.has_table("users"), "nothing ran without the lock");
}

fn waits_for_the_holder_then_deploys(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    let holder = hold_lock(&db);
    let child = {
        let mut cmd = project.command(&db, &["deploy", "--lock-timeout", "30"]);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(1500));
    // (An exclusive SQLite lock keeps this test out of the file too.)
    if kind != Kind::Sqlite {
        assert!(
            !db.has_table("users"),
            "deploy ran while another process held the lock"
        );
    }
    release(holder);
    let run = to_run(child.wait_with_output().unwrap()).expect(0);
    assert!(
        run.stderr
            .contains("Waiting up to 30s for the migration lock"),
        "{}",
        run.stderr
    );
    assert!(db.has_table("users"));
}

fn disabled_by_prisma_variable(kind: Kind) {
    let db = TestDb::new(kind);
    if kind == Kind::Sqlite {
        // SQLite's lock is the file lock itself; there is nothing to skip past.
        return;
    }
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    let holder = hold_lock(&db);
    let output = project
        .command(&db, &["deploy", "--lock-timeout", "1"])
        .env("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK", "1")
        .output()
        .unwrap();
    let run = to_run(output).expect(0);
    assert!(
        run.stderr.contains("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK"),
        "{}",
        run.stderr
    );
    release(holder);
}

/// Replicas starting together behind a deploy longer than their lock timeout: they keep
/// waiting while the holder makes progress, and all end well, finding nothing left to do.
/// (The timeout still ends the wait on an idle holder: `times_out_naming_the_holder`.)
fn replicas_wait_for_a_holder_that_makes_progress(kind: Kind) {
    // Slow steps the waiters can see: a statement running (the servers), pages written
    // to the database file (SQLite, whose waiters cannot read the file meanwhile).
    let (slow, timeout) = match kind {
        Kind::Postgres => ("SELECT pg_sleep(1);", "3"),
        // The MySQL lock is server-wide: other tests hold it idle for a second or so.
        Kind::Mysql => ("DO SLEEP(1.5);", "5"),
        Kind::Sqlite => (
            "INSERT INTO step SELECT x, hex(randomblob(100)) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 150000) SELECT x FROM c);",
            "2",
        ),
    };
    let migrations: Vec<(String, String)> = (0..6)
        .map(|i| {
            (
                format!("2024010{i}000000_step"),
                format!(
                    "CREATE TABLE step{i} (id INTEGER, pad TEXT);\n{}\n",
                    slow.replace("INTO step ", &format!("INTO step{i} "))
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let db = TestDb::new(kind);
    let project = Project::new(kind, &refs);
    let replicas: Vec<_> = (0..6)
        .map(|_| project.spawn(&db, &["deploy", "--lock-timeout", timeout]))
        .collect();
    let runs: Vec<_> = replicas
        .into_iter()
        .map(|child| to_run(child.wait_with_output().unwrap()).expect(0))
        .collect();
    let applied: usize = runs
        .iter()
        .map(|r| r.stdout.matches("Applied ").count())
        .sum();
    assert_eq!(applied, 6, "each migration applied once");
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains(&format!("Waiting up to {timeout}s"))),
        "nobody waited?"
    );
}

/// A holder whose statement waits on a table lock another session holds makes no progress:
/// a waiter gives up after its `--lock-timeout` (exit 4, P1002), naming the holder and what
/// it waits for, instead of waiting as long as the table stays locked (it waited 67 s for
/// a `--lock-timeout 5` before). Servers only: a SQLite holder cannot wait on another lock.
fn a_holder_waiting_on_a_table_lock_is_not_progress(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(
        "20240102000000_note",
        "ALTER TABLE users ADD COLUMN note VARCHAR(20);\n",
    );
    // An application's open transaction that read the table: the ALTER must wait for it.
    let blocker = block_on(async {
        let mut conn = db.connect().await;
        sqlx::raw_sql("BEGIN; SELECT COUNT(*) FROM users")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    // A lock wait longer than the test: the holder waits on the table as long as the
    // blocker lives, instead of retrying (lock_safety.rs tests the retries).
    let holder = project.spawn(&db, &["deploy", "--table-lock-wait", "600"]);
    let waiting = match kind {
        Kind::Postgres => {
            "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND datname = current_database()"
        }
        _ => {
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST \
             WHERE STATE LIKE 'Waiting for%lock' AND DB = DATABASE()"
        }
    };
    poll_until(
        Duration::from_secs(60),
        "the holder's ALTER to wait",
        || db.scalar(waiting).as_deref() != Some("0"),
    );
    // check sees the holder blocked, not working, and says on what.
    let dir = project.migrations();
    let args = [
        "check",
        "--url",
        &db.url,
        "--dir",
        dir.to_str().unwrap(),
        "--json",
    ];
    let check = crate::harness::safemig(project.dir.path(), &args);
    let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let lock = &report["environments"][0]["targets"][0]["lock"];
    assert_eq!(lock["busy"], false, "{lock}");
    assert!(
        lock["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("waiting for")),
        "{lock}"
    );
    let mut waiter = project.spawn(&db, &["deploy", "--lock-timeout", "3"]);
    // Well under the minute it waited before; the bound is generous, not a measurement.
    let finished = poll_until(Duration::from_secs(40), "the waiter to give up", || {
        waiter.try_wait().unwrap().is_some()
    });
    if !finished {
        let _ = waiter.kill();
    }
    let run = to_run(waiter.wait_with_output().unwrap());
    block_on(blocker.close()).unwrap();
    let holder_run = to_run(holder.wait_with_output().unwrap()).expect(0);
    assert!(holder_run.stdout.contains("Applied 20240102000000_note"));
    assert!(
        finished,
        "the waiter still waited after 40 s: {}",
        run.stderr
    );
    let run = run.expect(4);
    assert!(run.stderr.contains("error[P1002]"), "{}", run.stderr);
    let (named, wait) = match kind {
        Kind::Postgres => (
            "held by PostgreSQL session",
            "waiting for a relation lock on users",
        ),
        _ => (
            "held by MySQL connection",
            "waiting for table metadata lock",
        ),
    };
    assert!(run.stderr.contains(named), "{}", run.stderr);
    assert!(run.stderr.contains(wait), "{}", run.stderr);
}

/// Polls `done` every 100 ms for at most `limit`; whether it became true.
fn poll_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("gave up waiting for {what} after {limit:?}");
    false
}

mod servers {
    #[test]
    fn postgres_holder_waiting_on_a_table_lock_is_not_progress() {
        super::a_holder_waiting_on_a_table_lock_is_not_progress(crate::harness::Kind::Postgres)
    }

    #[test]
    fn mysql_holder_waiting_on_a_table_lock_is_not_progress() {
        super::a_holder_waiting_on_a_table_lock_is_not_progress(crate::harness::Kind::Mysql)
    }
}

for_each_engine!(
    replicas_wait_for_a_holder_that_makes_progress,
    times_out_naming_the_holder,
    waits_for_the_holder_then_deploys,
    disabled_by_prisma_variable
);
