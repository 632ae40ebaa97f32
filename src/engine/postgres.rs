//! PostgreSQL: history in the URL's `?schema=`, a session-scoped advisory lock, and DDL that
//! rolls back, so a whole migration can run in one transaction with its history row.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::{
    Canceller, ErrorKind, Inspect, LockHolder, MigrationLock, Namespace, ScratchDatabases,
    ScriptError, Session, Snapshot, StatementProgress, TableSize, connect_error,
    connect_with_timeout, history_store, query_error, quote_ident, session_label,
};
use crate::Error;
use crate::database_url::{DatabaseUrl, percent_decode};
use crate::history;
use crate::provider::Provider;
use crate::schema::{Detail, Schema};
use crate::sql::{ScriptProfile, Target};

/// Prisma's advisory lock key (ARCHITECTURE.md, "The Prisma contract").
const LOCK_KEY: i64 = 72707369;

pub struct Postgres {
    pub(super) conn: PgConnection,
    pub(super) url: DatabaseUrl,
    pub(super) schema: String,
    /// `"schema"."_prisma_migrations"`: qualified, so that a migration that changes the
    /// session's `search_path` cannot move the history out of reach.
    history: String,
    target: String,
    canceller: Arc<PgCanceller>,
}

/// Cancels through `pg_cancel_backend` on a second connection.
struct PgCanceller {
    options: PgConnectOptions,
    pid: i32,
    target: String,
}

#[async_trait]
impl Canceller for PgCanceller {
    async fn cancel(&self) -> Result<(), Error> {
        self.signal(
            &["pg_cancel_backend($1)"],
            "cancelling the running statement",
        )
        .await
    }

    /// Waits (PostgreSQL ≥ 14) until the backend is gone: the client sees its connection
    /// close before the backend has released its locks and left `pg_stat_activity`, and a
    /// deploy that exits must leave neither behind for the next one to trip over. Older
    /// servers have only the form that does not wait.
    async fn terminate(&self) -> Result<(), Error> {
        let waiting = format!("pg_terminate_backend($1, {TERMINATE_WAIT_MS})");
        self.signal(
            &[&waiting, "pg_terminate_backend($1)"],
            "terminating the session",
        )
        .await
    }

    /// From the progress views of PostgreSQL 12 and later (index builds, and the table
    /// copies of `CLUSTER` and `VACUUM FULL`; an `ALTER TABLE` rewrite reports nothing).
    /// An index build counts blocks while it scans the table, then tuples while it sorts
    /// and loads: the current phase's count is what moves.
    async fn progress(&self) -> Result<Option<StatementProgress>, Error> {
        let mut conn = self.connection().await?;
        let row: Option<(String, Option<f64>)> = sqlx::query_as(
            "SELECT command || ': ' || phase, \
                    (CASE WHEN blocks_total > 0 THEN 100.0 * blocks_done / blocks_total \
                          WHEN tuples_total > 0 THEN 100.0 * tuples_done / tuples_total END)::float8 \
               FROM pg_stat_progress_create_index WHERE pid = $1 \
             UNION ALL \
             SELECT command || ': ' || phase, \
                    (CASE WHEN heap_blks_total > 0 \
                          THEN 100.0 * heap_blks_scanned / heap_blks_total END)::float8 \
               FROM pg_stat_progress_cluster WHERE pid = $1 \
             LIMIT 1",
        )
        .bind(self.pid)
        .fetch_optional(&mut conn)
        .await
        .map_err(query_error(
            "reading the statement's progress",
            &self.target,
            classify,
        ))?;
        Ok(row.map(|(phase, percent)| StatementProgress { phase, percent }))
    }

