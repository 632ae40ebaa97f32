//! `safemig deploy --env NAME` over tenants: 50 PostgreSQL schemas, 20 MariaDB databases
//! and 50 SQLite files, one of them broken. The per-tenant outcomes, exit codes and JSON;
//! `--canary` stopping before the rest; `--on-error stop` and `continue`; a rerun skipping
//! current tenants; `--tenant`; `status` and `drift` over the same selection; the server's
//! lock held once for the whole fan-out; SIGTERM stopping at a safe point.

use serde_json::Value;

use crate::check::Environments;
use crate::deploy::{INIT, POSTS, TAGS};
use crate::harness::{Kind, Project, Run, TestDb};

/// The tenants of one engine, in one environment `fleet` of `envs`.
struct Fleet {
    kind: Kind,
    envs: Environments,
    /// The tenants' names as the report gives them, in the selection's order.
    names: Vec<String>,
    /// A database per tenant, to look inside (MariaDB: the tenants themselves; PostgreSQL:
    /// the database holding the schemas; SQLite: the files).
    dbs: Vec<TestDb>,
    /// The project whose folder the environment deploys: migrations are added to it.
    project: Project,
}

impl Fleet {
    /// `count` tenants of `kind` that do not exist yet or are empty, on a folder holding
    /// INIT and POSTS.
    fn new(kind: Kind, count: usize) -> Fleet {
        let project = Project::new(
            kind,
            &[
                ("20240101000000_init", INIT),
                ("20240102000000_posts", POSTS),
            ],
        );
        let mut envs = Environments::new();
        let (names, dbs) = match kind {
            Kind::Postgres => {
                let db = TestDb::new(kind);
                // Listed, they need not exist: deploy creates a missing schema, as Prisma.
                let names: Vec<String> = (0..count).map(|i| format!("tenant_{i:03}")).collect();
                envs.add(
                    "fleet",
                    &db.url,
                    &project,
                    &format!("tenants = {{ list = {} }}", toml_list(&names)),
                );
                (names, vec![db])
            }
            Kind::Mysql => {
                let dbs: Vec<TestDb> = (0..count).map(|_| TestDb::new(kind)).collect();
                let names: Vec<String> = dbs.iter().map(|d| d.name.clone()).collect();
                envs.add(
                    "fleet",
                    &dbs[0].url,
                    &project,
                    &format!("tenants = {{ list = {} }}", toml_list(&names)),
                );
                (names, dbs)
            }
            Kind::Sqlite => {
                let folder = envs.dir.path().join("tenants");
                std::fs::create_dir(&folder).unwrap();
                let names: Vec<String> =
                    (0..count).map(|i| format!("tenants/t{i:03}.db")).collect();
                let dbs = names
                    .iter()
                    .map(|name| {
                        let path = envs.dir.path().join(name);
                        std::fs::write(&path, b"").unwrap();
                        TestDb::sqlite_file(&path)
                    })
                    .collect();
                envs.raw(&format!(
                    "[environments.fleet]\ndir = \"{}\"\ntenants = {{ files = \"tenants/*.db\" }}\n",
                    project.migrations().display()
                ));
                (names, dbs)
            }
        };
        Fleet {
            kind,
            envs,
            names,
            dbs,
            project,
        }
    }

    /// `safemig deploy --env fleet --json ARGS`, its exit code checked, its report parsed.
    fn deploy(&self, args: &[&str], code: i32) -> Value {
        let mut full = vec!["deploy", "--env", "fleet", "--json"];
        full.extend(args);
        let run = self.envs.run(&full).expect(code);
        let report: Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        assert_eq!(report["exit_code"], code, "{report}");
        report
    }

    fn run(&self, args: &[&str]) -> Run {
        self.envs.run(args)
    }

    /// SQL run in tenant `i` (PostgreSQL: with the tenant's schema first in the path).
    fn exec(&self, i: usize, sql: &str) {
        match self.kind {
            Kind::Postgres => {
                self.dbs[0].exec(&format!("SET search_path TO \"{}\"; {sql}", self.names[i]))
            }
            _ => self.dbs[i].exec(sql),
        }
    }

