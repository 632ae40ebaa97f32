//! MySQL and MariaDB: `GET_LOCK` as Prisma takes it (but a refused lock is a refusal), and
//! DDL that commits implicitly, so a migration can never run inside a transaction here.

use crate::error::ConfigError;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlSslMode};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::{
    Canceller, ErrorKind, Inspect, LockHolder, MigrationLock, Namespace, ScratchDatabases,
    ScriptError, Session, Snapshot, StatementProgress, TableSize, connect_error,
    connect_with_timeout, history_store, query_error,
};
use crate::Error;
use crate::database_url::{DatabaseUrl, percent_decode};
use crate::history;
use crate::provider::Provider;
use crate::schema::{Detail, Schema};
use crate::sql::{ScriptProfile, Target};

/// Prisma's lock name (ARCHITECTURE.md, "The Prisma contract").
const LOCK_NAME: &str = "prisma_migrate";

pub struct Mysql {
    pub(super) conn: MySqlConnection,
    pub(super) url: DatabaseUrl,
    /// The server's `max_allowed_packet`: the largest statement it accepts.
    max_packet: u64,
    /// The URL's database: a migration's `USE other` must not move the history.
    pub(super) database: String,
    /// `` `database`.`_prisma_migrations` ``, qualified for the same reason.
    history: String,
    target: String,
    canceller: Arc<MysqlCanceller>,
}

/// Cancels through `KILL QUERY` on a second connection.
struct MysqlCanceller {
    options: MySqlConnectOptions,
    connection_id: u64,
    target: String,
}

#[async_trait]
impl Canceller for MysqlCanceller {
    async fn cancel(&self) -> Result<(), Error> {
        self.kill("QUERY", "cancelling the running statement").await
    }

    async fn terminate(&self) -> Result<(), Error> {
        self.kill("CONNECTION", "terminating the session").await
    }

    /// MariaDB's `PROCESSLIST.PROGRESS`, the percentage of the current stage (a 12-million
    /// row copy showed 87 % in stage 1 of 2, then 0 % in stage 2), reported by `ALTER
    /// TABLE` copies, index builds and `LOAD DATA`; a
    /// statement that reports nothing has `MAX_STAGE` 0. MySQL has no such columns: the
    /// query fails there, and the caller goes on without a report.
    async fn progress(&self) -> Result<Option<StatementProgress>, Error> {
        let mut conn = self.connection().await?;
        let row: Option<(Option<String>, u64, u64, f64)> = sqlx::query_as(
            "SELECT CAST(STATE AS CHAR), CAST(STAGE AS UNSIGNED), CAST(MAX_STAGE AS UNSIGNED), \
                    CAST(PROGRESS AS DOUBLE) \
               FROM information_schema.PROCESSLIST WHERE ID = ? AND MAX_STAGE > 0",
        )
        .bind(self.connection_id)
        .fetch_optional(&mut conn)
        .await
        .map_err(query_error(
            "reading the statement's progress",
            &self.target,
            classify,
        ))?;
        Ok(
            row.map(|(state, stage, max_stage, percent)| StatementProgress {
                phase: format!(
                    "{} (stage {stage} of {max_stage})",
                    state.unwrap_or_default().to_lowercase()
                ),
                percent: Some(percent),
            }),
        )
    }

    /// The connection's state when it waits for a lock ("Waiting for table metadata
    /// lock"), with the other connections in an open transaction: MySQL and MariaDB do not
    /// say who holds a metadata lock without performance_schema's instruments (off by
    /// default), and an application's open transaction is the usual holder.
    async fn waiting_for(&self) -> Result<Option<String>, Error> {
        let mut conn = self.connection().await?;
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT CAST(p.STATE AS CHAR), \
                    (SELECT CAST(GROUP_CONCAT(t.trx_mysql_thread_id ORDER BY t.trx_started) AS CHAR) \
                       FROM information_schema.INNODB_TRX t WHERE t.trx_mysql_thread_id <> p.ID) \
             FROM information_schema.PROCESSLIST p \
             WHERE p.ID = ? AND p.STATE LIKE 'Waiting for%lock'",
        )
        .bind(self.connection_id)
        .fetch_optional(&mut conn)
        .await
        .map_err(query_error(
            "looking at what the statement waits for",
            &self.target,
            classify,
        ))?;
        Ok(row.map(|(state, open)| {
            let mut text = state.unwrap_or_default().to_lowercase();
            if let Some(open) = open.filter(|o| !o.is_empty()) {
                let plural = if open.contains(',') { "s" } else { "" };
                text.push_str(&format!(
                    "; open transactions, the likely holders: MySQL connection{plural} {}",
                    open.replace(',', ", ")
                ));
            }
            text
        }))
    }
}