    async fn waiting_for(&self) -> Result<Option<String>, Error> {
        let mut conn = self.connection().await?;
        let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT a.wait_event, \
                    (SELECT w.relation::regclass::text FROM pg_locks w \
                      WHERE w.pid = a.pid AND NOT w.granted AND w.relation IS NOT NULL LIMIT 1), \
                    array_to_string(pg_blocking_pids(a.pid), ', ') \
             FROM pg_stat_activity a WHERE a.pid = $1 AND a.wait_event_type = 'Lock'",
        )
        .bind(self.pid)
        .fetch_optional(&mut conn)
        .await
        .map_err(query_error(
            "looking at what the statement waits for",
            &self.target,
            classify,
        ))?;
        Ok(row.map(|(lock, relation, blockers)| {
            lock_wait(
                lock.as_deref().unwrap_or("heavyweight"),
                relation,
                blockers.as_deref(),
            )
        }))
    }
}

/// How long `pg_terminate_backend` waits for the backend to exit; below
/// [`crate::interrupt::TERMINATE_GRACE`], which bounds the whole request.
const TERMINATE_WAIT_MS: u64 = 1500;

impl PgCanceller {
    /// A second connection to the server: what a canceller asks or does goes through it,
    /// since the first is busy with the statement.
    async fn connection(&self) -> Result<PgConnection, Error> {
        PgConnection::connect_with(&self.options)
            .await
            .map_err(connect_error(&self.target, classify))
    }

    /// Calls the first of `calls` (functions of the backend's pid, `$1`) that the server
    /// has, on a second connection.
    async fn signal(&self, calls: &[&str], action: &str) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        let mut result = Ok(());
        for call in calls {
            result = sqlx::query(AssertSqlSafe(format!("SELECT {call}")))
                .bind(self.pid)
                .execute(&mut conn)
                .await
                .map(drop);
            let undefined_function = matches!(&result, Err(sqlx::Error::Database(db))
                if db.code().as_deref() == Some("42883"));
            if !undefined_function {
                break;
            }
        }
        result.map_err(query_error(action, &self.target, classify))
    }
}

/// PostgreSQL's SQLSTATEs, as safemig must read them.
fn classify(e: &sqlx::Error) -> ErrorKind {
    if let Some(kind) = super::transport_kind(e) {
        return kind;
    }
    let sqlx::Error::Database(db) = e else {
        return ErrorKind::Statement;
    };
    match db.code().as_deref().unwrap_or_default() {
        // connection_exception; admin_shutdown, crash_shutdown, cannot_connect_now.
        code if code.starts_with("08") => ErrorKind::ConnectionLost,
        "57P01" | "57P02" | "57P03" => ErrorKind::ConnectionLost,
        // invalid_catalog_name: the database does not exist.
        "3D000" => ErrorKind::DatabaseMissing,
        // invalid_password, invalid_authorization_specification.
        "28P01" | "28000" => ErrorKind::Authentication,
        // insufficient_privilege, read_only_sql_transaction.
        "42501" | "25006" => ErrorKind::AccessDenied,
        // active_sql_transaction (e.g. CONCURRENTLY inside a DO block the splitter cannot
        // see into), unsafe_new_enum_value_usage (an enum value added and used at once).
        "25001" | "55P04" => ErrorKind::NeedsNoTransaction,
        // lock_not_available: `lock_timeout` ran out (or NOWAIT found the lock taken).
        "55P03" => ErrorKind::LockWaitTimeout,
        _ => ErrorKind::Statement,
    }
}

/// Unqualified names in migrations resolve in the URL's schema, as they do for Prisma.
async fn set_search_path(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    let set_path = format!("SET search_path TO {}", quote_ident(schema));
    sqlx::raw_sql(AssertSqlSafe(set_path)).execute(conn).await?;
    Ok(())
}

