//! `safemig drill` on the example Node app and during a migration on each engine, and
//! `safemig lint compose` per rule.

use std::path::{Path, PathBuf};

use crate::deploy::INIT;
use crate::harness::{Kind, Project, Run, TestDb, safemig};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Node from the machine; the tests install nothing.
fn node() -> &'static str {
    let found = std::process::Command::new("node").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "the drill tests run the example app with Node.js, which is not installed"
    );
    "node"
}

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

/// `safemig drill ARGS -- node examples/node-app/APP`, with PORT set to a free port that
/// `{port}` in ARGS stands for.
fn drill(app: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let port = free_port();
    let server = repo(&format!("examples/node-app/{app}"));
    let mut full: Vec<String> = vec!["drill".into()];
    full.extend(args.iter().map(|a| a.replace("{port}", &port)));
    full.extend(["--".into(), node().into(), server.display().to_string()]);
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let mut cmd = crate::harness::safemig_command(Path::new("."), &full);
    // Loopback only: the example listens on every interface by default, as in a container.
    cmd.env("PORT", &port)
        .env("HOST", "127.0.0.1")
        .envs(env.iter().copied());
    crate::harness::to_run(cmd.output().unwrap())
}

#[test]
fn drill_passes_the_app_with_a_shutdown_handler() {
    let args = [
        "--restarts",
        "3",
        "--ready-url",
        "http://127.0.0.1:{port}/health",
    ];
    let run = drill("server.js", &args, &[]).expect(0);
    assert_eq!(run.stdout.matches("— PASS").count(), 3, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("PASS: all 3 stops finished cleanly inside the 10s grace period"),
        "{}",
        run.stdout
    );
}

#[test]
fn drill_fails_the_app_without_one() {
    let args = ["--restarts", "2", "--ready-port", "{port}", "--json"];
    let run = drill("server-no-handler.js", &args, &[]).expect(13);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["passed"], false);
    for attempt in report["attempts"].as_array().unwrap() {
        assert_eq!(attempt["passed"], false);
        assert_eq!(attempt["exit_code"], 143);
        assert!(
            attempt["problem"]
                .as_str()
                .unwrap()
                .contains("no SIGTERM handler"),
            "{attempt}"
        );
    }
}

#[test]
fn drill_reports_an_app_that_outlives_the_grace_period() {
    // The shutdown work takes 4 s; the grace period is 3 s, so the stop timeout is 1.5 s
    // (half of a grace period under 4 s is kept as the margin).
    let args = [
        "--restarts",
        "1",
        "--ready-port",
        "{port}",
        "--grace-period",
        "3",
    ];
    let run = drill("server.js", &args, &[("SHUTDOWN_WORK_MS", "4000")]).expect(13);
    assert!(
        run.stdout.contains(
            "FAIL: the app ignored SIGTERM: the supervisor SIGKILLed it at its 1.5s deadline"
        ),
        "{}",
        run.stdout
    );
}

