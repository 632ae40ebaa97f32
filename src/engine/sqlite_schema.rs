//! SQLite's schema as a [`Schema`]: `sqlite_master` and the table-valued pragmas
//! (`pragma_table_list`, `pragma_table_xinfo`, `pragma_index_list`, `pragma_index_xinfo`,
//! `pragma_foreign_key_list`), each read once for all tables, so the number of queries
//! does not grow with the schema. What the pragmas do not expose (CHECK constraints,
//! AUTOINCREMENT) is read from the table's own `CREATE TABLE` text with safemig's lexer;
//! views, triggers and expression or partial indexes are compared by their canonical text.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use crate::history;
use crate::schema::{Detail, Object, ObjectKind, Schema, canonical_text};
use crate::sql::{Dialect, Lexer, Token, TokenKind};

/// The user objects of `main`: not SQLite's own, not the history, not its indexes.
const USER_TABLES: &str = "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                           AND m.name <> ?";

pub(super) async fn read(
    conn: &mut SqliteConnection,
    detail: Detail,
) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::default();
    let mut table_sql = BTreeMap::new();

    let objects = sqlx::query(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master \
         WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name <> ? ORDER BY type, name",
    )
    .bind(history::TABLE)
    .fetch_all(&mut *conn)
    .await?;
    let mut index_sql = BTreeMap::new();
    for row in &objects {
        let (kind, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let sql: Option<String> = row.try_get(3)?;
        let sql = sql.unwrap_or_default();
        match kind.as_str() {
            "table" => {
                table_sql.insert(name, sql);
            }
            "view" => schema.insert(ObjectKind::View, name, Object::text(canonical_text(&sql))),
            "trigger" => {
                let table: String = row.try_get(2)?;
                schema.insert(
                    ObjectKind::Trigger,
                    name,
                    Object::text(canonical_text(&sql)).with("table", table),
                );
            }
            "index" => {
                index_sql.insert(name, sql);
            }
            _ => {}
        }
    }

    let options = sqlx::query(
        "SELECT name, strict, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table'",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut texts = BTreeMap::new();
    for row in &options {
        let name: String = row.try_get(0)?;
        let Some(sql) = table_sql.get(&name) else {
            continue;
        };
        let (strict, without_rowid): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        let facts = TableText::read(sql);
        schema.insert(
            ObjectKind::Table,
            name.clone(),
            Object::default()
                .with("strict", flag(strict))
                .with("without_rowid", flag(without_rowid))
                .with("autoincrement", flag(facts.autoincrement as i64)),
        );
        for check in &facts.checks {
            schema.insert(
                ObjectKind::Check,
                format!("{name}: {check}"),
                Object::default().with("table", name.clone()),
            );
        }
        texts.insert(name, facts);
    }

    read_columns(conn, &mut schema, &texts, detail).await?;
    read_indexes(conn, &mut schema, &index_sql).await?;
    read_foreign_keys(conn, &mut schema, &texts).await?;
    Ok(schema)
}

fn flag(value: i64) -> &'static str {
    if value != 0 { "true" } else { "false" }
}

/// Columns from `pragma_table_xinfo`, with the collation and a generated column's
/// expression from the table's text.
async fn read_columns(
    conn: &mut SqliteConnection,
    schema: &mut Schema,
    texts: &BTreeMap<String, TableText>,
    detail: Detail,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, p.hidden, p.cid \
         FROM main.sqlite_master m JOIN pragma_table_xinfo(m.name) p WHERE {USER_TABLES} \
         ORDER BY m.name, p.cid"
    )))
    .bind(history::TABLE)
    .fetch_all(&mut *conn)
    .await?;
    let mut primary_keys: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for row in &rows {
        let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let declared: String = row.try_get(2)?;
        let (not_null, pk, hidden): (i64, i64, i64) =
            (row.try_get(3)?, row.try_get(5)?, row.try_get(6)?);
        let default: Option<String> = row.try_get(4)?;
        let mut object = Object::default()
            .with("type", declared.trim().to_ascii_uppercase())
            .with("nullable", flag((not_null == 0) as i64));
        if let Some(default) = default {
            object = object.with("default", canonical_text(&default));
        }
        // 2: a virtual generated column, 3: a stored one (1 is a virtual table's hidden
        // column, which user tables do not have).
        match hidden {
            2 => object = object.with("generated", "virtual"),
            3 => object = object.with("generated", "stored"),
            _ => {}
        }
        let facts = texts.get(&table);
        if let Some(collation) = facts.and_then(|f| f.collations.get(&column)) {
            object = object.with("collation", collation.clone());
        }
        if let Some(expression) = facts.and_then(|f| f.generated.get(&column)) {
            object = object.with("expression", expression.clone());
        }
        if detail.column_order {
            object = object.with("position", (row.try_get::<i64, _>(7)? + 1).to_string());
        }
        if pk > 0 {
            primary_keys
                .entry(table.clone())
                .or_default()
                .push((pk, column.clone()));
        }
        schema.insert(ObjectKind::Column, format!("{table}.{column}"), object);
    }
    for (table, mut columns) in primary_keys {
        columns.sort();
        let columns: Vec<String> = columns.into_iter().map(|(_, c)| c).collect();
        schema.insert(
            ObjectKind::PrimaryKey,
            table,
            Object::default().with("columns", columns.join(", ")),
        );
    }
    Ok(())
}

