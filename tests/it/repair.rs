//! `safemig repair` end to end, on every engine: live states built by deploying the
//! migrations before a multi-statement migration, applying its first k statements by hand
//! and writing the failed row Prisma leaves; the verdict for k = 0, a middle k and n; a
//! hand change beside them (diverged: nothing written); `--apply` for `none` and `all`,
//! `--apply --finish`, `--roll-back` and `--assume-applied`, after which `status` and
//! `drift` find nothing; `run --on-failed=repair`; the MariaDB incident; and the
//! injected-failure suite over the corpus (every durable k of its multi-statement
//! migrations: a sample in CI, all with `SAFEMIG_REPAIR_CORPUS=all`).

use serde_json::Value;

use safemig::history::{HistoryRow, failure_log};
use safemig::sql::executable_statements;

use crate::corpus::{corpora, migration_files, migration_name};
use crate::deploy::INIT;
use crate::for_each_engine;
use crate::harness::{Kind, Project, Run, TestDb, block_on, engine_for};

/// Exit code of a verdict that lets no automatic repair (FailedInHistory).
const REFUSED: i32 = 5;

pub(crate) const FIRST: &str = "20240101000000_init";
pub(crate) const FAILED: &str = "20240102000000_four";
/// Four statements, each visible in the schema.
pub(crate) const FOUR: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                    CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER);\n\
                    CREATE INDEX b_n_idx ON b (n);\n\
                    CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

/// `sql`'s statements as safemig's splitter cuts them.
fn statements(kind: Kind, sql: &str) -> Vec<String> {
    executable_statements(sql, kind.dialect())
        .iter()
        .map(|s| s.sql.to_string())
        .collect()
}

/// Applies the first `k` statements of `sql` on one connection (a session pragma holds
/// for the ones after it), then writes the row Prisma leaves when it dies in the middle.
pub(crate) fn fail_after(db: &TestDb, name: &str, sql: &str, k: usize) {
    let prefix = statements(db.kind, sql);
    if k > 0 {
        db.exec(&prefix[..k].join(";\n"));
    }
    let row = HistoryRow {
        logs: Some(failure_log(
            "server closed the connection unexpectedly",
            None,
        )),
        ..HistoryRow::started(name, &safemig::checksum::checksum(sql))
    };
    block_on(async {
        let mut engine = engine_for(db).await;
        // Prisma creates the history table before its first migration.
        if !engine.history_exists().await.unwrap() {
            engine.create_history().await.unwrap();
        }
        engine.insert_row(&row).await.unwrap();
    });
}

/// A database with `FIRST` deployed by safemig and `FOUR` failed after `k` statements,
/// and the project whose folder holds both.
fn failed_at(kind: Kind, k: usize) -> (TestDb, Project) {
    failed_with(kind, FOUR, k)
}

/// [`failed_at`] with `sql` as the failed migration.
fn failed_with(kind: Kind, sql: &str, k: usize) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(FAILED, sql);
    fail_after(&db, FAILED, sql, k);
    (db, project)
}