impl MysqlCanceller {
    /// A second connection to the server: what a canceller asks or does goes through it,
    /// since the first is busy with the statement.
    async fn connection(&self) -> Result<MySqlConnection, Error> {
        MySqlConnection::connect_with(&self.options)
            .await
            .map_err(connect_error(&self.target, classify))
    }

    /// `KILL QUERY|CONNECTION id` on a second connection.
    async fn kill(&self, what: &str, action: &str) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        sqlx::raw_sql(AssertSqlSafe(format!("KILL {what} {}", self.connection_id)))
            .execute(&mut conn)
            .await
            .map_err(query_error(action, &self.target, classify))?;
        Ok(())
    }
}

/// Makes the session the one the `mariadb` and `mysql` clients (and Prisma's driver) get,
/// and records it for [`RESET_SESSION`]. sqlx's handshake sets the `CLIENT_IGNORE_SPACE`
/// capability, with which the server adds `IGNORE_SPACE` to the session's `sql_mode`:
/// function names become reserved (`CREATE TABLE count (i INT)` is a syntax error) and
/// every trigger and routine a migration creates stores that mode. It is taken out again
/// unless the server's own default has it.
const CLIENT_SESSION: &str = "SET SESSION sql_mode = IF(FIND_IN_SET('IGNORE_SPACE', @@GLOBAL.sql_mode) > 0, \
      @@SESSION.sql_mode, \
      TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',IGNORE_SPACE,', ','))); \
    SET @safemig_sql_mode = @@SESSION.sql_mode, \
      @safemig_character_set_client = @@SESSION.character_set_client, \
      @safemig_character_set_results = @@SESSION.character_set_results, \
      @safemig_collation_connection = @@SESSION.collation_connection, \
      @safemig_time_zone = @@SESSION.time_zone, \
      @safemig_foreign_key_checks = @@SESSION.foreign_key_checks, \
      @safemig_unique_checks = @@SESSION.unique_checks, \
      @safemig_sql_notes = @@SESSION.sql_notes, \
      @safemig_default_storage_engine = @@SESSION.default_storage_engine";

/// Sets back what a migration, or a dump's header, commonly changes in its session and
/// what changes how later statements are read or what they create (the `sql_mode` stored
/// with a trigger, the character set of its text, foreign key checks), to its value at
/// connect ([`CLIENT_SESSION`]): the next migration starts where the client's new session
/// per file starts. (MySQL has no `RESET ALL`; `RESET CONNECTION` would drop the lock.)
const RESET_SESSION: &str = "SET SESSION sql_mode = @safemig_sql_mode, \
      character_set_client = @safemig_character_set_client, \
      character_set_results = @safemig_character_set_results, \
      collation_connection = @safemig_collation_connection, \
      time_zone = @safemig_time_zone, \
      foreign_key_checks = @safemig_foreign_key_checks, \
      unique_checks = @safemig_unique_checks, \
      sql_notes = @safemig_sql_notes, \
      default_storage_engine = @safemig_default_storage_engine";

/// MySQL's "table doesn't exist" error number.
const ER_NO_SUCH_TABLE: u16 = 1146;

