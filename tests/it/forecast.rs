//! `safemig forecast` on live tables: each pending statement's effect, lock and size from
//! the real server's statistics, the verdict against the budget, and advice that runs.

use crate::for_each_engine;
use crate::harness::{Kind, PASSWORD, Project, Run, TestDb, run_as_printed, safemig, to_run};
use crate::journeys::next_commands;

/// Rows in the table the pending migration changes.
const ROWS: u64 = 200_000;

fn create(kind: Kind) -> &'static str {
    match kind {
        Kind::Mysql => {
            "CREATE TABLE `t` (`id` INTEGER NOT NULL, `y` INTEGER NOT NULL, PRIMARY KEY (`id`));"
        }
        _ => r#"CREATE TABLE "t" ("id" INTEGER NOT NULL PRIMARY KEY, "y" INTEGER NOT NULL);"#,
    }
}

/// A column added (catalog only on every engine), then the table copied: a type change on
/// the servers, a dropped column on SQLite.
fn change(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            r#"ALTER TABLE "t" ADD COLUMN "z" INTEGER;
ALTER TABLE "t" ALTER COLUMN "y" SET DATA TYPE BIGINT;"#
        }
        Kind::Mysql => {
            "ALTER TABLE `t` ADD COLUMN `z` INTEGER NULL;\nALTER TABLE `t` MODIFY `y` BIGINT NOT NULL;"
        }
        Kind::Sqlite => {
            r#"ALTER TABLE "t" ADD COLUMN "z" INTEGER;
ALTER TABLE "t" DROP COLUMN "y";"#
        }
    }
}

/// Fills `t` with [`ROWS`] rows and refreshes the server's statistics, as a live table's are.
fn fill(db: &TestDb, kind: Kind) {
    let sql = match kind {
        Kind::Postgres => format!(
            r#"INSERT INTO "t" SELECT g, g FROM generate_series(1, {ROWS}) g; ANALYZE "t";"#
        ),
        Kind::Mysql => {
            format!("INSERT INTO `t` SELECT seq, seq FROM seq_1_to_{ROWS}; ANALYZE TABLE `t`;")
        }
        Kind::Sqlite => format!(
            r#"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {ROWS})
               INSERT INTO "t" SELECT x, x FROM c;"#
        ),
    };
    db.exec(&sql);
}

/// A database with `t` deployed (empty), and its project.
fn deployed(kind: Kind) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[("20240101000000_init", create(kind))]);
    project.safemig(&db, &["deploy"]).expect(0);
    (db, project)
}

