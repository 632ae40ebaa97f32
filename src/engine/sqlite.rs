//! SQLite: an exclusive file lock as Prisma takes it, timestamps as Unix milliseconds, and
//! transactional DDL with one trap: `PRAGMA foreign_keys` is ignored inside a transaction.

use crate::error::{ConfigError, DatabaseError, DriftError};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::{
    Access, Canceller, ErrorKind, Inspect, LockHolder, MigrationLock, ScratchDatabases,
    ScriptError, Session, Snapshot, TableSize, connect_error, history_store, query_error,
};
use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::files;
use crate::history;
use crate::provider::Provider;
use crate::schema::{Detail, Schema};
use crate::sql::{ScriptProfile, Target};

pub struct Sqlite {
    conn: SqliteConnection,
    /// `main."_prisma_migrations"`: a migration's TEMP table of the same name must not
    /// shadow the history.
    history: String,
    options: SqliteConnectOptions,
    canceller: Arc<SqliteCanceller>,
    path: PathBuf,
    target: String,
    /// How long a statement waits for another connection's lock before SQLITE_BUSY: the
    /// lock timeout, so that `status` waits for a running deploy as deploy would.
    busy_timeout: Duration,
    /// Set while a migration that toggles `foreign_keys` runs: the foreign key violations
    /// that existed before it, per (table, parent).
    fk_guard: Option<BTreeMap<(String, String), i64>>,
}

/// Opens a connection and reads its `sqlite3*` for the canceller.
async fn open(
    options: &SqliteConnectOptions,
    target: &str,
) -> Result<(SqliteConnection, usize), Error> {
    let mut conn = SqliteConnection::connect_with(options)
        .await
        .map_err(connect_error(target, classify))?;
    let handle = conn
        .lock_handle()
        .await
        .map_err(query_error("opening the database", target, classify))?
        .as_raw_handle()
        .as_ptr() as usize;
    Ok((conn, handle))
}

impl Sqlite {
    pub async fn connect(url: &DatabaseUrl, access: Access, wait: Duration) -> Result<Self, Error> {
        let path = url.file().expect("a SQLite URL names a file").to_path_buf();
        let target = url.describe();
        if !files::regular_file_exists(&path)? {
            // Deploy would create the file, but not its folder: say so before anything
            // else, so that --dry-run and deploy agree.
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                files::check_folder(parent, |folder| {
                    Error::Config(ConfigError::SqliteFolderMissing {
                        file: path.clone(),
                        folder,
                    })
                })?;
            }
            if access == Access::ReadOnly {
                return Err(Error::Database(DatabaseError::DatabaseMissing { target }));
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(access == Access::ReadWrite)
            .busy_timeout(wait);
        let (conn, handle) = open(&options, &target).await?;
        Ok(Sqlite {
            conn,
            history: format!("main.{}", super::quote_ident(history::TABLE)),
            canceller: Arc::new(SqliteCanceller {
                handle: AtomicUsize::new(handle),
                stop: Arc::new(AtomicBool::new(false)),
            }),
            options,
            path,
            target,
            busy_timeout: wait,
            fk_guard: None,
        })
    }

    /// Replaces the connection with a fresh one: closing is the only sure way to let go of
    /// every lock a connection in exclusive locking mode holds on the file.
    async fn reopen(&mut self) -> Result<(), Error> {
        let (conn, handle) = open(&self.options, &self.target).await?;
        let old = std::mem::replace(&mut self.conn, conn);
        self.canceller.handle.store(handle, Ordering::SeqCst);
        if let Err(e) = old.close().await {
            tracing::debug!("closing the previous SQLite connection: {e}");
        }
        Ok(())
    }

    fn err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> Error {
        let wrap = query_error(action, &self.target, classify);
        let (path, waited) = (self.path.clone(), self.busy_timeout);
        // Busy after the busy timeout: another process holds the file, typically a
        // deploy in exclusive locking mode. Say who, as a lock wait does.
        move |e| match wrap(e) {
            Error::Database(DatabaseError::LockTimeout { target, .. }) => {
                Error::Database(DatabaseError::LockTimeout {
                    target,
                    waited,
                    holder: lock_holder_process(&path),
                })
            }
            other => other,
        }
    }

    async fn exec(&mut self, sql: &'static str, action: &str) -> Result<(), Error> {
        sqlx::raw_sql(sql)
            .execute(&mut self.conn)
            .await
            .map_err(self.err(action))?;
        Ok(())
    }

    /// Foreign key violations per (table, parent table).
    async fn fk_violations(&mut self) -> Result<BTreeMap<(String, String), i64>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT \"table\", parent, COUNT(*) FROM pragma_foreign_key_check GROUP BY 1, 2",
        )
        .fetch_all(&mut self.conn)
        .await?;
        rows.iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
            .collect()
    }

    /// Turns foreign key enforcement back on after a migration that toggled it.
    async fn end_fk_guard(&mut self) {
        if self.fk_guard.take().is_some()
            && let Err(e) = sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut self.conn)
                .await
        {
            tracing::warn!("could not turn SQLite foreign keys back on: {e}");
        }
    }
}