/// Everything that defines the current database's schema, one line per fact, in a stable
/// order: what a statement without a known target may have changed.
const SCHEMA_FINGERPRINT: &str = "SELECT r FROM ( \
    SELECT CONCAT_WS('|', 'table', TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION) AS r \
      FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
    UNION ALL SELECT CONCAT_WS('|', 'column', TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, \
      IS_NULLABLE, IFNULL(COLUMN_DEFAULT, '<null>'), EXTRA, IFNULL(COLLATION_NAME, '')) \
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
    UNION ALL SELECT CONCAT_WS('|', 'index', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, \
      NON_UNIQUE, IFNULL(SUB_PART, '')) \
      FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
    UNION ALL SELECT CONCAT_WS('|', 'fk', TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, \
      UPDATE_RULE, DELETE_RULE) \
      FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
    UNION ALL SELECT CONCAT_WS('|', 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, \
      EVENT_MANIPULATION, MD5(ACTION_STATEMENT)) \
      FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
    UNION ALL SELECT CONCAT_WS('|', 'routine', ROUTINE_NAME, ROUTINE_TYPE, MD5(IFNULL(ROUTINE_DEFINITION, ''))) \
      FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() \
    ) facts ORDER BY r";

/// MySQL's and MariaDB's error numbers, as safemig must read them.
fn classify(e: &sqlx::Error) -> ErrorKind {
    if let Some(kind) = super::transport_kind(e) {
        return kind;
    }
    let number = match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(|e| e.number()),
        _ => None,
    };
    match number.unwrap_or_default() {
        // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR, password expired.
        1045 | 1698 | 1862 => ErrorKind::Authentication,
        // database, command, column and SUPER access denied; read-only server or table.
        1044 | 1142 | 1143 | 1227 | 1290 | 1036 => ErrorKind::AccessDenied,
        // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED, client: server gone, lost connection.
        1053 | 1927 | 2006 | 2013 => ErrorKind::ConnectionLost,
        // ER_BAD_DB_ERROR (its SQLSTATE, 42000, is shared with syntax errors).
        1049 => ErrorKind::DatabaseMissing,
        // ER_LOCK_WAIT_TIMEOUT: `lock_wait_timeout` (metadata locks) or InnoDB's row lock
        // wait ran out; the statement was rolled back.
        1205 => ErrorKind::LockWaitTimeout,
        _ => ErrorKind::Statement,
    }
}

impl Mysql {
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, Error> {
        let parsed = url.server_url().expect("a MySQL URL names a server");
        let database = percent_decode(parsed.path().trim_start_matches('/'));
        let (host, port) = url.host_port().expect("a MySQL URL names a server");
        let mut options = MySqlConnectOptions::new()
            .host(&host)
            .port(port)
            .username(&percent_decode(parsed.username()))
            // Leave the session as Prisma's driver leaves it: server defaults for sql_mode
            // (sqlx would add PIPES_AS_CONCAT, changing what `||` means in a script) and
            // for the time zone. History timestamps are written as explicit UTC values.
            .pipes_as_concat(false)
            .no_engine_substitution(false)
            .timezone(None);
        if let Some(password) = parsed.password() {
            options = options.password(&percent_decode(password));
        }
        if !database.is_empty() {
            options = options.database(&database);
        }
        if let Some(socket) = url.param("socket") {
            options = options.socket(socket);
        }
        if let Some(ca) = url.param("sslcert") {
            options = options.ssl_ca(ca);
        }
        match url.param("sslaccept").as_deref() {
            Some("strict") => options = options.ssl_mode(MySqlSslMode::VerifyIdentity),
            Some("accept_invalid_certs") => options = options.ssl_mode(MySqlSslMode::Required),
            _ => {}
        }
        let target = url.describe();
        if database.is_empty() {
            return Err(Error::Config(ConfigError::InvalidUrl {
                origin: "the database URL".into(),
                reason: "it names no database (expected mysql://USER:PASSWORD@HOST:PORT/DATABASE)"
                    .into(),
            }));
        }
        let mut conn = connect_with_timeout(
            url,
            &target,
            classify,
            MySqlConnection::connect_with(&options),
        )
        .await?;
        sqlx::raw_sql(AssertSqlSafe(CLIENT_SESSION.to_string()))
            .execute(&mut conn)
            .await
            .map_err(query_error("setting up the session", &target, classify))?;
        let connection_id: u64 = sqlx::query_scalar("SELECT CAST(CONNECTION_ID() AS UNSIGNED)")
            .fetch_one(&mut conn)
            .await
            .map_err(query_error("reading the connection id", &target, classify))?;
        let max_packet: u64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS UNSIGNED)")
            .fetch_one(&mut conn)
            .await
            .map_err(query_error("reading max_allowed_packet", &target, classify))?;
        let canceller = Arc::new(MysqlCanceller {
            options,
            connection_id,
            target: target.clone(),
        });
        Ok(Mysql {
            conn,
            url: url.clone(),
            max_packet,
            history: format!("{}.{}", quote_name(&database), quote_name(history::TABLE)),
            database,
            target,
            canceller,
        })
    }

    pub(super) fn err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> Error {
        query_error(action, &self.target, classify)
    }

    /// Whether connection `id` waits for an InnoDB row lock, and since when: "waiting for
    /// a row lock for 12s". `None` also when the login may not read InnoDB's transactions
    /// (they need the PROCESS privilege): the waiter then only sees the statement run.
    async fn row_lock_wait(&mut self, id: i64) -> Option<String> {
        let waited: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()) AS SIGNED) \
             FROM information_schema.INNODB_TRX \
             WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
        )
        .bind(id)
        .fetch_optional(&mut self.conn)
        .await
        .ok()??;
        Some(format!(
            "waiting for a row lock for {}s",
            waited.unwrap_or(0)
        ))
    }
}

