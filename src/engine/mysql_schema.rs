//! MySQL's and MariaDB's schema as a [`Schema`], from `information_schema`: one query per
//! object kind for the URL's database, however many tables it holds (MariaDB's sequences
//! take two). The kinds: tables, columns, primary keys, indexes, foreign keys, checks,
//! partitions, views, triggers, procedures, functions, events and sequences. Values are
//! the server's own renderings (`COLUMN_TYPE`, `COLUMN_DEFAULT`, `CHECK_CLAUSE`,
//! `VIEW_DEFINITION` without the database's name, which differs between two databases
//! holding the same schema), normalised where MySQL 8 and MariaDB say the same thing
//! differently (integer display widths, MariaDB's `JSON` as `LONGTEXT` with a check).
//! Tested on MariaDB; MySQL 8's catalog has the same columns where used here, except
//! where the queries pick by server: `IS_VISIBLE` and `EXPRESSION` in `STATISTICS` (MariaDB:
//! `IGNORED`), and the table of a check from `TABLE_CONSTRAINTS` (MariaDB's
//! `CHECK_CONSTRAINTS` has it).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::mysql::{MySqlConnection, MySqlRow};

use crate::history;
use crate::schema::{Detail, Object, ObjectKey, ObjectKind, Schema};

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

/// A column's `COLUMN_TYPE` as a `type` and, where set, `unsigned` and `zerofill`. An
/// integer's display width is left out: MySQL 8 no longer shows it (`int` where MariaDB
/// says `int(11)`) and it changes nothing, except `tinyint(1)`, which both keep.
fn column_type(column_type: &str) -> Object {
    let mut words: Vec<&str> = column_type.split_whitespace().collect();
    let mut object = Object::default();
    for flag in ["unsigned", "zerofill"] {
        if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case(flag)) {
            words.remove(i);
            object = object.with(flag, "true");
        }
    }
    let mut base = words.join(" ");
    let integer = [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
    ]
    .iter()
    .any(|t| {
        base.len() > t.len()
            && base[..t.len()].eq_ignore_ascii_case(t)
            && base[t.len()..].starts_with('(')
    });
    if integer && !base.eq_ignore_ascii_case("tinyint(1)") {
        base.truncate(base.find('(').unwrap_or(base.len()));
    }
    object.with("type", base)
}

/// A column's `EXTRA`, word by word: `auto_increment`, `on_update` (its expression),
/// `storage` of a generated column (`virtual`, `stored`), `invisible`. MySQL's
/// `DEFAULT_GENERATED` says only that the default is an expression, which `default`
/// shows; anything else is kept as `extra`, so that nothing is dropped unseen.
fn extra(extra: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let mut rest = Vec::new();
    let words: Vec<&str> = extra.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].to_ascii_lowercase();
        let next = words.get(i + 1).map(|w| w.to_ascii_lowercase());
        match (word.as_str(), next.as_deref()) {
            ("auto_increment", _) => found.push(("auto_increment", "true".to_string())),
            ("default_generated", _) => {}
            ("invisible", _) => found.push(("invisible", "true".to_string())),
            ("virtual" | "stored" | "persistent", Some("generated")) => {
                let storage = if word == "virtual" {
                    "virtual"
                } else {
                    "stored"
                };
                found.push(("storage", storage.to_string()));
                i += 1;
            }
            ("on", Some("update")) if i + 2 < words.len() => {
                found.push(("on_update", words[i + 2].to_ascii_lowercase()));
                i += 2;
            }
            _ => rest.push(words[i]),
        }
        i += 1;
    }
    if !rest.is_empty() {
        found.push(("extra", rest.join(" ")));
    }
    found
}

/// MariaDB's `JSON` is `LONGTEXT` with a `json_valid` CHECK constraint named after the
/// column and a binary collation; MySQL's is a type of its own. A column MariaDB made so is
/// read as MySQL's (`json`, its check and collation gone), so that the same schema on the
/// two servers compares equal.
fn json_columns(schema: &mut Schema) {
    let json: Vec<String> = schema
        .objects
        .iter()
        .filter(|(key, object)| {
            let Some((_, column)) = key.name.split_once('.') else {
                return false;
            };
            key.kind == ObjectKind::Check
                && object.attributes.get("definition").map(String::as_str)
                    == Some(format!("json_valid(`{}`)", column.replace('`', "``")).as_str())
        })
        .map(|(key, _)| key.name.clone())
        .collect();
    for name in json {
        let column = ObjectKey {
            kind: ObjectKind::Column,
            name: name.clone(),
        };
        let Some(object) = schema.objects.get_mut(&column) else {
            continue;
        };
        if object.attributes.get("type").map(String::as_str) != Some("longtext") {
            continue;
        }
        object.attributes.insert("type".into(), "json".into());
        object.attributes.remove("charset");
        object.attributes.remove("collation");
        schema.objects.remove(&ObjectKey {
            kind: ObjectKind::Check,
            name,
        });
    }
}

