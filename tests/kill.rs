//! The kill test: deploy a real corpus history, SIGKILL it (or the database server) at
//! random instants and at chosen points, re-run deploy until it finishes, and check that it
//! converged: the same schema as an uninterrupted run, every history row finished, and the
//! seeded rows (inserted before the deploy, referenced by a foreign key, in a table the
//! migrations rebuild or alter) all still there.
//!
//! On MariaDB, restores of `mariadb-dump --single-transaction` dumps taken mid-deploy
//! (`--dumps N`, 4 by default): each converges, or stops with exit 5 naming `safemig
//! repair`.
//!
//! Then the same for fleets ([`fleet`]): a fan-out over 200 tenants of one server killed at
//! random instants, on PostgreSQL and MariaDB.
//!
//! `cargo test --test kill` runs the CI amount (50 kill points per engine, 5 server kills
//! per server engine, 15 fleet kill points per server engine: the long fleet runs are
//! recorded in CONTRIBUTING.md rather than repeated on every change). Longer: `cargo test
//! --release --test kill -- --kills 400 --server-kills 20 --fleet-kills 200
//! [--fleet-tenants 200] [--engine postgresql|mysql|sqlite] [--seed N]`.

#[path = "it/corpus_location.rs"]
mod corpus_location;
#[path = "kill/fleet.rs"]
mod fleet;
#[path = "it/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use harness::{Kind, Project, TestDb, corpus_dir, to_run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use safemig::sql::{self, Dialect, ScriptProfile};

/// The history each engine is killed on, and how many of its migrations are applied before
/// the seeded rows go in (the rest is what gets killed).
fn scenario_for(kind: Kind) -> (&'static str, usize) {
    match kind {
        // The last 80 migrations hold 22 that run journaled (CONCURRENTLY, own BEGIN/COMMIT).
        Kind::Postgres => ("trigger-dev-postgresql", 740),
        Kind::Mysql => ("evolution-api-mysql", 1),
        // 16 table rebuilds with PRAGMA foreign_keys.
        Kind::Sqlite => ("pingvin-share-sqlite", 1),
    }
}

struct Args {
    kills: usize,
    server_kills: usize,
    fleet_kills: usize,
    fleet_tenants: usize,
    /// Restores of `mariadb-dump --single-transaction` dumps taken mid-deploy (MariaDB).
    dumps: usize,
    engines: Vec<Kind>,
    seed: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        kills: 50,
        server_kills: 5,
        fleet_kills: 15,
        fleet_tenants: 200,
        dumps: 4,
        engines: Vec::new(),
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--kills" => args.kills = value().parse().expect("--kills N"),
            "--server-kills" => args.server_kills = value().parse().expect("--server-kills N"),
            "--fleet-kills" => args.fleet_kills = value().parse().expect("--fleet-kills N"),
            "--fleet-tenants" => args.fleet_tenants = value().parse().expect("--fleet-tenants N"),
            "--seed" => args.seed = value().parse().expect("--seed N"),
            "--dumps" => args.dumps = value().parse().expect("--dumps N"),
            "--engine" => args.engines.push(match value().as_str() {
                "postgresql" | "postgres" => Kind::Postgres,
                "mysql" | "mariadb" => Kind::Mysql,
                "sqlite" => Kind::Sqlite,
                other => panic!("unknown engine {other}"),
            }),
            // Flags cargo's test runner may pass (`--nocapture`, …) mean nothing here.
            _ => {}
        }
    }
    if args.engines.is_empty() {
        args.engines = vec![Kind::Postgres, Kind::Mysql, Kind::Sqlite];
    }
    args
}

/// xorshift64*: reproducible kill schedules from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Rows inserted before the deploy, in a table the migrations rebuild or alter, and rows
/// of a table of ours that reference them with `ON DELETE CASCADE`.
#[derive(Debug, Clone)]
struct Seed {
    table: String,
    key: String,
    ids: Vec<String>,
}

/// Everything a converged database must match.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EndState {
    schema: String,
    seeded_rows: String,
    referencing_rows: String,
}

struct Scenario {
    kind: Kind,
    full: Project,
    template: TestDb,
    seed: Seed,
    expected: EndState,
    migrations: usize,
    uninterrupted: Duration,
    /// How many times each failpoint is reached in an uninterrupted run.
    hits: BTreeMap<&'static str, u64>,
}

