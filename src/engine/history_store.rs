//! `_prisma_migrations`, written once for every engine: the only module that holds the
//! history table's SQL (its DDL, reads and writes).
//!
//! Prisma writes the same rows on every database; what differs is the column types in its
//! DDL, the placeholder syntax, and how a timestamp is stored (PostgreSQL `TIMESTAMPTZ`,
//! MySQL `DATETIME(3)` in UTC, SQLite Unix milliseconds). Those differences are a
//! [`Codec`] value per engine plus two primitives ([`HistoryAccess`]) that bind and decode
//! values natively, as prisma-engines keeps one `MigrationPersistence` over its SQL
//! flavours. Everything else, the statements and the row lifecycle, is [`HistoryStore`],
//! implemented here once for all engines.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Error;
use crate::history::{HistoryRow, TABLE};

/// How an engine spells the history table and its values.
pub struct Codec {
    /// Prisma's exact `CREATE TABLE` on this engine; `{history}` stands for the qualified
    /// table name where Prisma's text has one.
    create: &'static str,
    placeholders: Placeholders,
    stored_time: StoredTime,
}

/// How a statement names its parameters.
enum Placeholders {
    /// `$1`, `$2`, … (PostgreSQL).
    Numbered,
    /// `?` (MySQL, SQLite).
    Question,
}

/// How timestamp columns are read back.
enum StoredTime {
    /// A native timestamp type the driver decodes.
    Native,
    /// SQLite: Prisma stores Unix milliseconds, but a hand-written row or the column's
    /// `DEFAULT current_timestamp` may hold seconds with a fraction or text: read each as
    /// milliseconds.
    UnixMillis,
}

pub const POSTGRES: Codec = Codec {
    create: r#"CREATE TABLE {history} (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);"#,
    placeholders: Placeholders::Numbered,
    stored_time: StoredTime::Native,
};

pub const MYSQL: Codec = Codec {
    create: r#"CREATE TABLE {history} (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             DATETIME(3),
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          DATETIME(3),
    started_at              DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"#,
    placeholders: Placeholders::Question,
    stored_time: StoredTime::Native,
};

/// SQLite keeps the `CREATE TABLE` text in `sqlite_master` as sent: Prisma's unqualified
/// name, not `{history}`.
pub const SQLITE: Codec = Codec {
    create: r#"CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);"#,
    placeholders: Placeholders::Question,
    stored_time: StoredTime::UnixMillis,
};

impl Codec {
    /// The `n`th parameter (from 1).
    fn param(&self, n: usize) -> String {
        match self.placeholders {
            Placeholders::Numbered => format!("${n}"),
            Placeholders::Question => "?".into(),
        }
    }

    /// A timestamp column as it is selected.
    fn read_time(&self, column: &str) -> String {
        match self.stored_time {
            StoredTime::Native => column.into(),
            StoredTime::UnixMillis => format!(
                "CASE typeof({column}) WHEN 'integer' THEN {column} \
                 WHEN 'real' THEN CAST({column} AS INTEGER) \
                 WHEN 'text' THEN CAST(ROUND((julianday({column}) - 2440587.5) * 86400000) AS INTEGER) END"
            ),
        }
    }

    /// `UPDATE table SET fixed…, column = ?… WHERE id = ?`: the id is the last parameter.
    fn update(&self, table: &str, fixed: &[&str], columns: &[&str]) -> String {
        let set: Vec<String> = fixed
            .iter()
            .map(|assignment| assignment.to_string())
            .chain(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| format!("{column} = {}", self.param(i + 1))),
            )
            .collect();
        let id = self.param(columns.len() + 1);
        format!("UPDATE {table} SET {} WHERE id = {id}", set.join(", "))
    }
}

/// A value bound to one of the history statements.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(Option<&'a str>),
    Count(u32),
    Time(Option<DateTime<Utc>>),
}

/// The type a selected column is decoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Text,
    Count,
    Time,
}

/// A decoded column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Count(u32),
    Time(Option<DateTime<Utc>>),
}