fn repair_json(project: &Project, db: &TestDb, args: &[&str], code: i32) -> Value {
    let mut full = vec!["repair", "--json"];
    full.extend(args);
    let run = project.safemig(db, &full).expect(code);
    json(&run)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `safemig drift` against the folder, with the project's own cache.
fn drift(project: &Project, db: &TestDb) -> Run {
    let mut command = project.command(db, &["drift"]);
    command.env("SAFEMIG_CACHE_DIR", project.dir.path().join("cache"));
    crate::harness::to_run(command.output().expect("running safemig drift"))
}

fn each_prefix_gets_its_verdict(kind: Kind) {
    for (k, verdict, applied) in [(0, "none", None), (2, "partial", Some(2)), (4, "all", None)] {
        let (db, project) = failed_at(kind, k);
        let before = db.history();
        let report = repair_json(&project, &db, &[], 0);
        assert_eq!(report["verdict"], verdict, "k = {k}: {report:#}");
        if let Some(applied) = applied {
            assert_eq!(report["repaired"], Value::Null);
            assert_eq!(report["applied"], applied, "{report:#}");
            assert_eq!(report["plan"]["from"], applied + 1, "{report:#}");
        }
        assert_eq!(report["migration"], FAILED);
        assert_eq!(report["statements"].as_array().unwrap().len(), 4);
        assert_eq!(
            db.history(),
            before,
            "repair without --apply writes nothing"
        );
    }
    // The human report names the statements and the next command.
    let (db, project) = failed_at(kind, 2);
    let run = project.safemig(&db, &["repair"]).expect(0);
    assert!(
        run.stdout.contains("Verdict: partial 2 of 4"),
        "{}",
        run.stdout
    );
    let next = run
        .stdout
        .lines()
        .find(|l| l.starts_with("next: "))
        .unwrap_or_else(|| panic!("no next line:\n{}", run.stdout));
    assert!(
        next.contains(&format!("`safemig repair {FAILED} --apply --finish --url "))
            && next.contains("to run statements 3..4")
            && next.contains("--apply --roll-back")
            && next.contains("to undo statements 1..2"),
        "{next}"
    );
}

fn a_hand_change_diverges_and_nothing_is_written(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    db.exec("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)");
    let before = db.history();
    let report = repair_json(&project, &db, &[], REFUSED);
    assert_eq!(report["verdict"], "diverged", "{report:#}");
    assert_eq!(report["nearest"], 2, "{report:#}");
    let differences = report["differences"].as_array().unwrap();
    assert!(!differences.is_empty(), "{report:#}");
    for difference in differences {
        assert_eq!(difference["change"], "extra", "{report:#}");
        let name = difference["object"]["name"].as_str().unwrap();
        assert!(name.starts_with("unrelated"), "{report:#}");
    }
    let report = repair_json(&project, &db, &["--apply", "--finish"], REFUSED);
    assert_eq!(report["repaired"], Value::Null);
    assert_eq!(db.history(), before, "nothing is written after diverged");
}

fn apply_none_rolls_back_and_deploy_applies_again(kind: Kind) {
    let (db, project) = failed_at(kind, 0);
    let report = repair_json(&project, &db, &["--apply"], 0);
    assert_eq!(
        report["repaired"]["action"], "mark_rolled_back",
        "{report:#}"
    );
    let history = db.history();
    assert_eq!(history.len(), 2);
    assert!(history[1].rolled_back && !history[1].finished);
    let logs = history[1].logs.as_deref().unwrap();
    assert!(logs.contains("server closed the connection"), "{logs}");
    assert!(
        logs.contains("safemig repair: verdict none; marked rolled back"),
        "{logs}"
    );
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn apply_all_records_it_as_prisma_resolve_does(kind: Kind) {
    let (db, project) = failed_at(kind, 4);
    let report = repair_json(&project, &db, &["--apply"], 0);
    assert_eq!(report["repaired"]["action"], "record_applied", "{report:#}");
    let history = db.history();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(history[1].rolled_back && !history[1].finished);
    assert!(
        history[1]
            .logs
            .as_deref()
            .unwrap()
            .contains("safemig repair: verdict all; recorded applied")
    );
    // What `prisma migrate resolve --applied` inserts: finished, steps 0, empty logs.
    let resolved = &history[2];
    assert_eq!(resolved.name, FAILED);
    assert!(resolved.finished && !resolved.rolled_back);
    assert_eq!((resolved.steps, resolved.logs.as_deref()), (0, Some("")));
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn finish_runs_the_rest_of_a_partial_migration(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    let before = db.history();
    // --apply alone does not run statements.
    let run = project.safemig(&db, &["repair", "--apply"]).expect(2);
    assert!(run.stderr.contains("--finish"), "{}", run.stderr);
    assert_eq!(db.history(), before);

    let report = repair_json(&project, &db, &["--apply", "--finish"], 0);
    assert_eq!(report["repaired"]["action"], "finish", "{report:#}");
    let history = db.history();
    assert_eq!(history.len(), 2, "{history:?}");
    let finished = &history[1];
    assert!(finished.finished && !finished.rolled_back);
    assert_eq!(finished.steps, 1);
    assert_eq!(
        finished.logs.as_deref(),
        Some("safemig repair: verdict partial 2 of 4; finished statements 3..4")
    );
    assert!(db.has_table("c"));
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
    // Nothing failed any more: nothing to repair.
    let report = repair_json(&project, &db, &[], 0);
    assert_eq!(report["migration"], Value::Null);
}

fn roll_back_refuses_to_delete_data_unless_allowed(kind: Kind) {
    // Statements 1 and 2 ran: tables a and b, b with a row the app wrote since.
    let (db, project) = failed_at(kind, 2);
    db.exec("INSERT INTO b (id, n) VALUES (1, 7)");
    let before = db.history();
    let run = project
        .safemig(&db, &["repair", "--apply", "--roll-back"])
        .expect(10);
    assert!(
        run.stderr.contains("would delete data") && run.stderr.contains("table `b` has rows"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    assert_eq!(db.history(), before, "nothing is written");
    assert!(db.has_table("a") && db.has_table("b"), "nothing is dropped");

    let report = repair_json(
        &project,
        &db,
        &["--apply", "--roll-back", "--allow-data-loss"],
        0,
    );
    assert_eq!(report["repaired"]["action"], "roll_back", "{report:#}");
    assert_eq!(report["repaired"]["undone"], 2, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("b"));
    let history = db.history();
    assert!(
        history[1].rolled_back && !history[1].finished,
        "{history:?}"
    );
    let logs = history[1].logs.as_deref().unwrap();
    assert!(
        logs.contains("safemig repair: verdict partial 2 of 4; rolled back statements 1..2, marked rolled back"),
        "{logs}"
    );
    // Back at the state before the migration: deploy applies it whole.
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn roll_back_of_empty_objects_needs_no_permission(kind: Kind) {
    // Statements 1..3 ran: a, b and b's index, all empty.
    let (db, project) = failed_at(kind, 3);
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["repaired"]["undone"], 3, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("b"));
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A rename, then two tables: the first two statements ran.
const RENAMES: &str = "ALTER TABLE users RENAME COLUMN email TO mail;\n\
                       CREATE TABLE c (id INTEGER PRIMARY KEY);\n\
                       CREATE TABLE d (id INTEGER PRIMARY KEY);\n";

/// `--roll-back` renames a renamed column back, keeping its values without
/// `--allow-data-loss` (it once dropped it and added the old one: refused over its values,
/// and with `--allow-data-loss` the values were lost).
fn roll_back_renames_columns_back(kind: Kind) {
    let (db, project) = failed_with(kind, RENAMES, 2);
    db.exec("INSERT INTO users (id, mail) VALUES (1, 'a@x')");
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["repaired"]["undone"], 2, "{report:#}");
    assert_eq!(
        db.scalar("SELECT email FROM users WHERE id = 1").as_deref(),
        Some("a@x")
    );
    assert!(!db.has_table("c"));
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// `users` with an index, the state before [`renames_of`]'s migration.
const INDEXED: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n\
                       CREATE INDEX users_email_idx ON users (email);\n";

/// A migration renaming `users` to `people` and its index (and on PostgreSQL its primary
/// key) in each engine's own form, then creating `c` and `d`; how many of its statements
/// the failure leaves applied (all but `d`).
fn renames_of(kind: Kind) -> (&'static str, usize) {
    match kind {
        Kind::Postgres => (
            "ALTER TABLE \"users\" RENAME TO \"people\";\n\
             ALTER INDEX \"users_email_idx\" RENAME TO \"people_email_idx\";\n\
             ALTER TABLE \"people\" RENAME CONSTRAINT \"users_pkey\" TO \"people_pkey\";\n\
             CREATE TABLE c (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE d (id INTEGER PRIMARY KEY);\n",
            4,
        ),
        Kind::Mysql => (
            "RENAME TABLE `users` TO `people`;\n\
             ALTER TABLE `people` RENAME INDEX `users_email_idx` TO `people_email_idx`;\n\
             CREATE TABLE c (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE d (id INTEGER PRIMARY KEY);\n",
            3,
        ),
        // SQLite renames no index: Prisma drops and creates it.
        Kind::Sqlite => (
            "ALTER TABLE \"users\" RENAME TO \"people\";\n\
             DROP INDEX \"users_email_idx\";\n\
             CREATE INDEX \"people_email_idx\" ON \"people\"(\"email\");\n\
             CREATE TABLE c (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE d (id INTEGER PRIMARY KEY);\n",
            4,
        ),
    }
}

/// What identifies the table, its index and its primary key apart from their names:
/// PostgreSQL's OIDs and MariaDB's InnoDB index ids survive a rename, not a drop and a
/// create. SQLite has none to compare: its rows say it.
fn identities(db: &TestDb) -> Vec<Option<String>> {
    let queries: &[&str] = match db.kind {
        Kind::Postgres => &[
            "SELECT c.oid::text FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid \
             JOIN pg_class x ON x.oid = i.indexrelid WHERE x.relname LIKE '%email_idx'",
            "SELECT oid::text FROM pg_class WHERE relname LIKE '%email_idx'",
            "SELECT oid::text FROM pg_constraint WHERE conname LIKE '%_pkey' \
             AND conrelid::regclass::text IN ('users', 'people')",
        ],
        Kind::Mysql => &[
            "SELECT CAST(INDEX_ID AS CHAR) FROM information_schema.INNODB_SYS_INDEXES \
             WHERE NAME LIKE '%email_idx'",
        ],
        Kind::Sqlite => &[],
    };
    queries.iter().map(|q| db.scalar(q)).collect()
}

/// `--roll-back` renames a renamed table, index and constraint back: the table keeps its
/// rows without `--allow-data-loss`, and the objects are the same ones (it once dropped
/// `people`, refused over its row, and would have dropped and created the index and key).
fn roll_back_renames_tables_indexes_and_constraints_back(kind: Kind) {
    let (sql, k) = renames_of(kind);
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INDEXED)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let before = identities(&db);
    assert!(before.iter().all(Option::is_some), "{before:?}");
    project.write(FAILED, sql);
    fail_after(&db, FAILED, sql, k);
    db.exec("INSERT INTO people (id, email) VALUES (1, 'a@x')");
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["repaired"]["undone"], k, "{report:#}");
    assert_eq!(
        db.scalar("SELECT email FROM users WHERE id = 1").as_deref(),
        Some("a@x")
    );
    assert!(!db.has_table("people") && !db.has_table("c"));
    assert_eq!(identities(&db), before, "renamed back, not made again");
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A roll-back refused after its renames back ran (MySQL commits each, the others roll
/// them back) leaves the database as the failure left it.
fn a_refused_roll_back_keeps_the_renames(kind: Kind) {
    let (db, project) = failed_with(kind, RENAMES, 2);
    db.exec("INSERT INTO c (id) VALUES (1)");
    let before = db.history();
    let run = project
        .safemig(&db, &["repair", "--apply", "--roll-back"])
        .expect(10);
    assert!(run.stderr.contains("table `c` has rows"), "{}", run.stderr);
    assert_eq!(db.history(), before, "nothing is written");
    assert!(
        db.try_exec("SELECT mail FROM users").is_ok(),
        "still renamed"
    );
    assert!(db.has_table("c"));
}

/// Two tables, the second referencing the first: both ran, the last did not.
const LINKED: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                      CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id));\n\
                      CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

/// `--roll-back` drops tables created with a foreign key, the key with them (on SQLite,
/// which drops no key by itself, it was once refused: "does not write DDL for this
/// foreign key").
fn roll_back_drops_tables_with_their_foreign_keys(kind: Kind) {
    let (db, project) = failed_with(kind, LINKED, 2);
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["repaired"]["undone"], 2, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("b"));
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// SQLite tables with rows: `t` with an index, a child `c` whose key cascades deletes.
const SQLITE_LINKED: &str = "CREATE TABLE p (id INTEGER NOT NULL PRIMARY KEY);\n\
                             CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY, p_id INTEGER, x TEXT);\n\
                             CREATE INDEX t_x_idx ON t (x);\n\
                             CREATE TABLE c (id INTEGER NOT NULL PRIMARY KEY, \
                               t_id INTEGER NOT NULL REFERENCES t (id) ON DELETE CASCADE);\n";

/// Prisma's redefinition of `t` adding a foreign key and a column, then a table: all but
/// the table ran.
const SQLITE_REDEFINED: &str = "PRAGMA defer_foreign_keys=ON;\n\
    PRAGMA foreign_keys=OFF;\n\
    CREATE TABLE \"new_t\" (id INTEGER NOT NULL PRIMARY KEY, p_id INTEGER, x TEXT, y TEXT, \
      CONSTRAINT t_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE SET NULL ON UPDATE CASCADE);\n\
    INSERT INTO \"new_t\" (id, p_id, x) SELECT id, p_id, x FROM t;\n\
    DROP TABLE t;\n\
    ALTER TABLE \"new_t\" RENAME TO t;\n\
    CREATE INDEX t_x_idx ON t (x);\n\
    PRAGMA foreign_keys=ON;\n\
    PRAGMA defer_foreign_keys=OFF;\n\
    CREATE TABLE d (id INTEGER PRIMARY KEY);\n";

/// `--roll-back` of a SQLite migration whose applied part redefined a table for a
/// foreign key: the table is redefined back, its rows, its index and the child rows whose
/// key cascades deletes kept; deploy then applies the migration whole. (It was refused
/// before: "SQLite adds or drops a foreign key only by redefining its table".)
#[test]
fn sqlite_roll_back_redefines_a_table_for_its_foreign_key() {
    let kind = Kind::Sqlite;
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, SQLITE_LINKED)]);
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec(
        "INSERT INTO p VALUES (1), (2); INSERT INTO t VALUES (1, 1, 'one'), (2, NULL, 'two'), (3, 2, 'three'); \
         INSERT INTO c VALUES (1, 1), (2, 3);",
    );
    project.write(FAILED, SQLITE_REDEFINED);
    fail_after(&db, FAILED, SQLITE_REDEFINED, 9);
    let rows = |db: &TestDb| {
        [
            "SELECT concat_ws('|', id, p_id, x) FROM t ORDER BY id",
            "SELECT concat_ws('|', id, t_id) FROM c ORDER BY id",
        ]
        .map(|q| db.rows(q))
    };
    let before = rows(&db);
    assert_eq!(before[0].len(), 3);
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    // The two pragmas after the index change no schema: the verdict is 7 of 10.
    assert_eq!(report["repaired"]["undone"], 7, "{report:#}");
    assert_eq!(rows(&db), before, "the rows are kept");
    assert!(
        db.try_exec("SELECT y FROM t").is_err(),
        "the column is gone"
    );
    assert!(!db.has_table("new_t") && !db.has_table("d"));
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
    assert_eq!(
        rows(&db),
        before,
        "deployed whole, the rows are still there"
    );
}

/// `--roll-back` where every statement ran (`all`) undoes all of them and marks the row
/// rolled back, as asked (it once recorded the migration applied instead).
fn roll_back_of_a_wholly_applied_migration(kind: Kind) {
    let (db, project) = failed_at(kind, 4);
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["verdict"], "all", "{report:#}");
    assert_eq!(report["repaired"]["action"], "roll_back", "{report:#}");
    assert_eq!(report["repaired"]["undone"], 4, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("c"));
    assert!(
        db.history()
            .iter()
            .filter(|h| h.name == FAILED)
            .all(|h| h.rolled_back),
        "{:?}",
        db.history()
    );
    project.safemig(&db, &["status"]).expect(8);
    project.safemig(&db, &["deploy"]).expect(0);
    drift(&project, &db).expect(0);
}