fn dialect(kind: Kind) -> Dialect {
    match kind {
        Kind::Postgres => Dialect::Postgres,
        Kind::Mysql => Dialect::Mysql,
        Kind::Sqlite => Dialect::Sqlite,
    }
}

fn quote(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Mysql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

fn text_type(kind: Kind) -> &'static str {
    if kind == Kind::Mysql { "CHAR" } else { "TEXT" }
}

/// Migration folders of a corpus, in order (`main` checked that the corpus is there).
fn corpus_migrations(corpus: &str) -> Vec<std::path::PathBuf> {
    let root = corpus_dir().expect("the corpus is there");
    let mut dirs: Vec<_> = std::fs::read_dir(root.join(corpus).join("migrations"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

fn deploy(project: &Project, db: &TestDb) -> harness::Run {
    project.safemig(db, &["deploy", "--lock-timeout", "60"])
}

impl Scenario {
    fn prepare(kind: Kind) -> Scenario {
        let (corpus, prefix) = scenario_for(kind);
        let all = corpus_migrations(corpus);
        let full = Project::from_corpus(corpus).expect("the corpus is there");
        let head = Project::new(kind, &[]);
        for dir in &all[..prefix] {
            let name = dir.file_name().unwrap().to_str().unwrap();
            head.write(
                name,
                &std::fs::read_to_string(dir.join("migration.sql")).unwrap(),
            );
        }
        let segment: Vec<String> = all[prefix..]
            .iter()
            .map(|d| std::fs::read_to_string(d.join("migration.sql")).unwrap())
            .collect();

        let template = TestDb::new(kind);
        deploy(&head, &template).expect(0);
        let mut hits = BTreeMap::new();
        hits.insert("after_insert", segment.len() as u64);
        hits.insert("before_finish", segment.len() as u64);
        let statements: u64 = segment
            .iter()
            .map(|script| {
                let profile = ScriptProfile::of(script, dialect(kind));
                if kind != Kind::Mysql && profile.fits_in_transaction() {
                    1
                } else {
                    sql::executable_statements(script, dialect(kind)).len() as u64
                }
            })
            .sum();
        hits.insert("during_statement", statements);
        hits.insert("after_statement", statements);

        // Seed the first table the remaining migrations touch that takes dummy rows and
        // still has them after an uninterrupted deploy.
        for table in touched_tables(&segment, kind) {
            let trial = TestDb::copy_of(&template);
            let Some(seed) = seed_rows(&trial, &table) else {
                continue;
            };
            let started = Instant::now();
            if deploy(&full, &trial).code != 0 {
                continue;
            }
            let uninterrupted = started.elapsed();
            let expected = end_state(&trial, &seed);
            if !expected.referencing_rows.starts_with("3") {
                continue;
            }
            seed_rows(&template, &table).expect("seeding the template as the trial");
            println!(
                "{kind:?}: {corpus}, {} migrations killed after {prefix} applied; seeded `{table}`; uninterrupted deploy {:.1}s",
                segment.len(),
                uninterrupted.as_secs_f32()
            );
            return Scenario {
                kind,
                full,
                template,
                seed,
                expected,
                migrations: all.len(),
                uninterrupted,
                hits,
            };
        }
        panic!("{corpus}: no table of the remaining migrations could be seeded");
    }

    /// One kill point: returns whether the kill landed before deploy finished.
    fn kill_once(&self, rng: &mut Rng, label: &mut String) -> Result<bool, String> {
        let db = TestDb::copy_of(&self.template);
        let mut cmd = self.full.command(&db, &["deploy", "--lock-timeout", "60"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let killed = if rng.next().is_multiple_of(2) {
            let max = (self.uninterrupted.as_millis() as u64 * 6 / 5).max(10);
            let delay = rng.between(0, max);
            *label = format!("random SIGKILL at {delay} ms");
            let child = cmd.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            sigkill(child)
        } else {
            let points: Vec<_> = self.hits.iter().collect();
            let (point, hits) = points[rng.between(0, points.len() as u64 - 1) as usize];
            let n = rng.between(1, *hits);
            let spec = if *point == "during_statement" {
                format!("{point}:{n}:{}", rng.between(0, 30))
            } else {
                format!("{point}:{n}")
            };
            *label = format!("failpoint {spec}");
            let run = to_run(cmd.env("SAFEMIG_FAILPOINT", &spec).output().unwrap());
            run.code == -1
        };
        self.converge(&db, label)?;
        Ok(killed)
    }

    /// A copy of the template with a deploy started on it, at a random instant of its
    /// uninterrupted duration: `what` happens then, as `label` says.
    fn mid_deploy(&self, rng: &mut Rng, label: &mut String, what: &str) -> (TestDb, Child) {
        let db = TestDb::copy_of(&self.template);
        let child = self
            .full
            .command(&db, &["deploy", "--lock-timeout", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = rng.between(0, self.uninterrupted.as_millis() as u64);
        *label = format!("{what} at {delay} ms");
        std::thread::sleep(Duration::from_millis(delay));
        (db, child)
    }

    /// Kills the database server mid-deploy, restarts it, and re-runs deploy.
    fn server_kill_once(&self, rng: &mut Rng, label: &mut String) -> Result<bool, String> {
        let (db, child) = self.mid_deploy(rng, label, "server SIGKILL");
        let server = match self.kind {
            Kind::Postgres => harness::postgres(),
            _ => harness::mariadb(),
        };
        server.crash_and_restart();
        let run = to_run(child.wait_with_output().unwrap());
        // A server that went away is "unreachable" (3), whatever the moment: never an
        // internal error, never a failed migration.
        if run.code != 0 && run.code != 3 {
            return Err(format!(
                "{label}: the deploy that lost its server exited {}, expected 3 (or 0 if it finished first):\n{}",
                run.code, run.stderr
            ));
        }
        self.converge(&db, label)?;
        Ok(run.code != 0)
    }

    /// A `mariadb-dump --single-transaction` taken at a random instant of a deploy, restored
    /// into a new database once that deploy finished, then deployed (issue 22, item 12): the
    /// dump's rows, history included, come from its snapshot, but each table's definition
    /// from when the dump reached it, so its tables can be further on than its history. The
    /// restore must converge, or stop with exit 5 naming `safemig repair`; no run may tell
    /// the user to edit a migration file. `Ok(None)`: the dump did not land mid-deploy (or
    /// could not be taken); `Ok(Some(converged))` otherwise.
    fn dump_once(&self, rng: &mut Rng, label: &mut String) -> Result<Option<bool>, String> {
        let (db, child) = self.mid_deploy(rng, label, "mariadb-dump");
        let dump = harness::mariadb_dump(&db, &[], &[]);
        let run = to_run(child.wait_with_output().unwrap());
        if run.code != 0 {
            return Err(format!(
                "{label}: the dumped deploy exited {}:\n{}",
                run.code, run.stderr
            ));
        }
        // A table altered after the dump's snapshot may refuse its rows: no dump, no restore.
        let Ok(dump) = dump else {
            return Ok(None);
        };
        let restored = TestDb::new(Kind::Mysql);
        harness::mariadb_restore(&restored, &dump);
        let finished = restored.history().iter().filter(|h| h.finished).count();
        if finished == self.migrations {
            return Ok(None);
        }
        let run = deploy(&self.full, &restored);
        if run.code == 0 {
            return self.converge(&restored, label).map(|()| Some(true));
        }
        // Stopped: so must a second deploy, naming repair; status must not send the user
        // to the file either (it may say pending: deploy then names repair).
        let again = deploy(&self.full, &restored);
        let status = self.full.safemig(&restored, &["status"]);
        for (what, run) in [
            ("deploy", &run),
            ("deploy again", &again),
            ("status", &status),
        ] {
            let output = format!("{}\n{}", run.stdout, run.stderr);
            let names_repair = what == "status" || output.contains("next: run `safemig repair ");
            if run.code == 0
                || (what != "status" && run.code != 5)
                || !names_repair
                || output.contains("migration.sql")
            {
                return Err(format!(
                    "{label}: on the restore, {what} exited {} without naming `safemig repair`, or advising to edit a migration file:\n{output}",
                    run.code
                ));
            }
        }
        Ok(Some(false))
    }

    /// Re-runs deploy until it succeeds, then compares with the uninterrupted end state.
    fn converge(&self, db: &TestDb, label: &str) -> Result<(), String> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let run = deploy(&self.full, db);
            if run.code == 0 {
                break;
            }
            if attempts == 3 {
                return Err(format!(
                    "{label}: deploy did not finish after {attempts} re-runs (exit {}):\n{}\n{}",
                    run.code, run.stdout, run.stderr
                ));
            }
        }
        let history = db.history();
        let unfinished: Vec<_> = history
            .iter()
            .filter(|h| !h.finished || h.rolled_back)
            .collect();
        if !unfinished.is_empty() {
            return Err(format!(
                "{label}: rows left unfinished or rolled back: {unfinished:?}"
            ));
        }
        if history.len() != self.migrations {
            return Err(format!(
                "{label}: {} history rows for {} migrations",
                history.len(),
                self.migrations
            ));
        }
        let state = end_state(db, &self.seed);
        if state != self.expected {
            let what = if state.schema != self.expected.schema {
                format!(
                    "schema differs:\n{}",
                    first_difference(&state.schema, &self.expected.schema)
                )
            } else {
                format!("seeded rows differ: {state:?} vs {:?}", self.expected)
            };
            return Err(format!("{label}: {what}"));
        }
        Ok(())
    }
}

fn sigkill(child: Child) -> bool {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGKILL);
    let output = child.wait_with_output().unwrap();
    output.status.code().is_none()
}

fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| format!("line {}: {x}\n   expected: {y}", i + 1))
        .unwrap_or_else(|| "one is a prefix of the other".into())
}

fn end_state(db: &TestDb, seed: &Seed) -> EndState {
    let kind = db.kind;
    let ids = seed.ids.join(", ");
    let count = |sql: &str| {
        db.rows(sql)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| c.unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect::<Vec<_>>()
            .join(";")
    };
    EndState {
        schema: db.schema_dump(),
        seeded_rows: count(&format!(
            "SELECT CAST(COUNT(*) AS {}) FROM {} WHERE {} IN ({ids})",
            text_type(kind),
            quote(kind, &seed.table),
            quote(kind, &seed.key)
        )),
        referencing_rows: count(&format!(
            "SELECT CAST(COUNT(*) AS {}) FROM kill_seed",
            text_type(kind)
        )),
    }
}

/// Tables the statements alter, rebuild (`ALTER TABLE "new_X" RENAME TO "X"`) or drop.
fn touched_tables(scripts: &[String], kind: Kind) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    for script in scripts {
        for stmt in sql::split(script, dialect(kind)) {
            let words: Vec<String> = stmt
                .sql
                .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
                .filter(|w| !w.is_empty())
                .map(|w| w.trim_matches(['"', '`']).to_string())
                .collect();
            let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
            if upper.len() < 3 || upper[0] != "ALTER" || upper[1] != "TABLE" {
                continue;
            }
            let name = if upper.len() >= 6 && upper[3] == "RENAME" && upper[4] == "TO" {
                &words[5]
            } else {
                &words[2]
            };
            // Unqualified: `"public"."Organization"` is `Organization`.
            let name = name
                .rsplit('.')
                .next()
                .unwrap_or(name)
                .trim_matches(['"', '`'])
                .to_string();
            if !name.starts_with("new_") && !tables.contains(&name) {
                tables.push(name);
            }
        }
    }
    tables
}

/// A column as seeding needs it.
struct Column {
    name: String,
    ty: String,
    required: bool,
    key: bool,
}

fn columns(db: &TestDb, table: &str) -> Vec<Column> {
    let rows = match db.kind {
        Kind::Sqlite => db.rows(&format!(
            "SELECT name, lower(type), CASE WHEN \"notnull\" = 1 AND dflt_value IS NULL THEN 'y' ELSE 'n' END, \
             CASE WHEN pk > 0 THEN 'y' ELSE 'n' END FROM pragma_table_info('{table}')"
        )),
        Kind::Postgres => db.rows(&format!(
            "SELECT c.column_name::text, CASE WHEN c.data_type = 'USER-DEFINED' THEN 'enum:' || c.udt_name \
                 WHEN c.data_type = 'ARRAY' THEN 'array' ELSE c.data_type END::text, \
             CASE WHEN c.is_nullable = 'NO' AND c.column_default IS NULL THEN 'y' ELSE 'n' END, \
             CASE WHEN EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
                 AND a.attnum = ANY(i.indkey) WHERE i.indrelid = format('%I', '{table}')::regclass \
                 AND i.indisprimary AND a.attname = c.column_name) THEN 'y' ELSE 'n' END \
             FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = '{table}' \
             ORDER BY c.ordinal_position"
        )),
        Kind::Mysql => db.rows(&format!(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
             CASE WHEN IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' THEN 'y' ELSE 'n' END, \
             CASE WHEN COLUMN_KEY = 'PRI' THEN 'y' ELSE 'n' END \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' \
             ORDER BY ORDINAL_POSITION"
        )),
    };
    rows.into_iter()
        .map(|r| Column {
            name: r[0].clone().unwrap(),
            ty: r[1].clone().unwrap_or_default().to_ascii_lowercase(),
            required: r[2].as_deref() == Some("y"),
            key: r[3].as_deref() == Some("y"),
        })
        .collect()
}

