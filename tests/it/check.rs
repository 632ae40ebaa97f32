//! `safemig check` and `safemig.toml`: every status class through `check` on every engine
//! (with its exit code and JSON), a server that is down, read-only logins, tenants on one
//! PostgreSQL server by list, pattern and query, SQLite tenant files, and `--env` on an
//! existing command, with the configuration errors around it.

use serde_json::Value;

use crate::crash::journaled_script;
use crate::deploy::{FAILING_MIDWAY, INIT, POSTS, TAGS};
use crate::for_each_engine;
use crate::harness::{Kind, PASSWORD, Project, Run, TestDb, block_on, safemig_command, to_run};

/// A folder holding `safemig.toml` and the variables its environments read.
pub struct Environments {
    pub dir: tempfile::TempDir,
    toml: String,
    vars: Vec<(String, String)>,
}

impl Environments {
    pub fn new() -> Environments {
        Environments {
            dir: tempfile::tempdir().unwrap(),
            toml: String::new(),
            vars: Vec::new(),
        }
    }

    /// An environment `name` on `url` (through the variable `{NAME}_URL`) with `project`'s
    /// folder, plus `extra` lines.
    pub fn add(&mut self, name: &str, url: &str, project: &Project, extra: &str) {
        let variable = format!("{}_URL", name.to_uppercase());
        self.toml.push_str(&format!(
            "[environments.{name}]\nurl = \"env:{variable}\"\ndir = \"{}\"\n{extra}\n",
            project.migrations().display()
        ));
        self.vars.push((variable, url.to_string()));
    }

    /// Raw TOML, as written.
    pub fn raw(&mut self, text: &str) {
        self.toml.push_str(text);
    }

    /// `safemig ARGS` in the folder, with the variables set (a deploy that succeeds is
    /// followed by the harness's `assert_settled` checks).
    pub fn run(&self, args: &[&str]) -> Run {
        let run = to_run(self.command(args).output().expect("running safemig"));
        crate::harness::assert_settled(args, &run, |args| self.command(args));
        run
    }

    /// The command `safemig ARGS` in the folder, with safemig.toml written and the
    /// variables set, for a caller that spawns it.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        std::fs::write(self.dir.path().join("safemig.toml"), &self.toml).unwrap();
        let mut command = safemig_command(self.dir.path(), args);
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    /// `check --json ARGS`, parsed, with the exit code checked.
    pub fn check_json(&self, args: &[&str], code: i32) -> Value {
        let mut full = vec!["check", "--json"];
        full.extend(args);
        let run = self.run(&full).expect(code);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }
}

/// Deploys `project` to `url` (a tenant's URL the harness has no [`TestDb`] for).
pub(crate) fn deploy_to(project: &Project, url: &str, code: i32) {
    let dir = project.migrations();
    let run = safemig_command(
        project.dir.path(),
        &[
            "deploy",
            "--url",
            url,
            "--dir",
            dir.to_str().unwrap(),
            "--lock-timeout",
            "120",
        ],
    )
    .output()
    .expect("running safemig");
    to_run(run).expect(code);
}

/// The environment `name` of a check report.
fn environment<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name} in {report}"))
}

/// The only target of environment `name`.
fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    let targets = environment(report, name)["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{report}");
    &targets[0]
}

