//! `safemig drift` and `safemig snapshot` end to end, on every engine: the database against
//! the migrations folder (replayed into a scratch database, then from the cache; every
//! corpus history with no drift), against
//! another database (staging against production) and against a snapshot; the scratch
//! database is dropped after success, failure, SIGTERM and SIGINT; drift writes nothing to
//! the databases it compares.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::corpus::{apply_with_engine_client, corpora, deployed_by_safemig, migration_files};
use crate::deploy::{BROKEN, INIT, POSTS};
use crate::for_each_engine;
use crate::harness::{Kind, PASSWORD, Project, Run, TestDb, safemig_command, to_run};

/// Exit code of drift found.
pub(crate) const DRIFT: i32 = 14;

/// `safemig drift -v ARGS` with the project's own replay cache.
pub(crate) fn drift(project: &Project, db: &TestDb, args: &[&str]) -> Run {
    let output = drift_command(project, db, args)
        .output()
        .expect("running safemig drift");
    to_run(output)
}

fn drift_command(project: &Project, db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut full = vec!["drift", "-v"];
    full.extend(args);
    let mut command = project.command(db, &full);
    command.env("SAFEMIG_CACHE_DIR", project.dir.path().join("cache"));
    command
}

pub(crate) fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The scratch database a verbose drift names on stderr.
fn scratch_of(stderr: &str) -> String {
    let at = stderr
        .find("safemig_drift_")
        .unwrap_or_else(|| panic!("no scratch database named in:\n{stderr}"));
    stderr[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn scratch_exists(db: &TestDb, name: &str) -> bool {
    let count = match db.kind {
        Kind::Postgres => db.scalar(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM pg_database WHERE datname = '{name}'"
        )),
        Kind::Mysql => db.scalar(&format!(
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
        )),
        Kind::Sqlite => {
            return std::env::temp_dir().join(format!("{name}.db")).exists();
        }
    };
    count.as_deref() != Some("0")
}

/// `(change, kind, name)` of every schema difference in a JSON report.
pub(crate) fn differences(report: &Value) -> Vec<(String, String, String)> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let text = |v: &Value| v.as_str().unwrap().to_string();
            (
                text(&d["change"]),
                text(&d["object"]["kind"]),
                text(&d["object"]["name"]),
            )
        })
        .collect()
}

fn d(change: &str, kind: &str, name: &str) -> (String, String, String) {
    (change.into(), kind.into(), name.into())
}

/// The folder replayed once, then read from the cache; a hand-made change is found with
/// its object and the migration that last names it; a snapshot taken before a second
/// change shows only that change.
fn against_the_folder_and_a_snapshot(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);

    let first = drift(&project, &db, &[]).expect(0);
    assert!(
        first
            .stdout
            .contains("No drift: the same schema and history."),
        "{}",
        first.stdout
    );
    assert!(!scratch_exists(&db, &scratch_of(&first.stderr)));
    let second = json(&drift(&project, &db, &["--json"]).expect(0));
    assert_eq!(second["verdict"], "same");
    assert_eq!(second["right"]["cached"], true, "{second}");
    assert!(second["compared"].as_u64().unwrap() >= 5, "{second}");

    db.exec("ALTER TABLE posts ADD COLUMN body VARCHAR(20)");
    let changed = drift(&project, &db, &[]).expect(DRIFT);
    assert!(
        changed
            .stdout
            .contains("column `posts.body`: only in the database"),
        "{}",
        changed.stdout
    );
    let report = json(&drift(&project, &db, &["--json"]).expect(DRIFT));
    assert_eq!(report["verdict"], "different_schema");
    assert_eq!(
        differences(&report),
        vec![d("extra", "column", "posts.body")]
    );
    assert_eq!(report["history"], serde_json::json!([]));

    let snapshot = project.dir.path().join("before.json");
    project
        .safemig(&db, &["snapshot", "--output", snapshot.to_str().unwrap()])
        .expect(0);
    // MySQL's index names are per table; so are the objects its introspector reports.
    let (drop_index, index) = match kind {
        Kind::Mysql => (
            "DROP INDEX posts_user_id_idx ON posts",
            "posts.posts_user_id_idx",
        ),
        _ => ("DROP INDEX posts_user_id_idx", "posts_user_id_idx"),
    };
    db.exec(drop_index);
    let since = json(
        &drift(
            &project,
            &db,
            &["--json", "--against", snapshot.to_str().unwrap()],
        )
        .expect(DRIFT),
    );
    assert_eq!(differences(&since), vec![d("missing", "index", index)]);
    assert_eq!(
        since["differences"][0]["last_migration"], "20240102000000_posts",
        "{since}"
    );
}

