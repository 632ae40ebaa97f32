//! The database families safemig speaks to, named as Prisma names them, and the one place
//! that knows each of them: its [`Descriptor`]. The URL parser, the splitter's dialect,
//! messages, the engines' capabilities and the test harness all read it from here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sql::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    #[serde(rename = "postgresql")]
    Postgres,
    /// MySQL and MariaDB.
    #[serde(rename = "mysql")]
    Mysql,
    #[serde(rename = "sqlite")]
    Sqlite,
}

/// Everything safemig knows about a provider that is not code.
#[derive(Debug)]
pub struct Descriptor {
    /// The name `migration_lock.toml` and the schema's `provider` use.
    pub lock_name: &'static str,
    /// Further names Prisma accepts there.
    pub lock_aliases: &'static [&'static str],
    /// The URL schemes of a server database (`scheme://…`); empty for SQLite, whose URLs
    /// are `file:` paths.
    pub url_schemes: &'static [&'static str],
    /// How messages name the family.
    pub display_name: &'static str,
    /// What messages call one database of this provider.
    pub database_noun: &'static str,
    pub dialect: Dialect,
    /// The port a server URL without one means.
    pub default_port: u16,
    pub capabilities: Capabilities,
}

/// What an engine can do, as data rather than methods, so that an algorithm asks one
/// question in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether DDL runs inside a transaction that rolls back as a whole (MySQL commits
    /// each DDL statement implicitly).
    pub transactional_ddl: bool,
    /// How Prisma's migration lock is taken.
    pub lock: LockKind,
    /// Whether a database holds schemas that the URL selects (`?schema=`, default
    /// `public`), with the history table in the selected one.
    pub schemas: bool,
    /// Whether `deploy` creates a missing database (the SQLite file) rather than refusing.
    pub creates_database: bool,
}

/// The kinds of migration lock Prisma takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// A session-level advisory lock, per database (PostgreSQL's `pg_advisory_lock`).
    Advisory,
    /// A named lock, per server (MySQL's `GET_LOCK`).
    Named,
    /// An exclusive lock on the database file (SQLite).
    File,
}

const POSTGRES: Descriptor = Descriptor {
    lock_name: "postgresql",
    lock_aliases: &["postgres"],
    url_schemes: &["postgresql", "postgres"],
    display_name: "PostgreSQL",
    database_noun: "PostgreSQL database",
    dialect: Dialect::Postgres,
    default_port: 5432,
    capabilities: Capabilities {
        transactional_ddl: true,
        lock: LockKind::Advisory,
        schemas: true,
        creates_database: false,
    },
};

const MYSQL: Descriptor = Descriptor {
    lock_name: "mysql",
    lock_aliases: &[],
    url_schemes: &["mysql", "mariadb"],
    display_name: "MySQL/MariaDB",
    database_noun: "MySQL database",
    dialect: Dialect::Mysql,
    default_port: 3306,
    capabilities: Capabilities {
        transactional_ddl: false,
        lock: LockKind::Named,
        schemas: false,
        creates_database: false,
    },
};

const SQLITE: Descriptor = Descriptor {
    lock_name: "sqlite",
    lock_aliases: &[],
    url_schemes: &[],
    display_name: "SQLite",
    database_noun: "SQLite database",
    dialect: Dialect::Sqlite,
    default_port: 0,
    capabilities: Capabilities {
        transactional_ddl: true,
        lock: LockKind::File,
        schemas: false,
        creates_database: true,
    },
};

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Postgres, Provider::Mysql, Provider::Sqlite];

    /// The one `match` that knows each provider.
    pub fn descriptor(self) -> &'static Descriptor {
        match self {
            Provider::Postgres => &POSTGRES,
            Provider::Mysql => &MYSQL,
            Provider::Sqlite => &SQLITE,
        }
    }

    /// The name `migration_lock.toml` uses.
    pub fn lock_name(self) -> &'static str {
        self.descriptor().lock_name
    }

    pub fn dialect(self) -> Dialect {
        self.descriptor().dialect
    }

    /// The port a server URL without one means.
    pub fn default_port(self) -> u16 {
        self.descriptor().default_port
    }

    /// What messages call a database of this provider.
    pub fn database_noun(self) -> &'static str {
        self.descriptor().database_noun
    }

    pub fn capabilities(self) -> Capabilities {
        self.descriptor().capabilities
    }

    /// Whether a database holds schemas that the URL selects.
    pub fn has_schemas(self) -> bool {
        self.capabilities().schemas
    }

    /// Whether `deploy` creates a missing database (the SQLite file) rather than refusing.
    pub fn deploy_creates_database(self) -> bool {
        self.capabilities().creates_database
    }

    /// Parses a `provider` value from `migration_lock.toml` or `schema.prisma`.
    pub fn from_lock_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| {
            let d = p.descriptor();
            d.lock_name == name || d.lock_aliases.contains(&name)
        })
    }

    /// The server provider a URL scheme (`postgresql`, `mariadb`, …) names.
    pub fn from_url_scheme(scheme: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|p| p.descriptor().url_schemes.contains(&scheme))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.descriptor().display_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_descriptor() {
        for provider in Provider::ALL {
            let d = provider.descriptor();
            assert_eq!(Provider::from_lock_name(d.lock_name), Some(provider));
            for alias in d.lock_aliases {
                assert_eq!(Provider::from_lock_name(alias), Some(provider));
            }
            for scheme in d.url_schemes {
                assert_eq!(Provider::from_url_scheme(scheme), Some(provider));
            }
            assert_eq!(d.dialect, provider.dialect());
        }
        assert_eq!(Provider::from_lock_name("sqlserver"), None);
        assert_eq!(Provider::from_url_scheme("file"), None);
    }
}