impl Postgres {
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, Error> {
        let parsed = url.server_url().expect("a PostgreSQL URL names a server");
        let database = percent_decode(parsed.path().trim_start_matches('/'));
        let user = percent_decode(parsed.username());
        let schema = url.schema().expect("PostgreSQL has schemas");
        let (host, port) = url.host_port().expect("a PostgreSQL URL names a server");

        let mut options = PgConnectOptions::new_without_pgpass()
            .host(&host)
            .port(port)
            .application_name(&session_label());
        if let Some(socket_dir) = url.param("host") {
            options = options.socket(socket_dir);
        }
        if !user.is_empty() {
            options = options.username(&user);
        }
        if let Some(password) = parsed.password() {
            options = options.password(&percent_decode(password));
        }
        if !database.is_empty() {
            options = options.database(&database);
        }
        if let Some(mode) = url.param("sslmode") {
            options = options.ssl_mode(match mode.as_str() {
                "disable" => PgSslMode::Disable,
                "require" => PgSslMode::Require,
                "verify-ca" => PgSslMode::VerifyCa,
                "verify-full" => PgSslMode::VerifyFull,
                _ => PgSslMode::Prefer,
            });
        }
        // Prisma calls the CA certificate `sslcert`.
        if let Some(ca) = url.param("sslrootcert").or_else(|| url.param("sslcert")) {
            options = options.ssl_root_cert(ca);
        }

        let target = url.describe();
        let mut conn =
            connect_with_timeout(url, &target, classify, PgConnection::connect_with(&options))
                .await?;
        set_search_path(&mut conn, &schema)
            .await
            .map_err(query_error("setting the search path", &target, classify))?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .map_err(query_error("reading the session id", &target, classify))?;
        let canceller = Arc::new(PgCanceller {
            options,
            pid,
            target: target.clone(),
        });
        Ok(Postgres {
            conn,
            url: url.clone(),
            history: format!("{}.{}", quote_ident(&schema), quote_ident(history::TABLE)),
            schema,
            target,
            canceller,
        })
    }

    pub(super) fn err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> Error {
        query_error(action, &self.target, classify)
    }
}

#[async_trait]
impl Session for Postgres {
    fn provider(&self) -> Provider {
        Provider::Postgres
    }

    fn target(&self) -> &str {
        &self.target
    }

    async fn run_script(&mut self, script: &str) -> Result<(), ScriptError> {
        // One simple-query message, as Prisma sends it.
        sqlx::raw_sql(AssertSqlSafe(script.to_string()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| ScriptError::new(e, classify))?;
        Ok(())
    }

    async fn begin(&mut self, _profile: &ScriptProfile) -> Result<(), Error> {
        sqlx::raw_sql("BEGIN")
            .execute(&mut self.conn)
            .await
            .map_err(self.err("starting a transaction"))?;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), ScriptError> {
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.conn)
            .await
            .map_err(|e| ScriptError::new(e, classify))?;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), Error> {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .map_err(self.err("rolling back"))?;
        Ok(())
    }

    async fn set_lock_wait(&mut self, wait: std::time::Duration) -> Result<(), Error> {
        // Whole milliseconds, at least 1: 0 would mean no limit.
        let set = format!("SET lock_timeout = {}", wait.as_millis().max(1));
        sqlx::raw_sql(AssertSqlSafe(set))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("setting the lock wait"))?;
        Ok(())
    }

    async fn reset_session(&mut self) -> Result<(), Error> {
        // Everything a migration may have SET (search_path, role, timeouts) back to the
        // connection's defaults. Not DISCARD ALL: it would release the advisory lock.
        sqlx::raw_sql("RESET ALL")
            .execute(&mut self.conn)
            .await
            .map_err(self.err("resetting the session"))?;
        set_search_path(&mut self.conn, &self.schema)
            .await
            .map_err(self.err("setting the search path"))
    }

    fn canceller(&self) -> Arc<dyn Canceller> {
        self.canceller.clone()
    }

    async fn reuse_for(&mut self, url: &DatabaseUrl) -> Result<bool, Error> {
        // The same server, database and login; only the schema differs.
        let same = |u: &DatabaseUrl| {
            let mut server = u.server_url().cloned();
            if let Some(server) = &mut server {
                server.set_query(None);
            }
            server
        };
        let Some(schema) = url.schema() else {
            return Ok(false);
        };
        if same(url) != same(&self.url) {
            return Ok(false);
        }
        // What a migration may leave in the session beyond its settings: temporary
        // tables and session-level advisory locks of its own (this connection holds no
        // migration lock: the fan-out's holder does).
        sqlx::raw_sql("RESET ALL; DISCARD TEMP; SELECT pg_advisory_unlock_all()")
            .execute(&mut self.conn)
            .await
            .map_err(self.err("resetting the session for the next tenant"))?;
        let target = url.describe();
        set_search_path(&mut self.conn, &schema)
            .await
            .map_err(query_error("setting the search path", &target, classify))?;
        self.history = format!("{}.{}", quote_ident(&schema), quote_ident(history::TABLE));
        self.schema = schema;
        self.canceller = Arc::new(PgCanceller {
            options: self.canceller.options.clone(),
            pid: self.canceller.pid,
            target: target.clone(),
        });
        self.target = target;
        self.url = url.clone();
        Ok(true)
    }
}

