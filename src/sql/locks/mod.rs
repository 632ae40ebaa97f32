//! What a statement does to the tables it touches while it runs, read from its text: the
//! work it does (a catalog change, a scan, a copy of the table, an index build, rows
//! written) and the lock it holds meanwhile, per engine, as the servers document them:
//! PostgreSQL's "Explicit Locking" and `ALTER TABLE` pages (an `ADD COLUMN` with a
//! non-volatile default is catalog-only since PostgreSQL 11), MySQL 8.0's and MariaDB's
//! online DDL tables (`ALGORITHM=INSTANT` column adds and drops since MySQL 8.0.29 and
//! MariaDB 10.4; a foreign key added with `foreign_key_checks` on copies the table), and
//! SQLite's single writer. `forecast` sizes the work with the live tables' statistics.
//!
//! Where the text does not settle it (a type change that may be binary-compatible), the
//! more expensive reading is taken and the reason says so: a forecast that is too high
//! sends a migration out of the start-up path, one that is too low lets it be killed.

use serde::Serialize;

mod mysql;
mod postgres;
mod sqlite;

use super::words::Words;
use super::{Dialect, Statement, StatementKind};

/// The work a statement does, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The catalog only: as fast on a large table as on an empty one.
    Metadata,
    /// Rows written by DML (`UPDATE`, `DELETE`, `INSERT … SELECT`).
    Data,
    /// Reads the whole table under its lock (`SET NOT NULL`, validating a constraint).
    Scan,
    /// Builds an index over the whole table.
    IndexBuild,
    /// Copies the table (and rebuilds its indexes).
    Rewrite,
    /// Nothing in the text says (dynamic SQL, a routine call).
    Unknown,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Metadata => "metadata",
            Effect::Data => "data",
            Effect::Scan => "scan",
            Effect::IndexBuild => "index_build",
            Effect::Rewrite => "rewrite",
            Effect::Unknown => "unknown",
        }
    }
}

/// What the app's queries on the locked tables must wait for while the statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    Nothing,
    Writes,
    ReadsAndWrites,
}

/// A statement's effect and lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockEffect {
    pub effect: Effect,
    /// The lock, in the engine's own words: PostgreSQL's lock mode, MySQL's `LOCK=`
    /// level, SQLite's database write lock; `none` for statements that lock no table.
    pub mode: &'static str,
    pub blocks: Blocks,
    /// The existing tables whose size decides the duration (for `INSERT … SELECT`, the
    /// table read), the locked table first.
    pub tables: Vec<String>,
    pub reason: &'static str,
    /// Whether each row is checked against a referenced table (a foreign key added):
    /// an index lookup per row on top of the scan or copy.
    pub checks_foreign_key: bool,
    /// Functions called once per row (a new column's volatile default), whose own cost
    /// adds to the rewrite's: `gen_random_uuid()` doubles a narrow table's.
    pub per_row_calls: Vec<&'static str>,
}

impl LockEffect {
    fn new(effect: Effect, mode: &'static str, blocks: Blocks, reason: &'static str) -> Self {
        LockEffect {
            effect,
            mode,
            blocks,
            tables: Vec::new(),
            reason,
            checks_foreign_key: false,
            per_row_calls: Vec::new(),
        }
    }

    fn checking_foreign_key(mut self) -> Self {
        self.checks_foreign_key = true;
        self
    }

    fn on(mut self, tables: impl IntoIterator<Item = String>) -> Self {
        self.tables.extend(tables);
        self
    }

    /// The costlier of two clauses of one statement, keeping both's tables.
    fn max(self, other: LockEffect) -> LockEffect {
        let (mut worse, better) = if (other.effect, other.blocks) > (self.effect, self.blocks) {
            (other, self)
        } else {
            (self, other)
        };
        worse.blocks = worse.blocks.max(better.blocks);
        worse.checks_foreign_key |= better.checks_foreign_key;
        worse.per_row_calls.extend(better.per_row_calls);
        for table in better.tables {
            if !worse.tables.contains(&table) {
                worse.tables.push(table);
            }
        }
        worse
    }
}

/// What `stmt` does to the tables it touches while it runs, on `dialect`'s server.
pub fn lock_effect(stmt: &Statement<'_>, dialect: Dialect) -> LockEffect {
    if matches!(
        stmt.kind,
        StatementKind::TransactionControl
            | StatementKind::ClientDirective
            | StatementKind::ForeignKeysPragma
    ) {
        return LockEffect::new(Effect::Metadata, "none", Blocks::Nothing, "no table");
    }
    let mut w = Words::new(stmt.sql, dialect);
    if stmt.kind == StatementKind::Dml {
        return data(&mut w, dialect);
    }
    match dialect {
        Dialect::Postgres => postgres::lock_effect(&mut w),
        Dialect::Mysql => mysql::lock_effect(&mut w),
        Dialect::Sqlite => sqlite::lock_effect(&mut w),
    }
}