/// Staging and production deployed from the same folder, except that one migration went
/// to production under another name; production was then changed by hand. Both the schema
/// and the history drift are reported.
fn staging_against_production(kind: Kind) {
    let staging = TestDb::new(kind);
    let production = TestDb::new(kind);
    let tags = "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));\n";
    let staging_folder = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
            ("20240103000000_tags", tags),
        ],
    );
    let production_folder = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
            ("20240103000000_add_tags", tags),
        ],
    );
    staging_folder.safemig(&staging, &["deploy"]).expect(0);
    production_folder
        .safemig(&production, &["deploy"])
        .expect(0);
    production.exec("ALTER TABLE tags ADD COLUMN color VARCHAR(7)");

    let run = drift(
        &staging_folder,
        &production,
        &["--json", "--against", &staging.url],
    )
    .expect(DRIFT);
    let report = json(&run);
    assert_eq!(report["verdict"], "different_schema");
    assert_eq!(
        differences(&report),
        vec![d("extra", "column", "tags.color")]
    );
    assert_eq!(
        report["history"],
        serde_json::json!([
            {"change": "only_left", "migration": "20240103000000_add_tags"},
            {"change": "only_right", "migration": "20240103000000_tags"},
        ])
    );
    let human = drift(&staging_folder, &production, &["--against", &staging.url]).expect(DRIFT);
    assert!(
        human
            .stdout
            .contains("20240103000000_add_tags: applied in the database only")
            && human
                .stdout
                .ends_with("Drift: 1 difference in 1 object, and another history.\n"),
        "{}",
        human.stdout
    );

    // The same schema with another history is drift too.
    production.exec("ALTER TABLE tags DROP COLUMN color");
    let report = json(
        &drift(
            &staging_folder,
            &production,
            &["--json", "--against", &staging.url],
        )
        .expect(DRIFT),
    );
    assert_eq!(report["verdict"], "same_schema_different_history");
}

/// A folder whose replay fails: the migration's own failure (exit 6), and no scratch
/// database left. (Drift replays what the history applied: the broken migration is
/// recorded applied without running.)
fn scratch_is_dropped_after_a_failure(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240102000000_broken", BROKEN);
    project
        .safemig(&db, &["resolve", "--applied", "20240102000000_broken"])
        .expect(0);
    let run = drift(&project, &db, &[]).expect(6);
    assert!(
        run.stderr.contains("replaying the migrations folder into")
            && run.stderr.contains("20240102000000_broken"),
        "{}",
        run.stderr
    );
    // The advice is about the folder and drift, never to deploy the database compared.
    let next = run.stderr.split("next: ").nth(1).unwrap_or_default();
    assert!(
        next.contains("does not run on an empty database")
            && next.contains("safemig drift")
            && !next.contains("deploy"),
        "{}",
        run.stderr
    );
    assert!(!scratch_exists(&db, &scratch_of(&run.stderr)));
}

