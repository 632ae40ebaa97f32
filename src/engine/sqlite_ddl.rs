//! SQLite's DDL for `drift --sql`: indexes, views and triggers from the text SQLite keeps,
//! and columns added as `ALTER TABLE … ADD COLUMN` allows. Everything else (a changed
//! default, nullability, type) needs a table rebuild, which is a migration, not a fix.

use crate::schema::ddl::{Ddl, statement};
use crate::schema::{Object, ObjectKind};

pub struct SqliteDdl;

impl Ddl for SqliteDdl {
    fn quote(&self, name: &str) -> String {
        super::quote_ident(name)
    }

    /// SQLite refuses what it cannot add (a NOT NULL column without a default, a stored
    /// generated column): the statement fails rather than doing something else.
    fn add_column(&self, table: &str, column: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name);
        if a("generated").is_some() {
            return None;
        }
        let mut sql = format!(
            "ALTER TABLE {} ADD COLUMN {}",
            self.quote(table),
            self.quote(column)
        );
        if let Some(kind) = a("type").filter(|t| !t.is_empty()) {
            sql.push_str(&format!(" {kind}"));
        }
        if a("nullable").map(String::as_str) == Some("false") {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = a("default") {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if let Some(collation) = a("collation") {
            sql.push_str(&format!(" COLLATE {collation}"));
        }
        Some(format!("{sql};"))
    }

    fn create(&self, kind: ObjectKind, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name);
        match kind {
            ObjectKind::View | ObjectKind::Trigger => a("definition").map(|d| statement(d)),
            // An index of a UNIQUE constraint is part of its table.
            ObjectKind::Index if a("constraint").is_some() => None,
            ObjectKind::Index => match a("definition") {
                Some(definition) => Some(statement(definition)),
                None => {
                    let columns: Vec<String> = a("columns")?
                        .split(", ")
                        .map(|part| quote_column(self, part))
                        .collect();
                    Some(format!(
                        "CREATE {}INDEX {} ON {} ({});",
                        if a("unique")?.as_str() == "true" {
                            "UNIQUE "
                        } else {
                            ""
                        },
                        self.quote(name),
                        self.quote(a("table")?),
                        columns.join(", ")
                    ))
                }
            },
            _ => None,
        }
    }

    fn drop(&self, kind: ObjectKind, name: &str, object: &Object) -> Option<String> {
        let what = match kind {
            ObjectKind::Index if !object.attributes.contains_key("constraint") => "INDEX",
            ObjectKind::View => "VIEW",
            ObjectKind::Trigger => "TRIGGER",
            _ => return None,
        };
        Some(format!("DROP {what} {};", self.quote(name)))
    }
}

/// An index column as the model writes it (`name COLLATE NOCASE DESC`), with its name
/// quoted.
fn quote_column(ddl: &SqliteDdl, part: &str) -> String {
    let end = [" COLLATE ", " DESC"]
        .iter()
        .filter_map(|suffix| part.find(suffix))
        .min()
        .unwrap_or(part.len());
    format!("{}{}", ddl.quote(&part[..end]), &part[end..])
}
