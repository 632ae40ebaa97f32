//! The database engines behind one trait. Each engine owns its SQL dialect's details: the
//! history table's DDL and timestamp types, the advisory lock, how a script is sent, and
//! what a transaction around a migration needs. Everything above this module is
//! engine-agnostic.

mod calibrate;
mod history_store;
mod mysql;
mod mysql_calibrate;
mod mysql_ddl;
mod mysql_schema;
mod postgres;
mod postgres_calibrate;
mod postgres_ddl;
mod postgres_schema;
mod sqlite;
mod sqlite_ddl;
mod sqlite_schema;
mod sqlite_script;

use crate::error::DatabaseError;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::provider::{Capabilities, Provider};
use crate::schema::ddl::Ddl;
use crate::schema::{Detail, Schema};
use crate::sql::{ScriptProfile, Target};

pub use calibrate::{Calibrate, SAMPLE_ROWS, WorkSample};
pub use history_store::{Codec, Column, HistoryAccess, HistoryStore, Param, Value};

/// A connection to one database, holding everything safemig does to it: the capabilities
/// below, each a trait of its own, so that an algorithm asks only for what it uses and a
/// new engine implements them one by one. [`HistoryStore`] is written once for every
/// engine over [`HistoryAccess`].
pub trait Engine:
    Session + MigrationLock + HistoryAccess + HistoryStore + Inspect + ScratchDatabases + Calibrate
{
}

impl<T: Session + MigrationLock + HistoryAccess + Inspect + ScratchDatabases + Calibrate + ?Sized>
    Engine for T
{
}

/// The connection itself: what it is, and running a migration's SQL in it.
#[async_trait]
pub trait Session: Send {
    fn provider(&self) -> Provider;

    /// What this connection points at, for messages: never holds credentials.
    fn target(&self) -> &str;

    /// What the engine can do, from the provider's descriptor.
    fn capabilities(&self) -> Capabilities {
        self.provider().capabilities()
    }

    /// Sends a whole migration script the way Prisma sends it to this engine.
    async fn run_script(&mut self, script: &str) -> Result<(), ScriptError>;

    /// Opens the transaction a migration runs in, prepared for what its script does.
    async fn begin(&mut self, profile: &ScriptProfile) -> Result<(), Error>;

    /// Commits the migration's transaction. Checks deferred to commit time fail here.
    async fn commit(&mut self) -> Result<(), ScriptError>;

    async fn rollback(&mut self) -> Result<(), Error>;

    /// Why the server would not take this statement, when that is known before sending it
    /// (MySQL's `max_allowed_packet`: an oversized statement makes the server drop the
    /// connection, and the cause is never reported).
    fn refuse_statement(&self, _sql: &str) -> Option<String> {
        None
    }

    /// Bounds how long each statement from now on waits for a lock another session holds
    /// (PostgreSQL's `lock_timeout`, MySQL's `lock_wait_timeout`), so that a statement
    /// queued for a table lock does not hold up the application's queries queued behind it
    /// for longer than `wait`; one that waits longer fails with
    /// [`ErrorKind::LockWaitTimeout`], having applied nothing. SQLite has no such queue
    /// (its busy timeout, the `--lock-timeout`, bounds the wait for the file, and the
    /// migration lock holds the file exclusively meanwhile): nothing to set there.
    async fn set_lock_wait(&mut self, _wait: std::time::Duration) -> Result<(), Error> {
        Ok(())
    }