#[async_trait]
impl Session for Mysql {
    fn provider(&self) -> Provider {
        Provider::Mysql
    }

    fn target(&self) -> &str {
        &self.target
    }

    async fn run_script(&mut self, script: &str) -> Result<(), ScriptError> {
        // One multi-statement query, as Prisma sends it; the server stops at the first error.
        sqlx::raw_sql(AssertSqlSafe(script.to_string()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| ScriptError::new(e, classify))?;
        Ok(())
    }

    // Transactions work here, but DDL inside one commits it implicitly: deploy never wraps
    // a MySQL migration in one (`transactional_ddl` is false).
    async fn begin(&mut self, _profile: &ScriptProfile) -> Result<(), Error> {
        sqlx::raw_sql("START TRANSACTION")
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

    fn refuse_statement(&self, sql: &str) -> Option<String> {
        // The query packet holds the statement and a one-byte command.
        let size = sql.len() as u64 + 1;
        (size > self.max_packet).then(|| {
            format!(
                "the statement is {}, over the server's max_allowed_packet of {}: the server would drop the connection; raise max_allowed_packet (SET GLOBAL max_allowed_packet = {}, and in the server's configuration), or split the statement",
                crate::text::size(size),
                crate::text::size(self.max_packet),
                size.next_power_of_two().min(1 << 30)
            )
        })
    }

    async fn set_lock_wait(&mut self, wait: std::time::Duration) -> Result<(), Error> {
        // Whole seconds, at least 1 (the variable's unit and minimum): rounded up, so a
        // wait is never shorter than asked.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let set = format!("SET SESSION lock_wait_timeout = {}", seconds.max(1));
        sqlx::raw_sql(AssertSqlSafe(set))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("setting the lock wait"))?;
        Ok(())
    }

    async fn reset_session(&mut self) -> Result<(), Error> {
        // Back to the URL's database after a migration's `USE`, and to the session's
        // settings at connect. (Not RESET CONNECTION or COM_RESET_CONNECTION: they would
        // release the GET_LOCK lock.)
        let reset = format!("USE {}; {RESET_SESSION}", quote_name(&self.database));
        sqlx::raw_sql(AssertSqlSafe(reset))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("resetting the session"))?;
        Ok(())
    }

    fn canceller(&self) -> Arc<dyn Canceller> {
        self.canceller.clone()
    }
}