/// SIGTERM and SIGINT while the replay runs a long statement: exit 11, no scratch left.
fn scratch_is_dropped_on_sigterm_and_sigint(kind: Kind) {
    let sleeper = match kind {
        Kind::Postgres => "SELECT pg_sleep(60);\n",
        Kind::Mysql => "SELECT SLEEP(60);\n",
        // A minute of work for SQLite's virtual machine, which its progress handler stops.
        Kind::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000000) SELECT COUNT(*) FROM n;\n"
        }
    };
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let db = TestDb::new(kind);
        let project = Project::new(kind, &[("20240101000000_init", INIT)]);
        project.safemig(&db, &["deploy"]).expect(0);
        project.write("20240102000000_slow", sleeper);
        // Recorded applied without running: only drift's replay runs it.
        project
            .safemig(&db, &["resolve", "--applied", "20240102000000_slow"])
            .expect(0);
        let mut child = drift_command(&project, &db, &["--deadline", "1"])
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting safemig drift");
        // Waits until the replay has begun: the scratch database exists then.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("replaying the migrations into") {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "drift ended before its replay:\n{seen}"
            );
            seen.push_str(&line);
        }
        let scratch = scratch_of(&seen);
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(scratch_exists(&db, &scratch), "{signal}: {seen}");
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(11), "{signal}: {seen}{rest}");
        // What was stopped is drift's replay, and what to run again is drift: deploy's
        // "run safemig deploy again: it resumes" would be about the dropped scratch.
        assert!(
            rest.contains("stopped by a signal while replaying the migrations folder into")
                && rest.contains("next: nothing needs to be resolved; run `safemig drift")
                && !rest.contains("deploy"),
            "{signal}: {rest}"
        );
        assert!(
            !scratch_exists(&db, &scratch),
            "{signal}: {scratch} is left:\n{seen}{rest}"
        );
    }
}

/// Every real-world history, deployed by safemig: no drift against its own folder (the
/// scratch replay), against a dump-and-restore of itself (schema and history), or against
/// the files replayed by the engine's own client (the same schema; another history, as
/// the replay has no `_prisma_migrations`).
fn corpus_drifts_from_nothing(kind: Kind) {
    for (name, dir) in corpora(kind) {
        let (deployed, _) = deployed_by_safemig(kind, &dir);
        let restored = TestDb::restored_from_dump(&deployed);
        let replayed = TestDb::new(kind);
        apply_with_engine_client(&replayed, &migration_files(&dir));
        let folder = dir.to_str().unwrap();
        for (label, against, verdict) in [
            ("its folder", None, "same"),
            ("its dump, restored", Some(&restored.url), "same"),
            (
                "the client's replay",
                Some(&replayed.url),
                "same_schema_different_history",
            ),
        ] {
            let mut args = vec!["--url", &deployed.url, "--dir", folder];
            args.extend(["drift", "--json", "--no-cache"]);
            args.extend(
                against
                    .map(|url| ["--against", url.as_str()])
                    .into_iter()
                    .flatten(),
            );
            let run = safemig_command(&std::env::temp_dir(), &args)
                .output()
                .expect("running safemig drift");
            let run = to_run(run);
            let code = if verdict == "same" { 0 } else { DRIFT };
            assert_eq!(
                run.code, code,
                "{name} against {label}:\n{}\n{}",
                run.stdout, run.stderr
            );
            let report = json(&run);
            assert_eq!(report["verdict"], verdict, "{name} against {label}");
            assert_eq!(report["differences"], serde_json::json!([]), "{name}");
            println!(
                "{name} against {label}: {} objects compared, no drift",
                report["compared"]
            );
        }
    }
}