fn a_copy_of_a_large_table_exceeds_the_budget(kind: Kind) {
    let (db, project) = deployed(kind);
    fill(&db, kind);
    project.write("20240102000000_change", change(kind));

    let run = project
        .safemig(&db, &["forecast", "--json", "--budget", "0.05"])
        .expect(16);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["verdict"], "exceeds", "{json:#}");
    assert_eq!(json["budget_ms"], 50);
    let migrations = json["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 1, "only the pending one: {json:#}");
    assert_eq!(migrations[0]["name"], "20240102000000_change");
    let statements = migrations[0]["statements"].as_array().unwrap();
    let (add, copy) = (&statements[0], &statements[1]);
    assert_eq!(
        (&add["effect"], &add["line"], &copy["effect"], &copy["line"]),
        (&"metadata".into(), &1.into(), &"rewrite".into(), &2.into()),
        "{json:#}"
    );
    assert_eq!(copy["lock"]["tables"], serde_json::json!(["t"]));
    // The server's own statistics: estimates on PostgreSQL and InnoDB, a count on SQLite.
    let rows = copy["rows"].as_u64().unwrap();
    assert!((ROWS / 2..=ROWS * 2).contains(&rows), "rows {rows}");
    let bytes = copy["bytes"].as_u64().unwrap();
    assert!(bytes > ROWS * 8, "bytes {bytes}");
    assert!(
        copy["estimate_ms"]["high"].as_u64() > add["estimate_ms"]["high"].as_u64(),
        "{json:#}"
    );

    // The same forecast fits an hour.
    let fits = project
        .safemig(&db, &["forecast", "--budget", "3600"])
        .expect(0);
    assert!(fits.stdout.contains("fits the budget"), "{}", fits.stdout);

    // Over budget, the advice names the statement and runs as printed, to the same database.
    let over = project
        .safemig(&db, &["forecast", "--budget", "0.05"])
        .expect(16);
    assert!(
        over.stdout
            .contains("statement 2 of 20240102000000_change (line 2)"),
        "{}",
        over.stdout
    );
    let next = next_commands(&over);
    assert_eq!(next.len(), 1, "{}", over.stdout);
    run_as_printed(project.dir.path(), &next[0], &[("DATABASE_URL", &db.url)]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    let after = project.safemig(&db, &["forecast"]).expect(0);
    assert!(
        after.stdout.contains("No pending migrations"),
        "{}",
        after.stdout
    );
}

fn nothing_pending_on_a_new_database_fits(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", create(kind)),
            ("20240102000000_change", change(kind)),
        ],
    );
    // Before the first deploy every migration is pending and every table empty.
    let run = project.safemig(&db, &["forecast", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["verdict"], "fits", "{json:#}");
    assert_eq!(json["migrations"].as_array().unwrap().len(), 2);
    assert_eq!(json["throughput"]["source"], "default");
}

for_each_engine!(
    a_copy_of_a_large_table_exceeds_the_budget,
    nothing_pending_on_a_new_database_fits,
);

/// A statement whose effect the text does not tell (a `DO` block) matters once its
/// database holds rows: exit 17, not a guess.
#[test]
fn an_unknown_effect_matters_only_where_rows_are() {
    let kind = Kind::Postgres;
    let (db, project) = deployed(kind);
    project.write(
        "20240102000000_backfill",
        r#"DO $$ BEGIN UPDATE "t" SET "y" = 0; END $$;"#,
    );
    // The forecast reads the planner's statistics: a table never vacuumed nor analysed
    // may hold rows as far as it knows. Autovacuum keeps a live table's current.
    db.exec(r#"VACUUM ANALYZE "t""#);
    project
        .safemig(&db, &["forecast", "--budget", "3600"])
        .expect(0);
    fill(&db, kind);
    let run = project
        .safemig(&db, &["forecast", "--budget", "3600"])
        .expect(17);
    assert!(run.stdout.contains("UNKNOWN"), "{}", run.stdout);
}

/// The incident's case, at the runtimes' default grace period of 10 s (3 s for a migration
/// once a stop comes): a pending rewrite of a table large enough to be forecast over that
/// is refused at start-up — the app is not started and nothing is applied, so no stop can
/// catch it mid-migration — and the printed advice, a `safemig deploy` job, applies it;
/// then the app starts. `--forecast=warn` migrates anyway.
///
/// The table has 8 million rows (the rewrite takes about 5 s here, and the forecast,
/// with the throughputs it measures on the server, puts it over the budget), or
/// `SAFEMIG_SEED_ROWS`: CONTRIBUTING.md records a run at 40 million, where it takes about
/// 30 s, as in the incident.
#[test]
fn run_refuses_a_migration_forecast_to_outlast_the_stop_budget() {
    let kind = Kind::Postgres;
    let (db, project) = deployed(kind);
    let rows: u64 = std::env::var("SAFEMIG_SEED_ROWS").map_or(8_000_000, |r| r.parse().unwrap());
    db.exec(&format!(
        r#"INSERT INTO "t" SELECT g, g FROM generate_series(1, {rows}) g; ANALYZE "t";"#
    ));
    project.write("20240102000000_change", change(kind));
    let marker = project.dir.path().join("app-started");
    let app = format!("touch '{}'", marker.display());
    let start = |policy: &str| {
        project.safemig(
            &db,
            &[
                "run",
                "--grace-period",
                "10",
                policy,
                "--",
                "sh",
                "-c",
                &app,
            ],
        )
    };

    let refused = start("--forecast=refuse").expect(16);
    for part in [
        "statement 2 of 20240102000000_change (line 2, rewrite",
        "over the 3.0 s a stop leaves a migration",
        "The app was not started and nothing was applied",
    ] {
        assert!(refused.stderr.contains(part), "{part}:\n{}", refused.stderr);
    }
    assert!(!marker.exists(), "the app started");
    assert_eq!(db.history().len(), 1, "nothing was applied");

    let next = next_commands(&refused);
    assert_eq!(next.len(), 1, "{}", refused.stderr);
    assert!(next[0].starts_with("safemig deploy"), "{}", next[0]);
    let job = std::time::Instant::now();
    run_as_printed(project.dir.path(), &next[0], &[("DATABASE_URL", &db.url)]).expect(0);
    eprintln!(
        "{rows} rows: refused with {:?}; the advised job took {:.1?}",
        refused.stderr.lines().find(|l| l.contains("estimated")),
        job.elapsed()
    );
    start("--forecast=refuse").expect(0);
    assert!(marker.exists(), "the app started once nothing was pending");
}

/// `--forecast=warn` says so and migrates at start-up anyway.
#[test]
fn run_with_forecast_warn_migrates_anyway() {
    let kind = Kind::Sqlite;
    let (db, project) = deployed(kind);
    fill(&db, kind);
    project.write("20240102000000_change", change(kind));
    // A grace period of 7 s leaves a migration nothing once a stop comes.
    let run = project
        .safemig(
            &db,
            &[
                "run",
                "--grace-period",
                "7",
                "--forecast=warn",
                "--",
                "true",
            ],
        )
        .expect(0);
    assert!(
        run.stderr.contains("migrating anyway (--forecast=warn)"),
        "{}",
        run.stderr
    );
    project.safemig(&db, &["status"]).expect(0);
}

/// A migration whose work the default throughputs put over a second on [`ROWS`] rows (an
/// index build, every row updated, the table copied): worth measuring the server for.
fn work(kind: Kind) -> String {
    let update = match kind {
        Kind::Mysql => "CREATE INDEX `t_y_idx` ON `t`(`y`);\nUPDATE `t` SET `y` = `y` + 1;",
        _ => "CREATE INDEX \"t_y_idx\" ON \"t\"(\"y\");\nUPDATE \"t\" SET \"y\" = \"y\" + 1;",
    };
    format!("{update}\n{}", change(kind))
}

/// The throwaway tables a measurement left in `db`.
fn samples_left(db: &TestDb, kind: Kind) -> String {
    let query = match kind {
        Kind::Mysql => {
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_NAME LIKE '\\_safemig\\_calibration%'"
        }
        _ => "SELECT count(*)::text FROM pg_class WHERE relname LIKE '\\_safemig\\_calibration%'",
    };
    db.scalar(query).unwrap_or_default()
}

/// The throughputs are measured on the server when the pending work could matter, then
/// read from the cache (measured again with `--no-cache`), and the measurement leaves no
/// table behind; on MariaDB it also drops one a killed measurement left.
fn throughputs_are_measured_on_the_server_and_reused(kind: Kind) {
    let (db, project) = deployed(kind);
    fill(&db, kind);
    project.write("20240102000000_work", &work(kind));
    if kind == Kind::Mysql {
        // A connection id no server hands out soon: a measurement killed long ago.
        db.exec("CREATE TABLE `_safemig_calibration_4000000000` (`id` INTEGER PRIMARY KEY)");
    }
    let cache = tempfile::tempdir().unwrap();
    let forecast = |extra: &[&str]| {
        let mut args = vec!["forecast", "--budget", "3600"];
        args.extend(extra);
        let mut command = project.command(&db, &args);
        command.env("SAFEMIG_CACHE_DIR", cache.path());
        to_run(command.output().unwrap()).expect(0)
    };
    let throughput = |run: &Run| -> serde_json::Value {
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        json["throughput"].clone()
    };

    let first = forecast(&["--json"]);
    let measured = throughput(&first);
    assert_eq!(
        measured["source"], "measured",
        "{measured:#}\n{}",
        first.stderr
    );
    assert_eq!(measured["sample_rows"], 100_000);
    for rate in ["rewrite", "index_build", "scan", "data", "foreign_key"] {
        let rate = measured[format!("{rate}_bytes_per_s")].as_f64().unwrap();
        assert!(rate > 1e5, "{measured:#}");
    }
    assert_eq!(samples_left(&db, kind), "0", "the measurement left a table");
    let entries = std::fs::read_dir(cache.path().join("throughput")).unwrap();
    assert_eq!(entries.count(), 1);

    let cached = throughput(&forecast(&["--json"]));
    assert_eq!(cached["source"], "cached", "{cached:#}");
    assert_eq!(cached["data_bytes_per_s"], measured["data_bytes_per_s"]);
    assert_eq!(cached["measured_at"], measured["measured_at"]);
    let table = forecast(&[]);
    assert!(
        table
            .stdout
            .contains("(Throughputs: measured on this server at ")
            && table.stdout.contains(", from safemig's cache.)"),
        "{}",
        table.stdout
    );

    let again = throughput(&forecast(&["--json", "--no-cache"]));
    assert_eq!(again["source"], "measured", "{again:#}");
    assert_ne!(again["measured_at"], measured["measured_at"]);
}

/// A PostgreSQL login that may not create tables (a read-only monitoring login) gets a
/// forecast with the default throughputs, and a warning that says why.
#[test]
fn postgres_a_login_that_may_not_measure_gets_the_defaults() {
    let kind = Kind::Postgres;
    let (db, project) = deployed(kind);
    fill(&db, kind);
    project.write("20240102000000_work", &work(kind));
    let reader = format!("reader_{}", db.name);
    db.exec(&format!(
        "CREATE ROLE {reader} LOGIN PASSWORD '{PASSWORD}' NOCREATEDB; \
         ALTER ROLE {reader} SET default_transaction_read_only = on; \
         GRANT USAGE ON SCHEMA public TO {reader}; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};"
    ));
    let read_only = db.url.replacen("postgres:", &format!("{reader}:"), 1);
    let dir = project.migrations();
    let run = safemig(
        project.dir.path(),
        &[
            "--url",
            &read_only,
            "--dir",
            dir.to_str().unwrap(),
            "forecast",
            "--json",
            "--budget",
            "3600",
        ],
    )
    .expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["throughput"]["source"], "default", "{json:#}");
    assert!(
        run.stderr
            .contains("cannot measure the server's speed, so the forecast assumes default"),
        "{}",
        run.stderr
    );
    assert_eq!(samples_left(&db, kind), "0");
}

#[test]
fn postgres_throughputs_are_measured_on_the_server_and_reused() {
    throughputs_are_measured_on_the_server_and_reused(Kind::Postgres);
}

#[test]
fn mysql_throughputs_are_measured_on_the_server_and_reused() {
    throughputs_are_measured_on_the_server_and_reused(Kind::Mysql);
}
