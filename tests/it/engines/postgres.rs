use super::EngineFixture;

pub struct Postgres;

impl EngineFixture for Postgres {
    fn endless_statement(&self) -> &'static str {
        "SELECT pg_sleep(3600)"
    }

    fn inspected_statements(&self) -> &'static [&'static str] {
        // An index built CONCURRENTLY: an interrupted build leaves it invalid.
        &["CREATE INDEX CONCURRENTLY conformance_a ON conformance (a)"]
    }
}