/// What a session blocked on a lock waits for: "waiting for a relation lock on users,
/// held by PostgreSQL session 4242".
fn lock_wait(lock: &str, relation: Option<String>, blockers: Option<&str>) -> String {
    let mut text = format!("waiting for a {lock} lock");
    if let Some(relation) = relation {
        text.push_str(&format!(" on {relation}"));
    }
    match blockers.filter(|b| !b.is_empty()) {
        Some(pids) if pids.contains(',') => {
            text.push_str(&format!(", held by PostgreSQL sessions {pids}"))
        }
        Some(pid) => text.push_str(&format!(", held by PostgreSQL session {pid}")),
        None => {}
    }
    text
}

#[async_trait]
impl MigrationLock for Postgres {
    async fn try_lock(&mut self) -> Result<bool, Error> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("taking the migration lock"))
    }

    async fn holds_lock(&mut self) -> Result<bool, Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
               AND classid = 0 AND objid = $1 AND objsubid = 1 AND pid = pg_backend_pid())",
        )
        .bind(LOCK_KEY)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("checking the migration lock"))
    }

    async fn lock_holder(&mut self) -> Result<Option<LockHolder>, Error> {
        // A bigint advisory key is stored as classid = high 32 bits, objid = low 32 bits.
        // Advisory locks belong to a database: sessions in other databases holding the
        // same key are not in the way.
        // A holder whose statement waits on a heavyweight lock (wait_event_type 'Lock'):
        // the kind of lock, the relation when it is one, and who holds it.
        let row = sqlx::query(
            "SELECT a.pid, a.usename::text, a.application_name, host(a.client_addr), \
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), \
                    a.state, concat_ws('|', a.state, a.query_start, a.state_change, a.xact_start), \
                    CASE WHEN a.wait_event_type = 'Lock' THEN a.wait_event END, \
                    CASE WHEN a.wait_event_type = 'Lock' THEN \
                      (SELECT w.relation::regclass::text FROM pg_locks w \
                        WHERE w.pid = a.pid AND NOT w.granted AND w.relation IS NOT NULL LIMIT 1) END, \
                    CASE WHEN a.wait_event_type = 'Lock' THEN \
                      array_to_string(pg_blocking_pids(a.pid), ', ') END \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 \
               AND l.objid = $1 AND l.objsubid = 1 AND a.pid <> pg_backend_pid() \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             LIMIT 1",
        )
        .bind(LOCK_KEY)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(self.err("looking up the lock holder"))?;
        Ok(row.map(|r| {
            let pid: i32 = r.get(0);
            let user: Option<String> = r.get(1);
            let app: Option<String> = r.get(2);
            let client: Option<String> = r.get(3);
            let since: Option<String> = r.get(4);
            let mut text = format!("PostgreSQL session {pid}");
            if let Some(app) = app.filter(|a| !a.is_empty()) {
                text.push_str(&format!(" ({app})"));
            }
            if let Some(user) = user {
                text.push_str(&format!(", user {user}"));
            }
            if let Some(client) = client {
                text.push_str(&format!(", from {client}"));
            }
            if let Some(since) = since {
                text.push_str(&format!(", connected since {since} UTC"));
            }
            let state: Option<String> = r.get(5);
            LockHolder {
                description: text,
                busy: state.as_deref() == Some("active"),
                waiting: r.get::<Option<String>, _>(7).map(|lock| {
                    lock_wait(&lock, r.get(8), r.get::<Option<String>, _>(9).as_deref())
                }),
                activity: r.get::<Option<String>, _>(6).unwrap_or_default(),
            }
        }))
    }

    async fn unlock(&mut self) -> Result<(), Error> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut self.conn)
            .await
            .map_err(self.err("releasing the migration lock"))?;
        Ok(())
    }
}

