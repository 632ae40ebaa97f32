//! Schema introspection and comparison, the ground `safemig drift` will stand on, on all
//! three engines: no false positives on the real-world histories (deployed by safemig,
//! replayed by the engine's own client, dumped and restored), and every deliberate change
//! found with the right object and attribute.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use safemig::database_url::DatabaseUrl;
use safemig::drift::{Request, Source, Step};
use safemig::interrupt::Interrupt;
use safemig::schema::{Detail, Difference, ObjectKey, ObjectKind, ObjectKind as K, Schema, diff};

use crate::corpus::{apply_with_engine_client, corpora, deployed_by_safemig, migration_files};
use crate::harness::{Kind, TestDb, block_on, engine_for};

fn introspect(db: &TestDb) -> Schema {
    introspect_with(db, Detail::default())
}

fn introspect_with(db: &TestDb, detail: Detail) -> Schema {
    block_on(async {
        let mut engine = engine_for(db).await;
        engine
            .schema(detail)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("the engine has an introspector")
    })
}

/// Each history, deployed by safemig, replayed by the engine's own client, and dumped and
/// restored: the three schemas are the same, object by object.
fn corpus_has_no_false_positives(kind: Kind) {
    for (name, dir) in corpora(kind) {
        let (deployed, _) = deployed_by_safemig(kind, &dir);
        let replayed = TestDb::new(kind);
        apply_with_engine_client(&replayed, &migration_files(&dir));
        let restored = TestDb::restored_from_dump(&deployed);

        let reference = introspect(&deployed);
        let tables = reference
            .objects
            .keys()
            .filter(|k| k.kind == ObjectKind::Table)
            .count();
        assert!(tables > 5, "{name}: only {tables} tables read");
        for (how, other) in [
            ("replayed by the client", &replayed),
            ("restored", &restored),
        ] {
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

#[test]
fn mysql_corpus_has_no_false_positives() {
    corpus_has_no_false_positives(Kind::Mysql);
}

#[test]
fn postgres_corpus_has_no_false_positives() {
    corpus_has_no_false_positives(Kind::Postgres);
}

#[test]
fn sqlite_corpus_has_no_false_positives() {
    corpus_has_no_false_positives(Kind::Sqlite);
}

const BASE: &str = r#"
CREATE TABLE "User" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "name" TEXT DEFAULT 'anonymous',
    "score" INTEGER NOT NULL DEFAULT 0 CHECK ("score" >= 0),
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) VIRTUAL,
    "code" TEXT COLLATE NOCASE,
    "bio" TEXT
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE INDEX "User_score_idx" ON "User"("score" DESC) WHERE "score" > 0;
CREATE INDEX "User_name_idx" ON "User"("name");
CREATE TABLE "Post" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "authorId" INTEGER NOT NULL,
    "editorId" INTEGER REFERENCES "User" ("id") ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    "title" TEXT NOT NULL,
    "slug" TEXT UNIQUE,
    UNIQUE ("authorId", "title"),
    CONSTRAINT "Post_title_check" CHECK (length("title") < 200),
    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
) STRICT;
CREATE INDEX "Post_title_lower_idx" ON "Post"(lower("title"));
CREATE TABLE "Tag" ("name" TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
CREATE VIEW "UserEmails" AS SELECT "id", "email" FROM "User";
CREATE VIEW "UserEmailIds" AS SELECT "id" FROM "UserEmails";
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

/// `from` replaced by `to` changes `attribute` of the object.
const fn m(
    from: &'static str,
    to: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: &'static str,
) -> Mutation {
    Mutation {
        from,
        to,
        kind,
        name,
        attribute: Some(attribute),
    }
}

/// `from` replaced by `to` adds or removes the object.
const fn m_exists(
    from: &'static str,
    to: &'static str,
    kind: ObjectKind,
    name: &'static str,
) -> Mutation {
    Mutation {
        from,
        to,
        kind,
        name,
        attribute: None,
    }
}

const USER_POST_FK: &str = "Post(authorId) -> User";
const EDITOR_FK: &str = "Post(editorId) -> User";

/// At least one change per attribute of each object kind SQLite's introspector reads.
const MUTATIONS: &[Mutation] = &[
    // Tables.
    m(") STRICT;", ");", K::Table, "Post", "strict"),
    m(") WITHOUT ROWID;", ");", K::Table, "Tag", "without_rowid"),
    m(
        "PRIMARY KEY AUTOINCREMENT",
        "PRIMARY KEY",
        K::Table,
        "User",
        "autoincrement",
    ),
    m_exists(
        r#"CREATE TABLE "Tag" ("name" TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;"#,
        "",
        K::Table,
        "Tag",
    ),
    m_exists(
        "CREATE VIEW",
        "CREATE TABLE \"Extra\" (\"a\" INTEGER);\nCREATE VIEW",
        K::Table,
        "Extra",
    ),
    // Columns.
    m(
        r#""name" TEXT DEFAULT 'anonymous'"#,
        r#""name" TEXT"#,
        K::Column,
        "User.name",
        "default",
    ),
    m(
        "DEFAULT 0 CHECK",
        "DEFAULT 1 CHECK",
        K::Column,
        "User.score",
        "default",
    ),
    m(
        "DEFAULT CURRENT_TIMESTAMP",
        "DEFAULT CURRENT_DATE",
        K::Column,
        "User.createdAt",
        "default",
    ),
    m(
        r#""bio" TEXT"#,
        r#""bio" TEXT DEFAULT ''"#,
        K::Column,
        "User.bio",
        "default",
    ),
    m(
        r#""email" TEXT NOT NULL,"#,
        r#""email" TEXT,"#,
        K::Column,
        "User.email",
        "nullable",
    ),
    m(
        r#""bio" TEXT"#,
        r#""bio" TEXT NOT NULL"#,
        K::Column,
        "User.bio",
        "nullable",
    ),
    m(
        r#""createdAt" DATETIME"#,
        r#""createdAt" TIMESTAMP"#,
        K::Column,
        "User.createdAt",
        "type",
    ),
    m(
        r#""bio" TEXT"#,
        r#""bio" VARCHAR(200)"#,
        K::Column,
        "User.bio",
        "type",
    ),
    m(
        r#""title" TEXT NOT NULL,"#,
        r#""title" ANY NOT NULL,"#,
        K::Column,
        "Post.title",
        "type",
    ),
    m(
        "VIRTUAL",
        "STORED",
        K::Column,
        "User.emailLower",
        "generated",
    ),
    m(
        r#"AS (lower("email"))"#,
        r#"AS (upper("email"))"#,
        K::Column,
        "User.emailLower",
        "expression",
    ),
    m(
        "COLLATE NOCASE",
        "COLLATE RTRIM",
        K::Column,
        "User.code",
        "collation",
    ),
    m(
        r#""code" TEXT COLLATE NOCASE"#,
        r#""code" TEXT"#,
        K::Column,
        "User.code",
        "collation",
    ),
    m(
        r#""bio" TEXT"#,
        r#""bio" TEXT COLLATE NOCASE"#,
        K::Column,
        "User.bio",
        "collation",
    ),
    m_exists(
        r#""email" TEXT NOT NULL,"#,
        r#""email" TEXT NOT NULL, "extra" TEXT,"#,
        K::Column,
        "User.extra",
    ),
    m_exists(",\n    \"bio\" TEXT", "", K::Column, "User.bio"),
    // Primary keys and AUTOINCREMENT (above).
    m(
        r#"("name" TEXT NOT NULL PRIMARY KEY)"#,
        r#"("name" TEXT NOT NULL, "kind" TEXT NOT NULL, PRIMARY KEY ("name", "kind"))"#,
        K::PrimaryKey,
        "Tag",
        "columns",
    ),
    m_exists(
        r#""id" TEXT NOT NULL PRIMARY KEY,"#,
        r#""id" TEXT NOT NULL,"#,
        K::PrimaryKey,
        "Post",
    ),
    // Unique constraints.
    m_exists(
        r#"UNIQUE ("authorId", "title")"#,
        r#"UNIQUE ("title", "authorId")"#,
        K::Index,
        "Post(authorId, title)",
    ),
    m_exists(
        r#""slug" TEXT UNIQUE,"#,
        r#""slug" TEXT,"#,
        K::Index,
        "Post(slug)",
    ),
    m_exists(
        r#""bio" TEXT"#,
        r#""bio" TEXT UNIQUE"#,
        K::Index,
        "User(bio)",
    ),
    // Indexes: unique, columns and order, collation, partial, expression.
    m(
        r#"CREATE UNIQUE INDEX "User_email_key""#,
        r#"CREATE INDEX "User_email_key""#,
        K::Index,
        "User_email_key",
        "unique",
    ),
    m(
        r#""score" DESC) WHERE"#,
        r#""score") WHERE"#,
        K::Index,
        "User_score_idx",
        "columns",
    ),
    m(
        r#"("name");"#,
        r#"("name", "email");"#,
        K::Index,
        "User_name_idx",
        "columns",
    ),
    m(
        r#"("name");"#,
        r#"("name" COLLATE NOCASE);"#,
        K::Index,
        "User_name_idx",
        "columns",
    ),
    m(
        r#"WHERE "score" > 0"#,
        r#"WHERE "score" > 1"#,
        K::Index,
        "User_score_idx",
        "definition",
    ),
    m(
        r#" WHERE "score" > 0;"#,
        ";",
        K::Index,
        "User_score_idx",
        "definition",
    ),
    m(
        r#"("name");"#,
        r#"("name") WHERE "name" IS NOT NULL;"#,
        K::Index,
        "User_name_idx",
        "definition",
    ),
    m(
        r#"lower("title")"#,
        r#"upper("title")"#,
        K::Index,
        "Post_title_lower_idx",
        "definition",
    ),
    m_exists(
        r#"CREATE INDEX "User_name_idx" ON "User"("name");"#,
        "",
        K::Index,
        "User_name_idx",
    ),
    m_exists(
        "CREATE VIEW",
        "CREATE INDEX \"User_bio_idx\" ON \"User\"(\"bio\");\nCREATE VIEW",
        K::Index,
        "User_bio_idx",
    ),
    // Foreign keys: actions, target, deferral.
    m(
        "ON DELETE RESTRICT",
        "ON DELETE CASCADE",
        K::ForeignKey,
        USER_POST_FK,
        "on_delete",
    ),
    m(
        "ON UPDATE CASCADE",
        "ON UPDATE NO ACTION",
        K::ForeignKey,
        USER_POST_FK,
        "on_update",
    ),
    m(
        "ON DELETE SET NULL",
        "ON DELETE SET DEFAULT",
        K::ForeignKey,
        EDITOR_FK,
        "on_delete",
    ),
    m(
        "ON DELETE SET NULL",
        "ON DELETE SET NULL ON UPDATE RESTRICT",
        K::ForeignKey,
        EDITOR_FK,
        "on_update",
    ),
    m(
        r#"REFERENCES "User" ("id") ON DELETE RESTRICT"#,
        r#"REFERENCES "User" ("email") ON DELETE RESTRICT"#,
        K::ForeignKey,
        USER_POST_FK,
        "references",
    ),
    m(
        " DEFERRABLE INITIALLY DEFERRED",
        "",
        K::ForeignKey,
        EDITOR_FK,
        "deferrable",
    ),
    m(
        "INITIALLY DEFERRED",
        "INITIALLY IMMEDIATE",
        K::ForeignKey,
        EDITOR_FK,
        "deferrable",
    ),
    m(
        "ON UPDATE CASCADE",
        "ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED",
        K::ForeignKey,
        USER_POST_FK,
        "deferrable",
    ),
    m_exists(
        ",\n    CONSTRAINT \"Post_authorId_fkey\" FOREIGN KEY (\"authorId\") REFERENCES \"User\" (\"id\") ON DELETE RESTRICT ON UPDATE CASCADE",
        "",
        K::ForeignKey,
        USER_POST_FK,
    ),
    // Checks.
    m_exists(
        r#""score" >= 0"#,
        r#""score" >= 1"#,
        K::Check,
        r#"User: ("score" >= 0)"#,
    ),
    m_exists(
        r#" CHECK ("score" >= 0)"#,
        "",
        K::Check,
        r#"User: ("score" >= 0)"#,
    ),
    m_exists(
        r#""bio" TEXT"#,
        r#""bio" TEXT CHECK ("bio" <> '')"#,
        K::Check,
        r#"User: ("bio" <> '')"#,
    ),
    m_exists(
        "< 200",
        "<= 200",
        K::Check,
        r#"Post: (length("title") < 200)"#,
    ),
    // Views.
    m(
        r#"SELECT "id", "email" FROM"#,
        r#"SELECT "id" FROM"#,
        K::View,
        "UserEmails",
        "definition",
    ),
    m_exists(
        r#"CREATE VIEW "UserEmails" AS SELECT "id", "email" FROM "User";"#,
        "",
        K::View,
        "UserEmails",
    ),
    // A table with its keys, foreign keys and indexes dropped: `--sql` creates it.
    m_exists(
        r#"CREATE TABLE "Post" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "authorId" INTEGER NOT NULL,
    "editorId" INTEGER REFERENCES "User" ("id") ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    "title" TEXT NOT NULL,
    "slug" TEXT UNIQUE,
    UNIQUE ("authorId", "title"),
    CONSTRAINT "Post_title_check" CHECK (length("title") < 200),
    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
) STRICT;
CREATE INDEX "Post_title_lower_idx" ON "Post"(lower("title"));"#,
        "",
        K::Table,
        "Post",
    ),
    m_exists(
        "CREATE TRIGGER",
        "CREATE VIEW \"PostTitles\" AS SELECT \"title\" FROM \"Post\";\nCREATE TRIGGER",
        K::View,
        "PostTitles",
    ),
    // Triggers.
    m(
        "AFTER UPDATE",
        "BEFORE UPDATE",
        K::Trigger,
        "User_touch",
        "definition",
    ),
    m(
        "AFTER UPDATE ON",
        "AFTER INSERT ON",
        K::Trigger,
        "User_touch",
        "definition",
    ),
    m(
        r#"ON "User" BEGIN"#,
        r#"ON "User" WHEN NEW."score" > 0 BEGIN"#,
        K::Trigger,
        "User_touch",
        "definition",
    ),
    m(
        r#"SET "score" = "score""#,
        r#"SET "score" = "score" + 0"#,
        K::Trigger,
        "User_touch",
        "definition",
    ),
    m(
        r#"AFTER UPDATE ON "User" BEGIN UPDATE "User" SET "score" = "score" WHERE "id" = NEW."id"; END;"#,
        r#"AFTER UPDATE ON "Post" BEGIN UPDATE "User" SET "score" = "score" WHERE "id" = NEW."authorId"; END;"#,
        K::Trigger,
        "User_touch",
        "table",
    ),
    m_exists(
        r#"CREATE TRIGGER "User_touch" AFTER UPDATE ON "User" BEGIN UPDATE "User" SET "score" = "score" WHERE "id" = NEW."id"; END;"#,
        "",
        K::Trigger,
        "User_touch",
    ),
];

/// `drift --sql` of `live` against `reference`, run on `live`: an error when the script
/// fails, or when what differs afterwards is not exactly what it lists as not written.
fn sql_converges(live: &TestDb, reference: &TestDb) -> Result<(), String> {
    let url = |db: &TestDb| {
        DatabaseUrl::parse(&db.url, Path::new("."), "the test").unwrap_or_else(|e| panic!("{e}"))
    };
    let request = Request {
        left: Source::Database(url(live)),
        right: Source::Database(url(reference)),
        folder: None,
        shadow: None,
        cache: None,
        wait: Duration::from_secs(10),
        converge: true,
        detail: Detail::default(),
        interrupt: Interrupt::new(Duration::from_secs(10)),
    };
    let report = block_on(safemig::drift::compare(&request)).map_err(|e| e.to_string())?;
    let script = report.converge.expect("drift --sql writes a script");
    let text = safemig::drift::render_script(&script, "the mutation's convergence");
    let listed: BTreeSet<ObjectKey> = script
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::NotExpressed { object, .. } => Some(object.clone()),
            Step::Sql { .. } => None,
        })
        .collect();
    live.try_exec(&text)
        .map_err(|e| format!("its --sql fails: {e}\n{text}"))?;
    let left: BTreeSet<ObjectKey> = diff(&introspect(live), &introspect(reference))
        .iter()
        .map(|d| d.object().clone())
        .collect();
    if left == listed {
        Ok(())
    } else {
        Err(format!(
            "after its --sql, these differ: {left:?}; it listed as not written: {listed:?}\n{text}"
        ))
    }
}

