//! safemig: crash-safe Prisma Migrate for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! The library holds everything; the `safemig` binary only parses arguments and prints.
//! Start at [`deploy`], [`status`] and [`resolve`]; [`engine`] holds the per-database code.

pub mod advice;
pub mod cache;
pub mod check;
pub mod checksum;
pub mod config;
pub mod context;
pub mod database_url;
pub mod deploy;
pub mod diagnosis;
pub mod drift;
pub mod drill;
pub mod engine;
pub mod environment;
pub mod error;
pub mod exit_code;
pub mod failpoint;
pub mod files;
pub mod fleet;
pub mod forecast;
pub mod history;
pub mod interrupt;
pub mod journal;
pub mod lint;
pub mod lock;
pub mod lock_wait;
pub mod migrations;
pub mod provider;
pub mod redact;
pub mod repair;
pub mod resolve;
pub mod schema;
pub mod serve;
pub mod split;
pub mod sql;
pub mod status;
pub mod supervisor;
pub mod text;

pub use error::{Error, ExitCode};