    /// Undoes what a migration changed in the session (settings, the current schema or
    /// database), keeping the migration lock: the next migration starts as on a fresh
    /// connection.
    async fn reset_session(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// A handle that cancels the statement running on this connection, from elsewhere.
    fn canceller(&self) -> Arc<dyn Canceller>;

    /// Points this connection at another tenant of the same database (`url`, from
    /// [`DatabaseUrl::for_tenant`]) as if it were a new connection, and says whether it
    /// could: a fleet deploy reuses its connections from tenant to tenant instead of
    /// opening one per tenant. Only for a connection that holds no migration lock and
    /// whose last deploy succeeded. `false`: open a new connection instead.
    async fn reuse_for(&mut self, _url: &DatabaseUrl) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Prisma's migration lock, taken exactly as Prisma takes it, so the two tools exclude
/// each other.
#[async_trait]
pub trait MigrationLock: Send {
    /// Takes the lock if it is free; never waits.
    async fn try_lock(&mut self) -> Result<bool, Error>;

    /// Who holds the migration lock and what it is doing, if the engine can tell.
    async fn lock_holder(&mut self) -> Result<Option<LockHolder>, Error>;

    async fn unlock(&mut self) -> Result<(), Error>;

    /// Whether this session still holds the lock it took: a fleet deploy's holder
    /// connection checks, so that a lock lost mid-run (the session ended by the server or
    /// a person) stops new tenants instead of letting them run unlocked. Engines whose
    /// lock ends only with the connection (SQLite) say yes.
    async fn holds_lock(&mut self) -> Result<bool, Error> {
        Ok(true)
    }
}

/// Reading the database's catalog: what exists, and the state of a statement's target.
/// Drift and repair extend this.
#[async_trait]
pub trait Inspect: Send {
    async fn history_exists(&mut self) -> Result<bool, Error>;

    /// The tables that make the database "not empty" for Prisma's P3005 check: tables
    /// other than the history (and, on PostgreSQL, PostGIS's), as Prisma counts them.
    async fn user_objects(&mut self) -> Result<Vec<String>, Error>;

    /// The marker Prisma 8 ("Prisma Next") leaves in a database it migrates, which no
    /// longer uses `_prisma_migrations`: such a database must not get old-style
    /// migrations. `None` when there is none (or the engine has no Prisma 8 target).
    async fn prisma_next_marker(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// The current state of what a statement changes, to tell after a crash whether it ran.
    /// `None` when this engine cannot inspect that target.
    async fn snapshot(&mut self, target: &Target) -> Result<Option<Snapshot>, Error>;

    /// Cleans up what an interrupted statement left half-done (an invalid index), so it can
    /// run again.
    async fn repair_incomplete(&mut self, _target: &Target) -> Result<(), Error> {
        Ok(())
    }

    /// The namespaces tenants live in on this server, each with whether it holds
    /// `_prisma_migrations`, in one catalog query: PostgreSQL's schemas of this database,
    /// MySQL's databases; `None` where there are none (SQLite: a tenant is a file). System
    /// namespaces are left out.
    async fn namespaces(&mut self) -> Result<Option<Vec<Namespace>>, Error> {
        Ok(None)
    }

    /// The whole schema, object by object, for drift: `None` where the engine has no
    /// introspector yet.
    async fn schema(&mut self, _detail: Detail) -> Result<Option<Schema>, Error> {
        Ok(None)
    }

    /// Whether `table` has a row (with `column`: a row where it is not NULL), asked before
    /// `repair --roll-back` drops what a migration created.
    async fn holds_data(&mut self, table: &str, column: Option<&str>) -> Result<bool, Error>;

    /// The size of each table of the URL's schema, from the server's statistics (cheap
    /// to read, never a scan of a server's table), for `forecast`. History table
    /// included; views left out.
    async fn table_sizes(&mut self) -> Result<BTreeMap<String, TableSize>, Error>;

    /// The indexes the server keeps but does not use, because their build failed or was
    /// interrupted (PostgreSQL's `CREATE INDEX CONCURRENTLY`), builds still running aside:
    /// status and check show them. Only PostgreSQL has them.
    async fn invalid_indexes(&mut self) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}

/// The query behind [`Inspect::holds_data`], in `provider`'s quoting, for the table in
/// `schema` (`None`: the connection's default). One row at most is read.
fn holds_data_query(
    provider: Provider,
    schema: Option<&str>,
    table: &str,
    column: Option<&str>,
) -> String {
    let ddl = ddl(provider);
    let table = match schema {
        Some(schema) => format!("{}.{}", ddl.quote(schema), ddl.quote(table)),
        None => ddl.quote(table),
    };
    let filter = column
        .map(|c| format!(" WHERE {} IS NOT NULL", ddl.quote(c)))
        .unwrap_or_default();
    format!("SELECT COUNT(*) FROM (SELECT 1 AS one FROM {table}{filter} LIMIT 1) AS probe")
}

/// [`Inspect::table_sizes`] from its query's rows: name, rows, bytes.
fn table_sizes(rows: Vec<(String, Option<i64>, i64)>) -> BTreeMap<String, TableSize> {
    rows.into_iter()
        .map(|(name, rows, bytes)| {
            let size = TableSize {
                rows: rows.and_then(|r| u64::try_from(r).ok()),
                bytes: u64::try_from(bytes).unwrap_or(0),
            };
            (name, size)
        })
        .collect()
}

/// Throwaway databases beside this one, where drift replays the migrations folder: on the
/// same server, with the same login and defaults (character set, collation), so that what
/// the replay creates is rendered as the live database renders it.
#[async_trait]
pub trait ScratchDatabases: Send {
    /// Creates an empty database named `name` and returns its URL.
    async fn create_scratch(&mut self, name: &str) -> Result<DatabaseUrl, Error>;

    /// Drops a database [`ScratchDatabases::create_scratch`] made, with whatever is still
    /// connected to it.
    async fn drop_scratch(&mut self, name: &str) -> Result<(), Error>;

    /// What a scratch database made here inherits, as text: the server's version and the
    /// database defaults. A schema replayed once is reused (drift's cache) only where this
    /// is the same, since renderings change between versions.
    async fn scratch_fingerprint(&mut self) -> Result<String, Error>;
}

/// How big a table is now, as its server's statistics tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSize {
    /// Rows: PostgreSQL's and InnoDB's estimate (`None` where the table was never
    /// analysed), SQLite's count.
    pub rows: Option<u64>,
    /// Bytes on disk with its indexes.
    pub bytes: u64,
}

/// A schema (PostgreSQL) or database (MySQL) on a server, where a tenant's history may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    /// Whether it holds `_prisma_migrations`.
    pub has_history: bool,
}

/// Another session holding the migration lock, as a waiter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Who it is, for messages: session, application, user, client.
    pub description: String,
    /// Running a statement right now.
    pub busy: bool,
    /// What the running statement waits for, when it waits on a lock another session
    /// holds (a table lock, a row lock): for messages, e.g. "waiting for a relation lock
    /// on users, held by PostgreSQL session 4242".
    pub waiting: Option<String>,
    /// Changes whenever the holder visibly works (its session moves from statement to
    /// statement, or it writes the database): a waiter keeps waiting on a holder that
    /// makes progress, and gives up on one that sits idle.
    pub activity: String,
}

