//! PostgreSQL's locks, from its "Explicit Locking" and `ALTER TABLE` pages.

use super::super::words::Words;
use super::{
    Blocks, Effect, LockEffect, after, catalog_only, clauses, created, has, referenced, starts,
    unknown,
};

/// Functions whose value differs per row: a default calling one is written into every
/// existing row when the column is added.
const VOLATILE: [&str; 8] = [
    "gen_random_uuid",
    "uuid_generate_v4",
    "uuid_generate_v1",
    "random",
    "clock_timestamp",
    "nextval",
    "timeofday",
    "uuid",
];

pub(super) fn lock_effect(w: &mut Words) -> LockEffect {
    const AE: &str = "ACCESS EXCLUSIVE";
    let meta = |reason| LockEffect::new(Effect::Metadata, AE, Blocks::ReadsAndWrites, reason);
    if w.eat("CREATE") {
        w.eat_all(&["OR", "REPLACE", "UNIQUE"]);
        if w.eat("INDEX") {
            let concurrently = w.eat("CONCURRENTLY");
            let table = after(w, "ON").filter(|t| !t.eq_ignore_ascii_case("ONLY"));
            let table = table.or_else(|| after(w, "ONLY"));
            return if concurrently {
                LockEffect::new(
                    Effect::IndexBuild,
                    "SHARE UPDATE EXCLUSIVE",
                    Blocks::Nothing,
                    "builds the index while writes go on",
                )
            } else {
                LockEffect::new(
                    Effect::IndexBuild,
                    "SHARE",
                    Blocks::Writes,
                    "builds the index; writes wait until it is built",
                )
            }
            .on(table);
        }
        if w.eat("TRIGGER") {
            return LockEffect::new(
                Effect::Metadata,
                "SHARE ROW EXCLUSIVE",
                Blocks::Writes,
                "adds a trigger",
            )
            .on(after(w, "ON"));
        }
        return created(w, "SHARE ROW EXCLUSIVE");
    }
    if w.eat_sequence(&["ALTER", "TABLE"]) {
        w.eat_if_exists();
        w.eat("ONLY");
        let Some(table) = w.name() else {
            return unknown();
        };
        return clauses(w)
            .iter()
            .map(|c| postgres_clause(c, &table))
            .reduce(LockEffect::max)
            .unwrap_or_else(unknown);
    }
    if w.eat_sequence(&["DROP", "TABLE"]) || w.eat_sequence(&["DROP", "INDEX"]) {
        if w.eat("CONCURRENTLY") {
            return LockEffect::new(
                Effect::Metadata,
                "SHARE UPDATE EXCLUSIVE",
                Blocks::Nothing,
                "drops the index while writes go on",
            );
        }
        w.eat_if_exists();
        return meta("drops it; the table's queries wait for the lock").on(w.names());
    }
    if w.eat("TRUNCATE") {
        w.eat_all(&["TABLE", "ONLY"]);
        return meta("empties the table without reading it").on(w.names());
    }
    catalog_only(w)
}

