//! SQLite: one writer at a time, so every change holds the database's write lock.

use super::super::words::Words;
use super::{Blocks, Effect, LockEffect, after, catalog_only, has};

pub(super) fn lock_effect(w: &mut Words) -> LockEffect {
    const WRITE: &str = "database write lock";
    let lock = |effect, reason| LockEffect::new(effect, WRITE, Blocks::Writes, reason);
    if w.eat("CREATE") {
        w.eat("UNIQUE");
        if w.eat("INDEX") {
            return lock(Effect::IndexBuild, "builds the index").on(after(w, "ON"));
        }
        return lock(Effect::Metadata, "creates a new object");
    }
    if w.eat_sequence(&["ALTER", "TABLE"]) {
        let table: Vec<String> = w.name().into_iter().collect();
        if w.eat("DROP") {
            return lock(Effect::Rewrite, "rewrites every row without the column").on(table);
        }
        if w.is("ADD") && (has(&w.words, "CHECK") || has(&w.words, "REFERENCES")) {
            return lock(Effect::Scan, "checks every existing row").on(table);
        }
        return lock(Effect::Metadata, "changes the schema only").on(table);
    }
    if w.eat_sequence(&["DROP", "TABLE"]) {
        w.eat_if_exists();
        return lock(Effect::Data, "frees every page of the table").on(w.name());
    }
    if w.is("DROP") {
        return lock(Effect::Metadata, "changes the schema only");
    }
    catalog_only(w)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use crate::sql::Dialect;

    /// effect, what it blocks, the tables sized | the statement
    const CASES: &str = r#"
metadata writes t | ALTER TABLE "t" ADD COLUMN "y" INTEGER
rewrite writes t | ALTER TABLE "t" DROP COLUMN "y"
data writes t | INSERT INTO "new_t" ("id", "y") SELECT "id", "y" FROM "t"
index_build writes t | CREATE UNIQUE INDEX "t_y_key" ON "t"("y")
metadata writes - | CREATE TABLE "n" ("id" INTEGER NOT NULL PRIMARY KEY)
data writes t | DROP TABLE "t"
metadata nothing - | PRAGMA foreign_keys=OFF
"#;

    #[test]
    fn sqlite_statements() {
        check(Dialect::Sqlite, CASES);
    }
}
