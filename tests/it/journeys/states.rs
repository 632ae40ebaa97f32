//! The broken states, each followed to healthy on every engine.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{FIRST, FOUR, INIT, Journey, SECOND, Step, containing, first, next_commands};
use crate::for_each_engine;
use crate::harness::{Kind, TestDb, to_run};
use crate::repair::fail_after;

/// A database with `FIRST` deployed and `SECOND` half-applied under Prisma's failed row:
/// its first `k` statements ran, then the process died.
fn half_applied(kind: Kind, k: usize) -> Journey {
    let journey = Journey::new(kind, &[(FIRST, INIT)]);
    journey.safemig("safemig deploy --env staging").expect(0);
    journey.write(SECOND, FOUR);
    fail_after(&journey.staging, SECOND, FOUR, k);
    journey
}

/// Prisma's failed row over 2 of 4 statements: `status` names `repair`, which proves
/// `partial 2 of 4` and finishes the rest.
fn prisma_failed_row(kind: Kind) {
    let journey = half_applied(kind, 2);
    let steps = journey.follow("safemig status --env staging", 4, &containing("--finish"));
    assert_eq!(steps[0].run.code, 5, "{}", super::transcript(&steps));
    assert_eq!(
        steps[1].command,
        format!("safemig repair {SECOND} --env staging")
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "prisma_failed_row", &steps);
}

/// The same, choosing to undo the applied statements: then deploy applies the migration
/// again.
fn prisma_failed_row_rolled_back(kind: Kind) {
    let journey = half_applied(kind, 2);
    let steps = journey.follow(
        "safemig status --env staging",
        4,
        &|commands: &[String]| {
            commands
                .iter()
                .position(|c| c.contains("--roll-back"))
                .unwrap_or(0)
        },
    );
    assert!(
        steps.iter().any(|s| s.command.contains("--roll-back")),
        "{}",
        super::transcript(&steps)
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "prisma_failed_row_rolled_back", &steps);
}

/// The seed's blind fix: `finished_at` set by hand over a half-applied migration. `status`
/// cannot see it (the rows say done); `check`, which compares the schema with the folder,
/// sends the person to `repair`, which finds the row and finishes the migration.
fn blind_finished_at(kind: Kind) {
    let journey = half_applied(kind, 2);
    let now = match kind {
        Kind::Postgres => "now()",
        Kind::Mysql => "NOW(3)",
        Kind::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER) * 1000",
    };
    journey.staging.exec(&format!(
        "UPDATE _prisma_migrations SET finished_at = {now} WHERE finished_at IS NULL"
    ));
    journey.safemig("safemig status --env staging").expect(0);
    let steps = journey.follow("safemig check --env staging", 4, &containing("--finish"));
    assert_eq!(steps[0].run.code, 14, "{}", super::transcript(&steps));
    journey.assert_healthy(&steps);
    super::snapshot(kind, "blind_finished_at", &steps);
}

/// A failed row marked rolled back (the old advice) over a half-applied migration: deploy
/// fails on what is already there, recognises it, and sends the person to `repair`.
fn rolled_back_over_half_applied(kind: Kind) {
    let journey = half_applied(kind, 2);
    journey
        .safemig(&format!(
            "safemig resolve --rolled-back {SECOND} --env staging"
        ))
        .expect(0);
    let steps = journey.follow("safemig status --env staging", 4, &containing("--finish"));
    assert_eq!(
        steps[0].run.code,
        8,
        "pending: {}",
        super::transcript(&steps)
    );
    let deploy = steps
        .iter()
        .find(|s| s.command.starts_with("safemig deploy"))
        .expect("status sends the person to deploy");
    assert_eq!(deploy.run.code, 5, "{}", super::transcript(&steps));
    assert!(
        !deploy.run.stderr.contains("fix "),
        "deploy advised editing a correct file:\n{}",
        deploy.run.stderr
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "rolled_back_over_half_applied", &steps);
}

/// The target named by a URL in a variable: the commands carry `--url "$STAGING_URL"`.
fn failed_row_by_url(kind: Kind) {
    let journey = half_applied(kind, 2);
    let steps = journey.follow(
        "safemig status --url \"$STAGING_URL\"",
        4,
        &containing("--finish"),
    );
    assert!(
        steps[1..]
            .iter()
            .all(|s| s.command.contains("--url \"$STAGING_URL\"")),
        "every command names the database as the person did: {}",
        super::transcript(&steps)
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "failed_row_by_url", &steps);
}

/// A backup restored from a database that held Prisma's failed row.
fn restored_backup_with_a_failed_row(kind: Kind) {
    let mut journey = half_applied(kind, 1);
    let restored = TestDb::restored_from_dump(&journey.staging);
    journey.var("STAGING_URL", &restored.url);
    journey.staging = restored;
    let steps = journey.follow("safemig status --env staging", 4, &containing("--finish"));
    journey.assert_healthy(&steps);
    super::snapshot(kind, "restored_backup_with_a_failed_row", &steps);
}