fn database_with(sql: &str) -> TestDb {
    let db = TestDb::new(Kind::Sqlite);
    db.exec(sql);
    db
}

/// Every mutation of [`BASE`] shows as a difference naming its object and attribute, and
/// its `drift --sql` runs on the mutated database and leaves exactly what it lists as not
/// written.
#[test]
fn sqlite_changes_are_found_with_their_object_and_attribute() {
    let reference_db = database_with(BASE);
    let reference = introspect(&reference_db);
    assert_eq!(diff(&introspect(&database_with(BASE)), &reference), vec![]);
    let mut scripts_failing = Vec::new();
    for mutation in MUTATIONS {
        assert!(
            BASE.contains(mutation.from),
            "{} is not in BASE",
            mutation.from
        );
        let live_db = database_with(&BASE.replacen(mutation.from, mutation.to, 1));
        let live = introspect(&live_db);
        let differences = diff(&live, &reference);
        assert!(
            found(
                &differences,
                mutation.kind,
                mutation.name,
                mutation.attribute
            ),
            "`{}` -> `{}`: expected {} `{}` {:?}, got {differences:#?}",
            mutation.from,
            mutation.to,
            mutation.kind,
            mutation.name,
            mutation.attribute
        );
        if let Err(e) = sql_converges(&live_db, &reference_db) {
            scripts_failing.push(format!("`{}` -> `{}`: {e}", mutation.from, mutation.to));
        }
    }
    assert!(
        scripts_failing.is_empty(),
        "{}",
        scripts_failing.join("\n\n")
    );
    eprintln!("SQLite: {} mutations found and converged", MUTATIONS.len());
}

/// A SQLite table with rows, an index, a trigger, a view on it and a child table whose
/// foreign key cascades deletes, for [`sqlite_foreign_key_changes_keep_rows`].
const LINKED_ROWS: &str = r#"
CREATE TABLE "P" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT);
CREATE TABLE "T" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "pId" INTEGER,
    "qId" INTEGER,
    "x" TEXT NOT NULL DEFAULT '',
    CONSTRAINT "T_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "T_x_idx" ON "T"("x");
CREATE VIEW "TV" AS SELECT "id", "x" FROM "T";
CREATE TABLE "C" ("id" INTEGER NOT NULL PRIMARY KEY, "tId" INTEGER NOT NULL REFERENCES "T" ("id") ON DELETE CASCADE);
CREATE TRIGGER "T_touch" AFTER UPDATE ON "T" BEGIN UPDATE "P" SET "name" = "name" WHERE "id" = NEW."pId"; END;
"#;

const LINKED_ROWS_DATA: &str = r#"
INSERT INTO "P" VALUES (1, 'a'), (2, 'b');
INSERT INTO "T" ("id", "pId", "qId", "x") VALUES (1, 1, 1, 'one'), (2, NULL, NULL, 'two'), (3, 2, 1, 'three');
INSERT INTO "C" VALUES (1, 1), (2, 3);
"#;