/// `(tenant, state)` of every target of environment `name`.
fn tenant_states(report: &Value, name: &str) -> Vec<(String, String)> {
    environment(report, name)["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap_or("-").to_string(),
                t["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A URL on `kind`'s scheme to a port nothing listens on, with the test password.
fn closed_port_url(kind: Kind) -> String {
    let scheme = if kind == Kind::Mysql {
        "mysql"
    } else {
        "postgresql"
    };
    format!("{scheme}://app:{PASSWORD}@127.0.0.1:1/app")
}

/// Every status class, one environment each, checked together and one by one: the state,
/// the per-class counts and the exit code of each, and the worst of all.
fn every_status_class(kind: Kind) {
    let (envs, _kept) = every_class_environments(kind);
    every_class_at_once(&envs, kind);
    every_class_one_by_one(&envs, kind);
    // The human table names every environment and the worst state.
    let human = envs.run(&["check"]).expect(5);
    for name in ["ok", "pending", "failed", "rolled", "interrupted", "edited"] {
        assert!(human.stdout.contains(name), "{}", human.stdout);
    }
    assert!(
        human.stdout.contains("Worst: failed (exit code 5)."),
        "{}",
        human.stdout
    );
}

/// One environment per status class, the edited and out-of-order ones also strict, and
/// on a server one that is down; with the databases and folders they name, kept alive.
fn every_class_environments(kind: Kind) -> (Environments, Vec<(TestDb, Project)>) {
    let targets = [
        ("ok", up_to_date(kind)),
        ("pending", with_pending(kind)),
        ("failed", with_failed(kind)),
        ("rolled", with_rolled_back(kind)),
        ("interrupted", interrupted(kind)),
        ("edited", edited(kind)),
        ("order", out_of_order(kind)),
        ("baseline", needs_baseline(kind)),
    ];
    let mut envs = Environments::new();
    for (name, (db, project)) in &targets {
        envs.add(name, &db.url, project, "");
        if matches!(*name, "edited" | "order") {
            envs.add(&format!("{name}_strict"), &db.url, project, "strict = true");
        }
    }
    if kind != Kind::Sqlite {
        let (_, (_, baseline_project)) = targets.last().unwrap();
        envs.add("down", &closed_port_url(kind), baseline_project, "");
    }
    (envs, targets.into_iter().map(|(_, kept)| kept).collect())
}

fn up_to_date(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = crate::deploy::three(kind);
    project.safemig(&db, &["deploy"]).expect(0);
    (db, project)
}

fn with_pending(kind: Kind) -> (TestDb, Project) {
    let (db, project) = up_to_date(kind);
    project.write(
        "20240104000000_next",
        "CREATE TABLE next_things (id INTEGER PRIMARY KEY);\n",
    );
    (db, project)
}

fn with_failed(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(6);
    (db, project)
}

fn with_rolled_back(kind: Kind) -> (TestDb, Project) {
    let (db, project) = with_failed(kind);
    project
        .safemig(&db, &["resolve", "--rolled-back", "20240102000000_broken"])
        .expect(0);
    (db, project)
}

fn interrupted(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_journaled", journaled_script(kind)),
        ],
    );
    project.deploy_killed_at(&db, "after_statement:3");
    (db, project)
}

/// Deployed, then one migration edited and another removed.
fn edited(kind: Kind) -> (TestDb, Project) {
    let (db, project) = up_to_date(kind);
    project.write(
        "20240102000000_posts",
        &format!("{POSTS}-- edited after deploy\n"),
    );
    project.remove("20240103000000_tags");
    (db, project)
}

/// A migration added before the last one applied, and deployed.
fn out_of_order(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[("20240101000000_init", INIT), ("20240103000000_tags", TAGS)],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240102000000_posts", POSTS);
    project.safemig(&db, &["deploy"]).expect(0);
    (db, project)
}

/// A table and no history: deploy needs a baseline.
fn needs_baseline(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    db.exec("CREATE TABLE legacy (id INTEGER PRIMARY KEY)");
    (db, crate::deploy::three(kind))
}

/// All at once: each environment's state and counts, and the details of the failed,
/// interrupted and unreachable ones.
fn every_class_at_once(envs: &Environments, kind: Kind) {
    // The worst is the failed row (5).
    let report = envs.check_json(&[], 5);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["state"], "failed");
    let expect = |name: &str, state: &str, counts: &[(&str, u64)]| {
        let t = target(&report, name);
        assert_eq!(t["state"], state, "{name}: {t}");
        assert_eq!(t["environment"], name);
        for (class, n) in counts {
            assert_eq!(t["counts"][class], *n, "{name} {class}: {t}");
        }
    };
    expect("ok", "up_to_date", &[("applied", 3)]);
    expect("pending", "pending", &[("applied", 3), ("pending", 1)]);
    expect("failed", "failed", &[("applied", 1), ("failed", 1)]);
    expect("rolled", "pending", &[("applied", 1), ("rolled_back", 1)]);
    expect(
        "interrupted",
        "interrupted",
        &[("applied", 1), ("interrupted", 1)],
    );
    // Edited, missing and out-of-order migrations do not stop a deploy: noted, unless the
    // environment is strict.
    expect(
        "edited",
        "up_to_date",
        &[("applied", 1), ("modified", 1), ("missing", 1)],
    );
    expect(
        "edited_strict",
        "inconsistent",
        &[("applied", 1), ("modified", 1), ("missing", 1)],
    );
    expect("order", "up_to_date", &[("applied", 3)]);
    expect(
        "order_strict",
        "inconsistent",
        &[("applied", 2), ("out_of_order", 1)],
    );
    expect("baseline", "baseline_needed", &[]);
    assert_eq!(target(&report, "ok")["lock"]["state"], "free");
    assert_eq!(target(&report, "ok")["migrations"], serde_json::json!([]));
    let failed_migration = &target(&report, "failed")["migrations"][0];
    assert_eq!(failed_migration["name"], "20240102000000_broken");
    assert_eq!(failed_migration["state"], "failed");
    // Killed after the second statement's hit (the first migration's one hit counts).
    let progress = &target(&report, "interrupted")["migrations"][0]["progress"];
    assert_eq!(progress["done"], 1, "{progress}");
    assert_eq!(progress["total"], 5, "{progress}");
    if kind != Kind::Sqlite {
        let down = target(&report, "down");
        assert_eq!(down["state"], "unreachable", "{down}");
        assert!(down["lock"].is_null());
        let error = down["error"].as_str().unwrap();
        assert!(error.contains("127.0.0.1:1"), "{error}");
        assert!(
            down["database"].as_str().unwrap().contains("****"),
            "{down}"
        );
    }
}