/// What an engine provides for the history store: its codec, the qualified table, and
/// two primitives that bind and decode [`Param`]s and [`Value`]s natively.
#[async_trait]
pub trait HistoryAccess: Send {
    fn codec(&self) -> &'static Codec;

    /// The history table, qualified so that a migration that changes the session's
    /// schema or database cannot move it out of reach.
    fn history_table(&self) -> &str;

    /// The history table of another namespace on the same connection (a PostgreSQL
    /// schema, a MySQL database), qualified; `None` where there are none (SQLite).
    fn history_table_in(&self, _namespace: &str) -> Option<String> {
        None
    }

    /// Creates what must exist before the table can (PostgreSQL: the URL's schema).
    async fn prepare_history(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Runs one statement. Without parameters it is sent as plain SQL (DDL).
    async fn execute(&mut self, sql: &str, params: &[Param<'_>], action: &str)
    -> Result<(), Error>;

    /// Runs a query and decodes each row's columns as `columns` say.
    async fn fetch(
        &mut self,
        sql: &str,
        columns: &[Column],
        action: &str,
    ) -> Result<Vec<Vec<Value>>, Error>;
}

/// Implements [`HistoryAccess`] for an engine whose connection is `self.conn`, whose
/// qualified table is `self.history` and whose errors come from `self.err(action)`: only
/// how a count and a timestamp are bound and read differ between engines, and those are
/// the arguments. `extra` holds overrides (PostgreSQL's `prepare_history`).
macro_rules! impl_history_access {
    (
        $engine:ty, $codec:expr,
        bind_count: |$count:ident| $bind_count:expr,
        bind_time: |$time:ident| $bind_time:expr,
        read_count: |$count_row:ident, $count_i:ident| $read_count:expr,
        read_time: |$time_row:ident, $time_i:ident| $read_time:expr
        $(, extra: { $($extra:item)* })?
    ) => {
        #[async_trait::async_trait]
        impl $crate::engine::HistoryAccess for $engine {
            fn codec(&self) -> &'static $crate::engine::Codec {
                &$codec
            }

            fn history_table(&self) -> &str {
                &self.history
            }

            $($($extra)*)?

            async fn execute(
                &mut self,
                sql: &str,
                params: &[$crate::engine::Param<'_>],
                action: &str,
            ) -> Result<(), $crate::Error> {
                use $crate::engine::Param;
                let sql = sqlx::AssertSqlSafe(sql.to_string());
                let result = if params.is_empty() {
                    sqlx::raw_sql(sql).execute(&mut self.conn).await
                } else {
                    let mut query = sqlx::query(sql);
                    for param in params {
                        query = match *param {
                            Param::Text(text) => query.bind(text),
                            Param::Count($count) => query.bind($bind_count),
                            Param::Time($time) => query.bind($bind_time),
                        };
                    }
                    query.execute(&mut self.conn).await
                };
                result.map(drop).map_err(self.err(action))
            }

            async fn fetch(
                &mut self,
                sql: &str,
                columns: &[$crate::engine::Column],
                action: &str,
            ) -> Result<Vec<Vec<$crate::engine::Value>>, $crate::Error> {
                use $crate::engine::{Column, Value};
                use sqlx::Row;
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_all(&mut self.conn)
                    .await
                    .map_err(self.err(action))?;
                let decoded: Result<Vec<Vec<Value>>, sqlx::Error> = rows
                    .iter()
                    .map(|row| {
                        columns
                            .iter()
                            .enumerate()
                            .map(|(i, column)| {
                                Ok(match column {
                                    Column::Text => Value::Text(row.try_get(i)?),
                                    Column::Count => {
                                        let ($count_row, $count_i) = (row, i);
                                        Value::Count($read_count)
                                    }
                                    Column::Time => {
                                        let ($time_row, $time_i) = (row, i);
                                        Value::Time($read_time)
                                    }
                                })
                            })
                            .collect()
                    })
                    .collect();
                decoded.map_err(self.err(action))
            }
        }
    };
}
pub(super) use impl_history_access;

/// `_prisma_migrations`' rows and their lifecycle, as Prisma writes them.
#[async_trait]
pub trait HistoryStore: Send {
    /// Creates `_prisma_migrations` with Prisma's exact DDL for this engine.
    async fn create_history(&mut self) -> Result<(), Error>;

    /// All rows, oldest `started_at` first.
    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, Error>;

    /// The rows of each namespace's history (oldest `started_at` first), in the order of
    /// `namespaces`, read in batches of one `UNION ALL` query: `check` reads a thousand
    /// tenants' histories in a few queries rather than a thousand connections. Every
    /// namespace must hold the table ([`crate::engine::Inspect::namespaces`]); an engine
    /// without namespaces returns `None`.
    async fn read_histories(
        &mut self,
        namespaces: &[String],
    ) -> Result<Option<Vec<Vec<HistoryRow>>>, Error>;

    async fn insert_row(&mut self, row: &HistoryRow) -> Result<(), Error>;

    /// The success transition, leaving the row as Prisma does: `applied_steps_count = 1`,
    /// `logs = NULL`, `finished_at` set, and the checksum of the file that finished it (a
    /// retried migration may have been fixed since its row was written).
    async fn finish(&mut self, id: &str, checksum: &str, at: DateTime<Utc>) -> Result<(), Error>;

    /// Records a journaled migration's progress: statements done and the journal.
    async fn update_journal(&mut self, id: &str, done: u32, logs: &str) -> Result<(), Error>;

    async fn mark_rolled_back(&mut self, id: &str, at: DateTime<Utc>) -> Result<(), Error>;
}

/// How many tenants' histories one query of [`HistoryStore::read_histories`] reads.
const BATCH: usize = 250;

/// The columns in Prisma's order, with how each is read.
const COLUMNS: [(&str, Column); 8] = [
    ("id", Column::Text),
    ("checksum", Column::Text),
    ("finished_at", Column::Time),
    ("migration_name", Column::Text),
    ("logs", Column::Text),
    ("rolled_back_at", Column::Time),
    ("started_at", Column::Time),
    ("applied_steps_count", Column::Count),
];

/// The history's columns as the engine reads them (timestamps through its codec), in
/// `COLUMNS` order.
fn select_list(codec: &Codec) -> String {
    COLUMNS
        .iter()
        .map(|(name, column)| match column {
            Column::Time => codec.read_time(name),
            Column::Text | Column::Count => name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl<T: HistoryAccess + ?Sized> HistoryStore for T {
    async fn create_history(&mut self) -> Result<(), Error> {
        self.prepare_history().await?;
        let create = self
            .codec()
            .create
            .replace("{history}", self.history_table());
        self.execute(&create, &[], &format!("creating {TABLE}"))
            .await
    }

    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, Error> {
        // By position: on SQLite the column is the milliseconds expression.
        let sql = format!(
            "SELECT {} FROM {} ORDER BY 7 ASC",
            select_list(self.codec()),
            self.history_table()
        );
        let kinds = COLUMNS.map(|(_, column)| column);
        let rows = self
            .fetch(&sql, &kinds, &format!("reading {TABLE}"))
            .await?;
        Ok(rows.into_iter().map(decode_row).collect())
    }

    async fn read_histories(
        &mut self,
        namespaces: &[String],
    ) -> Result<Option<Vec<Vec<HistoryRow>>>, Error> {
        let mut tables = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            match self.history_table_in(namespace) {
                Some(table) => tables.push(table),
                None => return Ok(None),
            }
        }
        let selected = select_list(self.codec());
        let mut kinds = vec![Column::Text];
        kinds.extend(COLUMNS.map(|(_, column)| column));
        let mut histories = vec![Vec::new(); namespaces.len()];
        for (chunk, tables) in tables.chunks(BATCH).enumerate() {
            // Each branch is labelled by its namespace's index, as text: a number needs no
            // quoting, whatever the namespace is called.
            let branches: Vec<String> = tables
                .iter()
                .enumerate()
                .map(|(i, table)| {
                    format!(
                        "SELECT '{}' AS tenant, {selected} FROM {table}",
                        chunk * BATCH + i
                    )
                })
                .collect();
            // By position: 1 is the label, 8 `started_at`.
            let sql = format!("{} ORDER BY 1, 8 ASC", branches.join(" UNION ALL "));
            let rows = self
                .fetch(&sql, &kinds, &format!("reading the tenants' {TABLE}"))
                .await?;
            for mut values in rows {
                let label = match values.remove(0) {
                    Value::Text(Some(label)) => label,
                    _ => continue,
                };
                if let Some(history) = label
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| histories.get_mut(i))
                {
                    history.push(decode_row(values));
                }
            }
        }
        Ok(Some(histories))
    }

    async fn insert_row(&mut self, row: &HistoryRow) -> Result<(), Error> {
        let codec = self.codec();
        let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        let params: Vec<String> = (1..=COLUMNS.len()).map(|n| codec.param(n)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.history_table(),
            names.join(", "),
            params.join(", ")
        );
        let values = [
            Param::Text(Some(&row.id)),
            Param::Text(Some(&row.checksum)),
            Param::Time(row.finished_at),
            Param::Text(Some(&row.migration_name)),
            Param::Text(row.logs.as_deref()),
            Param::Time(row.rolled_back_at),
            Param::Time(Some(row.started_at)),
            Param::Count(row.applied_steps_count),
        ];
        self.execute(
            &sql,
            &values,
            &format!("recording the migration in {TABLE}"),
        )
        .await
    }

    async fn finish(&mut self, id: &str, checksum: &str, at: DateTime<Utc>) -> Result<(), Error> {
        let sql = self.codec().update(
            self.history_table(),
            &["applied_steps_count = 1", "logs = NULL"],
            &["finished_at", "checksum"],
        );
        let values = [
            Param::Time(Some(at)),
            Param::Text(Some(checksum)),
            Param::Text(Some(id)),
        ];
        self.execute(&sql, &values, "marking the migration finished")
            .await
    }

    async fn update_journal(&mut self, id: &str, done: u32, logs: &str) -> Result<(), Error> {
        let sql = self
            .codec()
            .update(self.history_table(), &[], &["applied_steps_count", "logs"]);
        let values = [
            Param::Count(done),
            Param::Text(Some(logs)),
            Param::Text(Some(id)),
        ];
        self.execute(&sql, &values, "writing the migration's journal")
            .await
    }

    async fn mark_rolled_back(&mut self, id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        let sql = self
            .codec()
            .update(self.history_table(), &[], &["rolled_back_at"]);
        let values = [Param::Time(Some(at)), Param::Text(Some(id))];
        self.execute(&sql, &values, "marking the migration rolled back")
            .await
    }
}

/// A row from values decoded in [`COLUMNS`]' order. The columns Prisma declares `NOT
/// NULL` are never NULL; a hand-edited row with one reads as empty (or the epoch).
fn decode_row(values: Vec<Value>) -> HistoryRow {
    let text = |i: usize| match values.get(i) {
        Some(Value::Text(text)) => text.clone(),
        _ => None,
    };
    let time = |i: usize| match values.get(i) {
        Some(Value::Time(time)) => *time,
        _ => None,
    };
    HistoryRow {
        id: text(0).unwrap_or_default(),
        checksum: text(1).unwrap_or_default(),
        finished_at: time(2),
        migration_name: text(3).unwrap_or_default(),
        logs: text(4),
        rolled_back_at: time(5),
        started_at: time(6).unwrap_or_default(),
        applied_steps_count: match values.get(7) {
            Some(Value::Count(count)) => *count,
            _ => 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_number_their_parameters_with_the_id_last() {
        assert_eq!(
            POSTGRES.update(
                "h",
                &["applied_steps_count = 1", "logs = NULL"],
                &["finished_at", "checksum"]
            ),
            "UPDATE h SET applied_steps_count = 1, logs = NULL, finished_at = $1, checksum = $2 WHERE id = $3"
        );
        assert_eq!(
            MYSQL.update("h", &[], &["rolled_back_at"]),
            "UPDATE h SET rolled_back_at = ? WHERE id = ?"
        );
    }
}
