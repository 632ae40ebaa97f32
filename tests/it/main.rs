//! Integration tests against real PostgreSQL and MariaDB servers and SQLite files.
//! One binary (one link step) with a module per feature, sharing the server harness.

mod corpus_location;
mod harness;

mod check;
mod cli;
mod conformance;
mod corpus;
mod crash;
mod deploy;
mod docs;
mod drift;
mod drift_command;
mod drift_sql;
mod entrypoint;
mod errors;
mod fleet;
mod forecast;
mod install;
mod journeys;
mod layers;
mod layouts;
mod lock_safety;
mod locking;
mod long_statement;
mod npm;
mod output;
mod parity;
mod prisma;
mod recovery;
mod repair;
mod resolve;
mod rows;
mod serve;
mod snapshots;
mod split;
mod status;
mod supervisor;

/// Expands test functions taking a [`harness::Kind`] into one `#[test]` per engine:
/// `postgres::name`, `mysql::name`, `sqlite::name`.
macro_rules! for_each_engine {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::harness::Kind::Postgres) } )*
        }
        mod mysql {
            $( #[test] fn $name() { super::$name($crate::harness::Kind::Mysql) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::harness::Kind::Sqlite) } )*
        }
    };
}
pub(crate) use for_each_engine;

/// [`for_each_engine`] for what the real Prisma CLI can run here: PostgreSQL and SQLite.
macro_rules! for_each_engine_but_mysql {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::harness::Kind::Postgres) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::harness::Kind::Sqlite) } )*
        }
    };
}
pub(crate) use for_each_engine_but_mysql;