/// One by one: each state's own exit code.
fn every_class_one_by_one(envs: &Environments, kind: Kind) {
    for (name, code) in [
        ("ok", 0),
        ("pending", 8),
        ("failed", 5),
        ("rolled", 8),
        ("interrupted", 8),
        ("edited", 0),
        ("edited_strict", 7),
        ("order", 0),
        ("order_strict", 7),
        ("baseline", 9),
    ] {
        envs.check_json(&["--env", name], code);
    }
    if kind != Kind::Sqlite {
        let report = envs.check_json(&["--env", "down", "--env", "pending"], 3);
        assert_eq!(report["state"], "unreachable");
    }
}

/// A dead server never holds the others back: its time is bounded by --timeout.
fn a_dead_target_is_reported_within_the_timeout(kind: Kind) {
    if kind == Kind::Sqlite {
        return;
    }
    let mut envs = Environments::new();
    let ok = TestDb::new(kind);
    let project = crate::deploy::three(kind);
    project.safemig(&ok, &["deploy"]).expect(0);
    envs.add("ok", &ok.url, &project, "");
    // A listener that accepts and never answers: connecting hangs until the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = closed_port_url(kind).replace("127.0.0.1:1", &format!("127.0.0.1:{port}"));
    envs.add("silent", &url, &project, "");
    let started = std::time::Instant::now();
    let report = envs.check_json(&["--timeout", "2"], 3);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(target(&report, "ok")["state"], "up_to_date");
    let silent_target = target(&report, "silent");
    assert_eq!(silent_target["state"], "unreachable");
    assert!(
        silent_target["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 2s"),
        "{silent_target}"
    );
    drop(silent);
}

for_each_engine!(
    every_status_class,
    a_dead_target_is_reported_within_the_timeout
);

