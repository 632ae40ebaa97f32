//! `safemig split`: a SQL file cut into statements exactly as deploy cuts it, to see why a
//! migration runs the way it does.

use crate::error::ConfigError;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::migrations::MigrationsDir;
use crate::provider::Provider;
use crate::sql::{self, Dialect, Statement};

/// A SQL file and the dialect it is read in.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub dialect: Dialect,
    pub text: String,
}

impl Script {
    /// Reads `file` (UTF-8, as deploy needs it). Without a `dialect`, it is the provider of
    /// the `migration_lock.toml` of the migrations folder holding the file, as deploy would
    /// read it.
    pub fn read(file: &Path, dialect: Option<Dialect>) -> Result<Script, Error> {
        let text = crate::files::read_text(file, crate::files::SCRIPT_LIMIT)?;
        let dialect = match dialect {
            Some(dialect) => dialect,
            None => dialect_of_folder(file)?,
        };
        Ok(Script {
            path: file.to_path_buf(),
            dialect,
            text,
        })
    }

    /// The statements, in order.
    pub fn statements(&self) -> Vec<Statement<'_>> {
        sql::split(&self.text, self.dialect)
    }
}

/// The dialect a `--dialect` value names: a provider as Prisma names it, or `mariadb`.
pub fn dialect_named(name: &str) -> Result<Dialect, String> {
    Provider::from_lock_name(name)
        .or_else(|| (name == "mariadb").then_some(Provider::Mysql))
        .map(Provider::dialect)
        .ok_or_else(|| format!("`{name}` is not one of postgresql, mysql, sqlite"))
}

/// The dialect named by the `migration_lock.toml` of the migrations folder holding `file`
/// (`FOLDER/NAME/migration.sql`).
fn dialect_of_folder(file: &Path) -> Result<Dialect, Error> {
    let folder = file
        .parent()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let lock = MigrationsDir::load(folder)
        .ok()
        .and_then(|dir| dir.lock)
        .ok_or_else(|| {
            Error::Config(ConfigError::DialectUnknown {
                file: file.to_path_buf(),
            })
        })?;
    Provider::from_lock_name(&lock.provider)
        .map(Provider::dialect)
        .ok_or(Error::Config(ConfigError::UnsupportedProvider {
            path: lock.path,
            provider: lock.provider,
        }))
}
