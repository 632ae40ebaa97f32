//! What a statement that cannot be made atomic with its journal write changes, so that after
//! a crash the live schema can say whether it ran.

use serde::{Deserialize, Serialize};

use super::words::Words;
use super::{Dialect, Statement, StatementKind};

/// The schema object(s) a statement changes, as far as resuming needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum Target {
    /// Tables whose definition the statement creates, alters, renames or drops.
    Tables(Vec<String>),
    /// A PostgreSQL index built or dropped `CONCURRENTLY`: an interrupted build leaves an
    /// invalid index behind.
    Index { name: String, create: bool },
    /// Anything in the current database (routines, triggers, dynamic SQL): compared whole.
    Database,
    /// Harmless to run twice (`VACUUM`, `TRUNCATE`, `ALTER SYSTEM`, pragmas): just re-run.
    Rerunnable,
    /// A transaction's `COMMIT`: its in-flight record only survives if it committed.
    Commit,
    /// Nothing safemig can inspect: a crash here needs a human.
    Unknown,
}

/// What `stmt` changes. Only meaningful for statements that are not atomic with the journal:
/// MySQL DDL and dynamic SQL, PostgreSQL and SQLite statements refused in a transaction,
/// and the `COMMIT` of a script's own transaction.
pub fn target(stmt: &Statement<'_>, dialect: Dialect) -> Target {
    let mut w = Words::new(stmt.sql, dialect);
    if stmt.kind == StatementKind::TransactionControl {
        return if w.is("COMMIT") || w.is("END") {
            Target::Commit
        } else {
            Target::Rerunnable
        };
    }
    match dialect {
        Dialect::Mysql => mysql_target(&mut w),
        Dialect::Postgres => postgres_target(&mut w),
        Dialect::Sqlite => {
            let rerunnable = ["VACUUM", "PRAGMA", "ATTACH", "DETACH", "ANALYZE", "REINDEX"];
            if rerunnable.iter().any(|k| w.is(k)) {
                Target::Rerunnable
            } else {
                Target::Unknown
            }
        }
    }
}

/// Which tables a table-level DDL statement leaves existing or gone, in order (a later
/// entry for the same table wins: `RENAME TABLE a TO t, b TO a`). Empty for statements
/// that create or drop no table. Resuming checks the live schema against it: a changed
/// target is proof that the statement ran only if it is in the state the statement
/// produces (an `ALTER TABLE` leaves its table present).
pub fn table_effects(stmt: &Statement<'_>, dialect: Dialect) -> Vec<(String, bool)> {
    let mut w = Words::new(stmt.sql, dialect);
    if w.eat("CREATE") {
        w.eat_all(&["OR", "REPLACE"]);
        if w.is("TEMPORARY") || w.is("TEMP") {
            return Vec::new();
        }
        if w.eat("TABLE") {
            w.eat_if_exists();
            return w.name().map(|t| vec![(t, true)]).unwrap_or_default();
        }
        w.eat_all(&["UNIQUE", "FULLTEXT", "SPATIAL"]);
        return index_table(&mut w).into_iter().map(|t| (t, true)).collect();
    }
    if w.eat("ALTER") {
        w.eat_all(&["ONLINE", "IGNORE"]);
        if !w.eat("TABLE") {
            return Vec::new();
        }
        w.eat_if_exists();
        let Some(table) = w.name() else {
            return Vec::new();
        };
        // `RENAME [TO|AS] new` renames the table; `RENAME COLUMN|INDEX|KEY` does not.
        while w.peek().is_some() {
            let rename = w.eat("RENAME");
            if !rename {
                w.pos += 1;
            } else if !(w.is("COLUMN") || w.is("INDEX") || w.is("KEY")) {
                w.eat_all(&["TO", "AS"]);
                if let Some(new) = w.name() {
                    return vec![(table, false), (new, true)];
                }
            }
        }
        return vec![(table, true)];
    }
    if w.eat("DROP") {
        if w.eat("TEMPORARY") {
            return Vec::new();
        }
        if w.eat("TABLE") || w.eat("TABLES") {
            w.eat_if_exists();
            return w.names().into_iter().map(|t| (t, false)).collect();
        }
        return index_table(&mut w).into_iter().map(|t| (t, true)).collect();
    }
    if w.eat("RENAME") && (w.eat("TABLE") || w.eat("TABLES")) {
        let mut effects = Vec::new();
        while let Some(from) = w.name() {
            if !w.eat("TO") {
                break;
            }
            let Some(to) = w.name() else { break };
            effects.push((from, false));
            effects.push((to, true));
            if !w.eat(",") {
                break;
            }
        }
        return effects;
    }
    Vec::new()
}