/// Tenants as schemas of one PostgreSQL database, chosen by list, pattern and query: the
/// healthy ones are read in one batch, the others alone.
#[test]
fn postgres_tenants_by_list_pattern_and_query() {
    let db = TestDb::new(Kind::Postgres);
    let two = Project::new(
        Kind::Postgres,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    let three = crate::deploy::three(Kind::Postgres);
    let broken = Project::new(
        Kind::Postgres,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    let tenant = |schema: &str| format!("{}?schema={schema}", db.url);
    deploy_to(&three, &tenant("tenant_a"), 0);
    deploy_to(&two, &tenant("tenant_b"), 0);
    deploy_to(&broken, &tenant("tenant_c"), 6);
    deploy_to(&three, &tenant("other"), 0);
    db.exec(
        "CREATE SCHEMA tenant_empty; \
         CREATE TABLE public.tenants (name TEXT); \
         INSERT INTO public.tenants VALUES ('tenant_a'), ('other');",
    );

    let mut envs = Environments::new();
    envs.add(
        "listed",
        &db.url,
        &three,
        "tenants = { list = [\"tenant_a\", \"tenant_b\", \"tenant_c\"] }",
    );
    envs.add(
        "matched",
        &db.url,
        &three,
        "tenants = { pattern = \"tenant_*\" }",
    );
    envs.add(
        "queried",
        &db.url,
        &three,
        "tenants = { query = \"SELECT name FROM public.tenants ORDER BY name\" }",
    );
    envs.add(
        "none",
        &db.url,
        &three,
        "tenants = { pattern = \"nobody_*\" }",
    );

    let report = envs.check_json(&["--env", "listed"], 5);
    assert_eq!(
        tenant_states(&report, "listed"),
        pairs(&[
            ("tenant_a", "up_to_date"),
            ("tenant_b", "pending"),
            ("tenant_c", "failed"),
        ])
    );
    let targets = environment(&report, "listed")["targets"]
        .as_array()
        .unwrap();
    assert_eq!(targets[0]["read"], "batch");
    assert_eq!(targets[1]["read"], "batch");
    // A failed journal needs the tenant's catalog to tell whether deploy resumes it.
    assert_eq!(targets[2]["read"], "single");
    assert_eq!(targets[1]["counts"]["pending"], 1);
    assert!(
        targets[1]["target"].as_str().unwrap().contains("tenant_b"),
        "{}",
        targets[1]
    );
    assert!(targets[1]["database"].as_str().unwrap().contains("****"));

    let report = envs.check_json(&["--env", "matched"], 5);
    assert_eq!(
        tenant_states(&report, "matched"),
        pairs(&[
            ("tenant_a", "up_to_date"),
            ("tenant_b", "pending"),
            ("tenant_c", "failed"),
            // No history yet: every migration is pending.
            ("tenant_empty", "pending"),
        ])
    );

    let report = envs.check_json(&["--env", "queried"], 0);
    assert_eq!(
        tenant_states(&report, "queried"),
        pairs(&[("other", "up_to_date"), ("tenant_a", "up_to_date")])
    );

    let report = envs.check_json(&["--env", "none"], 2);
    let error = target(&report, "none")["error"].as_str().unwrap();
    assert!(error.contains("no tenant matches"), "{error}");
}

/// Tenants as MariaDB databases on one server, read in one batch.
#[test]
fn mysql_tenants_by_list() {
    let a = TestDb::new(Kind::Mysql);
    let b = TestDb::new(Kind::Mysql);
    let three = crate::deploy::three(Kind::Mysql);
    three.safemig(&a, &["deploy"]).expect(0);
    three.safemig(&b, &["deploy"]).expect(0);
    three.write(
        "20240104000000_next",
        "CREATE TABLE next_things (id INTEGER PRIMARY KEY);\n",
    );
    let mut envs = Environments::new();
    envs.add(
        "shards",
        &a.url,
        &three,
        &format!("tenants = {{ list = [\"{}\", \"{}\"] }}", a.name, b.name),
    );
    let report = envs.check_json(&[], 8);
    assert_eq!(
        tenant_states(&report, "shards"),
        pairs(&[(&a.name, "pending"), (&b.name, "pending")])
    );
    for target in environment(&report, "shards")["targets"]
        .as_array()
        .unwrap()
    {
        assert_eq!(target["read"], "batch", "{target}");
        assert_eq!(target["counts"]["applied"], 3);
    }
}

/// SQLite tenants are files, found by a wildcard in the file name.
#[test]
fn sqlite_tenant_files() {
    let mut envs = Environments::new();
    let folder = envs.dir.path().join("tenants");
    std::fs::create_dir(&folder).unwrap();
    let three = crate::deploy::three(Kind::Sqlite);
    for name in ["a", "b"] {
        let db = TestDb::sqlite_file(&folder.join(format!("{name}.db")));
        three.safemig(&db, &["deploy"]).expect(0);
    }
    let broken = Project::new(
        Kind::Sqlite,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    broken
        .safemig(&TestDb::sqlite_file(&folder.join("c.db")), &["deploy"])
        .expect(6);
    std::fs::write(folder.join("notes.txt"), "not a tenant").unwrap();
    envs.raw(&format!(
        "[environments.edge]\ndir = \"{}\"\ntenants = {{ files = \"tenants/*.db\" }}\n",
        three.migrations().display()
    ));
    let report = envs.check_json(&[], 5);
    assert_eq!(
        tenant_states(&report, "edge"),
        pairs(&[
            ("tenants/a.db", "up_to_date"),
            ("tenants/b.db", "up_to_date"),
            ("tenants/c.db", "failed"),
        ])
    );
    assert_eq!(target_of(&report, "edge", 0)["lock"]["state"], "free");
}

fn target_of<'a>(report: &'a Value, name: &str, i: usize) -> &'a Value {
    &environment(report, name)["targets"][i]
}

/// A PostgreSQL login that may only read (SELECT on the history, USAGE on its schema, every
/// transaction read-only): check works, and creates nothing where there is no history.
#[test]
fn postgres_check_needs_only_a_read_only_login() {
    let db = TestDb::new(Kind::Postgres);
    let project = crate::deploy::three(Kind::Postgres);
    project.safemig(&db, &["deploy"]).expect(0);
    let reader = format!("reader_{}", db.name);
    db.exec(&format!(
        "CREATE ROLE {reader} LOGIN PASSWORD '{PASSWORD}' NOCREATEDB; \
         ALTER ROLE {reader} SET default_transaction_read_only = on; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
         GRANT USAGE ON SCHEMA public TO {reader}; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}; \
         CREATE SCHEMA tenant_fresh;"
    ));
    let read_only = db.url.replacen("postgres:", &format!("{reader}:"), 1);
    let mut envs = Environments::new();
    envs.add("prod", &read_only, &project, "");
    envs.add(
        "fresh",
        &format!("{read_only}?schema=tenant_fresh"),
        &project,
        "",
    );
    let report = envs.check_json(&[], 8);
    assert_eq!(target(&report, "prod")["state"], "up_to_date");
    assert_eq!(target(&report, "prod")["lock"]["state"], "free");
    assert_eq!(target(&report, "fresh")["state"], "pending");
    assert_eq!(target(&report, "fresh")["history_table"], "missing");
    assert_eq!(
        db.scalar("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'tenant_fresh'"),
        Some("0".into()),
        "check created nothing"
    );
}