/// `drift --sql` after hand-made changes: run on the database, the statements it writes
/// leave exactly the differences it lists as not written (a dropped column's data, a
/// change that needs a table rebuild).
fn sql_converges_what_it_writes(kind: Kind) {
    let (base, changes, left_to_a_person): (&str, &str, &[&str]) = match kind {
        Kind::Postgres => (
            "CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT NOT NULL, \
               name VARCHAR(100) DEFAULT 'anon', nick TEXT COLLATE \"C\", \
               score INTEGER NOT NULL DEFAULT 0 CONSTRAINT users_score_check CHECK (score >= 0));\n\
             CREATE INDEX users_name_idx ON users (name);\n\
             CREATE VIEW user_names AS SELECT id, name FROM users;\n\
             CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
             CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();\n\
             CREATE TABLE posts (id SERIAL PRIMARY KEY, \
               author INTEGER CONSTRAINT posts_author_fkey REFERENCES users (id) ON DELETE CASCADE, \
               editor INTEGER CONSTRAINT \"posts_Editor_fkey\" REFERENCES users (id) MATCH FULL DEFERRABLE);\n",
            "ALTER TABLE users ALTER COLUMN name DROP DEFAULT; \
             ALTER TABLE users ALTER COLUMN email DROP NOT NULL; \
             DROP INDEX users_name_idx; CREATE INDEX users_email_idx ON users (email); \
             CREATE OR REPLACE VIEW user_names AS SELECT id, name, email FROM users; \
             ALTER TABLE users DROP CONSTRAINT users_score_check; \
             ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> ''); \
             DROP TRIGGER users_touch ON users; \
             CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$; \
             ALTER TABLE users DROP COLUMN nick; ALTER TABLE users ADD COLUMN extra INTEGER; \
             ALTER TABLE users ALTER COLUMN score TYPE BIGINT; \
             ALTER TABLE posts DROP CONSTRAINT posts_author_fkey; \
             ALTER TABLE posts ADD CONSTRAINT posts_author_fkey FOREIGN KEY (author) REFERENCES users (id) \
               ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED NOT VALID; \
             ALTER TABLE posts DROP CONSTRAINT \"posts_Editor_fkey\"",
            &["users.extra", "users.score"],
        ),
        Kind::Mysql => (
            "CREATE TABLE users (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, \
               email VARCHAR(100) NOT NULL, name VARCHAR(100));\n\
             CREATE INDEX users_name_idx ON users (name);\n\
             CREATE VIEW user_names AS SELECT id, name FROM users;\n\
             CREATE TABLE posts (id INTEGER NOT NULL PRIMARY KEY, author INTEGER, editor INTEGER, \
               CONSTRAINT posts_author_fkey FOREIGN KEY (author) REFERENCES users (id) ON DELETE CASCADE, \
               CONSTRAINT `posts_Editor_fkey` FOREIGN KEY (editor) REFERENCES users (id));\n",
            "CREATE INDEX users_email_idx ON users (email); \
             ALTER TABLE users MODIFY name VARCHAR(100) NOT NULL; \
             CREATE VIEW user_emails AS SELECT id, email FROM users; \
             ALTER TABLE posts DROP FOREIGN KEY posts_author_fkey; \
             ALTER TABLE posts ADD CONSTRAINT posts_author_fkey FOREIGN KEY (author) REFERENCES users (id) \
               ON DELETE SET NULL ON UPDATE CASCADE; \
             ALTER TABLE posts DROP FOREIGN KEY `posts_Editor_fkey`",
            &["users.name"],
        ),
        Kind::Sqlite => (
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, \
               name TEXT DEFAULT 'anon', nick TEXT COLLATE NOCASE);\n\
             CREATE INDEX users_name_idx ON users (name COLLATE NOCASE DESC);\n\
             CREATE VIEW user_names AS SELECT id, name FROM users;\n\
             CREATE TRIGGER users_touch AFTER UPDATE ON users BEGIN SELECT 1; END;\n",
            "DROP INDEX users_name_idx; CREATE INDEX users_email_idx ON users (email) WHERE email <> ''; \
             DROP VIEW user_names; CREATE VIEW user_names AS SELECT id FROM users; \
             DROP TRIGGER users_touch; \
             ALTER TABLE users DROP COLUMN nick; ALTER TABLE users ADD COLUMN extra INTEGER",
            &["users.extra"],
        ),
    };
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", base)]);
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec(changes);

    let script = drift(&project, &db, &["--sql"]).expect(DRIFT).stdout;
    let mut not_written: Vec<String> = script
        .lines()
        .filter_map(|l| l.strip_prefix("-- not written: "))
        .map(|l| l.split('`').nth(1).unwrap().to_string())
        .collect();
    not_written.dedup();
    assert_eq!(not_written, left_to_a_person, "{script}");
    db.exec(&script);
    let report = json(&drift(&project, &db, &["--json"]).expect(DRIFT));
    let mut remaining: Vec<String> = differences(&report)
        .into_iter()
        .map(|(_, _, name)| name)
        .collect();
    remaining.dedup();
    assert_eq!(
        remaining, left_to_a_person,
        "after running:\n{script}\n{report}"
    );
}

