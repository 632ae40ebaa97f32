//! The real Prisma CLI against the same databases as safemig, on PostgreSQL and SQLite:
//! Prisma 6.19.3 (its WebAssembly schema engine behind the pg / better-sqlite3 driver
//! adapters, installed into `tests/prisma/`) and Prisma 7.10.1 (its native engine's
//! interface served by `tests/prisma7/schema-engine-standin.mjs` over the same engine built
//! to WebAssembly, installed into `tests/prisma7/`), both by `scripts/prisma-setup`; facts:
//! `../shared/prisma-offline.md`.
//!
//! Each way round, with each release: what one tool applies, the other sees as applied; one
//! tool deploys a migration and the other the next; the rows are the same column by column
//! (ids and times aside), and so are the schemas; `prisma migrate status` agrees with
//! `safemig status` (where it does not, as documented in the README); a failure under
//! each tool and what the other then says; the lock excludes the other tool; checksums of
//! awkward files agree; Prisma ≥ 6.6's folder order is the same. With Prisma 7, the config
//! files real projects write reach the same database under both tools. MySQL cannot run
//! here with any Prisma (see the facts file); its contract is checked against Prisma's
//! source in `rows.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::{INIT, POSTS, TAGS};
use crate::harness::{
    Kind, Project, Run, TestDb, corpus_dir, lock_holders, safemig_command, to_run,
};

/// A release of the Prisma CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prisma {
    /// 6.19.3: the config selects its WebAssembly engine (`engine: "js"`) and an adapter.
    V6,
    /// 7.10.1: its native engine binary, here the stand-in over the WebAssembly engine
    /// (`PRISMA_SCHEMA_ENGINE_BINARY`); the URL comes from the config's `datasource.url`.
    V7,
}

impl Prisma {
    /// Where `scripts/prisma-setup` installed it; the tests fail without it.
    fn home(self) -> PathBuf {
        let folder = match self {
            Prisma::V6 => "tests/prisma",
            Prisma::V7 => "tests/prisma7",
        };
        let home = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        assert!(
            home.join("node_modules/prisma/build/index.js").is_file()
                && home
                    .join("node_modules/better-sqlite3/build/Release/better_sqlite3.node")
                    .is_file(),
            "the real Prisma CLI ({self:?}) is not installed in {}: run scripts/prisma-setup (scripts/test does)",
            home.display()
        );
        home
    }

    /// The datasource block: Prisma 7 refuses a URL in the schema (P1012).
    fn schema(self, kind: Kind) -> String {
        let provider = kind.lock_name();
        match self {
            Prisma::V6 => format!(
                "datasource db {{\n  provider = \"{provider}\"\n  url      = env(\"DATABASE_URL\")\n}}\n"
            ),
            Prisma::V7 => format!("datasource db {{\n  provider = \"{provider}\"\n}}\n"),
        }
    }

    /// The config file. Prisma 6's selects the WebAssembly engine over a driver adapter,
    /// made to behave as Prisma's native engine does: one connection, the whole script in
    /// one simple query, PostgreSQL `name` columns read as text (adapter-pg 6.x cannot read
    /// them). Prisma 7's is what a project writes; the stand-in does the rest.
    fn config(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Prisma::V7, _) => {
                r#"import { defineConfig, env } from "prisma/config";

export default defineConfig({
  schema: "schema.prisma",
  datasource: { url: env("DATABASE_URL") },
});
"#
            }
            (Prisma::V6, Kind::Postgres) => {
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
            (Prisma::V6, Kind::Sqlite) => {
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
            (_, Kind::Mysql) => unreachable!("no Prisma runs MySQL here"),
        }
    }

