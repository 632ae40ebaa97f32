//! Schema introspection and comparison, the ground `safemig drift` will stand on, on all
//! three engines: no false positives on the real-world histories (deployed by safemig,
//! replayed by the engine's own client, dumped and restored), and every deliberate change
//! found with the right object and attribute.

use safemig::schema::{Difference, ObjectKind, Schema, diff};

use crate::corpus::{apply_with_engine_client, corpora, deployed_by_safemig, migration_files};
use crate::harness::{Kind, TestDb, block_on, engine_for};

fn introspect(db: &TestDb) -> Schema {
    block_on(async {
        let mut engine = engine_for(db).await;
        engine
            .schema()
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
    }
}

const POSTGRES_BASE: &str = r#"
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE SEQUENCE "ticket_seq" START 100 INCREMENT 5;
CREATE TABLE "User" (
    "id" SERIAL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "name" VARCHAR(100) DEFAULT 'anonymous',
    "role" "Role" NOT NULL DEFAULT 'USER',
    "score" INTEGER NOT NULL DEFAULT 0 CONSTRAINT "User_score_check" CHECK ("score" >= 0),
    "code" TEXT COLLATE "C",
    "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) STORED,
    "seq" BIGINT GENERATED BY DEFAULT AS IDENTITY
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE INDEX "User_score_idx" ON "User"("score" DESC) WHERE "score" > 0;
CREATE TABLE "Post" (
    "id" TEXT PRIMARY KEY,
    "authorId" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    CONSTRAINT "Post_author_title_key" UNIQUE ("authorId", "title"),
    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE VIEW "UserEmails" AS SELECT "id", "email" FROM "User";
CREATE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER "User_touch" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION "touch"();
ALTER TABLE "Post" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own_posts" ON "Post" FOR SELECT USING ("authorId" > 0);
"#;

/// A change made to [`POSTGRES_BASE`] by a statement, as a hand-made fix over ssh would.
struct Alteration {
    sql: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: Option<&'static str>,
}

const fn a(
    sql: &'static str,
    kind: ObjectKind,
    name: &'static str,
    attribute: Option<&'static str>,
) -> Alteration {
    Alteration {
        sql,
        kind,
        name,
        attribute,
    }
}

const POSTGRES_ALTERATIONS: &[Alteration] = &[
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "name" DROP DEFAULT"#,
        ObjectKind::Column,
        "User.name",
        Some("default"),
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "email" DROP NOT NULL"#,
        ObjectKind::Column,
        "User.email",
        Some("nullable"),
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "name" TYPE VARCHAR(200)"#,
        ObjectKind::Column,
        "User.name",
        Some("type"),
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "code" TYPE TEXT COLLATE "POSIX""#,
        ObjectKind::Column,
        "User.code",
        Some("collation"),
    ),
    a(
        r#"ALTER TABLE "User" ALTER COLUMN "seq" SET GENERATED ALWAYS"#,
        ObjectKind::Column,
        "User.seq",
        Some("identity"),
    ),
    a(
        r#"ALTER TYPE "Role" ADD VALUE 'GUEST'"#,
        ObjectKind::Enum,
        "Role",
        Some("labels"),
    ),
    a(
        r#"ALTER SEQUENCE "ticket_seq" INCREMENT 10"#,
        ObjectKind::Sequence,
        "ticket_seq",
        Some("increment"),
    ),
    a(
        r#"ALTER TABLE "User" DROP CONSTRAINT "User_score_check", ADD CONSTRAINT "User_score_check" CHECK ("score" >= 1)"#,
        ObjectKind::Check,
        "User.User_score_check",
        Some("definition"),
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey", ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE"#,
        ObjectKind::ForeignKey,
        "Post.Post_authorId_fkey",
        Some("definition"),
    ),
    a(
        r#"ALTER TABLE "Post" ADD CONSTRAINT "Post_title_check" CHECK (length("title") > 0) NOT VALID"#,
        ObjectKind::Check,
        "Post.Post_title_check",
        None,
    ),
    a(
        r#"DROP INDEX "User_score_idx"; CREATE INDEX "User_score_idx" ON "User"("score") WHERE "score" > 0"#,
        ObjectKind::Index,
        "User_score_idx",
        Some("definition"),
    ),
    a(
        r#"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"User_email_key"'::regclass"#,
        ObjectKind::Index,
        "User_email_key",
        Some("valid"),
    ),
    a(
        r#"CREATE OR REPLACE VIEW "UserEmails" AS SELECT "id", "email", "name" FROM "User""#,
        ObjectKind::View,
        "UserEmails",
        Some("definition"),
    ),
    a(
        r#"CREATE OR REPLACE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"#,
        ObjectKind::Function,
        "touch()",
        Some("definition"),
    ),
    a(
        r#"ALTER TABLE "User" DISABLE TRIGGER "User_touch""#,
        ObjectKind::Trigger,
        "User.User_touch",
        Some("enabled"),
    ),
    a(
        r#"ALTER TABLE "Post" FORCE ROW LEVEL SECURITY"#,
        ObjectKind::Table,
        "Post",
        Some("force_row_security"),
    ),
    a(
        r#"CREATE POLICY "all_posts" ON "Post" FOR ALL USING (true)"#,
        ObjectKind::Policy,
        "Post.all_posts",
        None,
    ),
    a(
        r#"ALTER POLICY "own_posts" ON "Post" USING ("authorId" > 1)"#,
        ObjectKind::Policy,
        "Post.own_posts",
        Some("using"),
    ),
    a(
        r#"ALTER TABLE "Post" SET UNLOGGED"#,
        ObjectKind::Table,
        "Post",
        Some("unlogged"),
    ),
    a(
        r#"ALTER TABLE "User" ADD COLUMN "bio" TEXT"#,
        ObjectKind::Column,
        "User.bio",
        None,
    ),
    a(
        r#"DROP VIEW "UserEmails""#,
        ObjectKind::View,
        "UserEmails",
        None,
    ),
    a(
        r#"ALTER TABLE "Post" DROP CONSTRAINT "Post_author_title_key""#,
        ObjectKind::Unique,
        "Post.Post_author_title_key",
        None,
    ),
];

/// Every hand-made change to [`POSTGRES_BASE`] shows as a difference naming its object and
/// attribute.
#[test]
fn postgres_changes_are_found_with_their_object_and_attribute() {
    alterations_are_found(Kind::Postgres, POSTGRES_BASE, POSTGRES_ALTERATIONS);
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
    `name` VARCHAR(100) NULL DEFAULT 'anonymous',
    `score` INTEGER NOT NULL DEFAULT 0,
    `data` JSON NULL,
    `updatedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    CONSTRAINT `score_positive` CHECK (`score` >= 0),
    UNIQUE INDEX `User_email_key`(`email`),
    INDEX `User_score_idx`(`score`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE `Post` (
    `id` VARCHAR(191) NOT NULL,
    `authorId` INTEGER NOT NULL,
    `title` VARCHAR(191) NOT NULL,
    PRIMARY KEY (`id`),
    INDEX `Post_authorId_idx`(`authorId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;
CREATE VIEW `UserEmails` AS SELECT `id`, `email` FROM `User`;
CREATE TRIGGER `User_touch` BEFORE UPDATE ON `User` FOR EACH ROW SET NEW.`score` = NEW.`score`;
"#;

const MYSQL_ALTERATIONS: &[Alteration] = &[
    a(
        "ALTER TABLE `User` ALTER COLUMN `name` DROP DEFAULT",
        ObjectKind::Column,
        "User.name",
        Some("default"),
    ),
    a(
        "ALTER TABLE `User` MODIFY `email` VARCHAR(191) NULL",
        ObjectKind::Column,
        "User.email",
        Some("nullable"),
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(200) NULL DEFAULT 'anonymous'",
        ObjectKind::Column,
        "User.name",
        Some("type"),
    ),
    a(
        "ALTER TABLE `User` MODIFY `updatedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)",
        ObjectKind::Column,
        "User.updatedAt",
        Some("extra"),
    ),
    a(
        "ALTER TABLE `User` MODIFY `name` VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT 'anonymous'",
        ObjectKind::Column,
        "User.name",
        Some("collation"),
    ),
    a(
        "ALTER TABLE `User` DROP CONSTRAINT `score_positive`, ADD CONSTRAINT `score_positive` CHECK (`score` >= 1)",
        ObjectKind::Check,
        "User.score_positive",
        Some("definition"),
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`, ADD UNIQUE INDEX `User_score_idx`(`score`)",
        ObjectKind::Index,
        "User.User_score_idx",
        Some("unique"),
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_email_key`, ADD UNIQUE INDEX `User_email_key`(`email`(50))",
        ObjectKind::Index,
        "User.User_email_key",
        Some("columns"),
    ),
    a(
        "ALTER TABLE `Post` DROP FOREIGN KEY `Post_authorId_fkey`; ALTER TABLE `Post` ADD CONSTRAINT `Post_authorId_fkey` FOREIGN KEY (`authorId`) REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE",
        ObjectKind::ForeignKey,
        "Post.Post_authorId_fkey",
        Some("on_delete"),
    ),
    a(
        "CREATE OR REPLACE VIEW `UserEmails` AS SELECT `id` FROM `User`",
        ObjectKind::View,
        "UserEmails",
        Some("definition"),
    ),
    a(
        "DROP TRIGGER `User_touch`; CREATE TRIGGER `User_touch` AFTER UPDATE ON `User` FOR EACH ROW SET @x = 1",
        ObjectKind::Trigger,
        "User.User_touch",
        Some("timing"),
    ),
    a(
        "ALTER TABLE `User` COMMENT = 'people'",
        ObjectKind::Table,
        "User",
        Some("comment"),
    ),
    a(
        "ALTER TABLE `Post` ADD COLUMN `body` TEXT",
        ObjectKind::Column,
        "Post.body",
        None,
    ),
    a(
        "ALTER TABLE `User` DROP INDEX `User_score_idx`",
        ObjectKind::Index,
        "User.User_score_idx",
        None,
    ),
];

/// Every hand-made change to [`MYSQL_BASE`] shows as a difference naming its object and
/// attribute.
#[test]
fn mysql_changes_are_found_with_their_object_and_attribute() {
    alterations_are_found(Kind::Mysql, MYSQL_BASE, MYSQL_ALTERATIONS);
}

/// Each alteration, run on a fresh copy of `base`, shows as a difference naming its object
/// and attribute.
fn alterations_are_found(kind: Kind, base: &str, alterations: &[Alteration]) {
    let reference = TestDb::new(kind);
    reference.exec(base);
    let reference = introspect(&reference);
    for alteration in alterations {
        let live = TestDb::new(kind);
        live.exec(base);
        live.exec(alteration.sql);
        let differences = diff(&introspect(&live), &reference);
        assert!(
            found(
                &differences,
                alteration.kind,
                alteration.name,
                alteration.attribute
            ),
            "`{}`: expected {} `{}` {:?}, got {differences:#?}",
            alteration.sql,
            alteration.kind,
            alteration.name,
            alteration.attribute
        );
    }
}
