//! The migrations folder: which migrations exist locally, in which order, with which script.

use std::fs;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::checksum::checksum;
use crate::files;
use crate::provider::Provider;

/// A migration folder on disk.
#[derive(Debug, Clone)]
pub struct LocalMigration {
    /// The folder name, which is also the `migration_name` in the history.
    pub name: String,
    pub script_path: PathBuf,
    pub script: String,
    /// Prisma's checksum of `script`.
    pub checksum: String,
}

/// `migration_lock.toml`: the provider the migrations were generated for.
#[derive(Debug, Clone)]
pub struct LockFile {
    pub path: PathBuf,
    pub provider: String,
}

/// A loaded migrations folder, migrations in Prisma's order.
#[derive(Debug, Clone)]
pub struct MigrationsDir {
    pub path: PathBuf,
    pub lock: Option<LockFile>,
    pub migrations: Vec<LocalMigration>,
}

impl MigrationsDir {
    /// Reads every migration as Prisma does: each subdirectory is a migration (symbolic links
    /// are not followed), ordered by name, and must hold a UTF-8 `migration.sql`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        files::check_folder(path, |path| Error::MigrationsDirMissing { path })?;
        let mut folders = Vec::new();
        for entry in fs::read_dir(path).map_err(io_error(path))? {
            let entry = entry.map_err(io_error(path))?;
            // `DirEntry::file_type` does not follow symbolic links.
            if !entry.file_type().map_err(io_error(&entry.path()))?.is_dir() {
                continue;
            }
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| Error::NotUtf8 {
                    path: entry.path(),
                    offset: 0,
                })?;
            folders.push((name, entry.path()));
        }
        folders.sort();

        let migrations = folders
            .into_iter()
            .map(|(name, dir)| {
                let script_path = dir.join("migration.sql");
                let Some(bytes) = files::read(&script_path, files::SCRIPT_LIMIT)? else {
                    return Err(Error::MigrationScriptMissing {
                        name,
                        path: script_path,
                    });
                };
                let script = String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
                    path: script_path.clone(),
                    offset: e.utf8_error().valid_up_to(),
                })?;
                Ok(LocalMigration {
                    checksum: checksum(&script),
                    name,
                    script_path,
                    script,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(MigrationsDir {
            path: path.to_path_buf(),
            lock: LockFile::load(&path.join("migration_lock.toml"))?,
            migrations,
        })
    }

    pub fn find(&self, name: &str) -> Option<&LocalMigration> {
        self.migrations.iter().find(|m| m.name == name)
    }

    /// Prisma's P3019 check: the migrations must have been generated for the database's
    /// provider. Without a lock file there is nothing to check, as in Prisma.
    pub fn check_provider(&self, actual: Provider) -> Result<(), Error> {
        let Some(lock) = &self.lock else {
            return Ok(());
        };
        match Provider::from_lock_name(&lock.provider) {
            Some(locked) if locked == actual => Ok(()),
            Some(_) => Err(Error::ProviderMismatch {
                dir: self.path.clone(),
                locked: lock.provider.clone(),
                actual,
            }),
            None => Err(Error::UnsupportedProvider {
                path: lock.path.clone(),
                provider: lock.provider.clone(),
            }),
        }
    }
}

impl LockFile {
    fn load(path: &Path) -> Result<Option<Self>, Error> {
        let Some(bytes) = files::read(path, files::CONFIG_LIMIT)? else {
            return Ok(None);
        };
        let invalid = |reason: String| Error::InvalidLockFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = String::from_utf8(bytes).map_err(|_| invalid("it is not UTF-8".into()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        let provider = table
            .get("provider")
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid("it has no provider = \"…\" line".into()))?;
        Ok(Some(LockFile {
            path: path.to_path_buf(),
            provider: provider.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, content: &[u8]) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn folders_load_in_lexicographic_order_and_symlinks_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for name in [
            "20240102_b",
            "01_init",
            "2024-01-01 with space",
            "000000000000_init",
        ] {
            write(dir, &format!("{name}/migration.sql"), b"SELECT 1;");
        }
        write(
            dir,
            "migration_lock.toml",
            b"# comment\nprovider = \"sqlite\"\n",
        );
        write(dir, "README.md", b"not a migration");
        std::os::unix::fs::symlink(dir.join("01_init"), dir.join("99_link")).unwrap();

        let loaded = MigrationsDir::load(dir).unwrap();
        let names: Vec<_> = loaded.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "000000000000_init",
                "01_init",
                "2024-01-01 with space",
                "20240102_b"
            ]
        );
        assert_eq!(loaded.lock.as_ref().unwrap().provider, "sqlite");
        assert!(loaded.check_provider(Provider::Sqlite).is_ok());
        assert!(matches!(
            loaded.check_provider(Provider::Postgres),
            Err(Error::ProviderMismatch { .. })
        ));
    }

    #[test]
    fn missing_script_names_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("20240101_empty")).unwrap();
        match MigrationsDir::load(tmp.path()) {
            Err(Error::MigrationScriptMissing { name, path }) => {
                assert_eq!(name, "20240101_empty");
                assert!(path.ends_with("20240101_empty/migration.sql"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_utf8_script_is_reported_with_offset() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "1_a/migration.sql", b"SELECT '\xff';");
        match MigrationsDir::load(tmp.path()) {
            Err(Error::NotUtf8 { offset, .. }) => assert_eq!(offset, 8),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_lock_provider_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            "migration_lock.toml",
            b"provider = \"sqlserver\"",
        );
        let loaded = MigrationsDir::load(tmp.path()).unwrap();
        assert!(matches!(
            loaded.check_provider(Provider::Mysql),
            Err(Error::UnsupportedProvider { .. })
        ));
    }
}