/// One clause of a PostgreSQL `ALTER TABLE table …`.
fn postgres_clause(c: &[String], table: &str) -> LockEffect {
    const AE: &str = "ACCESS EXCLUSIVE";
    let on = |effect, mode, blocks, reason| {
        LockEffect::new(effect, mode, blocks, reason).on([table.to_string()])
    };
    let whole = |effect, reason| on(effect, AE, Blocks::ReadsAndWrites, reason);
    if starts(c, &["ADD"]) && !is_constraint(&c[1..]) {
        return postgres_add_column(c, table);
    }
    if starts(c, &["ADD"]) {
        let not_valid = has(c, "NOT") && has(c, "VALID");
        if has(c, "FOREIGN") {
            let effect = if not_valid {
                Effect::Metadata
            } else {
                Effect::Scan
            };
            let reason = if not_valid {
                "adds the foreign key without checking existing rows (NOT VALID)"
            } else {
                "checks every row against the referenced table; writes to both wait"
            };
            let effect =
                on(effect, "SHARE ROW EXCLUSIVE", Blocks::Writes, reason).on(referenced(c));
            return if not_valid {
                effect
            } else {
                effect.checking_foreign_key()
            };
        }
        if has(c, "CHECK") && !not_valid {
            return whole(Effect::Scan, "checks every existing row");
        }
        if (has(c, "UNIQUE") || has(c, "PRIMARY") || has(c, "EXCLUDE")) && !has(c, "USING") {
            return whole(Effect::IndexBuild, "builds the constraint's index");
        }
        return whole(Effect::Metadata, "adds the constraint to the catalog");
    }
    if starts(c, &["ALTER"]) {
        if has(c, "TYPE") {
            return whole(
                Effect::Rewrite,
                "a type change rewrites the table and its indexes (unless the old type \
                 converts without change, as varchar to a longer varchar or text)",
            );
        }
        if has(c, "SET") && has(c, "NOT") && has(c, "NULL") {
            return whole(Effect::Scan, "reads every row to check for NULLs");
        }
        return whole(Effect::Metadata, "changes the column in the catalog");
    }
    if starts(c, &["VALIDATE"]) {
        return on(
            Effect::Scan,
            "SHARE UPDATE EXCLUSIVE",
            Blocks::Nothing,
            "checks every row while reads and writes go on",
        );
    }
    if starts(c, &["SET", "LOGGED"])
        || starts(c, &["SET", "UNLOGGED"])
        || starts(c, &["SET", "TABLESPACE"])
    {
        return whole(Effect::Rewrite, "copies the table");
    }
    if starts(c, &["ENABLE"]) || starts(c, &["DISABLE"]) {
        return on(
            Effect::Metadata,
            "SHARE ROW EXCLUSIVE",
            Blocks::Writes,
            "changes the table's triggers or rules",
        );
    }
    if starts(c, &["DROP"]) || starts(c, &["RENAME"]) || starts(c, &["OWNER"]) {
        return whole(Effect::Metadata, "changes the catalog only");
    }
    unknown().on([table.to_string()])
}

/// `ADD [CONSTRAINT name] PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|EXCLUDE`, as opposed to
/// `ADD [COLUMN] name type …`.
fn is_constraint(rest: &[String]) -> bool {
    [
        "CONSTRAINT",
        "PRIMARY",
        "UNIQUE",
        "FOREIGN",
        "CHECK",
        "EXCLUDE",
    ]
    .iter()
    .any(|k| rest.first().is_some_and(|w| w.eq_ignore_ascii_case(k)))
}