/// A literal of the column's type, distinct per row `i`.
fn dummy(kind: Kind, ty: &str, i: usize) -> Option<String> {
    let pg = kind == Kind::Postgres;
    Some(if let Some(udt) = ty.strip_prefix("enum:") {
        format!("(enum_range(NULL::\"{udt}\"))[1]")
    } else if let Some(values) = ty.strip_prefix("enum(") {
        values.split(',').next()?.trim_end_matches(')').to_string()
    } else if ty == "array" {
        "'{}'".into()
    } else if ty.contains("bool") || ty == "tinyint(1)" {
        if pg { "false".into() } else { "0".into() }
    } else if ty.contains("int") && !ty.contains("interval") || ty.contains("serial") {
        format!("{}", 900_000 + i)
    } else if ty.contains("numeric")
        || ty.contains("decimal")
        || ty.contains("double")
        || ty.contains("real")
        || ty.contains("float")
    {
        "1".into()
    } else if ty.contains("time") || ty.contains("date") {
        "'2024-01-01 00:00:00'".into()
    } else if ty.contains("json") {
        "'{}'".into()
    } else if ty == "uuid" {
        "gen_random_uuid()".into()
    } else if ty.contains("char") || ty.contains("text") || ty.contains("clob") || ty.is_empty() {
        format!("'seed{i}'")
    } else if ty.contains("blob") || ty.contains("binary") {
        "X'00'".into()
    } else if ty == "bytea" {
        "'\\x00'::bytea".into()
    } else {
        return None;
    })
}