/// A branch merge: `C` deployed, then `B` (named before it) merged and deployed. Deploy
/// applies it, as Prisma does, and `status` must not condemn what deploy chose.
fn branch_merge(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT)]);
    journey.write(
        "20240103000000_c",
        "CREATE TABLE c (id INTEGER PRIMARY KEY);\n",
    );
    journey.safemig("safemig deploy --env staging").expect(0);
    journey.write(
        "20240102000000_b",
        "CREATE TABLE b (id INTEGER PRIMARY KEY);\n",
    );
    let steps = journey.follow("safemig deploy --env staging", 4, &first);
    assert_eq!(steps.len(), 1, "{}", super::transcript(&steps));
    journey.assert_healthy(&steps);
    super::snapshot(kind, "branch_merge", &steps);
    let status = journey.safemig("safemig status --env staging").expect(0);
    assert!(status.stdout.contains("branch merge"), "{}", status.stdout);
    journey
        .safemig("safemig status --env staging --strict")
        .expect(7);
}

/// SIGTERM while a migration runs (the container runtime stopping the app mid-deploy):
/// deploy stops at a safe point, exits 11 and names the deploy that finishes the job.
fn sigterm_mid_migration(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT)]);
    journey.safemig("safemig deploy --env staging").expect(0);
    let sleep = match kind {
        Kind::Postgres => "SELECT pg_sleep(3)",
        Kind::Mysql => "DO SLEEP(3)",
        Kind::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) FROM c"
        }
    };
    journey.write(
        SECOND,
        &format!("CREATE TABLE a (id INTEGER PRIMARY KEY);\n{sleep};\nCREATE TABLE c (id INTEGER PRIMARY KEY);\n"),
    );
    let line = "safemig deploy --env staging";
    let mut child = journey
        .command(line)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once deploy has connected (its first line), mid-migration or just before it.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("database:") {
        let mut byte = [0u8; 1];
        if stdout.read(&mut byte).unwrap() == 0 {
            break;
        }
        seen.push(byte[0]);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deploy never connected"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let mut output = child.wait_with_output().unwrap();
    seen.extend(output.stdout);
    output.stdout = seen;
    let run = to_run(output).expect(11);
    assert!(
        next_commands(&run).contains(&line.to_string()),
        "{}",
        run.stderr
    );
    let steps = journey.follow_from(
        Step {
            command: line.into(),
            run,
        },
        4,
        &first,
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "sigterm_mid_migration", &steps);
}

/// A migration.sql edited after it was applied (a comment added): `status` notes it and
/// names `repair`, which finds the schema is what the file makes and records the file as
/// it is now.
fn edited_migration(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT), (SECOND, FOUR)]);
    journey.safemig("safemig deploy --env staging").expect(0);
    journey.write(SECOND, &format!("-- Reviewed: indexes stay.\n{FOUR}"));
    let steps = journey.follow("safemig status --env staging", 4, &first);
    assert_eq!(steps[0].run.code, 0, "{}", super::transcript(&steps));
    assert_eq!(
        steps[1].command,
        format!("safemig repair {SECOND} --env staging")
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "edited_migration", &steps);
    let status = journey
        .safemig("safemig status --env staging --strict")
        .expect(0);
    assert!(!status.stdout.contains("modified"), "{}", status.stdout);
}

/// A migration edited after it was applied, with another applied after it (a comment
/// added to the first migration): repair cannot replay it alone, but the whole schema is
/// what the folder's applied migrations make, so the file is recorded as it is now.
fn edited_migration_before_others(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT), (SECOND, FOUR)]);
    journey.safemig("safemig deploy --env staging").expect(0);
    journey.write(FIRST, &format!("-- Reviewed.\n{INIT}"));
    let steps = journey.follow("safemig status --env staging", 4, &first);
    assert_eq!(
        steps[1].command,
        format!("safemig repair {FIRST} --env staging"),
        "{}",
        super::transcript(&steps)
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "edited_migration_before_others", &steps);
    let status = journey
        .safemig("safemig status --env staging --strict")
        .expect(0);
    assert!(!status.stdout.contains("modified"), "{}", status.stdout);
}

/// A migration folder without its migration.sql (P3015): the hint's deletion runs as
/// printed, and the person looks again and deploys.
fn migration_sql_missing(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT)]);
    std::fs::create_dir_all(journey.migrations().join("20240105000000_lost")).unwrap();
    let steps = journey.follow("safemig status --env staging", 4, &containing("rm -r"));
    assert_eq!(steps[0].run.code, 2, "{}", super::transcript(&steps));
    journey.assert_healthy(&steps);
    super::snapshot(kind, "migration_sql_missing", &steps);
}

