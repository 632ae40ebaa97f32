//! A statement that runs long is reported while it runs: which one, for how long, and
//! what the server says of its progress (PostgreSQL's `pg_stat_progress_create_index`,
//! MariaDB's `PROCESSLIST.PROGRESS`), as lines in a pipe and as `--json` events.

use crate::harness::{Kind, Project, TestDb};

const INIT: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);\n";

/// A deploy whose one pending migration runs `slow` over `t`'s rows for about ten
/// seconds; its stderr and stdout.
fn deploy_slow(kind: Kind, setup: &str, slow: &str, json: bool) -> crate::harness::Run {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    db.exec(setup);
    project.write("20240102000000_slow", slow);
    let mut args = vec!["deploy"];
    if json {
        args.push("--json");
    }
    project.safemig(&db, &args).expect(0)
}

/// Each row's index entry sleeps a millisecond or two: 6,000 rows take about ten seconds.
const PG_SETUP: &str = "CREATE FUNCTION slow(i integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql \
     AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN i; END $$;\n\
     INSERT INTO t SELECT g, g FROM generate_series(1, 6000) g;";
const PG_SLOW: &str = "CREATE INDEX t_slow ON t (slow(a));\n";

/// In a pipe, a line every few seconds with the phase PostgreSQL reports and how far
/// the build has got; then the migration is applied as usual.
#[test]
fn postgres_index_build_reports_its_phase_and_progress() {
    let run = deploy_slow(Kind::Postgres, PG_SETUP, PG_SLOW, false);
    let reports: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("Still running after "))
        .collect();
    assert!(!reports.is_empty(), "{}", run.stderr);
    for report in &reports {
        assert!(
            report
                .contains("`20240102000000_slow`: CREATE INDEX: building index: scanning table (")
                && report.contains(" %)"),
            "{report}"
        );
    }
    assert!(
        run.stdout.contains("Applied 20240102000000_slow"),
        "{}",
        run.stdout
    );
}

/// MariaDB reports no progress for an UPDATE: the event still says which statement runs
/// and for how long (`deploy --json`).
#[test]
fn mariadb_long_update_is_reported_in_json() {
    let run = deploy_slow(
        Kind::Mysql,
        "INSERT INTO t SELECT seq, seq FROM seq_1_to_6000;",
        "UPDATE t SET a = a + SLEEP(0.001);\n",
        true,
    );
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["event"] == "still_running")
        .collect();
    assert!(!events.is_empty(), "{}", run.stdout);
    let first = &events[0];
    assert_eq!(first["migration"], "20240102000000_slow", "{first}");
    assert_eq!(first["statement"]["number"], 1, "{first}");
    assert!(first["elapsed_seconds"].as_f64().unwrap() >= 5.0, "{first}");
    assert!(first["phase"].is_null(), "{first}");
}