async fn read_indexes(
    conn: &mut SqliteConnection,
    schema: &mut Schema,
    index_sql: &BTreeMap<String, String>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.name, il.name, il.\"unique\", il.origin, il.partial, \
                ix.name, ix.\"desc\", ix.coll, ix.cid \
         FROM main.sqlite_master m JOIN pragma_index_list(m.name) il \
              JOIN pragma_index_xinfo(il.name) ix \
         WHERE {USER_TABLES} AND ix.key = 1 ORDER BY m.name, il.name, ix.seqno"
    )))
    .bind(history::TABLE)
    .fetch_all(&mut *conn)
    .await?;
    struct Index {
        table: String,
        unique: bool,
        origin: String,
        partial: bool,
        columns: Vec<String>,
        expression: bool,
    }
    let mut indexes: BTreeMap<String, Index> = BTreeMap::new();
    for row in &rows {
        let (table, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let index = indexes.entry(name).or_insert(Index {
            table,
            unique: row.try_get::<i64, _>(2)? != 0,
            origin: row.try_get(3)?,
            partial: row.try_get::<i64, _>(4)? != 0,
            columns: Vec::new(),
            expression: false,
        });
        let column: Option<String> = row.try_get(5)?;
        let desc: i64 = row.try_get(6)?;
        let collation: Option<String> = row.try_get(7)?;
        let cid: i64 = row.try_get(8)?;
        // cid -2: an expression, which the pragma does not render.
        index.expression |= cid == -2;
        let mut text = column.unwrap_or_else(|| "<expression>".into());
        if let Some(collation) = collation.filter(|c| !c.eq_ignore_ascii_case("BINARY")) {
            text.push_str(&format!(" COLLATE {collation}"));
        }
        if desc != 0 {
            text.push_str(" DESC");
        }
        index.columns.push(text);
    }
    for (name, index) in indexes {
        if index.origin == "pk" {
            // The primary key's own index: the primary key object describes it.
            continue;
        }
        // Constraint indexes get SQLite's numbered names (`sqlite_autoindex_T_1`), which
        // depend on the order of the constraints: they are named by what they index.
        let key = match index.origin.as_str() {
            "c" => name.clone(),
            _ => format!("{}({})", index.table, index.columns.join(", ")),
        };
        let mut object = Object::default()
            .with("table", index.table)
            .with("unique", flag(index.unique as i64))
            .with("columns", index.columns.join(", "));
        if index.origin != "c" {
            object = object.with("constraint", "unique");
        }
        if index.expression || index.partial {
            // The expression or the WHERE clause is only in the CREATE INDEX text.
            let definition = index_sql.get(&name).map(|s| canonical_text(s));
            object = Object {
                by_text: true,
                ..object.with("definition", definition.unwrap_or_default())
            };
        }
        schema.insert(ObjectKind::Index, key, object);
    }
    Ok(())
}

