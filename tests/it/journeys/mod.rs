//! The operator's journey: from a broken state, run the command a person would run first,
//! then each command its `next:` line prints, exactly as printed (only `safemig` replaced
//! by the binary's path, run by `sh` with the variables the person's shell has), at most
//! four steps, and check that the database ends up healthy: `status` and `check` exit 0,
//! its schema is the one the engine's own client makes from the folder, and the database
//! `.env` names (a developer's, which a command that dropped `--env` would reach) is
//! untouched.
//!
//! Each journey starts in a Prisma project (`prisma/schema.prisma`, `prisma/migrations`,
//! `.env`) with a `safemig.toml` naming the broken database `staging`.

mod states;

use std::path::PathBuf;
use std::process::Command;

use crate::corpus::{apply_with_engine_client, migration_files};
use crate::harness::{Kind, PASSWORD, Run, TestDb, to_run};

pub(crate) const INIT: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));\n";
/// Four statements, each visible in the schema.
pub(crate) const FOUR: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                               CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER);\n\
                               CREATE INDEX b_n_idx ON b (n);\n\
                               CREATE TABLE c (id INTEGER PRIMARY KEY);\n";
pub(crate) const FIRST: &str = "20240101000000_init";
pub(crate) const SECOND: &str = "20240102000000_four";

/// A Prisma project, the database under repair (`staging`) and the developer's database.
pub(crate) struct Journey {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub staging: TestDb,
    pub dev: TestDb,
    /// The dev database as it was before the journey.
    dev_before: Fingerprint,
    /// Variables of the person's shell besides the binary's.
    vars: Vec<(String, String)>,
}

/// One command run on the way.
pub(crate) struct Step {
    pub command: String,
    pub run: Run,
}

impl Journey {
    /// A project whose folder holds `migrations`, the developer's database deployed from
    /// it, and an empty staging database; `safemig.toml` names staging (with drift against
    /// the folder) and its variable is in the shell.
    pub fn new(kind: Kind, migrations: &[(&str, &str)]) -> Journey {
        let dir = tempfile::tempdir().unwrap();
        let staging = TestDb::new(kind);
        let dev = TestDb::new(kind);
        let prisma = dir.path().join("prisma");
        std::fs::create_dir_all(prisma.join("migrations")).unwrap();
        std::fs::write(
            prisma.join("schema.prisma"),
            format!(
                "datasource db {{\n  provider = \"{}\"\n  url      = env(\"DATABASE_URL\")\n}}\n",
                kind.lock_name()
            ),
        )
        .unwrap();
        std::fs::write(
            prisma.join("migrations/migration_lock.toml"),
            format!("provider = \"{}\"\n", kind.lock_name()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".env"),
            format!("DATABASE_URL=\"{}\"\n", dev.url),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("safemig.toml"),
            "[environments.staging]\nurl = \"env:STAGING_URL\"\ndrift = { against = \"folder\" }\n",
        )
        .unwrap();
        let mut journey = Journey {
            kind,
            dir,
            dev_before: Fingerprint::default(),
            staging,
            dev,
            vars: Vec::new(),
        };
        journey
            .vars
            .push(("STAGING_URL".into(), journey.staging.url.clone()));
        for (name, sql) in migrations {
            journey.write(name, sql);
        }
        journey
            .safemig(&format!(
                "safemig deploy --url {}",
                shell_quote(&journey.dev.url)
            ))
            .expect(0);
        journey.dev_before = Fingerprint::of(&journey.dev);
        journey
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("prisma/migrations")
    }

