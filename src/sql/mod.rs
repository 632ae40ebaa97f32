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
#[cfg(test)]
mod properties;
mod split;
mod target;

use serde::Serialize;

pub use classify::{StatementKind, TxEffect};
pub use split::{Statement, normalize, split, split_each};
pub use target::{Target, table_effects, target};

/// The SQL dialects safemig reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite];
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
