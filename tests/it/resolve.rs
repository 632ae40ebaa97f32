//! `safemig resolve --applied / --rolled-back` with Prisma's semantics and refusals.

use crate::deploy::FAILING_MIDWAY;
use crate::deploy::{INIT, POSTS, TAGS};
use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb};

fn rolled_back_lets_a_fixed_migration_apply(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(6);
    let run = project
        .safemig(&db, &["resolve", "--rolled-back", "20240102000000_broken"])
        .expect(0);
    assert!(
        run.stdout.contains("1 failed attempt marked rolled back"),
        "{}",
        run.stdout
    );
    let broken = &db.history()[1];
    assert!(broken.rolled_back && !broken.finished);

    project.write("20240102000000_broken", TAGS);
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(db.has_table("tags"));
    let history = db.history();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(history[2].finished && !history[2].rolled_back);
}

fn applied_marks_a_failed_migration_done(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_broken", FAILING_MIDWAY),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(6);
    let run = project
        .safemig(&db, &["resolve", "--applied", "20240102000000_broken"])
        .expect(0);
    assert!(
        run.stdout
            .contains("Recorded 20240102000000_broken as applied"),
        "{}",
        run.stdout
    );
    // A command that writes says where: the database, by name, never its password.
    let database = match kind {
        Kind::Sqlite => db.sqlite_path().display().to_string(),
        _ => format!("`{}`", db.name),
    };
    assert!(
        run.stdout
            .contains(&format!(" in {} ", kind.database_noun()))
            && run.stdout.contains(&database),
        "{}",
        run.stdout
    );
    let history = db.history();
    assert_eq!(history.len(), 3);
    assert!(
        history[1].rolled_back,
        "the failed attempt is marked rolled back"
    );
    let resolved = &history[2];
    assert!(resolved.finished && !resolved.rolled_back);
    assert_eq!((resolved.steps, resolved.logs.as_deref()), (0, Some("")));
    project.safemig(&db, &["status"]).expect(0);
}

fn applied_baselines_an_existing_database(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(INIT);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(9);
    project
        .safemig(&db, &["resolve", "--applied", "20240101000000_init"])
        .expect(0);
    let run = project.safemig(&db, &["deploy"]).expect(0);
    assert!(run.stdout.contains("1 migration applied"), "{}", run.stdout);
    assert!(db.has_table("posts"));
}

fn refusals(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_posts", POSTS),
        ],
    );
    let run = project
        .safemig(&db, &["resolve", "--rolled-back", "20240101000000_init"])
        .expect(10);
    assert!(run.stderr.contains("error[P3011]"), "{}", run.stderr);
    project.safemig(&db, &["deploy"]).expect(0);

    let run = project
        .safemig(&db, &["resolve", "--applied", "20240101000000_init"])
        .expect(10);
    assert!(run.stderr.contains("error[P3008]"), "{}", run.stderr);
    let run = project
        .safemig(&db, &["resolve", "--rolled-back", "20240101000000_init"])
        .expect(10);
    assert!(run.stderr.contains("error[P3012]"), "{}", run.stderr);
    let run = project
        .safemig(&db, &["resolve", "--applied", "20991231000000_nope"])
        .expect(2);
    assert!(run.stderr.contains("error[P3017]"), "{}", run.stderr);
    assert_eq!(db.history().len(), 2, "refusals write nothing");

    let run = project.safemig(&db, &["resolve"]).expect(2);
    assert!(run.stderr.contains("--applied"), "{}", run.stderr);
}

for_each_engine!(
    rolled_back_lets_a_fixed_migration_apply,
    applied_marks_a_failed_migration_done,
    applied_baselines_an_existing_database,
    refusals,
);
