//! Corpus equivalence of the splitter: for every file of `../shared/corpus/`, running its
//! statements one by one on the real engine yields the same schema as running the whole
//! file at once.

use std::path::Path;

use safemig::sql::{self, Dialect, StatementKind};
use sqlx::{AssertSqlSafe, Connection};

use crate::corpus::{corpora, migration_files};
use crate::harness::{Kind, TestDb, block_on, safemig};

fn dialect(kind: Kind) -> Dialect {
    match kind {
        Kind::Postgres => Dialect::Postgres,
        Kind::Mysql => Dialect::Mysql,
        Kind::Sqlite => Dialect::Sqlite,
    }
}

/// Sends each script as one query (one simple query, one multi-statement query, one batch).
async fn run_each(db: &TestDb, scripts: impl IntoIterator<Item = String>, what: &str) {
    let mut conn = match db.kind {
        Kind::Mysql => {
            // Server defaults for the session, as Prisma's driver leaves it.
            let options: sqlx::mysql::MySqlConnectOptions = db.url.parse().unwrap();
            let options = options
                .pipes_as_concat(false)
                .no_engine_substitution(false)
                .timezone(None);
            let conn = sqlx::MySqlConnection::connect_with(&options).await.unwrap();
            Conn::Mysql(conn)
        }
        _ => Conn::Any(db.connect().await),
    };
    for script in scripts {
        let result = match &mut conn {
            Conn::Mysql(c) => sqlx::raw_sql(AssertSqlSafe(script.clone()))
                .execute(c)
                .await
                .map(drop),
            Conn::Any(c) => sqlx::raw_sql(AssertSqlSafe(script.clone()))
                .execute(c)
                .await
                .map(drop),
        };
        result.unwrap_or_else(|e| panic!("{what}: {e}\n{script}"));
    }
}

enum Conn {
    Mysql(sqlx::MySqlConnection),
    Any(sqlx::AnyConnection),
}

fn statements_one_by_one_equal_the_whole_file(kind: Kind) {
    let (mut files, mut statements) = (0, 0);
    for (name, dir) in corpora(kind) {
        let paths = migration_files(&dir);
        let scripts: Vec<String> = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let whole = TestDb::new(kind);
        block_on(run_each(&whole, scripts.clone(), &name));

        let split = TestDb::new(kind);
        let mut pieces = Vec::new();
        for script in &scripts {
            for stmt in sql::split(script, dialect(kind)) {
                assert_ne!(
                    stmt.kind,
                    StatementKind::ClientDirective,
                    "{name}: corpus files have no DELIMITER"
                );
                pieces.push(stmt.sql.to_string());
            }
        }
        statements += pieces.len();
        files += scripts.len();
        block_on(run_each(&split, pieces, &name));

        let (a, b) = (whole.schema_dump(), split.schema_dump());
        assert!(a.len() > 100, "{name}: empty schema?");
        assert!(
            a == b,
            "{name}: statement-by-statement schema differs:\n{}",
            crate::corpus::first_difference(&a, &b)
        );
    }
    println!(
        "{kind:?}: {files} files, {statements} statements executed one by one; schemas identical"
    );
}

/// `safemig split` prints the statements for users, as text or JSON.
#[test]
fn split_command_prints_statements_with_lines_and_kinds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("migration.sql");
    std::fs::write(&file, "-- CreateTable\nCREATE TABLE a (x int);\n\nDO $$ BEGIN PERFORM 1; END $$;\nCREATE INDEX CONCURRENTLY i ON a (x)").unwrap();
    let file = file.to_str().unwrap();
    let run = safemig(
        tmp.path(),
        &["split", file, "--dialect", "postgresql", "--json"],
    )
    .expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let got: Vec<(u64, &str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["kind"].as_str().unwrap(),
                s["sql"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, "ddl", "CREATE TABLE a (x int)"),
            (4, "other", "DO $$ BEGIN PERFORM 1; END $$"),
            (5, "no_transaction", "CREATE INDEX CONCURRENTLY i ON a (x)"),
        ]
    );
    let human = safemig(tmp.path(), &["split", file, "--dialect", "postgresql"]).expect(0);
    assert!(
        human
            .stdout
            .contains("-- statement 3 of 3, line 5, no_transaction\nCREATE INDEX CONCURRENTLY"),
        "{}",
        human.stdout
    );

    // Without --dialect, the migrations folder's lock file decides; without one, an error.
    let run = safemig(tmp.path(), &["split", file]).expect(2);
    assert!(run.stderr.contains("--dialect"), "{}", run.stderr);
    let Some(corpus) = crate::harness::corpus_dir() else {
        return;
    };
    let file =
        corpus.join("slenderaac-mysql/migrations/000000000000_init_from_canary/migration.sql");
    let run = safemig(Path::new("."), &["split", file.to_str().unwrap(), "--json"]).expect(0);
    assert!(
        run.stdout
            .contains("\"sql\": \"CREATE TRIGGER `oncreate_guilds`"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
}

crate::for_each_engine!(statements_one_by_one_equal_the_whole_file);