/// The write lock each engine takes for DML: rows, not tables (SQLite: the database).
fn data(w: &mut Words, dialect: Dialect) -> LockEffect {
    let (mode, blocks) = match dialect {
        Dialect::Postgres => ("ROW EXCLUSIVE", Blocks::Nothing),
        Dialect::Mysql => ("row locks", Blocks::Nothing),
        Dialect::Sqlite => ("database write lock", Blocks::Writes),
    };
    let written = if w.eat("INSERT") || w.eat("REPLACE") {
        w.eat_all(&["IGNORE", "INTO"]);
        w.name()
    } else if w.eat("UPDATE") {
        w.eat_all(&["ONLY", "IGNORE", "LOW_PRIORITY"]);
        w.name()
    } else if w.eat("DELETE") {
        w.eat_all(&["FROM", "ONLY", "IGNORE", "LOW_PRIORITY", "QUICK"]);
        w.name()
    } else if w.is("SELECT") {
        return LockEffect::new(Effect::Metadata, "none", Blocks::Nothing, "a query");
    } else {
        return unknown();
    };
    // `INSERT … SELECT … FROM t`: the work is t's rows (SQLite's table redefinitions).
    let read = after(w, "FROM");
    let (tables, reason) = match read {
        Some(read) if has(&w.words, "SELECT") => {
            (vec![read], "copies the rows of the table it selects from")
        }
        _ if has(&w.words, "VALUES") => (Vec::new(), "inserts the rows listed in the statement"),
        _ => (written.into_iter().collect(), "writes rows of the table"),
    };
    LockEffect::new(Effect::Data, mode, blocks, reason).on(tables)
}

/// The (possibly qualified) name after the first `keyword` in `words`.
fn name_after(words: &[String], keyword: &str) -> Option<String> {
    let at = words.iter().position(|x| x.eq_ignore_ascii_case(keyword))?;
    let mut rest = Words {
        words: words[at + 1..].to_vec(),
        pos: 0,
    };
    rest.name()
}

/// The name after the first `keyword` from the cursor on, unless a parenthesis follows it.
fn after(w: &Words, keyword: &str) -> Option<String> {
    name_after(&w.words[w.pos..], keyword).filter(|name| name != "(")
}

/// The clauses of an `ALTER TABLE` after its name, split at the commas outside
/// parentheses.
fn clauses(w: &Words) -> Vec<Vec<String>> {
    let mut clauses = vec![Vec::new()];
    let mut depth = 0usize;
    for word in &w.words[w.pos..] {
        match word.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            "," if depth == 0 => {
                clauses.push(Vec::new());
                continue;
            }
            _ => {}
        }
        clauses.last_mut().unwrap().push(word.clone());
    }
    clauses.retain(|c| !c.is_empty());
    clauses
}

/// Whether `clause` holds `keyword` (case-insensitive).
fn has(clause: &[String], keyword: &str) -> bool {
    clause.iter().any(|w| w.eq_ignore_ascii_case(keyword))
}

fn starts(clause: &[String], keywords: &[&str]) -> bool {
    clause.len() >= keywords.len()
        && keywords
            .iter()
            .zip(clause)
            .all(|(k, w)| w.eq_ignore_ascii_case(k))
}

/// The table named after `REFERENCES` in `clause`.
fn referenced(clause: &[String]) -> Option<String> {
    name_after(clause, "REFERENCES")
}

/// `CREATE TABLE|VIEW|TYPE|…`: a new object; a table's foreign keys lock the tables they
/// reference with `references_mode` for the moment of the catalog change.
fn created(w: &mut Words, references_mode: &'static str) -> LockEffect {
    let references: Vec<String> = {
        let all = clauses(w);
        all.iter().filter_map(|c| referenced(c)).collect()
    };
    if references.is_empty() {
        return LockEffect::new(
            Effect::Metadata,
            "none",
            Blocks::Nothing,
            "creates a new object",
        );
    }
    LockEffect::new(
        Effect::Metadata,
        references_mode,
        Blocks::Writes,
        "creates a table whose foreign keys lock the tables they reference for a moment",
    )
    .on(references)
}

/// Everything else that changes only the catalog (types, enums, views, routines,
/// sequences, comments, grants, settings), or `unknown`.
fn catalog_only(w: &mut Words) -> LockEffect {
    const CATALOG: [&str; 7] = [
        "DROP", "ALTER", "COMMENT", "GRANT", "REVOKE", "SET", "PRAGMA",
    ];
    if CATALOG.iter().any(|k| w.is(k)) {
        return LockEffect::new(
            Effect::Metadata,
            "none",
            Blocks::Nothing,
            "changes the catalog only",
        );
    }
    unknown()
}

fn unknown() -> LockEffect {
    LockEffect::new(
        Effect::Unknown,
        "unknown",
        Blocks::ReadsAndWrites,
        "its effect cannot be told from the text",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    /// Checks `cases`, one per line: `effect blocks table,table | statement` (`-`: no
    /// table), as the JSON names effects and blocks.
    pub(super) fn check(dialect: Dialect, cases: &str) {
        let cases: Vec<&str> = cases.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!cases.is_empty());
        for case in cases {
            let (expected, sql) = case.split_once(" | ").expect("`expected | statement`");
            let statements = split(sql, dialect);
            assert_eq!(statements.len(), 1, "{sql}");
            let found = lock_effect(&statements[0], dialect);
            let blocks = serde_json::to_value(found.blocks).unwrap();
            let tables = if found.tables.is_empty() {
                "-".to_string()
            } else {
                found.tables.join(",")
            };
            let found = format!(
                "{} {} {tables}",
                found.effect.as_str(),
                blocks.as_str().unwrap()
            );
            assert_eq!(found, expected, "{sql}");
        }
    }
}
