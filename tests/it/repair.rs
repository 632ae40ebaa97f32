//! `safemig repair` end to end, on every engine: live states built by deploying the
//! migrations before a multi-statement migration, applying its first k statements by hand
//! and writing the failed row Prisma leaves; the verdict for k = 0, a middle k and n; a
//! hand change beside them (diverged: nothing written); `--apply` for `none` and `all`,
//! `--apply --finish` for `partial`, after which `status` and `drift` find nothing; and a
//! sample of the corpus, every k of a few multi-statement migrations per engine.

use std::path::PathBuf;

use serde_json::Value;

use safemig::history::{HistoryRow, failure_log};
use safemig::sql::executable_statements;

use crate::corpus::{corpora, migration_files};
use crate::deploy::INIT;
use crate::for_each_engine;
use crate::harness::{Kind, Project, Run, TestDb, block_on, engine_for};

/// Exit code of a verdict that lets no automatic repair (FailedInHistory).
const REFUSED: i32 = 5;

const FIRST: &str = "20240101000000_init";
const FAILED: &str = "20240102000000_four";
/// Four statements, each visible in the schema.
const FOUR: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                    CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER);\n\
                    CREATE INDEX b_n_idx ON b (n);\n\
                    CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

/// `sql`'s statements as safemig's splitter cuts them.
fn statements(kind: Kind, sql: &str) -> Vec<String> {
    executable_statements(sql, kind.dialect())
        .iter()
        .map(|s| s.sql.to_string())
        .collect()
}

/// Applies the first `k` statements of `sql` on one connection (a session pragma holds
/// for the ones after it), then writes the row Prisma leaves when it dies in the middle.
fn fail_after(db: &TestDb, name: &str, sql: &str, k: usize) {
    let prefix = statements(db.kind, sql);
    if k > 0 {
        db.exec(&prefix[..k].join(";\n"));
    }
    let row = HistoryRow {
        logs: Some(failure_log(
            "server closed the connection unexpectedly",
            None,
        )),
        ..HistoryRow::started(name, &safemig::checksum::checksum(sql))
    };
    block_on(async {
        let mut engine = engine_for(db).await;
        engine.insert_row(&row).await.unwrap();
    });
}

/// A database with `FIRST` deployed by safemig and `FOUR` failed after `k` statements,
/// and the project whose folder holds both.
fn failed_at(kind: Kind, k: usize) -> (TestDb, Project) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(FAILED, FOUR);
    fail_after(&db, FAILED, FOUR, k);
    (db, project)
}

