//! What every command on the database works on: the project, its database URL, and how
//! the migration lock is taken. The command line builds one from its flags and hands it to
//! [`crate::status::report`], [`crate::deploy::run`], [`crate::deploy::dry_run`] and
//! [`crate::resolve::run`], so those decide everything about the database themselves.

use std::time::Duration;

use crate::Error;
use crate::config::Project;
use crate::database_url::DatabaseUrl;
use crate::engine::{self, Access, Engine};
use crate::lock::LockOptions;
use crate::lock_wait::LockWait;
use crate::migrations::MigrationsDir;

/// The project, its database, the lock, and how long statements wait for table locks.
pub struct Context {
    pub project: Project,
    pub url: DatabaseUrl,
    pub lock: LockOptions,
    /// Deploy's lock waits: the defaults unless the command line set them.
    pub lock_wait: LockWait,
}

impl Context {
    /// Resolves the database URL of a located project (`url` is `--url`; `env` reads the
    /// process environment) and checks the datasource's provider against it (P1012).
    ///
    /// The project is located by the caller first ([`Project::locate`]) so it can show the
    /// project's notices even when the URL cannot be resolved.
    pub fn new(
        project: Project,
        url: Option<&str>,
        lock_timeout: Duration,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let url = project.database_url(url, env)?;
        Context::for_url(project, url, lock_timeout)
    }

    /// The context of a located project and a resolved URL (one tenant of an environment).
    pub fn for_url(
        project: Project,
        url: DatabaseUrl,
        lock_timeout: Duration,
    ) -> Result<Self, Error> {
        project.check_provider(url.provider())?;
        Ok(Context {
            project,
            url,
            lock: LockOptions::from_environment(lock_timeout),
            lock_wait: LockWait::default(),
        })
    }

    /// The migrations folder. Scripts that are not UTF-8 are listed in
    /// [`MigrationsDir::not_utf8`], for the caller to warn about.
    pub fn migrations(&self) -> Result<MigrationsDir, Error> {
        MigrationsDir::load(&self.project.migrations_dir)
    }

    /// Opens the database. The lock timeout also bounds SQLite's wait for a file another
    /// process holds.
    pub async fn connect(&self, access: Access) -> Result<Box<dyn Engine>, Error> {
        engine::connect(&self.url, access, self.lock.timeout).await
    }
}