    /// The Prisma CLI in `dir`, with `DATABASE_URL` set to `url` when given.
    fn command(self, dir: &Path, url: Option<&str>, args: &[&str]) -> Command {
        let engine = dir.join("no-engine");
        std::fs::write(&engine, "").unwrap();
        let home = self.home();
        let mut cmd = Command::new("node");
        cmd.arg(home.join("node_modules/prisma/build/index.js"))
            .args(args)
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            // Without it every command tries to download engines; any existing file will do.
            .env("PRISMA_QUERY_ENGINE_LIBRARY", &engine)
            .env("PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("PRISMA_HIDE_UPDATE_MESSAGE", "1");
        if self == Prisma::V7 {
            cmd.env(
                "PRISMA_SCHEMA_ENGINE_BINARY",
                home.join("schema-engine-standin.mjs"),
            );
        }
        if let Some(url) = url {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    /// What `prisma migrate status` says of a migration whose only rows are rolled back:
    /// Prisma 6 calls the database up to date (exit 0) although `migrate deploy` applies
    /// the migration again; Prisma 7 lists it as not yet applied (exit 1).
    fn status_of_rolled_back(self) -> (i32, &'static str) {
        match self {
            Prisma::V6 => (0, "Database schema is up to date!"),
            Prisma::V7 => (1, "Following migration have not yet been applied"),
        }
    }
}

/// A safemig test project made a Prisma project too: a schema beside the migrations, the
/// config, and Prisma's packages.
fn prisma_project(kind: Kind, prisma: Prisma, migrations: &[(&str, &str)]) -> Project {
    let project = Project::new(kind, migrations);
    make_prisma_project(&project, kind, prisma);
    project
}

fn make_prisma_project(project: &Project, kind: Kind, prisma: Prisma) {
    let dir = project.dir.path();
    std::fs::write(dir.join("schema.prisma"), prisma.schema(kind)).unwrap();
    std::fs::write(dir.join("prisma.config.ts"), prisma.config(kind)).unwrap();
    std::os::unix::fs::symlink(prisma.home().join("node_modules"), dir.join("node_modules"))
        .unwrap();
}

/// Runs the Prisma CLI (`migrate deploy`, `migrate status`, …) in the project on `db`
/// (better-sqlite3 opens the path after `file:`).
fn prisma(prisma: Prisma, project: &Project, db: &TestDb, args: &[&str]) -> Run {
    to_run(
        prisma
            .command(project.dir.path(), Some(&db.url), args)
            .output()
            .unwrap(),
    )
}

fn spawn_prisma(prisma: Prisma, project: &Project, db: &TestDb, args: &[&str]) -> Child {
    prisma
        .command(project.dir.path(), Some(&db.url), args)
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

/// Whether someone holds the migration lock on `db` (Prisma's and safemig's are the same).
fn lock_is_held(db: &TestDb) -> bool {
    match db.kind {
        Kind::Postgres => {
            db.scalar(
                "SELECT CAST(COUNT(*) AS TEXT) FROM pg_locks WHERE locktype = 'advisory' \
                 AND objid = 72707369 AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .as_deref()
                == Some("1")
        }
        _ => !lock_holders(&db.sqlite_path()).is_empty(),
    }
}

/// Waits (up to a minute) until `done` says yes, however loaded the machine is.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "waited a minute for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real history of the engine from the corpus, with the same file set in both tools.
fn corpus_project(kind: Kind, prisma: Prisma) -> Option<Project> {
    // (pingvin-share's files use double-quoted string literals, which better-sqlite3's
    // default build rejects and Prisma's native engine accepts.)
    let name = match kind {
        Kind::Postgres => "evolution-api-postgresql",
        _ => "anything-llm-sqlite",
    };
    let project = Project::from_corpus(name)?;
    make_prisma_project(&project, kind, prisma);
    Some(project)
}

/// Prisma applies a real history; safemig sees it up to date and has nothing to do. And
/// the other way round. The rows the two write are the same, and so are the schemas.
fn each_reads_the_others_history(kind: Kind, version: Prisma) {
    // The interop suite replays a corpus history: missing outside CI, a notice (CI fails).
    if corpus_dir().is_none() {
        return;
    }
    let project = corpus_project(kind, version).unwrap();
    let by_prisma = TestDb::new(kind);
    let run = prisma(version, &project, &by_prisma, &["migrate", "deploy"]);
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
    let run = prisma(version, &project, &by_safemig, &["migrate", "status"]);
    assert_eq!(run.code, 0, "prisma migrate status: {run:?}");
    assert!(
        run.stdout.contains("Database schema is up to date!"),
        "{}",
        run.stdout
    );
    let run = prisma(version, &project, &by_safemig, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("No pending migrations to apply."),
        "{}",
        run.stdout
    );

    assert_eq!(rows(&by_safemig), rows(&by_prisma));
    assert_eq!(by_safemig.schema_dump(), by_prisma.schema_dump());
}

/// One tool deploys a migration, the other the next, in turn, starting with either: the
/// rows and the schema are those of a database one tool deployed alone.
fn each_deploys_the_next_migration(kind: Kind, version: Prisma) {
    let migrations = [
        ("20240101000000_init", INIT),
        ("20240102000000_posts", POSTS),
        ("20240103000000_tags", TAGS),
        (
            "20240104000000_email_index",
            "CREATE UNIQUE INDEX users_email_key ON users (email);\n",
        ),
    ];
    let alone = TestDb::new(kind);
    prisma_project(kind, version, &migrations)
        .safemig(&alone, &["deploy"])
        .expect(0);
    for prisma_first in [true, false] {
        let project = prisma_project(kind, version, &[]);
        let db = TestDb::new(kind);
        for (i, (name, sql)) in migrations.iter().enumerate() {
            project.write(name, sql);
            if (i % 2 == 0) == prisma_first {
                let run = prisma(version, &project, &db, &["migrate", "deploy"]);
                assert_eq!(run.code, 0, "{run:?}");
                assert!(run.stdout.contains(name), "{}", run.stdout);
            } else {
                let run = project.safemig(&db, &["deploy"]).expect(0);
                assert!(
                    run.stdout.contains(&format!("Applied {name}")),
                    "{}",
                    run.stdout
                );
            }
        }
        assert_eq!(rows(&db), rows(&alone), "Prisma first: {prisma_first}");
        assert_eq!(db.schema_dump(), alone.schema_dump());
        project.safemig(&db, &["status"]).expect(0);
    }
}

/// `prisma migrate status` and `safemig status` on the same histories: everything
/// applied, a migration pending, a failed migration, a migration only rolled back. They
/// agree, except that Prisma 6 calls the last up to date (the README says so).
fn status_agrees_with_prisma_migrate_status(kind: Kind, version: Prisma) {
    let project = prisma_project(kind, version, &[("20240101000000_init", INIT)]);
    let db = TestDb::new(kind);
    let both = |safemig_code: i32, prisma_code: i32, prisma_says: &str| {
        project.safemig(&db, &["status"]).expect(safemig_code);
        let run = prisma(version, &project, &db, &["migrate", "status"]);
        assert_eq!(run.code, prisma_code, "{run:?}");
        assert!(
            run.stdout.contains(prisma_says) || run.stderr.contains(prisma_says),
            "expected {prisma_says:?}: {run:?}"
        );
    };
    project.safemig(&db, &["deploy"]).expect(0);
    both(0, 0, "Database schema is up to date!");
    project.write("20240102000000_posts", POSTS);
    both(8, 1, "Following migration have not yet been applied");
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    both(0, 0, "Database schema is up to date!");
    project.write(
        "20240103000000_broken",
        "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
    assert_ne!(run.code, 0, "{run:?}");
    both(5, 1, "Following migration have failed");
    // (Prisma 6's `migrate resolve` needs the native engine binary, which no package has.)
    project
        .safemig(&db, &["resolve", "--rolled-back", "20240103000000_broken"])
        .expect(0);
    let (code, says) = version.status_of_rolled_back();
    both(8, code, says);
}

/// Files whose checksums are easy to get wrong: both tools store the same checksum, and
/// each accepts the other's.
///
/// Except that Prisma 7 sends a script with its byte order mark (its native engine strips
/// nothing, and the stand-in sends the text as that engine would), which PostgreSQL
/// rejects (`syntax error at or near "\u{feff}CREATE"`); Prisma 6's stock adapter trimmed it
/// and safemig strips it. There Prisma 7 gets such a file apart, and fails on it having
/// stored the same checksum in its failed row.
fn awkward_files_have_the_same_checksums(kind: Kind, version: Prisma) {
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
    let bom_rejected = version == Prisma::V7 && kind == Kind::Postgres;
    let (rejected, accepted): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|(_, bytes)| bom_rejected && bytes.starts_with("\u{feff}".as_bytes()));
    let project_of = |files: &[(&str, Vec<u8>)]| {
        let project = prisma_project(kind, version, &[]);
        for (name, bytes) in files {
            let dir = project.migrations().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("migration.sql"), bytes).unwrap();
        }
        project
    };
    let project = project_of(&accepted);
    let by_prisma = TestDb::new(kind);
    let run = prisma(version, &project, &by_prisma, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    let by_safemig = TestDb::new(kind);
    project.safemig(&by_safemig, &["deploy"]).expect(0);
    assert_eq!(rows(&by_safemig), rows(&by_prisma));
    project.safemig(&by_prisma, &["status"]).expect(0);
    let run = prisma(version, &project, &by_safemig, &["migrate", "status"]);
    assert_eq!(run.code, 0, "{run:?}");

    for file in &rejected {
        let project = project_of(std::slice::from_ref(file));
        let by_prisma = TestDb::new(kind);
        let run = prisma(version, &project, &by_prisma, &["migrate", "deploy"]);
        assert!(
            run.code == 1 && run.stderr.contains("syntax error at or near"),
            "{run:?}"
        );
        let by_safemig = TestDb::new(kind);
        project.safemig(&by_safemig, &["deploy"]).expect(0);
        let checksum = |db: &TestDb| db.scalar("SELECT checksum FROM _prisma_migrations");
        assert_eq!(checksum(&by_prisma), checksum(&by_safemig), "{}", file.0);
    }
}

/// Prisma ≥ 6.6's order: `20240101_manual` before `20240101120000_auto` (the second needs
/// the first). Both tools apply them in that order.
fn both_apply_prisma_6_6s_folder_order(kind: Kind, version: Prisma) {
    let migrations = [
        ("20240101_manual", "CREATE TABLE manual (id INTEGER);\n"),
        (
            "20240101120000_auto",
            "ALTER TABLE manual ADD COLUMN auto INTEGER;\n",
        ),
    ];
    let project = prisma_project(kind, version, &migrations);
    let by_prisma = TestDb::new(kind);
    let run = prisma(version, &project, &by_prisma, &["migrate", "deploy"]);
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
/// A migration fails under safemig: a rolled-back attempt, which Prisma applies again once
/// fixed (its `migrate status` meanwhile: [`Prisma::status_of_rolled_back`]).
fn a_failure_under_each_tool_and_what_the_other_says(kind: Kind, version: Prisma) {
    let broken = "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n";
    let fixed = "CREATE TABLE fixed (id INTEGER);\n";
    let project = prisma_project(
        kind,
        version,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", broken),
        ],
    );
    let db = TestDb::new(kind);
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
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
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
    assert_eq!(run.code, 0, "{run:?}");
    project.safemig(&db, &["status"]).expect(0);

    let db = TestDb::new(kind);
    project.write("20240102000000_broken", broken);
    project.safemig(&db, &["deploy"]).expect(6);
    let run = prisma(version, &project, &db, &["migrate", "status"]);
    let (code, says) = version.status_of_rolled_back();
    assert_eq!(run.code, code, "{run:?}");
    assert!(run.stdout.contains(says), "{}", run.stdout);
    project.write("20240102000000_broken", fixed);
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
    assert_eq!(
        run.code, 0,
        "prisma applies what safemig rolled back: {run:?}"
    );
    assert!(db.has_table("fixed") && !db.has_table("half"));
    project.safemig(&db, &["status"]).expect(0);
}

/// Each tool waits for the other's migration lock: neither applies anything while the
/// other holds it.
fn the_lock_excludes_the_other_tool(kind: Kind, version: Prisma) {
    let slow = match kind {
        Kind::Postgres => "SELECT pg_sleep(4);\nCREATE TABLE slow (id INTEGER);\n",
        _ => {
            "CREATE TABLE slow (id INTEGER);\nINSERT INTO slow SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 8000000) SELECT x FROM c);\n"
        }
    };
    let project = prisma_project(
        kind,
        version,
        &[("20240101000000_init", INIT), ("20240102000000_slow", slow)],
    );
    // Held, and still held a moment later: not a reader's passing lock.
    let held = |db: &TestDb| {
        lock_is_held(db) && {
            std::thread::sleep(Duration::from_millis(100));
            lock_is_held(db)
        }
    };

    // safemig holds the lock; Prisma, started meanwhile, finds everything applied.
    let db = TestDb::new(kind);
    let safemig = project.spawn(&db, &["deploy"]);
    wait_until("safemig to hold the lock", || held(&db));
    let run = prisma(version, &project, &db, &["migrate", "deploy"]);
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
    let prisma_run = spawn_prisma(version, &project, &db, &["migrate", "deploy"]);
    wait_until("Prisma to hold the lock", || held(&db));
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

/// safemig in the project as a user runs it: no flag, the URL from the project's config.
fn safemig_in(project: &Project, database_url: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = safemig_command(project.dir.path(), args);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    to_run(cmd.output().unwrap())
}

/// The Prisma CLI in the project with `DATABASE_URL` as given (unset for `None`).
fn prisma_in(version: Prisma, project: &Project, database_url: Option<&str>, args: &[&str]) -> Run {
    to_run(
        version
            .command(project.dir.path(), database_url, args)
            .output()
            .unwrap(),
    )
}

/// Prisma 7 deploys the project's first migration with its config; safemig, given no flag,
/// must find that database (one migration applied, one pending) and deploy the second;
/// Prisma then finds it up to date. `database_url` is `DATABASE_URL` for both tools.
fn both_reach_the_same_database(
    project: &Project,
    db: &TestDb,
    database_url: Option<&str>,
    prisma_args: &[&str],
    what: &str,
) {
    let deploy = [&["migrate", "deploy"][..], prisma_args].concat();
    let run = prisma_in(Prisma::V7, project, database_url, &deploy);
    assert_eq!(run.code, 0, "{what}: {run:?}");
    project.write("20240102000000_posts", POSTS);
    let safemig_args = |command: &'static str| [&[command][..], prisma_args].concat();
    let run = safemig_in(project, database_url, &safemig_args("status")).expect(8);
    assert!(run.stdout.contains("1 pending."), "{what}: {}", run.stdout);
    safemig_in(project, database_url, &safemig_args("deploy")).expect(0);
    let status = [&["migrate", "status"][..], prisma_args].concat();
    let run = prisma_in(Prisma::V7, project, database_url, &status);
    assert_eq!(run.code, 0, "{what}: {run:?}");
    assert_eq!(db.history().len(), 2, "{what}: {:?}", db.history());
}

/// The config files real Prisma 7 projects write (a non-null assertion, a `const` by
/// shorthand, a default after `??` or `||`, a `.env` loaded by `import "dotenv/config"`):
/// Prisma 7.10.1 and safemig reach the same database with each.
fn config_forms_reach_the_same_database(kind: Kind) {
    let elsewhere = match kind {
        Kind::Postgres => "postgresql://nobody@127.0.0.1:1/elsewhere",
        _ => "file:/nonexistent/elsewhere.db",
    };
    // (what, prelude, datasource, DATABASE_URL, ./.env): `{db}` is the database's URL.
    let cases = [
        (
            "a non-null assertion",
            "",
            "url: process.env.DATABASE_URL!",
            Some("{db}"),
            None,
        ),
        (
            "a const by shorthand",
            "const url = env(\"DATABASE_URL\");",
            "url",
            Some("{db}"),
            None,
        ),
        (
            "?? with the variable unset",
            "",
            "url: process.env.DATABASE_URL ?? \"{db}\"",
            None,
            None,
        ),
        (
            "?? with the variable set",
            "",
            "url: process.env.DATABASE_URL ?? \"{elsewhere}\"",
            Some("{db}"),
            None,
        ),
        (
            "|| with the variable empty",
            "",
            "url: process.env.DATABASE_URL || \"{db}\"",
            Some(""),
            None,
        ),
        (
            "dotenv/config loading ./.env",
            "import \"dotenv/config\";",
            "url: env(\"DATABASE_URL\")",
            None,
            Some("DATABASE_URL=\"{db}\"\n"),
        ),
    ];
    for (what, prelude, datasource, database_url, env_file) in cases {
        let project = prisma_project(kind, Prisma::V7, &[("20240101000000_init", INIT)]);
        let db = TestDb::new(kind);
        let fill = |text: &str| {
            text.replace("{db}", &db.url)
                .replace("{elsewhere}", elsewhere)
        };
        std::fs::write(
            project.dir.path().join("prisma.config.ts"),
            format!(
                "{prelude}\nimport {{ defineConfig, env }} from \"prisma/config\";\n\
                 export default defineConfig({{ schema: \"schema.prisma\", datasource: {{ {} }} }});\n",
                fill(datasource)
            ),
        )
        .unwrap();
        if let Some(text) = env_file {
            std::fs::write(project.dir.path().join(".env"), fill(text)).unwrap();
        }
        let database_url = database_url.map(fill);
        both_reach_the_same_database(&project, &db, database_url.as_deref(), &[], what);
    }
}

/// Where Prisma 7.10.1 opens a relative SQLite path (`file:./dev.db`) of a config in
/// `.config/prisma.ts`, measured here: its CLI starts the schema engine in the `--config`
/// file's folder, else in its own working directory (`cwd: baseDir`, with `baseDir` the
/// `--config` file's folder or `process.cwd()`, in prisma/build/cli.js), and the engine
/// opens the path from there. So a config it finds puts the database in the project
/// folder, one `--config` names puts it beside the config. safemig opens it where Prisma
/// does in both cases (its own test: `layouts::relative_sqlite_paths_of_a_config_in_dot_config`).
fn relative_sqlite_path_of_a_config_in_dot_config(kind: Kind) {
    assert_eq!(kind, Kind::Sqlite);
    for (named, database) in [(false, "dev.db"), (true, ".config/dev.db")] {
        let project = prisma_project(kind, Prisma::V7, &[("20240101000000_init", INIT)]);
        let dir = project.dir.path();
        std::fs::remove_file(dir.join("prisma.config.ts")).unwrap();
        std::fs::create_dir(dir.join(".config")).unwrap();
        std::fs::write(
            dir.join(".config/prisma.ts"),
            "import { defineConfig } from \"prisma/config\";\n\
             export default defineConfig({ schema: \"../schema.prisma\", datasource: { url: \"file:./dev.db\" } });\n",
        )
        .unwrap();
        let db = TestDb::sqlite_file(&dir.join(database));
        let args: &[&str] = if named {
            &["--config", ".config/prisma.ts"]
        } else {
            &[]
        };
        both_reach_the_same_database(&project, &db, None, args, database);
        let other = if named { "dev.db" } else { ".config/dev.db" };
        assert!(!dir.join(other).exists(), "{database}: {other} was created");
    }
}

/// One test per engine Prisma runs here and per Prisma release.
macro_rules! for_each_prisma {
    ($($name:ident),* $(,)?) => {
        mod prisma6 {
            crate::for_each_engine_but_mysql!($($name),*);
            $( fn $name(kind: crate::harness::Kind) { super::$name(kind, super::Prisma::V6) } )*
        }
        mod prisma7 {
            crate::for_each_engine_but_mysql!($($name),*);
            $( fn $name(kind: crate::harness::Kind) { super::$name(kind, super::Prisma::V7) } )*
        }
    };
}

for_each_prisma!(
    each_reads_the_others_history,
    each_deploys_the_next_migration,
    status_agrees_with_prisma_migrate_status,
    awkward_files_have_the_same_checksums,
    both_apply_prisma_6_6s_folder_order,
    a_failure_under_each_tool_and_what_the_other_says,
    the_lock_excludes_the_other_tool,
);

mod prisma7_config {
    crate::for_each_engine_but_mysql!(config_forms_reach_the_same_database);
    fn config_forms_reach_the_same_database(kind: crate::harness::Kind) {
        super::config_forms_reach_the_same_database(kind)
    }

    #[test]
    fn relative_sqlite_path_of_a_config_in_dot_config() {
        super::relative_sqlite_path_of_a_config_in_dot_config(crate::harness::Kind::Sqlite)
    }
}
