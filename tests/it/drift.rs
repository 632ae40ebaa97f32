//! Schema introspection and comparison, the ground `safemig drift` will stand on, on the
//! engine that has an introspector so far (SQLite): no false positives on the real-world
//! histories, and every deliberate change found with the right object and attribute.

use std::io::Write;
use std::process::{Command, Stdio};

use safemig::schema::{Difference, ObjectKind, Schema, diff};

use crate::corpus::{apply_with_engine_client, corpora, migration_files};
use crate::harness::{Kind, TestDb, block_on, engine_for, run_tool};

fn introspect(db: &TestDb) -> Schema {
    block_on(async {
        let mut engine = engine_for(db).await;
        engine
            .schema()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("SQLite has an introspector")
    })
}

/// `sqlite3 FROM .dump | sqlite3 TO`: a backup restored.
fn dump_and_restore(from: &TestDb, to: &TestDb) {
    let dump = run_tool(Command::new("sqlite3").arg(from.sqlite_path()).arg(".dump"));
    let mut restore = Command::new("sqlite3")
        .arg("-bail")
        .arg(to.sqlite_path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    restore
        .stdin
        .take()
        .unwrap()
        .write_all(&dump.stdout)
        .unwrap();
    assert!(
        restore.wait().unwrap().success(),
        "restoring the dump failed"
    );
}

/// Each SQLite history, deployed by safemig, replayed by the `sqlite3` client, and dumped
/// and restored: the three schemas are the same, object by object.
#[test]
fn sqlite_corpus_has_no_false_positives() {
    for (name, dir) in corpora(Kind::Sqlite) {
        let deployed = TestDb::new(Kind::Sqlite);
        crate::harness::safemig(
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
        let replayed = TestDb::new(Kind::Sqlite);
        apply_with_engine_client(&replayed, &migration_files(&dir));
        let restored = TestDb::new(Kind::Sqlite);
        dump_and_restore(&deployed, &restored);

        let reference = introspect(&deployed);
        let tables = reference
            .objects
            .keys()
            .filter(|k| k.kind == ObjectKind::Table)
            .count();
        assert!(tables > 5, "{name}: only {tables} tables read");
        for (how, other) in [("replayed by sqlite3", &replayed), ("restored", &restored)] {
            let differences = diff(&introspect(other), &reference);
            assert_eq!(differences, vec![], "{name}: {how} differs");
        }
        println!(
            "{name}: {} objects compared ({tables} tables), {} of them by text",
            reference.objects.len(),
            reference.compared_by_text()
        );
    }
}

const BASE: &str = r#"
CREATE TABLE "User" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "name" TEXT DEFAULT 'anonymous',
    "score" INTEGER NOT NULL DEFAULT 0 CHECK ("score" >= 0),
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) VIRTUAL
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE INDEX "User_score_idx" ON "User"("score" DESC) WHERE "score" > 0;
CREATE TABLE "Post" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "authorId" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    UNIQUE ("authorId", "title"),
    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
) STRICT;
CREATE INDEX "Post_title_lower_idx" ON "Post"(lower("title"));
CREATE TABLE "Tag" ("name" TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
CREATE VIEW "UserEmails" AS SELECT "id", "email" FROM "User";
CREATE TRIGGER "User_touch" AFTER UPDATE ON "User" BEGIN UPDATE "User" SET "score" = "score" WHERE "id" = NEW."id"; END;
"#;

/// A change to [`BASE`] and the difference it must show: the object's kind, its name, and
/// the attribute (`None`: the object is missing or extra).
struct Mutation {
    from: &'static str,
    to: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: Option<&'static str>,
}

const fn m(
    from: &'static str,
    to: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: Option<&'static str>,
) -> Mutation {
    Mutation {
        from,
        to,
        kind,
        name,
        attribute,
    }
}

const MUTATIONS: &[Mutation] = &[
    m(
        r#""name" TEXT DEFAULT 'anonymous'"#,
        r#""name" TEXT"#,
        ObjectKind::Column,
        "User.name",
        Some("default"),
    ),
    m(
        "DEFAULT 0 CHECK",
        "DEFAULT 1 CHECK",
        ObjectKind::Column,
        "User.score",
        Some("default"),
    ),
    m(
        r#""email" TEXT NOT NULL,"#,
        r#""email" TEXT,"#,
        ObjectKind::Column,
        "User.email",
        Some("nullable"),
    ),
    m(
        r#""createdAt" DATETIME"#,
        r#""createdAt" TIMESTAMP"#,
        ObjectKind::Column,
        "User.createdAt",
        Some("type"),
    ),
    m(
        "VIRTUAL",
        "STORED",
        ObjectKind::Column,
        "User.emailLower",
        Some("generated"),
    ),
    m(
        r#""score" >= 0"#,
        r#""score" >= 1"#,
        ObjectKind::Check,
        r#"User: ("score" >= 0)"#,
        None,
    ),
    m(
        "PRIMARY KEY AUTOINCREMENT",
        "PRIMARY KEY",
        ObjectKind::Table,
        "User",
        Some("autoincrement"),
    ),
    m(
        r#"CREATE UNIQUE INDEX "User_email_key""#,
        r#"CREATE INDEX "User_email_key""#,
        ObjectKind::Index,
        "User_email_key",
        Some("unique"),
    ),
    m(
        r#""score" DESC) WHERE"#,
        r#""score") WHERE"#,
        ObjectKind::Index,
        "User_score_idx",
        Some("columns"),
    ),
    m(
        r#"WHERE "score" > 0"#,
        r#"WHERE "score" > 1"#,
        ObjectKind::Index,
        "User_score_idx",
        Some("definition"),
    ),
    m(
        "ON DELETE RESTRICT",
        "ON DELETE CASCADE",
        ObjectKind::ForeignKey,
        "Post(authorId) -> User",
        Some("on_delete"),
    ),
    m(
        "ON UPDATE CASCADE",
        "ON UPDATE NO ACTION",
        ObjectKind::ForeignKey,
        "Post(authorId) -> User",
        Some("on_update"),
    ),
    m(
        r#"REFERENCES "User" ("id")"#,
        r#"REFERENCES "User" ("email")"#,
        ObjectKind::ForeignKey,
        "Post(authorId) -> User",
        Some("references"),
    ),
    m(
        r#"UNIQUE ("authorId", "title")"#,
        r#"UNIQUE ("title", "authorId")"#,
        ObjectKind::Index,
        "Post(authorId, title)",
        None,
    ),
    m(") STRICT;", ");", ObjectKind::Table, "Post", Some("strict")),
    m(
        ") WITHOUT ROWID;",
        ");",
        ObjectKind::Table,
        "Tag",
        Some("without_rowid"),
    ),
    m(
        r#"lower("title")"#,
        r#"upper("title")"#,
        ObjectKind::Index,
        "Post_title_lower_idx",
        Some("definition"),
    ),
    m(
        r#"SELECT "id", "email" FROM"#,
        r#"SELECT "id" FROM"#,
        ObjectKind::View,
        "UserEmails",
        Some("definition"),
    ),
    m(
        "AFTER UPDATE",
        "BEFORE UPDATE",
        ObjectKind::Trigger,
        "User_touch",
        Some("definition"),
    ),
    m(
        r#"("name" TEXT NOT NULL PRIMARY KEY)"#,
        r#"("name" TEXT NOT NULL, "kind" TEXT NOT NULL, PRIMARY KEY ("name", "kind"))"#,
        ObjectKind::PrimaryKey,
        "Tag",
        Some("columns"),
    ),
    m(
        r#"CREATE TABLE "Tag" ("name" TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;"#,
        "",
        ObjectKind::Table,
        "Tag",
        None,
    ),
    m(
        r#""email" TEXT NOT NULL,"#,
        r#""email" TEXT NOT NULL, "bio" TEXT,"#,
        ObjectKind::Column,
        "User.bio",
        None,
    ),
];

fn database_with(sql: &str) -> TestDb {
    let db = TestDb::new(Kind::Sqlite);
    db.exec(sql);
    db
}

/// Every mutation of [`BASE`] shows as a difference naming its object and attribute.
#[test]
fn sqlite_changes_are_found_with_their_object_and_attribute() {
    let reference = introspect(&database_with(BASE));
    assert_eq!(diff(&introspect(&database_with(BASE)), &reference), vec![]);
    for mutation in MUTATIONS {
        assert!(
            BASE.contains(mutation.from),
            "{} is not in BASE",
            mutation.from
        );
        let live = introspect(&database_with(&BASE.replacen(
            mutation.from,
            mutation.to,
            1,
        )));
        let differences = diff(&live, &reference);
        let found = differences.iter().any(|d| {
            let object = d.object();
            object.kind == mutation.kind
                && object.name == mutation.name
                && match (mutation.attribute, d) {
                    (Some(expected), Difference::Changed { attribute, .. }) => {
                        *attribute == expected
                    }
                    (None, Difference::Missing { .. } | Difference::Extra { .. }) => true,
                    _ => false,
                }
        });
        assert!(
            found,
            "`{}` -> `{}`: expected {} `{}` {:?}, got {differences:#?}",
            mutation.from, mutation.to, mutation.kind, mutation.name, mutation.attribute
        );
    }
}