#[async_trait]
impl MigrationLock for Mysql {
    async fn try_lock(&mut self) -> Result<bool, Error> {
        // 1: taken; 0: held by another session; NULL: an error. Prisma treats anything but
        // an error as success; a 0 here must mean "not ours".
        let got: Option<i64> = sqlx::query_scalar("SELECT CAST(GET_LOCK(?, 0) AS SIGNED)")
            .bind(LOCK_NAME)
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("taking the migration lock"))?;
        Ok(got == Some(1))
    }

    async fn holds_lock(&mut self) -> Result<bool, Error> {
        let ours: Option<i64> =
            sqlx::query_scalar("SELECT CAST(IS_USED_LOCK(?) = CONNECTION_ID() AS SIGNED)")
                .bind(LOCK_NAME)
                .fetch_one(&mut self.conn)
                .await
                .map_err(self.err("checking the migration lock"))?;
        Ok(ours == Some(1))
    }

    async fn lock_holder(&mut self) -> Result<Option<LockHolder>, Error> {
        let holder: Option<i64> = sqlx::query_scalar("SELECT CAST(IS_USED_LOCK(?) AS SIGNED)")
            .bind(LOCK_NAME)
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("looking up the lock holder"))?;
        let Some(id) = holder else { return Ok(None) };
        let row = sqlx::query(
            "SELECT CAST(USER AS CHAR), CAST(HOST AS CHAR), CAST(COMMAND AS CHAR), TIME, \
                    CAST(CONCAT_WS('|', COMMAND, STATE, MD5(INFO)) AS CHAR), CAST(STATE AS CHAR) \
             FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(self.err("looking up the lock holder"))?;
        let Some(r) = row else {
            return Ok(Some(LockHolder {
                description: format!("MySQL connection {id}"),
                busy: false,
                waiting: None,
                activity: String::new(),
            }));
        };
        let user: Option<String> = r.get(0);
        let host: Option<String> = r.get(1);
        let command: String = r.get::<Option<String>, _>(2).unwrap_or_default();
        let time: i64 = r.try_get(3).unwrap_or_default();
        let state: String = r.get::<Option<String>, _>(5).unwrap_or_default();
        // A metadata or table lock shows in the state ("Waiting for table metadata lock");
        // a row lock only in InnoDB's transactions.
        let waiting = if state.starts_with("Waiting for") && state.ends_with("lock") {
            Some(format!("{} for {time}s", state.to_lowercase()))
        } else if command == "Query" {
            self.row_lock_wait(id).await
        } else {
            None
        };
        Ok(Some(LockHolder {
            description: format!(
                "MySQL connection {id} (user {}, from {}, {} for {time}s)",
                user.unwrap_or_default(),
                host.unwrap_or_default(),
                command.to_lowercase(),
            ),
            // A statement runs, or one ended within the last second.
            busy: command == "Query" || time < 1,
            waiting,
            activity: r.get::<Option<String>, _>(4).unwrap_or_default(),
        }))
    }

    async fn unlock(&mut self) -> Result<(), Error> {
        sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(LOCK_NAME)
            .execute(&mut self.conn)
            .await
            .map_err(self.err("releasing the migration lock"))?;
        Ok(())
    }
}

#[async_trait]
impl Inspect for Mysql {
    async fn table_sizes(&mut self) -> Result<BTreeMap<String, TableSize>, Error> {
        // InnoDB's statistics: TABLE_ROWS is an estimate, the lengths are pages in use.
        let rows: Vec<(String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_ROWS AS SIGNED), \
                    CAST(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS SIGNED) \
             FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("reading table sizes"))?;
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

