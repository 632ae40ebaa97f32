//! MySQL and MariaDB: `GET_LOCK` as Prisma takes it (but a refused lock is a refusal), and
//! DDL that commits implicitly, so a migration can never run inside a transaction here.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::{Engine, ScriptError, connect_with_timeout, query_error};
use crate::Error;
use crate::database_url::{DatabaseUrl, percent_decode};
use crate::history::HistoryRow;
use crate::provider::Provider;
use crate::sql::ScriptProfile;

/// Prisma's lock name (DESIGN.md §2).
const LOCK_NAME: &str = "prisma_migrate";

/// MySQL's "Unknown database" error number.
const ER_BAD_DB_ERROR: &str = "1049";

const CREATE_HISTORY: &str = r#"CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             DATETIME(3),
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          DATETIME(3),
    started_at              DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"#;

pub struct Mysql {
    conn: MySqlConnection,
    target: String,
}

impl Mysql {
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, Error> {
        let parsed = url.server_url().expect("a MySQL URL names a server");
        let database = percent_decode(parsed.path().trim_start_matches('/'));
        let host = parsed
            .host_str()
            .unwrap_or("localhost")
            .trim_matches(['[', ']']);
        let port = parsed.port().unwrap_or(3306);
        let mut options = MySqlConnectOptions::new()
            .host(host)
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
        let target = format!("MySQL database `{database}` at {host}:{port}");
        if database.is_empty() {
            return Err(Error::InvalidUrl {
                origin: "the database URL".into(),
                reason: "it names no database (expected mysql://USER:PASSWORD@HOST:PORT/DATABASE)"
                    .into(),
            });
        }
        let conn = connect_with_timeout(
            url,
            &target,
            ER_BAD_DB_ERROR,
            MySqlConnection::connect_with(&options),
        )
        .await?;
        Ok(Mysql { conn, target })
    }

    fn err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> Error {
        query_error(action, &self.target)
    }
}

/// DATETIME(3) columns hold UTC without a zone, as Prisma writes them.
fn to_utc(value: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    value.map(|v| v.and_utc())
}

#[async_trait]
impl Engine for Mysql {
    fn provider(&self) -> Provider {
        Provider::Mysql
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

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

    async fn lock_holder(&mut self) -> Result<Option<String>, Error> {
        let holder: Option<i64> = sqlx::query_scalar("SELECT CAST(IS_USED_LOCK(?) AS SIGNED)")
            .bind(LOCK_NAME)
            .fetch_one(&mut self.conn)
            .await
            .map_err(self.err("looking up the lock holder"))?;
        let Some(id) = holder else { return Ok(None) };
        let row = sqlx::query(
            "SELECT CAST(USER AS CHAR), CAST(HOST AS CHAR), CAST(COMMAND AS CHAR), TIME \
             FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(self.err("looking up the lock holder"))?;
        Ok(Some(match row {
            Some(r) => {
                let user: Option<String> = r.get(0);
                let host: Option<String> = r.get(1);
                let command: Option<String> = r.get(2);
                let time: Option<i64> = r.try_get(3).ok();
                format!(
                    "MySQL connection {id} (user {}, from {}, {} for {}s)",
                    user.unwrap_or_default(),
                    host.unwrap_or_default(),
                    command.unwrap_or_default().to_lowercase(),
                    time.unwrap_or_default()
                )
            }
            None => format!("MySQL connection {id}"),
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

    async fn history_exists(&mut self) -> Result<bool, Error> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_prisma_migrations'",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(self.err("looking for _prisma_migrations"))?;
        Ok(count > 0)
    }

    async fn user_objects(&mut self) -> Result<Vec<String>, Error> {
        sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '_prisma_migrations' \
             ORDER BY TABLE_NAME",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("listing the database's tables"))
    }

    async fn create_history(&mut self) -> Result<(), Error> {
        sqlx::raw_sql(CREATE_HISTORY)
            .execute(&mut self.conn)
            .await
            .map_err(self.err("creating _prisma_migrations"))?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, \
                    applied_steps_count \
             FROM _prisma_migrations ORDER BY started_at ASC",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(self.err("reading _prisma_migrations"))?;
        rows.iter()
            .map(|r| {
                let started: NaiveDateTime = r.try_get(6)?;
                Ok(HistoryRow {
                    id: r.try_get(0)?,
                    checksum: r.try_get(1)?,
                    finished_at: to_utc(r.try_get(2)?),
                    migration_name: r.try_get(3)?,
                    logs: r.try_get(4)?,
                    rolled_back_at: to_utc(r.try_get(5)?),
                    started_at: started.and_utc(),
                    applied_steps_count: r.try_get(7)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(self.err("reading _prisma_migrations"))
    }

    async fn insert_row(&mut self, row: &HistoryRow) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, \
                 rolled_back_at, started_at, applied_steps_count) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.id)
        .bind(&row.checksum)
        .bind(row.finished_at.map(|t| t.naive_utc()))
        .bind(&row.migration_name)
        .bind(&row.logs)
        .bind(row.rolled_back_at.map(|t| t.naive_utc()))
        .bind(row.started_at.naive_utc())
        .bind(row.applied_steps_count)
        .execute(&mut self.conn)
        .await
        .map_err(self.err("recording the migration in _prisma_migrations"))?;
        Ok(())
    }

    async fn mark_finished(&mut self, id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1, \
                 finished_at = ? WHERE id = ?",
        )
        .bind(at.naive_utc())
        .bind(id)
        .execute(&mut self.conn)
        .await
        .map_err(self.err("marking the migration finished"))?;
        Ok(())
    }

    async fn mark_failed(&mut self, id: &str, logs: &str) -> Result<(), Error> {
        sqlx::query("UPDATE _prisma_migrations SET logs = ? WHERE id = ?")
            .bind(logs)
            .bind(id)
            .execute(&mut self.conn)
            .await
            .map_err(self.err("recording the migration's failure"))?;
        Ok(())
    }

    async fn mark_rolled_back(&mut self, id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query("UPDATE _prisma_migrations SET rolled_back_at = ? WHERE id = ?")
            .bind(at.naive_utc())
            .bind(id)
            .execute(&mut self.conn)
            .await
            .map_err(self.err("marking the migration rolled back"))?;
        Ok(())
    }

    async fn run_script(&mut self, script: &str) -> Result<(), ScriptError> {
        // One multi-statement query, as Prisma sends it; the server stops at the first error.
        sqlx::raw_sql(AssertSqlSafe(script.to_string()))
            .execute(&mut self.conn)
            .await?;
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
        sqlx::raw_sql("COMMIT").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), Error> {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .map_err(self.err("rolling back"))?;
        Ok(())
    }
}