fn postgres_add_column(c: &[String], table: &str) -> LockEffect {
    let whole = |effect, reason| {
        LockEffect::new(effect, "ACCESS EXCLUSIVE", Blocks::ReadsAndWrites, reason)
            .on([table.to_string()])
    };
    let serial = c.iter().any(|w| {
        [
            "serial",
            "bigserial",
            "smallserial",
            "serial4",
            "serial8",
            "serial2",
        ]
        .iter()
        .any(|s| w.eq_ignore_ascii_case(s))
    });
    // A call: the name, then its parenthesis (`uuid` alone is the type).
    let calls: Vec<&'static str> = VOLATILE
        .into_iter()
        .filter(|f| {
            c.windows(2)
                .any(|w| w[0].eq_ignore_ascii_case(f) && w[1] == "(")
        })
        .collect();
    let volatile = !calls.is_empty();
    if has(c, "STORED") || has(c, "IDENTITY") || serial || (has(c, "DEFAULT") && volatile) {
        let mut effect = whole(
            Effect::Rewrite,
            "the new column's value differs per row, so every row is rewritten",
        );
        if has(c, "DEFAULT") {
            effect.per_row_calls = calls;
        }
        return effect;
    }
    if has(c, "PRIMARY") || has(c, "UNIQUE") {
        return whole(Effect::IndexBuild, "builds the new column's index");
    }
    if has(c, "CHECK") {
        return whole(Effect::Scan, "checks every existing row");
    }
    whole(
        Effect::Metadata,
        "adds the column in the catalog (a constant default too, since PostgreSQL 11)",
    )
    .on(referenced(c))
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use crate::sql::Dialect;

    /// effect, what it blocks, the tables sized | the statement
    const CASES: &str = r#"
metadata reads_and_writes t | ALTER TABLE "t" ADD COLUMN "y" INTEGER
metadata reads_and_writes t | ALTER TABLE "t" ADD COLUMN "y" TEXT NOT NULL DEFAULT 'a'
rewrite reads_and_writes t | ALTER TABLE "t" ADD COLUMN "id2" TEXT NOT NULL DEFAULT gen_random_uuid()
metadata reads_and_writes t | ALTER TABLE "t" ADD COLUMN "u" UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'
rewrite reads_and_writes t | ALTER TABLE "t" ADD COLUMN "n" SERIAL
rewrite reads_and_writes t | ALTER TABLE "t" ALTER COLUMN "y" SET DATA TYPE BIGINT
scan reads_and_writes t | ALTER TABLE "t" ALTER COLUMN "y" SET NOT NULL
metadata reads_and_writes t | ALTER TABLE "t" ALTER COLUMN "y" DROP NOT NULL, ALTER COLUMN "z" SET DEFAULT 0
scan writes t,u | ALTER TABLE "t" ADD CONSTRAINT "t_u_fkey" FOREIGN KEY ("u") REFERENCES "u"("id") ON DELETE CASCADE ON UPDATE CASCADE
metadata writes t,u | ALTER TABLE "t" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "u"("id") NOT VALID
scan nothing t | ALTER TABLE "t" VALIDATE CONSTRAINT "f"
scan reads_and_writes t | ALTER TABLE "t" ADD CONSTRAINT "c" CHECK ("y" > 0)
index_build reads_and_writes t | ALTER TABLE "t" ADD CONSTRAINT "t_pkey" PRIMARY KEY ("id")
metadata reads_and_writes t | ALTER TABLE "t" DROP COLUMN "y", ADD COLUMN "z" INT
metadata reads_and_writes t | ALTER TABLE "t" RENAME COLUMN "a" TO "b"
index_build writes t | CREATE UNIQUE INDEX "t_y_key" ON "t"("y")
index_build nothing t | CREATE INDEX CONCURRENTLY "t_y_idx" ON "t" USING btree ("y")
metadata nothing - | CREATE TABLE "n" ("id" TEXT NOT NULL, CONSTRAINT "n_pkey" PRIMARY KEY ("id"))
metadata writes t | CREATE TABLE "n" ("id" TEXT NOT NULL, "t" INT REFERENCES "t"("id"))
metadata nothing - | CREATE TYPE "Role" AS ENUM ('A', 'B')
metadata nothing - | ALTER TYPE "Role" ADD VALUE 'C'
metadata reads_and_writes t | DROP TABLE "t"
data nothing t | UPDATE "t" SET "y" = 1 WHERE "y" IS NULL
data nothing t | INSERT INTO "n" ("id") SELECT "id" FROM "t"
data nothing - | INSERT INTO "n" ("id") VALUES ('a'), ('b')
unknown reads_and_writes - | DO $$ BEGIN PERFORM 1; END $$
"#;

    #[test]
    fn postgres_statements() {
        check(Dialect::Postgres, CASES);
    }

    /// What the estimate adds to the work: the calls a default makes per row, the check
    /// of each row against the referenced table.
    #[test]
    fn per_row_calls_and_foreign_key_checks() {
        let effect = |sql: &str| {
            let statements = crate::sql::split(sql, Dialect::Postgres);
            crate::sql::lock_effect(&statements[0], Dialect::Postgres)
        };
        let uuid =
            effect(r#"ALTER TABLE "t" ADD COLUMN "u" UUID NOT NULL DEFAULT gen_random_uuid()"#);
        assert_eq!(uuid.per_row_calls, ["gen_random_uuid"]);
        assert!(
            effect(r#"ALTER TABLE "t" ADD COLUMN "n" SERIAL"#)
                .per_row_calls
                .is_empty()
        );
        let fk = r#"ALTER TABLE "t" ADD CONSTRAINT "f" FOREIGN KEY ("a") REFERENCES "p"("id")"#;
        assert!(effect(fk).checks_foreign_key);
        assert!(!effect(&format!("{fk} NOT VALID")).checks_foreign_key);
        assert!(
            !effect(r#"ALTER TABLE "t" ADD CONSTRAINT "c" CHECK ("a" > 0)"#).checks_foreign_key
        );
    }
}