#[async_trait]
impl Inspect for Postgres {
    async fn table_sizes(&mut self) -> Result<BTreeMap<String, TableSize>, Error> {
        // From the catalog only, as the planner sees the tables (VACUUM and ANALYZE keep
        // it current): pg_total_relation_size would take a lock on each table, and queue
        // behind a migration waiting for its own — the outage a forecast must not cause.
        // reltuples is -1 until the table is first vacuumed or analysed (PostgreSQL 14+).
        let rows: Vec<(String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT c.relname::text, \
                    CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END, \
                    (c.relpages::bigint + COALESCE((SELECT sum(i.relpages) FROM pg_index x \
                        JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)::bigint) \
                    * current_setting('block_size')::bigint \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')",
        )
        .bind(&self.schema)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("reading table sizes"))?;
        Ok(super::table_sizes(rows))
    }

    async fn invalid_indexes(&mut self) -> Result<Vec<String>, Error> {
        // As the schema reader marks `valid`. A build in progress shows in
        // pg_stat_progress_create_index (PostgreSQL 12+) and is no leftover; older servers
        // have no such view, and every invalid index counts there.
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("reading the server version"))?;
        const INVALID: &str = "SELECT i.relname::text FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace \
             WHERE n.nspname = $1 AND NOT (x.indisvalid AND x.indisready) ORDER BY 1";
        const INVALID_NOT_BUILDING: &str = "SELECT i.relname::text FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace \
             WHERE n.nspname = $1 AND NOT (x.indisvalid AND x.indisready) \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p \
                               WHERE p.index_relid = x.indexrelid) ORDER BY 1";
        sqlx::query_scalar(if version >= 120000 {
            INVALID_NOT_BUILDING
        } else {
            INVALID
        })
        .bind(&self.schema)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing invalid indexes"))
    }

    async fn holds_data(&mut self, table: &str, column: Option<&str>) -> Result<bool, Error> {
        let query = super::holds_data_query(self.provider(), Some(&self.schema), table, column);
        // Names quoted by the engine's DDL; the values come from the migration's schema.
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("looking for data in a table"))?;
        Ok(count > 0)
    }

    async fn namespaces(&mut self) -> Result<Option<Vec<Namespace>>, Error> {
        let rows: Vec<(String, bool)> = sqlx::query_as(
            "SELECT n.nspname::text, EXISTS (SELECT 1 FROM pg_class c \
                 WHERE c.relnamespace = n.oid AND c.relname = $1 AND c.relkind IN ('r', 'p')) \
             FROM pg_namespace n \
             WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
             ORDER BY 1",
        )
        .bind(history::TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the schemas"))?;
        Ok(Some(
            rows.into_iter()
                .map(|(name, has_history)| Namespace { name, has_history })
                .collect(),
        ))
    }

    async fn history_exists(&mut self) -> Result<bool, Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))",
        )
        .bind(&self.schema)
        .bind(history::TABLE)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("looking for _prisma_migrations"))
    }

    async fn user_objects(&mut self) -> Result<Vec<String>, Error> {
        // As Prisma counts: ordinary tables only, PostGIS's own tables aside (a view or an
        // enum alone does not make the database "not empty").
        sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r' \
               AND c.relname NOT IN ($2, 'spatial_ref_sys', 'geometry_columns', \
                                     'geography_columns', 'raster_columns', 'raster_overviews') \
             ORDER BY 1",
        )
        .bind(&self.schema)
        .bind(history::TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the schema's tables"))
    }

    async fn prisma_next_marker(&mut self) -> Result<Option<String>, Error> {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'prisma_contract')",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("looking for Prisma 8's marker"))?;
        Ok(found.then(|| "the schema `prisma_contract`".to_string()))
    }

    async fn schema(&mut self, detail: Detail) -> Result<Option<Schema>, Error> {
        let schema = super::postgres_schema::read(&mut self.conn, &self.schema, detail)
            .await
            .map_err(self.err("reading the schema"))?;
        Ok(Some(schema))
    }

    async fn snapshot(&mut self, target: &Target) -> Result<Option<Snapshot>, Error> {
        let Target::Index { name, .. } = target else {
            return Ok(None);
        };
        let index: Option<(bool, String)> = sqlx::query_as(
            "SELECT i.indisvalid AND i.indisready, pg_get_indexdef(i.indexrelid) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(&self.schema)
        .bind(name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(self.err("inspecting an index"))?;
        Ok(Some(match index {
            None => Snapshot::absent("absent"),
            Some((true, definition)) => Snapshot::complete(definition),
            // A CONCURRENTLY build or drop that was interrupted.
            Some((false, definition)) => Snapshot {
                state: format!("invalid: {definition}"),
                complete: false,
                exists: true,
            },
        }))
    }

    async fn repair_incomplete(&mut self, target: &Target) -> Result<(), Error> {
        if let Target::Index { name, create: true } = target {
            // The half-built index must go before the build can run again (with IF NOT
            // EXISTS it would silently stay invalid).
            let drop = format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
                quote_ident(&self.schema),
                quote_ident(name)
            );
            sqlx::raw_sql(AssertSqlSafe(drop))
                .execute(&mut self.conn)
                .await
                .map_err(self.err("dropping an invalid index left by an interrupted build"))?;
        }
        Ok(())
    }
}