/// Partitions and subpartitions (`Table.p0`, `Table.p0.s0`): the method, the expression,
/// the bounds (`LESS THAN`, `IN` values), the position and the comment.
async fn read_partitions(
    conn: &mut MySqlConnection,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        format!(
            "SELECT p.TABLE_NAME, p.PARTITION_NAME, p.SUBPARTITION_NAME, p.PARTITION_METHOD, \
                    p.PARTITION_EXPRESSION, p.PARTITION_DESCRIPTION, \
                    CAST(p.PARTITION_ORDINAL_POSITION AS CHAR), p.SUBPARTITION_METHOD, \
                    p.SUBPARTITION_EXPRESSION, p.PARTITION_COMMENT \
             FROM information_schema.PARTITIONS p JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = p.TABLE_SCHEMA AND t.TABLE_NAME = p.TABLE_NAME \
             WHERE {OWN_TABLES} AND p.PARTITION_NAME IS NOT NULL"
        ),
    )
    .await?
    {
        let mut name = format!("{}.{}", required(&row, 0)?, required(&row, 1)?);
        if let Some(sub) = text(&row, 2)? {
            name = format!("{name}.{sub}");
        }
        let mut object = Object::default();
        for (i, attribute) in [
            (3, "method"),
            (4, "expression"),
            (5, "bounds"),
            (6, "position"),
            (7, "subpartition_method"),
            (8, "subpartition_expression"),
            (9, "comment"),
        ] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Partition, name, object);
    }
    Ok(())
}

/// Events: the body, the schedule's kind and interval, what happens on completion, the
/// status and the comment. Not the start, end or one-off time: by default those are the
/// time the event was created, which differs between two deploys of the same history.
async fn read_events(conn: &mut MySqlConnection, schema: &mut Schema) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        "SELECT EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, \
                CONCAT(INTERVAL_VALUE, ' ', INTERVAL_FIELD), ON_COMPLETION, STATUS, EVENT_COMMENT \
         FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME <> ?"
            .into(),
    )
    .await?
    {
        let mut object = Object::text(required(&row, 1)?);
        for (i, attribute) in [
            (2, "schedule"),
            (3, "interval"),
            (4, "on_completion"),
            (5, "status"),
            (6, "comment"),
        ] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Event, required(&row, 0)?, object);
    }
    Ok(())
}

/// MariaDB's sequences. Their options live in each sequence's own one-row table, so one
/// query lists them and one more reads all of them (`UNION ALL`): two queries however many
/// there are. Never the next value, which is data.
async fn read_sequences(
    conn: &mut MySqlConnection,
    database: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    let names: Vec<String> = rows(
        conn,
        "SELECT t.TABLE_NAME FROM information_schema.TABLES t \
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'SEQUENCE' AND t.TABLE_NAME <> ?"
            .into(),
    )
    .await?
    .iter()
    .map(|row| required(row, 0))
    .collect::<Result<_, _>>()?;
    if names.is_empty() {
        return Ok(());
    }
    let quote = |name: &str| format!("`{}`", name.replace('`', "``"));
    let selects: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "SELECT {}, CAST(start_value AS CHAR), CAST(minimum_value AS CHAR), \
                        CAST(maximum_value AS CHAR), CAST(increment AS CHAR), \
                        CAST(cache_size AS CHAR), CAST(cycle_option AS CHAR) FROM {}.{}",
                quote_string(name),
                quote(database),
                quote(name)
            )
        })
        .collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(selects.join(" UNION ALL ")))
        .fetch_all(&mut *conn)
        .await?;
    for row in &rows {
        let mut object = Object::default();
        for (i, attribute) in ["start", "min", "max", "increment", "cache", "cycle"]
            .into_iter()
            .enumerate()
        {
            object = object.with(attribute, required(row, i + 1)?);
        }
        schema.insert(ObjectKind::Sequence, required(row, 0)?, object);
    }
    Ok(())
}

