//! Deploys that stop on something other than a kill: a statement the server would refuse,
//! a database restored from a backup taken mid-migration, a history edited around an
//! interrupted migration, and a failed statement that applied nothing. Each ends in a state
//! a deploy can leave: continued when that is provably right, refused with the evidence
//! and the next command otherwise, never "resumed" into a wrong schema.

use crate::corpus::{migration_files, migration_name};
use crate::fleet::wait_until;
use crate::for_each_engine;
use crate::harness::{
    Kind, Project, TestDb, block_on, corpus_dir, mariadb, mariadb_dump, mariadb_restore,
};
use crate::journeys::{FIRST, INIT, Journey, SECOND, Step, preferring, transcript};
use crate::status::status_json;

fn stderr_has(run: &crate::harness::Run, needles: &[&str]) {
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "no `{needle}` in:\n{}",
            run.stderr
        );
    }
}

/// MariaDB drops the connection on a statement over `max_allowed_packet` and never says
/// why. safemig checks the size before sending, names the statement and the setting, and
/// continues from that statement once the setting is raised.
#[test]
fn mariadb_statement_over_max_allowed_packet() {
    let db = TestDb::new(Kind::Mysql);
    let limit: u64 = db
        .scalar("SELECT CAST(@@max_allowed_packet AS CHAR)")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(limit, 16 << 20, "the test expects MariaDB's default 16 MiB");
    let blob = "x".repeat(20 << 20);
    let script = format!(
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body LONGTEXT);\n\
         INSERT INTO blobs VALUES (1, '{blob}');\n\
         CREATE TABLE after_blob (id INTEGER);\n"
    );
    let project = Project::new(Kind::Mysql, &[("20240101000000_blob", &script)]);
    let run = project.safemig(&db, &["deploy"]).expect(6);
    stderr_has(
        &run,
        &[
            "statement 2 of 3 (line 2)",
            "20.0 MiB",
            "max_allowed_packet of 16.0 MiB",
        ],
    );
    let report = status_json(&project, &db, 5);
    let note = report["migrations"][0]["note"].as_str().unwrap();
    assert!(
        note.contains("max_allowed_packet") && note.contains("statement 2 of 3"),
        "{note}"
    );
    // Unchanged, it blocks deploy as Prisma's failed rows do, saying what to do.
    let run = project.safemig(&db, &["deploy"]).expect(5);
    stderr_has(&run, &["P3009", "raise the server limit"]);

    mariadb().admin_exec("SET GLOBAL max_allowed_packet = 67108864");
    let run = project.safemig(&db, &["deploy"]).expect(0);
    mariadb().admin_exec("SET GLOBAL max_allowed_packet = 16777216");
    assert!(
        run.stdout.contains("Resuming 20240101000000_blob"),
        "{}",
        run.stdout
    );
    assert_eq!(
        db.scalar("SELECT CAST(LENGTH(body) AS CHAR) FROM blobs")
            .as_deref(),
        Some("20971520")
    );
    assert!(db.has_table("after_blob"));
    let history = db.history();
    assert!(
        history.iter().all(|h| h.finished && h.logs.is_none()),
        "{history:?}"
    );
    project.safemig(&db, &["status"]).expect(0);
}

/// The incident's restored dump: taken while an `ALTER TABLE Session` ran, it has no
/// `Session` at all. The ALTER's target changed, but not into anything an ALTER produces:
/// deploy refuses with the evidence, writes nothing, names `safemig repair` (which tells
/// from the whole schema where the migration stands), and status agrees.
#[test]
fn mariadb_restored_during_an_alter_is_not_resumed() {
    for point in ["after_statement:2", "during_statement:2"] {
        let db = TestDb::new(Kind::Mysql);
        let project = Project::new(
            Kind::Mysql,
            &[
                (
                    "20240101000000_session",
                    "CREATE TABLE Session (id INTEGER PRIMARY KEY);\n",
                ),
                (
                    "20240102000000_expiry",
                    "ALTER TABLE Session ADD COLUMN expires INTEGER;\nCREATE TABLE audit (id INTEGER);\n",
                ),
                (
                    "20240103000000_seed",
                    "INSERT INTO Session (id, expires) VALUES (1, 2);\n",
                ),
            ],
        );
        project.deploy_killed_at(&db, point);
        // What the restore brings back: everything but the table being altered.
        db.exec("DROP TABLE Session");
        let before = db.history();
        let run = project.safemig(&db, &["deploy"]).expect(5);
        stderr_has(
            &run,
            &[
                "`20240102000000_expiry` was interrupted, but the schema is not where its journal says",
                "`Session` is missing now",
                "restored from a backup",
                "next: run `safemig repair 20240102000000_expiry",
            ],
        );
        assert_eq!(db.history(), before, "{point}: nothing written");
        assert!(!db.has_table("audit"));
        let report = status_json(&project, &db, 5);
        let note = report["migrations"][1]["note"].as_str().unwrap();
        assert!(
            note.contains("cannot be resumed") && note.contains("Session"),
            "{note}"
        );
    }
}