/// A MariaDB user with only SELECT on its database: check works.
#[test]
fn mysql_check_needs_only_select() {
    let db = TestDb::new(Kind::Mysql);
    let project = crate::deploy::three(Kind::Mysql);
    project.safemig(&db, &["deploy"]).expect(0);
    let reader = format!("r{}", db.name);
    db.exec(&format!(
        "CREATE USER '{reader}'@'%' IDENTIFIED BY '{PASSWORD}'; \
         GRANT SELECT ON `{}`.* TO '{reader}'@'%';",
        db.name
    ));
    let read_only = db.url.replacen("root:", &format!("{reader}:"), 1);
    assert_ne!(read_only, db.url, "the URL's user was replaced");
    let mut envs = Environments::new();
    envs.add("prod", &read_only, &project, "");
    let report = envs.check_json(&[], 0);
    assert_eq!(target(&report, "prod")["state"], "up_to_date");
    assert_eq!(target(&report, "prod")["lock"]["state"], "free");
}

/// The lock holder: another session holding Prisma's advisory lock is named.
#[test]
fn postgres_lock_holder_is_reported() {
    let db = TestDb::new(Kind::Postgres);
    let project = crate::deploy::three(Kind::Postgres);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add("prod", &db.url, &project, "");
    block_on(async {
        use sqlx::Connection;
        let mut holder = db.connect().await;
        sqlx::raw_sql("SELECT pg_advisory_lock(72707369)")
            .execute(&mut holder)
            .await
            .unwrap();
        let report = envs.check_json(&[], 0);
        let lock = &target(&report, "prod")["lock"];
        assert_eq!(lock["state"], "held", "{lock}");
        assert!(
            lock["holder"]
                .as_str()
                .unwrap()
                .starts_with("PostgreSQL session"),
            "{lock}"
        );
        holder.close().await.unwrap();
    });
}

