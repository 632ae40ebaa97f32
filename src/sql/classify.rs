//! What kind of statement a statement is, as far as the executor must care.

use serde::Serialize;

use super::Dialect;

/// The classes that decide how a migration can be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// `BEGIN`, `START TRANSACTION`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, …: the file manages
    /// its own transactions, so it cannot be wrapped in ours.
    TransactionControl,
    /// Refused inside a transaction block by this dialect (`CREATE INDEX CONCURRENTLY`,
    /// `VACUUM`, `ALTER SYSTEM`, `CREATE DATABASE`, SQLite `ATTACH`, …).
    NoTransaction,
    /// SQLite `PRAGMA foreign_keys` / `defer_foreign_keys`: `foreign_keys` is silently
    /// ignored inside a transaction, which turns table rebuilds into cascading deletes.
    ForeignKeysPragma,
    /// A MySQL client directive (`DELIMITER`): never sent to the server.
    ClientDirective,
    /// Schema changes: `CREATE`, `ALTER`, `DROP`, `TRUNCATE`, `RENAME`, `COMMENT`, grants.
    Ddl,
    /// Data statements: `INSERT`, `UPDATE`, `DELETE`, `SELECT`, `WITH`, `COPY`, …
    Dml,
    /// Everything else: `SET`, `DO`, `CALL`, `PREPARE`/`EXECUTE`, other pragmas, blocks.
    Other,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::TransactionControl => "transaction_control",
            StatementKind::NoTransaction => "no_transaction",
            StatementKind::ForeignKeysPragma => "foreign_keys_pragma",
            StatementKind::ClientDirective => "client_directive",
            StatementKind::Ddl => "ddl",
            StatementKind::Dml => "dml",
            StatementKind::Other => "other",
        }
    }
}

/// Classifies a statement from its leading words (at parenthesis depth 0).
/// `compound` marks statements with a `BEGIN … END` body.
pub fn classify(dialect: Dialect, words: &[&str], compound: bool) -> StatementKind {
    let word = |i: usize| {
        words
            .get(i)
            .map(|w| w.to_ascii_uppercase())
            .unwrap_or_default()
    };
    let has = |w: &str| words.iter().any(|x| x.eq_ignore_ascii_case(w));
    let first = word(0);
    let second = word(1);
    let pg = dialect == Dialect::Postgres;
    let sqlite = dialect == Dialect::Sqlite;

    match first.as_str() {
        "BEGIN" if compound => StatementKind::Other,
        "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "XA" => {
            StatementKind::TransactionControl
        }
        "START" if second == "TRANSACTION" => StatementKind::TransactionControl,
        "END" | "ABORT" if pg || sqlite => StatementKind::TransactionControl,
        "PREPARE" if pg && second == "TRANSACTION" => StatementKind::TransactionControl,
        "VACUUM" if pg || sqlite => StatementKind::NoTransaction,
        "ATTACH" | "DETACH" if sqlite => StatementKind::NoTransaction,
        "PRAGMA" if sqlite => {
            if has("foreign_keys") || has("defer_foreign_keys") {
                StatementKind::ForeignKeysPragma
            } else if has("journal_mode") {
                StatementKind::NoTransaction
            } else {
                StatementKind::Other
            }
        }
        "ALTER" if pg && second == "SYSTEM" => StatementKind::NoTransaction,
        "CREATE" | "DROP"
            if pg && matches!(second.as_str(), "DATABASE" | "TABLESPACE" | "SUBSCRIPTION") =>
        {
            StatementKind::NoTransaction
        }
        "REINDEX" if pg && matches!(second.as_str(), "SYSTEM" | "DATABASE") => {
            StatementKind::NoTransaction
        }
        "CREATE" | "DROP" | "REINDEX" if pg && has("CONCURRENTLY") => StatementKind::NoTransaction,
        "CREATE" | "ALTER" | "DROP" | "TRUNCATE" | "RENAME" | "COMMENT" | "GRANT" | "REVOKE"
        | "REINDEX" => StatementKind::Ddl,
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "MERGE" | "SELECT" | "WITH" | "COPY"
        | "VALUES" | "TABLE" => StatementKind::Dml,
        _ => StatementKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    fn kind(sql: &str, dialect: Dialect) -> StatementKind {
        let stmts = split(sql, dialect);
        assert_eq!(stmts.len(), 1, "{sql}");
        stmts[0].kind
    }

    #[test]
    fn transaction_control() {
        for sql in [
            "BEGIN",
            "begin;",
            "COMMIT",
            "START TRANSACTION",
            "ROLLBACK",
            "SAVEPOINT a",
        ] {
            assert_eq!(
                kind(sql, Dialect::Postgres),
                StatementKind::TransactionControl,
                "{sql}"
            );
            assert_eq!(
                kind(sql, Dialect::Mysql),
                StatementKind::TransactionControl,
                "{sql}"
            );
        }
        assert_eq!(
            kind("END;", Dialect::Postgres),
            StatementKind::TransactionControl
        );
        assert_eq!(
            kind("BEGIN TRANSACTION;", Dialect::Sqlite),
            StatementKind::TransactionControl
        );
        assert_eq!(
            kind("BEGIN NOT ATOMIC SELECT 1; END", Dialect::Mysql),
            StatementKind::Other
        );
    }

    #[test]
    fn statements_postgres_refuses_in_a_transaction() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"i\" ON \"t\"(\"a\")",
            "DROP INDEX CONCURRENTLY i",
            "REINDEX INDEX CONCURRENTLY i",
            "VACUUM ANALYZE t",
            "ALTER SYSTEM SET work_mem = '1MB'",
            "CREATE DATABASE x",
            "DROP DATABASE x",
        ] {
            assert_eq!(
                kind(sql, Dialect::Postgres),
                StatementKind::NoTransaction,
                "{sql}"
            );
        }
        assert_eq!(
            kind("CREATE INDEX i ON t (a)", Dialect::Postgres),
            StatementKind::Ddl
        );
        // A column named `concurrently` is inside parentheses, not a keyword.
        assert_eq!(
            kind("CREATE TABLE t (concurrently int)", Dialect::Postgres),
            StatementKind::Ddl
        );
        assert_eq!(
            kind("CREATE DATABASE x", Dialect::Mysql),
            StatementKind::Ddl
        );
    }

    #[test]
    fn sqlite_pragmas() {
        assert_eq!(
            kind("PRAGMA foreign_keys=OFF", Dialect::Sqlite),
            StatementKind::ForeignKeysPragma
        );
        assert_eq!(
            kind("PRAGMA main.defer_foreign_keys = ON", Dialect::Sqlite),
            StatementKind::ForeignKeysPragma
        );
        assert_eq!(
            kind("PRAGMA foreign_key_check", Dialect::Sqlite),
            StatementKind::Other
        );
        assert_eq!(
            kind("PRAGMA journal_mode=WAL", Dialect::Sqlite),
            StatementKind::NoTransaction
        );
        assert_eq!(
            kind("VACUUM", Dialect::Sqlite),
            StatementKind::NoTransaction
        );
    }

    #[test]
    fn ddl_and_dml() {
        assert_eq!(
            kind("ALTER TABLE t ADD COLUMN a int", Dialect::Mysql),
            StatementKind::Ddl
        );
        assert_eq!(
            kind("INSERT INTO t SELECT * FROM u", Dialect::Sqlite),
            StatementKind::Dml
        );
        assert_eq!(
            kind("WITH x AS (SELECT 1) DELETE FROM t", Dialect::Postgres),
            StatementKind::Dml
        );
        assert_eq!(kind("SET @x = 1", Dialect::Mysql), StatementKind::Other);
        assert_eq!(
            kind("DO $$ BEGIN END $$", Dialect::Postgres),
            StatementKind::Other
        );
    }
}

