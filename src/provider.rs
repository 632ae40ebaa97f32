//! The database families safemig speaks to, named as Prisma names them.

use std::fmt;

use serde::Serialize;

use crate::sql::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Provider {
    #[serde(rename = "postgresql")]
    Postgres,
    /// MySQL and MariaDB.
    #[serde(rename = "mysql")]
    Mysql,
    #[serde(rename = "sqlite")]
    Sqlite,
}

impl Provider {
    /// The name `migration_lock.toml` uses.
    pub fn lock_name(self) -> &'static str {
        match self {
            Provider::Postgres => "postgresql",
            Provider::Mysql => "mysql",
            Provider::Sqlite => "sqlite",
        }
    }

    pub fn dialect(self) -> Dialect {
        match self {
            Provider::Postgres => Dialect::Postgres,
            Provider::Mysql => Dialect::Mysql,
            Provider::Sqlite => Dialect::Sqlite,
        }
    }

    /// The port a server URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Provider::Postgres => 5432,
            Provider::Mysql => 3306,
            Provider::Sqlite => 0,
        }
    }

    /// What messages call a database of this provider.
    pub fn database_noun(self) -> &'static str {
        match self {
            Provider::Postgres => "PostgreSQL database",
            Provider::Mysql => "MySQL database",
            Provider::Sqlite => "SQLite database",
        }
    }

    /// Whether a database holds schemas that the URL selects (`?schema=`, default
    /// `public`), with the history table in the selected one.
    pub fn has_schemas(self) -> bool {
        self == Provider::Postgres
    }

    /// Whether `deploy` creates a missing database (the SQLite file) rather than refusing.
    pub fn deploy_creates_database(self) -> bool {
        self == Provider::Sqlite
    }

    /// Parses a `provider` value from `migration_lock.toml` or `schema.prisma`.
    /// `Err` carries the name when Prisma knows it but safemig does not support it.
    pub fn from_lock_name(name: &str) -> Option<Provider> {
        match name {
            "postgresql" | "postgres" => Some(Provider::Postgres),
            "mysql" => Some(Provider::Mysql),
            "sqlite" => Some(Provider::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Postgres => "PostgreSQL",
            Provider::Mysql => "MySQL/MariaDB",
            Provider::Sqlite => "SQLite",
        })
    }
}