/// Foreign keys from `pragma_foreign_key_list`, with their deferral from the table's text.
async fn read_foreign_keys(
    conn: &mut SqliteConnection,
    schema: &mut Schema,
    texts: &BTreeMap<String, TableText>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.name, fk.id, fk.\"table\", fk.\"from\", fk.\"to\", fk.on_update, fk.on_delete, \
                fk.\"match\" \
         FROM main.sqlite_master m JOIN pragma_foreign_key_list(m.name) fk WHERE {USER_TABLES} \
         ORDER BY m.name, fk.id, fk.seq"
    )))
    .bind(history::TABLE)
    .fetch_all(&mut *conn)
    .await?;
    struct ForeignKey {
        table: String,
        parent: String,
        from: Vec<String>,
        to: Vec<String>,
        on_update: String,
        on_delete: String,
        match_type: String,
    }
    let mut keys: BTreeMap<(String, i64), ForeignKey> = BTreeMap::new();
    for row in &rows {
        let (table, id): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        let key = keys.entry((table.clone(), id)).or_insert(ForeignKey {
            table,
            parent: row.try_get(2)?,
            from: Vec::new(),
            to: Vec::new(),
            on_update: row.try_get(5)?,
            on_delete: row.try_get(6)?,
            match_type: row.try_get(7)?,
        });
        key.from.push(row.try_get(3)?);
        // NULL: the parent's primary key.
        let to: Option<String> = row.try_get(4)?;
        key.to.push(to.unwrap_or_default());
    }
    for key in keys.into_values() {
        // Foreign keys are unnamed in SQLite's catalog: named by what they link.
        let name = format!("{}({}) -> {}", key.table, key.from.join(", "), key.parent);
        let deferral = texts
            .get(&key.table)
            .and_then(|f| f.deferral.get(&(key.from.join(", "), key.parent.clone())))
            .copied()
            .unwrap_or("not deferrable");
        schema.insert(
            ObjectKind::ForeignKey,
            name,
            Object::default()
                .with(
                    "references",
                    format!("{}({})", key.parent, key.to.join(", ")),
                )
                .with("on_update", key.on_update)
                .with("on_delete", key.on_delete)
                .with("match", key.match_type)
                .with("deferrable", deferral),
        );
    }
    Ok(())
}

/// What a `CREATE TABLE` text says that no pragma does.
#[derive(Debug, Default, PartialEq, Eq)]
struct TableText {
    autoincrement: bool,
    /// Each CHECK's parenthesised expression, canonical.
    checks: Vec<String>,
    /// Per column (by name): its `COLLATE`, and a generated column's expression.
    collations: BTreeMap<String, String>,
    generated: BTreeMap<String, String>,
    /// Per foreign key, by its columns and parent as `pragma_foreign_key_list` names
    /// them (`a, b`, `Parent`): its deferral, which no pragma reports.
    deferral: BTreeMap<(String, String), &'static str>,
}

/// An identifier as SQLite reads it: quotes (`"`, `` ` ``, `[ ]`, `'`) removed.
fn unquote(word: &str) -> String {
    let inner = |open: char, close: char| {
        word.strip_prefix(open)
            .and_then(|w| w.strip_suffix(close))
            .map(|w| w.replace(&format!("{close}{close}"), &close.to_string()))
    };
    inner('"', '"')
        .or_else(|| inner('`', '`'))
        .or_else(|| inner('[', ']'))
        .or_else(|| inner('\'', '\''))
        .unwrap_or_else(|| word.to_string())
}

impl TableText {
    fn read(sql: &str) -> TableText {
        let tokens: Vec<_> = Lexer::new(sql, Dialect::Sqlite)
            .filter(|t| !t.kind.is_trivia())
            .collect();
        let mut facts = TableText::default();
        let mut i = 0;
        while i < tokens.len() {
            let token = &tokens[i];
            let word = &sql[token.start..token.end];
            if token.kind == TokenKind::Word && word.eq_ignore_ascii_case("AUTOINCREMENT") {
                facts.autoincrement = true;
            }
            let opens_check = token.kind == TokenKind::Word
                && word.eq_ignore_ascii_case("CHECK")
                && tokens.get(i + 1).map(|t| t.kind) == Some(TokenKind::OpenParen);
            if opens_check {
                let end = closing(&tokens, i + 1);
                let (start, stop) = (
                    tokens[i + 1].start,
                    tokens.get(end).map_or(sql.len(), |t| t.end),
                );
                facts.checks.push(canonical_text(&sql[start..stop]));
                i = end;
            }
            i += 1;
        }
        if let Some(open) = tokens.iter().position(|t| t.kind == TokenKind::OpenParen) {
            let close = closing(&tokens, open);
            for item in split_items(sql, &tokens[open + 1..close.min(tokens.len())]) {
                facts.read_item(sql, item);
            }
        }
        facts
    }