/// Interrupts the running statement with `sqlite3_interrupt`, which SQLite allows from any
/// thread while the connection is open.
struct SqliteCanceller {
    /// The connection's `sqlite3*`. The engine owns the connection and only hands this out
    /// for use while it runs a statement, so the pointer is valid whenever it is used.
    handle: AtomicUsize,
    /// Tells the script loop to stop before its next statement: `sqlite3_interrupt` only
    /// reaches a statement that is running.
    stop: Arc<AtomicBool>,
}

#[async_trait]
impl Canceller for SqliteCanceller {
    async fn cancel(&self) -> Result<(), Error> {
        // SAFETY: see `handle`; sqlite3_interrupt is documented as safe to call from
        // another thread.
        self.stop.store(true, Ordering::SeqCst);
        let handle = self.handle.load(Ordering::SeqCst);
        unsafe { libsqlite3_sys::sqlite3_interrupt(handle as *mut libsqlite3_sys::sqlite3) };
        Ok(())
    }

    /// There is no session to end: interrupting again is all there is.
    async fn terminate(&self) -> Result<(), Error> {
        self.cancel().await
    }
}

/// SQLite's result codes, as safemig must read them.
fn classify(e: &sqlx::Error) -> ErrorKind {
    if let Some(kind) = super::transport_kind(e) {
        return kind;
    }
    let code = match e {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    };
    classify_code(code.unwrap_or_default())
}

/// [`classify`] for a result code from the C API.
fn classify_code(code: i32) -> ErrorKind {
    // The primary code is the low byte of an extended result code.
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED.
        5 | 6 => ErrorKind::Busy,
        // SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH.
        3 | 8 | 14 | 23 => ErrorKind::AccessDenied,
        // SQLITE_CORRUPT, SQLITE_NOTADB.
        11 | 26 => ErrorKind::NotADatabase,
        _ => ErrorKind::Statement,
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    classify(e) == ErrorKind::Busy
}

