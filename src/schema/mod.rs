//! A database schema as safemig compares it, whatever the engine: objects named by kind and
//! name, each with named attributes in a canonical text form. Columns, indexes and
//! constraints are objects of their own (named `table.column`, …), so a difference names
//! the object and the attribute that differ, never "the table differs".
//!
//! Each engine fills a [`Schema`] from its catalog (`Inspect::schema`); [`diff`] compares
//! two of them. Objects the structured model cannot describe attribute by attribute are
//! compared by their canonical definition text and marked so ([`Object::by_text`]), so
//! nothing is skipped silently: the report counts and names them.

pub mod ddl;
mod diff;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use diff::{Difference, diff};

/// The kinds of objects a schema holds, across engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Schema,
    Extension,
    Enum,
    Domain,
    CompositeType,
    Sequence,
    Table,
    Partition,
    Column,
    PrimaryKey,
    Unique,
    Exclusion,
    Index,
    ForeignKey,
    Check,
    View,
    MaterializedView,
    Function,
    Procedure,
    Aggregate,
    Trigger,
    Event,
    Policy,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Enum => "enum",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "composite type",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Table => "table",
            ObjectKind::Partition => "partition",
            ObjectKind::Column => "column",
            ObjectKind::PrimaryKey => "primary key",
            ObjectKind::Unique => "unique constraint",
            ObjectKind::Exclusion => "exclusion constraint",
            ObjectKind::Index => "index",
            ObjectKind::ForeignKey => "foreign key",
            ObjectKind::Check => "check constraint",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Procedure => "procedure",
            ObjectKind::Aggregate => "aggregate",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Event => "event",
            ObjectKind::Policy => "policy",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object's identity: its kind and its name, qualified by its table where it belongs to
/// one (`Post.title`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub kind: ObjectKind,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind, self.name)
    }
}

/// One object's attributes, each in a canonical text form (`nullable` = `true`, a
/// default's expression as the server renders it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub attributes: BTreeMap<String, String>,
    /// Compared by its whole definition text (the `definition` attribute), because the
    /// structured model cannot describe it attribute by attribute.
    pub by_text: bool,
}

impl Object {
    pub fn with(mut self, attribute: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(attribute.to_string(), value.into());
        self
    }

    /// An object compared by its canonical definition.
    pub fn text(definition: impl Into<String>) -> Self {
        Object {
            by_text: true,
            ..Object::default().with("definition", definition)
        }
    }
}

/// What is read beyond the default, on request: attributes that differ between
/// environments on purpose as often as by mistake (roles are named per environment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// Grants on tables, views, sequences, routines and types, and the schema's default
    /// privileges (PostgreSQL).
    pub privileges: bool,
    /// Owners of tables, views, sequences, routines and types (PostgreSQL).
    pub owners: bool,
    /// Comments on tables, columns, views, indexes, routines and types (PostgreSQL; MySQL's
    /// table and column comments are always compared).
    pub comments: bool,
    /// Each column's position in its table (every engine).
    pub column_order: bool,
}

/// A whole schema: every object safemig compares, by key. In JSON (snapshots, `drift
/// --json`) a list of objects in key order, since JSON keys can only be strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<Entry>", from = "Vec<Entry>")]
pub struct Schema {
    pub objects: BTreeMap<ObjectKey, Object>,
}

/// One object of a [`Schema`] as JSON holds it.
#[derive(Serialize, Deserialize)]
struct Entry {
    kind: ObjectKind,
    name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    by_text: bool,
    attributes: BTreeMap<String, String>,
}

impl From<Schema> for Vec<Entry> {
    fn from(schema: Schema) -> Self {
        schema
            .objects
            .into_iter()
            .map(|(key, object)| Entry {
                kind: key.kind,
                name: key.name,
                by_text: object.by_text,
                attributes: object.attributes,
            })
            .collect()
    }
}

impl From<Vec<Entry>> for Schema {
    fn from(entries: Vec<Entry>) -> Self {
        let objects = entries
            .into_iter()
            .map(|e| {
                let key = ObjectKey {
                    kind: e.kind,
                    name: e.name,
                };
                let object = Object {
                    attributes: e.attributes,
                    by_text: e.by_text,
                };
                (key, object)
            })
            .collect();
        Schema { objects }
    }
}

impl Schema {
    pub fn insert(&mut self, kind: ObjectKind, name: impl Into<String>, object: Object) {
        let key = ObjectKey {
            kind,
            name: name.into(),
        };
        self.objects.insert(key, object);
    }

    /// Sets an attribute of an object the schema already holds (opt-in details are added
    /// to the objects read before; they never make an object of their own).
    pub fn set(&mut self, kind: ObjectKind, name: &str, attribute: &str, value: String) {
        let key = ObjectKey {
            kind,
            name: name.to_string(),
        };
        if let Some(object) = self.objects.get_mut(&key) {
            object.attributes.insert(attribute.to_string(), value);
        }
    }

    /// How many objects are compared by text rather than attribute by attribute.
    pub fn compared_by_text(&self) -> usize {
        self.objects.values().filter(|o| o.by_text).count()
    }
}

/// Collapses runs of whitespace outside quotes to one space and trims: the canonical form
/// of a definition the server keeps as written (SQLite's `sqlite_master.sql`), so that
/// indentation and line endings are not drift.
pub fn canonical_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in sql.trim().chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                if matches!(c, '\'' | '"' | '`') {
                    quote = Some(c);
                } else if c == '[' {
                    quote = Some(']');
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_collapses_whitespace_outside_quotes_only() {
        assert_eq!(
            canonical_text("CREATE VIEW v AS\r\n  SELECT 'a  b',\t\"c  d\"   FROM t\n"),
            "CREATE VIEW v AS SELECT 'a  b', \"c  d\" FROM t"
        );
        assert_eq!(canonical_text("  [a  b]   x "), "[a  b] x");
    }
}