/// `drift --sql` on a SQLite table that stays, with a foreign key dropped, added or
/// changed by hand, writes Prisma's table redefinition: the script runs on the table with
/// rows, drift then finds nothing, and the rows of the table and of the child table whose
/// key cascades deletes are all there, the view and the index work. (The key was listed
/// as not written before: "SQLite adds or drops a foreign key only by redefining its
/// table".)
#[test]
fn sqlite_foreign_key_changes_keep_rows() {
    let fk = r#",
    CONSTRAINT "T_pId_fkey" FOREIGN KEY ("pId") REFERENCES "P" ("id") ON DELETE SET NULL ON UPDATE CASCADE"#;
    let changes = [
        // The key dropped by hand: the script adds it.
        (fk, String::new()),
        // A key added by hand: the script drops it.
        (
            fk,
            format!(
                r#"{fk},{}"#,
                "\n    FOREIGN KEY (\"qId\") REFERENCES \"P\" (\"id\")"
            ),
        ),
        // Its action changed by hand.
        (fk, fk.replace("ON DELETE SET NULL", "ON DELETE CASCADE")),
        // The key dropped, the index and a column's default changed: one redefinition
        // carries all three, and the index is not created twice.
        (
            LINKED_ROWS,
            LINKED_ROWS
                .replacen(fk, "", 1)
                .replacen(r#"ON "T"("x")"#, r#"ON "T"("x", "id")"#, 1)
                .replacen("DEFAULT ''", "DEFAULT 'none'", 1),
        ),
    ];
    let reference = database_with(LINKED_ROWS);
    let rows = |db: &TestDb| {
        [
            r#"SELECT concat_ws('|', "id", "pId", "qId", "x") FROM "T" ORDER BY "id""#,
            r#"SELECT concat_ws('|', "id", "tId") FROM "C" ORDER BY "id""#,
            r#"SELECT concat_ws('|', "id", "x") FROM "TV" ORDER BY "id""#,
            r#"SELECT CAST("id" AS TEXT) FROM "T" INDEXED BY "T_x_idx" WHERE "x" = 'two'"#,
        ]
        .map(|q| db.rows(q))
    };
    for (from, to) in &changes {
        let live = database_with(&LINKED_ROWS.replacen(from, to, 1));
        assert_ne!(diff(&introspect(&live), &introspect(&reference)), vec![]);
        live.exec(LINKED_ROWS_DATA);
        let before = rows(&live);
        assert_eq!(before[0].len(), 3);
        sql_converges(&live, &reference).unwrap_or_else(|e| panic!("`{to}`: {e}"));
        assert_eq!(
            diff(&introspect(&live), &introspect(&reference)),
            vec![],
            "`{to}`"
        );
        assert_eq!(rows(&live), before, "`{to}`: the rows are kept");
        assert_eq!(
            live.rows("PRAGMA foreign_key_check"),
            Vec::<Vec<Option<String>>>::new()
        );
    }
}

/// A redefinition that would drop a column holding values is not written: the foreign
/// key is listed with why, and the script (which writes nothing else for the table) runs
/// and keeps the column.
#[test]
fn sqlite_foreign_key_change_that_drops_a_column_is_listed() {
    let reference = database_with(LINKED_ROWS);
    let live = database_with(
        &LINKED_ROWS
            .replacen(r#" ON DELETE SET NULL"#, r#" ON DELETE CASCADE"#, 1)
            .replacen(
                r#""x" TEXT NOT NULL DEFAULT '',"#,
                r#""x" TEXT NOT NULL DEFAULT '', "old" TEXT,"#,
                1,
            ),
    );
    live.exec(LINKED_ROWS_DATA);
    live.exec(r#"UPDATE "T" SET "old" = 'kept'"#);
    sql_converges(&live, &reference).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        live.scalar(r#"SELECT CAST(count(*) AS TEXT) FROM "T" WHERE "old" = 'kept'"#)
            .as_deref(),
        Some("3")
    );
}
const POSTGRES_BASE: &str = r#"
CREATE SCHEMA "audit";
CREATE EXTENSION citext VERSION '1.5';
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE DOMAIN "Email" AS TEXT COLLATE "C" DEFAULT 'nobody@example.com' NOT NULL
    CONSTRAINT "Email_at" CHECK (VALUE LIKE '%@%');
CREATE DOMAIN "Price" AS NUMERIC(10, 2) CONSTRAINT "Price_positive" CHECK (VALUE >= 0);
CREATE DOMAIN "Slug" AS TEXT;
CREATE TYPE "Address" AS ("street" TEXT, "zip" VARCHAR(10), "city" TEXT COLLATE "C");
CREATE SEQUENCE "ticket_seq" AS BIGINT START 100 INCREMENT 5 MINVALUE 1 MAXVALUE 1000000 CACHE 1 NO CYCLE;
CREATE TABLE "User" (
    "id" SERIAL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "name" VARCHAR(100) DEFAULT 'anonymous',
    "role" "Role" NOT NULL DEFAULT 'USER',
    "score" INTEGER NOT NULL DEFAULT 0 CONSTRAINT "User_score_check" CHECK ("score" >= 0),
    "code" TEXT COLLATE "C",
    "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) STORED,
    "seq" BIGINT GENERATED BY DEFAULT AS IDENTITY,
    "balance" NUMERIC(10, 2) NOT NULL DEFAULT 0,
    "tags" TEXT[] NOT NULL DEFAULT '{}',
    "contact" "Email",
    "handle" citext,
    "ticket" BIGINT
);
ALTER SEQUENCE "ticket_seq" OWNED BY "User"."ticket";
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE INDEX "User_score_idx" ON "User"("score" DESC) WHERE "score" > 0;
CREATE INDEX "User_name_lower_idx" ON "User"(lower("name"));
CREATE INDEX "User_tags_idx" ON "User" USING gin ("tags");
CREATE INDEX "User_role_idx" ON "User"("role") INCLUDE ("name");
CREATE TABLE "Post" (
    "id" TEXT PRIMARY KEY,
    "authorId" INTEGER NOT NULL,
    "editorId" INTEGER,
    "title" TEXT NOT NULL,
    "slug" TEXT,
    CONSTRAINT "Post_author_title_key" UNIQUE ("authorId", "title"),
    CONSTRAINT "Post_slug_key" UNIQUE NULLS NOT DISTINCT ("slug"),
    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Post_editorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") MATCH FULL ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED
);
ALTER TABLE "Post" ADD CONSTRAINT "Post_title_length" CHECK (length("title") < 200) NOT VALID;
CREATE TABLE "Booking" (
    "id" INTEGER PRIMARY KEY,
    "room" INTEGER NOT NULL,
    "during" TSRANGE NOT NULL,
    CONSTRAINT "Booking_no_overlap" EXCLUDE USING gist ("during" WITH &&)
);
CREATE UNLOGGED TABLE "Cache" ("key" TEXT PRIMARY KEY, "value" TEXT);
CREATE TABLE "Event" ("id" INTEGER NOT NULL, "at" DATE NOT NULL) PARTITION BY RANGE ("at");
CREATE TABLE "Event_2024" PARTITION OF "Event" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE "Animal" ("id" INTEGER PRIMARY KEY, "name" TEXT);
CREATE TABLE "Dog" ("breed" TEXT) INHERITS ("Animal");
CREATE VIEW "UserEmails" AS SELECT "id", "email" FROM "User";
CREATE VIEW "UserEmailIds" AS SELECT "id" FROM "UserEmails";
CREATE VIEW "ActiveUsers" WITH (security_barrier) AS SELECT "id", "score" FROM "User" WHERE "score" > 0
    WITH CASCADED CHECK OPTION;
CREATE MATERIALIZED VIEW "UserStats" AS SELECT "role", count(*) AS "n" FROM "User" GROUP BY "role";
CREATE UNIQUE INDEX "UserStats_role_key" ON "UserStats"("role");
CREATE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION "add"(a INTEGER, b INTEGER) RETURNS INTEGER LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE PROCEDURE "reset_scores"() LANGUAGE sql AS $$ UPDATE "User" SET "score" = 0 $$;
CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4pl, STYPE = INTEGER, INITCOND = '0');
CREATE TRIGGER "User_touch" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();
ALTER TABLE "Post" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own_posts" ON "Post" FOR SELECT USING ("authorId" > 0);
CREATE POLICY "insert_posts" ON "Post" FOR INSERT WITH CHECK ("authorId" > 0);
"#;

/// A change made to a base schema by statements, as a hand-made fix over ssh would. Steps
/// are separated by `;;` and run one by one (`CREATE INDEX CONCURRENTLY` must be alone);
/// a step starting with `?` may fail, as a failed `CONCURRENTLY` build does.
struct Alteration {
    sql: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: Option<&'static str>,
}

/// The statements change `attribute` of the object.
const fn a(
    sql: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: &'static str,
) -> Alteration {
    Alteration {
        sql,
        kind,
        name,
        attribute: Some(attribute),
    }
}

/// The statements add or remove the object.
const fn a_exists(sql: &'static str, kind: ObjectKind, name: &'static str) -> Alteration {
    Alteration {
        sql,
        kind,
        name,
        attribute: None,
    }
}

const ADD: &str = "add(a integer, b integer)";
const TOTAL: &str = "total(integer)";

/// At least one change per attribute of each object kind PostgreSQL's introspector reads.
const POSTGRES_ALTERATIONS: &[Alteration] = &[
    // Schemas and extensions.
    a_exists(r#"CREATE SCHEMA "reports""#, K::Schema, "reports"),
    a_exists(r#"DROP SCHEMA "audit""#, K::Schema, "audit"),
    a(
        "ALTER EXTENSION citext UPDATE TO '1.6'",
        K::Extension,
        "citext",
        "version",
    ),
    a(
        r#"ALTER EXTENSION citext SET SCHEMA "audit""#,
        K::Extension,
        "citext",
        "schema",
    ),
    a_exists("CREATE EXTENSION hstore", K::Extension, "hstore"),
    // Enums: labels in order.
    a(
        r#"ALTER TYPE "Role" ADD VALUE 'GUEST'"#,
        K::Enum,
        "Role",
        "labels",
    ),
    a(
        r#"ALTER TYPE "Role" ADD VALUE 'OWNER' BEFORE 'USER'"#,
        K::Enum,
        "Role",
        "labels",
    ),
    a(
        r#"ALTER TYPE "Role" RENAME VALUE 'ADMIN' TO 'ADMINISTRATOR'"#,
        K::Enum,
        "Role",
        "labels",
    ),
    a_exists(
        r#"CREATE TYPE "Status" AS ENUM ('ACTIVE')"#,
        K::Enum,
        "Status",
    ),
    // Domains.
    a(
        r#"ALTER DOMAIN "Email" DROP DEFAULT"#,
        K::Domain,
        "Email",
        "default",
    ),
    a(
        r#"ALTER DOMAIN "Email" SET DEFAULT 'root@example.com'"#,
        K::Domain,
        "Email",
        "default",
    ),
    a(
        r#"ALTER DOMAIN "Email" DROP NOT NULL"#,
        K::Domain,
        "Email",
        "not_null",
    ),
    a(
        r#"ALTER DOMAIN "Price" SET NOT NULL"#,
        K::Domain,
        "Price",
        "not_null",
    ),
    a(
        r#"ALTER DOMAIN "Price" ADD CONSTRAINT "Price_cap" CHECK (VALUE < 1000)"#,
        K::Domain,
        "Price",
        "checks",
    ),
    a(
        r#"ALTER DOMAIN "Email" DROP CONSTRAINT "Email_at""#,
        K::Domain,
        "Email",
        "checks",
    ),
    a(
        r#"ALTER DOMAIN "Price" DROP CONSTRAINT "Price_positive";; ALTER DOMAIN "Price" ADD CONSTRAINT "Price_positive" CHECK (VALUE >= 0) NOT VALID"#,
        K::Domain,
        "Price",
        "checks",
    ),
    a(
        r#"DROP DOMAIN "Price";; CREATE DOMAIN "Price" AS NUMERIC(12, 2) CONSTRAINT "Price_positive" CHECK (VALUE >= 0)"#,
        K::Domain,
        "Price",
        "type",
    ),
    a(
        r#"DROP DOMAIN "Slug";; CREATE DOMAIN "Slug" AS TEXT COLLATE "C""#,
        K::Domain,
        "Slug",
        "collation",
    ),
    a_exists(r#"DROP DOMAIN "Slug""#, K::Domain, "Slug"),
    // Composite types: attributes, their order, types and collations.
    a(
        r#"ALTER TYPE "Address" ADD ATTRIBUTE "country" TEXT"#,
        K::CompositeType,
        "Address",
        "attributes",
    ),
    a(
        r#"ALTER TYPE "Address" DROP ATTRIBUTE "zip""#,
        K::CompositeType,
        "Address",
        "attributes",
    ),
    a(
        r#"ALTER TYPE "Address" ALTER ATTRIBUTE "zip" TYPE VARCHAR(20)"#,
        K::CompositeType,
        "Address",
        "attributes",
    ),
    a(
        r#"ALTER TYPE "Address" RENAME ATTRIBUTE "street" TO "line1""#,
        K::CompositeType,
        "Address",
        "attributes",
    ),
    a(
        r#"ALTER TYPE "Address" ALTER ATTRIBUTE "city" TYPE TEXT COLLATE "POSIX""#,
        K::CompositeType,
        "Address",
        "attributes",
    ),
    a_exists(
        r#"CREATE TYPE "Point2" AS ("x" INTEGER, "y" INTEGER)"#,
        K::CompositeType,
        "Point2",
    ),
    // Sequences (never the current value: see `postgres_data_is_not_drift`).
    a(
        r#"ALTER SEQUENCE "ticket_seq" AS INTEGER"#,
        K::Sequence,
        "ticket_seq",
        "type",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" START 1"#,
        K::Sequence,
        "ticket_seq",
        "start",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" INCREMENT 10"#,
        K::Sequence,
        "ticket_seq",
        "increment",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" MINVALUE 0"#,
        K::Sequence,
        "ticket_seq",
        "min",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" MAXVALUE 5000"#,
        K::Sequence,
        "ticket_seq",
        "max",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" CACHE 10"#,
        K::Sequence,
        "ticket_seq",
        "cache",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" CYCLE"#,
        K::Sequence,
        "ticket_seq",
        "cycle",
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" OWNED BY NONE"#,
        K::Sequence,
        "ticket_seq",
        "owned_by",
    ),
    a_exists(r#"CREATE SEQUENCE "other_seq""#, K::Sequence, "other_seq"),
    // Tables: persistence, partitioning, inheritance, row-level security.
    a(
        r#"ALTER TABLE "Post" SET UNLOGGED"#,
        K::Table,
        "Post",
        "unlogged",
    ),
    a(
        r#"ALTER TABLE "Cache" SET LOGGED"#,
        K::Table,
        "Cache",
        "unlogged",
    ),
    a(
        r#"ALTER TABLE "Event" DETACH PARTITION "Event_2024""#,
        K::Table,
        "Event_2024",
        "partition_bound",
    ),
    a(
        r#"ALTER TABLE "Event" DETACH PARTITION "Event_2024";; ALTER TABLE "Event" ATTACH PARTITION "Event_2024" FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')"#,
        K::Table,
        "Event_2024",
        "partition_bound",
    ),
    a(
        r#"DROP TABLE "Event";; CREATE TABLE "Event" ("id" INTEGER NOT NULL, "at" DATE NOT NULL) PARTITION BY RANGE ("id");; CREATE TABLE "Event_2024" PARTITION OF "Event" FOR VALUES FROM (0) TO (100)"#,
        K::Table,
        "Event",
        "partition_key",
    ),
    a_exists(
        r#"CREATE TABLE "Event_2025" PARTITION OF "Event" FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"#,
        K::Table,
        "Event_2025",
    ),
    a(
        r#"ALTER TABLE "Dog" NO INHERIT "Animal""#,
        K::Table,
        "Dog",
        "inherits",
    ),
    a(
        r#"ALTER TABLE "Post" DISABLE ROW LEVEL SECURITY"#,
        K::Table,
        "Post",
        "row_security",
    ),
    a(
        r#"ALTER TABLE "Post" FORCE ROW LEVEL SECURITY"#,
        K::Table,
        "Post",
        "force_row_security",
    ),
    a_exists(r#"DROP TABLE "Cache""#, K::Table, "Cache"),
    // A table with foreign keys, constraints and policies dropped, and a NOT NULL column
    // dropped from a table with rows: `--sql` creates the one and lists the other.
    a_exists(r#"DROP TABLE "Post""#, K::Table, "Post"),
    a_exists(
        r#"ALTER TABLE "Booking" DROP COLUMN "room";; INSERT INTO "Booking" ("id", "during") VALUES (1, '[2024-01-01,2024-01-02)')"#,
        K::Column,
        "Booking.room",
    ),
    // Columns: type (modifiers, arrays), collation, nullability, default, identity,
    // generated.
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "name" DROP DEFAULT"#,
        K::Column,
        "User.name",
        "default",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "score" SET DEFAULT 1"#,
        K::Column,
        "User.score",
        "default",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "email" DROP NOT NULL"#,
        K::Column,
        "User.email",
        "nullable",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "code" SET NOT NULL"#,
        K::Column,
        "User.code",
        "nullable",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "name" TYPE VARCHAR(200)"#,
        K::Column,
        "User.name",
        "type",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "balance" TYPE NUMERIC(12, 2)"#,
        K::Column,
        "User.balance",
        "type",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "ticket" TYPE INTEGER"#,
        K::Column,
        "User.ticket",
        "type",
    ),
    a(
        r#"DROP INDEX "User_tags_idx";; ALTER TABLE "User" ALTER COLUMN "tags" DROP DEFAULT, ALTER COLUMN "tags" TYPE TEXT USING array_to_string("tags", ',')"#,
        K::Column,
        "User.tags",
        "type",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "code" TYPE TEXT COLLATE "POSIX""#,
        K::Column,
        "User.code",
        "collation",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "seq" SET GENERATED ALWAYS"#,
        K::Column,
        "User.seq",
        "identity",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "seq" DROP IDENTITY"#,
        K::Column,
        "User.seq",
        "identity",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "emailLower" DROP EXPRESSION"#,
        K::Column,
        "User.emailLower",
        "generated",
    ),
    a(
        r#"ALTER TABLE "User" DROP COLUMN "emailLower", ADD COLUMN "emailLower" TEXT GENERATED ALWAYS AS (upper("email")) STORED"#,
        K::Column,
        "User.emailLower",
        "generated",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "seq" SET INCREMENT BY 5"#,
        K::Column,
        "User.seq",
        "identity_sequence",
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "seq" SET MAXVALUE 1000"#,
        K::Column,
        "User.seq",
        "identity_sequence",
    ),
    a_exists(
        r#"ALTER TABLE "User" ADD COLUMN "bio" TEXT"#,
        K::Column,
        "User.bio",
    ),
    a_exists(
        r#"ALTER TABLE "User" DROP COLUMN "handle""#,
        K::Column,
        "User.handle",
    ),
    // Primary keys.
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_pkey", ADD CONSTRAINT "Post_pkey" PRIMARY KEY ("id", "authorId")"#,
        K::PrimaryKey,
        "Post.Post_pkey",
        "definition",
    ),
    a_exists(
        r#"ALTER TABLE "Animal" DROP CONSTRAINT "Animal_pkey""#,
        K::PrimaryKey,
        "Animal.Animal_pkey",
    ),
    // Unique constraints, NULLS NOT DISTINCT among them.
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_slug_key", ADD CONSTRAINT "Post_slug_key" UNIQUE ("slug")"#,
        K::Unique,
        "Post.Post_slug_key",
        "definition",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_author_title_key", ADD CONSTRAINT "Post_author_title_key" UNIQUE ("authorId", "title") DEFERRABLE"#,
        K::Unique,
        "Post.Post_author_title_key",
        "definition",
    ),
    a_exists(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_author_title_key""#,
        K::Unique,
        "Post.Post_author_title_key",
    ),
    // Foreign keys: columns, target, match, actions, deferral, validation.
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE"#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
        "on_delete",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT"#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
        "on_update",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "Animal"("id") ON DELETE RESTRICT ON UPDATE CASCADE"#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
        "references",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE"#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
        "columns",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID"#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
        "validated",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_editorId_fkey", ADD CONSTRAINT "Post_editorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED"#,
        K::ForeignKey,
        "Post.Post_editorId_fkey",
        "match",
    ),
    a(
        r#"ALTER TABLE "Post" ALTER CONSTRAINT "Post_editorId_fkey" NOT DEFERRABLE"#,
        K::ForeignKey,
        "Post.Post_editorId_fkey",
        "deferrable",
    ),
    a(
        r#"ALTER TABLE "Post" ALTER CONSTRAINT "Post_editorId_fkey" DEFERRABLE INITIALLY IMMEDIATE"#,
        K::ForeignKey,
        "Post.Post_editorId_fkey",
        "deferrable",
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_editorId_fkey", ADD CONSTRAINT "Post_editorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") MATCH FULL ON DELETE SET NULL ("editorId") DEFERRABLE INITIALLY DEFERRED"#,
        K::ForeignKey,
        "Post.Post_editorId_fkey",
        "on_delete",
    ),
    a_exists(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey""#,
        K::ForeignKey,
        "Post.Post_authorId_fkey",
    ),
    // Checks, NOT VALID among them.
    a(
        r#"ALTER TABLE "User" DROP CONSTRAINT "User_score_check", ADD CONSTRAINT "User_score_check" CHECK ("score" >= 1)"#,
        K::Check,
        "User.User_score_check",
        "definition",
    ),
    a(
        r#"ALTER TABLE "Post" VALIDATE CONSTRAINT "Post_title_length""#,
        K::Check,
        "Post.Post_title_length",
        "validated",
    ),
    a_exists(
        r#"ALTER TABLE "Post" ADD CONSTRAINT "Post_title_check" CHECK (length("title") > 0) NOT VALID"#,
        K::Check,
        "Post.Post_title_check",
    ),
    a_exists(
        r#"ALTER TABLE "User" DROP CONSTRAINT "User_score_check""#,
        K::Check,
        "User.User_score_check",
    ),
    // Exclusion constraints.
    a(
        r#"ALTER TABLE "Booking" DROP CONSTRAINT "Booking_no_overlap", ADD CONSTRAINT "Booking_no_overlap" EXCLUDE USING gist ("during" WITH &&) WHERE ("room" > 0)"#,
        K::Exclusion,
        "Booking.Booking_no_overlap",
        "definition",
    ),
    a_exists(
        r#"ALTER TABLE "Booking" DROP CONSTRAINT "Booking_no_overlap""#,
        K::Exclusion,
        "Booking.Booking_no_overlap",
    ),
    // Indexes: definition (method, uniqueness, columns, order, expression, predicate,
    // INCLUDE) and validity.
    a(
        r#"DROP INDEX "User_score_idx";; CREATE INDEX "User_score_idx" ON "User"("score") WHERE "score" > 0"#,
        K::Index,
        "User_score_idx",
        "definition",
    ),
    a(
        r#"DROP INDEX "User_score_idx";; CREATE INDEX "User_score_idx" ON "User"("score" DESC) WHERE "score" > 1"#,
        K::Index,
        "User_score_idx",
        "definition",
    ),
    a(
        r#"DROP INDEX "User_name_lower_idx";; CREATE INDEX "User_name_lower_idx" ON "User"(upper("name"))"#,
        K::Index,
        "User_name_lower_idx",
        "definition",
    ),
    a(
        r#"DROP INDEX "User_tags_idx";; CREATE INDEX "User_tags_idx" ON "User"("tags")"#,
        K::Index,
        "User_tags_idx",
        "definition",
    ),
    a(
        r#"DROP INDEX "User_role_idx";; CREATE INDEX "User_role_idx" ON "User"("role")"#,
        K::Index,
        "User_role_idx",
        "definition",
    ),
    a(
        r#"DROP INDEX "User_email_key";; CREATE INDEX "User_email_key" ON "User"("email")"#,
        K::Index,
        "User_email_key",
        "definition",
    ),
    a(
        r#"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"User_email_key"'::regclass"#,
        K::Index,
        "User_email_key",
        "valid",
    ),
    a(
        r#"DROP INDEX "User_name_lower_idx";; INSERT INTO "User" ("email", "name") VALUES ('a@x', 'x'), ('b@x', 'X');; ?CREATE UNIQUE INDEX CONCURRENTLY "User_name_lower_idx" ON "User"(lower("name"))"#,
        K::Index,
        "User_name_lower_idx",
        "valid",
    ),
    a_exists(r#"DROP INDEX "User_tags_idx""#, K::Index, "User_tags_idx"),
    a_exists(
        r#"CREATE INDEX "Post_title_idx" ON "Post"("title")"#,
        K::Index,
        "Post_title_idx",
    ),
    // Views and materialized views, with the latter's indexes.
    a(
        r#"CREATE OR REPLACE VIEW "UserEmails" AS SELECT "id", "email", "name" FROM "User""#,
        K::View,
        "UserEmails",
        "definition",
    ),
    a(
        r#"ALTER VIEW "ActiveUsers" RESET (security_barrier)"#,
        K::View,
        "ActiveUsers",
        "options",
    ),
    a(
        r#"ALTER VIEW "ActiveUsers" SET (check_option = local)"#,
        K::View,
        "ActiveUsers",
        "options",
    ),
    a_exists(
        r#"DROP VIEW "UserEmailIds";; DROP VIEW "UserEmails""#,
        K::View,
        "UserEmails",
    ),
    a(
        r#"DROP MATERIALIZED VIEW "UserStats";; CREATE MATERIALIZED VIEW "UserStats" AS SELECT "role", count(*) AS "n" FROM "User" WHERE "score" > 0 GROUP BY "role""#,
        K::MaterializedView,
        "UserStats",
        "definition",
    ),
    a_exists(
        r#"DROP MATERIALIZED VIEW "UserStats""#,
        K::MaterializedView,
        "UserStats",
    ),
    a_exists(
        r#"DROP INDEX "UserStats_role_key""#,
        K::Index,
        "UserStats_role_key",
    ),
    a_exists(
        r#"CREATE INDEX "UserStats_n_idx" ON "UserStats"("n")"#,
        K::Index,
        "UserStats_n_idx",
    ),
    a(
        r#"DROP INDEX "UserStats_role_key";; CREATE INDEX "UserStats_role_key" ON "UserStats"("role")"#,
        K::Index,
        "UserStats_role_key",
        "definition",
    ),
    // Functions, procedures, aggregates.
    a(
        r#"CREATE OR REPLACE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"#,
        K::Function,
        "touch()",
        "definition",
    ),
    a(
        r#"ALTER FUNCTION "add"(INTEGER, INTEGER) VOLATILE"#,
        K::Function,
        ADD,
        "definition",
    ),
    a(
        r#"ALTER FUNCTION "add"(INTEGER, INTEGER) SECURITY DEFINER"#,
        K::Function,
        ADD,
        "definition",
    ),
    a(
        r#"ALTER FUNCTION "add"(INTEGER, INTEGER) SET search_path = public"#,
        K::Function,
        ADD,
        "definition",
    ),
    a(
        r#"ALTER FUNCTION "add"(INTEGER, INTEGER) STRICT"#,
        K::Function,
        ADD,
        "definition",
    ),
    a_exists(
        r#"CREATE FUNCTION "add"(a BIGINT, b BIGINT) RETURNS BIGINT LANGUAGE sql AS $$ SELECT a + b $$"#,
        K::Function,
        "add(a bigint, b bigint)",
    ),
    a_exists(r#"DROP FUNCTION "add"(INTEGER, INTEGER)"#, K::Function, ADD),
    a(
        r#"CREATE OR REPLACE PROCEDURE "reset_scores"() LANGUAGE sql AS $$ UPDATE "User" SET "score" = 1 $$"#,
        K::Procedure,
        "reset_scores()",
        "definition",
    ),
    a(
        r#"ALTER PROCEDURE "reset_scores"() SECURITY DEFINER"#,
        K::Procedure,
        "reset_scores()",
        "definition",
    ),
    a_exists(
        r#"DROP PROCEDURE "reset_scores"()"#,
        K::Procedure,
        "reset_scores()",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4pl, STYPE = INTEGER, INITCOND = '1')"#,
        K::Aggregate,
        TOTAL,
        "initial_condition",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4larger, STYPE = INTEGER, INITCOND = '0')"#,
        K::Aggregate,
        TOTAL,
        "state_function",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4pl, STYPE = INTEGER, INITCOND = '0', COMBINEFUNC = int4pl)"#,
        K::Aggregate,
        TOTAL,
        "combine_function",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4pl, STYPE = INTEGER, INITCOND = '0', FINALFUNC = int4abs)"#,
        K::Aggregate,
        TOTAL,
        "final_function",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int4larger, STYPE = INTEGER, SORTOP = >)"#,
        K::Aggregate,
        TOTAL,
        "sort_operator",
    ),
    a(
        r#"DROP AGGREGATE "total"(INTEGER);; CREATE AGGREGATE "total"(INTEGER) (SFUNC = int84pl, STYPE = BIGINT, INITCOND = '0')"#,
        K::Aggregate,
        TOTAL,
        "state_type",
    ),
    a_exists(r#"DROP AGGREGATE "total"(INTEGER)"#, K::Aggregate, TOTAL),
    // Triggers, and whether they are enabled.
    a(
        r#"ALTER TABLE "User" DISABLE TRIGGER "User_touch""#,
        K::Trigger,
        "User.User_touch",
        "enabled",
    ),
    a(
        r#"ALTER TABLE "User" ENABLE REPLICA TRIGGER "User_touch""#,
        K::Trigger,
        "User.User_touch",
        "enabled",
    ),
    a(
        r#"ALTER TABLE "User" ENABLE ALWAYS TRIGGER "User_touch""#,
        K::Trigger,
        "User.User_touch",
        "enabled",
    ),
    a(
        r#"DROP TRIGGER "User_touch" ON "User";; CREATE TRIGGER "User_touch" AFTER UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"()"#,
        K::Trigger,
        "User.User_touch",
        "definition",
    ),
    a(
        r#"DROP TRIGGER "User_touch" ON "User";; CREATE TRIGGER "User_touch" BEFORE INSERT OR UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"()"#,
        K::Trigger,
        "User.User_touch",
        "definition",
    ),
    a(
        r#"DROP TRIGGER "User_touch" ON "User";; CREATE TRIGGER "User_touch" BEFORE UPDATE ON "User" FOR EACH ROW WHEN (OLD."score" IS DISTINCT FROM NEW."score") EXECUTE FUNCTION "touch"()"#,
        K::Trigger,
        "User.User_touch",
        "definition",
    ),
    a_exists(
        r#"DROP TRIGGER "User_touch" ON "User""#,
        K::Trigger,
        "User.User_touch",
    ),
    // Row-level security (above) and policies.
    a_exists(
        r#"CREATE POLICY "all_posts" ON "Post" FOR ALL USING (true)"#,
        K::Policy,
        "Post.all_posts",
    ),
    a(
        r#"ALTER POLICY "own_posts" ON "Post" USING ("authorId" > 1)"#,
        K::Policy,
        "Post.own_posts",
        "using",
    ),
    a(
        r#"ALTER POLICY "insert_posts" ON "Post" WITH CHECK ("authorId" > 1)"#,
        K::Policy,
        "Post.insert_posts",
        "with_check",
    ),
    a(
        r#"ALTER POLICY "own_posts" ON "Post" TO pg_read_all_data"#,
        K::Policy,
        "Post.own_posts",
        "roles",
    ),
    a(
        r#"DROP POLICY "own_posts" ON "Post";; CREATE POLICY "own_posts" ON "Post" AS RESTRICTIVE FOR SELECT USING ("authorId" > 0)"#,
        K::Policy,
        "Post.own_posts",
        "permissive",
    ),
    a(
        r#"DROP POLICY "own_posts" ON "Post";; CREATE POLICY "own_posts" ON "Post" FOR UPDATE USING ("authorId" > 0)"#,
        K::Policy,
        "Post.own_posts",
        "command",
    ),
    a_exists(
        r#"DROP POLICY "own_posts" ON "Post""#,
        K::Policy,
        "Post.own_posts",
    ),
];

/// Every hand-made change to [`POSTGRES_BASE`] shows as a difference naming its object and
/// attribute.
#[test]
fn postgres_changes_are_found_with_their_object_and_attribute() {
    alterations_are_found(Kind::Postgres, POSTGRES_BASE, POSTGRES_ALTERATIONS);
}

/// What is data, or not the user's, is not drift: a sequence's current value, rows, the
/// objects an extension creates (only the extension is), the history table, and another
/// schema with a history of its own (another tenant).
#[test]
fn postgres_data_and_extension_objects_are_not_drift() {
    let reference = TestDb::new(Kind::Postgres);
    reference.exec(POSTGRES_BASE);
    let live = TestDb::copy_of(&reference);
    live.exec(
        r#"SELECT setval('"ticket_seq"', 500); SELECT nextval('"User_id_seq"');
        INSERT INTO "User" ("email") VALUES ('a@example.com');
        REFRESH MATERIALIZED VIEW "UserStats";
        ALTER TABLE "User" ALTER COLUMN "seq" RESTART WITH 1000;
        CREATE EXTENSION hstore;
        CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY);
        CREATE SCHEMA "tenant_2";
        CREATE TABLE "tenant_2"."_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY);
        CREATE TABLE "tenant_2"."User" ("id" SERIAL PRIMARY KEY);"#,
    );
    let differences = diff(&introspect(&live), &introspect(&reference));
    assert_eq!(
        differences,
        vec![Difference::Extra {
            object: safemig::schema::ObjectKey {
                kind: K::Extension,
                name: "hstore".into(),
            },
        }]
    );
}

/// Whether `differences` name the object and, where given, the attribute.
fn found(
    differences: &[Difference],
    kind: ObjectKind,
    name: &str,
    attribute: Option<&str>,
) -> bool {
    differences.iter().any(|d| {
        let object = d.object();
        object.kind == kind
            && object.name == name
            && match (attribute, d) {
                (Some(expected), Difference::Changed { attribute, .. }) => *attribute == expected,
                (None, Difference::Missing { .. } | Difference::Extra { .. }) => true,
                _ => false,
            }
    })
}
const MYSQL_BASE: &str = r#"
CREATE TABLE `User` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `email` VARCHAR(191) NOT NULL,
    `name` VARCHAR(100) NULL DEFAULT 'anonymous' COMMENT 'display name',
    `score` INTEGER NOT NULL DEFAULT 0,
    `age` INTEGER UNSIGNED NULL,
    `data` JSON NULL,
    `bio` TEXT NULL,
    `location` POINT NOT NULL,
    `emailLower` VARCHAR(191) AS (lower(`email`)) VIRTUAL,
    `secret` VARCHAR(20) NULL INVISIBLE,
    `updatedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    CONSTRAINT `score_positive` CHECK (`score` >= 0),
    UNIQUE INDEX `User_email_key`(`email`),
    INDEX `User_score_idx`(`score`),
    INDEX `User_name_prefix_idx`(`name`(10)),
    INDEX `User_score_desc_idx`(`score` DESC),
    INDEX `User_emailLower_idx`(`emailLower`),
    FULLTEXT INDEX `User_bio_idx`(`bio`),
    SPATIAL INDEX `User_location_idx`(`location`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE `Post` (
    `id` VARCHAR(191) NOT NULL,
    `authorId` INTEGER NOT NULL,
    `editorId` INTEGER NULL,
    `title` VARCHAR(191) NOT NULL,
    PRIMARY KEY (`id`),
    INDEX `Post_authorId_idx`(`authorId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;
CREATE TABLE `Setting` (`key` VARCHAR(50) NOT NULL PRIMARY KEY, `value` TEXT NULL)
    ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE `Log` (`id` INTEGER NOT NULL, `at` DATE NOT NULL, PRIMARY KEY (`id`, `at`))
    PARTITION BY RANGE (YEAR(`at`)) (PARTITION `p2023` VALUES LESS THAN (2024), PARTITION `p2024` VALUES LESS THAN (2025));
CREATE VIEW `UserEmails` AS SELECT `id`, `email` FROM `User`;
CREATE TRIGGER `User_touch` BEFORE UPDATE ON `User` FOR EACH ROW SET NEW.`score` = NEW.`score`;
CREATE PROCEDURE `reset_scores`(IN `minimum` INT) MODIFIES SQL DATA UPDATE `User` SET `score` = `minimum`;
CREATE FUNCTION `double_it`(`x` INT) RETURNS INT DETERMINISTIC RETURN `x` * 2;
CREATE EVENT `purge` ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM `Post` WHERE `title` = '';
CREATE SEQUENCE `ticket_seq` START WITH 100 INCREMENT BY 5 MINVALUE 1 MAXVALUE 1000000 CACHE 10;
"#;

const POST_FK: &str = "Post.Post_authorId_fkey";

/// At least one change per attribute of each object kind MariaDB's introspector reads.
const MYSQL_ALTERATIONS: &[Alteration] = &[
    // Tables: engine, charset, collation, row format, comment.
    a(
        "ALTER TABLE `User` COMMENT = 'people'",
        K::Table,
        "User",
        "comment",
    ),
    a(
        "ALTER TABLE `Setting` ENGINE = MyISAM",
        K::Table,
        "Setting",
        "engine",
    ),
    a(
        "ALTER TABLE `Setting` CONVERT TO CHARACTER SET latin1",
        K::Table,
        "Setting",
        "charset",
    ),
    a(
        "ALTER TABLE `Setting` DEFAULT COLLATE utf8mb4_bin",
        K::Table,
        "Setting",
        "collation",
    ),
    a(
        "ALTER TABLE `Setting` ROW_FORMAT = COMPACT",
        K::Table,
        "Setting",
        "row_format",
    ),
    a_exists(
        "CREATE TABLE `Extra` (`id` INTEGER PRIMARY KEY)",
        K::Table,
        "Extra",
    ),
    a_exists("DROP TABLE `Setting`", K::Table, "Setting"),
    // A table with a foreign key dropped, a view on a view, a NOT NULL column dropped
    // from a table with rows.
    a_exists("DROP TABLE `Post`", K::Table, "Post"),
    a_exists(
        "CREATE VIEW `a_v` AS SELECT `id` FROM `User`;; CREATE VIEW `b_v` AS SELECT `id` FROM `a_v`",
        K::View,
        "b_v",
    ),
    a_exists(
        "ALTER TABLE `Post` DROP COLUMN `title`;; \
         INSERT INTO `User` (`email`, `location`) VALUES ('a@b', POINT(0, 0));; \
         INSERT INTO `Post` (`id`, `authorId`) SELECT 'p', `id` FROM `User`",
        K::Column,
        "Post.title",
    ),
    // Columns: type, unsigned, charset and collation, nullability, default, ON UPDATE,
    // generated, invisible, comment, AUTO_INCREMENT; JSON as MySQL's.
    a(
        "ALTER TABLE `User` ALTER COLUMN `name` DROP DEFAULT",
        K::Column,
        "User.name",
        "default",
    ),
    a(
        "ALTER TABLE `User` ALTER COLUMN `score` SET DEFAULT 1",
        K::Column,
        "User.score",
        "default",
    ),
    a(
        "ALTER TABLE `User` MODIFY `email` VARCHAR(191) NULL",
        K::Column,
        "User.email",
        "nullable",
    ),
    a(
        "ALTER TABLE `User` MODIFY `age` INTEGER UNSIGNED NOT NULL",
        K::Column,
        "User.age",
        "nullable",
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(200) NULL DEFAULT 'anonymous' COMMENT 'display name'",
        K::Column,
        "User.name",
        "type",
    ),
    a(
        "ALTER TABLE `User` MODIFY `age` BIGINT UNSIGNED NULL",
        K::Column,
        "User.age",
        "type",
    ),
    a(
        "ALTER TABLE `User` MODIFY `data` LONGTEXT NULL",
        K::Column,
        "User.data",
        "type",
    ),
    a(
        "ALTER TABLE `User` MODIFY `age` INTEGER NULL",
        K::Column,
        "User.age",
        "unsigned",
    ),
    a(
        "ALTER TABLE `User` MODIFY `score` INTEGER UNSIGNED NOT NULL DEFAULT 0",
        K::Column,
        "User.score",
        "unsigned",
    ),
    a(
        "ALTER TABLE `User` MODIFY `age` INTEGER UNSIGNED ZEROFILL NULL",
        K::Column,
        "User.age",
        "zerofill",
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT 'anonymous' COMMENT 'display name'",
        K::Column,
        "User.name",
        "collation",
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(100) CHARACTER SET latin1 NULL DEFAULT 'anonymous' COMMENT 'display name'",
        K::Column,
        "User.name",
        "charset",
    ),
    a(
        "ALTER TABLE `User` MODIFY `updatedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)",
        K::Column,
        "User.updatedAt",
        "on_update",
    ),
    a(
        "ALTER TABLE `User` MODIFY `emailLower` VARCHAR(191) AS (upper(`email`)) VIRTUAL",
        K::Column,
        "User.emailLower",
        "generated",
    ),
    a(
        "ALTER TABLE `User` DROP COLUMN `emailLower`, ADD COLUMN `emailLower` VARCHAR(191) AS (lower(`email`)) STORED",
        K::Column,
        "User.emailLower",
        "storage",
    ),
    a(
        "ALTER TABLE `User` MODIFY `secret` VARCHAR(20) NULL",
        K::Column,
        "User.secret",
        "invisible",
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(100) NULL DEFAULT 'anonymous' COMMENT 'shown'",
        K::Column,
        "User.name",
        "comment",
    ),
    a(
        "ALTER TABLE `User` MODIFY `id` INTEGER NOT NULL",
        K::Column,
        "User.id",
        "auto_increment",
    ),
    a_exists(
        "ALTER TABLE `Post` ADD COLUMN `body` TEXT",
        K::Column,
        "Post.body",
    ),
    a_exists(
        "ALTER TABLE `Post` DROP COLUMN `editorId`",
        K::Column,
        "Post.editorId",
    ),
    // Primary keys.
    a(
        "ALTER TABLE `Setting` DROP PRIMARY KEY, ADD PRIMARY KEY (`key`(20))",
        K::PrimaryKey,
        "Setting",
        "columns",
    ),
    a_exists(
        "ALTER TABLE `Setting` DROP PRIMARY KEY",
        K::PrimaryKey,
        "Setting",
    ),
    // Indexes: unique, secondary, FULLTEXT, SPATIAL, on a generated column (MariaDB's
    // functional index), prefix, descending, ignored, comment.
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`, ADD UNIQUE INDEX `User_score_idx`(`score`)",
        K::Index,
        "User.User_score_idx",
        "unique",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_email_key`, ADD UNIQUE INDEX `User_email_key`(`email`(50))",
        K::Index,
        "User.User_email_key",
        "columns",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_name_prefix_idx`, ADD INDEX `User_name_prefix_idx`(`name`(20))",
        K::Index,
        "User.User_name_prefix_idx",
        "columns",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_desc_idx`, ADD INDEX `User_score_desc_idx`(`score`)",
        K::Index,
        "User.User_score_desc_idx",
        "columns",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`, ADD INDEX `User_score_idx`(`score`, `name`)",
        K::Index,
        "User.User_score_idx",
        "columns",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_emailLower_idx`, ADD INDEX `User_emailLower_idx`(`email`)",
        K::Index,
        "User.User_emailLower_idx",
        "columns",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_bio_idx`, ADD INDEX `User_bio_idx`(`bio`(20))",
        K::Index,
        "User.User_bio_idx",
        "type",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_location_idx`, ADD INDEX `User_location_idx`(`location`(25))",
        K::Index,
        "User.User_location_idx",
        "type",
    ),
    a(
        "ALTER TABLE `User` ALTER INDEX `User_score_idx` IGNORED",
        K::Index,
        "User.User_score_idx",
        "visible",
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`, ADD INDEX `User_score_idx`(`score`) COMMENT 'hot'",
        K::Index,
        "User.User_score_idx",
        "comment",
    ),
    a_exists(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`",
        K::Index,
        "User.User_score_idx",
    ),
    a_exists(
        "ALTER TABLE `Post` ADD INDEX `Post_title_idx`(`title`)",
        K::Index,
        "Post.Post_title_idx",
    ),
    // Foreign keys.
    a(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`;; ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE",
        K::ForeignKey,
        POST_FK,
        "on_delete",
    ),
    a(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`;; ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`id`) ON DELETE RESTRICT ON UPDATE RESTRICT",
        K::ForeignKey,
        POST_FK,
        "on_update",
    ),
    a(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`;; ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`score`) ON DELETE RESTRICT ON UPDATE CASCADE",
        K::ForeignKey,
        POST_FK,
        "references",
    ),
    a(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`;; ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`editorId`) REFERENCES `User`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE",
        K::ForeignKey,
        POST_FK,
        "columns",
    ),
    a_exists(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`",
        K::ForeignKey,
        POST_FK,
    ),
    // Checks.
    a(
        "ALTER TABLE `User` DROP CONSTRAINT `score_positive`, ADD CONSTRAINT `score_positive` CHECK (`score` >= 1)",
        K::Check,
        "User.score_positive",
        "definition",
    ),
    a_exists(
        "ALTER TABLE `User` DROP CONSTRAINT `score_positive`",
        K::Check,
        "User.score_positive",
    ),
    a_exists(
        "ALTER TABLE `Post` ADD CONSTRAINT `title_set` CHECK (`title` <> '')",
        K::Check,
        "Post.title_set",
    ),
    // Partitions.
    a_exists(
        "ALTER TABLE `Log` ADD PARTITION (PARTITION `p2025` VALUES LESS THAN (2026))",
        K::Partition,
        "Log.p2025",
    ),
    a_exists(
        "ALTER TABLE `Log` DROP PARTITION `p2023`",
        K::Partition,
        "Log.p2023",
    ),
    a(
        "ALTER TABLE `Log` REORGANIZE PARTITION `p2024` INTO (PARTITION `p2024` VALUES LESS THAN (2026))",
        K::Partition,
        "Log.p2024",
        "bounds",
    ),
    a(
        "ALTER TABLE `Log` PARTITION BY LIST (YEAR(`at`)) (PARTITION `p2023` VALUES IN (2023), PARTITION `p2024` VALUES IN (2024))",
        K::Partition,
        "Log.p2023",
        "method",
    ),
    a(
        "ALTER TABLE `Log` PARTITION BY RANGE (`id`) (PARTITION `p2023` VALUES LESS THAN (2024), PARTITION `p2024` VALUES LESS THAN (2025))",
        K::Partition,
        "Log.p2023",
        "expression",
    ),
    a(
        "ALTER TABLE `Log` PARTITION BY RANGE (YEAR(`at`)) (PARTITION `p2024` VALUES LESS THAN (2025), PARTITION `p2023` VALUES LESS THAN (2026))",
        K::Partition,
        "Log.p2023",
        "position",
    ),
    a(
        "ALTER TABLE `Log` REORGANIZE PARTITION `p2024` INTO (PARTITION `p2024` VALUES LESS THAN (2025) COMMENT 'current')",
        K::Partition,
        "Log.p2024",
        "comment",
    ),
    a_exists(
        "ALTER TABLE `Log` REMOVE PARTITIONING",
        K::Partition,
        "Log.p2024",
    ),
    // Views.
    a(
        "CREATE OR REPLACE VIEW `UserEmails` AS SELECT `id` FROM `User`",
        K::View,
        "UserEmails",
        "definition",
    ),
    a(
        "CREATE OR REPLACE VIEW `UserEmails` AS SELECT `id`, `email` FROM `User` WITH CASCADED CHECK OPTION",
        K::View,
        "UserEmails",
        "check_option",
    ),
    a(
        "CREATE OR REPLACE SQL SECURITY INVOKER VIEW `UserEmails` AS SELECT `id`, `email` FROM `User`",
        K::View,
        "UserEmails",
        "security",
    ),
    a_exists("DROP VIEW `UserEmails`", K::View, "UserEmails"),
    // Triggers.
    a(
        "DROP TRIGGER `User_touch`;; CREATE TRIGGER `User_touch` AFTER UPDATE ON `User` FOR EACH ROW SET @x = 1",
        K::Trigger,
        "User.User_touch",
        "timing",
    ),
    a(
        "DROP TRIGGER `User_touch`;; CREATE TRIGGER `User_touch` BEFORE INSERT ON `User` FOR EACH ROW SET NEW.`score` = NEW.`score`",
        K::Trigger,
        "User.User_touch",
        "event",
    ),
    a(
        "DROP TRIGGER `User_touch`;; CREATE TRIGGER `User_touch` BEFORE UPDATE ON `User` FOR EACH ROW SET NEW.`score` = NEW.`score` + 1",
        K::Trigger,
        "User.User_touch",
        "definition",
    ),
    a(
        "CREATE TRIGGER `User_first` BEFORE UPDATE ON `User` FOR EACH ROW PRECEDES `User_touch` SET @y = 1",
        K::Trigger,
        "User.User_touch",
        "order",
    ),
    a_exists("DROP TRIGGER `User_touch`", K::Trigger, "User.User_touch"),
    // Procedures and functions.
    a(
        "DROP PROCEDURE `reset_scores`;; CREATE PROCEDURE `reset_scores`(IN `minimum` INT) MODIFIES SQL DATA UPDATE `User` SET `score` = `minimum` + 1",
        K::Procedure,
        "reset_scores",
        "definition",
    ),
    a(
        "DROP PROCEDURE `reset_scores`;; CREATE PROCEDURE `reset_scores`(IN `minimum` BIGINT) MODIFIES SQL DATA UPDATE `User` SET `score` = `minimum`",
        K::Procedure,
        "reset_scores",
        "parameters",
    ),
    a(
        "ALTER PROCEDURE `reset_scores` SQL SECURITY INVOKER",
        K::Procedure,
        "reset_scores",
        "security",
    ),
    a(
        "ALTER PROCEDURE `reset_scores` COMMENT 'nightly'",
        K::Procedure,
        "reset_scores",
        "comment",
    ),
    a(
        "ALTER PROCEDURE `reset_scores` READS SQL DATA",
        K::Procedure,
        "reset_scores",
        "data_access",
    ),
    a_exists(
        "DROP PROCEDURE `reset_scores`",
        K::Procedure,
        "reset_scores",
    ),
    a(
        "DROP FUNCTION `double_it`;; CREATE FUNCTION `double_it`(`x` INT) RETURNS INT DETERMINISTIC RETURN `x` * 3",
        K::Function,
        "double_it",
        "definition",
    ),
    a(
        "DROP FUNCTION `double_it`;; CREATE FUNCTION `double_it`(`x` INT) RETURNS BIGINT DETERMINISTIC RETURN `x` * 2",
        K::Function,
        "double_it",
        "returns",
    ),
    a(
        "DROP FUNCTION `double_it`;; CREATE FUNCTION `double_it`(`x` INT) RETURNS INT NOT DETERMINISTIC RETURN `x` * 2",
        K::Function,
        "double_it",
        "deterministic",
    ),
    a(
        "DROP FUNCTION `double_it`;; CREATE FUNCTION `double_it`(`y` INT) RETURNS INT DETERMINISTIC RETURN `y` * 2",
        K::Function,
        "double_it",
        "parameters",
    ),
    a(
        "ALTER FUNCTION `double_it` NO SQL",
        K::Function,
        "double_it",
        "data_access",
    ),
    a_exists("DROP FUNCTION `double_it`", K::Function, "double_it"),
    // Events (never their start time: see `mysql_data_is_not_drift`).
    a("ALTER EVENT `purge` ENABLE", K::Event, "purge", "status"),
    a(
        "ALTER EVENT `purge` ON SCHEDULE EVERY 2 DAY",
        K::Event,
        "purge",
        "interval",
    ),
    a(
        "ALTER EVENT `purge` ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY",
        K::Event,
        "purge",
        "schedule",
    ),
    a(
        "ALTER EVENT `purge` DO DELETE FROM `Post`",
        K::Event,
        "purge",
        "definition",
    ),
    a(
        "ALTER EVENT `purge` ON COMPLETION PRESERVE",
        K::Event,
        "purge",
        "on_completion",
    ),
    a(
        "ALTER EVENT `purge` COMMENT 'nightly'",
        K::Event,
        "purge",
        "comment",
    ),
    a_exists("DROP EVENT `purge`", K::Event, "purge"),
    // MariaDB's sequences.
    a(
        "ALTER SEQUENCE `ticket_seq` START WITH 1",
        K::Sequence,
        "ticket_seq",
        "start",
    ),
    a(
        "ALTER SEQUENCE `ticket_seq` INCREMENT BY 10",
        K::Sequence,
        "ticket_seq",
        "increment",
    ),
    a(
        "ALTER SEQUENCE `ticket_seq` MINVALUE 0",
        K::Sequence,
        "ticket_seq",
        "min",
    ),
    a(
        "ALTER SEQUENCE `ticket_seq` MAXVALUE 5000",
        K::Sequence,
        "ticket_seq",
        "max",
    ),
    a(
        "ALTER SEQUENCE `ticket_seq` CACHE 20",
        K::Sequence,
        "ticket_seq",
        "cache",
    ),
    a(
        "ALTER SEQUENCE `ticket_seq` CYCLE",
        K::Sequence,
        "ticket_seq",
        "cycle",
    ),
    a_exists("DROP SEQUENCE `ticket_seq`", K::Sequence, "ticket_seq"),
    a_exists("CREATE SEQUENCE `other_seq`", K::Sequence, "other_seq"),
];

/// Every hand-made change to [`MYSQL_BASE`] shows as a difference naming its object and
/// attribute.
#[test]
fn mysql_changes_are_found_with_their_object_and_attribute() {
    alterations_are_found(Kind::Mysql, MYSQL_BASE, MYSQL_ALTERATIONS);
}

/// What is data is not drift: a sequence's next value, rows, an event's start time (set
/// again by the same statement run later).
#[test]
fn mysql_data_is_not_drift() {
    let reference = TestDb::new(Kind::Mysql);
    reference.exec(MYSQL_BASE);
    let live = TestDb::new(Kind::Mysql);
    live.exec(MYSQL_BASE);
    live.exec(
        "SELECT NEXTVAL(`ticket_seq`); \
         INSERT INTO `User` (`email`, `location`) VALUES ('a@example.com', POINT(0, 0)); \
         ALTER EVENT `purge` ON SCHEDULE EVERY 1 DAY STARTS CURRENT_TIMESTAMP + INTERVAL 1 HOUR",
    );
    assert_eq!(diff(&introspect(&live), &introspect(&reference)), vec![]);
}

/// Each alteration, run on a fresh copy of `base`, shows as a difference naming its object
/// and attribute. PostgreSQL copies a template database (faster than running `base`);
/// MariaDB runs `base` again (its copy is a dump and a restore). A few alterations run at
/// once: most of the time is the server's, creating databases.
fn alterations_are_found(kind: Kind, base: &str, alterations: &[Alteration]) {
    const AT_ONCE: usize = 4;
    let template = TestDb::new(kind);
    template.exec(base);
    let reference = introspect(&template);
    // Drift connects to it: a template must have no sessions while it is copied.
    let reference_db = match kind {
        Kind::Postgres => TestDb::copy_of(&template),
        _ => {
            let db = TestDb::new(kind);
            db.exec(base);
            db
        }
    };
    let check =
        |alteration: &Alteration| -> Option<String> {
            let live = match kind {
                Kind::Postgres => TestDb::copy_of(&template),
                _ => {
                    let live = TestDb::new(kind);
                    live.exec(base);
                    live
                }
            };
            let applied = alteration.sql.split(";;").try_for_each(|step| {
                match step.trim().strip_prefix('?') {
                    Some(may_fail) => live.try_exec(may_fail).or(Ok(())),
                    None => live.try_exec(step),
                }
            });
            if let Err(e) = applied {
                return Some(format!("`{}`: {e}", alteration.sql));
            }
            let differences = diff(&introspect(&live), &reference);
            let attribute = alteration.attribute;
            if !found(&differences, alteration.kind, alteration.name, attribute) {
                return Some(format!(
                    "`{}`: expected {} `{}` {attribute:?}, got {differences:#?}",
                    alteration.sql, alteration.kind, alteration.name
                ));
            }
            sql_converges(&live, &reference_db)
                .err()
                .map(|e| format!("`{}`: {e}", alteration.sql))
        };
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..AT_ONCE)
            .map(|worker| {
                let check = &check;
                scope.spawn(move || {
                    let mine = alterations.iter().skip(worker).step_by(AT_ONCE);
                    mine.filter_map(check).collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("an alteration worker"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{kind:?}: {} alterations found and converged",
        alterations.len()
    );
}

/// The opt-in attributes: privileges, owners, comments and column order are found when
/// asked for, and are no drift otherwise.
#[test]
fn opt_in_attributes_are_compared_only_when_asked() {
    let base = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);";
    let reference = TestDb::new(Kind::Postgres);
    reference.exec(base);
    let live = TestDb::new(Kind::Postgres);
    live.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT, a TEXT);");
    let role = format!("reader_{}", live.name);
    live.exec(&format!(
        "CREATE ROLE {role}; GRANT SELECT ON t TO {role}; ALTER TABLE t OWNER TO {role}; \
         COMMENT ON TABLE t IS 'by hand'; COMMENT ON COLUMN t.a IS 'by hand'; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role};"
    ));
    assert_eq!(diff(&introspect(&live), &introspect(&reference)), vec![]);

    let all = Detail {
        privileges: true,
        owners: true,
        comments: true,
        column_order: true,
    };
    let differences = diff(
        &introspect_with(&live, all),
        &introspect_with(&reference, all),
    );
    for (kind, name, attribute) in [
        (K::Table, "t", "privileges"),
        (K::Table, "t", "owner"),
        (K::Table, "t", "comment"),
        (K::Column, "t.a", "comment"),
        (K::Column, "t.a", "position"),
        (K::Column, "t.b", "position"),
        (K::Schema, "public", "default_privileges"),
    ] {
        assert!(
            found(&differences, kind, name, Some(attribute)),
            "{kind} {name} {attribute}: {differences:#?}"
        );
    }
    for kind in [Kind::Mysql, Kind::Sqlite] {
        let reference = TestDb::new(kind);
        reference.exec(base);
        let live = TestDb::new(kind);
        live.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT, a TEXT);");
        assert_eq!(
            diff(&introspect(&live), &introspect(&reference)),
            vec![],
            "{kind:?}"
        );
        let order = Detail {
            column_order: true,
            ..Detail::default()
        };
        let differences = diff(
            &introspect_with(&live, order),
            &introspect_with(&reference, order),
        );
        assert!(
            found(&differences, K::Column, "t.a", Some("position")),
            "{kind:?}: {differences:#?}"
        );
    }
}
