//! `safemig deploy` on every engine: the happy path and Prisma's refusals.

use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb};

pub const INIT: &str =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n";
pub const POSTS: &str = "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(200));\nCREATE INDEX posts_user_id_idx ON posts (user_id);\n";
pub const TAGS: &str = "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));\n";
/// Fails on every engine: the table does not exist.
pub const BROKEN: &str = "INSERT INTO no_such_table (id) VALUES (1);\n";
/// Applies its first statement, then fails: a real failed row on every engine (a failure
/// with nothing applied is recorded as rolled back instead).
pub const FAILING_MIDWAY: &str = "CREATE TABLE applied_first (id INTEGER PRIMARY KEY);\nBEGIN;\nINSERT INTO no_such_table (id) VALUES (1);\nCOMMIT;\n";

pub fn three(kind: Kind) -> Project {
    Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
            ("20240103000000_tags", TAGS),
        ],
    )
}

fn deploy_all_then_status_clean_then_noop(kind: Kind) {
    let db = TestDb::new(kind);
    let project = three(kind);
    let run = project.safemig(&db, &["deploy"]).expect(0);
    assert!(
        run.stdout.contains("Created the _prisma_migrations table."),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Applied ").count(), 3, "{}", run.stdout);
    assert!(
        run.stdout.contains("3 migrations applied"),
        "{}",
        run.stdout
    );
    assert!(db.has_table("users") && db.has_table("posts") && db.has_table("tags"));
    let history = db.history();
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|h| h.finished && !h.rolled_back && h.steps == 1 && h.logs.is_none())
    );

    let status = project.safemig(&db, &["status"]).expect(0);
    assert!(
        status.stdout.contains("Database is up to date."),
        "{}",
        status.stdout
    );

    let again = project.safemig(&db, &["deploy"]).expect(0);
    assert!(
        again
            .stdout
            .contains("No pending migrations; 3 already applied."),
        "{}",
        again.stdout
    );
    assert_eq!(db.history().len(), 3, "a second deploy must not write rows");
}

fn deploy_applies_only_new_migrations_in_order(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240103000000_tags", TAGS);
    project.write("20240102000000_posts", POSTS);
    let run = project.safemig(&db, &["deploy"]).expect(0);
    let posts = run
        .stdout
        .find("Applied 20240102000000_posts")
        .expect("posts applied");
    let tags = run
        .stdout
        .find("Applied 20240103000000_tags")
        .expect("tags applied");
    assert!(posts < tags, "folder order: {}", run.stdout);
    let names: Vec<String> = db.history().into_iter().map(|h| h.name).collect();
    assert_eq!(
        names,
        [
            "20240101000000_init",
            "20240102000000_posts",
            "20240103000000_tags"
        ]
    );
}