    async fn namespaces(&mut self) -> Result<Option<Vec<Namespace>>, Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CAST(s.SCHEMA_NAME AS CHAR), CAST(EXISTS (SELECT 1 FROM information_schema.TABLES t \
                 WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME AND t.TABLE_NAME = ?) AS SIGNED) \
             FROM information_schema.SCHEMATA s \
             WHERE s.SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             ORDER BY 1",
        )
        .bind(history::TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the databases"))?;
        Ok(Some(
            rows.into_iter()
                .map(|(name, has_history)| Namespace {
                    name,
                    has_history: has_history != 0,
                })
                .collect(),
        ))
    }

    async fn history_exists(&mut self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(history::TABLE)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("looking for _prisma_migrations"))?;
        Ok(count > 0)
    }

    async fn user_objects(&mut self) -> Result<Vec<String>, Error> {
        sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
               AND TABLE_NAME <> ? \
             ORDER BY TABLE_NAME",
        )
        .bind(history::TABLE)
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the database's tables"))
    }

    async fn schema(&mut self, detail: Detail) -> Result<Option<Schema>, Error> {
        let schema = super::mysql_schema::read(&mut self.conn, &self.database, detail)
            .await
            .map_err(self.err("reading the schema"))?;
        Ok(Some(schema))
    }

    async fn snapshot(&mut self, target: &Target) -> Result<Option<Snapshot>, Error> {
        match target {
            Target::Tables(names) => {
                let mut state = String::new();
                let mut exists = true;
                for name in names {
                    match self.table_definition(name).await? {
                        Some(definition) => state.push_str(&definition),
                        None => {
                            exists = false;
                            state.push_str(&format!("{name}: absent"));
                        }
                    }
                    state.push('\n');
                }
                Ok(Some(Snapshot {
                    exists,
                    ..Snapshot::complete(state)
                }))
            }
            Target::Database => {
                let facts: Vec<String> = sqlx::query_scalar(SCHEMA_FINGERPRINT)
                    .fetch_all(&mut self.conn)
                    .await
                    .map_err(self.err("reading the schema"))?;
                Ok(Some(Snapshot::complete(facts.join("\n"))))
            }
            _ => Ok(None),
        }
    }
}

// DATETIME(3) holds UTC without a zone, as Prisma writes it.
history_store::impl_history_access!(
    Mysql,
    history_store::MYSQL,
    bind_count: |count| count,
    bind_time: |time| time.map(|t| t.naive_utc()),
    read_count: |row, i| row.try_get(i)?,
    read_time: |row, i| row.try_get::<Option<NaiveDateTime>, _>(i)?.map(|t| t.and_utc()),
    extra: {
        fn history_table_in(&self, namespace: &str) -> Option<String> {
            Some(format!("{}.{}", quote_name(namespace), quote_name(history::TABLE)))
        }
    }
);

/// Quotes a MySQL identifier with backticks.
pub(super) fn quote_name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Mysql {
    /// `SHOW CREATE TABLE` without the AUTO_INCREMENT counter (data, not schema); `None`
    /// when there is no such table.
    async fn table_definition(&mut self, name: &str) -> Result<Option<String>, Error> {
        let sql = format!("SHOW CREATE TABLE {}", quote_name(name));
        match sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
        {
            Ok(row) => {
                let definition: String = row
                    .try_get(1)
                    .map_err(self.err("reading a table definition"))?;
                Ok(Some(without_auto_increment(&definition)))
            }
            Err(sqlx::Error::Database(db))
                if db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == ER_NO_SUCH_TABLE) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err("reading a table definition")(e)),
        }
    }
}

fn without_auto_increment(definition: &str) -> String {
    definition
        .split(' ')
        .filter(|part| !part.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl ScratchDatabases for Mysql {
    /// With the live database's default character set and collation, which every table
    /// created without its own inherits.
    async fn create_scratch(&mut self, name: &str) -> Result<DatabaseUrl, Error> {
        let (charset, collation): (String, String) = sqlx::query_as(
            "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR), CAST(DEFAULT_COLLATION_NAME AS CHAR) \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        )
        .bind(&self.database)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("reading the database's character set"))?;
        let create = format!(
            "CREATE DATABASE {} CHARACTER SET {} COLLATE {}",
            quote_name(name),
            quote_name(&charset),
            quote_name(&collation)
        );
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("creating a scratch database"))?;
        Ok(self
            .url
            .with_database(name)
            .expect("a MySQL URL names a server"))
    }

    async fn scratch_fingerprint(&mut self) -> Result<String, Error> {
        sqlx::query_scalar(
            "SELECT CAST(CONCAT_WS(' ', VERSION(), DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME) AS CHAR) \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        )
        .bind(&self.database)
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("reading the server's version"))
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<(), Error> {
        let drop = format!("DROP DATABASE IF EXISTS {}", quote_name(name));
        sqlx::raw_sql(AssertSqlSafe(drop))
            .execute(&mut self.conn)
            .await
            .map_err(self.err("dropping the scratch database"))?;
        Ok(())
    }
}