    /// The finished migrations of tenant `i`, by name.
    fn applied(&self, i: usize) -> Vec<String> {
        let table = match self.kind {
            Kind::Postgres => format!("\"{}\"._prisma_migrations", self.names[i]),
            _ => "_prisma_migrations".into(),
        };
        let db = if self.kind == Kind::Postgres {
            &self.dbs[0]
        } else {
            &self.dbs[i]
        };
        db.rows(&format!(
            "SELECT migration_name FROM {table} WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name"
        ))
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
    }
}

/// Waits (up to a minute) until `done` says yes: a spawned fleet deploy has reached the
/// point a test acts at, however loaded the machine is.
pub(crate) fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited a minute for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl Fleet {
    /// How many PostgreSQL tenant schemas hold table `table` (committed).
    fn tenants_with(&self, table: &str) -> usize {
        self.dbs[0]
            .scalar(&format!(
                "SELECT count(*)::text FROM pg_tables WHERE tablename = '{table}' AND schemaname LIKE 'tenant\\_%'"
            ))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Adds a migration that sleeps `seconds` in each tenant and starts
    /// `deploy --env fleet --jobs JOBS --json`, its output piped.
    fn spawn_slow(&self, seconds: &str, jobs: &str) -> std::process::Child {
        self.project.write(
            "20240103000000_slow",
            &format!("CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep({seconds});\n"),
        );
        self.envs
            .command(&["deploy", "--env", "fleet", "--jobs", jobs, "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Granted holders of Prisma's lock in the tenants' PostgreSQL database.
    fn lock_holders(&self) -> usize {
        self.dbs[0]
            .scalar(
                "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369 AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

fn toml_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `(tenant, outcome)` of each tenant of a fleet report.
fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(report: &Value, outcome: &str) -> u64 {
    report["counts"][outcome].as_u64().unwrap()
}

/// The whole story on one engine, with tenant 3 broken (a `tags` table of its own is in
/// the way of the third migration).
fn fleet_outcomes(kind: Kind, tenants: usize) {
    let fleet = Fleet::new(kind, tenants);
    let n = tenants as u64;

    // From nothing: every tenant gets both migrations.
    let report = fleet.deploy(&[], 0);
    assert_eq!(count(&report, "applied"), n, "{report}");
    assert_eq!(report["environment"], "fleet");
    assert_eq!(report["format_version"], 1);
    let first = &report["tenants"][0];
    assert_eq!(
        first["applied"],
        serde_json::json!(["20240101000000_init", "20240102000000_posts"])
    );
    assert_eq!(outcomes(&report)[0].0, fleet.names[0]);
    // Again: every tenant is current.
    let report = fleet.deploy(&[], 0);
    assert_eq!(count(&report, "current"), n, "{report}");

    let ahead = a_third_migration_tenant_3_cannot_apply(&fleet, kind, tenants);
    canaries_stop_at_the_failure(&fleet, kind, &ahead);

    // --on-error stop (the default) with one job: tenants after the broken one are not
    // reached. Tenants 0-2 and 4 are current now, tenant 3 fails first.
    let report = fleet.deploy(&["--jobs", "1"], 6);
    assert_eq!(report["stopped"], "failure", "{report}");
    assert_eq!(count(&report, "failed"), 1);
    assert_eq!(count(&report, "applied"), 0);
    // Tenant files are opened in turn: 0-2 are found current before 3 fails.
    let unopened = if kind == Kind::Sqlite {
        n - 4
    } else {
        n - 5 - 3
    };
    assert_eq!(count(&report, "not_reached"), unopened, "{report}");

    // --on-error continue: everyone else gets it.
    let report = fleet.deploy(&["--on-error", "continue"], 6);
    assert!(report["stopped"].is_null(), "{report}");
    assert_eq!(count(&report, "failed"), 1);
    assert_eq!(count(&report, "applied"), n - 5 - 3, "{report}");
    assert_eq!(count(&report, "current"), 4 + 3);
    assert_eq!(count(&report, "not_reached"), 0);

    // status over the fleet: one failed or pending tenant is the exit code.
    let run = fleet.run(&["status", "--env", "fleet"]);
    assert!(run.code == 8 || run.code == 5, "{}", run.stdout);
    assert!(run.stdout.contains(&fleet.names[3]), "{}", run.stdout);
    // --tenant selects: tenant 3 alone.
    let only = fleet.names[3].replace("tenants/", "");
    let run = fleet.run(&["status", "--env", "fleet", "--tenant", &only]);
    assert!(run.stdout.contains(&fleet.names[3]), "{}", run.stdout);
    assert!(!run.stdout.contains(&fleet.names[4]), "{}", run.stdout);

    // The human output names the failure and what to run next.
    let run = fleet.run(&["deploy", "--env", "fleet"]).expect(6);
    assert!(
        run.stdout.contains("FAILED (exit 6)") && run.stdout.contains("1 failed"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("next:"), "{}", run.stderr);

    // Repaired by hand: only tenant 3 is deployed; everything converges.
    fleet.exec(3, "DROP TABLE tags");
    let report = fleet.deploy(&["--tenant", &only], 0);
    assert_eq!(
        outcomes(&report),
        vec![(fleet.names[3].clone(), "applied".into())]
    );
    let report = fleet.deploy(&[], 0);
    assert_eq!(count(&report, "current"), n, "{report}");
    for i in 0..tenants {
        assert_eq!(fleet.applied(i).len(), 3, "{}", fleet.names[i]);
    }
    fleet.run(&["status", "--env", "fleet"]).expect(0);
    fleet.run(&["check", "--tenant", &only]).expect(0);
}

/// Adds a third migration that tenant 3 cannot apply (a `tags` table of its own is in the
/// way), and applies it by hand in the last three tenants, recorded later than the
/// others: they are ahead. Returns them.
fn a_third_migration_tenant_3_cannot_apply(
    fleet: &Fleet,
    kind: Kind,
    tenants: usize,
) -> Vec<usize> {
    fleet.project.write("20240103000000_tags", TAGS);
    // As written for this engine.
    let tags = std::fs::read_to_string(
        fleet
            .project
            .migrations()
            .join("20240103000000_tags/migration.sql"),
    )
    .unwrap();
    fleet.exec(3, "CREATE TABLE tags (other_id INTEGER)");
    let ahead: Vec<usize> = (tenants - 3..tenants).collect();
    for &i in &ahead {
        fleet.exec(i, &tags);
        let table = if kind == Kind::Postgres {
            format!("\"{}\"._prisma_migrations", fleet.names[i])
        } else {
            "_prisma_migrations".into()
        };
        let db = if kind == Kind::Postgres {
            &fleet.dbs[0]
        } else {
            &fleet.dbs[i]
        };
        // Later than the other rows, whatever the server's time zone.
        let now = if kind == Kind::Sqlite {
            "1900000000000"
        } else {
            "'2030-01-01 00:00:00'"
        };
        let checksum = safemig::checksum::checksum(&tags);
        db.exec(&format!(
            "INSERT INTO {table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) \
             VALUES ('ahead-{i}', '{checksum}', {now}, '20240103000000_tags', NULL, NULL, {now}, 1)"
        ));
    }
    ahead
}

/// With `--canary 5`, the failure of tenant 3 stops the deploy once the other canaries
/// finish: tenants `ahead` are current, nobody else is reached.
fn canaries_stop_at_the_failure(fleet: &Fleet, kind: Kind, ahead: &[usize]) {
    // Canaries: the first 5 tenants that need the migration, tenant 3 among them. It
    // fails, the other canaries finish, nobody else is started. Tenant files have no
    // shared catalog: one already ahead is only known current once opened.
    let report = fleet.deploy(&["--canary", "5"], 6);
    assert_eq!(report["stopped"], "canary", "{report}");
    let got = outcomes(&report);
    for (i, (tenant, outcome)) in got.iter().enumerate() {
        let expected = match i {
            3 => "failed",
            0..5 => "applied",
            _ if ahead.contains(&i) && kind != Kind::Sqlite => "current",
            _ => "not_reached",
        };
        assert_eq!(outcome, expected, "{tenant}: {report}");
        assert_eq!(report["tenants"][i]["canary"], i < 5, "{tenant}");
    }
    let broken = &report["tenants"][3];
    assert_eq!(broken["exit_code"], 6);
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("20240103000000_tags"),
        "{broken}"
    );
    assert_eq!(
        fleet.applied(10).len(),
        2,
        "a tenant not reached is untouched"
    );
}

#[test]
fn postgres_50_schemas() {
    fleet_outcomes(Kind::Postgres, 50);
}

#[test]
fn mysql_20_databases() {
    fleet_outcomes(Kind::Mysql, 20);
}

#[test]
fn sqlite_50_files() {
    fleet_outcomes(Kind::Sqlite, 50);
}

/// Drift over tenants compares each with the folder; a tenant changed by hand is the
/// one that drifted.
#[test]
fn drift_over_tenants() {
    let fleet = Fleet::new(Kind::Postgres, 5);
    fleet.deploy(&[], 0);
    fleet.run(&["drift", "--env", "fleet"]).expect(0);
    fleet.exec(2, "CREATE TABLE by_hand (id INTEGER)");
    let run = fleet.run(&["drift", "--env", "fleet", "--json"]).expect(14);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let states: Vec<&str> = report["environments"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "up_to_date",
            "up_to_date",
            "drift",
            "up_to_date",
            "up_to_date"
        ]
    );
}

/// The fan-out over one server's tenants holds Prisma's lock once, on its own
/// connection, for the whole run: a `safemig deploy` of one tenant meanwhile waits, and
/// gives up (exit 4) or gets the lock only after the fleet released it.
#[test]
fn postgres_lock_is_held_once_for_the_fan_out() {
    let fleet = Fleet::new(Kind::Postgres, 8);
    fleet.deploy(&[], 0);
    let mut child = fleet.spawn_slow("1", "2");
    // Mid-run: two tenants done, six to go (three more seconds at least).
    wait_until("the first tenants", || fleet.tenants_with("slow") >= 1);
    let holders = fleet.lock_holders();
    let tenant_url = format!("{}?schema={}", fleet.dbs[0].url, fleet.names[7]);
    let dir = fleet.project.migrations();
    let single = fleet.run(&[
        "deploy",
        "--url",
        &tenant_url,
        "--dir",
        dir.to_str().unwrap(),
        "--lock-timeout",
        "1",
    ]);
    // The single deploy got the lock only once the fleet had let it go: it gave up (4),
    // or it waited while the fleet's holder visibly worked and ran after it.
    let fleet_done = child.try_wait().unwrap().is_some();
    let status = child.wait().unwrap();
    assert_eq!(holders, 1);
    assert!(
        single.code == 4 || (single.code == 0 && fleet_done),
        "exit {}, fleet done: {fleet_done}\n{}",
        single.code,
        single.stderr
    );
    assert_eq!(status.code(), Some(0));
    assert_eq!(fleet.applied(7).len(), 3);
}

/// SIGTERM: no new tenant starts, running ones stop at a safe point (exit 11); the next
/// run finishes the rest.
#[test]
fn sigterm_stops_starting_tenants() {
    let fleet = Fleet::new(Kind::Postgres, 10);
    fleet.deploy(&[], 0);
    let child = fleet.spawn_slow("1", "2");
    wait_until("the first tenant", || fleet.tenants_with("slow") >= 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let run = crate::harness::to_run(child.wait_with_output().unwrap());
    assert_eq!(run.code, 11, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["stopped"], "signal", "{report}");
    assert_eq!(count(&report, "failed"), 0, "{report}");
    assert!(count(&report, "not_reached") > 0, "{report}");
    assert!(count(&report, "applied") >= 1, "{report}");
    let report = fleet.deploy(&[], 0);
    assert_eq!(
        count(&report, "applied") + count(&report, "current"),
        10,
        "{report}"
    );
    for i in 0..10 {
        assert_eq!(fleet.applied(i).len(), 3);
    }
}

/// Fleet options on one database, and `--tenant` without `--env`, are usage errors.
#[test]
fn fleet_options_need_tenants() {
    let fleet = Fleet::new(Kind::Sqlite, 2);
    let db = TestDb::new(Kind::Sqlite);
    let run = fleet
        .project
        .safemig(&db, &["deploy", "--canary", "1"])
        .expect(2);
    assert!(run.stderr.contains("--canary"), "{}", run.stderr);
    let run = fleet
        .project
        .safemig(&db, &["status", "--tenant", "x"])
        .expect(2);
    assert!(run.stderr.contains("--env"), "{}", run.stderr);
    let run = fleet
        .run(&["deploy", "--env", "fleet", "--tenant", "nobody"])
        .expect(2);
    assert!(
        run.stderr.contains("no tenant matches --tenant nobody"),
        "{}",
        run.stderr
    );
    // One tenant, for a command that works on one database.
    fleet.deploy(&[], 0);
    fleet
        .run(&["snapshot", "--env", "fleet", "--tenant", "t001"])
        .expect(0);
    let run = fleet
        .run(&["snapshot", "--env", "fleet", "--tenant", "t*"])
        .expect(2);
    assert!(run.stderr.contains("matches 2 files"), "{}", run.stderr);
}

/// Connections go from tenant to tenant: what one tenant's migration leaves in the
/// session (a temporary table, a `search_path`) must not reach the next, and each
/// tenant's tables land in its own schema.
#[test]
fn postgres_reused_connections_start_clean() {
    let fleet = Fleet::new(Kind::Postgres, 3);
    fleet.project.write(
        "20240103000000_session",
        "CREATE TEMP TABLE scratch (id INTEGER);\nSET search_path TO public;\n",
    );
    fleet.project.write(
        "20240104000000_after",
        "CREATE TABLE after_reset (id INTEGER);\n",
    );
    let report = fleet.deploy(&["--jobs", "1"], 0);
    assert_eq!(count(&report, "applied"), 3, "{report}");
    for (i, name) in fleet.names.iter().enumerate() {
        assert_eq!(fleet.applied(i).len(), 4, "{name}");
        let found = fleet.dbs[0].scalar(&format!(
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = '{name}' AND tablename = 'after_reset'"
        ));
        assert_eq!(found.as_deref(), Some("1"), "{name}");
    }
    let stray = fleet.dbs[0].scalar(
        "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public' AND tablename = 'after_reset'",
    );
    assert_eq!(stray.as_deref(), Some("0"));
}

/// The holder's session ends mid-run (a person's `pg_terminate_backend`, a server's idle
/// timeout): the lock is gone, so no further tenant starts (exit 4, `stopped: lock_lost`);
/// the rerun finishes the rest.
#[test]
fn postgres_lost_lock_stops_new_tenants() {
    let fleet = Fleet::new(Kind::Postgres, 12);
    fleet.deploy(&[], 0);
    let child = fleet.spawn_slow("0.5", "1");
    wait_until("the first tenant", || fleet.tenants_with("slow") >= 1);
    let terminated = fleet.dbs[0].scalar(
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_locks WHERE locktype = 'advisory' \
         AND objid = 72707369 AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert_eq!(terminated.as_deref(), Some("1"));
    let run = crate::harness::to_run(child.wait_with_output().unwrap());
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["stopped"], "lock_lost", "{report}");
    assert_eq!(count(&report, "failed"), 0, "{report}");
    assert!(count(&report, "applied") >= 1, "{report}");
    assert!(count(&report, "not_reached") >= 1, "{report}");
    let report = fleet.deploy(&[], 0);
    assert!(count(&report, "current") >= 1, "{report}");
    for i in 0..12 {
        assert_eq!(fleet.applied(i).len(), 3);
    }
}

/// A tenant whose table the app holds: its deploy retries its lock wait, each retry a line
/// on stderr naming the tenant, while the other tenants deploy; it completes once the
/// app's transaction ends.
#[test]
fn postgres_tenant_lock_wait_retries_are_reported() {
    use std::io::BufRead;
    let fleet = Fleet::new(Kind::Postgres, 3);
    fleet.deploy(&[], 0);
    fleet.project.write(
        "20240103000000_y",
        "ALTER TABLE posts ADD COLUMN y INTEGER;\n",
    );
    let held = &fleet.names[1];
    let holder = crate::lock_safety::hold_table(&fleet.dbs[0], &format!("\"{held}\".posts"));
    let mut child = fleet
        .envs
        // Bounded: without a retry line, the test fails when the retries run out.
        .command(&[
            "deploy",
            "--env",
            "fleet",
            "--json",
            "--table-lock-wait",
            "1",
            "--table-lock-retry-for",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    let retry = format!("Tenant `{held}`: Lock wait: 20240103000000_y");
    for line in stderr.lines().map_while(Result::ok) {
        let seen = line.starts_with(&retry);
        lines.push(line);
        if seen {
            break;
        }
    }
    crate::lock_safety::end(holder);
    let output = child.wait_with_output().unwrap();
    assert!(lines.iter().any(|l| l.starts_with(&retry)), "{lines:?}");
    assert_eq!(output.status.code(), Some(0), "{lines:?}");
    for i in 0..3 {
        assert_eq!(fleet.applied(i).len(), 3, "tenant {i}");
    }
}
