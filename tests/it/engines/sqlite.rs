use super::EngineFixture;

pub struct Sqlite;

impl EngineFixture for Sqlite {
    fn endless_statement(&self) -> &'static str {
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // Every migration runs in one transaction with its history row: nothing is left
        // half-done to inspect.
        &[]
    }
}
