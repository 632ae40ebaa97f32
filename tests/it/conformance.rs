//! The engine conformance suite: the same checks, through the library's engine layer (no
//! CLI, no deploy algorithm), on every engine. What an engine must do for the algorithms
//! above it to be right is checked here first; where engines legitimately differ, the
//! expectation follows the engine's declared capabilities, never its name. A new engine
//! implements the traits in `src/engine/` and a module in `tests/it/engines/`, and runs
//! these (see ARCHITECTURE.md, "Adding an engine").

use std::sync::Arc;
use std::time::Duration;

use safemig::engine::{self, ErrorKind};
use safemig::history::{self, HistoryRow};
use safemig::provider::LockKind;
use safemig::sql::{self, ScriptProfile};

use crate::for_each_engine;
use crate::harness::test_engine;
use crate::harness::{Kind, TestDb, block_on, engine_for};

/// A second session cannot take the lock while the first holds it, can see who holds it
/// (where the lock kind lets a session of the same process tell), and takes it once it is
/// released.
fn lock_excludes_other_sessions_until_released(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut first = engine_for(&db).await;
        let mut second = engine_for(&db).await;
        assert!(first.try_lock().await.unwrap(), "a free lock is taken");
        assert!(!second.try_lock().await.unwrap(), "a held lock is refused");
        let holder = second.lock_holder().await.unwrap();
        match kind.capabilities().lock {
            LockKind::Advisory | LockKind::Named => {
                let holder = holder.expect("the holder is found");
                assert!(!holder.description.is_empty(), "{holder:?}");
            }
            // A file lock names the holding process, and this one is ourselves.
            LockKind::File => assert_eq!(holder, None),
        }
        first.unlock().await.unwrap();
        assert!(second.try_lock().await.unwrap(), "a released lock is taken");
        second.unlock().await.unwrap();
    });
}

/// Rows written through the history store read back equal, through every transition
/// Prisma makes, oldest `started_at` first.
fn history_store_round_trip(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut engine = engine_for(&db).await;
        assert!(!engine.history_exists().await.unwrap());
        engine.create_history().await.unwrap();
        assert!(engine.history_exists().await.unwrap());
        assert_eq!(engine.read_history().await.unwrap(), vec![]);

        let mut first = HistoryRow::started("20240101000000_init", &"a".repeat(64));
        first.started_at -= chrono::TimeDelta::seconds(60);
        let second = HistoryRow::resolved_applied("20240102000000_next", &"b".repeat(64));
        // Written out of order: read back by `started_at`.
        engine.insert_row(&second).await.unwrap();
        engine.insert_row(&first).await.unwrap();
        assert_eq!(
            engine.read_history().await.unwrap(),
            vec![first.clone(), second.clone()]
        );

        engine
            .update_journal(&first.id, 3, "journal text")
            .await
            .unwrap();
        let journaled = engine.read_history().await.unwrap().remove(0);
        assert_eq!(journaled.applied_steps_count, 3);
        assert_eq!(journaled.logs.as_deref(), Some("journal text"));
        assert!(journaled.is_failed(), "{journaled:?}");

        let at = history::now();
        let fixed_checksum = "c".repeat(64);
        engine.finish(&first.id, &fixed_checksum, at).await.unwrap();
        let finished = engine.read_history().await.unwrap().remove(0);
        assert_eq!(
            finished,
            HistoryRow {
                finished_at: Some(at),
                applied_steps_count: 1,
                logs: None,
                checksum: fixed_checksum,
                ..first.clone()
            }
        );

        engine.mark_rolled_back(&second.id, at).await.unwrap();
        let rolled_back = engine.read_history().await.unwrap().remove(1);
        assert_eq!(rolled_back.rolled_back_at, Some(at));
        assert!(!rolled_back.is_live());

        // The history is not a user table for Prisma's "database not empty" check.
        assert_eq!(engine.user_objects().await.unwrap(), Vec::<String>::new());
    });
}

/// A failing script reports the server's message and code as a statement error, and the
/// session stays usable.
fn script_errors_carry_the_servers_message(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut engine = engine_for(&db).await;
        let error = engine
            .run_script("SELECT * FROM conformance_missing")
            .await
            .expect_err("a missing table fails");
        assert_eq!(error.kind, ErrorKind::Statement, "{error:?}");
        assert!(
            error.message.contains("conformance_missing"),
            "{}",
            error.message
        );
        assert!(error.code.is_some(), "{error:?}");
        engine
            .run_script("CREATE TABLE conformance (a INTEGER)")
            .await
            .unwrap();
        assert_eq!(engine.user_objects().await.unwrap(), ["conformance"]);
    });
}

/// A rolled-back migration transaction undoes its DDL where the engine's DDL is
/// transactional, and cannot where it commits implicitly.
fn rollback_follows_transactional_ddl(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut engine = engine_for(&db).await;
        let script = "CREATE TABLE conformance (a INTEGER)";
        let profile = ScriptProfile::of(script, kind.dialect());
        engine.begin(&profile).await.unwrap();
        engine.run_script(script).await.unwrap();
        engine.rollback().await.unwrap();
        let left = engine.user_objects().await.unwrap();
        if kind.capabilities().transactional_ddl {
            assert_eq!(left, Vec::<String>::new());
        } else {
            assert_eq!(left, ["conformance"]);
        }
    });
}

