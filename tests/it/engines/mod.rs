//! What the engine-level tests need to know of each engine, one module per engine behind
//! one trait: SQL that only has a spelling per dialect. Everything else (names, dialect,
//! capabilities) comes from safemig's provider descriptor through [`Kind`].

mod mysql;
mod postgres;
mod sqlite;

use crate::harness::Kind;

/// SQL in an engine's dialect, for the conformance suite.
pub trait EngineFixture: Sync {
    /// A statement that runs until it is cancelled, and then fails.
    fn endless_statement(&self) -> &'static str;

    /// Statements whose target this engine inspects (`Inspect::snapshot` answers `Some`),
    /// run after `CREATE TABLE conformance (a INTEGER)`.
    fn inspected_statements(&self) -> &'static [&'static str];
}

/// The one `match` over engines in the engine-level tests.
pub fn fixture(kind: Kind) -> &'static dyn EngineFixture {
    match kind {
        Kind::Postgres => &postgres::Postgres,
        Kind::Mysql => &mysql::Mysql,
        Kind::Sqlite => &sqlite::Sqlite,
    }
}