history_store::impl_history_access!(
    Postgres,
    history_store::POSTGRES,
    bind_count: |count| count as i32,
    bind_time: |time| time,
    read_count: |row, i| row.try_get::<i32, _>(i)?.max(0) as u32,
    read_time: |row, i| row.try_get(i)?,
    extra: {
        fn history_table_in(&self, namespace: &str) -> Option<String> {
            Some(format!("{}.{}", quote_ident(namespace), quote_ident(history::TABLE)))
        }

        async fn prepare_history(&mut self) -> Result<(), Error> {
            let create_schema =
                format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&self.schema));
            sqlx::raw_sql(AssertSqlSafe(create_schema))
                .execute(&mut self.conn)
                .await
                .map_err(self.err("creating the schema"))?;
            Ok(())
        }
    }
);

#[async_trait]
impl ScratchDatabases for Postgres {
    /// From the server's default template, as the live database most likely was: what an
    /// administrator put there (an extension) is in both.
    async fn create_scratch(&mut self, name: &str) -> Result<DatabaseUrl, Error> {
        let create = format!("CREATE DATABASE {}", quote_ident(name));
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("creating a scratch database"))?;
        Ok(self
            .url
            .with_database(name)
            .expect("a PostgreSQL URL names a server"))
    }

    async fn scratch_fingerprint(&mut self) -> Result<String, Error> {
        sqlx::query_scalar(
            "SELECT concat_ws(' ', version(), pg_encoding_to_char(encoding), datcollate, datctype) \
             FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("reading the server's version"))
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<(), Error> {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
        sqlx::raw_sql(AssertSqlSafe(drop))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("dropping the scratch database"))?;
        Ok(())
    }
}
