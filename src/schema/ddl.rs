//! Writing DDL from the schema model, per engine: what `drift --sql` prints to converge one
//! side on the other. Each engine says only what it can write safely; everything else is
//! `None`, and the caller lists it as not expressed rather than guessing.

use super::{Object, ObjectKind};

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