/// A string literal: quotes doubled, backslashes too (the server's default `sql_mode`
/// reads them as escapes).
fn quote_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

pub(super) async fn read(
    conn: &mut MySqlConnection,
    database: &str,
    detail: Detail,
) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::default();
    let mariadb = is_mariadb(conn).await?;
    read_tables(conn, &mut schema).await?;
    read_columns(conn, mariadb, detail, &mut schema).await?;
    read_indexes(conn, mariadb, &mut schema).await?;
    read_foreign_keys(conn, &mut schema).await?;
    read_checks(conn, mariadb, &mut schema).await?;
    read_views(conn, database, &mut schema).await?;
    read_triggers(conn, &mut schema).await?;
    read_routines(conn, &mut schema).await?;
    read_partitions(conn, &mut schema).await?;
    read_events(conn, &mut schema).await?;
    read_sequences(conn, database, &mut schema).await?;
    json_columns(&mut schema);

    Ok(schema)
}

/// Whether the server is MariaDB (some catalog columns differ from MySQL 8's).
async fn is_mariadb(conn: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let version = sqlx::query("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    Ok(text(&version, 0)?.is_some_and(|v| v.contains("MariaDB")))
}

/// Tables, with their engine, character set, collation, row format and comment.
async fn read_tables(conn: &mut MySqlConnection, schema: &mut Schema) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        format!(
            "SELECT t.TABLE_NAME, t.ENGINE, co.CHARACTER_SET_NAME, t.TABLE_COLLATION, \
                    t.CREATE_OPTIONS, t.TABLE_COMMENT \
             FROM information_schema.TABLES t LEFT JOIN information_schema.COLLATIONS co \
               ON co.COLLATION_NAME = t.TABLE_COLLATION \
             WHERE {OWN_TABLES}"
        ),
    )
    .await?
    {
        let mut object = Object::default();
        // The row format a table was created with, not the one it has: without
        // `ROW_FORMAT`, that is the server's `innodb_default_row_format`, which two servers
        // holding the same schema need not share.
        let options = text(&row, 4)?.unwrap_or_default();
        if let Some(format) = options.split_whitespace().find_map(|o| {
            o.to_ascii_lowercase()
                .strip_prefix("row_format=")
                .map(str::to_string)
        }) {
            object = object.with("row_format", format);
        }
        for (i, attribute) in [
            (1, "engine"),
            (2, "charset"),
            (3, "collation"),
            (5, "comment"),
        ] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(ObjectKind::Table, required(&row, 0)?, object);
    }
    Ok(())
}

/// Columns, with their type, nullability, default, generation and comment (and their
/// position when `detail` asks for it).
async fn read_columns(
    conn: &mut MySqlConnection,
    mariadb: bool,
    detail: Detail,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        format!(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, \
                    c.EXTRA, c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.GENERATION_EXPRESSION, \
                    c.COLUMN_COMMENT, CAST(c.ORDINAL_POSITION AS CHAR) \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE {OWN_TABLES}"
        ),
    )
    .await?
    {
        let (table, column) = (required(&row, 0)?, required(&row, 1)?);
        let nullable = if required(&row, 3)? == "YES" {
            "true"
        } else {
            "false"
        };
        let mut object = column_type(&required(&row, 2)?).with("nullable", nullable);
        for (attribute, value) in extra(&required(&row, 5)?) {
            object = object.with(attribute, value);
        }
        // MariaDB reports a nullable column without a default as `DEFAULT NULL` (its string
        // defaults are quoted, so the bare word is the null), MySQL and PostgreSQL as no
        // default: the same column, which `MODIFY … NULL` would otherwise turn into two
        // differences (nullability and a default) where PostgreSQL's reads one.
        let default = text(&row, 4)?.filter(|v| !(mariadb && v == "NULL"));
        if let Some(value) = default.filter(|v| !v.is_empty()) {
            object = object.with("default", value);
        }
        for (i, attribute) in [
            (6, "charset"),
            (7, "collation"),
            (8, "generated"),
            (9, "comment"),
        ] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        if detail.column_order {
            object = object.with("position", required(&row, 10)?);
        }
        schema.insert(ObjectKind::Column, format!("{table}.{column}"), object);
    }
    Ok(())
}

