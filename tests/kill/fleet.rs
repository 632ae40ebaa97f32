//! The fleet kill test: `safemig deploy --env fleet` over 200 tenants (PostgreSQL schemas
//! of one database, MariaDB databases of one server), SIGKILLed at a random instant of
//! the fan-out, then run again until it finishes. Every time it must converge: every
//! tenant at the folder's last migration (`status --env fleet` exit 0), no row left
//! unfinished, and every tenant's schema identical to a reference database deployed
//! without interruption.
//!
//! Each kill point adds a migration to the folder, so every fan-out has work to do. On
//! PostgreSQL they are trigger.dev's real migrations, in order. On MariaDB they are
//! four-statement migrations written here (CREATE TABLE, ALTER TABLE, CREATE INDEX,
//! INSERT): MySQL commits each statement, so a kill lands between and inside statements
//! of a journaled migration; the real MySQL histories are too few and too heavy for 50
//! rounds over 200 databases in CI (the single-database kill test runs evolution-api's).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{self, Kind, TestDb, safemig_command};
use crate::{Rng, corpus_migrations, sigkill};

/// What one engine's fleet run counted.
#[derive(Debug, Default)]
pub struct FleetTally {
    pub kills: usize,
    pub converged: usize,
    pub finished_first: usize,
    pub failures: Vec<String>,
}

struct Fleet {
    kind: Kind,
    /// Holds `safemig.toml` and `migrations/`.
    dir: tempfile::TempDir,
    /// The environment's database (PostgreSQL: the schemas' database; MariaDB: the first
    /// tenant).
    url: String,
    tenants: Vec<String>,
    /// Deployed with plain `safemig deploy`, never killed: what every tenant must match.
    reference: TestDb,
    /// MariaDB: the tenants' databases, dropped at the end.
    _databases: Vec<TestDb>,
    /// The migrations added so far, and where the next comes from.
    added: usize,
    corpus: Vec<std::path::PathBuf>,
}