/// Inserts three rows into `table` and three rows of `kill_seed` referencing them.
fn seed_rows(db: &TestDb, table: &str) -> Option<Seed> {
    let kind = db.kind;
    let columns = columns(db, table);
    let keys: Vec<&Column> = columns.iter().filter(|c| c.key).collect();
    let [key] = keys.as_slice() else { return None };
    let key_type = if dummy(kind, &key.ty, 0)?.starts_with('\'') {
        "VARCHAR(191)"
    } else {
        "BIGINT"
    };
    let filled: Vec<&Column> = columns.iter().filter(|c| c.required || c.key).collect();
    let mut ids = Vec::new();
    let mut sql = String::new();
    for i in 0..3 {
        let values: Option<Vec<String>> = filled.iter().map(|c| dummy(kind, &c.ty, i)).collect();
        let values = values?;
        let id = dummy(kind, &key.ty, i)?;
        ids.push(id);
        sql.push_str(&format!(
            "INSERT INTO {} ({}) VALUES ({});\n",
            quote(kind, table),
            filled
                .iter()
                .map(|c| quote(kind, &c.name))
                .collect::<Vec<_>>()
                .join(", "),
            values.join(", ")
        ));
    }
    sql.push_str(&format!(
        "CREATE TABLE kill_seed (id INTEGER PRIMARY KEY, parent {key_type} NOT NULL, \
         FOREIGN KEY (parent) REFERENCES {}({}) ON DELETE CASCADE);\n",
        quote(kind, table),
        quote(kind, &key.name)
    ));
    for (i, id) in ids.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO kill_seed (id, parent) VALUES ({i}, {id});\n"
        ));
    }
    let ok = harness::block_on(async {
        let mut conn = db.connect().await;
        for statement in sql.lines() {
            if sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut conn)
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    });
    if !ok {
        // Leave the database as it was for the next candidate.
        db.exec("DROP TABLE IF EXISTS kill_seed");
        return None;
    }
    Some(Seed {
        table: table.to_string(),
        key: key.name.clone(),
        ids,
    })
}

