//! Dialect-aware reading of migration scripts: where statements begin and end, and what
//! each one is. The executor relies on this to decide whether a migration can run inside
//! one transaction together with its history row.

mod classify;
#[cfg(test)]
mod corpus_examples;
#[cfg(test)]
#[path = "../../tests/it/corpus_location.rs"]
mod corpus_location;
mod lexer;
mod locks;
#[cfg(test)]
mod properties;
mod rename;
mod split;
mod target;
mod words;

use serde::Serialize;

pub use classify::{StatementKind, TxEffect};
pub(crate) use lexer::{Lexer, Token, TokenKind};
pub use locks::{Blocks, Effect, LockEffect, lock_effect};
pub use rename::{Rename, Renamed, renames};
pub use split::{Statement, normalize, split, split_each};
pub use target::{Target, table_effects, table_preconditions, target};

/// `script` with each comment replaced by a space, as the server reads it (quoting and
/// nesting by the lexer that splits statements). MySQL's `/*! … */` is code, and stays.
pub fn without_comments(script: &str, dialect: Dialect) -> String {
    let mut code = String::with_capacity(script.len());
    for token in Lexer::new(script, dialect) {
        match token.kind {
            TokenKind::LineComment | TokenKind::BlockComment => code.push(' '),
            _ => code.push_str(&script[token.start..token.end]),
        }
    }
    code
}

/// The SQL dialects safemig reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

/// What the lexer must know about a dialect, one question each (as sqlparser's
/// `Dialect::supports_*`): every match is exhaustive, so a new dialect answers them all.
impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite];

    /// `/* a /* b */ c */` is one comment (PostgreSQL), not a comment followed by `c */`.
    pub fn nests_block_comments(self) -> bool {
        match self {
            Dialect::Postgres => true,
            Dialect::Mysql | Dialect::Sqlite => false,
        }
    }

    /// `$` continues an unquoted identifier; in SQLite it starts a parameter (`$name`).
    pub fn dollar_in_identifiers(self) -> bool {
        match self {
            Dialect::Postgres | Dialect::Mysql => true,
            Dialect::Sqlite => false,
        }
    }

    /// `$$ … $$` and `$tag$ … $tag$` are string literals.
    pub fn dollar_quoted_strings(self) -> bool {
        match self {
            Dialect::Postgres => true,
            Dialect::Mysql | Dialect::Sqlite => false,
        }
    }

    /// `/*! … */` and `/*M! … */` are executable comments (MySQL, MariaDB).
    pub fn conditional_comments(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// A backslash escapes the next character in a plain `'…'` string (MySQL's default
    /// `sql_mode`); elsewhere only a doubled quote does.
    pub fn backslash_escapes(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// `"…"` is a string literal (MySQL without `ANSI_QUOTES`), not a quoted identifier.
    pub fn double_quoted_strings(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// `` `name` `` quotes an identifier.
    pub fn backtick_identifiers(self) -> bool {
        match self {
            Dialect::Mysql | Dialect::Sqlite => true,
            Dialect::Postgres => false,
        }
    }

    /// `[name]` quotes an identifier (SQLite, for SQL Server compatibility).
    pub fn bracket_identifiers(self) -> bool {
        match self {
            Dialect::Sqlite => true,
            Dialect::Postgres | Dialect::Mysql => false,
        }
    }

    /// `--` starts a comment only when whitespace, a control character or the end of input
    /// follows (MySQL: `1--1` is arithmetic).
    pub fn dash_comments_need_space(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// `DELIMITER //` is a client directive that changes the statement terminator (the
    /// `mysql` client's, which migration files written for it use).
    pub fn delimiter_directive(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// `#` starts a line comment.
    pub fn hash_comments(self) -> bool {
        match self {
            Dialect::Mysql => true,
            Dialect::Postgres | Dialect::Sqlite => false,
        }
    }

    /// A string prefix (`E`, `N`, `X`, `B`, MySQL's `_utf8mb4` …) directly before a quote:
    /// whether the string that follows takes backslash escapes, `None` when `word` is not a
    /// prefix in this dialect.
    pub fn string_prefix_escapes(self, word: &[u8]) -> Option<bool> {
        let letter = |set: &[u8]| word.len() == 1 && set.contains(&(word[0] | 0x20));
        match self {
            Dialect::Postgres if letter(b"e") => Some(true),
            Dialect::Postgres => letter(b"nxb").then_some(false),
            Dialect::Mysql => (word.first() == Some(&b'_') || letter(b"nxb")).then_some(true),
            Dialect::Sqlite => letter(b"x").then_some(false),
        }
    }
}

/// The statements a script sends to the server: all but client directives (`DELIMITER`).
pub fn executable_statements(script: &str, dialect: Dialect) -> Vec<Statement<'_>> {
    split(script, dialect)
        .into_iter()
        .filter(|s| s.kind != StatementKind::ClientDirective)
        .collect()
}

/// What a whole script asks of the executor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptProfile {
    pub statements: usize,
    /// The script begins or ends transactions itself.
    pub transaction_control: bool,
    /// The script holds a statement this dialect refuses inside a transaction.
    pub no_transaction: bool,
    /// The script toggles SQLite's foreign key enforcement.
    pub foreign_keys_pragma: bool,
}

impl ScriptProfile {
    pub fn of(script: &str, dialect: Dialect) -> Self {
        let mut profile = ScriptProfile::default();
        split_each(script, dialect, |stmt| {
            profile.statements += 1;
            match stmt.kind {
                StatementKind::TransactionControl => profile.transaction_control = true,
                StatementKind::NoTransaction => profile.no_transaction = true,
                StatementKind::ForeignKeysPragma => profile.foreign_keys_pragma = true,
                _ => {}
            }
        });
        profile
    }

    /// Whether the script can be wrapped, whole, in one transaction.
    pub fn fits_in_transaction(&self) -> bool {
        !self.transaction_control && !self.no_transaction
    }
}
