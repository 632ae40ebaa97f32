//! Where safemig follows today's Prisma (6.6 and later, 7) rather than older releases, on
//! the real engines: folder order, "database not empty", byte order marks, and the guard
//! against databases handed over to Prisma 8. The real Prisma CLI's side of these is in
//! `prisma.rs`.

use crate::for_each_engine;
use crate::harness::{Kind, Project, TestDb};
use crate::status::status_json;

/// Prisma ≥ 6.6 applies `20240101_manual` before `20240101120000_auto` (ICU collation;
/// bytes put `_auto` first). Here the second one needs the first: safemig applies them in
/// Prisma's order, and status says that Prisma ≤ 6.5 ordered them the other way.
fn folder_order_follows_prisma_6_6(kind: Kind) {
    let db = TestDb::new(kind);
    let project = Project::new(
        kind,
        &[
            ("20240101_manual", "CREATE TABLE manual (id INTEGER);\n"),
            (
                "20240101120000_auto",
                "ALTER TABLE manual ADD COLUMN auto INTEGER;\n",
            ),
        ],
    );
    let run = project.safemig(&db, &["deploy"]).expect(0);
    let manual = run.stdout.find("Applied 20240101_manual").unwrap();
    let auto = run.stdout.find("Applied 20240101120000_auto").unwrap();
    assert!(manual < auto, "{}", run.stdout);
    let report = status_json(&project, &db, 0);
    let names: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["20240101_manual", "20240101120000_auto"]);
    let note = report["notes"][0].as_str().unwrap();
    assert!(
        note.contains("`20240101_manual` before `20240101120000_auto`")
            && note.contains("Prisma 6.5"),
        "{note}"
    );
}

/// As Prisma counts for P3005: tables only (a view or, on PostgreSQL, an enum alone does
/// not make a database "not empty"), PostGIS's own tables aside; a real table still does.
fn not_empty_counts_tables_as_prisma_does(kind: Kind) {
    let db = TestDb::new(kind);
    let mut setup = vec!["CREATE VIEW just_a_view AS SELECT 1 AS one"];
    if kind == Kind::Postgres {
        setup.push("CREATE TYPE mood AS ENUM ('happy', 'sad')");
        // What `CREATE EXTENSION postgis` puts in `public`.
        setup.push("CREATE TABLE spatial_ref_sys (srid INTEGER PRIMARY KEY)");
    }
    for sql in setup {
        db.exec(sql);
    }
    let project = Project::new(kind, &[("20240101000000_init", crate::deploy::INIT)]);
    project.safemig(&db, &["status"]).expect(8);
    project.safemig(&db, &["deploy"]).expect(0);

    let other = TestDb::new(kind);
    other.exec("CREATE TABLE existing (id INTEGER)");
    let run = project.safemig(&other, &["deploy"]).expect(9);
    assert!(run.stderr.contains("`existing`"), "{}", run.stderr);
}

/// A leading byte order mark: kept in the checksum (as Prisma), stripped before the SQL
/// runs (PostgreSQL rejects U+FEFF as a token), in both modes.
fn a_byte_order_mark_is_checksummed_and_not_run(kind: Kind) {
    let db = TestDb::new(kind);
    let journaled = match kind {
        Kind::Postgres => {
            "\u{feff}CREATE TABLE j (id INTEGER);\nCREATE INDEX CONCURRENTLY j_idx ON j (id);\n"
        }
        Kind::Mysql => "\u{feff}CREATE TABLE j (id INTEGER);\n",
        Kind::Sqlite => "\u{feff}CREATE TABLE j (id INTEGER);\nVACUUM;\n",
    };
    let project = Project::new(
        kind,
        &[
            (
                "20240101000000_bom",
                "\u{feff}CREATE TABLE bom (id INTEGER);\n",
            ),
            ("20240102000000_bom_journaled", journaled),
        ],
    );
    project.safemig(&db, &["deploy"]).expect(0);
    assert!(db.has_table("bom") && db.has_table("j"));
    let stored = db.scalar(
        "SELECT checksum FROM _prisma_migrations WHERE migration_name = '20240101000000_bom'",
    );
    assert_eq!(
        stored,
        Some(safemig::checksum::checksum(
            "\u{feff}CREATE TABLE bom (id INTEGER);\n"
        ))
    );
    project.safemig(&db, &["status"]).expect(0);
}

/// A database Prisma 8 took over (its marker schema or tables): status says so, deploy and
/// resolve refuse, and nothing is written.
fn a_database_handed_to_prisma_8_is_refused(kind: Kind) {
    let db = TestDb::new(kind);
    match kind {
        Kind::Postgres => db.exec("CREATE SCHEMA prisma_contract"),
        _ => db.exec("CREATE TABLE _prisma_marker (id INTEGER)"),
    }
    let project = Project::new(kind, &[("20240101000000_init", crate::deploy::INIT)]);
    let report = status_json(&project, &db, 2);
    assert_eq!(report["verdict"], "handed_to_prisma_next");
    assert!(
        report["notes"][0].as_str().unwrap().contains("Prisma 8"),
        "{report}"
    );
    for args in [
        &["deploy"][..],
        &["resolve", "--applied", "20240101000000_init"][..],
    ] {
        let run = project.safemig(&db, args).expect(2);
        assert!(
            run.stderr
                .contains("is migrated by Prisma 8 (Prisma Next) now"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("prisma db migrate"), "{}", run.stderr);
    }
    assert!(!db.has_table("_prisma_migrations") && !db.has_table("users"));
}

// Prisma 8 has PostgreSQL and SQLite targets, no MySQL one.
#[test]
fn postgres_handed_to_prisma_8_is_refused() {
    a_database_handed_to_prisma_8_is_refused(Kind::Postgres);
}

#[test]
fn sqlite_handed_to_prisma_8_is_refused() {
    a_database_handed_to_prisma_8_is_refused(Kind::Sqlite);
}

for_each_engine!(
    folder_order_follows_prisma_6_6,
    not_empty_counts_tables_as_prisma_does,
    a_byte_order_mark_is_checksummed_and_not_run,
);