/// `drill --during-migration`: the app under `safemig run` behind a slow migration on a
/// scratch database; SIGTERM mid-migration; the stop fits the runtimes' 10 s and leaves the
/// migration resumable; the next start finishes it and the app becomes ready. The live
/// database is untouched and the scratch one is gone afterwards.
fn drill_during_migration(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    let (schema, history) = (db.schema_dump(), db.history());
    let saw = project.dir.path().join("app-saw");
    let app = format!(
        "echo \"$DATABASE_URL\" >> {}; trap 'exit 0' TERM; while :; do sleep 0.05; done",
        saw.display()
    );
    let run = project
        .safemig(
            &db,
            &[
                "drill",
                "--during-migration",
                "--ready-delay",
                "0.5",
                "--json",
                "--",
                "sh",
                "-c",
                &app,
            ],
        )
        .expect(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let attempts = report["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{report}");
    let (stopped, resumed) = (&attempts[0], &attempts[1]);
    assert_eq!(stopped["phase"], "during_migration", "{report}");
    assert_eq!(stopped["exit_code"], 11, "{report}");
    // The running statement went on until the 3 s migration deadline, then was cancelled,
    // and safemig was gone inside the grace period.
    let took = stopped["stop_seconds"].as_f64().unwrap();
    assert!((2.5..10.0).contains(&took), "{report}");
    assert!(
        stopped["migration"]
            .as_str()
            .unwrap()
            .starts_with("interrupted at statement 2 of 5"),
        "{report}"
    );
    assert_eq!(resumed["phase"], "after_migration_stop", "{report}");
    assert_eq!(resumed["migration"], "resumed and finished", "{report}");
    assert_eq!(resumed["exit_code"], 0, "{report}");
    assert_eq!(report["passed"], true, "{report}");

    // The app ran once, on the scratch database: the first start never got to it.
    let urls = std::fs::read_to_string(&saw).unwrap();
    let urls: Vec<&str> = urls.lines().collect();
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert_ne!(urls[0], db.url);
    let scratch = urls[0]
        .rsplit(['/', '?'])
        .find(|part| part.contains("safemig_drill_"))
        .unwrap_or_else(|| panic!("not a scratch database: {}", urls[0]));
    let scratch = scratch.trim_end_matches(".db");
    let left = match kind {
        Kind::Postgres => db.scalar(&format!(
            "SELECT CAST(count(*) AS TEXT) FROM pg_database WHERE datname = '{scratch}'"
        )),
        Kind::Mysql => db.scalar(&format!(
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{scratch}'"
        )),
        Kind::Sqlite => Some(
            (std::env::temp_dir().join(format!("{scratch}.db")).exists() as u8).to_string(),
        ),
    };
    assert_eq!(
        left.as_deref(),
        Some("0"),
        "the scratch database {scratch} is left"
    );
    assert_eq!(db.schema_dump(), schema, "the live database changed");
    assert_eq!(db.history(), history, "the live history changed");
}

crate::for_each_engine!(drill_during_migration);

/// An attempt that never gets to the app says why, in safemig's own words.
#[test]
fn drill_says_why_the_app_never_started() {
    let run = safemig(
        Path::new("."),
        &["drill", "--restarts", "1", "--", "no-such-program-here"],
    )
    .expect(13);
    assert!(
        run.stdout.contains(
            "restart 1: never ready — FAIL: safemig run exited with code 127 before the app was ready: error: cannot start `no-such-program-here`"
        ),
        "{}",
        run.stdout
    );
}

/// Without `--during-migration` the drill does not touch a database: a URL is refused.
#[test]
fn drill_refuses_a_database_without_during_migration() {
    let run = safemig(
        Path::new("."),
        &["drill", "--url", "file:dev.db", "--", "true"],
    )
    .expect(2);
    assert!(
        run.stderr
            .contains("`--url` names the database of `drill --during-migration`"),
        "{}",
        run.stderr
    );
}

fn lint(file: &str) -> Vec<(String, usize, String)> {
    lint_path(&repo(file))
}

/// The findings for a compose file written into a temp folder.
fn lint_text(yaml: &str) -> Vec<(String, usize, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("compose.yaml");
    std::fs::write(&path, yaml).unwrap();
    lint_path(&path)
}

fn lint_path(path: &Path) -> Vec<(String, usize, String)> {
    let run = safemig(
        Path::new("."),
        &["lint", "compose", "--json", path.to_str().unwrap()],
    );
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings: Vec<_> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(
                !f["why"].as_str().unwrap().is_empty() && !f["fix"].as_str().unwrap().is_empty()
            );
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap() as usize,
                f["service"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        run.code,
        if findings.is_empty() { 0 } else { 12 },
        "{}",
        run.stderr
    );
    findings
}

fn rows(expected: &[(&str, usize, &str)]) -> Vec<(String, usize, String)> {
    expected
        .iter()
        .map(|(r, l, s)| (r.to_string(), *l, s.to_string()))
        .collect()
}

/// SM101, the stop budget of `safemig run` against the runtime's grace period: a stop
/// timeout that does not fit what safemig is told, safemig told more than the runtime
/// gives, a longer `stop_grace_period` not declared to safemig, an unreadable one. No
/// flag and compose's default fit as they are.
#[test]
fn lint_grace_period_rule() {
    let file = "tests/fixtures/compose/grace-period.yaml";
    assert_eq!(
        lint(file),
        rows(&[
            ("SM101", 8, "worker"),
            ("SM101", 15, "api"),
            ("SM101", 16, "jobs"),
            ("SM101", 31, "mailer"),
        ])
    );
    lint_says(
        file,
        &[
            "SM101 [worker] `--stop-timeout 20` does not fit the grace period `safemig run` is given (10s, the runtimes' default: none was declared): it refuses to start (exit 2)",
            "fix: leave out --stop-timeout (safemig then stops the app after 8s); or, for a longer stop, give the runtime and safemig the same grace period: stop_grace_period: 22s and SAFEMIG_GRACE_PERIOD: \"22\"",
            "SM101 [api] stop_grace_period 60s is not declared to `safemig run`: it assumes the runtimes' 10s and stops the app after 8s, a running migration statement after 3s",
            "fix: environment: SAFEMIG_GRACE_PERIOD: \"60\"",
            "SM101 [jobs] `safemig run` is told the grace period is 30s (from SAFEMIG_GRACE_PERIOD), but the runtime SIGKILLs after 10s (compose's default: no stop_grace_period)",
            "fix: stop_grace_period: 30s",
        ],
    );
}

/// SM105: an app that can start before its database accepts connections — a plain
/// `depends_on` when the app does not wait itself (`--migrate=off` here; `safemig run`
/// waits by default), or `service_healthy` on a database without a healthcheck.
#[test]
fn lint_depends_on_rule() {
    let file = "tests/fixtures/compose/depends-on.yaml";
    assert_eq!(
        lint(file),
        rows(&[
            ("SM105", 7, "app"),
            ("SM105", 18, "api"),
            ("SM105", 32, "cron")
        ])
    );
    lint_says(
        file,
        &[
            "SM105 [app] `depends_on: db` without `condition: service_healthy`, and the app does not wait for its database",
            "SM105 [api] `depends_on: db` waits for db to be healthy, but db has no healthcheck",
            "fix: on db: healthcheck: { test: [\"CMD\", \"healthcheck.sh\", \"--connect\", \"--innodb_initialized\"], interval: 5s, retries: 20 }",
            "SM105 [cron] `depends_on: pg` without `condition: service_healthy`",
        ],
    );
}

/// The human findings for `file` (exit 12) hold each of `expected`.
fn lint_says(file: &str, expected: &[&str]) {
    let path = repo(file);
    let run = safemig(Path::new("."), &["lint", "compose", path.to_str().unwrap()]).expect(12);
    for expected in expected {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
}

#[test]
fn lint_shell_form_rule() {
    assert_eq!(
        lint("tests/fixtures/compose/shell-form.yaml"),
        rows(&[
            ("SM102", 8, "web"),
            ("SM102", 11, "worker"),
            ("SM102", 17, "legacy")
        ])
    );
}

#[test]
fn lint_init_rule() {
    assert_eq!(
        lint("tests/fixtures/compose/no-init.yaml"),
        rows(&[("SM103", 2, "web"), ("SM103", 8, "api")])
    );
}

#[test]
fn lint_stop_signal_rule() {
    assert_eq!(
        lint("tests/fixtures/compose/stop-signal.yaml"),
        rows(&[("SM104", 7, "web"), ("SM104", 15, "cache")])
    );
}

#[test]
fn lint_passes_the_example_compose_file() {
    assert_eq!(lint("examples/node-app/compose.yaml"), rows(&[]));
    let run = safemig(
        Path::new("."),
        &[
            "lint",
            "compose",
            repo("examples/node-app/compose.yaml").to_str().unwrap(),
        ],
    )
    .expect(0);
    assert!(
        run.stdout.contains("0 findings in 1 file."),
        "{}",
        run.stdout
    );
}

#[test]
fn lint_human_output_and_bad_input() {
    let path = repo("tests/fixtures/compose/shell-form.yaml");
    let run = safemig(Path::new("."), &["lint", "compose", path.to_str().unwrap()]).expect(12);
    assert!(
        run.stdout
            .contains("shell-form.yaml:8: SM102 [web] `command` runs `npm start`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  why: ") && run.stdout.contains("  fix: "),
        "{}",
        run.stdout
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "version: '3'\n").unwrap();
    let run = safemig(tmp.path(), &["lint", "compose", bad.to_str().unwrap()]).expect(2);
    assert!(
        run.stderr.contains("has no `services:` mapping"),
        "{}",
        run.stderr
    );
}

/// `run`, `drill` and `lint compose` apply one rule: a 30 s grace period allows a stop
/// timeout of at most 28 s in all three, and with nothing declared all three assume the
/// runtimes' 10 s (stop timeout 8 s).
#[test]
fn run_drill_and_lint_share_one_stop_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let app = [
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.05; done",
    ];
    for (stop_timeout, fits) in [("28", true), ("29", false)] {
        let code = if fits { 0 } else { 2 };
        let run = safemig(
            tmp.path(),
            &[
                "run",
                "--migrate=off",
                "--grace-period",
                "30",
                "--stop-timeout",
                stop_timeout,
                "--",
                "true",
            ],
        );
        assert_eq!(
            run.code, code,
            "run --stop-timeout {stop_timeout}: {}",
            run.stderr
        );
        let mut args = vec![
            "drill",
            "--restarts",
            "1",
            "--ready-delay",
            "0.1",
            "--grace-period",
            "30",
            "--stop-timeout",
            stop_timeout,
            "--",
        ];
        args.extend(app);
        let drill = safemig(tmp.path(), &args);
        assert_eq!(
            drill.code, code,
            "drill --stop-timeout {stop_timeout}: {}{}",
            drill.stdout, drill.stderr
        );
        let findings = lint_text(&format!(
            "services:\n  app:\n    build: .\n    entrypoint: [\"safemig\", \"run\", \"--stop-timeout\", \"{stop_timeout}\", \"--\"]\n    command: [\"node\", \"server.js\"]\n    environment:\n      SAFEMIG_GRACE_PERIOD: \"30\"\n    stop_grace_period: 30s\n"
        ));
        let expected = if fits {
            rows(&[])
        } else {
            rows(&[("SM101", 4, "app")])
        };
        assert_eq!(findings, expected, "lint --stop-timeout {stop_timeout}");
    }

    let mut args = vec![
        "drill",
        "--restarts",
        "1",
        "--ready-delay",
        "0.1",
        "--json",
        "--",
    ];
    args.extend(app);
    let drill = safemig(tmp.path(), &args).expect(0);
    let report: serde_json::Value = serde_json::from_str(&drill.stdout).unwrap();
    assert_eq!(report["grace_seconds"], 10.0, "{report}");
    assert_eq!(report["stop_timeout_seconds"], 8.0, "{report}");
    // `safemig run --` with compose's default grace period fits as it is.
    assert_eq!(
        lint_text(
            "services:\n  app:\n    build: .\n    entrypoint: [\"safemig\", \"run\", \"--\"]\n    command: [\"node\", \"server.js\"]\n"
        ),
        rows(&[])
    );
}
