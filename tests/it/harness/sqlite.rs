//! SQLite: a file per test in a temp dir; no server.

use std::process::Command;

use super::{Kind, TestDb, TestEngine, feed_tool, run_tool};

pub struct Sqlite;

impl TestEngine for Sqlite {
    fn create_database(&self, name: &str) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("file:{}", dir.path().join(format!("{name}.db")).display());
        TestDb {
            kind: Kind::Sqlite,
            url,
            name: name.to_string(),
            _dir: Some(dir),
        }
    }

    fn copy_database(&self, template: &TestDb, name: &str) -> TestDb {
        let copy = self.create_database(name);
        std::fs::copy(template.sqlite_path(), copy.sqlite_path()).unwrap();
        copy
    }

    fn restore_dump(&self, template: &TestDb, name: &str) -> TestDb {
        let copy = self.create_database(name);
        let dump = run_tool(
            Command::new("sqlite3")
                .arg(template.sqlite_path())
                .arg(".dump"),
        );
        feed_tool(
            Command::new("sqlite3").arg("-bail").arg(copy.sqlite_path()),
            &dump.stdout,
            "restoring a dump",
        );
        copy
    }

    fn any_url(&self, db: &TestDb) -> String {
        format!("sqlite://{}?mode=rwc", db.sqlite_path().display())
    }

    fn count_tables_sql(&self, table: &str) -> String {
        format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        )
    }

    fn schema_dump(&self, db: &TestDb) -> String {
        let out = run_tool(Command::new("sqlite3").arg(db.sqlite_path()).arg(
            "SELECT type, name, tbl_name, sql FROM sqlite_master \
                 WHERE tbl_name <> '_prisma_migrations' ORDER BY type, name",
        ));
        String::from_utf8(out.stdout).unwrap()
    }

    fn endless_statement(&self) -> &'static str {
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // Every migration runs in one transaction with its history row: nothing is left
        // half-done to inspect.
        &[]
    }
}