/// `drift --env staging` compares with what safemig.toml configures for staging (here
/// production), `--against environment:production` names it on the command line, and the
/// report names the sides by their environments; an environment without a configured
/// comparison is compared with the folder.
fn drift_of_an_environment_uses_its_comparison(kind: Kind) {
    let staging = TestDb::new(kind);
    let production = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    project.safemig(&staging, &["deploy"]).expect(0);
    project.safemig(&production, &["deploy"]).expect(0);
    production.exec("ALTER TABLE posts ADD COLUMN hotfix INTEGER");
    let mut envs = crate::check::Environments::new();
    envs.add(
        "staging",
        &staging.url,
        &project,
        "drift = { against = \"environment:production\" }",
    );
    envs.add("production", &production.url, &project, "");
    let configured = envs.run(&["drift", "--env", "staging"]).expect(DRIFT);
    assert!(
        configured.stdout.contains("Comparing staging:")
            && configured.stdout.contains("with environment `production`:")
            && configured
                .stdout
                .contains("column `posts.hotfix`: only in the environment `production`"),
        "{}",
        configured.stdout
    );
    let named = envs
        .run(&[
            "drift",
            "--env",
            "staging",
            "--against",
            "environment:production",
        ])
        .expect(DRIFT);
    assert!(
        named
            .stdout
            .contains("column `posts.hotfix`: only in the production"),
        "{}",
        named.stdout
    );
    let folder = envs.run(&["drift", "--env", "production"]).expect(DRIFT);
    assert!(
        folder.stdout.contains("with folder:")
            && folder
                .stdout
                .contains("column `posts.hotfix`: only in the production"),
        "{}",
        folder.stdout
    );
    envs.run(&["drift", "--env", "staging", "--against", "environment:"])
        .expect(2);
}

/// A database whose schema is the folder's but has no `_prisma_migrations` (built by the
/// engine's own client, or a dump without it) has applied none of the migrations as Prisma
/// sees it: another history than the folder's, never "the same schema and history".
fn a_database_without_a_history_is_another_history(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec("DROP TABLE _prisma_migrations");

    let run = drift(&project, &db, &[]).expect(DRIFT);
    assert!(
        run.stdout
            .contains("Drift: the same schema, but another history."),
        "{}",
        run.stdout
    );
    for name in ["20240101000000_init", "20240102000000_posts"] {
        assert!(
            run.stdout
                .contains(&format!("{name}: applied in the folder only")),
            "{}",
            run.stdout
        );
    }
    let report = json(&drift(&project, &db, &["--json"]).expect(DRIFT));
    assert_eq!(
        report["verdict"], "same_schema_different_history",
        "{report}"
    );
    assert_eq!(report["history"].as_array().unwrap().len(), 2, "{report}");
}