/// Counts of one engine's run.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    converged: usize,
    finished_first: usize,
    server_kills: usize,
    server_converged: usize,
    /// Restores of dumps taken mid-deploy, and how many stopped for `safemig repair`
    /// rather than converging.
    dumps: usize,
    dumps_converged: usize,
    fleet: fleet::FleetTally,
    failures: Vec<String>,
}

fn run_engine(kind: Kind, args: &Args, seed: u64) -> Tally {
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::default();
    if kind != Kind::Sqlite && args.fleet_kills > 0 {
        tally.fleet = fleet::run(kind, args.fleet_tenants, args.fleet_kills, &mut rng);
    }
    let dumps = if kind == Kind::Mysql { args.dumps } else { 0 };
    if args.kills == 0 && args.server_kills == 0 && dumps == 0 {
        return tally;
    }
    let scenario = Scenario::prepare(kind);
    let mut attempts = 0;
    while tally.kills < args.kills && attempts < args.kills * 3 {
        attempts += 1;
        let mut label = String::new();
        match scenario.kill_once(&mut rng, &mut label) {
            Ok(true) => {
                tally.kills += 1;
                tally.converged += 1;
                if tally.kills.is_multiple_of(10) {
                    println!(
                        "{kind:?}: {} kill points, {} converged",
                        tally.kills, tally.converged
                    );
                }
            }
            Ok(false) => tally.finished_first += 1,
            Err(e) => {
                tally.kills += 1;
                tally.failures.push(e);
            }
        }
    }
    if kind != Kind::Sqlite {
        for _ in 0..args.server_kills {
            let mut label = String::new();
            tally.server_kills += 1;
            match scenario.server_kill_once(&mut rng, &mut label) {
                Ok(_) => tally.server_converged += 1,
                Err(e) => tally.failures.push(e),
            }
        }
    }
    let mut attempts = 0;
    while tally.dumps < dumps && attempts < dumps * 3 {
        attempts += 1;
        let mut label = String::new();
        match scenario.dump_once(&mut rng, &mut label) {
            Ok(Some(converged)) => {
                tally.dumps += 1;
                tally.dumps_converged += usize::from(converged);
            }
            Ok(None) => {}
            Err(e) => {
                tally.dumps += 1;
                tally.failures.push(e);
            }
        }
    }
    tally
}