/// A table a completed statement created is gone: the database is not the one the
/// journal describes.
#[test]
fn mariadb_missing_target_of_a_completed_statement_is_not_resumed() {
    let db = TestDb::new(Kind::Mysql);
    let project = Project::new(
        Kind::Mysql,
        &[(
            "20240101000000_tables",
            "CREATE TABLE a (id INTEGER);\nCREATE TABLE b (id INTEGER);\nALTER TABLE a ADD COLUMN x INTEGER;\n",
        )],
    );
    project.deploy_killed_at(&db, "after_statement:3");
    db.exec("DROP TABLE b");
    let run = project.safemig(&db, &["deploy"]).expect(5);
    stderr_has(
        &run,
        &[
            "statement 2 (line 2: `CREATE TABLE b",
            "`b` should exist, but it is missing",
        ],
    );
}

/// Another migration recorded after the interrupted one's journal was last written: the
/// history was restored or edited around it, so the journal is not trusted blindly.
#[test]
fn history_written_after_an_interrupted_journal_is_not_trusted() {
    let db = TestDb::new(Kind::Mysql);
    let project = Project::new(
        Kind::Mysql,
        &[
            (
                "20240101000000_tables",
                "CREATE TABLE a (id INTEGER);\nCREATE TABLE b (id INTEGER);\n",
            ),
            ("20240102000000_later", "CREATE TABLE c (id INTEGER);\n"),
        ],
    );
    project.deploy_killed_at(&db, "after_statement:2");
    project
        .safemig(&db, &["resolve", "--applied", "20240102000000_later"])
        .expect(0);
    let run = project.safemig(&db, &["deploy"]).expect(5);
    stderr_has(
        &run,
        &["was started later", "restored from a backup or edited"],
    );
}

/// A statement that fails and applies nothing, after others that applied: the failed row
/// blocks deploy while the file is unchanged (as Prisma's does), and once the statement is
/// fixed, deploy continues from it, without a resolve and without re-running the others.
fn a_failed_statement_that_applied_nothing_is_retried_once_fixed(kind: Kind) {
    // Journaled on every engine: CONCURRENTLY and VACUUM refuse a transaction.
    let journaled = match kind {
        Kind::Postgres => "CREATE INDEX CONCURRENTLY first_id ON first (id);\n",
        Kind::Mysql => "",
        Kind::Sqlite => "VACUUM;\n",
    };
    let broken = format!(
        "CREATE TABLE first (id INTEGER PRIMARY KEY);\n{journaled}\
         INSERT INTO no_such_table (id) VALUES (1);\n\
         CREATE TABLE second (id INTEGER);\n"
    );
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_fix_me", &broken)]);
    let run = project.safemig(&db, &["deploy"]).expect(6);
    stderr_has(
        &run,
        &[
            "the failed statement applied nothing",
            "continues from statement",
        ],
    );
    let run = project.safemig(&db, &["deploy"]).expect(5);
    stderr_has(&run, &["P3009", "fix it in the migration's migration.sql"]);
    let report = status_json(&project, &db, 5);
    let note = report["migrations"][0]["note"].as_str().unwrap();
    assert!(note.contains("which applied nothing"), "{note}");

    let fixed = broken.replace("no_such_table", "first");
    project.write("20240101000000_fix_me", &fixed);
    let report = status_json(&project, &db, 8);
    assert_eq!(report["migrations"][0]["state"], "interrupted", "{report}");
    let run = project.safemig(&db, &["deploy"]).expect(0);
    assert!(
        run.stdout.contains("Resuming 20240101000000_fix_me"),
        "{}",
        run.stdout
    );
    assert!(db.has_table("second"));
    let history = db.history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].finished && history[0].logs.is_none());
    // The row carries the fixed file's checksum: status sees nothing edited.
    project.safemig(&db, &["status"]).expect(0);
}

/// Issue 22, item 12. `mariadb-dump --single-transaction` reads every table's rows from one
/// snapshot, but each table's definition when it reaches it: taken while a deploy runs, its
/// history rows say a migration is at statement 3 while the tables are further on (here, the
/// whole folder applied). Deploy must not rerun statements whose effect is there until one
/// fails and then advise editing a correct file: it continues from the state the schema
/// shows, or stops with exit 5 naming `safemig repair`, and following the advice as printed
/// heals the database (history and schema the folder's).
#[test]
fn mariadb_dump_with_tables_newer_than_its_history() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let files = migration_files(&corpus.join("evolution-api-mysql/migrations"));
    let migrations: Vec<(String, String)> = files
        .iter()
        .map(|f| (migration_name(f), std::fs::read_to_string(f).unwrap()))
        .collect();
    let migrations: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let source = TestDb::new(Kind::Mysql);
    Project::new(Kind::Mysql, &migrations[..1])
        .safemig(&source, &["deploy"])
        .expect(0);
    let project = Project::new(Kind::Mysql, &migrations);
    let (history, tables) = dump_during_statement(&project, &source, "Contact", migrations[1].0);

    let journey = Journey::new(Kind::Mysql, &migrations);
    mariadb_restore(&journey.staging, &tables);
    mariadb_restore(&journey.staging, &history);
    let steps = journey.follow("safemig deploy --env staging", 4, &preferring(&["--apply"]));
    let all = transcript(&steps);
    let first = &steps[0].run;
    assert!(
        first.code == 0 || (first.code == 5 && first.stderr.contains("next: run `safemig repair ")),
        "deploy neither converged nor named `safemig repair`:\n{all}"
    );
    assert!(
        !all.contains("migration.sql"),
        "advice to edit a migration file:\n{all}"
    );
    journey.assert_healthy(&steps);
}