impl LockHolder {
    /// Running a statement that is not blocked: waiting on a lock is not progress (a
    /// holder blocked by an application's open transaction may wait for hours).
    pub fn working(&self) -> bool {
        self.busy && self.waiting.is_none()
    }

    /// Who holds the lock and, if it is blocked, on what: for the waiter's messages.
    pub fn describe(&self) -> String {
        match &self.waiting {
            Some(waiting) => format!("{}, {waiting}", self.description),
            None => self.description.clone(),
        }
    }
}

/// The state of a statement's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub state: String,
    /// False when the target is visibly half-done (an invalid index): the statement was
    /// interrupted while it ran.
    pub complete: bool,
    /// Whether every object of the target exists.
    pub exists: bool,
}

impl Snapshot {
    pub fn complete(state: impl Into<String>) -> Self {
        Snapshot {
            state: state.into(),
            complete: true,
            exists: true,
        }
    }

    pub fn absent(state: impl Into<String>) -> Self {
        Snapshot {
            exists: false,
            ..Snapshot::complete(state)
        }
    }
}

/// Cancels the statement a connection is running, server-side, through another
/// connection; and, through that same way in, says what the statement waits for.
#[async_trait]
pub trait Canceller: Send + Sync {
    /// Asks the server to cancel the running statement.
    async fn cancel(&self) -> Result<(), Error>;

