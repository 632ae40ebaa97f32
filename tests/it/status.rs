//! `safemig status`: every class produced by a real database state, on every engine.

use serde_json::Value;

use crate::deploy::{FAILING_MIDWAY, INIT, POSTS, TAGS};
use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb};

/// `status --json`, parsed, with the exit code checked.
pub fn status_json(project: &Project, db: &TestDb, code: i32) -> Value {
    status_json_with(project, db, &[], code)
}

/// `status --json ARGS`, parsed, with the exit code checked.
fn status_json_with(project: &Project, db: &TestDb, args: &[&str], code: i32) -> Value {
    let mut full = vec!["status", "--json"];
    full.extend(args);
    let run = project.safemig(db, &full).expect(code);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `(name, state)` for every migration in a JSON report.
pub fn states(report: &Value) -> Vec<(String, String)> {
    report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn fresh_database_is_all_pending(kind: Kind) {
    let db = TestDb::new(kind);
    let project = crate::deploy::three(kind);
    let report = status_json(&project, &db, 8);
    let expected = if kind == Kind::Sqlite {
        "no_database"
    } else {
        "missing"
    };
    assert_eq!(report["history_table"], expected);
    assert_eq!(report["verdict"], "pending");
    assert!(states(&report).iter().all(|(_, s)| s == "pending"));
    if kind == Kind::Sqlite {
        assert!(
            !db.sqlite_path().exists(),
            "status must not create the database"
        );
    }
}

fn applied_pending_modified_missing(kind: Kind) {
    let db = TestDb::new(kind);
    let project = crate::deploy::three(kind);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write(
        "20240104000000_next",
        "CREATE TABLE next_things (id INTEGER PRIMARY KEY);\n",
    );
    let report = status_json(&project, &db, 8);
    assert_eq!(report["verdict"], "pending");
    assert_eq!(report["counts"]["applied"], 3);
    assert_eq!(report["counts"]["pending"], 1);

    project.write(
        "20240102000000_posts",
        &format!("{POSTS}-- edited after deploy\n"),
    );
    project.remove("20240103000000_tags");
    // Deploy applies past an edited or missing migration, as Prisma does: noted, and
    // the verdict is what deploy would do (apply the pending one); strict, inconsistent.
    let report = status_json(&project, &db, 8);
    assert_eq!(report["verdict"], "pending");
    let report = status_json_with(&project, &db, &["--strict"], 7);
    assert_eq!(report["verdict"], "inconsistent");
    assert_eq!(
        states(&report),
        pairs(&[
            ("20240101000000_init", "applied"),
            ("20240102000000_posts", "modified"),
            ("20240103000000_tags", "missing"),
            ("20240104000000_next", "pending"),
        ])
    );
    let modified = &report["migrations"][1];
    assert_ne!(modified["local_checksum"], modified["database_checksum"]);
    assert_eq!(report["migrations"][2]["in_folder"], false);

    let human = project.safemig(&db, &["status"]).expect(8);
    assert!(
        human.stdout.contains("modified") && human.stdout.contains("missing"),
        "{}",
        human.stdout
    );
}

fn crlf_checkout_is_not_modified(kind: Kind) {
    let db = TestDb::new(kind);
    let project = crate::deploy::three(kind);
    project.safemig(&db, &["deploy"]).expect(0);
    project.write("20240102000000_posts", &POSTS.replace('\n', "\r\n"));
    status_json(&project, &db, 0);
}

fn failed_then_rolled_back(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(6);
    let report = status_json(&project, &db, 5);
    assert_eq!(report["verdict"], "failed");
    let failed = &report["migrations"][1];
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["logs"].as_str().unwrap().contains("no_such_table"),
        "{failed}"
    );
    let note = failed["note"].as_str().unwrap();
    assert!(note.starts_with("failed at statement 3 of 4"), "{note}");
    assert_eq!(
        failed["applied_steps_count"], 1,
        "statements done before the failure"
    );
    assert_eq!(failed["progress"]["done"], 1);

    project
        .safemig(&db, &["resolve", "--rolled-back", "20240102000000_broken"])
        .expect(0);
    let report = status_json(&project, &db, 8);
    assert_eq!(report["migrations"][1]["state"], "rolled_back");
    assert_eq!(report["verdict"], "pending");
}

fn applied_out_of_order(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[("20240101000000_init", INIT), ("20240103000000_tags", TAGS)],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    // A branch merged late brings a migration that sorts before an applied one.
    project.write("20240102000000_posts", POSTS);
    let report = status_json(&project, &db, 8);
    let late = &report["migrations"][1];
    assert_eq!(late["state"], "pending");
    assert!(
        late["note"].as_str().unwrap().contains("out of order"),
        "{late}"
    );

    // What deploy chose to do, status does not condemn: applied, with a note; strict,
    // a state of its own and inconsistent.
    project.safemig(&db, &["deploy"]).expect(0);
    let report = status_json(&project, &db, 0);
    assert_eq!(report["verdict"], "up_to_date");
    assert_eq!(report["migrations"][1]["state"], "applied");
    assert_eq!(report["migrations"][1]["out_of_order"], true);
    assert!(
        report["migrations"][1]["note"]
            .as_str()
            .unwrap()
            .contains("branch merge"),
        "{report}"
    );
    let report = status_json_with(&project, &db, &["--strict"], 7);
    assert_eq!(
        states(&report),
        pairs(&[
            ("20240101000000_init", "applied"),
            ("20240102000000_posts", "out_of_order"),
            ("20240103000000_tags", "applied"),
        ])
    );
    assert_eq!(report["verdict"], "inconsistent");
}

fn baseline_needed(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec("CREATE TABLE legacy (id INTEGER PRIMARY KEY)");
    let project = crate::deploy::three(kind);
    let report = status_json(&project, &db, 9);
    assert_eq!(report["history_table"], "missing_in_non_empty_database");
    assert_eq!(report["verdict"], "baseline_needed");
}

for_each_engine!(
    fresh_database_is_all_pending,
    applied_pending_modified_missing,
    crlf_checkout_is_not_modified,
    failed_then_rolled_back,
    applied_out_of_order,
    baseline_needed,
);