/// What a table-level DDL statement needs of its tables before it runs, in order: each
/// table that must exist (`true`: altered, indexed, dropped, renamed away) or must not yet
/// (`false`: created, renamed to). Empty where the statement asks nothing (`IF [NOT]
/// EXISTS`, `OR REPLACE`) or touches no table. A resume checks the statements still to run
/// against the live schema with it: a table one of them creates that already exists, or
/// one it alters that is gone, is a schema that is not where the journal says.
pub fn table_preconditions(stmt: &Statement<'_>, dialect: Dialect) -> Vec<(String, bool)> {
    let w = Words::new(stmt.sql, dialect);
    let head: Vec<&str> = w.words.iter().take(6).map(String::as_str).collect();
    let word =
        |i: usize, keyword: &str| head.get(i).is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    if (0..head.len()).any(|i| word(i, "IF") || word(i, "REPLACE")) {
        return Vec::new();
    }
    let creates_table = word(0, "CREATE") && word(1, "TABLE");
    let effects = table_effects(stmt, dialect);
    let needed: Vec<(String, bool)> = match effects.as_slice() {
        // Changed in place: an ALTER without a rename, an index built or dropped on it.
        [(table, true)] if !creates_table => vec![(table.clone(), true)],
        _ => effects
            .into_iter()
            .map(|(t, exists)| (t, !exists))
            .collect(),
    };
    // A table's first mention is what the statement needs of it (`RENAME TABLE a TO t, b
    // TO a` needs `a` present; that it is absent again midway is its own doing).
    let mut first: Vec<(String, bool)> = Vec::new();
    for (table, exists) in needed {
        if !first.iter().any(|(t, _)| *t == table) {
            first.push((table, exists));
        }
    }
    first
}

fn mysql_target(w: &mut Words) -> Target {
    let tables = |names: Vec<String>| {
        if names.is_empty() {
            Target::Database
        } else {
            Target::Tables(names)
        }
    };
    if w.eat("CREATE") {
        w.eat_all(&["OR", "REPLACE", "TEMPORARY"]);
        if w.eat("TABLE") {
            w.eat_if_exists();
            return tables(w.name().into_iter().collect());
        }
        w.eat_all(&["UNIQUE", "FULLTEXT", "SPATIAL"]);
        return tables(index_table(w));
    }
    if w.eat("ALTER") {
        w.eat_all(&["ONLINE", "IGNORE"]);
        if w.eat("TABLE") {
            w.eat_if_exists();
            return tables(w.name().into_iter().collect());
        }
        return Target::Database;
    }
    if w.eat("DROP") {
        w.eat("TEMPORARY");
        if w.eat("TABLE") || w.eat("TABLES") {
            w.eat_if_exists();
            return tables(w.names());
        }
        return tables(index_table(w));
    }
    if w.eat("RENAME") && w.eat("TABLE") {
        let mut names = Vec::new();
        while let Some(from) = w.name() {
            names.push(from);
            if w.eat("TO") {
                names.extend(w.name());
            }
            if !w.eat(",") {
                break;
            }
        }
        return tables(names);
    }
    if w.is("TRUNCATE") || w.is("ANALYZE") || w.is("OPTIMIZE") || w.is("DO") {
        return Target::Rerunnable;
    }
    Target::Database
}

/// The table of `INDEX [IF EXISTS] name ON table` (MySQL's CREATE and DROP INDEX); empty
/// when the statement is something else, which `tables` turns into `Target::Database`.
fn index_table(w: &mut Words) -> Vec<String> {
    if !w.eat("INDEX") {
        return Vec::new();
    }
    w.eat_if_exists();
    w.name();
    if w.eat("ON") {
        w.name().into_iter().collect()
    } else {
        Vec::new()
    }
}