fn dry_run_changes_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let project = three(kind);
    let run = project.safemig(&db, &["deploy", "--dry-run"]).expect(0);
    assert!(run.stdout.contains("apply 3 migrations"), "{}", run.stdout);
    if kind == Kind::Sqlite {
        assert!(
            !db.sqlite_path().exists(),
            "dry run created the SQLite file"
        );
    } else {
        assert!(!db.has_table("_prisma_migrations") && !db.has_table("users"));
    }
    // Once the database exists, the plan shows how each migration will run.
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(
        "20240104000000_more",
        "CREATE TABLE more_things (id INTEGER PRIMARY KEY);\n",
    );
    let run = project.safemig(&db, &["deploy", "--dry-run"]).expect(0);
    let mode = if kind == Kind::Mysql {
        "journaled"
    } else {
        "transactional"
    };
    assert!(
        run.stdout
            .contains("Deploy would apply 1 migration (3 already applied)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(mode), "{}", run.stdout);
    assert!(!db.has_table("more_things"));
}

fn refuses_non_empty_database_without_history_p3005(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec("CREATE TABLE legacy (id INTEGER PRIMARY KEY)");
    let project = three(kind);
    let run = project.safemig(&db, &["deploy"]).expect(9);
    assert!(run.stderr.contains("error[P3005]"), "{}", run.stderr);
    assert!(run.stderr.contains("`legacy`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("safemig resolve --applied"),
        "{}",
        run.stderr
    );
    assert!(!db.has_table("_prisma_migrations") && !db.has_table("users"));
}

fn failed_migration_stops_deploy_p3018(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", BROKEN),
            ("20240103000000_tags", TAGS),
        ],
    );
    let run = project.safemig(&db, &["deploy"]).expect(6);
    assert!(run.stderr.contains("error[P3018]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("20240102000000_broken"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("Applied 20240101000000_init"),
        "{}",
        run.stdout
    );
    assert!(
        !db.has_table("tags"),
        "deploy must stop at the first failure"
    );
    let history = db.history();
    assert_eq!(history.len(), 2);
    let broken = &history[1];
    assert_eq!(broken.name, "20240102000000_broken");
    assert!(!broken.finished);
    assert_eq!(broken.steps, 0);
    assert!(
        broken
            .logs
            .as_deref()
            .unwrap_or_default()
            .contains("no_such_table"),
        "{broken:?}"
    );
    // Nothing of it was applied (its transaction, or its only statement, rolled back):
    // the attempt is recorded, but blocks nothing.
    assert!(broken.rolled_back);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    project.write(
        "20240102000000_broken",
        "CREATE TABLE fixed (id INTEGER PRIMARY KEY);\n",
    );
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(db.has_table("fixed") && db.has_table("tags"));
}

fn failed_row_blocks_deploy_p3009(kind: Kind) {
    let db = TestDb::new(kind);
    let broken = FAILING_MIDWAY;
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", broken),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(6);
    project.write("20240103000000_tags", TAGS);
    let run = project.safemig(&db, &["deploy"]).expect(5);
    assert!(run.stderr.contains("error[P3009]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`20240102000000_broken`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "statement 3 failed and applied nothing: fix it in the migration's migration.sql"
        ),
        "{}",
        run.stderr
    );
    assert!(!db.has_table("tags"));
    let dry = project.safemig(&db, &["deploy", "--dry-run"]).expect(5);
    assert!(dry.stderr.contains("P3009"), "{}", dry.stderr);
}

fn provider_mismatch_p3019(kind: Kind) {
    let db = TestDb::new(kind);
    let other = if kind == Kind::Sqlite {
        Kind::Postgres
    } else {
        Kind::Sqlite
    };
    let project = Project::new(other, &[("20240101000000_init", INIT)]);
    let run = project.safemig(&db, &["deploy"]).expect(2);
    assert!(run.stderr.contains("error[P3019]"), "{}", run.stderr);
    assert!(run.stderr.contains(other.lock_name()), "{}", run.stderr);
    project.safemig(&db, &["status"]).expect(2);
}

for_each_engine!(
    deploy_all_then_status_clean_then_noop,
    deploy_applies_only_new_migrations_in_order,
    dry_run_changes_nothing,
    refuses_non_empty_database_without_history_p3005,
    failed_migration_stops_deploy_p3018,
    failed_row_blocks_deploy_p3009,
    provider_mismatch_p3019,
);

/// A script's own transaction sees what it would see without safemig: no history write
/// comes before its first statements (`SET TRANSACTION ISOLATION LEVEL` must be first, and
/// `LOCK TABLE`, `SET LOCAL`, `SET CONSTRAINTS` belong there too). The same holds for a
/// script safemig wraps in its transaction.
#[test]
fn a_scripts_own_transaction_settings_come_first() {
    let db = TestDb::new(Kind::Postgres);
    let own = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\n\
               INSERT INTO t VALUES (1, 0);\n\
               BEGIN;\n\
               SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n\
               LOCK TABLE t IN ACCESS EXCLUSIVE MODE;\n\
               SET LOCAL statement_timeout = '30s';\n\
               SET CONSTRAINTS ALL DEFERRED;\n\
               UPDATE t SET v = 1;\n\
               CREATE TABLE seen AS SELECT current_setting('transaction_isolation') AS level;\n\
               COMMIT;\n";
    let wrapped = "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n\
                   CREATE TABLE seen_wrapped AS SELECT current_setting('transaction_isolation') AS level;\n";
    let project = Project::new(
        Kind::Postgres,
        &[
            ("20240101000000_own_transaction", own),
            ("20240102000000_wrapped", wrapped),
        ],
    );
    let run = project.safemig(&db, &["deploy"]).expect(0);
    assert!(
        run.stdout
            .contains("Applied 20240101000000_own_transaction (journaled")
            && run
                .stdout
                .contains("Applied 20240102000000_wrapped (transactional"),
        "{}",
        run.stdout
    );
    assert_eq!(db.scalar("SELECT v::text FROM t").as_deref(), Some("1"));
    assert_eq!(
        db.scalar("SELECT level FROM seen").as_deref(),
        Some("repeatable read")
    );
    assert_eq!(
        db.scalar("SELECT level FROM seen_wrapped").as_deref(),
        Some("serializable")
    );
    assert!(db.history().iter().all(|h| h.finished && h.logs.is_none()));
    project.safemig(&db, &["status"]).expect(0);
}

/// A migration that moves the session elsewhere (`SET search_path`, `USE`): the history
/// stays where the URL says, and the next migration starts in the URL's schema or database.
fn a_migration_that_changes_the_session_does_not_move_the_history(kind: Kind) {
    let db = TestDb::new(kind);
    let other = format!("{}_other", db.name);
    let moving = match kind {
        Kind::Postgres => format!(
            "CREATE SCHEMA {other};\nSET search_path TO {other};\nCREATE TABLE moved (id INTEGER);\n"
        ),
        _ => format!("CREATE DATABASE {other};\nUSE {other};\nCREATE TABLE moved (id INTEGER);\n"),
    };
    let project = Project::new(
        kind,
        &[
            ("20240101000000_moving", &moving),
            ("20240102000000_stays", "CREATE TABLE stays (id INTEGER);\n"),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    assert!(
        db.has_table("stays"),
        "the second migration ran in the URL's schema"
    );
    assert!(!db.has_table("moved"));
    assert_eq!(db.history().len(), 2);
    if kind == Kind::Mysql {
        crate::harness::mariadb().admin_exec(&format!("DROP DATABASE {other}"));
    }
}

#[test]
fn postgres_set_search_path_does_not_move_the_history() {
    a_migration_that_changes_the_session_does_not_move_the_history(Kind::Postgres);
}

#[test]
fn mysql_use_does_not_move_the_history() {
    a_migration_that_changes_the_session_does_not_move_the_history(Kind::Mysql);
}

/// A MariaDB data migration of 4,000 statements (always journaled there): the journal in
/// `logs` does not grow with the script (listing every statement's hash, it overflowed the
/// 64 KB TEXT column from about 3,400 statements and deploy failed).
#[test]
fn mysql_migration_with_thousands_of_statements() {
    let mut data = String::from("CREATE TABLE seed (id INTEGER PRIMARY KEY, v VARCHAR(50));\n");
    for i in 0..4000 {
        data.push_str(&format!("INSERT INTO seed VALUES ({i}, 'value {i}');\n"));
    }
    let db = TestDb::new(Kind::Mysql);
    let project = Project::new(Kind::Mysql, &[("20240101000000_seed", &data)]);
    project.safemig(&db, &["deploy"]).expect(0);
    assert_eq!(
        db.scalar("SELECT CAST(COUNT(*) AS CHAR) FROM seed")
            .as_deref(),
        Some("4000")
    );
    project.safemig(&db, &["status"]).expect(0);
}

/// Every MariaDB statement runs in the session the `mariadb` client gives it: one
/// migration changes `sql_mode` (and a dump's usual settings) and creates a trigger under
/// it, the next creates a table named `count` (a function name, which `IGNORE_SPACE`
/// reserves) and a trigger of its own. The modes each migration sees, the modes stored
/// with each trigger and the schemas equal those of the client applying the same files,
/// which starts each file in a new session with the server's defaults. (sqlx's handshake
/// asks for `IGNORE_SPACE`, and the session kept a migration's settings for the next.)
#[test]
fn mysql_session_modes_are_the_clients() {
    let seen = "INSERT INTO seen VALUES ('{name}', @@sql_mode, @@foreign_key_checks);\n";
    let first = format!(
        "CREATE TABLE seen (migration VARCHAR(20), mode VARCHAR(500), fk INTEGER);\n\
         SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES');\nSET FOREIGN_KEY_CHECKS = 0;\n{}\
         CREATE TRIGGER seen_trim BEFORE INSERT ON seen FOR EACH ROW SET NEW.migration = TRIM(NEW.migration);\n",
        seen.replace("{name}", "first")
    );
    let second = format!(
        "CREATE TABLE count (i INTEGER);\n{}\
         CREATE TRIGGER count_abs BEFORE INSERT ON count FOR EACH ROW SET NEW.i = ABS(NEW.i);\n",
        seen.replace("{name}", "second")
    );
    let files = [
        ("20240101000000_first", first),
        ("20240102000000_second", second),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let project = Project::new(Kind::Mysql, &refs);
    let ours = TestDb::new(Kind::Mysql);
    project.safemig(&ours, &["deploy"]).expect(0);
    let client = TestDb::new(Kind::Mysql);
    let paths: Vec<_> = files
        .iter()
        .map(|(name, _)| project.migrations().join(name).join("migration.sql"))
        .collect();
    crate::corpus::apply_with_engine_client(&client, &paths);
    for query in [
        "SELECT migration, mode, CAST(fk AS CHAR) FROM seen ORDER BY migration",
        "SELECT TRIGGER_NAME, SQL_MODE FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME",
    ] {
        assert_eq!(ours.rows(query), client.rows(query), "{query}");
    }
    assert_eq!(ours.schema_dump(), client.schema_dump());
}