/// Sizes and modification times of the database and its journal files: a holder that
/// commits migrations changes them.
fn file_activity(path: &Path) -> String {
    ["", "-journal", "-wal"]
        .iter()
        .map(|suffix| {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            std::fs::metadata(&file)
                .map(|m| format!("{}:{}.{}", m.len(), m.mtime(), m.mtime_nsec()))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Finds the process holding a POSIX lock on `path` in /proc/locks (Linux only).
fn lock_holder_process(path: &Path) -> Option<String> {
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let me = std::process::id();
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "1: POSIX  ADVISORY  WRITE 4242 08:01:131090 1073741824 1073742335"
        let (pid, device_inode) = (fields.get(4)?, fields.get(5)?);
        let pid: u32 = pid.parse().ok()?;
        let lock_inode: u64 = device_inode.rsplit(':').next()?.parse().ok()?;
        if lock_inode != inode || pid == me {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        Some(format!("process {pid} ({})", command.trim()))
    })
}

#[async_trait]
impl Session for Sqlite {
    fn provider(&self) -> Provider {
        Provider::Sqlite
    }

    fn target(&self) -> &str {
        &self.target
    }

    async fn run_script(&mut self, script: &str) -> Result<(), ScriptError> {
        // Prisma runs SQLite scripts with `execute_batch`: SQLite's own statement loop,
        // which sqlite_script runs in place (sqlx's would copy the script per statement).
        let locked = self
            .conn
            .lock_handle()
            .await
            .map_err(|e| ScriptError::new(e, classify))?;
        let stop = self.canceller.stop.clone();
        let result = super::sqlite_script::run(locked, script, stop.clone()).await;
        // A cancel asked during this run is spent: the next statement starts afresh.
        stop.store(false, Ordering::SeqCst);
        result.map_err(|failure| ScriptError {
            kind: classify_code(failure.code),
            code: Some(failure.code.to_string()),
            message: failure.message,
        })
    }

    async fn begin(&mut self, profile: &ScriptProfile) -> Result<(), Error> {
        if profile.foreign_keys_pragma {
            // Prisma's table rebuilds say `PRAGMA foreign_keys=OFF` first, but inside a
            // transaction that is a no-op, and `DROP TABLE` of a referenced table would run
            // its ON DELETE actions. Switch enforcement off before the transaction instead,
            // and check before commit that the migration left no new violations.
            self.exec("PRAGMA foreign_keys = OFF", "turning foreign keys off")
                .await?;
            let before = self
                .fk_violations()
                .await
                .map_err(self.err("checking foreign keys"))?;
            self.fk_guard = Some(before);
        }
        self.exec("BEGIN", "starting a transaction").await
    }

    async fn commit(&mut self) -> Result<(), ScriptError> {
        if let Some(before) = &self.fk_guard {
            let before = before.clone();
            let after = self
                .fk_violations()
                .await
                .map_err(|e| ScriptError::new(e, classify))?;
            let new: Vec<String> = after
                .iter()
                .filter(|(key, count)| **count > before.get(*key).copied().unwrap_or(0))
                .map(|((table, parent), count)| {
                    format!("{count} row(s) of `{table}` reference missing rows of `{parent}`")
                })
                .collect();
            if !new.is_empty() {
                return Err(ScriptError::statement(format!(
                    "the migration leaves foreign key violations: {}",
                    new.join("; ")
                )));
            }
        }
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.conn)
            .await
            .map_err(|e| ScriptError::new(e, classify))?;
        self.end_fk_guard().await;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), Error> {
        let result = self.exec("ROLLBACK", "rolling back").await;
        self.end_fk_guard().await;
        result
    }

    fn canceller(&self) -> Arc<dyn Canceller> {
        self.canceller.clone()
    }
}

#[async_trait]
impl MigrationLock for Sqlite {
    async fn try_lock(&mut self) -> Result<bool, Error> {
        // Prisma's lock: an exclusive locking mode, which keeps the file lock from the
        // first write until the connection closes. An empty exclusive transaction takes it.
        self.exec(
            "PRAGMA main.locking_mode = EXCLUSIVE; PRAGMA busy_timeout = 0",
            "taking the migration lock",
        )
        .await?;
        let taken = match sqlx::raw_sql("BEGIN EXCLUSIVE; COMMIT")
            .execute(&mut self.conn)
            .await
        {
            Ok(_) => true,
            Err(e) if is_busy(&e) => {
                // In exclusive mode a failed attempt may keep the shared or pending lock it
                // got on the way, and waiters holding such locks would shut each other out
                // for good. Start the next attempt from a fresh connection.
                self.reopen().await?;
                return Ok(false);
            }
            Err(e) => return Err(self.err("taking the migration lock")(e)),
        };
        let restore = format!("PRAGMA busy_timeout = {}", self.busy_timeout.as_millis());
        sqlx::raw_sql(AssertSqlSafe(restore))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("taking the migration lock"))?;
        Ok(taken)
    }

    async fn lock_holder(&mut self) -> Result<Option<LockHolder>, Error> {
        Ok(
            lock_holder_process(&self.path).map(|description| LockHolder {
                description,
                // Nothing tells whether the process runs a statement; what it writes shows.
                busy: false,
                waiting: None,
                activity: file_activity(&self.path),
            }),
        )
    }

    async fn unlock(&mut self) -> Result<(), Error> {
        // Back in normal mode, the lock goes at the next access of the file.
        self.exec(
            "PRAGMA main.locking_mode = NORMAL; SELECT count(*) FROM sqlite_master",
            "releasing the migration lock",
        )
        .await
    }
}