/// `--no-cache` replays and writes the fresh schema over a cached one: after it, a run that
/// reads the cache no longer sees what a bad entry said.
fn no_cache_refreshes_a_suspect_entry(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    drift(&project, &db, &[]).expect(0);
    let entries = std::fs::read_dir(project.dir.path().join("cache/drift"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    let [entry] = entries.as_slice() else {
        panic!("one cache entry expected: {entries:?}");
    };
    // A suspect entry: the folder's schema as cached lacks an object.
    let mut cached: Value = serde_json::from_str(&std::fs::read_to_string(entry).unwrap()).unwrap();
    cached["schema"].as_array_mut().unwrap().pop();
    std::fs::write(entry, cached.to_string()).unwrap();
    let suspect = json(&drift(&project, &db, &["--json"]).expect(DRIFT));
    assert_eq!(suspect["right"]["cached"], true, "{suspect}");

    let refreshed = json(&drift(&project, &db, &["--json", "--no-cache"]).expect(0));
    assert_eq!(refreshed["right"]["cached"], false, "{refreshed}");
    let again = json(&drift(&project, &db, &["--json"]).expect(0));
    assert_eq!(again["right"]["cached"], true, "{again}");
}

/// Two databases, or a database and a snapshot, compare without a migrations folder: only
/// the comparison with the folder needs one.
fn two_databases_compare_without_a_folder(kind: Kind) {
    let (left, right) = (TestDb::new(kind), TestDb::new(kind));
    left.exec("CREATE TABLE t (id INTEGER)");
    right.exec("CREATE TABLE t (id INTEGER, x INTEGER)");
    let nowhere = tempfile::tempdir().unwrap();
    let snapshot = nowhere.path().join("left.json");
    let snapshot = snapshot.to_str().unwrap();
    let run = |args: &[&str]| to_run(safemig_command(nowhere.path(), args).output().unwrap());
    run(&["--url", &left.url, "snapshot", "--output", snapshot]).expect(0);
    for (url, against, line) in [
        (
            &left.url,
            right.url.as_str(),
            "column `t.x`: only in the other database",
        ),
        (&right.url, snapshot, "column `t.x`: only in the database"),
    ] {
        let compared = run(&["--url", url, "drift", "--against", against]).expect(DRIFT);
        assert!(compared.stdout.contains(line), "{}", compared.stdout);
    }
}

/// A column made nullable is one difference on every engine: MariaDB reports such a column
/// with `DEFAULT NULL`, which used to add a second one (a default) PostgreSQL never shows.
fn a_column_made_nullable_is_one_difference(kind: Kind) {
    let (left, right) = (TestDb::new(kind), TestDb::new(kind));
    left.exec("CREATE TABLE t (id INTEGER, name VARCHAR(10) NOT NULL)");
    right.exec("CREATE TABLE t (id INTEGER, name VARCHAR(10) NULL)");
    let nowhere = tempfile::tempdir().unwrap();
    let args = [
        "--url",
        &left.url,
        "drift",
        "--json",
        "--against",
        &right.url,
    ];
    let run = to_run(safemig_command(nowhere.path(), &args).output().unwrap());
    let report = json(&run.expect(DRIFT));
    assert_eq!(
        differences(&report),
        [d("changed", "column", "t.name")],
        "{report}"
    );
    assert_eq!(
        report["differences"][0]["attribute"], "nullable",
        "{report}"
    );
}

for_each_engine!(
    no_cache_refreshes_a_suspect_entry,
    a_column_made_nullable_is_one_difference,
    two_databases_compare_without_a_folder,
    a_database_without_a_history_is_another_history,
    drift_of_an_environment_uses_its_comparison,
    corpus_drifts_from_nothing,
    sql_converges_what_it_writes,
    against_the_folder_and_a_snapshot,
    staging_against_production,
    scratch_is_dropped_after_a_failure,
    scratch_is_dropped_on_sigterm_and_sigint,
);

/// Schema-per-tenant on PostgreSQL with `public` among the tenants: drift of `?schema=t1`
/// against the folder is no drift. `public` holds its own `_prisma_migrations` (another
/// target, left out of the live side), while the scratch database has an empty `public`
/// from its template; that used to read "schema `public`: only in the folder", exit 14.
#[test]
fn postgres_tenant_beside_a_public_tenant_has_no_drift() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(Kind::Postgres, &[("20240101000000_init", INIT)]);
    let dir = project.migrations();
    let dir = dir.to_str().unwrap();
    let tenant = format!("{}?schema=t1", db.url);
    for url in [db.url.as_str(), tenant.as_str()] {
        let run = to_run(
            safemig_command(project.dir.path(), &["--url", url, "--dir", dir, "deploy"])
                .output()
                .unwrap(),
        );
        run.expect(0);
    }
    let args = [
        "--url",
        tenant.as_str(),
        "--dir",
        dir,
        "drift",
        "--no-cache",
    ];
    let run = to_run(safemig_command(project.dir.path(), &args).output().unwrap());
    assert!(
        run.stdout
            .contains("No drift: the same schema and history."),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    run.expect(0);
}

/// MariaDB stores a JSON column as LONGTEXT with a `json_valid` check: deployed, replayed
/// and dumped and restored, such columns are no drift (Prisma's own drift check reports
/// them).
#[test]
fn mariadb_json_columns_are_no_drift() {
    let db = TestDb::new(Kind::Mysql);
    let project = Project::new(
        Kind::Mysql,
        &[(
            "20240101000000_init",
            "CREATE TABLE `Event` (\n\
             `id` INTEGER NOT NULL AUTO_INCREMENT,\n\
             `payload` JSON NOT NULL,\n\
             `meta` JSON NULL,\n\
             `tags` JSON NOT NULL DEFAULT ('[]'),\n\
             PRIMARY KEY (`id`)\n\
             ) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n",
        )],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    let restored = TestDb::restored_from_dump(&db);
    drift(&project, &db, &["--no-cache"]).expect(0);
    let report = json(&drift(&project, &db, &["--json", "--against", &restored.url]).expect(0));
    assert_eq!(report["verdict"], "same");
    // And a JSON column changed to plain text by hand is drift.
    db.exec("ALTER TABLE `Event` MODIFY `meta` LONGTEXT NULL");
    let report = json(&drift(&project, &db, &["--json"]).expect(DRIFT));
    assert!(
        differences(&report).contains(&d("changed", "column", "Event.meta")),
        "{report}"
    );
}

/// Drift reads the live database through a login that can write nothing (every
/// transaction read-only) and makes its scratch database on `--shadow-url`'s server.
#[test]
fn postgres_drift_needs_only_a_read_only_login() {
    let db = TestDb::new(Kind::Postgres);
    let project = Project::new(
        Kind::Postgres,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    let reader = format!("reader_{}", db.name);
    db.exec(&format!(
        "CREATE ROLE {reader} LOGIN PASSWORD '{PASSWORD}' NOCREATEDB; \
         ALTER ROLE {reader} SET default_transaction_read_only = on; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};"
    ));
    let read_only = db.url.replacen("postgres:", &format!("{reader}:"), 1);
    let migrations = project.migrations();
    let run = safemig_command(
        project.dir.path(),
        &[
            "drift",
            "--url",
            &read_only,
            "--dir",
            migrations.to_str().unwrap(),
            "--shadow-url",
            &db.url,
            "--no-cache",
        ],
    )
    .output()
    .expect("running safemig drift");
    let run = to_run(run).expect(0);
    assert!(run.stdout.contains("No drift"), "{}", run.stdout);
}

/// On SQLite, the compared file is byte for byte what it was.
#[test]
fn sqlite_drift_leaves_the_file_untouched() {
    let db = TestDb::new(Kind::Sqlite);
    let project = Project::new(Kind::Sqlite, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let before = std::fs::read(db.sqlite_path()).unwrap();
    db.exec("SELECT 1");
    drift(&project, &db, &["--no-cache"]).expect(0);
    assert_eq!(std::fs::read(db.sqlite_path()).unwrap(), before);
}