/// The canceller stops a statement that would otherwise never end, from another task;
/// the statement fails as a statement error and the session stays usable.
fn cancel_stops_a_running_statement(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut engine = engine_for(&db).await;
        let canceller: Arc<dyn engine::Canceller> = engine.canceller();
        let endless = test_engine(kind).endless_statement();
        // Cancel until the statement has started and stopped: a cancel that arrives
        // before it starts is a no-op. The hour-long guard only turns a hang into a
        // failure; nothing here measures speed.
        let result = tokio::time::timeout(Duration::from_secs(600), async {
            let run = engine.run_script(endless);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    result = &mut run => break result,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {
                        canceller.cancel().await.unwrap();
                    }
                }
            }
        })
        .await
        .expect("the cancelled statement ended");
        let error = result.expect_err("a cancelled statement fails");
        assert_eq!(error.kind, ErrorKind::Statement, "{error:?}");
        assert!(!engine.history_exists().await.unwrap());
    });
}

/// Where the engine inspects a statement's target, the snapshot is stable while nothing
/// changes and changes when the statement runs; for everything else it says it cannot
/// tell (`None`) rather than guessing.
fn snapshots_see_what_a_statement_changes(kind: Kind) {
    let db = TestDb::new(kind);
    let dialect = kind.dialect();
    block_on(async {
        let mut engine = engine_for(&db).await;
        engine
            .run_script("CREATE TABLE conformance (a INTEGER)")
            .await
            .unwrap();
        for sql in test_engine(kind).inspected_statements() {
            let statements = sql::split(sql, dialect);
            let target = sql::target(&statements[0], dialect);
            let before = engine.snapshot(&target).await.unwrap();
            let before = before.unwrap_or_else(|| panic!("{kind:?} inspects {target:?}"));
            assert_eq!(
                engine.snapshot(&target).await.unwrap().as_ref(),
                Some(&before),
                "stable while nothing changes"
            );
            engine.run_script(sql).await.unwrap();
            let after = engine.snapshot(&target).await.unwrap().unwrap();
            assert_ne!(after.state, before.state, "{sql} changes {target:?}");
            assert!(after.complete && after.exists, "{after:?}");
        }
        // What no engine can inspect is said to be so.
        assert_eq!(engine.snapshot(&sql::Target::Unknown).await.unwrap(), None);
    });
}

/// A scratch database is made empty, usable and writable, its fingerprint is stable, and
/// dropping it removes it even while a connection to it is still open.
fn scratch_databases_are_made_and_dropped(kind: Kind) {
    let db = TestDb::new(kind);
    block_on(async {
        let mut admin = engine_for(&db).await;
        let fingerprint = admin.scratch_fingerprint().await.unwrap();
        assert!(!fingerprint.is_empty());
        assert_eq!(admin.scratch_fingerprint().await.unwrap(), fingerprint);
        let name = format!("safemig_drift_c{}", db.name);
        let url = admin.create_scratch(&name).await.unwrap();
        let wait = Duration::from_secs(5);
        let mut scratch = engine::connect(&url, engine::Access::ReadWrite, wait)
            .await
            .unwrap();
        assert_eq!(scratch.user_objects().await.unwrap(), Vec::<String>::new());
        scratch
            .run_script("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        admin.drop_scratch(&name).await.unwrap();
        drop(scratch);
        let error = engine::connect(&url, engine::Access::ReadOnly, wait)
            .await
            .err()
            .expect("the scratch database is gone");
        assert!(
            matches!(
                error,
                safemig::Error::Database(safemig::error::DatabaseError::DatabaseMissing { .. })
            ),
            "{error}"
        );
    });
}

/// A statement blocked by another session's lock gives up after the lock wait
/// (`set_lock_wait`) as `ErrorKind::LockWaitTimeout`, and while it waits the canceller
/// says on what. Servers only: SQLite sets no lock wait (its migration lock holds the file).
fn lock_wait_bounds_a_blocked_statement(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    let holder = crate::lock_safety::hold_table(&db, "t");
    block_on(async {
        let mut engine = engine_for(&db).await;
        engine.set_lock_wait(Duration::from_secs(1)).await.unwrap();
        let canceller = engine.canceller();
        let mut seen = None;
        let started = std::time::Instant::now();
        let blocked = async {
            let run = engine.run_script("ALTER TABLE t ADD COLUMN y INTEGER");
            tokio::pin!(run);
            loop {
                tokio::select! {
                    result = &mut run => break result,
                    _ = tokio::time::sleep(Duration::from_millis(200)), if seen.is_none() => {
                        seen = canceller.waiting_for().await.unwrap();
                    }
                }
            }
        };
        // Without a lock wait it would wait as long as the holder lives.
        let result = tokio::time::timeout(Duration::from_secs(30), blocked)
            .await
            .expect("the blocked statement gave up within 30 s");
        let error = result.expect_err("the blocked statement gives up");
        assert_eq!(error.kind, ErrorKind::LockWaitTimeout, "{error:?}");
        // Bounded with slack on a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let seen = seen.expect("the canceller saw the statement wait");
        assert!(seen.contains("lock"), "{seen}");
    });
    crate::lock_safety::end(holder);
}

mod servers {
    #[test]
    fn postgres_lock_wait_bounds_a_blocked_statement() {
        super::lock_wait_bounds_a_blocked_statement(crate::harness::Kind::Postgres)
    }

    #[test]
    fn mysql_lock_wait_bounds_a_blocked_statement() {
        super::lock_wait_bounds_a_blocked_statement(crate::harness::Kind::Mysql)
    }
}

for_each_engine!(
    scratch_databases_are_made_and_dropped,
    lock_excludes_other_sessions_until_released,
    history_store_round_trip,
    script_errors_carry_the_servers_message,
    rollback_follows_transactional_ddl,
    cancel_stops_a_running_statement,
    snapshots_see_what_a_statement_changes,
);
