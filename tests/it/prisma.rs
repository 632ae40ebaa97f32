//! The real Prisma CLI against the same databases as safemig: Prisma 6.19 with its
//! WebAssembly schema engine and the pg / better-sqlite3 driver adapters, installed by
//! `scripts/prisma-setup` into `tests/prisma/` (facts: `../shared/prisma-offline.md`).
//!
//! Each way round, on PostgreSQL and SQLite: what one tool applies, the other sees as
//! applied; the rows are the same column by column (ids and times aside); a failure under
//! each tool and what the other then says; the lock excludes the other tool; checksums of
//! awkward files agree; Prisma ≥ 6.6's folder order is the same. MySQL cannot run here with
//! any Prisma (see the facts file); its contract is checked against Prisma's source in
//! `rows.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::deploy::INIT;
use crate::harness::{Kind, Project, Run, TestDb, corpus_dir, to_run};

/// Where `scripts/prisma-setup` installed Prisma; the tests fail without it.
fn prisma_home() -> PathBuf {
    let home = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prisma");
    assert!(
        home.join("node_modules/prisma/build/index.js").is_file()
            && home
                .join("node_modules/better-sqlite3/build/Release/better_sqlite3.node")
                .is_file(),
        "the real Prisma CLI is not installed in {}: run scripts/prisma-setup (scripts/test does)",
        home.display()
    );
    home
}

/// Prisma's config for the tests: its WebAssembly schema engine over a driver adapter,
/// made to behave as Prisma's native engine does — one connection, the whole script in one
/// simple query, PostgreSQL `name` columns read as text (adapter-pg 6.x cannot read them).
fn prisma_config(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            r#"import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: "schema.prisma",
  async adapter() {
    const factory = new PrismaPg({ connectionString: process.env.DATABASE_URL, max: 1, idleTimeoutMillis: 100 });
    const connect = factory.connect.bind(factory);
    factory.connect = async () => {
      const adapter: any = await connect();
      const performIO = adapter.performIO.bind(adapter);
      adapter.performIO = async (query: any) => {
        const result = await performIO(query);
        for (const field of result.fields) if (field.dataTypeID === 19) field.dataTypeID = 25;
        return result;
      };
      // The stock adapter trims each piece, dropping a leading byte order mark; so here.
      adapter.executeScript = async (script: string) => {
        try { await adapter.client.query(script.replace(/^\uFEFF/, "")); } catch (error) { adapter.onError(error); }
      };
      return adapter;
    };
    return factory;
  },
});
"#
        }
        Kind::Sqlite => {
            r#"import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: "schema.prisma",
  async adapter() {
    return new PrismaBetterSQLite3({ url: process.env.DATABASE_URL }, { timestampFormat: "unixepoch-ms" });
  },
});
"#
        }
        Kind::Mysql => unreachable!("no Prisma runs MySQL here"),
    }
}

/// A safemig test project made a Prisma project too: a schema beside the migrations, the
/// config, and Prisma's packages.
fn prisma_project(kind: Kind, migrations: &[(&str, &str)]) -> Project {
    let project = Project::new(kind, migrations);
    make_prisma_project(&project, kind);
    project
}

fn make_prisma_project(project: &Project, kind: Kind) {
    let provider = kind.lock_name();
    std::fs::write(
        project.dir.path().join("schema.prisma"),
        format!("datasource db {{\n  provider = \"{provider}\"\n  url      = env(\"DATABASE_URL\")\n}}\n"),
    )
    .unwrap();
    std::fs::write(
        project.dir.path().join("prisma.config.ts"),
        prisma_config(kind),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        prisma_home().join("node_modules"),
        project.dir.path().join("node_modules"),
    )
    .unwrap();
}

/// The URL the adapter takes: better-sqlite3 opens the path after `file:`.
fn prisma_url(db: &TestDb) -> String {
    db.url.clone()
}