/// Primary keys and indexes.
async fn read_indexes(
    conn: &mut MySqlConnection,
    mariadb: bool,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    // Indexes, one row per column: PRIMARY is the primary key. An ignored (MariaDB) or
    // invisible (MySQL) index is not visible; MySQL's functional key parts are expressions.
    let (visible, expression) = if mariadb {
        ("s.IGNORED = 'NO'", "NULL")
    } else {
        ("s.IS_VISIBLE = 'YES'", "s.EXPRESSION")
    };
    struct Index {
        unique: bool,
        index_type: String,
        visible: bool,
        comment: String,
        columns: Vec<String>,
    }
    let mut indexes: BTreeMap<(String, String), Index> = BTreeMap::new();
    for row in rows(
        conn,
        format!(
            "SELECT s.TABLE_NAME, s.INDEX_NAME, s.NON_UNIQUE, s.COLUMN_NAME, s.SUB_PART, \
                    s.COLLATION, s.INDEX_TYPE, {visible}, s.INDEX_COMMENT, {expression} \
             FROM information_schema.STATISTICS s JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = s.TABLE_SCHEMA AND t.TABLE_NAME = s.TABLE_NAME \
             WHERE {OWN_TABLES} ORDER BY s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX"
        ),
    )
    .await?
    {
        let key = (required(&row, 0)?, required(&row, 1)?);
        let non_unique: i64 = row.try_get(2)?;
        let index = indexes.entry(key).or_insert(Index {
            unique: non_unique == 0,
            index_type: required(&row, 6)?,
            visible: row.try_get::<i64, _>(7)? != 0,
            comment: required(&row, 8)?,
            columns: Vec::new(),
        });
        let mut part = match text(&row, 3)? {
            Some(column) => column,
            None => format!("({})", required(&row, 9)?),
        };
        if let Some(length) = row.try_get::<Option<i64>, _>(4)? {
            part.push_str(&format!("({length})"));
        }
        if text(&row, 5)?.as_deref() == Some("D") {
            part.push_str(" DESC");
        }
        index.columns.push(part);
    }
    for ((table, name), index) in indexes {
        let columns = index.columns.join(", ");
        if name == "PRIMARY" {
            schema.insert(
                ObjectKind::PrimaryKey,
                table,
                Object::default().with("columns", columns),
            );
            continue;
        }
        let mut object = Object::default()
            .with("unique", if index.unique { "true" } else { "false" })
            .with("type", index.index_type)
            .with("columns", columns)
            .with("visible", if index.visible { "true" } else { "false" });
        if !index.comment.is_empty() {
            object = object.with("comment", index.comment);
        }
        schema.insert(ObjectKind::Index, format!("{table}.{name}"), object);
    }
    Ok(())
}

/// Foreign keys, with the columns they reference and their rules.
async fn read_foreign_keys(
    conn: &mut MySqlConnection,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
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
                .with("columns", super::mysql_ddl::name_list(&from))
                .with(
                    "references",
                    format!("{parent}({})", super::mysql_ddl::name_list(&to)),
                )
                .with("on_update", on_update)
                .with("on_delete", on_delete),
        );
    }
    Ok(())
}

/// Check constraints, by their clause.
async fn read_checks(
    conn: &mut MySqlConnection,
    mariadb: bool,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    // MariaDB names a check per table (a column's check takes the column's name) and says
    // which table it is on; MySQL names it per database and says so in TABLE_CONSTRAINTS.
    let checks = if mariadb {
        "SELECT cc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.CHECK_CONSTRAINTS cc \
         WHERE cc.CONSTRAINT_SCHEMA = DATABASE() AND cc.TABLE_NAME <> ?"
    } else {
        "SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.CHECK_CONSTRAINTS cc \
         JOIN information_schema.TABLE_CONSTRAINTS tc \
           ON tc.CONSTRAINT_SCHEMA = cc.CONSTRAINT_SCHEMA \
          AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME AND tc.CONSTRAINT_TYPE = 'CHECK' \
         WHERE cc.CONSTRAINT_SCHEMA = DATABASE() AND tc.TABLE_NAME <> ?"
    };
    for row in rows(conn, checks.into()).await? {
        schema.insert(
            ObjectKind::Check,
            format!("{}.{}", required(&row, 0)?, required(&row, 1)?),
            Object::text(required(&row, 2)?),
        );
    }
    Ok(())
}