/// How a statement moves the session in or out of a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEffect {
    /// `BEGIN`, `START TRANSACTION`.
    Opens,
    /// `COMMIT`, `END`, `ROLLBACK` (not `ROLLBACK TO`), `ABORT`, `PREPARE TRANSACTION`.
    Closes,
    None,
}

/// The first `n` words of a statement, upper-cased.
fn leading_words(sql: &str, dialect: Dialect, n: usize) -> Vec<String> {
    super::lexer::Lexer::new(sql, dialect)
        .filter(|t| t.kind == super::lexer::TokenKind::Word)
        .take(n)
        .map(|t| sql[t.start..t.end].to_ascii_uppercase())
        .collect()
}

impl super::Statement<'_> {
    pub fn tx_effect(&self, dialect: Dialect) -> TxEffect {
        if self.kind != StatementKind::TransactionControl {
            return TxEffect::None;
        }
        let words = leading_words(self.sql, dialect, 2);
        match (
            words.first().map(String::as_str),
            words.get(1).map(String::as_str),
        ) {
            (Some("BEGIN" | "START"), _) => TxEffect::Opens,
            (Some("ROLLBACK"), Some("TO")) => TxEffect::None,
            (Some("COMMIT" | "END" | "ROLLBACK" | "ABORT"), _) => TxEffect::Closes,
            (Some("PREPARE"), Some("TRANSACTION")) => TxEffect::Closes,
            _ => TxEffect::None,
        }
    }

    /// Statements that only set up the session (`SET`, `PREPARE`, `DEALLOCATE`, `USE`,
    /// SQLite pragmas): they change no data, must run outside safemig's own transactions
    /// (a pragma is ignored inside one), and are replayed on a new connection when a
    /// migration resumes, because later statements depend on them.
    pub fn is_session(&self, dialect: Dialect) -> bool {
        if matches!(self.kind, StatementKind::TransactionControl) {
            return false;
        }
        let words = leading_words(self.sql, dialect, 1);
        matches!(
            words.first().map(String::as_str),
            Some("SET" | "PREPARE" | "DEALLOCATE" | "USE" | "PRAGMA" | "RESET")
        )
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;
    use crate::sql::split;

    #[test]
    fn transaction_effects_and_session_statements() {
        let sql = "BEGIN; SAVEPOINT a; ROLLBACK TO a; COMMIT; SET @x := 1; PREPARE s FROM @x; CREATE TABLE t (a int)";
        let stmts = split(sql, Dialect::Mysql);
        let effects: Vec<_> = stmts.iter().map(|s| s.tx_effect(Dialect::Mysql)).collect();
        use TxEffect::*;
        assert_eq!(effects, [Opens, None, None, Closes, None, None, None]);
        let session: Vec<_> = stmts.iter().map(|s| s.is_session(Dialect::Mysql)).collect();
        assert_eq!(session, [false, false, false, false, true, true, false]);
        let pragma = &split("PRAGMA foreign_keys=OFF", Dialect::Sqlite)[0];
        assert!(pragma.is_session(Dialect::Sqlite));
    }
}