    /// Ends the whole session server-side: for a statement that ignores its cancel.
    async fn terminate(&self) -> Result<(), Error>;

    /// What the running statement waits for right now, when it waits on a lock another
    /// session holds, and who holds it if the server can tell ("waiting for a relation
    /// lock on t, held by PostgreSQL session 4242"): asked while a statement waits, since
    /// once its lock wait has run out the server no longer knows. `None` when it does not
    /// wait, or the engine cannot tell.
    async fn waiting_for(&self) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// How far the running statement has got, where the server reports it (PostgreSQL's
    /// `pg_stat_progress_*` views, MariaDB's `PROCESSLIST.PROGRESS`). `None` when the
    /// statement reports nothing, or the engine has no such report.
    async fn progress(&self) -> Result<Option<StatementProgress>, Error> {
        Ok(None)
    }
}

/// How far a long statement has got, in the server's own words.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatementProgress {
    /// What it is doing ("CREATE INDEX: building index: scanning table").
    pub phase: String,
    /// Of the phase, 0 to 100, when the server counts its work (each phase counts anew).
    pub percent: Option<f64>,
}

/// What a database error means for safemig, whatever the engine: each engine maps its
/// codes here (as sqlx's `ErrorKind` does), so that nothing above the engines interprets
/// SQLSTATEs or error numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection is gone, or the server is shutting down or crashed: what the
    /// statement did is unknown, and nothing about it can be recorded on this connection.
    ConnectionLost,
    /// The server refused the credentials.
    Authentication,
    /// The login may not do this: missing privileges, a read-only file or server.
    AccessDenied,
    /// The file is not a database, or a damaged one.
    NotADatabase,
    /// The database the URL names does not exist on the server.
    DatabaseMissing,
    /// Another connection holds the database (SQLite's busy and locked).
    Busy,
    /// The statement failed with nothing applied only because it ran inside a transaction
    /// block (PostgreSQL: `CONCURRENTLY` inside a `DO` block, an enum value added and used
    /// in one transaction): it can run outside one.
    NeedsNoTransaction,
    /// The statement gave up waiting for a lock another session holds (its lock wait,
    /// [`Session::set_lock_wait`], ran out), having applied nothing: it may run again.
    LockWaitTimeout,
    /// Anything else: the statement itself failed.
    Statement,
}

/// Maps an engine's errors to [`ErrorKind`].
pub type Classify = fn(&sqlx::Error) -> ErrorKind;

/// The kinds every engine shares: the failures that never reach the server's SQL layer.
fn transport_kind(e: &sqlx::Error) -> Option<ErrorKind> {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(ErrorKind::ConnectionLost),
        _ => None,
    }
}

/// The server's own words for an error: its message without driver decoration (sqlx adds
/// "error returned from database:" and, for PostgreSQL, the server's source line).
pub fn message_of(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// An error raised by a migration's own SQL.
#[derive(Debug)]
pub struct ScriptError {
    pub message: String,
    /// SQLSTATE or the engine's error number.
    pub code: Option<String>,
    pub kind: ErrorKind,
}

impl ScriptError {
    fn new(e: sqlx::Error, classify: Classify) -> Self {
        ScriptError {
            message: message_of(&e),
            code: match &e {
                sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                _ => None,
            },
            kind: classify(&e),
        }
    }

    /// An error safemig raises itself about a script (no database code).
    pub fn statement(message: String) -> Self {
        ScriptError {
            message,
            code: None,
            kind: ErrorKind::Statement,
        }
    }
}

/// Whether safemig may create what is missing (the SQLite file) or only look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Opens the database `url` names. `wait` bounds how long a query waits for another
/// process's hold on the whole database (SQLite's busy timeout): the lock timeout.
pub async fn connect(
    url: &DatabaseUrl,
    access: Access,
    wait: std::time::Duration,
) -> Result<Box<dyn Engine>, Error> {
    Ok(match url.provider() {
        Provider::Postgres => Box::new(postgres::Postgres::connect(url).await?),
        Provider::Mysql => Box::new(mysql::Mysql::connect(url).await?),
        Provider::Sqlite => Box::new(sqlite::Sqlite::connect(url, access, wait).await?),
    })
}

/// The engine's DDL writer, for `drift --sql`.
pub fn ddl(provider: Provider) -> &'static dyn Ddl {
    match provider {
        Provider::Postgres => &postgres_ddl::PostgresDdl,
        Provider::Mysql => &mysql_ddl::MysqlDdl,
        Provider::Sqlite => &sqlite_ddl::SqliteDdl,
    }
}