fn repair_json(project: &Project, db: &TestDb, args: &[&str], code: i32) -> Value {
    let mut full = vec!["repair", "--json"];
    full.extend(args);
    let run = project.safemig(db, &full).expect(code);
    json(&run)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `safemig drift` against the folder, with the project's own cache.
fn drift(project: &Project, db: &TestDb) -> Run {
    let mut command = project.command(db, &["drift"]);
    command.env("SAFEMIG_CACHE_DIR", project.dir.path().join("cache"));
    crate::harness::to_run(command.output().expect("running safemig drift"))
}

fn each_prefix_gets_its_verdict(kind: Kind) {
    for (k, verdict, applied) in [(0, "none", None), (2, "partial", Some(2)), (4, "all", None)] {
        let (db, project) = failed_at(kind, k);
        let before = db.history();
        let report = repair_json(&project, &db, &[], 0);
        assert_eq!(report["verdict"], verdict, "k = {k}: {report:#}");
        if let Some(applied) = applied {
            assert_eq!(report["repaired"], Value::Null);
            assert_eq!(report["applied"], applied, "{report:#}");
            assert_eq!(report["plan"]["from"], applied + 1, "{report:#}");
        }
        assert_eq!(report["migration"], FAILED);
        assert_eq!(report["statements"].as_array().unwrap().len(), 4);
        assert_eq!(
            db.history(),
            before,
            "repair without --apply writes nothing"
        );
    }
    // The human report names the statements and the next command.
    let (db, project) = failed_at(kind, 2);
    let run = project.safemig(&db, &["repair"]).expect(0);
    assert!(
        run.stdout.contains("Verdict: partial 2 of 4"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("--apply --finish` runs statements 3..4"),
        "{}",
        run.stdout
    );
}

fn a_hand_change_diverges_and_nothing_is_written(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    db.exec("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)");
    let before = db.history();
    let report = repair_json(&project, &db, &[], REFUSED);
    assert_eq!(report["verdict"], "diverged", "{report:#}");
    assert_eq!(report["nearest"], 2, "{report:#}");
    let differences = report["differences"].as_array().unwrap();
    assert!(!differences.is_empty(), "{report:#}");
    for difference in differences {
        assert_eq!(difference["change"], "extra", "{report:#}");
        let name = difference["object"]["name"].as_str().unwrap();
        assert!(name.starts_with("unrelated"), "{report:#}");
    }
    let report = repair_json(&project, &db, &["--apply", "--finish"], REFUSED);
    assert_eq!(report["repaired"], Value::Null);
    assert_eq!(db.history(), before, "nothing is written after diverged");
}

fn apply_none_rolls_back_and_deploy_applies_again(kind: Kind) {
    let (db, project) = failed_at(kind, 0);
    let report = repair_json(&project, &db, &["--apply"], 0);
    assert_eq!(
        report["repaired"]["action"], "mark_rolled_back",
        "{report:#}"
    );
    let history = db.history();
    assert_eq!(history.len(), 2);
    assert!(history[1].rolled_back && !history[1].finished);
    let logs = history[1].logs.as_deref().unwrap();
    assert!(logs.contains("server closed the connection"), "{logs}");
    assert!(
        logs.contains("safemig repair: verdict none; marked rolled back"),
        "{logs}"
    );
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn apply_all_records_it_as_prisma_resolve_does(kind: Kind) {
    let (db, project) = failed_at(kind, 4);
    let report = repair_json(&project, &db, &["--apply"], 0);
    assert_eq!(report["repaired"]["action"], "record_applied", "{report:#}");
    let history = db.history();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(history[1].rolled_back && !history[1].finished);
    assert!(
        history[1]
            .logs
            .as_deref()
            .unwrap()
            .contains("safemig repair: verdict all; recorded applied")
    );
    // What `prisma migrate resolve --applied` inserts: finished, steps 0, empty logs.
    let resolved = &history[2];
    assert_eq!(resolved.name, FAILED);
    assert!(resolved.finished && !resolved.rolled_back);
    assert_eq!((resolved.steps, resolved.logs.as_deref()), (0, Some("")));
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn finish_runs_the_rest_of_a_partial_migration(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    let before = db.history();
    // --apply alone does not run statements.
    let run = project.safemig(&db, &["repair", "--apply"]).expect(2);
    assert!(run.stderr.contains("--finish"), "{}", run.stderr);
    assert_eq!(db.history(), before);

    let report = repair_json(&project, &db, &["--apply", "--finish"], 0);
    assert_eq!(report["repaired"]["action"], "finish", "{report:#}");
    let history = db.history();
    assert_eq!(history.len(), 2, "{history:?}");
    let finished = &history[1];
    assert!(finished.finished && !finished.rolled_back);
    assert_eq!(finished.steps, 1);
    assert_eq!(
        finished.logs.as_deref(),
        Some("safemig repair: verdict partial 2 of 4; finished statements 3..4")
    );
    assert!(db.has_table("c"));
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
    // Nothing failed any more: nothing to repair.
    let report = repair_json(&project, &db, &[], 0);
    assert_eq!(report["migration"], Value::Null);
}

fn roll_back_refuses_to_delete_data_unless_allowed(kind: Kind) {
    // Statements 1 and 2 ran: tables a and b, b with a row the app wrote since.
    let (db, project) = failed_at(kind, 2);
    db.exec("INSERT INTO b (id, n) VALUES (1, 7)");
    let before = db.history();
    let run = project
        .safemig(&db, &["repair", "--apply", "--roll-back"])
        .expect(10);
    assert!(
        run.stderr.contains("would delete data") && run.stderr.contains("table `b` has rows"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    assert_eq!(db.history(), before, "nothing is written");
    assert!(db.has_table("a") && db.has_table("b"), "nothing is dropped");

    let report = repair_json(
        &project,
        &db,
        &["--apply", "--roll-back", "--allow-data-loss"],
        0,
    );
    assert_eq!(report["repaired"]["action"], "roll_back", "{report:#}");
    assert_eq!(report["repaired"]["undone"], 2, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("b"));
    let history = db.history();
    assert!(
        history[1].rolled_back && !history[1].finished,
        "{history:?}"
    );
    let logs = history[1].logs.as_deref().unwrap();
    assert!(
        logs.contains("safemig repair: verdict partial 2 of 4; rolled back statements 1..2, marked rolled back"),
        "{logs}"
    );
    // Back at the state before the migration: deploy applies it whole.
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn roll_back_of_empty_objects_needs_no_permission(kind: Kind) {
    // Statements 1..3 ran: a, b and b's index, all empty.
    let (db, project) = failed_at(kind, 3);
    let report = repair_json(&project, &db, &["--apply", "--roll-back"], 0);
    assert_eq!(report["repaired"]["undone"], 3, "{report:#}");
    assert!(!db.has_table("a") && !db.has_table("b"));
    project.safemig(&db, &["deploy"]).expect(0);
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// A data statement between two DDL statements: the schema cannot show whether it ran.
const WITH_DATA: &str = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
                         INSERT INTO a (id) VALUES (1);\n\
                         CREATE TABLE c (id INTEGER PRIMARY KEY);\n";

fn assume_applied_settles_an_ambiguous_verdict(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(kind, &[(FIRST, INIT)]);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(FAILED, WITH_DATA);
    fail_after(&db, FAILED, WITH_DATA, 1);
    let before = db.history();

    let report = repair_json(&project, &db, &["--apply"], REFUSED);
    assert_eq!(report["verdict"], "ambiguous", "{report:#}");
    assert_eq!(
        report["candidates"],
        serde_json::json!([1, 2]),
        "{report:#}"
    );
    assert_eq!(report["unseen"], serde_json::json!([2]), "{report:#}");
    let human = project.safemig(&db, &["repair"]).expect(REFUSED);
    assert!(
        human.stdout.contains("statement 2 (line 2): INSERT INTO a")
            && human
                .stdout
                .contains("--assume-applied 1-K` with K one of 1, 2"),
        "{}",
        human.stdout
    );
    // An assumption the schema contradicts (table c would exist) is refused.
    let run = project
        .safemig(
            &db,
            &["repair", "--apply", "--finish", "--assume-applied", "1-3"],
        )
        .expect(10);
    assert!(
        run.stderr
            .contains("matches only the states after statements 1, 2"),
        "{}",
        run.stderr
    );
    let run = project
        .safemig(&db, &["repair", "--assume-applied", "2,3"])
        .expect(2);
    assert!(run.stderr.contains("from the first on"), "{}", run.stderr);
    assert_eq!(db.history(), before, "nothing is written");

    // The operator checked: the INSERT did not run.
    let report = repair_json(
        &project,
        &db,
        &["--apply", "--finish", "--assume-applied", "1"],
        0,
    );
    assert_eq!(report["assumed_applied"], 1, "{report:#}");
    assert_eq!(report["repaired"]["action"], "finish", "{report:#}");
    let history = db.history();
    assert_eq!(
        history[1].logs.as_deref(),
        Some(
            "safemig repair: verdict ambiguous, operator assumed statements 1..1 applied; finished statements 2..3"
        )
    );
    assert_eq!(db.rows("SELECT 'x' FROM a").len(), 1, "the INSERT ran once");
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

/// `safemig run --on-failed=repair`: the app's command, which says it started.
const APP: [&str; 3] = ["sh", "-c", "echo app started"];

fn run_heals_a_provable_failure_and_starts_the_app(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(0);
    assert!(run.stdout.contains("app started"), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("repaired failed migration {FAILED}"))
            && run
                .stderr
                .contains("verdict partial 2 of 4; finished statements 3..4"),
        "{}",
        run.stderr
    );
    project.safemig(&db, &["status"]).expect(0);
    drift(&project, &db).expect(0);
}

fn run_stops_on_a_verdict_that_needs_a_person(kind: Kind) {
    let (db, project) = failed_at(kind, 2);
    db.exec("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)");
    let before = db.history();
    let mut args = vec!["run", "--on-failed=repair", "--"];
    args.extend(APP);
    let run = project.safemig(&db, &args).expect(REFUSED);
    assert!(!run.stdout.contains("app started"), "{run:?}");
    assert!(
        run.stderr.contains("Verdict: diverged")
            && run.stderr.contains("does not act on without a person")
            && run.stderr.contains(&format!("safemig repair {FAILED}")),
        "{}",
        run.stderr
    );
    assert_eq!(db.history(), before, "nothing is written");
}

/// Kinds of statements that have no lasting effect of their own.
fn transparent(kind: &str) -> bool {
    matches!(
        kind,
        "transaction_control" | "foreign_keys_pragma" | "other"
    )
}

/// A few multi-statement migrations early in each corpus (a short prefix to replay), with
/// no transaction control of their own (a prefix cut inside the script's transaction
/// would be rolled back by the server): every k from 0 to n. Never a wrong `all`.
fn corpus_sample(kind: Kind) {
    const EARLY: usize = 12;
    // MariaDB's copies (a dump restored) and `information_schema` reads make one case
    // several times dearer than on the other engines: a smaller sample keeps the test short.
    let (per_corpus, max_statements) = if kind == Kind::Mysql { (2, 4) } else { (2, 8) };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (corpus, dir) in corpora(kind) {
        let files = migration_files(&dir);
        let mut taken = 0;
        for index in 1..files.len().min(EARLY) {
            let sql = std::fs::read_to_string(&files[index]).unwrap();
            let split = executable_statements(&sql, kind.dialect());
            let n = split.len();
            if !(2..=max_statements).contains(&n)
                || split.iter().any(|s| {
                    matches!(
                        s.kind,
                        safemig::sql::StatementKind::TransactionControl
                            | safemig::sql::StatementKind::NoTransaction
                    )
                })
            {
                continue;
            }
            taken += 1;
            let name = |f: &PathBuf| {
                f.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            };
            let before: Vec<(String, String)> = files[..index]
                .iter()
                .map(|f| (name(f), std::fs::read_to_string(f).unwrap()))
                .collect();
            let before: Vec<(&str, &str)> = before
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_str()))
                .collect();
            let project = Project::new(kind, &before);
            let template = TestDb::new(kind);
            project.safemig(&template, &["deploy"]).expect(0);
            let failed = name(&files[index]);
            project.write(&failed, &sql);
            for k in 0..=n {
                let db = TestDb::copy_of(&template);
                fail_after(&db, &failed, &sql, k);
                let run = project.safemig(&db, &["repair", "--json"]);
                let report = json(&run);
                let verdict = report["verdict"].as_str().unwrap().to_string();
                let kinds: Vec<String> = report["statements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["kind"].as_str().unwrap().to_string())
                    .collect();
                let all_transparent =
                    |from: usize, to: usize| kinds[from..to].iter().all(|kind| transparent(kind));
                let context = format!("{corpus} {failed} k = {k} of {n}: {report:#}");
                match verdict.as_str() {
                    "all" => assert!(k == n || all_transparent(k, n), "{context}"),
                    "none" => assert!(all_transparent(0, k), "{context}"),
                    "partial" => {
                        let applied = report["applied"].as_u64().unwrap() as usize;
                        assert!(applied <= k && all_transparent(applied, k), "{context}");
                    }
                    "ambiguous" => assert!(
                        report["candidates"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|c| c.as_u64() == Some(k as u64)),
                        "{context}"
                    ),
                    _ => panic!("{context}"),
                }
                if verdict == "ambiguous" {
                    eprintln!(
                        "{corpus} {failed} k = {k} of {n}: ambiguous, unseen statements {}",
                        report["unseen"]
                    );
                }
                let expected = if verdict == "ambiguous" { 5 } else { 0 };
                assert_eq!(run.code, expected, "{context}");
                *counts.entry(verdict).or_default() += 1;
            }
            if taken == per_corpus {
                break;
            }
        }
    }
    eprintln!("repair corpus sample, {kind:?}: {counts:?}");
}

for_each_engine!(
    each_prefix_gets_its_verdict,
    a_hand_change_diverges_and_nothing_is_written,
    apply_none_rolls_back_and_deploy_applies_again,
    apply_all_records_it_as_prisma_resolve_does,
    finish_runs_the_rest_of_a_partial_migration,
    roll_back_refuses_to_delete_data_unless_allowed,
    roll_back_of_empty_objects_needs_no_permission,
    assume_applied_settles_an_ambiguous_verdict,
    run_heals_a_provable_failure_and_starts_the_app,
    run_stops_on_a_verdict_that_needs_a_person,
    corpus_sample,
);