/// On a healthy database whose last migration ends with a data statement, the schema
/// cannot tell whether that statement ran, but the finished row says it did and nothing
/// contradicts it: `repair` without a name finds nothing to repair.
fn nothing_to_repair_after_a_data_statement(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT), (FAILED, WITH_DATA)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let run = project.safemig(&db, &["repair"]).expect(0);
    assert!(
        run.stdout.starts_with("Nothing to repair"),
        "{}",
        run.stdout
    );
    let named = repair_json(&project, &db, &[FAILED], 0);
    assert_eq!(named["plan"]["action"], "agrees", "{named:#}");
}

/// A statement that changes nothing where it runs again (the table exists): the schema
/// cannot show whether it ran, and need not.
const WITH_NOOP: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                         CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY);\n\
                         CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

fn ddl_that_changed_nothing_runs_again(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(FAILED, WITH_NOOP);
    fail_after(&db, FAILED, WITH_NOOP, 2);
    let report = repair_json(&project, &db, &[], 0);
    assert_eq!(report["verdict"], "partial", "{report:#}");
    assert_eq!(
        report["applied"], 1,
        "the earliest matching state: {report:#}"
    );
    assert_eq!(report["statements"][1]["rerun_safe"], true, "{report:#}");
    assert_eq!(report["statements"][2]["rerun_safe"], false, "{report:#}");
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(0);
    assert!(
        run.stdout.contains("app started")
            && run
                .stderr
                .contains("verdict partial 1 of 3; finished statements 2..3"),
        "{run:?}"
    );
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A data statement between two DDL statements: the schema cannot show whether it ran.
const WITH_DATA: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                         INSERT INTO a (id) VALUES (1);\n\
                         CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

fn assume_applied_settles_an_ambiguous_verdict(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(FAILED, WITH_DATA);
    fail_after(&db, FAILED, WITH_DATA, 1);
    let before = db.history();

    let report = repair_json(&project, &db, &["--apply"], REFUSED);
    assert_eq!(report["verdict"], "ambiguous", "{report:#}");
    assert_eq!(
        report["candidates"],
        serde_json::json!([1, 2]),
        "{report:#}"
    );
    assert_eq!(report["unseen"], serde_json::json!([2]), "{report:#}");
    let human = project.safemig(&db, &["repair"]).expect(REFUSED);
    assert!(
        human.stdout.contains("statement 2 (line 2): INSERT INTO a")
            && human
                .stdout
                .contains("only statement 1 ran: `safemig repair")
            && human
                .stdout
                .contains("--apply --assume-applied 1-1 --finish --url")
            && human
                .stdout
                .contains("statements 1..2 ran: `safemig repair")
            && human
                .stdout
                .contains("--apply --assume-applied 1-2 --finish --url"),
        "{}",
        human.stdout
    );
    // An assumption the schema contradicts (table c would exist) is refused.
    let run = project
        .safemig(
            &db,
            &["repair", "--apply", "--finish", "--assume-applied", "1-3"],
        )
        .expect(10);
    assert!(
        run.stderr
            .contains("matches only the states after statements 1, 2"),
        "{}",
        run.stderr
    );
    let run = project
        .safemig(&db, &["repair", "--assume-applied", "2,3"])
        .expect(2);
    assert!(run.stderr.contains("from the first on"), "{}", run.stderr);
    assert_eq!(db.history(), before, "nothing is written");

    // The operator checked: the INSERT did not run.
    let report = repair_json(
        &project,
        &db,
        &["--apply", "--finish", "--assume-applied", "1"],
        0,
    );
    assert_eq!(report["assumed_applied"], 1, "{report:#}");
    assert_eq!(report["repaired"]["action"], "finish", "{report:#}");
    let history = db.history();
    assert_eq!(
        history[1].logs.as_deref(),
        Some(
            "safemig repair: verdict ambiguous, operator assumed statements 1..1 applied; finished statements 2..3"
        )
    );
    assert_eq!(db.rows("SELECT 'x' FROM a").len(), 1, "the INSERT ran once");
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A migration that is its own transaction, as the last of a real 434-migration history
/// is: `BEGIN; SET TRANSACTION ISOLATION LEVEL …; …; COMMIT`, then a statement after it.
/// SQLite has no `SET TRANSACTION`; MySQL takes it only before the transaction starts.
fn own_transaction(kind: Kind) -> &'static str {
    match kind {
        Kind::Mysql => {
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n\
             START TRANSACTION;\n\
             CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE b (id INTEGER PRIMARY KEY);\n\
             COMMIT;\n\
             CREATE TABLE c (id INTEGER PRIMARY KEY);\n"
        }
        Kind::Sqlite => {
            "BEGIN;
             CREATE TABLE a (id INTEGER PRIMARY KEY);
             CREATE TABLE b (id INTEGER PRIMARY KEY);
             COMMIT;
             CREATE TABLE c (id INTEGER PRIMARY KEY);
"
        }
        _ => {
            "BEGIN;
             SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
             CREATE TABLE a (id INTEGER PRIMARY KEY);
             CREATE TABLE b (id INTEGER PRIMARY KEY);
             COMMIT;
             CREATE TABLE c (id INTEGER PRIMARY KEY);
"
        }
    }
}

/// The statements of a script's own transaction are one unit: a failure leaves the state
/// before its `BEGIN` or after its `COMMIT`, and repair reads no schema between them (on
/// PostgreSQL a read there made `SET TRANSACTION` fail on the scratch database: exit 6,
/// "resolve the row by hand"). Each state a failure can leave gets its verdict, `run
/// --on-failed=repair` heals the one after the `COMMIT`, and an assumption that stops
/// inside the transaction is refused.
fn own_transaction_is_one_unit(kind: Kind) {
    let sql = own_transaction(kind);
    let n = statements(kind, sql).len();
    let failed = |k: usize| failed_with(kind, sql, k);
    // MySQL commits each DDL statement implicitly: the state before `COMMIT` is durable
    // there, and the earliest matching state is taken (`COMMIT` runs again).
    let after_commit = if kind == Kind::Mysql { n - 2 } else { n - 1 };
    for (k, verdict) in [(0, "none"), (n - 1, "partial"), (n, "all")] {
        let (db, project) = failed(k);
        let apply: &[&str] = if verdict == "partial" {
            &[]
        } else {
            &["--apply"]
        };
        let report = repair_json(&project, &db, apply, 0);
        assert_eq!(report["verdict"], verdict, "k = {k}: {report:#}");
        if verdict == "partial" {
            assert_eq!(report["applied"], after_commit, "{report:#}");
        } else {
            project.safemig(&db, &["deploy"]).expect(0);
            project.safemig(&db, &["status"]).expect(0);
        }
    }
    if kind == Kind::Mysql {
        let db = TestDb::new(kind);
        let refused = db.try_exec("BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        assert!(
            refused.is_err(),
            "MySQL takes SET TRANSACTION only before BEGIN"
        );
    }

    let (db, project) = failed(n - 1);
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(0);
    let healed = format!(
        "verdict partial {after_commit} of {n}; finished statements {}..{n}",
        after_commit + 1
    );
    assert!(
        run.stdout.contains("app started") && run.stderr.contains(&healed),
        "{run:?}"
    );
    project.safemig(&db, &["status"]).expect(0);

    if kind != Kind::Mysql {
        let (db, project) = failed(0);
        db.exec("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)");
        let run = project
            .safemig(&db, &["repair", "--assume-applied", "1-3"])
            .expect(10);
        assert!(
            run.stderr
                .contains("runs inside the migration's own transaction"),
            "{}",
            run.stderr
        );
    }
}

/// A unique index built without blocking writes, over a table that holds duplicates:
/// PostgreSQL fails it and leaves the index INVALID, as an interrupted build does.
const CONCURRENT: &str = "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n";
const CONCURRENT_NAME: &str = "20240102000000_concurrent";

/// PostgreSQL: a `CREATE UNIQUE INDEX CONCURRENTLY` over duplicate rows fails and leaves
/// the index INVALID, and the row Prisma leaves. Repair names it (it once said `diverged` without naming
/// it), the verdict is the state without it (`none`), and `--apply` drops it before marking
/// the row rolled back, so deploy builds it again; an assumption that keeps it is refused.
/// Once recorded applied by hand, status notes it, check calls it drift (exit 14), drift
/// names its `valid` attribute, and repair finds the row finished over it.
#[test]
fn an_invalid_index_is_named_and_rebuilt() {
    let kind = Kind::Postgres;
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec("INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'a@x')");
    project.write(CONCURRENT_NAME, CONCURRENT);
    // Prisma runs it and fails (safemig's deploy drops what its own failed build leaves).
    assert!(db.try_exec(CONCURRENT).is_err());
    fail_after(&db, CONCURRENT_NAME, CONCURRENT, 0);
    let invalid = "SELECT count(*)::text FROM pg_index WHERE NOT indisvalid";
    assert_eq!(db.scalar(invalid).as_deref(), Some("1"), "left INVALID");

    let report = repair_json(&project, &db, &[], 0);
    assert_eq!(report["verdict"], "none", "{report:#}");
    assert_eq!(report["plan"]["action"], "mark_rolled_back", "{report:#}");
    assert_eq!(
        report["invalid_indexes"][0]["name"], "users_email_key",
        "{report:#}"
    );
    let human = project.safemig(&db, &["repair"]).expect(0);
    assert!(
        human.stdout.contains("index `users_email_key` is INVALID"),
        "{}",
        human.stdout
    );
    project
        .safemig(&db, &["repair", "--apply", "--assume-applied", "1"])
        .expect(10);

    // Recorded applied by hand, as Prisma's `migrate resolve --applied` would: drift names
    // the invalid index, and repair finds the row finished over it.
    let copy = TestDb::copy_of(&db);
    project
        .safemig(&copy, &["resolve", "--applied", CONCURRENT_NAME])
        .expect(0);
    let run = drift(&project, &copy).expect(14);
    assert!(
        run.stdout.contains("users_email_key") && run.stdout.contains("valid"),
        "{}",
        run.stdout
    );
    let status = project.safemig(&copy, &["status"]).expect(0);
    assert!(
        status.stdout.contains("index `users_email_key` is INVALID"),
        "{}",
        status.stdout
    );
    let mut envs = crate::check::Environments::new();
    envs.add("prod", &copy.url, &project, "");
    let check = envs.check_json(&[], 14);
    let target = &check["environments"][0]["targets"][0];
    assert_eq!(target["state"], "drift", "{target:#}");
    assert!(
        target["notes"].to_string().contains("users_email_key"),
        "{target:#}"
    );
    let report = repair_json(&project, &copy, &[], 0);
    assert_eq!(report["migration"], CONCURRENT_NAME, "{report:#}");
    assert_eq!(report["plan"]["action"], "mark_rolled_back", "{report:#}");

    db.exec("DELETE FROM users WHERE id = 2");
    let report = repair_json(&project, &db, &["--apply"], 0);
    assert_eq!(
        report["repaired"]["action"], "mark_rolled_back",
        "{report:#}"
    );
    assert_eq!(db.scalar(invalid).as_deref(), Some("0"), "dropped");
    project.safemig(&db, &["deploy"]).expect(0);
    assert_eq!(
        db.scalar(invalid).as_deref(),
        Some("0"),
        "built again, valid"
    );
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A `CREATE INDEX CONCURRENTLY` still building is invalid too, but no leftover: while it
/// waits for a transaction that was open when it started, status does not note it; once
/// built it is valid and nothing is noted either.
#[test]
fn an_index_still_building_is_not_noted() {
    use std::io::Write;
    let kind = Kind::Postgres;
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut holder = std::process::Command::new(crate::harness::postgres().bin_dir().join("psql"))
        .args(["-X", "-q", "-d", &db.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting psql");
    let mut input = holder.stdin.take().unwrap();
    input
        .write_all(b"BEGIN;\nINSERT INTO users (id, email) VALUES (1, 'a@x');\n")
        .unwrap();
    let count = |sql: &str| db.scalar(sql).unwrap_or_default();
    crate::fleet::wait_until("the open transaction", || {
        count(
            "SELECT count(*)::text FROM pg_stat_activity \
             WHERE state = 'idle in transaction' AND datname = current_database()",
        ) != "0"
    });
    // The transaction ends before anything is asserted, so a failure never leaves the
    // build waiting.
    let building = std::thread::scope(|scope| {
        scope.spawn(|| db.exec("CREATE INDEX CONCURRENTLY users_email_idx ON users (email)"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let invalid = || count("SELECT count(*)::text FROM pg_index WHERE NOT indisvalid");
        while invalid() != "1" && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let seen = invalid() == "1";
        let status = project.command(&db, &["status"]).output();
        input.write_all(b"COMMIT;\n").unwrap();
        drop(input);
        (seen, crate::harness::to_run(status.unwrap()))
    });
    holder.wait().unwrap();
    let (seen, building) = building;
    assert!(seen, "the index was invalid while it was built");
    assert_eq!(
        building.stdout.matches("INVALID").count(),
        0,
        "{}",
        building.stdout
    );
    assert_eq!(building.code, 0, "{building:?}");
    assert_eq!(
        count("SELECT count(*)::text FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
    let status = project.safemig(&db, &["status"]).expect(0);
    assert!(!status.stdout.contains("INVALID"), "{}", status.stdout);
}

/// `safemig run --on-failed=repair`: the app's command, which says it started.
const APP: [&str; 3] = ["sh", "-c", "echo app started"];

fn run_heals_a_provable_failure_and_starts_the_app(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(0);
    assert!(run.stdout.contains("app started"), "{run:?}");
    assert_eq!(
        run.stdout.matches("migrations in").count(),
        1,
        "deploy's first line, once around the repair: {}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains(&format!("repaired failed migration {FAILED}"))
            && run
                .stderr
                .contains("verdict partial 2 of 4; finished statements 3..4"),
        "{}",
        run.stderr
    );
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn run_stops_on_a_verdict_that_needs_a_person(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    db.exec("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)");
    let before = db.history();
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(REFUSED);
    assert!(!run.stdout.contains("app started"), "{run:?}");
    assert!(
        run.stderr.contains("Verdict: diverged")
            && run.stderr.contains("does not act on without a person")
            && run.stderr.contains(&format!("safemig repair {FAILED}")),
        "{}",
        run.stderr
    );
    assert_eq!(db.history(), before, "nothing is written");
}

/// Which corpus migrations the injected-failure suite fails: every multi-statement one
/// with `SAFEMIG_REPAIR_CORPUS=all` (the full run the README records, best with
/// `--release`), else CI's sample: the multi-statement migrations among each corpus's
/// first few (MariaDB's DDL is slower, so fewer and shorter ones there).
struct Scope {
    /// Migrations looked at per corpus, from the first.
    first: usize,
    /// Failed migrations per corpus.
    failed: usize,
    max_statements: usize,
}

impl Scope {
    fn of(kind: Kind) -> Scope {
        if std::env::var("SAFEMIG_REPAIR_CORPUS").as_deref() == Ok("all") {
            return Scope {
                first: usize::MAX,
                failed: usize::MAX,
                max_statements: usize::MAX,
            };
        }
        match kind {
            Kind::Mysql => Scope {
                first: 12,
                failed: 3,
                max_statements: 6,
            },
            _ => Scope {
                first: 12,
                failed: 3,
                max_statements: 8,
            },
        }
    }
}

/// Whether a statement opens (`Some(true)`) or ends (`Some(false)`) a transaction.
fn transaction_edge(sql: &str) -> Option<bool> {
    let upper = sql.trim_start().to_ascii_uppercase();
    if upper.starts_with("BEGIN") || upper.starts_with("START TRANSACTION") {
        Some(true)
    } else if upper.starts_with("COMMIT")
        || upper.starts_with("END")
        || upper.starts_with("ROLLBACK")
    {
        Some(false)
    } else {
        None
    }
}

/// The injected-failure suite: each corpus is deployed migration by migration into one
/// database; each multi-statement migration in scope is failed after every k of its n
/// statements (see [`inject`]) and then settled with `repair --apply --assume-applied 1-n`
/// (exercising apply) and the next one deployed. Beside the corpus sample, the forms it may
/// lack: a migration that is its own transaction with `SET TRANSACTION`, and on PostgreSQL
/// a `CREATE INDEX CONCURRENTLY` that did not finish.
fn injected_failures(kind: Kind) {
    let scope = Scope::of(kind);
    let dialect = kind.dialect();
    let mut tally = Tally::default();
    for (corpus, dir) in corpora(kind) {
        let project = Project::new(kind, &[]);
        let db = TestDb::new(kind);
        let mut failed_here = 0;
        for (index, file) in migration_files(&dir).iter().enumerate() {
            let name = migration_name(file);
            if index >= scope.first || failed_here >= scope.failed {
                break;
            }
            let sql = std::fs::read_to_string(file).unwrap();
            let n = executable_statements(&sql, dialect).len();
            if index == 0 || !(2..=scope.max_statements).contains(&n) {
                // Deployed with the next failed one (one deploy for many migrations).
                project.write(&name, &sql);
                continue;
            }
            failed_here += 1;
            inject(&project, &db, &corpus, &name, &sql, &mut tally);
        }
        project.safemig(&db, &["deploy"]).expect(0);
        project.safemig(&db, &["status"]).expect(0);
    }
    let project = Project::new(kind, &[(FIRST, INIT)]);
    let db = TestDb::new(kind);
    inject(
        &project,
        &db,
        "own transaction",
        FAILED,
        own_transaction(kind),
        &mut tally,
    );
    if kind == Kind::Postgres {
        interrupt_concurrent_index(&project, &db, &mut tally);
    }
    inject(
        &project,
        &db,
        "renames and foreign keys",
        "20240104000000_renames_and_keys",
        renames_and_foreign_keys(kind),
        &mut tally,
    );
    project.safemig(&db, &["status"]).expect(0);
    eprintln!("repair injected failures, {kind:?}: {:?}", tally.counts);
    let refused = tally.counts.get("roll-back refused").copied().unwrap_or(0);
    let tried = refused + tally.counts.get("roll-back").copied().unwrap_or(0);
    eprintln!(
        "repair roll-backs, {kind:?}: {refused} of {tried} refused:\n{}",
        tally.refusals.join("\n")
    );
    assert!(tally.failures.is_empty(), "{:#?}", tally.failures);
    assert!(
        tally.counts.values().sum::<usize>() > 0,
        "no failure was injected"
    );
}

/// The suite's verdicts by kind, what went wrong, and why roll-backs were refused.
#[derive(Default)]
struct Tally {
    counts: std::collections::BTreeMap<String, usize>,
    failures: Vec<String>,
    refusals: Vec<String>,
}

/// A migration that renames (a column, a table, its primary key, an index) and adds a
/// foreign key to a table that was there before it: what a roll-back must rename back and
/// drop, beside the corpus's forms. SQLite adds the key with its column (it adds none to
/// an existing table otherwise).
fn renames_and_foreign_keys(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            "ALTER TABLE \"users\" RENAME COLUMN \"email\" TO \"mail\";
             ALTER TABLE \"users\" RENAME TO \"people\";
             ALTER TABLE \"people\" RENAME CONSTRAINT \"users_pkey\" TO \"people_pkey\";
             ALTER TABLE \"people\" ADD COLUMN \"manager_id\" INTEGER;
             ALTER TABLE \"people\" ADD CONSTRAINT \"people_manager_id_fkey\" FOREIGN KEY (\"manager_id\") REFERENCES \"people\"(\"id\") ON DELETE SET NULL ON UPDATE CASCADE;
             CREATE INDEX \"people_manager_idx\" ON \"people\"(\"manager_id\");
             ALTER INDEX \"people_manager_idx\" RENAME TO \"people_manager_id_idx\";
"
        }
        Kind::Mysql => {
            "ALTER TABLE `users` RENAME COLUMN `email` TO `mail`;
             RENAME TABLE `users` TO `people`;
             ALTER TABLE `people` ADD COLUMN `manager_id` INTEGER NULL;
             CREATE INDEX `people_manager_idx` ON `people`(`manager_id`);
             ALTER TABLE `people` ADD CONSTRAINT `people_manager_id_fkey` FOREIGN KEY (`manager_id`) REFERENCES `people`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;
             ALTER TABLE `people` RENAME INDEX `people_manager_idx` TO `people_manager_id_idx`;
"
        }
        Kind::Sqlite => {
            "ALTER TABLE \"users\" RENAME COLUMN \"email\" TO \"mail\";
             ALTER TABLE \"users\" RENAME TO \"people\";
             ALTER TABLE \"people\" ADD COLUMN \"manager_id\" INTEGER REFERENCES \"people\"(\"id\") ON DELETE SET NULL ON UPDATE CASCADE;
             CREATE INDEX \"people_manager_id_idx\" ON \"people\"(\"manager_id\");
"
        }
    }
}

/// Rolls back a migration whose every statement ran (`repair --apply --roll-back`, no
/// `--allow-data-loss`), counting it done (then deployed again, which must succeed) or
/// refused (exit 10, with the reason); any other answer is a failure. Whether it was
/// rolled back.
fn roll_back_whole(project: &Project, db: &TestDb, context: &str, tally: &mut Tally) -> bool {
    let mut command = project.command(db, &["repair", "--apply", "--roll-back"]);
    command.env("SAFEMIG_CACHE_DIR", project.dir.path().join("cache"));
    let run = crate::harness::to_run(command.output().unwrap());
    let outcome = match run.code {
        0 => "roll-back",
        10 => {
            let reason = run.stderr.lines().find(|l| l.starts_with("error"));
            tally
                .refusals
                .push(format!("{context}: {}", reason.unwrap_or(&run.stderr)));
            "roll-back refused"
        }
        code => {
            tally
                .failures
                .push(format!("{context}: roll-back exit {code}: {}", run.stderr));
            "roll-back wrong"
        }
    };
    *tally.counts.entry(outcome.into()).or_default() += 1;
    if run.code == 0 {
        project.safemig(db, &["deploy"]).expect(0);
    }
    run.code == 0
}

/// Deploys `project`'s folder, adds migration `name` and fails it after every k of its n
/// statements: the live state is the first k statements applied, then the row Prisma
/// leaves (checksum, `started_at`, an error in `logs`, steps 0), and `safemig repair` must
/// answer `none`, `partial k`, `all`, or `ambiguous` with k among its candidates — never a
/// wrong `all`. Inside a script's own transaction a kill leaves the state before it (the
/// server rolls back), so only the points where statements are durable are failure points.
/// Once every statement ran (verdict `all`), it is rolled back whole ([`roll_back_whole`]);
/// otherwise, or when that is refused, it is settled with `repair --apply --assume-applied
/// 1-n`.
fn inject(project: &Project, db: &TestDb, corpus: &str, name: &str, sql: &str, tally: &mut Tally) {
    let dialect = db.kind.dialect();
    let split = executable_statements(sql, dialect);
    let n = split.len();
    project.safemig(db, &["deploy"]).expect(0);
    project.write(name, sql);
    fail_after(db, name, sql, 0);
    let mut durable = 0;
    let mut pending: Vec<&str> = Vec::new();
    let mut session: Vec<&str> = Vec::new();
    let mut last = String::new();
    for k in 0..=n {
        if k > 0 {
            let stmt = &split[k - 1];
            match transaction_edge(stmt.sql) {
                Some(true) => pending.push(stmt.sql),
                Some(false) if !pending.is_empty() => {
                    pending.push(stmt.sql);
                    let mut script = session.clone();
                    script.append(&mut pending);
                    db.exec(&script.join(";\n"));
                }
                _ if !pending.is_empty() => pending.push(stmt.sql),
                _ => {
                    let mut script = session.clone();
                    script.push(stmt.sql);
                    db.exec(&script.join(";\n"));
                }
            }
            // A session statement holds for the ones after it, unless it is inside a
            // transaction (`SET TRANSACTION`, `SET LOCAL`): that one ends with it.
            let session_wide = stmt.is_session(dialect)
                || stmt.kind == safemig::sql::StatementKind::ForeignKeysPragma;
            if session_wide && pending.is_empty() {
                session.push(stmt.sql);
            }
            if !pending.is_empty() {
                continue; // Not durable: a kill here leaves the state at the BEGIN.
            }
            durable = k;
        }
        let mut command = project.command(db, &["repair", "--json"]);
        command.env("SAFEMIG_CACHE_DIR", project.dir.path().join("cache"));
        let run = crate::harness::to_run(command.output().unwrap());
        let context = format!("{corpus} {name} k = {durable} of {n}");
        match check_verdict(&run, durable, n) {
            Ok(verdict) => {
                last = verdict.clone();
                *tally.counts.entry(verdict).or_default() += 1;
            }
            Err(e) => {
                eprintln!("{context}: {e}");
                tally.failures.push(format!("{context}: {e}"));
                *tally.counts.entry("wrong".into()).or_default() += 1;
            }
        }
    }
    if last == "all" && roll_back_whole(project, db, &format!("{corpus} {name}"), tally) {
        return;
    }
    project
        .safemig(
            db,
            &["repair", "--apply", "--assume-applied", &format!("1-{n}")],
        )
        .expect(0);
}

/// A migration whose `CREATE UNIQUE INDEX CONCURRENTLY` fails after the statement before it
/// (duplicate rows: PostgreSQL leaves the index INVALID, as a kill during the build does):
/// repair must answer as for the state after statement 1 and name the invalid index; with
/// the duplicates gone, `--apply --finish` drops it and builds it again.
fn interrupt_concurrent_index(project: &Project, db: &TestDb, tally: &mut Tally) {
    let name = "20240103000000_concurrent";
    let sql = "CREATE TABLE d (id INTEGER PRIMARY KEY, n INTEGER);\n\
               CREATE UNIQUE INDEX CONCURRENTLY d_n_key ON d (n);\n\
               CREATE TABLE e (id INTEGER PRIMARY KEY);\n";
    let split = statements(db.kind, sql);
    project.safemig(db, &["deploy"]).expect(0);
    project.write(name, sql);
    db.exec(&split[0]);
    db.exec("INSERT INTO d (id, n) VALUES (1, 7), (2, 7)");
    assert!(db.try_exec(&split[1]).is_err(), "duplicates fail the build");
    fail_after(db, name, sql, 0);
    let run = project.safemig(db, &["repair", "--json"]);
    let context = format!("invalid index {name} k = 1 of 3");
    let named = json(&run)["invalid_indexes"][0]["name"] == "d_n_key";
    match check_verdict(&run, 1, 3) {
        Ok(verdict) if named => *tally.counts.entry(verdict).or_default() += 1,
        result => {
            tally.failures.push(format!(
                "{context}: {result:?}, invalid index named: {named}"
            ));
            *tally.counts.entry("wrong".into()).or_default() += 1;
        }
    }
    db.exec("DELETE FROM d WHERE id = 2");
    project
        .safemig(db, &["repair", "--apply", "--finish"])
        .expect(0);
}

/// Checks repair's answer for a live state of the first `k` of `n` statements: the verdict
/// on success, what is wrong otherwise.
fn check_verdict(run: &Run, k: usize, n: usize) -> Result<String, String> {
    let report: Value = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("{e}: {} {}", run.stdout, run.stderr))?;
    let verdict = report["verdict"].as_str().unwrap_or_default().to_string();
    // Which statements repair says are harmless to run again; a statement it says so of
    // must be one whose kind allows it (never a data statement).
    let rerun_safe: Vec<bool> = report["statements"]
        .as_array()
        .map(|a| a.iter().map(|s| s["rerun_safe"] == true).collect())
        .unwrap_or_default();
    let data_rerun = report["statements"].as_array().and_then(|a| {
        a.iter()
            .find(|s| s["rerun_safe"] == true && s["kind"] == "dml")
            .map(|s| s["number"].clone())
    });
    if let Some(number) = data_rerun {
        return Err(format!(
            "data statement {number} taken as safe to run again"
        ));
    }
    let all_transparent = |from: usize, to: usize| {
        rerun_safe
            .get(from..to)
            .is_some_and(|r| r.iter().all(|&r| r))
    };
    let right = match verdict.as_str() {
        "all" => k == n || all_transparent(k, n),
        "none" => all_transparent(0, k),
        "partial" => {
            let applied = report["applied"].as_u64().unwrap_or(u64::MAX) as usize;
            applied <= k && all_transparent(applied, k)
        }
        "ambiguous" => report["candidates"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c.as_u64() == Some(k as u64))),
        _ => false,
    };
    let expected_code = if verdict == "ambiguous" { 5 } else { 0 };
    if right && run.code == expected_code {
        Ok(verdict)
    } else {
        Err(format!("verdict {verdict}, exit {}: {report:#}", run.code))
    }
}

/// The incident on MariaDB: half of a real multi-statement migration applied, the row
/// Prisma leaves, and `safemig run --on-failed=repair -- APP` heals it and starts the
/// app — on the database itself and on a `mariadb-dump` of it restored elsewhere. Two
/// kinds of Prisma migration: one whose every statement creates something (the schema
/// shows exactly how far it got), and one of `ALTER TABLE … MODIFY` statements most of
/// which change nothing on MariaDB (they run again from the earliest matching state).
#[test]
fn mariadb_incident_heals_at_container_start() {
    let kind = Kind::Mysql;
    // Its incidents are corpus migrations: missing outside CI, a notice (CI fails).
    if crate::harness::corpus_dir().is_none() {
        return;
    }
    let first_code = |sql: &str| {
        sql.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("--"))
            .unwrap_or_default()
            .to_string()
    };
    let creates = |s: &safemig::sql::Statement<'_>| {
        first_code(s.sql).starts_with("CREATE") || s.sql.contains(" ADD CONSTRAINT ")
    };
    let modifies = |s: &safemig::sql::Statement<'_>| s.sql.contains("\nMODIFY ");
    incident(kind, "creating", &|split| split.iter().all(creates), true);
    incident(
        kind,
        "modifying",
        &|split| split.iter().filter(|s| modifies(s)).count() >= split.len() / 2,
        false,
    );
}

/// One incident: the first corpus migration of at least 4 statements that `pick`s, failed
/// after half of them. `exact`: the verdict is `partial` at exactly that point.
fn incident(
    kind: Kind,
    what: &str,
    pick: &dyn Fn(&[safemig::sql::Statement<'_>]) -> bool,
    exact: bool,
) {
    let (corpus, files, index, sql) = corpora(kind)
        .into_iter()
        .flat_map(|(corpus, dir)| {
            let files = migration_files(&dir);
            (0..files.len()).map(move |i| (corpus.clone(), files.clone(), i))
        })
        .map(|(corpus, files, i)| {
            let sql = std::fs::read_to_string(&files[i]).unwrap();
            (corpus, files, i, sql)
        })
        .find(|(_, _, _, sql)| {
            let split = executable_statements(sql, kind.dialect());
            split.len() >= 4 && pick(&split)
        })
        .unwrap_or_else(|| panic!("a MySQL corpus migration {what} (../shared/corpus)"));
    let n = executable_statements(&sql, kind.dialect()).len();
    let project = Project::new(kind, &[]);
    for file in &files[..index] {
        project.write(
            &migration_name(file),
            &std::fs::read_to_string(file).unwrap(),
        );
    }
    let db = TestDb::new(kind);
    if index > 0 {
        project.safemig(&db, &["deploy"]).expect(0);
    }
    let failed = migration_name(&files[index]);
    project.write(&failed, &sql);
    fail_after(&db, &failed, &sql, n / 2);
    // Prisma's own deploy dies on it: P3009.
    let run = project.safemig(&db, &["deploy"]).expect(REFUSED);
    assert!(
        run.stderr.contains("P3009") && run.stderr.contains(&format!("safemig repair {failed}")),
        "{}",
        run.stderr
    );
    let restored = TestDb::restored_from_dump(&db);

    for target in [&db, &restored] {
        let mut args = vec!["run", "--on-failed=repair", "--"];
        args.extend(APP);
        let run = project.safemig(target, &args).expect(0);
        let context = format!("{corpus} {failed}, failed after {} of {n}", n / 2);
        assert!(run.stdout.contains("app started"), "{context}: {run:?}");
        let repaired = run
            .stderr
            .lines()
            .find(|l| l.contains("repaired failed migration"))
            .unwrap_or_else(|| panic!("{context}: {}", run.stderr));
        if exact {
            let expected = format!(
                "verdict partial {} of {n}; finished statements {}..{n}",
                n / 2,
                n / 2 + 1
            );
            assert!(repaired.contains(&expected), "{context}: {repaired}");
        } else {
            assert!(
                repaired.contains("verdict partial "),
                "{context}: {repaired}"
            );
        }
        project.safemig(target, &["status"]).expect(0);
        drift(&project, target).expect(0);
    }
}

for_each_engine!(
    each_prefix_gets_its_verdict,
    a_hand_change_diverges_and_nothing_is_written,
    apply_none_rolls_back_and_deploy_applies_again,
    apply_all_records_it_as_prisma_resolve_does,
    finish_runs_the_rest_of_a_partial_migration,
    roll_back_refuses_to_delete_data_unless_allowed,
    roll_back_of_empty_objects_needs_no_permission,
    roll_back_of_a_wholly_applied_migration,
    roll_back_renames_columns_back,
    roll_back_renames_tables_indexes_and_constraints_back,
    a_refused_roll_back_keeps_the_renames,
    roll_back_drops_tables_with_their_foreign_keys,
    nothing_to_repair_after_a_data_statement,
    assume_applied_settles_an_ambiguous_verdict,
    ddl_that_changed_nothing_runs_again,
    run_heals_a_provable_failure_and_starts_the_app,
    run_stops_on_a_verdict_that_needs_a_person,
    own_transaction_is_one_unit,
    injected_failures,
);