impl Fleet {
    fn new(kind: Kind, tenants: usize) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(
            migrations.join("migration_lock.toml"),
            format!("provider = \"{}\"\n", kind.lock_name()),
        )
        .unwrap();
        let (url, names, databases) = match kind {
            Kind::Postgres => {
                let db = TestDb::new(kind);
                let names: Vec<String> = (0..tenants).map(|i| format!("tenant_{i:03}")).collect();
                (db.url.clone(), names, vec![db])
            }
            _ => {
                let dbs: Vec<TestDb> = (0..tenants).map(|_| TestDb::new(kind)).collect();
                let names: Vec<String> = dbs.iter().map(|d| d.name.clone()).collect();
                (dbs[0].url.clone(), names, dbs)
            }
        };
        let list: Vec<String> = names_of(&names);
        std::fs::write(
            dir.path().join("safemig.toml"),
            format!(
                "[environments.fleet]\nurl = \"env:FLEET_URL\"\ndir = \"migrations\"\ntenants = {{ list = [{}] }}\n",
                list.join(", ")
            ),
        )
        .unwrap();
        // Tenants live in schemas of their own: only the migrations before the first
        // that names the `public` schema outright can run in one.
        let corpus = if kind == Kind::Postgres {
            corpus_migrations("trigger-dev-postgresql")
                .into_iter()
                .take_while(|path| {
                    let sql = std::fs::read_to_string(path.join("migration.sql")).unwrap();
                    !sql.to_ascii_lowercase().contains("public.")
                        && !sql.to_ascii_lowercase().contains("\"public\".")
                })
                .collect()
        } else {
            Vec::new()
        };
        Fleet {
            kind,
            dir,
            url,
            tenants: names,
            reference: TestDb::new(kind),
            _databases: databases,
            added: 0,
            corpus,
        }
    }

    /// Adds the next migration to the folder.
    fn add_migration(&mut self) {
        let (name, sql) = match self.corpus.get(self.added) {
            Some(path) => (
                path.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read_to_string(path.join("migration.sql")).unwrap(),
            ),
            None => {
                let n = self.added;
                (
                    format!("{}_fleet_{n:04}", 20300101000000u64 + n as u64),
                    format!(
                        "CREATE TABLE fleet_{n} (id INTEGER PRIMARY KEY, name VARCHAR(50));\n\
                         ALTER TABLE fleet_{n} ADD COLUMN note VARCHAR(20);\n\
                         CREATE INDEX fleet_{n}_name_idx ON fleet_{n} (name);\n\
                         INSERT INTO fleet_{n} (id, name) VALUES (1, 'row');\n"
                    ),
                )
            }
        };
        let folder = self.dir.path().join("migrations").join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("migration.sql"), sql).unwrap();
        self.added += 1;
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = safemig_command(self.dir.path(), args);
        command.env("FLEET_URL", &self.url);
        command
    }

    fn deploy(&self) -> harness::Run {
        harness::to_run(
            self.command(&["deploy", "--env", "fleet", "--lock-timeout", "60"])
                .output()
                .unwrap(),
        )
    }

    /// Re-runs the fan-out until it succeeds, then checks every tenant.
    fn converge(&self, label: &str) -> Result<(), String> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let run = self.deploy();
            if run.code == 0 {
                break;
            }
            if attempts == 3 {
                return Err(format!(
                    "{label}: the fleet deploy did not finish after {attempts} re-runs (exit {}):\n{}\n{}",
                    run.code, run.stdout, run.stderr
                ));
            }
        }
        let status = harness::to_run(
            self.command(&["status", "--env", "fleet", "--json"])
                .output()
                .unwrap(),
        );
        if status.code != 0 {
            return Err(format!(
                "{label}: status over the fleet exited {}:\n{}",
                status.code, status.stdout
            ));
        }
        let unfinished = self.unfinished_rows();
        if unfinished != 0 {
            return Err(format!(
                "{label}: {unfinished} history rows left unfinished"
            ));
        }
        let dir = self.dir.path().join("migrations");
        harness::safemig(
            self.dir.path(),
            &[
                "deploy",
                "--url",
                &self.reference.url,
                "--dir",
                dir.to_str().unwrap(),
                "--lock-timeout",
                "60",
            ],
        )
        .expect(0);
        let reference = self.reference_namespace();
        let expected = self
            .schemas_of(&self.reference, std::slice::from_ref(&reference))
            .remove(&reference)
            .unwrap_or_default();
        let schemas = self.schemas_of(&self._databases[0], &self.tenants);
        for tenant in &self.tenants {
            let schema = schemas.get(tenant).map_or("", String::as_str);
            if schema != expected {
                return Err(format!(
                    "{label}: tenant {tenant}'s schema differs from the reference:\n{}",
                    crate::first_difference(schema, &expected)
                ));
            }
        }
        Ok(())
    }

    /// The reference's schema or database name, as tenants are named.
    fn reference_namespace(&self) -> String {
        match self.kind {
            Kind::Postgres => "public".into(),
            _ => self.reference.name.clone(),
        }
    }

    /// Rows neither finished nor rolled back, over every tenant.
    fn unfinished_rows(&self) -> usize {
        let quote = |t: &str| match self.kind {
            Kind::Postgres => format!("\"{t}\"._prisma_migrations"),
            _ => format!("`{t}`._prisma_migrations"),
        };
        let union: Vec<String> = self
            .tenants
            .iter()
            .map(|t| {
                format!(
                    "SELECT COUNT(*) AS n FROM {} WHERE finished_at IS NULL AND rolled_back_at IS NULL",
                    quote(t)
                )
            })
            .collect();
        let sql = format!(
            "SELECT CAST(SUM(n) AS CHAR(20)) FROM ({}) AS all_rows",
            union.join(" UNION ALL ")
        );
        let sql = if self.kind == Kind::Postgres {
            sql.replace("CHAR(20)", "TEXT")
        } else {
            sql
        };
        self._databases[0]
            .scalar(&sql)
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX)
    }

    /// Tables, columns with their types, and indexes of the schemas or databases
    /// `namespaces` (one query), by name, with the namespace's own name left out.
    fn schemas_of(&self, db: &TestDb, namespaces: &[String]) -> BTreeMap<String, String> {
        let list = namespaces
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = match self.kind {
            Kind::Postgres => db.rows(&format!(
                "SELECT c.table_schema::text, c.table_name || '.' || c.column_name || ' ' || c.data_type || ' ' \
                     || c.is_nullable || ' ' || replace(COALESCE(c.column_default, ''), c.table_schema || '.', '') \
                 FROM information_schema.columns c WHERE c.table_schema IN ({list}) AND c.table_name <> '_prisma_migrations' \
                 UNION ALL SELECT schemaname::text, 'index ' || indexname || ' ' || replace(indexdef, ' ON ' || schemaname || '.', ' ON ') \
                 FROM pg_indexes WHERE schemaname IN ({list}) AND tablename <> '_prisma_migrations' ORDER BY 1, 2"
            )),
            _ => db.rows(&format!(
                "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE) AS CHAR) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({list}) AND TABLE_NAME <> '_prisma_migrations' \
                 UNION ALL SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ' ', COLUMN_NAME) AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({list}) AND TABLE_NAME <> '_prisma_migrations' ORDER BY 1, 2"
            )),
        };
        let mut schemas: BTreeMap<String, String> = BTreeMap::new();
        for row in rows {
            let schema = schemas
                .entry(row[0].clone().unwrap_or_default())
                .or_default();
            schema.push_str(row[1].as_deref().unwrap_or_default());
            schema.push('\n');
        }
        schemas
    }
}