/// A failed migration whose schema cannot show whether a data statement ran: the person
/// decides from the data, by running the command for what they found.
fn ambiguous_data_statement(kind: Kind) {
    let journey = Journey::new(kind, &[(FIRST, INIT)]);
    journey.safemig("safemig deploy --env staging").expect(0);
    let with_data = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                     INSERT INTO a (id) VALUES (1);\n\
                     CREATE TABLE c (id INTEGER PRIMARY KEY);\n";
    journey.write(SECOND, with_data);
    fail_after(&journey.staging, SECOND, with_data, 1);
    // The person looked: table a is empty, so only statement 1 ran.
    let count = format!(
        "SELECT CAST(COUNT(*) AS {}) FROM a",
        crate::harness::test_engine(kind).text_type()
    );
    assert_eq!(journey.staging.scalar(&count).as_deref(), Some("0"));
    let steps = journey.follow(
        "safemig status --env staging",
        4,
        &containing("--assume-applied 1-1"),
    );
    journey.assert_healthy(&steps);
    super::snapshot(kind, "ambiguous_data_statement", &steps);
    assert_eq!(
        journey.staging.scalar(&count).as_deref(),
        Some("1"),
        "the INSERT ran once"
    );
}

for_each_engine!(
    prisma_failed_row,
    prisma_failed_row_rolled_back,
    blind_finished_at,
    rolled_back_over_half_applied,
    failed_row_by_url,
    restored_backup_with_a_failed_row,
    branch_merge,
    sigterm_mid_migration,
    edited_migration,
    edited_migration_before_others,
    migration_sql_missing,
    ambiguous_data_statement,
    tenant_with_a_failed_row,
);

/// A fleet of three tenants (PostgreSQL schemas, MariaDB databases, SQLite files): one
/// holds Prisma's failed row over half of a migration, the others have it pending.
/// `status --env fleet` names `repair` for that tenant (with `--tenant`) and the fleet's
/// deploy for the rest; followed, every tenant ends up to date.
fn tenant_with_a_failed_row(kind: Kind) {
    let mut journey = Journey::new(kind, &[(FIRST, INIT)]);
    let tenants = super::Tenants::new(&mut journey, 3);
    journey.safemig("safemig deploy --env fleet").expect(0);
    journey.write(SECOND, FOUR);
    tenants.fail_after(&journey, 1, SECOND, FOUR, 2);
    let steps = journey.follow(
        "safemig status --env fleet",
        4,
        &super::preferring(&["--finish", "repair"]),
    );
    assert_eq!(steps[0].run.code, 5, "{}", super::transcript(&steps));
    assert!(
        steps[1]
            .command
            .ends_with(&format!("--env fleet --tenant {}", tenants.names[1])),
        "{}",
        super::transcript(&steps)
    );
    tenants.assert_healthy(&journey, &steps);
    super::snapshot(kind, "tenant_with_a_failed_row", &steps);
}

/// A first `compose up`: the app's container starts `safemig run` before the database
/// server listens. `run` waits for it, one line per attempt, migrates and starts the app;
/// nothing is left to do. (A private server, killed and restarted: the health check uses
/// safemig's own drift against the folder, since the engine's dump tools reach the
/// shared test servers.)
fn database_not_up_yet_at_run(kind: Kind) {
    let mut journey = Journey::new(kind, &[(FIRST, INIT), (SECOND, FOUR)]);
    let server = match kind {
        Kind::Postgres => crate::harness::private_postgres(),
        _ => crate::harness::private_mariadb(),
    };
    server.admin_exec("CREATE DATABASE waited");
    journey.var("STAGING_URL", &server.url("waited"));
    server.kill();
    let marker = journey.dir.path().join("started");
    let line = format!("safemig run --env staging -- touch {}", marker.display());
    let mut child = journey
        .command(&line)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("waiting for the database (attempt 1)") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stderr.read(&mut byte).unwrap(),
            1,
            "run ended before waiting"
        );
        seen.push(byte[0]);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "run never waited"
        );
    }
    server.restart();
    let mut output = child.wait_with_output().unwrap();
    seen.extend(output.stderr);
    output.stderr = seen;
    let run = to_run(output).expect(0);
    assert!(marker.exists(), "the app did not start:\n{}", run.stderr);
    let steps = journey.follow_from(
        Step {
            command: line.clone(),
            run,
        },
        4,
        &first,
    );
    assert_eq!(steps.len(), 1, "{}", super::transcript(&steps));
    for line in [
        "safemig status --env staging",
        "safemig check --env staging",
        "safemig drift --env staging",
    ] {
        let after = journey.safemig(line);
        assert_eq!(after.code, 0, "{line}:\n{}\n{}", after.stdout, after.stderr);
    }
    super::snapshot(kind, "database_not_up_yet_at_run", &steps);
}

mod servers {
    #[test]
    fn postgres_database_not_up_yet_at_run() {
        super::database_not_up_yet_at_run(crate::harness::Kind::Postgres)
    }

    #[test]
    fn mysql_database_not_up_yet_at_run() {
        super::database_not_up_yet_at_run(crate::harness::Kind::Mysql)
    }
}