    /// One column definition or table constraint of the table's body.
    fn read_item(&mut self, sql: &str, item: &[Token]) {
        let text = |t: &Token| &sql[t.start..t.end];
        let is_word =
            |t: &Token, w: &str| t.kind == TokenKind::Word && text(t).eq_ignore_ascii_case(w);
        let Some(first) = item.first() else {
            return;
        };
        let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|w| is_word(first, w));
        let column = (!constraint).then(|| unquote(text(first)));
        let mut from: Vec<String> = column.iter().cloned().collect();
        let mut parent = None;
        let mut deferral = "not deferrable";
        let mut j = 0;
        while j < item.len() {
            let token = &item[j];
            let next = item.get(j + 1);
            if token.kind == TokenKind::OpenParen {
                j = closing(item, j) + 1;
                continue;
            }
            if let (Some(column), true, Some(next)) = (&column, is_word(token, "COLLATE"), next) {
                self.collations
                    .insert(column.clone(), unquote(text(next)).to_ascii_uppercase());
            }
            // `AS (…)` outside parentheses: a generated column's expression.
            if let (Some(column), true, Some(next)) = (&column, is_word(token, "AS"), next)
                && next.kind == TokenKind::OpenParen
            {
                let end = item.get(closing(item, j + 1)).map_or(sql.len(), |t| t.end);
                self.generated
                    .insert(column.clone(), canonical_text(&sql[next.start..end]));
            }
            if is_word(token, "KEY")
                && column.is_none()
                && next.map(|t| t.kind) == Some(TokenKind::OpenParen)
            {
                let end = closing(item, j + 1);
                from = item[j + 2..end]
                    .iter()
                    .filter(|t| t.kind != TokenKind::Punct)
                    .map(|t| unquote(text(t)))
                    .collect();
            }
            if let (true, Some(next)) = (is_word(token, "REFERENCES"), next) {
                parent = Some(unquote(text(next)));
            }
            if is_word(token, "DEFERRABLE") {
                let negated = j > 0 && is_word(&item[j - 1], "NOT");
                deferral = if negated {
                    "not deferrable"
                } else {
                    "deferrable initially immediate"
                };
            }
            if is_word(token, "INITIALLY")
                && next.is_some_and(|t| is_word(t, "DEFERRED"))
                && deferral != "not deferrable"
            {
                deferral = "deferrable initially deferred";
            }
            j += 1;
        }
        if let Some(parent) = parent {
            self.deferral.insert((from.join(", "), parent), deferral);
        }
    }
}

/// The index of the parenthesis closing the one at `open` (the last token if unclosed).
fn closing(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (j, token) in tokens.iter().enumerate().skip(open) {
        match token.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return j;
        }
    }
    tokens.len().saturating_sub(1)
}

/// The comma-separated items of a table's body (columns and constraints), split at the
/// commas outside parentheses.
fn split_items<'t>(sql: &str, tokens: &'t [Token]) -> Vec<&'t [Token]> {
    let mut items = Vec::new();
    let (mut start, mut depth) = (0, 0);
    for (j, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth -= 1,
            TokenKind::Punct if depth == 0 && &sql[token.start..token.end] == "," => {
                items.push(&tokens[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    items.push(&tokens[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_text_finds_checks_and_autoincrement_outside_strings() {
        let facts = TableText::read(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             n INT CHECK (n > 0 AND (n < 10)), note TEXT DEFAULT 'CHECK (x)', \
             CONSTRAINT c CHECK(length(note)   < 5))",
        );
        assert_eq!(
            facts,
            TableText {
                autoincrement: true,
                checks: vec!["(n > 0 AND (n < 10))".into(), "(length(note) < 5)".into()],
                ..TableText::default()
            }
        );
        assert_eq!(TableText::read("CREATE TABLE t (a)"), TableText::default());
    }

    #[test]
    fn table_text_finds_collations_generated_columns_and_deferral() {
        let facts = TableText::read(
            "CREATE TABLE \"t\" (\"a\" TEXT COLLATE nocase, b INT AS (a  || 'x') STORED, \
             c INT REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED, d INT, e INT, \
             CONSTRAINT f FOREIGN KEY (d, \"e\") REFERENCES [q] (x, y) NOT DEFERRABLE, \
             CHECK (d IN (1, 2)))",
        );
        assert_eq!(facts.collations["a"], "NOCASE");
        assert_eq!(facts.generated["b"], "(a || 'x')");
        assert_eq!(
            facts.deferral[&("c".to_string(), "p".to_string())],
            "deferrable initially deferred"
        );
        assert_eq!(
            facts.deferral[&("d, e".to_string(), "q".to_string())],
            "not deferrable"
        );
    }
}
