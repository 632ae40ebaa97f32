//! Writing DDL from the schema model, per engine: what `drift --sql` prints to converge one
//! side on the other. Each engine says only what it can write safely; everything else is
//! `None`, and the caller lists it as not expressed rather than guessing.

use super::{Object, ObjectKey, ObjectKind, Schema};
use crate::sql::{Rename, Renamed};

/// A `CREATE TABLE` and the objects it creates with the table, which the script then does
/// not write again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTable {
    pub sql: String,
    pub covers: Vec<ObjectKey>,
}

/// One engine's DDL, in its quoting and syntax. Names are as the model keys them: a
/// column or constraint as `table.name`, a routine as `name(arguments)`.
pub trait Ddl: Sync {
    fn quote(&self, name: &str) -> String;

    /// What a script must start with for unqualified names to mean the URL's schema.
    fn preamble(&self, _schema: Option<&str>) -> Option<String> {
        None
    }

    /// `ALTER TABLE … ADD COLUMN` for a column as `column` describes it.
    fn add_column(&self, _table: &str, _column: &str, _object: &Object) -> Option<String> {
        None
    }

    /// `CREATE TABLE` for `table` as `schema` has it: its columns, and whatever of its keys
    /// and constraints this engine cannot add to an existing table; the rest (indexes,
    /// constraints it can add) are written as their own statements after it.
    fn create_table(&self, _table: &str, _schema: &Schema) -> Option<NewTable> {
        None
    }

    /// Redefines `table`, which both sides have, as `schema` has it, where the engine
    /// changes foreign keys only so (SQLite): the statements that create it anew, copy the
    /// rows of the `copied` columns and put it in the old one's place, and what of `schema`
    /// they create. Its indexes and triggers are gone with the old table: the caller
    /// creates them again.
    fn redefine_table(&self, _table: &str, _schema: &Schema, _copied: &[&str]) -> Option<NewTable> {
        None
    }

    /// A sequence created from its model, and the statement that makes a column own it
    /// (run once the table exists). Only for a missing sequence: a changed one is used by
    /// column defaults, so dropping it is left to a person.
    fn create_sequence(&self, _name: &str, _object: &Object) -> Option<(String, Option<String>)> {
        None
    }

    /// What a person should know before running `sql`, which creates an object of `kind`
    /// (PostgreSQL: a plain `CREATE INDEX` blocks writes while it builds; SQLite: a table
    /// redefinition must stop at its first error).
    fn note(&self, _kind: ObjectKind, _sql: &str) -> Option<String> {
        None
    }

    /// Sets (`Some`) or drops (`None`) a column's default.
    fn set_default(&self, _table: &str, _column: &str, _default: Option<&str>) -> Option<String> {
        None
    }

    fn set_nullable(&self, _table: &str, _column: &str, _nullable: bool) -> Option<String> {
        None
    }

    /// Creates an object from its model (usually its definition text).
    fn create(&self, _kind: ObjectKind, _name: &str, _object: &Object) -> Option<String> {
        None
    }

    /// The statement that makes `rename` (`repair --roll-back` renames back what a
    /// migration renamed). `None` where the engine has no rename for the object: the
    /// roll-back then drops and creates it, which only an object without data allows.
    fn rename(&self, rename: &Rename) -> Option<String> {
        alter_table_rename(&|name| self.quote(name), rename)
    }

    /// Drops a table (`repair --roll-back`, after checking it holds no rows).
    fn drop_table(&self, table: &str) -> Option<String> {
        Some(format!("DROP TABLE {};", self.quote(table)))
    }

    /// Drops a column (`repair --roll-back`, after checking it holds no values).
    fn drop_column(&self, table: &str, column: &str) -> Option<String> {
        Some(format!(
            "ALTER TABLE {} DROP COLUMN {};",
            self.quote(table),
            self.quote(column)
        ))
    }

    /// Drops an object that holds no data (an index, a view, a constraint, a routine).
    fn drop(&self, _kind: ObjectKind, _name: &str, _object: &Object) -> Option<String> {
        None
    }
}

/// A table or column rename as every engine writes it (`ALTER TABLE … RENAME TO`, `ALTER
/// TABLE … RENAME COLUMN`); `None` for the others, whose syntax differs.
pub fn alter_table_rename(quote: &dyn Fn(&str) -> String, rename: &Rename) -> Option<String> {
    let table = quote(rename.table.as_deref()?);
    let (from, to) = (quote(&rename.from), quote(&rename.to));
    match rename.renamed {
        Renamed::Table => Some(format!("ALTER TABLE {table} RENAME TO {to};")),
        Renamed::Column => Some(format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to};")),
        Renamed::Index | Renamed::Constraint => None,
    }
}

/// The table an object belongs to: its `table` attribute, else the part of its key before
/// the dot (columns, constraints, triggers are keyed `table.name`), or before the
/// parenthesis for SQLite's foreign keys (`Post(authorId) -> User`). Tables, views and
/// types belong to none.
pub fn owner(key: &ObjectKey, object: &Object) -> Option<String> {
    if let Some(table) = object.attributes.get("table") {
        return Some(table.clone());
    }
    let name = key.name.as_str();
    match key.kind {
        ObjectKind::ForeignKey => {
            let end = match (name.find('.'), name.find('(')) {
                (Some(dot), Some(paren)) => dot.min(paren),
                (dot, paren) => dot.or(paren).unwrap_or(name.len()),
            };
            Some(name[..end].to_string())
        }
        ObjectKind::Column
        | ObjectKind::PrimaryKey
        | ObjectKind::Unique
        | ObjectKind::Exclusion
        | ObjectKind::Index
        | ObjectKind::Check
        | ObjectKind::Trigger
        | ObjectKind::Policy => {
            // MySQL and SQLite key a primary key by its table alone.
            Some(table_and_name(name).0.to_string())
        }
        _ => None,
    }
}

/// The objects of `schema` that belong to `table`, of `kind`.
pub fn objects_of<'a>(
    schema: &'a Schema,
    table: &'a str,
    kind: ObjectKind,
) -> impl Iterator<Item = (&'a ObjectKey, &'a Object)> {
    schema
        .objects
        .iter()
        .filter(move |(k, o)| k.kind == kind && owner(k, o).as_deref() == Some(table))
}

/// A table's columns in their order where the model has it (`--include column-order`),
/// else by name.
pub fn columns_of<'a>(schema: &'a Schema, table: &'a str) -> Vec<(&'a ObjectKey, &'a Object)> {
    let mut columns: Vec<_> = objects_of(schema, table, ObjectKind::Column).collect();
    columns.sort_by_key(|(_, o)| {
        o.attributes
            .get("position")
            .and_then(|p| p.parse::<u32>().ok())
    });
    columns
}

/// `table.name` split at its first dot (table names with dots are not split further).
pub fn table_and_name(key: &str) -> (&str, &str) {
    key.split_once('.').unwrap_or((key, key))
}

/// A definition without its trailing semicolon and whitespace, to end it with one.
pub fn statement(definition: &str) -> String {
    format!(
        "{};",
        definition.trim_end().trim_end_matches(';').trim_end()
    )
}