/// Deploys `project` to `db` while another session holds `LOCK TABLES table READ`, so that
/// the deploy waits on its first statement altering `table` (in `migration`); dumps
/// `_prisma_migrations` then, lets the deploy finish, and dumps the other tables: the dump
/// `mariadb-dump --single-transaction` makes when it reaches the history table first.
/// Returns (history, tables).
fn dump_during_statement(
    project: &Project,
    db: &TestDb,
    table: &str,
    migration: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut locker = block_on(db.connect());
    let lock = |sql: String, conn: &mut sqlx::AnyConnection| {
        block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(conn))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    lock(format!("LOCK TABLES `{table}` READ"), &mut locker);
    let deploy = project.spawn(db, &["deploy"]);
    let waiting = format!(
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST \
         WHERE DB = '{}' AND STATE = 'Waiting for table metadata lock' \
         AND INFO LIKE '%ALTER TABLE `{table}`%'",
        db.name
    );
    wait_until("deploy to wait on the locked table", || {
        db.scalar(&waiting).as_deref() == Some("1")
    });
    let held = db.history();
    let row = held.iter().find(|h| h.name == migration);
    assert!(
        row.is_some_and(|r| !r.finished && r.steps >= 1),
        "{migration} is not in flight: {held:?}"
    );
    let history = mariadb_dump(db, &["_prisma_migrations"], &[]).unwrap();
    lock("UNLOCK TABLES".into(), &mut locker);
    drop(locker);
    let output = deploy.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tables = mariadb_dump(db, &[], &["_prisma_migrations"]).unwrap();
    (history, tables)
}

/// The same on every engine, the schema built directly: a journaled migration interrupted
/// after statement 2 of 4, then statement 3's table created by hand. Deploy continues from
/// the state the schema shows, or stops naming `safemig repair` (and so does the next
/// deploy: the failed row no longer claims a fixed file would let it retry); following
/// the advice heals, and nothing ever says to edit `migration.sql`.
fn schema_ahead_of_an_interrupted_journal(kind: Kind) {
    // Journaled everywhere: CONCURRENTLY and VACUUM refuse a transaction.
    let journaled = match kind {
        Kind::Postgres => "CREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n",
        Kind::Mysql => "CREATE INDEX a_id_idx ON a (id);\n",
        Kind::Sqlite => "VACUUM;\n",
    };
    let second = format!(
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\n{journaled}\
         CREATE TABLE b (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE c (id INTEGER PRIMARY KEY);\n"
    );
    let journey = Journey::new(kind, &[(FIRST, INIT), (SECOND, &second)]);
    // One statement boundary in the first migration, two in the second.
    let killed = journey
        .command("safemig deploy --env staging")
        .env("SAFEMIG_FAILPOINT", "after_statement:3")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None, "{killed:?}");
    journey
        .staging
        .exec("CREATE TABLE b (id INTEGER PRIMARY KEY)");

    let first = journey.safemig("safemig deploy --env staging");
    let mut runs = vec![first];
    if runs[0].code != 0 {
        runs.push(journey.safemig("safemig deploy --env staging"));
        runs.push(journey.safemig("safemig status --env staging"));
    }
    for run in &runs {
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(!output.contains("migration.sql"), "{output}");
    }
    for run in &runs[..runs.len().min(2)] {
        assert!(
            run.code == 0
                || (run.code == 5
                    && run
                        .stderr
                        .contains(&format!("next: run `safemig repair {SECOND}"))),
            "{run:?}"
        );
    }
    let step = Step {
        command: "safemig deploy --env staging".into(),
        run: runs.swap_remove(0),
    };
    let steps = journey.follow_from(step, 4, &preferring(&["--finish", "--apply"]));
    let all = transcript(&steps);
    assert!(!all.contains("migration.sql"), "{all}");
    journey.assert_healthy(&steps);
}

for_each_engine!(
    a_failed_statement_that_applied_nothing_is_retried_once_fixed,
    schema_ahead_of_an_interrupted_journal,
);