fn postgres_target(w: &mut Words) -> Target {
    if w.is("VACUUM") || w.is("REINDEX") || w.is("CLUSTER") || w.is("ANALYZE") {
        return Target::Rerunnable;
    }
    if w.eat("ALTER") && w.is("SYSTEM") {
        return Target::Rerunnable;
    }
    let create = w.eat("CREATE");
    if create || w.eat("DROP") {
        w.eat("UNIQUE");
        if w.eat("INDEX") {
            w.eat("CONCURRENTLY");
            w.eat_if_exists();
            if let Some(name) = w.name().filter(|n| !n.eq_ignore_ascii_case("ON")) {
                return Target::Index { name, create };
            }
        }
    }
    Target::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    fn of(sql: &str, dialect: Dialect) -> Target {
        let stmts = split(sql, dialect);
        assert_eq!(stmts.len(), 1, "{sql}");
        target(&stmts[0], dialect)
    }

    fn tables(names: &[&str]) -> Target {
        Target::Tables(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn mysql_ddl_targets() {
        let m = Dialect::Mysql;
        assert_eq!(
            of("CREATE TABLE IF NOT EXISTS `guild ranks` (id int)", m),
            tables(&["guild ranks"])
        );
        assert_eq!(
            of("ALTER TABLE `db`.`Chat` ADD CONSTRAINT x UNIQUE (a)", m),
            tables(&["Chat"])
        );
        assert_eq!(of("DROP TABLE IF EXISTS a, `b`", m), tables(&["a", "b"]));
        assert_eq!(of("CREATE UNIQUE INDEX `i` ON `t`(`a`)", m), tables(&["t"]));
        assert_eq!(of("DROP INDEX `i` ON `t`", m), tables(&["t"]));
        assert_eq!(
            of("RENAME TABLE a TO b, c TO d", m),
            tables(&["a", "b", "c", "d"])
        );
        assert_eq!(
            of("CALL AddColumnIfNotExists('accounts', 'x', 'INT')", m),
            Target::Database
        );
        assert_eq!(
            of(
                "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END",
                m
            ),
            Target::Database
        );
        assert_eq!(of("EXECUTE stmt", m), Target::Database);
        assert_eq!(of("TRUNCATE TABLE t", m), Target::Rerunnable);
        assert_eq!(of("COMMIT", m), Target::Commit);
    }

    #[test]
    fn table_effects_say_what_exists_after() {
        let m = Dialect::Mysql;
        let effects = |sql: &str| {
            let stmts = split(sql, m);
            table_effects(&stmts[0], m)
        };
        let e = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
            pairs.iter().map(|(t, x)| (t.to_string(), *x)).collect()
        };
        assert_eq!(
            effects("CREATE TABLE IF NOT EXISTS `a` (id int)"),
            e(&[("a", true)])
        );
        assert_eq!(
            effects("ALTER TABLE `db`.`Session` ADD COLUMN x int, RENAME COLUMN y TO z"),
            e(&[("Session", true)])
        );
        assert_eq!(
            effects("ALTER TABLE a RENAME TO b"),
            e(&[("a", false), ("b", true)])
        );
        assert_eq!(
            effects("DROP TABLE IF EXISTS a, `b`"),
            e(&[("a", false), ("b", false)])
        );
        assert_eq!(
            effects("RENAME TABLE a TO t, b TO a"),
            e(&[("a", false), ("t", true), ("b", false), ("a", true)])
        );
        assert_eq!(effects("CREATE INDEX i ON t (a)"), e(&[("t", true)]));
        assert!(effects("CREATE TEMPORARY TABLE x (a int)").is_empty());
        assert!(effects("INSERT INTO t VALUES (1)").is_empty());
    }

    #[test]
    fn table_preconditions_say_what_must_exist_before() {
        let m = Dialect::Mysql;
        let needs = |sql: &str| {
            let stmts = split(sql, m);
            table_preconditions(&stmts[0], m)
        };
        let e = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
            pairs.iter().map(|(t, x)| (t.to_string(), *x)).collect()
        };
        assert_eq!(needs("CREATE TABLE `a` (id int)"), e(&[("a", false)]));
        assert!(needs("CREATE TABLE IF NOT EXISTS `a` (id int)").is_empty());
        assert!(needs("CREATE OR REPLACE TABLE `a` (id int)").is_empty());
        assert!(needs("DROP TABLE IF EXISTS a").is_empty());
        assert_eq!(
            needs("-- AlterTable\nALTER TABLE `Chat` ADD COLUMN `name` VARCHAR(100) NULL"),
            e(&[("Chat", true)])
        );
        assert_eq!(
            needs("CREATE UNIQUE INDEX `i` ON `Contact` (`a`)"),
            e(&[("Contact", true)])
        );
        assert_eq!(needs("DROP TABLE a, `b`"), e(&[("a", true), ("b", true)]));
        assert_eq!(
            needs("ALTER TABLE a RENAME TO b"),
            e(&[("a", true), ("b", false)])
        );
        assert_eq!(
            needs("RENAME TABLE a TO t, b TO a"),
            e(&[("a", true), ("t", false), ("b", true)])
        );
        assert!(needs("INSERT INTO t VALUES (1)").is_empty());
    }

    #[test]
    fn postgres_concurrent_indexes() {
        let p = Dialect::Postgres;
        assert_eq!(
            of(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"TaskRun_x_idx\" ON \"TaskRun\"(\"x\")",
                p
            ),
            Target::Index {
                name: "TaskRun_x_idx".into(),
                create: true
            }
        );
        assert_eq!(
            of("DROP INDEX CONCURRENTLY IF EXISTS public.\"old_idx\"", p),
            Target::Index {
                name: "old_idx".into(),
                create: false
            }
        );
        assert_eq!(of("VACUUM ANALYZE t", p), Target::Rerunnable);
        assert_eq!(of("CREATE DATABASE other", p), Target::Unknown);
        assert_eq!(of("END", p), Target::Commit);
    }

    #[test]
    fn sqlite_rerunnable() {
        assert_eq!(of("VACUUM", Dialect::Sqlite), Target::Rerunnable);
        assert_eq!(
            of("PRAGMA journal_mode=WAL", Dialect::Sqlite),
            Target::Rerunnable
        );
    }
}