/// `--env` on an existing command: the environment's URL and folder; `--dir` still wins.
#[test]
fn status_with_env() {
    let db = TestDb::new(Kind::Postgres);
    let project = crate::deploy::three(Kind::Postgres);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add("staging", &db.url, &project, "");
    let run = envs.run(&["status", "--env", "staging"]).expect(0);
    assert!(
        run.stdout.contains("Database is up to date."),
        "{}",
        run.stdout
    );
    // Before the command name too, as the other project options.
    envs.run(&["--env", "staging", "status"]).expect(0);
    // An explicit --dir wins over the environment's.
    let more = crate::deploy::three(Kind::Postgres);
    more.write(
        "20240104000000_next",
        "CREATE TABLE next_things (id INTEGER PRIMARY KEY);\n",
    );
    let dir = more.migrations();
    envs.run(&["status", "--env", "staging", "--dir", dir.to_str().unwrap()])
        .expect(8);
    // --env and --url exclude each other.
    let run = envs
        .run(&["status", "--env", "staging", "--url", &db.url])
        .expect(2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    // An unknown environment names the known ones.
    let run = envs.run(&["status", "--env", "prod"]).expect(2);
    assert!(
        run.stderr.contains("no environment `prod`") && run.stderr.contains("`staging`"),
        "{}",
        run.stderr
    );
    // --config names another file.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("envs.toml"),
        format!(
            "[environments.elsewhere]\nurl = \"env:STAGING_URL\"\ndir = \"{}\"\n",
            project.migrations().display()
        ),
    )
    .unwrap();
    let config = other.path().join("envs.toml");
    envs.run(&[
        "--config",
        config.to_str().unwrap(),
        "status",
        "--env",
        "elsewhere",
    ])
    .expect(0);
    envs.run(&["check", "--config", config.to_str().unwrap()])
        .expect(0);
}

/// An `env:` variable that is not set is a configuration error naming it and the
/// environment, for `check` and for `--env`.
#[test]
fn an_unset_variable_is_a_config_error() {
    let project = crate::deploy::three(Kind::Sqlite);
    let mut envs = Environments::new();
    envs.raw(&format!(
        "[environments.prod]\nurl = \"env:PROD_DATABASE_URL\"\ndir = \"{}\"\n",
        project.migrations().display()
    ));
    for args in [&["check"][..], &["status", "--env", "prod"]] {
        let run = envs.run(args).expect(2);
        assert!(
            run.stderr.contains("PROD_DATABASE_URL") && run.stderr.contains("`prod`"),
            "{}",
            run.stderr
        );
    }
    let run = envs.run(&["check"]).expect(2);
    assert!(
        run.stderr.contains("export PROD_DATABASE_URL"),
        "{}",
        run.stderr
    );
}

/// Unknown keys are errors naming the key and its line.
#[test]
fn unknown_keys_are_errors_with_their_line() {
    let mut envs = Environments::new();
    envs.raw("[environments.prod]\nurl = \"env:X\"\ntenant = { list = [\"a\"] }\n");
    let run = envs.run(&["check"]).expect(2);
    assert!(
        run.stderr
            .contains("safemig.toml, line 3: unknown field `tenant`"),
        "{}",
        run.stderr
    );
}

