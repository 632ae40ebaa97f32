//! MySQL's and MariaDB's schema as a [`Schema`], from `information_schema`: one query per
//! object kind for the URL's database, however many tables it holds. Values are the
//! server's own renderings (`COLUMN_TYPE`, `COLUMN_DEFAULT`, `CHECK_CLAUSE`,
//! `VIEW_DEFINITION` without the database's name, which differs between two databases
//! holding the same schema). Tested on MariaDB; MySQL 8's catalog has the same columns
//! where used here, except that its `CHECK_CONSTRAINTS` has no `TABLE_NAME`.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::mysql::{MySqlConnection, MySqlRow};

use crate::history;
use crate::schema::{Object, ObjectKind, Schema};

/// Base tables of the current database other than the history, as `t.TABLE_NAME`.
const OWN_TABLES: &str = "t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
                          AND t.TABLE_NAME <> ?";

/// Runs one catalog query with the history table's name as its one parameter, which every
/// query uses to leave the history out.
async fn rows(conn: &mut MySqlConnection, sql: String) -> Result<Vec<MySqlRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(history::TABLE)
        .fetch_all(conn)
        .await
}

/// A text column, whatever the server's binary or character type for it.
fn text(row: &MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(i) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())),
    }
}

fn required(row: &MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    Ok(text(row, i)?.unwrap_or_default())
}

pub(super) async fn read(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::default();

    for row in rows(
        conn,
        format!(
            "SELECT t.TABLE_NAME, t.ENGINE, t.TABLE_COLLATION, t.TABLE_COMMENT \
             FROM information_schema.TABLES t WHERE {OWN_TABLES}"
        ),
    )
    .await?
    {
        let mut object = Object::default();
        for (i, attribute) in [(1, "engine"), (2, "collation"), (3, "comment")] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Table, required(&row, 0)?, object);
    }

    for row in rows(
        conn,
        format!(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, \
                    c.EXTRA, c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.GENERATION_EXPRESSION, \
                    c.COLUMN_COMMENT \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE {OWN_TABLES}"
        ),
    )
    .await?
    {
        let (table, column) = (required(&row, 0)?, required(&row, 1)?);
        let mut object = Object::default().with("type", required(&row, 2)?).with(
            "nullable",
            if required(&row, 3)? == "YES" {
                "true"
            } else {
                "false"
            },
        );
        for (i, attribute) in [
            (4, "default"),
            (5, "extra"),
            (6, "charset"),
            (7, "collation"),
            (8, "generated"),
            (9, "comment"),
        ] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Column, format!("{table}.{column}"), object);
    }

    // Indexes, one row per column: PRIMARY is the primary key.
    let mut indexes: BTreeMap<(String, String), (bool, String, Vec<String>)> = BTreeMap::new();
    for row in rows(
        conn,
        format!(
            "SELECT s.TABLE_NAME, s.INDEX_NAME, s.NON_UNIQUE, s.COLUMN_NAME, s.SUB_PART, \
                    s.COLLATION, s.INDEX_TYPE \
             FROM information_schema.STATISTICS s JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = s.TABLE_SCHEMA AND t.TABLE_NAME = s.TABLE_NAME \
             WHERE {OWN_TABLES} ORDER BY s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX"
        ),
    )
    .await?
    {
        let key = (required(&row, 0)?, required(&row, 1)?);
        let non_unique: i64 = row.try_get(2)?;
        let entry = indexes
            .entry(key)
            .or_insert_with(|| (non_unique == 0, String::new(), Vec::new()));
        entry.1 = required(&row, 6)?;
        let mut part = text(&row, 3)?.unwrap_or_else(|| "<expression>".into());
        if let Some(length) = row.try_get::<Option<i64>, _>(4)? {
            part.push_str(&format!("({length})"));
        }
        if text(&row, 5)?.as_deref() == Some("D") {
            part.push_str(" DESC");
        }
        entry.2.push(part);
    }
    for ((table, name), (unique, index_type, columns)) in indexes {
        if name == "PRIMARY" {
            schema.insert(
                ObjectKind::PrimaryKey,
                table,
                Object::default().with("columns", columns.join(", ")),
            );
            continue;
        }
        schema.insert(
            ObjectKind::Index,
            format!("{table}.{name}"),
            Object::default()
                .with("unique", if unique { "true" } else { "false" })
                .with("type", index_type)
                .with("columns", columns.join(", ")),
        );
    }

    let mut foreign_keys: BTreeMap<(String, String), [Vec<String>; 2]> = BTreeMap::new();
    let mut rules: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
    for row in rows(
        conn,
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, \
                k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
          AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
           AND k.TABLE_NAME <> ? \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
            .into(),
    )
    .await?
    {
        let key = (required(&row, 0)?, required(&row, 1)?);
        let columns = foreign_keys.entry(key.clone()).or_default();
        columns[0].push(required(&row, 2)?);
        columns[1].push(required(&row, 4)?);
        rules.insert(
            key,
            (required(&row, 3)?, required(&row, 5)?, required(&row, 6)?),
        );
    }
    for (key, [from, to]) in foreign_keys {
        let (parent, on_update, on_delete) = rules.remove(&key).unwrap_or_default();
        schema.insert(
            ObjectKind::ForeignKey,
            format!("{}.{}", key.0, key.1),
            Object::default()
                .with("columns", from.join(", "))
                .with("references", format!("{parent}({})", to.join(", ")))
                .with("on_update", on_update)
                .with("on_delete", on_delete),
        );
    }

    for row in rows(
        conn,
        "SELECT cc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.CHECK_CONSTRAINTS cc \
         WHERE cc.CONSTRAINT_SCHEMA = DATABASE() AND cc.TABLE_NAME <> ?"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::Check,
            format!("{}.{}", required(&row, 0)?, required(&row, 1)?),
            Object::text(required(&row, 2)?),
        );
    }

    // The server qualifies every name in a view's text with the database's.
    let qualifier = format!("`{}`.", database.replace('`', "``"));
    for row in rows(
        conn,
        "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> ?"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::View,
            required(&row, 0)?,
            Object::text(required(&row, 1)?.replace(&qualifier, "")),
        );
    }

    for row in rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, \
                ACTION_STATEMENT \
         FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE <> ?"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::Trigger,
            format!("{}.{}", required(&row, 1)?, required(&row, 0)?),
            Object::text(required(&row, 4)?)
                .with("timing", required(&row, 2)?)
                .with("event", required(&row, 3)?),
        );
    }

    for row in rows(
        conn,
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DTD_IDENTIFIER, \
                IS_DETERMINISTIC, SQL_DATA_ACCESS \
         FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME <> ?"
            .into(),
    )
    .await?
    {
        let mut object = Object::text(required(&row, 2)?)
            .with("kind", required(&row, 1)?)
            .with("deterministic", required(&row, 4)?)
            .with("data_access", required(&row, 5)?);
        if let Some(returns) = text(&row, 3)? {
            object = object.with("returns", returns);
        }
        schema.insert(ObjectKind::Function, required(&row, 0)?, object);
    }

    Ok(schema)
}
