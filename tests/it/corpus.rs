//! Every real-world history in `../shared/corpus/` deploys with safemig to the same schema
//! that the engine's own client produces from the same files, and `status` reads it back.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Kind, Project, Run, TestDb, corpus_dir, mariadb_client, postgres};
use crate::status::{states, status_json};

/// The corpora of one engine: (name, migrations folder); none when the corpus is missing
/// (see [`corpus_dir`]).
pub fn corpora(kind: Kind) -> Vec<(String, PathBuf)> {
    let Some(corpus) = corpus_dir() else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let migrations = entry.path().join("migrations");
            let lock = std::fs::read_to_string(migrations.join("migration_lock.toml")).ok()?;
            lock.contains(&format!("provider = \"{}\"", kind.lock_name()))
                .then(|| (entry.file_name().to_string_lossy().into_owned(), migrations))
        })
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no {kind:?} corpus in {}",
        corpus.display()
    );
    found
}

pub fn migration_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.path().join("migration.sql"))
        .collect();
    files.sort();
    files
}

/// The migration's name: the folder holding its `migration.sql`.
pub fn migration_name(file: &Path) -> String {
    file.parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Applies the files in order with the engine's own client, the reference safemig must match.
pub fn apply_with_engine_client(db: &TestDb, files: &[PathBuf]) {
    for file in files {
        let (tool, mut command) = match db.kind {
            Kind::Postgres => {
                let mut psql = Command::new(postgres().bin_dir().join("psql"));
                psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
                    .arg(file);
                ("psql", psql)
            }
            Kind::Sqlite => {
                let mut sqlite3 = Command::new("sqlite3");
                sqlite3
                    .arg("-bail")
                    .arg(db.sqlite_path())
                    .arg(format!(".read '{}'", file.display()));
                ("sqlite3", sqlite3)
            }
            Kind::Mysql => {
                let mut mariadb = mariadb_client(db);
                mariadb.stdin(std::fs::File::open(file).unwrap());
                ("mariadb", mariadb)
            }
        };
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{tool} failed on {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A new database with the history in `dir` deployed by safemig, and the run.
pub fn deployed_by_safemig(kind: Kind, dir: &Path) -> (TestDb, Run) {
    let deployed = TestDb::new(kind);
    let run = crate::harness::safemig(
        &std::env::temp_dir(),
        &[
            "--url",
            &deployed.url,
            "--dir",
            dir.to_str().unwrap(),
            "deploy",
        ],
    )
    .expect(0);
    (deployed, run)
}

fn corpus_deploys_to_the_reference_schema(kind: Kind) {
    for (name, dir) in corpora(kind) {
        let files = migration_files(&dir);
        let (deployed, run) = deployed_by_safemig(kind, &dir);
        assert!(
            run.stdout
                .contains(&format!("{} migrations applied", files.len())),
            "{name}: {}",
            run.stdout
        );
        let reference = TestDb::new(kind);
        apply_with_engine_client(&reference, &files);
        let (ours, theirs) = (deployed.schema_dump(), reference.schema_dump());
        assert!(
            ours.len() > 100,
            "{name}: suspiciously small schema dump:\n{ours}"
        );
        assert!(
            ours == theirs,
            "{name}: schema differs from the engine client's:\n{}",
            first_difference(&ours, &theirs)
        );
        println!(
            "{name}: {} migrations deployed, schema identical to the {kind:?} client's ({} bytes)",
            files.len(),
            ours.len()
        );

        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        let report = {
            let run = crate::harness::safemig(
                project.dir.path(),
                &[
                    "--url",
                    &deployed.url,
                    "--dir",
                    dir.to_str().unwrap(),
                    "status",
                    "--json",
                ],
            )
            .expect(0);
            serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()
        };
        assert_eq!(report["verdict"], "up_to_date");
        assert_eq!(states(&report).len(), files.len());
        assert!(states(&report).iter().all(|(_, s)| s == "applied"));
    }
}

pub fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  safemig: {x}\n  client:  {y}", i + 1);
        }
    }
    format!(
        "one dump is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

/// On a corpus database: edit one applied file, delete one folder, mark one row failed;
/// `status --json` reports all three.
fn status_reports_edits_deletions_and_failures(kind: Kind) {
    let Some((name, _)) = corpora(kind).into_iter().next() else {
        return;
    };
    let project = Project::from_corpus(&name).expect("the corpus is there");
    let db = TestDb::new(kind);
    project.safemig(&db, &["deploy"]).expect(0);
    let names: Vec<String> = migration_files(&project.migrations())
        .iter()
        .map(|f| migration_name(f))
        .collect();
    assert!(names.len() >= 4, "{name} is too short for this test");
    let (edited, deleted, failed) = (&names[1], &names[2], &names[names.len() - 1]);

    let script = project.migrations().join(edited).join("migration.sql");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("\n-- edited after it was applied\n");
    std::fs::write(&script, text).unwrap();
    project.remove(deleted);
    db.exec(&format!(
        "UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = '{failed}'"
    ));

    let report = status_json(&project, &db, 5);
    let all = states(&report);
    assert_eq!(all.len(), names.len(), "every migration is listed");
    let state_of = |n: &str| all.iter().find(|(m, _)| m == n).map(|(_, s)| s.as_str());
    assert_eq!(state_of(edited), Some("modified"));
    assert_eq!(state_of(deleted), Some("missing"));
    assert_eq!(state_of(failed), Some("failed"));
    assert_eq!(
        all.iter().filter(|(_, s)| s == "applied").count(),
        names.len() - 3
    );
}

crate::for_each_engine!(
    corpus_deploys_to_the_reference_schema,
    status_reports_edits_deletions_and_failures
);