/// Wraps a failed query of safemig's own with what was being done and where, sorted by
/// what the failure means.
fn query_error(
    action: &str,
    target: &str,
    classify: Classify,
) -> impl FnOnce(sqlx::Error) -> Error {
    let (action, target) = (action.to_string(), target.to_string());
    move |source| {
        let message = message_of(&source);
        match classify(&source) {
            ErrorKind::ConnectionLost => Error::Database(DatabaseError::ConnectionLost {
                target,
                action,
                message,
            }),
            ErrorKind::Authentication => {
                Error::Database(DatabaseError::AuthenticationFailed { target, message })
            }
            ErrorKind::AccessDenied => Error::Database(DatabaseError::AccessDenied {
                target,
                action,
                message,
            }),
            ErrorKind::NotADatabase => {
                Error::Database(DatabaseError::NotADatabase { target, message })
            }
            ErrorKind::DatabaseMissing => {
                Error::Database(DatabaseError::DatabaseMissing { target })
            }
            ErrorKind::Busy => Error::Database(DatabaseError::LockTimeout {
                target,
                waited: std::time::Duration::ZERO,
                holder: None,
            }),
            ErrorKind::NeedsNoTransaction | ErrorKind::LockWaitTimeout | ErrorKind::Statement => {
                Error::Database(DatabaseError::Query {
                    action,
                    target,
                    message,
                })
            }
        }
    }
}

/// Wraps a failed connection attempt.
fn connect_error(target: &str, classify: Classify) -> impl FnOnce(sqlx::Error) -> Error {
    let target = target.to_string();
    move |e| match classify(&e) {
        ErrorKind::Authentication => Error::Database(DatabaseError::AuthenticationFailed {
            target,
            message: message_of(&e),
        }),
        ErrorKind::AccessDenied => Error::Database(DatabaseError::AccessDenied {
            target,
            action: "connecting".into(),
            message: message_of(&e),
        }),
        ErrorKind::NotADatabase => Error::Database(DatabaseError::NotADatabase {
            target,
            message: message_of(&e),
        }),
        ErrorKind::DatabaseMissing => Error::Database(DatabaseError::DatabaseMissing { target }),
        _ => Error::Database(DatabaseError::Connect {
            target,
            message: message_of(&e),
        }),
    }
}

/// Runs a connection attempt under the URL's `connect_timeout` and sorts its failure into
/// "does not exist" (for `missing_db_code`) or "unreachable".
async fn connect_with_timeout<C>(
    url: &DatabaseUrl,
    target: &str,
    classify: Classify,
    attempt: impl Future<Output = Result<C, sqlx::Error>>,
) -> Result<C, Error> {
    let result = match url.connect_timeout() {
        Some(limit) => match tokio::time::timeout(limit, attempt).await {
            Ok(result) => result,
            Err(_) => {
                return Err(Error::Database(DatabaseError::Connect {
                    target: target.to_string(),
                    message: format!("no answer within {}s (connect_timeout)", limit.as_secs()),
                }));
            }
        },
        None => attempt.await,
    };
    result.map_err(connect_error(target, classify))
}

/// Quotes an identifier the ANSI way (`"name"`), doubling inner quotes.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A label that tells other sessions who holds the lock: process id and host.
fn session_label() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("safemig pid {} on {host}", std::process::id())
}