fn names_of(names: &[String]) -> Vec<String> {
    names.iter().map(|n| format!("\"{n}\"")).collect()
}

/// `kills` kill points over a fan-out to `tenants` tenants.
pub fn run(kind: Kind, tenants: usize, kills: usize, rng: &mut Rng) -> FleetTally {
    let mut fleet = Fleet::new(kind, tenants);
    let mut tally = FleetTally::default();
    // The first migration, uninterrupted: it creates the schemas and histories, and its
    // duration sizes the window kills are drawn from.
    fleet.add_migration();
    let started = Instant::now();
    fleet.deploy().expect(0);
    fleet.add_migration();
    let started_second = Instant::now();
    fleet.deploy().expect(0);
    // Where kills are drawn from: at first the second migration's fan-out; then, each
    // time a run finishes before its kill, that run's own duration, so that smaller
    // migrations still get kills that land.
    let mut window = started_second
        .elapsed()
        .max(started.elapsed() / 4)
        .as_millis() as u64;
    println!(
        "{kind:?} fleet: {tenants} tenants; a one-migration fan-out took {window} ms uninterrupted"
    );
    let mut attempts = 0;
    while tally.kills < kills && attempts < kills * 3 {
        attempts += 1;
        fleet.add_migration();
        let delay = rng.between(0, window * 11 / 10);
        let label = format!(
            "fleet SIGKILL at {delay} ms (migration {}, seed-derived)",
            fleet.added
        );
        let mut child = fleet
            .command(&["deploy", "--env", "fleet", "--lock-timeout", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let spawned = Instant::now();
        let kill_at = spawned + Duration::from_millis(delay);
        let mut finished = None;
        while Instant::now() < kill_at {
            if child.try_wait().unwrap().is_some() {
                finished = Some(spawned.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed = match finished {
            Some(took) => {
                window = (took.as_millis() as u64).max(20);
                false
            }
            None => sigkill(child),
        };
        match fleet.converge(&label) {
            Ok(()) if killed => {
                tally.kills += 1;
                tally.converged += 1;
                if tally.kills.is_multiple_of(10) {
                    println!(
                        "{kind:?} fleet: {} kill points, {} converged",
                        tally.kills, tally.converged
                    );
                }
            }
            Ok(()) => tally.finished_first += 1,
            Err(e) => {
                tally.kills += 1;
                tally.failures.push(e);
            }
        }
    }
    tally
}
