//! The migrations folder: which migrations exist locally, in which order, with which script.

use crate::error::ConfigError;
use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};

use icu_collator::CollatorBorrowed;
use icu_collator::options::CollatorOptions;

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
    /// The file as Prisma reads it: UTF-8, invalid bytes replaced by U+FFFD.
    pub script: String,
    /// Prisma's checksum of `script` (byte order mark included).
    pub checksum: String,
}

impl LocalMigration {
    /// The SQL to run: the script without a leading byte order mark, which PostgreSQL
    /// rejects as a token (the checksum keeps it, as Prisma's does).
    pub fn sql(&self) -> &str {
        self.script.strip_prefix('\u{feff}').unwrap_or(&self.script)
    }
}

/// A file read with replacement characters, as Prisma reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    pub path: PathBuf,
    /// Where the first invalid byte is.
    pub offset: usize,
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
    /// Scripts that are not valid UTF-8: read as Prisma reads them, to be reported.
    pub not_utf8: Vec<NotUtf8>,
}

impl MigrationsDir {
    /// Reads every migration as Prisma does: each subdirectory is a migration (symbolic links
    /// are not followed), ordered as Prisma orders names, and must hold a `migration.sql`
    /// (read as UTF-8, invalid bytes replaced and reported in `not_utf8`).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Config(ConfigError::Io { path, source })
        };
        files::check_folder(path, |path| {
            Error::Config(ConfigError::MigrationsDirMissing { path })
        })?;
        let mut folders = Vec::new();
        for entry in fs::read_dir(path).map_err(io_error(path))? {
            let entry = entry.map_err(io_error(path))?;
            // `DirEntry::file_type` does not follow symbolic links.
            if !entry.file_type().map_err(io_error(&entry.path()))?.is_dir() {
                continue;
            }
            let name = entry.file_name().into_string().map_err(|_| {
                Error::Config(ConfigError::NotUtf8 {
                    path: entry.path(),
                    offset: 0,
                })
            })?;
            folders.push((name, entry.path()));
        }
        folders.sort_by(|a, b| compare_names(&a.0, &b.0));

        let mut not_utf8 = Vec::new();
        let migrations = folders
            .into_iter()
            .map(|(name, dir)| {
                let script_path = dir.join("migration.sql");
                let Some(bytes) = files::read(&script_path, files::SCRIPT_LIMIT)? else {
                    return Err(Error::Config(ConfigError::MigrationScriptMissing {
                        name,
                        path: script_path,
                    }));
                };
                // Prisma ≥ 6.6 decodes lossily, applies the result and checksums it.
                let script = match String::from_utf8(bytes) {
                    Ok(script) => script,
                    Err(e) => {
                        not_utf8.push(NotUtf8 {
                            path: script_path.clone(),
                            offset: e.utf8_error().valid_up_to(),
                        });
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    }
                };
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
            not_utf8,
        })
    }

    pub fn find(&self, name: &str) -> Option<&LocalMigration> {
        self.migrations.iter().find(|m| m.name == name)
    }

    /// Neighbouring migrations that Prisma ≤ 6.5, which sorted folder names by bytes,
    /// applied the other way round: `(first, second)` where `first` comes first now.
    pub fn byte_order_differences(&self) -> Vec<(&str, &str)> {
        self.migrations
            .windows(2)
            .filter(|pair| pair[0].name.as_bytes() > pair[1].name.as_bytes())
            .map(|pair| (pair[0].name.as_str(), pair[1].name.as_str()))
            .collect()
    }

    /// Prisma's P3019 check: the migrations must have been generated for the database's
    /// provider. Without a lock file there is nothing to check, as in Prisma.
    pub fn check_provider(&self, actual: Provider) -> Result<(), Error> {
        let Some(lock) = &self.lock else {
            return Ok(());
        };
        match Provider::from_lock_name(&lock.provider) {
            Some(locked) if locked == actual => Ok(()),
            Some(_) => Err(Error::Config(ConfigError::ProviderMismatch {
                dir: self.path.clone(),
                locked: lock.provider.clone(),
                actual,
            })),
            None => Err(Error::Config(ConfigError::UnsupportedProvider {
                path: lock.path.clone(),
                provider: lock.provider.clone(),
            })),
        }
    }
}

/// The order of migration names, as Prisma ≥ 6.6 sorts its folders: JavaScript's
/// `localeCompare`, that is ICU's root collation (Node's default locale sorts the same).
/// It differs from byte order where names differ at `_` against a digit or an uppercase
/// letter, or in case: `20240101_manual` comes before `20240101120000_auto`. Equal names
/// under the collation (which only differ in what it ignores) fall back to bytes, so the
/// order is total.
pub fn compare_names(a: &str, b: &str) -> Ordering {
    ROOT_COLLATION.compare(a, b).then_with(|| a.cmp(b))
}

