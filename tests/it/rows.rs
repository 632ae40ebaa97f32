//! The rows safemig writes equal, column by column, the rows Prisma writes (ARCHITECTURE.md, "The Prisma contract"),
//! and the table is created with Prisma's exact DDL.
//!
//! Expected values, from Prisma's schema engine (ARCHITECTURE.md, "The Prisma contract"):
//! - deploy, success: id = lowercase hyphenated UUID v4; checksum = SHA-256 hex of the file;
//!   migration_name = folder name; started_at set; finished_at set, not before started_at;
//!   logs NULL; rolled_back_at NULL; applied_steps_count 1.
//! - deploy, failure after some statements applied: Prisma's failed state (finished_at NULL,
//!   rolled_back_at NULL, so Prisma too refuses with P3009); safemig's journal in logs (the
//!   error on its first line) and the statements done in applied_steps_count, where Prisma
//!   writes its error text and 0.
//! - resolve --applied: started_at = finished_at, logs = '', applied_steps_count 0.
//! - SQLite timestamps are INTEGER Unix milliseconds.

use sha2::{Digest, Sha256};

use crate::deploy::FAILING_MIDWAY;
use crate::deploy::INIT;
use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb};

fn is_uuid_v4(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    id.len() == 36
        && parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

/// One row as text: id, checksum, name, logs, steps, finished?, rolled back?,
/// finished >= started?, started = finished?
fn row(db: &TestDb, name: &str) -> Vec<Option<String>> {
    let text = if db.kind == Kind::Mysql {
        "CHAR"
    } else {
        "TEXT"
    };
    let rows = db.rows(&format!(
        "SELECT id, checksum, migration_name, logs, CAST(applied_steps_count AS {text}), \
            CASE WHEN finished_at IS NULL THEN 'null' ELSE 'set' END, \
            CASE WHEN rolled_back_at IS NULL THEN 'null' ELSE 'set' END, \
            CASE WHEN started_at IS NULL THEN 'null' ELSE 'set' END, \
            CASE WHEN finished_at >= started_at THEN 'yes' ELSE 'no' END, \
            CASE WHEN finished_at = started_at THEN 'yes' ELSE 'no' END \
         FROM _prisma_migrations WHERE migration_name = '{name}' ORDER BY started_at"
    ));
    rows.into_iter()
        .last()
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn checksum_of(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn history_table_has_prismas_exact_ddl(kind: Kind) {
    let db = TestDb::new(kind);
    Project::new(kind, &[("20240101000000_init", INIT)])
        .safemig(&db, &["deploy"])
        .expect(0);
    match kind {
        Kind::Postgres => postgres_history_table_is_prismas(&db),
        Kind::Mysql => mysql_history_table_is_prismas(&db),
        Kind::Sqlite => sqlite_history_table_is_prismas(&db),
    }
}

/// The columns (type, length, nullability, default) and the primary key Prisma creates.
fn postgres_history_table_is_prismas(db: &TestDb) {
    let columns = db.rows(
        "SELECT column_name::text, data_type::text, CAST(character_maximum_length AS TEXT), \
                is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position",
    );
    let expected = [
        ("id", "character varying", Some("36"), "NO", None),
        ("checksum", "character varying", Some("64"), "NO", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        (
            "migration_name",
            "character varying",
            Some("255"),
            "NO",
            None,
        ),
        ("logs", "text", None, "YES", None),
        (
            "rolled_back_at",
            "timestamp with time zone",
            None,
            "YES",
            None,
        ),
        (
            "started_at",
            "timestamp with time zone",
            None,
            "NO",
            Some("now()"),
        ),
        ("applied_steps_count", "integer", None, "NO", Some("0")),
    ];
    let expected: Vec<Vec<Option<String>>> = expected
        .iter()
        .map(|(n, t, l, null, d)| {
            vec![
                s(n),
                s(t),
                l.map(String::from),
                s(null),
                d.map(String::from),
            ]
        })
        .collect();
    assert_eq!(columns, expected);
    let pk = db.scalar(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
         AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '_prisma_migrations'::regclass AND i.indisprimary",
    );
    assert_eq!(pk.as_deref(), Some("id"));
}

/// The columns (type, nullability, default, key) and the collation Prisma creates.
fn mysql_history_table_is_prismas(db: &TestDb) {
    let columns = db.rows(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
                CAST(COLUMN_DEFAULT AS CHAR), CAST(COLUMN_KEY AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = '_prisma_migrations' ORDER BY ORDINAL_POSITION",
    );
    let expected = [
        ("id", "varchar(36)", "NO", None, "PRI"),
        ("checksum", "varchar(64)", "NO", None, ""),
        ("finished_at", "datetime(3)", "YES", Some("NULL"), ""),
        ("migration_name", "varchar(255)", "NO", None, ""),
        ("logs", "text", "YES", Some("NULL"), ""),
        ("rolled_back_at", "datetime(3)", "YES", Some("NULL"), ""),
        (
            "started_at",
            "datetime(3)",
            "NO",
            Some("current_timestamp(3)"),
            "",
        ),
        (
            "applied_steps_count",
            "int(10) unsigned",
            "NO",
            Some("0"),
            "",
        ),
    ];
    let expected: Vec<Vec<Option<String>>> = expected
        .iter()
        .map(|(n, t, null, d, k)| vec![s(n), s(t), s(null), d.map(String::from), s(k)])
        .collect();
    assert_eq!(columns, expected);
    let collation = db.scalar(
        "SELECT CAST(TABLE_COLLATION AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_prisma_migrations'",
    );
    assert_eq!(collation.as_deref(), Some("utf8mb4_unicode_ci"));
}

/// Prisma's `CREATE TABLE`, as SQLite keeps it, to the character.
fn sqlite_history_table_is_prismas(db: &TestDb) {
    let ddl = db.scalar("SELECT sql FROM sqlite_master WHERE name = '_prisma_migrations'");
    let expected = r#"CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)"#;
    assert_eq!(ddl.as_deref(), Some(expected));
}

fn deployed_row_matches_prisma(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let r = row(&db, "20240101000000_init");
    assert!(is_uuid_v4(r[0].as_deref().unwrap()), "id {:?}", r[0]);
    assert_eq!(r[1], Some(checksum_of(INIT)));
    assert_eq!(
        r[2..9],
        [
            s("20240101000000_init"),
            None,
            s("1"),
            s("set"),
            s("null"),
            s("set"),
            s("yes")
        ]
    );
    if kind == Kind::Sqlite {
        let types = db.rows("SELECT typeof(started_at), typeof(finished_at), CAST(started_at AS TEXT) FROM _prisma_migrations");
        assert_eq!(types[0][..2], [s("integer"), s("integer")]);
        let millis: i64 = types[0][2].as_deref().unwrap().parse().unwrap();
        assert!(
            millis > 1_600_000_000_000,
            "Unix milliseconds, not seconds: {millis}"
        );
    }
}

fn failed_row_keeps_prismas_failed_state(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_broken", FAILING_MIDWAY)]);
    project.safemig(&db, &["deploy"]).expect(6);
    let r = row(&db, "20240101000000_broken");
    assert!(is_uuid_v4(r[0].as_deref().unwrap()));
    assert_eq!(r[1], Some(checksum_of(FAILING_MIDWAY)));
    let logs = r[3].as_deref().unwrap();
    let first_line = logs.lines().next().unwrap();
    assert!(
        first_line.starts_with("safemig journal v2: failed at statement 3 of 4: line 3: "),
        "{logs}"
    );
    assert!(first_line.contains("no_such_table"), "{logs}");
    assert_eq!(r[4..8], [s("1"), s("null"), s("null"), s("set")]);
}

fn resolved_applied_row_matches_prisma(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project
        .safemig(&db, &["resolve", "--applied", "20240101000000_init"])
        .expect(0);
    let r = row(&db, "20240101000000_init");
    assert!(is_uuid_v4(r[0].as_deref().unwrap()));
    assert_eq!(r[1], Some(checksum_of(INIT)));
    assert_eq!(
        r[3..],
        [
            s(""),
            s("0"),
            s("set"),
            s("null"),
            s("set"),
            s("yes"),
            s("yes")
        ]
    );
    assert!(!db.has_table("users"), "resolve --applied runs nothing");
}

for_each_engine!(
    history_table_has_prismas_exact_ddl,
    deployed_row_matches_prisma,
    failed_row_keeps_prismas_failed_state,
    resolved_applied_row_matches_prisma,
);