fn main() {
    let args = parse_args();
    if corpus_dir().is_none() {
        println!("kill test: not run, it needs the corpus (see the notice above)");
        return;
    }
    println!(
        "kill test: seed {} (rerun with --seed {})",
        args.seed, args.seed
    );
    let started = Instant::now();
    // Engines run side by side: each uses only its own server.
    let tallies: Vec<(Kind, Tally)> = std::thread::scope(|scope| {
        let handles: Vec<_> = args
            .engines
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let args = &args;
                let seed = args.seed.wrapping_add(i as u64 * 0x9E37_79B9);
                scope.spawn(move || (kind, run_engine(kind, args, seed)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an engine's kill run panicked"))
            .collect()
    });
    let mut failed = false;
    for (kind, tally) in &tallies {
        println!(
            "{kind:?}: {} kill points, {} converged; {} runs finished before their kill; {} server kills, {} converged",
            tally.kills,
            tally.converged,
            tally.finished_first,
            tally.server_kills,
            tally.server_converged
        );
        if *kind == Kind::Mysql && args.dumps > 0 {
            println!(
                "{kind:?}: {} restores of dumps taken mid-deploy, {} converged, the rest stopped naming `safemig repair` or failed (below)",
                tally.dumps, tally.dumps_converged
            );
            failed |= tally.dumps < args.dumps;
        }
        if *kind != Kind::Sqlite && args.fleet_kills > 0 {
            let fleet = &tally.fleet;
            println!(
                "{kind:?} fleet of {} tenants: {} kill points, {} converged; {} runs finished before their kill",
                args.fleet_tenants, fleet.kills, fleet.converged, fleet.finished_first
            );
            failed |= !fleet.failures.is_empty() || fleet.kills < args.fleet_kills;
        }
        for failure in tally.failures.iter().chain(&tally.fleet.failures) {
            println!("  FAILED {failure}");
        }
        failed |= !tally.failures.is_empty() || tally.kills < args.kills;
    }
    println!(
        "kill test finished in {:.0}s",
        started.elapsed().as_secs_f32()
    );
    if failed {
        std::process::exit(1);
    }
}