/// The root collation, built at compile time from the root data alone. The locale-aware
/// constructor links the tailorings of every locale ICU knows (about 0.7 MB of the static
/// binary), which a root collation never reads; the unit test below holds the two equal.
static ROOT_COLLATION: CollatorBorrowed<'static> =
    CollatorBorrowed::new_root(CollatorOptions::default());

impl LockFile {
    fn load(path: &Path) -> Result<Option<Self>, Error> {
        let Some(bytes) = files::read(path, files::CONFIG_LIMIT)? else {
            return Ok(None);
        };
        let invalid = |reason: String| {
            Error::Config(ConfigError::InvalidLockFile {
                path: path.to_path_buf(),
                reason,
            })
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

    proptest::proptest! {
        /// The compile-time root collation orders as the locale-aware constructor's does
        /// for the root locale (names of any Unicode text, and the digits, `_` and case
        /// that migration names differ in).
        #[test]
        fn root_collation_is_the_locale_aware_root(
            a in "(\\PC|[0-9_aA]){0,12}",
            b in "(\\PC|[0-9_aA]){0,12}",
        ) {
            let located = icu_collator::Collator::try_new(
                icu_collator::CollatorPreferences::default(),
                CollatorOptions::default(),
            )
            .unwrap();
            proptest::prop_assert_eq!(ROOT_COLLATION.compare(&a, &b), located.compare(&a, &b));
        }
    }

    /// Prisma ≥ 6.6's order, checked against Node's `localeCompare` (see the interop
    /// tests for the real Prisma CLI applying such a pair in this order).
    #[test]
    fn folder_order_is_prismas_collation() {
        let mut names = vec![
            "20240102_B",
            "20240101120000_auto",
            "20240102_a",
            "20240101_manual",
            "20240102_A",
            "2024-01-01 with space",
            "01_init",
            "000000000000_init",
        ];
        names.sort_by(|a, b| compare_names(a, b));
        // node -e 'console.log(JSON.stringify(v.sort((a,b)=>a.localeCompare(b))))'
        assert_eq!(
            names,
            [
                "000000000000_init",
                "01_init",
                "2024-01-01 with space",
                "20240101_manual",
                "20240101120000_auto",
                "20240102_a",
                "20240102_A",
                "20240102_B"
            ]
        );
        let tmp = tempfile::tempdir().unwrap();
        for name in ["20240101120000_auto", "20240101_manual"] {
            write(tmp.path(), &format!("{name}/migration.sql"), b"SELECT 1;");
        }
        let loaded = MigrationsDir::load(tmp.path()).unwrap();
        assert_eq!(
            loaded.byte_order_differences(),
            [("20240101_manual", "20240101120000_auto")]
        );
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
            Err(Error::Config(ConfigError::ProviderMismatch { .. }))
        ));
    }

    #[test]
    fn missing_script_names_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("20240101_empty")).unwrap();
        match MigrationsDir::load(tmp.path()) {
            Err(Error::Config(ConfigError::MigrationScriptMissing { name, path })) => {
                assert_eq!(name, "20240101_empty");
                assert!(path.ends_with("20240101_empty/migration.sql"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// As Prisma: invalid bytes become U+FFFD, and the checksum is the decoded text's.
    #[test]
    fn non_utf8_script_is_read_lossily_and_reported_with_offset() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "1_a/migration.sql", b"SELECT '\xff';");
        let loaded = MigrationsDir::load(tmp.path()).unwrap();
        assert_eq!(loaded.not_utf8.len(), 1);
        assert_eq!(loaded.not_utf8[0].offset, 8);
        assert_eq!(loaded.migrations[0].script, "SELECT '\u{fffd}';");
        assert_eq!(
            loaded.migrations[0].checksum,
            checksum("SELECT '\u{fffd}';")
        );
    }

    #[test]
    fn a_byte_order_mark_is_checksummed_but_not_run() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            "1_a/migration.sql",
            "\u{feff}SELECT 1;".as_bytes(),
        );
        let loaded = MigrationsDir::load(tmp.path()).unwrap();
        let migration = &loaded.migrations[0];
        assert_eq!(migration.checksum, checksum("\u{feff}SELECT 1;"));
        assert_eq!(migration.sql(), "SELECT 1;");
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
            Err(Error::Config(ConfigError::UnsupportedProvider { .. }))
        ));
    }
}