#[async_trait]
impl Inspect for Sqlite {
    async fn table_sizes(&mut self) -> Result<BTreeMap<String, TableSize>, Error> {
        // SQLite keeps no row statistics: rows are counted (a walk of each table's b-tree,
        // fast at SQLite's sizes); bytes are the pages of the table and its indexes
        // (the dbstat table, compiled into the bundled SQLite).
        let sizes: Vec<(String, i64)> = sqlx::query_as(
            "SELECT m.tbl_name, CAST(SUM(d.pgsize) AS INTEGER) \
             FROM sqlite_master m JOIN dbstat d ON d.name = m.name AND d.aggregate = TRUE \
             WHERE m.type IN ('table', 'index') AND m.tbl_name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             GROUP BY m.tbl_name",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("reading table sizes"))?;
        let mut rows = Vec::new();
        for (table, bytes) in sizes {
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}",
                super::quote_ident(&table)
            )))
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("counting a table's rows"))?;
            rows.push((table, Some(count), bytes));
        }
        Ok(super::table_sizes(rows))
    }

    async fn holds_data(&mut self, table: &str, column: Option<&str>) -> Result<bool, Error> {
        let query = super::holds_data_query(self.provider(), None, table, column);
        // Names quoted by the engine's DDL; the values come from the migration's schema.
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("looking for data in a table"))?;
        Ok(count > 0)
    }

    async fn history_exists(&mut self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(history::TABLE)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("looking for _prisma_migrations"))?;
        Ok(count > 0)
    }

    async fn user_objects(&mut self) -> Result<Vec<String>, Error> {
        sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ? \
             ORDER BY name",
        )
        .bind(history::TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the database's tables"))
    }

    async fn prisma_next_marker(&mut self) -> Result<Option<String>, Error> {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name IN ('_prisma_marker', '_prisma_ledger') ORDER BY name",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("looking for Prisma 8's marker"))?;
        Ok((!found.is_empty()).then(|| {
            let tables: Vec<String> = found.iter().map(|t| format!("`{t}`")).collect();
            format!(
                "the table{} {}",
                if found.len() == 1 { "" } else { "s" },
                tables.join(" and ")
            )
        }))
    }

    async fn schema(&mut self, detail: Detail) -> Result<Option<Schema>, Error> {
        let schema = super::sqlite_schema::read(&mut self.conn, detail)
            .await
            .map_err(self.err("reading the schema"))?;
        Ok(Some(schema))
    }

    /// Statements SQLite cannot run in a transaction are all safe to repeat; nothing here
    /// needs inspecting.
    async fn snapshot(&mut self, _target: &Target) -> Result<Option<Snapshot>, Error> {
        Ok(None)
    }
}

// Unix milliseconds, as Prisma writes them.
history_store::impl_history_access!(
    Sqlite,
    history_store::SQLITE,
    bind_count: |count| count as i64,
    bind_time: |time| time.map(|t| t.timestamp_millis()),
    read_count: |row, i| row.try_get::<i64, _>(i)?.clamp(0, u32::MAX as i64) as u32,
    read_time: |row, i| row.try_get::<Option<i64>, _>(i)?.and_then(DateTime::from_timestamp_millis)
);

#[async_trait]
impl ScratchDatabases for Sqlite {
    /// A file in the system's temporary folder: SQLite has no server to hold it.
    async fn create_scratch(&mut self, name: &str) -> Result<DatabaseUrl, Error> {
        Ok(DatabaseUrl::sqlite_file(&scratch_path(name)))
    }

    async fn scratch_fingerprint(&mut self) -> Result<String, Error> {
        sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("reading SQLite's version"))
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<(), Error> {
        let path = scratch_path(name);
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Drift(DriftError::ScratchLeft {
                        scratch: crate::text::path(Path::new(&file)).to_string(),
                        message: e.to_string(),
                    }));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn scratch_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{name}.db"))
}

/// No measurement: see [`super::Calibrate::measure_work`].
impl super::Calibrate for Sqlite {
    fn server(&self) -> String {
        self.target().to_string()
    }
}