fn prisma_command(project: &Project, db: &TestDb, args: &[&str]) -> Command {
    let engine = project.dir.path().join("no-engine");
    std::fs::write(&engine, "").unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(prisma_home().join("node_modules/prisma/build/index.js"))
        .args(args)
        .current_dir(project.dir.path())
        .env("DATABASE_URL", prisma_url(db))
        // Without it every command tries to download engines; any existing file will do.
        .env("PRISMA_QUERY_ENGINE_LIBRARY", &engine)
        .env("PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("PRISMA_HIDE_UPDATE_MESSAGE", "1");
    cmd
}

/// Runs the Prisma CLI (`migrate deploy`, `migrate status`, …) in the project.
fn prisma(project: &Project, db: &TestDb, args: &[&str]) -> Run {
    to_run(prisma_command(project, db, args).output().unwrap())
}

fn spawn_prisma(project: &Project, db: &TestDb, args: &[&str]) -> Child {
    prisma_command(project, db, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The history as both tools must write it: name, checksum, finished, logs, rolled back,
/// steps, in the order applied; ids and times aside.
fn rows(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.rows(
        "SELECT migration_name, checksum, \
                CASE WHEN finished_at IS NULL THEN 'no' ELSE 'yes' END, logs, \
                CASE WHEN rolled_back_at IS NULL THEN 'no' ELSE 'yes' END, \
                CAST(applied_steps_count AS TEXT) \
         FROM _prisma_migrations ORDER BY started_at, migration_name",
    )
}

/// A real history of the engine from the corpus, with the same file set in both tools.
fn corpus_project(kind: Kind) -> Option<Project> {
    // (pingvin-share's files use double-quoted string literals, which better-sqlite3's
    // default build rejects and Prisma's native engine accepts.)
    let name = match kind {
        Kind::Postgres => "evolution-api-postgresql",
        _ => "anything-llm-sqlite",
    };
    let project = Project::from_corpus(name)?;
    make_prisma_project(&project, kind);
    Some(project)
}

/// Prisma applies a real history; safemig sees it up to date and has nothing to do. And
/// the other way round. The rows the two write are the same.
fn each_reads_the_others_history(kind: Kind) {
    corpus_dir().expect("the interop suite replays a corpus history");
    let project = corpus_project(kind).unwrap();
    let by_prisma = TestDb::new(kind);
    let run = prisma(&project, &by_prisma, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "prisma migrate deploy: {run:?}");
    project.safemig(&by_prisma, &["status"]).expect(0);
    let run = project.safemig(&by_prisma, &["deploy"]).expect(0);
    assert!(
        run.stdout.contains("No pending migrations"),
        "{}",
        run.stdout
    );

    let by_safemig = TestDb::new(kind);
    project.safemig(&by_safemig, &["deploy"]).expect(0);
    let run = prisma(&project, &by_safemig, &["migrate", "status"]);
    assert_eq!(run.code, 0, "prisma migrate status: {run:?}");
    assert!(
        run.stdout.contains("Database schema is up to date!"),
        "{}",
        run.stdout
    );
    let run = prisma(&project, &by_safemig, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("No pending migrations to apply."),
        "{}",
        run.stdout
    );

    assert_eq!(rows(&by_safemig), rows(&by_prisma));
    assert_eq!(by_safemig.schema_dump(), by_prisma.schema_dump());
}

/// Files whose checksums are easy to get wrong: both tools store the same checksum, and
/// each accepts the other's.
fn awkward_files_have_the_same_checksums(kind: Kind) {
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "20240101000000_crlf",
            b"CREATE TABLE crlf (id INTEGER);\r\n".to_vec(),
        ),
        (
            "20240102000000_bom",
            "\u{feff}CREATE TABLE bom (id INTEGER);\n".into(),
        ),
        (
            "20240103000000_bom_crlf",
            "\u{feff}CREATE TABLE bom_crlf (id INTEGER);\r\n".into(),
        ),
        (
            "20240104000000_non_ascii",
            "-- Données, 数据, ✓\nCREATE TABLE non_ascii (name VARCHAR(20) DEFAULT 'é');\n".into(),
        ),
        (
            "20240105000000_no_newline",
            b"CREATE TABLE no_newline (id INTEGER);".to_vec(),
        ),
        (
            "20240106000000_not_utf8",
            b"-- caf\xe9 (Latin-1)\nCREATE TABLE not_utf8 (id INTEGER);\n".to_vec(),
        ),
    ];
    let project = prisma_project(kind, &[]);
    for (name, bytes) in &files {
        let dir = project.migrations().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("migration.sql"), bytes).unwrap();
    }
    let by_prisma = TestDb::new(kind);
    let run = prisma(&project, &by_prisma, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    let by_safemig = TestDb::new(kind);
    project.safemig(&by_safemig, &["deploy"]).expect(0);
    assert_eq!(rows(&by_safemig), rows(&by_prisma));
    project.safemig(&by_prisma, &["status"]).expect(0);
    let run = prisma(&project, &by_safemig, &["migrate", "status"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// Prisma ≥ 6.6's order: `20240101_manual` before `20240101120000_auto` (the second needs
/// the first). Both tools apply them in that order.
fn both_apply_prisma_6_6s_folder_order(kind: Kind) {
    let migrations = [
        ("20240101_manual", "CREATE TABLE manual (id INTEGER);\n"),
        (
            "20240101120000_auto",
            "ALTER TABLE manual ADD COLUMN auto INTEGER;\n",
        ),
    ];
    let project = prisma_project(kind, &migrations);
    let by_prisma = TestDb::new(kind);
    let run = prisma(&project, &by_prisma, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    let by_safemig = TestDb::new(kind);
    project.safemig(&by_safemig, &["deploy"]).expect(0);
    assert_eq!(rows(&by_safemig), rows(&by_prisma));
    let order: Vec<String> = rows(&by_prisma)
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(order, ["20240101_manual", "20240101120000_auto"]);
}

/// A migration fails under Prisma: a failed row, which safemig reports and refuses to
/// deploy past (P3009), as Prisma does; resolved with safemig and fixed, Prisma applies it.
/// A migration fails under safemig: a rolled-back attempt, which Prisma ignores (its
/// `migrate status` even calls the database up to date: a documented difference); fixed,
/// Prisma applies it.
fn a_failure_under_each_tool_and_what_the_other_says(kind: Kind) {
    let broken = "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n";
    let fixed = "CREATE TABLE fixed (id INTEGER);\n";
    let project = prisma_project(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", broken),
        ],
    );
    let db = TestDb::new(kind);
    let run = prisma(&project, &db, &["migrate", "deploy"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    let report = crate::status::status_json(&project, &db, 5);
    assert_eq!(report["migrations"][1]["state"], "failed", "{report}");
    let run = project.safemig(&db, &["deploy"]).expect(5);
    assert!(run.stderr.contains("P3009"), "{}", run.stderr);
    project
        .safemig(&db, &["resolve", "--rolled-back", "20240102000000_broken"])
        .expect(0);
    project.write("20240102000000_broken", fixed);
    let run = prisma(&project, &db, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    project.safemig(&db, &["status"]).expect(0);

    let db = TestDb::new(kind);
    project.write("20240102000000_broken", broken);
    project.safemig(&db, &["deploy"]).expect(6);
    let run = prisma(&project, &db, &["migrate", "status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Database schema is up to date!"),
        "{}",
        run.stdout
    );
    project.write("20240102000000_broken", fixed);
    let run = prisma(&project, &db, &["migrate", "deploy"]);
    assert_eq!(
        run.code, 0,
        "prisma applies what safemig rolled back: {run:?}"
    );
    assert!(db.has_table("fixed") && !db.has_table("half"));
    project.safemig(&db, &["status"]).expect(0);
}

/// Each tool waits for the other's migration lock: neither applies anything while the
/// other holds it.
fn the_lock_excludes_the_other_tool(kind: Kind) {
    let slow = match kind {
        Kind::Postgres => "SELECT pg_sleep(4);\nCREATE TABLE slow (id INTEGER);\n",
        _ => {
            "CREATE TABLE slow (id INTEGER);\nINSERT INTO slow SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 8000000) SELECT x FROM c);\n"
        }
    };
    let project = prisma_project(
        kind,
        &[("20240101000000_init", INIT), ("20240102000000_slow", slow)],
    );

    // safemig holds the lock; Prisma, started meanwhile, finds everything applied.
    let db = TestDb::new(kind);
    let safemig = project.spawn(&db, &["deploy"]);
    std::thread::sleep(Duration::from_millis(1500));
    let run = prisma(&project, &db, &["migrate", "deploy"]);
    let safemig = to_run(safemig.wait_with_output().unwrap()).expect(0);
    assert!(
        safemig.stdout.contains("Applied 20240102000000_slow"),
        "{}",
        safemig.stdout
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("No pending migrations to apply."),
        "{run:?}"
    );

    // Prisma holds the lock; safemig, started meanwhile, waits and finds nothing to do.
    let db = TestDb::new(kind);
    let prisma_run = spawn_prisma(&project, &db, &["migrate", "deploy"]);
    std::thread::sleep(Duration::from_millis(5000));
    let run = project
        .safemig(&db, &["deploy", "--lock-timeout", "60"])
        .expect(0);
    let prisma_run = to_run(prisma_run.wait_with_output().unwrap());
    assert_eq!(prisma_run.code, 0, "{prisma_run:?}");
    assert!(
        run.stdout.contains("No pending migrations"),
        "{}",
        run.stdout
    );
    assert_eq!(
        db.history().len(),
        2,
        "each migration applied once: {:?}",
        db.history()
    );
}

crate::for_each_engine_but_mysql!(
    each_reads_the_others_history,
    awkward_files_have_the_same_checksums,
    both_apply_prisma_6_6s_folder_order,
    a_failure_under_each_tool_and_what_the_other_says,
    the_lock_excludes_the_other_tool,
);