/// A URL written in the file works, with a warning; its password never shows.
#[test]
fn a_literal_url_is_warned_about_and_its_password_never_shown() {
    let db = TestDb::new(Kind::Postgres);
    let project = crate::deploy::three(Kind::Postgres);
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(db.url.contains(PASSWORD));
    let mut envs = Environments::new();
    envs.raw(&format!(
        "[environments.prod]\nurl = \"{}\"\ndir = \"{}\"\n",
        db.url,
        project.migrations().display()
    ));
    // `expect` also fails if the password appears in stdout or stderr.
    let run = envs.run(&["check"]).expect(0);
    assert!(
        run.stderr.contains("warning: environment `prod`") && run.stderr.contains("env:VARIABLE"),
        "{}",
        run.stderr
    );
    envs.run(&["check", "--json"]).expect(0);
    let run = envs.run(&["status", "--env", "prod"]).expect(0);
    assert!(
        run.stderr.contains("warning: environment `prod`"),
        "{}",
        run.stderr
    );
    // Down, with the password in the URL: the error masks it too.
    let mut down = Environments::new();
    down.raw(&format!(
        "[environments.down]\nurl = \"{}\"\ndir = \"{}\"\n",
        closed_port_url(Kind::Postgres),
        project.migrations().display()
    ));
    down.run(&["check"]).expect(3);
    down.run(&["check", "--json"]).expect(3);
}

/// Drift configured for an environment: compared with the folder on every check.
#[test]
fn drift_when_configured() {
    let db = TestDb::new(Kind::Sqlite);
    let project = crate::deploy::three(Kind::Sqlite);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.add(
        "prod",
        &db.url,
        &project,
        "drift = { against = \"folder\" }",
    );
    let report = envs.check_json(&["--no-cache"], 0);
    assert_eq!(target(&report, "prod")["drift"]["verdict"], "same");
    db.exec("CREATE TABLE hand_made (id INTEGER)");
    let report = envs.check_json(&["--no-cache"], 14);
    let t = target(&report, "prod");
    assert_eq!(t["state"], "drift");
    assert_eq!(t["drift"]["verdict"], "different_schema");
    assert!(t["drift"]["differences"].as_u64().unwrap() >= 1, "{t}");
    let report = envs.check_json(&["--no-drift"], 0);
    assert!(target(&report, "prod")["drift"].is_null());
}

/// `check` without safemig.toml checks the project in the working directory, as every
/// other command finds it: with no URL anywhere that is the usual error naming --url,
/// which `check` accepts.
#[test]
fn check_without_the_file_checks_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let run = to_run(
        safemig_command(dir.path(), &["check"])
            .output()
            .expect("running safemig"),
    )
    .expect(2);
    assert!(run.stderr.contains("pass --url"), "{}", run.stderr);
    let db = TestDb::new(Kind::Sqlite);
    let project = crate::deploy::three(Kind::Sqlite);
    let dir = project.migrations();
    let args = ["check", "--url", &db.url, "--dir", dir.to_str().unwrap()];
    let pending = to_run(safemig_command(project.dir.path(), &args).output().unwrap()).expect(8);
    assert!(
        pending.stdout.contains(&format!(
            "next: run `safemig deploy --url {} --dir {}`",
            db.url,
            dir.display()
        )),
        "{}",
        pending.stdout
    );
    project.safemig(&db, &["deploy"]).expect(0);
    to_run(safemig_command(project.dir.path(), &args).output().unwrap()).expect(0);
}

/// `env:` variables of safemig.toml are read from the project's `.env` as Prisma reads
/// DATABASE_URL, and a folder made for another provider (P3019) is named with its
/// environment.
#[test]
fn environment_variables_from_dotenv_and_errors_named_by_environment() {
    let db = TestDb::new(Kind::Sqlite);
    let project = crate::deploy::three(Kind::Sqlite);
    project.safemig(&db, &["deploy"]).expect(0);
    let mut envs = Environments::new();
    envs.raw(&format!(
        "[environments.staging]\nurl = \"env:STAGING_URL\"\ndir = \"{}\"\n",
        project.migrations().display()
    ));
    std::fs::write(
        envs.dir.path().join(".env"),
        format!("STAGING_URL=\"{}\"\n", db.url),
    )
    .unwrap();
    envs.check_json(&["--env", "staging"], 0);
    envs.run(&["status", "--env", "staging"]).expect(0);

    let mysql_folder = crate::deploy::three(Kind::Mysql);
    envs.raw(&format!(
        "[environments.other]\nurl = \"env:STAGING_URL\"\ndir = \"{}\"\n",
        mysql_folder.migrations().display()
    ));
    let run = envs.run(&["check", "--env", "other"]).expect(2);
    assert!(
        run.stderr.contains("error[P3019]: environment `other`:"),
        "{}",
        run.stderr
    );
}

