//! MySQL's and MariaDB's online DDL: which `ALGORITHM` and `LOCK` each change allows.

use super::super::words::Words;
use super::{
    Blocks, Effect, LockEffect, after, catalog_only, clauses, created, has, referenced, starts,
    unknown,
};

pub(super) fn lock_effect(w: &mut Words) -> LockEffect {
    let instant = |reason| LockEffect::new(Effect::Metadata, "NONE", Blocks::Nothing, reason);
    if w.eat("CREATE") {
        w.eat_all(&["OR", "REPLACE", "UNIQUE", "FULLTEXT", "SPATIAL"]);
        if w.eat("INDEX") {
            return LockEffect::new(
                Effect::IndexBuild,
                "NONE",
                Blocks::Nothing,
                "builds the index in place while writes go on (ALGORITHM=INPLACE, LOCK=NONE)",
            )
            .on(after(w, "ON"));
        }
        return created(w, "SHARED");
    }
    if w.eat_sequence(&["ALTER", "TABLE"])
        || w.eat_sequence(&["ALTER", "ONLINE", "TABLE"])
        || w.eat_sequence(&["ALTER", "IGNORE", "TABLE"])
    {
        let Some(table) = w.name() else {
            return unknown();
        };
        return clauses(w)
            .iter()
            .map(|c| mysql_clause(c, &table))
            .reduce(LockEffect::max)
            .unwrap_or_else(unknown);
    }
    if w.eat_sequence(&["DROP", "TABLE"]) || w.eat_sequence(&["DROP", "TABLES"]) {
        w.eat_if_exists();
        return LockEffect::new(
            Effect::Metadata,
            "EXCLUSIVE",
            Blocks::ReadsAndWrites,
            "drops the table; its queries wait for the metadata lock",
        )
        .on(w.names());
    }
    if w.is("DROP") || w.is("RENAME") {
        return instant("changes the catalog only");
    }
    if w.eat("TRUNCATE") {
        w.eat("TABLE");
        return LockEffect::new(
            Effect::Metadata,
            "EXCLUSIVE",
            Blocks::ReadsAndWrites,
            "recreates the table empty",
        )
        .on(w.name());
    }
    catalog_only(w)
}

/// One clause of a MySQL/MariaDB `ALTER TABLE table …`.
fn mysql_clause(c: &[String], table: &str) -> LockEffect {
    let on = |effect, mode, blocks, reason| {
        LockEffect::new(effect, mode, blocks, reason).on([table.to_string()])
    };
    let copy = |reason| on(Effect::Rewrite, "SHARED", Blocks::Writes, reason);
    if starts(c, &["ADD"]) {
        if has(c, "FOREIGN") {
            return copy(
                "copies the table to add a foreign key while foreign_key_checks is on \
                 (ALGORITHM=COPY); writes wait",
            )
            .on(referenced(c))
            .checking_foreign_key();
        }
        if has(c, "CHECK") {
            return copy("copies the table to check every row (ALGORITHM=COPY); writes wait");
        }
        if has(c, "PRIMARY") {
            return on(
                Effect::Rewrite,
                "NONE",
                Blocks::Nothing,
                "rebuilds the table in place while writes go on",
            );
        }
        if has(c, "INDEX") || has(c, "KEY") || has(c, "UNIQUE") {
            let blocks = if has(c, "FULLTEXT") || has(c, "SPATIAL") {
                Blocks::Writes
            } else {
                Blocks::Nothing
            };
            let mode = if blocks == Blocks::Nothing {
                "NONE"
            } else {
                "SHARED"
            };
            return on(
                Effect::IndexBuild,
                mode,
                blocks,
                "builds the index in place",
            );
        }
        if has(c, "AUTO_INCREMENT") || has(c, "STORED") {
            return copy("the new column's value differs per row: the table is copied");
        }
        return on(
            Effect::Metadata,
            "NONE",
            Blocks::Nothing,
            "adds the column instantly (ALGORITHM=INSTANT: MySQL 8.0.29+, MariaDB 10.4+)",
        );
    }
    if starts(c, &["MODIFY"]) || starts(c, &["CHANGE"]) {
        return copy(
            "a changed column definition copies the table (ALGORITHM=COPY) unless only \
             its name or default changes; writes wait",
        );
    }
    if starts(c, &["CONVERT"]) || starts(c, &["ENGINE"]) || starts(c, &["ROW_FORMAT"]) {
        return copy("copies the table");
    }
    if starts(c, &["DROP", "PRIMARY"]) {
        return copy("rebuilds the table without its primary key");
    }
    if starts(c, &["DROP"]) || starts(c, &["RENAME"]) || starts(c, &["ALTER"]) {
        return on(
            Effect::Metadata,
            "NONE",
            Blocks::Nothing,
            "changes the catalog only (ALGORITHM=INSTANT)",
        );
    }
    unknown().on([table.to_string()])
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use crate::sql::Dialect;

    /// effect, what it blocks, the tables sized | the statement
    const CASES: &str = r#"
metadata nothing t | ALTER TABLE `t` ADD COLUMN `y` INTEGER NULL
rewrite writes t,u | ALTER TABLE `t` ADD CONSTRAINT `t_u_fkey` FOREIGN KEY (`u`) REFERENCES `u`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE
rewrite writes t | ALTER TABLE `t` MODIFY `y` BIGINT NOT NULL
index_build nothing t | CREATE INDEX `t_y_idx` ON `t`(`y`)
index_build nothing t | ALTER TABLE `t` ADD UNIQUE INDEX `t_y_key`(`y`)
metadata nothing t | ALTER TABLE `t` DROP COLUMN `y`, RENAME COLUMN `a` TO `b`
metadata reads_and_writes t | DROP TABLE `t`
data nothing t | UPDATE `t` SET `y` = 0
"#;

    #[test]
    fn mysql_statements() {
        check(Dialect::Mysql, CASES);
    }
}