/// Views, by their text without the database's name.
async fn read_views(
    conn: &mut MySqlConnection,
    database: &str,
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    // The server qualifies every name in a view's text with the database's.
    let qualifier = format!("`{}`.", database.replace('`', "``"));
    for row in rows(
        conn,
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE \
         FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> ?"
            .into(),
    )
    .await?
    {
        schema.insert(
            ObjectKind::View,
            required(&row, 0)?,
            Object::text(required(&row, 1)?.replace(&qualifier, ""))
                .with("check_option", required(&row, 2)?)
                .with("security", required(&row, 3)?),
        );
    }
    Ok(())
}

/// Triggers, by their statement.
async fn read_triggers(conn: &mut MySqlConnection, schema: &mut Schema) -> Result<(), sqlx::Error> {
    for row in rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, \
                ACTION_STATEMENT, CAST(ACTION_ORDER AS CHAR) \
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
                .with("event", required(&row, 3)?)
                .with("order", required(&row, 5)?),
        );
    }
    Ok(())
}

/// Procedures and functions, with their parameters.
async fn read_routines(conn: &mut MySqlConnection, schema: &mut Schema) -> Result<(), sqlx::Error> {
    // Routines: procedures and functions, with their parameters from one more query.
    let mut parameters: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for row in rows(
        conn,
        "SELECT SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER \
         FROM information_schema.PARAMETERS \
         WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0 AND SPECIFIC_NAME <> ? \
         ORDER BY SPECIFIC_NAME, ORDINAL_POSITION"
            .into(),
    )
    .await?
    {
        let mode = text(&row, 2)?.map(|m| format!("{m} ")).unwrap_or_default();
        parameters
            .entry((required(&row, 0)?, required(&row, 1)?))
            .or_default()
            .push(format!(
                "{mode}`{}` {}",
                required(&row, 3)?,
                required(&row, 4)?
            ));
    }
    for row in rows(
        conn,
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DTD_IDENTIFIER, \
                IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE, ROUTINE_COMMENT \
         FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME <> ? \
           AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')"
            .into(),
    )
    .await?
    {
        let (name, routine_type) = (required(&row, 0)?, required(&row, 1)?);
        let kind = if routine_type == "PROCEDURE" {
            ObjectKind::Procedure
        } else {
            ObjectKind::Function
        };
        let parameters = parameters
            .remove(&(name.clone(), routine_type))
            .unwrap_or_default();
        let mut object = Object::text(required(&row, 2)?)
            .with("parameters", parameters.join(", "))
            .with("deterministic", required(&row, 4)?)
            .with("data_access", required(&row, 5)?)
            .with("security", required(&row, 6)?);
        for (i, attribute) in [(3, "returns"), (7, "comment")] {
            if let Some(value) = text(&row, i)?.filter(|v| !v.is_empty()) {
                object = object.with(attribute, value);
            }
        }
        schema.insert(kind, name, object);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_read_alike_on_mysql_and_mariadb() {
        assert_eq!(column_type("int(11)"), column_type("int"));
        assert_eq!(
            column_type("int(10) unsigned"),
            Object::default()
                .with("type", "int")
                .with("unsigned", "true")
        );
        assert_eq!(column_type("tinyint(1)").attributes["type"], "tinyint(1)");
        assert_eq!(
            column_type("varchar(191)").attributes["type"],
            "varchar(191)"
        );
        assert_eq!(
            extra("DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)"),
            vec![("on_update", "current_timestamp(3)".to_string())]
        );
        assert_eq!(
            extra("VIRTUAL GENERATED INVISIBLE"),
            vec![
                ("storage", "virtual".to_string()),
                ("invisible", "true".to_string())
            ]
        );
    }

    #[test]
    fn mariadb_json_reads_as_mysql_json() {
        let mut mariadb = Schema::default();
        mariadb.insert(
            ObjectKind::Column,
            "User.data",
            Object::default()
                .with("type", "longtext")
                .with("charset", "utf8mb4")
                .with("collation", "utf8mb4_bin")
                .with("nullable", "true"),
        );
        mariadb.insert(
            ObjectKind::Check,
            "User.data",
            Object::text("json_valid(`data`)"),
        );
        json_columns(&mut mariadb);
        let mut mysql = Schema::default();
        mysql.insert(
            ObjectKind::Column,
            "User.data",
            Object::default()
                .with("type", "json")
                .with("nullable", "true"),
        );
        assert_eq!(crate::schema::diff(&mariadb, &mysql), vec![]);
    }
}