/// `check` in a copy of examples/blog, a plain Prisma project without safemig.toml: 8
/// before the deploy, 0 after it, 8 with a merged but undeployed migration; with
/// `drift = { against = "folder" }` configured, that pending migration is `pending`
/// (exit 8), never drift.
#[test]
fn check_in_the_blog_example() {
    let tmp = tempfile::tempdir().unwrap();
    crate::cli::copy_example(tmp.path());
    let run = |args: &[&str]| {
        to_run(
            safemig_command(tmp.path(), args)
                .output()
                .expect("running safemig"),
        )
    };
    run(&["check"]).expect(8);
    run(&["deploy"]).expect(0);
    run(&["check"]).expect(0);
    let next = tmp
        .path()
        .join("prisma/migrations/20240501000000_add_comments");
    std::fs::create_dir(&next).unwrap();
    std::fs::write(
        next.join("migration.sql"),
        "CREATE TABLE \"Comment\" (\"id\" INTEGER NOT NULL PRIMARY KEY, \"body\" TEXT NOT NULL);\n",
    )
    .unwrap();
    let pending = run(&["check"]).expect(8);
    assert!(
        pending
            .stdout
            .contains("next: run `safemig deploy` to apply the pending migrations"),
        "{}",
        pending.stdout
    );
    std::fs::write(
        tmp.path().join("safemig.toml"),
        "[environments.dev]\nurl = \"env:DATABASE_URL\"\ndrift = { against = \"folder\" }\n",
    )
    .unwrap();
    let report: Value = serde_json::from_str(&run(&["check", "--json"]).expect(8).stdout).unwrap();
    let target = &report["environments"][0]["targets"][0];
    assert_eq!(target["state"], "pending", "{target}");
    assert_eq!(target["drift"]["verdict"], "same", "{target}");
    run(&["deploy", "--env", "dev"]).expect(0);
    run(&["check"]).expect(0);
}

/// Above 20 targets, `check` lists only those needing attention and groups alike tenants
/// under one `next:` line (30 SQLite tenants, 3 with a migration pending); `-v` lists
/// every target.
#[test]
fn many_targets_are_summarised() {
    let project = crate::deploy::three(Kind::Sqlite);
    let mut envs = Environments::new();
    let folder = envs.dir.path().join("tenants");
    std::fs::create_dir(&folder).unwrap();
    envs.raw(&format!(
        "[environments.fleet]\ndir = \"{}\"\ntenants = {{ files = \"tenants/*.db\" }}\n",
        project.migrations().display()
    ));
    for i in 0..30 {
        std::fs::write(folder.join(format!("t{i:02}.db")), b"").unwrap();
    }
    envs.run(&["deploy", "--env", "fleet"]).expect(0);
    project.write(
        "20240104000000_next",
        "CREATE TABLE next_things (id INTEGER PRIMARY KEY);\n",
    );
    for i in 0..27 {
        let url = format!("file:{}", folder.join(format!("t{i:02}.db")).display());
        deploy_to(&project, &url, 0);
    }
    let run = envs.run(&["check"]).expect(8);
    let out = &run.stdout;
    assert!(
        out.contains("(27 up to date not listed; -v lists every target.)")
            && out.contains(
                "fleet: 3 tenants pending (tenants/t27.db, tenants/t28.db, tenants/t29.db)"
            )
            && out.matches("next: ").count() == 1
            && out.contains(
                "next: run `safemig deploy --env fleet` to apply the pending migrations\n"
            )
            && !out.contains("tenants/t00.db"),
        "{out}"
    );
    let all = envs.run(&["check", "-v"]).expect(8);
    assert!(all.stdout.contains("tenants/t00.db"), "{}", all.stdout);
}