    pub fn write(&self, name: &str, sql: &str) {
        let folder = self.migrations().join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("migration.sql"), sql).unwrap();
    }

    /// Adds a variable to the person's shell.
    pub fn var(&mut self, name: &str, value: &str) {
        self.vars.push((name.into(), value.into()));
    }

    /// Runs a command line as the person types it, in the project folder.
    pub fn safemig(&self, line: &str) -> Run {
        to_run(self.command(line).output().expect("running sh"))
    }

    /// The command line as the person's shell would run it, to adjust and run.
    pub fn command(&self, line: &str) -> Command {
        let binary = env!("CARGO_BIN_EXE_safemig");
        // `exec`: a signal sent to the command reaches safemig, not the shell around it.
        let line = match line.strip_prefix("safemig ") {
            Some(rest) => format!("exec {} {rest}", shell_quote(binary)),
            None => line.to_string(),
        };
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&line)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("SAFEMIG_LOG")
            .env_remove("PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK")
            .env("SAFEMIG_CACHE_DIR", self.dir.path().join(".cache"));
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    /// Runs `first`, then the command its `next:` line prints, and so on, at most `steps`
    /// commands after the first. Where a line offers several commands, `choose` picks one
    /// (given them all, it returns the index); the journey ends at a run that prints no
    /// `next:` command.
    pub fn follow(
        &self,
        first: &str,
        steps: usize,
        choose: &dyn Fn(&[String]) -> usize,
    ) -> Vec<Step> {
        let step = Step {
            command: first.to_string(),
            run: self.safemig(first),
        };
        self.follow_from(step, steps, choose)
    }

    /// [`Journey::follow`] from a first command already run. After a command that prints
    /// no next step (a repair that finished, an `rm` the advice named), the person looks
    /// again: the first command runs again, as a step, and the journey ends when it names
    /// nothing more to do.
    pub fn follow_from(
        &self,
        first: Step,
        steps: usize,
        choose: &dyn Fn(&[String]) -> usize,
    ) -> Vec<Step> {
        let diagnosis = first.command.clone();
        let mut taken = vec![first];
        // Steps are the commands the advice printed; looking again is not one.
        let mut advised = 0;
        loop {
            let last = taken.last().unwrap();
            let commands = next_commands(&last.run);
            let command = if !commands.is_empty() {
                assert!(
                    advised < steps,
                    "still not healthy after {steps} steps:\n{}",
                    transcript(&taken)
                );
                advised += 1;
                commands[choose(&commands)].clone()
            } else if last.command == diagnosis || last.run.code != 0 {
                break;
            } else {
                diagnosis.clone()
            };
            let run = self.safemig(&command);
            taken.push(Step { command, run });
        }
        taken
    }

    /// The database is healthy: the last step exited 0, `status` and `check` exit 0,
    /// the schema is the reference, the developer's database is untouched and no password
    /// was printed on the way.
    pub fn assert_healthy(&self, steps: &[Step]) {
        let all = transcript(steps);
        assert!(!all.contains(PASSWORD), "a password was printed:\n{all}");
        assert_eq!(
            steps.last().unwrap().run.code,
            0,
            "the journey ended in failure:\n{all}"
        );
        for line in [
            "safemig status --env staging",
            "safemig check --env staging",
        ] {
            let run = self.safemig(line);
            assert_eq!(
                run.code, 0,
                "{line} after the journey:\n{all}\n--- {line}\n{}\n{}",
                run.stdout, run.stderr
            );
        }
        assert_eq!(
            self.staging.schema_dump(),
            self.reference_schema(),
            "the schema is not the folder's:\n{all}"
        );
        assert_eq!(
            Fingerprint::of(&self.dev),
            self.dev_before,
            "the database .env names was changed:\n{all}"
        );
    }

    /// The schema the engine's own client makes from the folder, on a new database.
    fn reference_schema(&self) -> String {
        let reference = TestDb::new(self.kind);
        apply_with_engine_client(&reference, &migration_files(&self.migrations()));
        reference.schema_dump()
    }
}

/// Pins what the journey printed as next steps, per state and engine: each command run,
/// its exit code and its `next:` lines (volatile parts filtered as in `snapshots.rs`).
pub(crate) fn snapshot(kind: Kind, state: &str, steps: &[Step]) {
    let mut text = String::new();
    for step in steps {
        text += &format!("$ {}\n(exit {})\n", step.command, step.run.code);
        for line in step.run.stdout.lines().chain(step.run.stderr.lines()) {
            if line.contains("next: ") {
                text += &format!("{}\n", line.trim_start());
            }
        }
    }
    let name = format!("{state}_{}", kind.lock_name());
    crate::snapshots::settings().bind(|| insta::assert_snapshot!(name, text));
}

/// The commands in a run's `next:` lines, in order, as printed.
pub(crate) fn next_commands(run: &Run) -> Vec<String> {
    let mut commands = Vec::new();
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        let Some((_, next)) = line.split_once("next: ") else {
            continue;
        };
        let mut parts = next.split('`');
        parts.next();
        while let (Some(command), Some(_)) = (parts.next(), parts.next()) {
            commands.push(command.to_string());
        }
    }
    commands
}

