use super::EngineFixture;

pub struct Mysql;

impl EngineFixture for Mysql {
    fn endless_statement(&self) -> &'static str {
        // Not SLEEP() or BENCHMARK(): killed, they return a value instead of failing; nor
        // a recursive CTE, which MariaDB stops after 1,000 rounds. Billions of rows do.
        "SELECT COUNT(*) FROM information_schema.COLLATIONS a, information_schema.COLLATIONS b, \
         information_schema.COLLATIONS c, information_schema.COLLATIONS d"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // DDL commits implicitly, so each table's definition is what tells.
        &[
            "ALTER TABLE conformance ADD COLUMN b INTEGER",
            "CREATE INDEX conformance_a ON conformance (a)",
        ]
    }
}