/// Every command and its output, for failure messages.
pub(crate) fn transcript(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            format!(
                "$ {}\n(exit {})\n{}{}",
                s.command, s.run.code, s.run.stdout, s.run.stderr
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// What must not change in the developer's database: the file's bytes (SQLite), or its
/// schema and history rows (a server).
#[derive(Debug, Default, PartialEq, Eq)]
struct Fingerprint {
    file: Option<Vec<u8>>,
    schema: String,
    history: Vec<Vec<Option<String>>>,
}

impl Fingerprint {
    fn of(db: &TestDb) -> Fingerprint {
        let file = (db.kind == Kind::Sqlite).then(|| std::fs::read(db.sqlite_path()).unwrap());
        let text = crate::harness::test_engine(db.kind).text_type();
        Fingerprint {
            file,
            schema: db.schema_dump(),
            history: db.rows(&format!(
                "SELECT id, checksum, migration_name, CAST(finished_at AS {text}), CAST(rolled_back_at AS {text}), logs FROM _prisma_migrations ORDER BY id"
            )),
        }
    }
}

/// Picks the first command containing the first of `needles` any command contains.
pub(crate) fn preferring(needles: &'static [&'static str]) -> impl Fn(&[String]) -> usize {
    move |commands| {
        needles
            .iter()
            .find_map(|needle| commands.iter().position(|c| c.contains(needle)))
            .unwrap_or(0)
    }
}

/// The tenants of an environment `fleet` added to a journey's safemig.toml: schemas of
/// the staging database (PostgreSQL), databases of their own (MariaDB), or SQLite files.
pub(crate) struct Tenants {
    pub names: Vec<String>,
    /// A database per tenant (PostgreSQL: the one holding the schemas).
    dbs: Vec<TestDb>,
}

impl Tenants {
    pub fn new(journey: &mut Journey, count: usize) -> Tenants {
        let mut toml = std::fs::read_to_string(journey.dir.path().join("safemig.toml")).unwrap();
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (names, dbs) = match journey.kind {
            Kind::Postgres => {
                let names: Vec<String> = (1..=count).map(|i| format!("t{i}")).collect();
                toml += &format!(
                    "[environments.fleet]\nurl = \"env:STAGING_URL\"\ntenants = {{ list = [{}] }}\n",
                    list(&names)
                );
                (names, vec![TestDb::copy_of(&journey.staging)])
            }
            Kind::Mysql => {
                let dbs: Vec<TestDb> = (0..count).map(|_| TestDb::new(Kind::Mysql)).collect();
                let names: Vec<String> = dbs.iter().map(|d| d.name.clone()).collect();
                journey.var("FLEET_URL", &dbs[0].url);
                toml += &format!(
                    "[environments.fleet]\nurl = \"env:FLEET_URL\"\ntenants = {{ list = [{}] }}\n",
                    list(&names)
                );
                (names, dbs)
            }
            Kind::Sqlite => {
                std::fs::create_dir(journey.dir.path().join("tenants")).unwrap();
                let names: Vec<String> = (1..=count).map(|i| format!("tenants/t{i}.db")).collect();
                let dbs = names
                    .iter()
                    .map(|name| {
                        let path = journey.dir.path().join(name);
                        std::fs::write(&path, b"").unwrap();
                        TestDb::sqlite_file(&path)
                    })
                    .collect();
                toml += "[environments.fleet]\ntenants = { files = \"tenants/*.db\" }\n";
                (names, dbs)
            }
        };
        std::fs::write(journey.dir.path().join("safemig.toml"), toml).unwrap();
        if journey.kind == Kind::Postgres {
            // The schemas live in the staging database, which the journey's URL names.
            let url = journey.staging.url.clone();
            journey.var("STAGING_URL", &url);
        }
        Tenants { names, dbs }
    }

    /// Prisma's failed row over the first `k` statements of `sql`, in tenant `i`.
    pub fn fail_after(&self, journey: &Journey, i: usize, name: &str, sql: &str, k: usize) {
        match journey.kind {
            Kind::Postgres => {
                let schema = &self.names[i];
                let statements = safemig::sql::executable_statements(sql, Kind::Postgres.dialect());
                let prefix: Vec<&str> = statements[..k].iter().map(|s| s.sql).collect();
                journey.staging.exec(&format!(
                    "SET search_path TO \"{schema}\"; {}",
                    prefix.join(";\n")
                ));
                journey.staging.exec(&format!(
                    "INSERT INTO \"{schema}\"._prisma_migrations (id, checksum, migration_name, logs, started_at) \
                     VALUES ('{}', '{}', '{name}', 'Database error:\nserver closed the connection unexpectedly\n', now())",
                    uuid_v4(),
                    safemig::checksum::checksum(sql)
                ));
            }
            _ => crate::repair::fail_after(&self.dbs[i], name, sql, k),
        }
    }

    /// Every tenant healthy: the journey's last step exited 0 and `status`/`check` of the
    /// fleet exit 0; no password printed, the developer's database untouched.
    pub fn assert_healthy(&self, journey: &Journey, steps: &[Step]) {
        let all = transcript(steps);
        assert!(!all.contains(PASSWORD), "a password was printed:\n{all}");
        assert_eq!(steps.last().unwrap().run.code, 0, "{all}");
        for line in ["safemig status --env fleet", "safemig check --env fleet"] {
            let run = journey.safemig(line);
            assert_eq!(
                run.code, 0,
                "{line}:\n{all}\n--- {line}\n{}\n{}",
                run.stdout, run.stderr
            );
        }
        assert_eq!(
            Fingerprint::of(&journey.dev),
            journey.dev_before,
            "the database .env names was changed:\n{all}"
        );
    }
}

fn uuid_v4() -> String {
    safemig::history::HistoryRow::started("x", "x").id
}

/// Picks the first command.
pub(crate) fn first(_: &[String]) -> usize {
    0
}

/// Picks the first command containing `needle`, where a line offers a choice; a single
/// command is taken as it is.
pub(crate) fn containing(needle: &'static str) -> impl Fn(&[String]) -> usize {
    move |commands| match commands {
        [_] => 0,
        _ => commands
            .iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no command with {needle}: {commands:?}")),
    }
}
