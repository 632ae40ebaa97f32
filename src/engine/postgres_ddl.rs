//! PostgreSQL's DDL for `drift --sql`: definitions the server rendered itself (indexes,
//! constraints, views, routines, triggers) are replayed as they are; columns get their
//! default and nullability changed in place. Unqualified names resolve in the session's
//! `search_path`, which the script sets first.

use crate::schema::ddl::{Ddl, statement, table_and_name};
use crate::schema::{Object, ObjectKind};

pub struct PostgresDdl;

impl Ddl for PostgresDdl {
    fn quote(&self, name: &str) -> String {
        super::quote_ident(name)
    }

    fn preamble(&self, schema: Option<&str>) -> Option<String> {
        schema.map(|s| format!("SET search_path TO {};", self.quote(s)))
    }

    /// Not for identity or generated columns, whose clauses the model keeps apart.
    fn add_column(&self, table: &str, column: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name);
        if a("identity").is_some() || a("generated").is_some() {
            return None;
        }
        let mut sql = format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            self.quote(table),
            self.quote(column),
            a("type")?
        );
        if let Some(collation) = a("collation") {
            sql.push_str(&format!(" COLLATE {}", self.quote(collation)));
        }
        if let Some(default) = a("default") {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if a("nullable").map(String::as_str) == Some("false") {
            sql.push_str(" NOT NULL");
        }
        Some(format!("{sql};"))
    }

    fn set_default(&self, table: &str, column: &str, default: Option<&str>) -> Option<String> {
        let change = match default {
            Some(default) => format!("SET DEFAULT {default}"),
            None => "DROP DEFAULT".into(),
        };
        Some(format!(
            "ALTER TABLE {} ALTER COLUMN {} {change};",
            self.quote(table),
            self.quote(column)
        ))
    }

    fn set_nullable(&self, table: &str, column: &str, nullable: bool) -> Option<String> {
        Some(format!(
            "ALTER TABLE {} ALTER COLUMN {} {} NOT NULL;",
            self.quote(table),
            self.quote(column),
            if nullable { "DROP" } else { "SET" }
        ))
    }

    fn create(&self, kind: ObjectKind, name: &str, object: &Object) -> Option<String> {
        if kind == ObjectKind::ForeignKey {
            return self.add_foreign_key(name, object);
        }
        let definition = object.attributes.get("definition")?;
        Some(match kind {
            // `pg_get_indexdef`, `pg_get_functiondef` and `pg_get_triggerdef` render whole
            // statements.
            ObjectKind::Index | ObjectKind::Function | ObjectKind::Procedure => {
                statement(definition)
            }
            // A trigger is created enabled (`tgenabled` O); any other state is left to a
            // person.
            ObjectKind::Trigger
                if object.attributes.get("enabled").map(String::as_str) == Some("O") =>
            {
                statement(definition)
            }
            ObjectKind::PrimaryKey
            | ObjectKind::Unique
            | ObjectKind::Check
            | ObjectKind::Exclusion => {
                let (table, constraint) = table_and_name(name);
                format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {};",
                    self.quote(table),
                    self.quote(constraint),
                    definition.trim()
                )
            }
            // Views with options (security_barrier, check_option) are left to a person.
            ObjectKind::View if !object.attributes.contains_key("options") => {
                format!(
                    "CREATE VIEW {} AS {}",
                    self.quote(name),
                    statement(definition.trim())
                )
            }
            ObjectKind::MaterializedView => format!(
                "CREATE MATERIALIZED VIEW {} AS {}",
                self.quote(name),
                statement(definition.trim())
            ),
            _ => return None,
        })
    }

    fn drop(&self, kind: ObjectKind, name: &str, _object: &Object) -> Option<String> {
        let routine = |what: &str| {
            let (routine, arguments) = name.split_once('(')?;
            Some(format!("DROP {what} {}({arguments};", self.quote(routine)))
        };
        Some(match kind {
            ObjectKind::Index => format!("DROP INDEX {};", self.quote(name)),
            ObjectKind::View => format!("DROP VIEW {};", self.quote(name)),
            ObjectKind::MaterializedView => format!("DROP MATERIALIZED VIEW {};", self.quote(name)),
            ObjectKind::Function => routine("FUNCTION")?,
            ObjectKind::Procedure => routine("PROCEDURE")?,
            ObjectKind::Trigger => {
                let (table, trigger) = table_and_name(name);
                format!(
                    "DROP TRIGGER {} ON {};",
                    self.quote(trigger),
                    self.quote(table)
                )
            }
            ObjectKind::Enum | ObjectKind::CompositeType => {
                format!("DROP TYPE {};", self.quote(name))
            }
            ObjectKind::Domain => format!("DROP DOMAIN {};", self.quote(name)),
            // A serial column's sequence goes with its table, dropped before it.
            ObjectKind::Sequence => format!("DROP SEQUENCE IF EXISTS {};", self.quote(name)),
            ObjectKind::PrimaryKey
            | ObjectKind::Unique
            | ObjectKind::Check
            | ObjectKind::Exclusion
            | ObjectKind::ForeignKey => {
                let (table, constraint) = table_and_name(name);
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {};",
                    self.quote(table),
                    self.quote(constraint)
                )
            }
            _ => return None,
        })
    }
}

impl PostgresDdl {
    /// A foreign key from the attributes the reader keeps apart (so that a changed action
    /// is named as such); its column lists are already quoted by the server. `MATCH
    /// PARTIAL`, which PostgreSQL does not implement, is left to a person.
    fn add_foreign_key(&self, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        let match_type = match a("match")? {
            "partial" => return None,
            other => other.to_uppercase(),
        };
        let (table, constraint) = table_and_name(name);
        let not_valid = if a("validated") == Some("false") {
            " NOT VALID"
        } else {
            ""
        };
        Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} MATCH {match_type} \
             ON UPDATE {} ON DELETE {} {}{not_valid};",
            self.quote(table),
            self.quote(constraint),
            a("columns")?,
            a("references")?,
            a("on_update")?.to_uppercase(),
            a("on_delete")?,
            a("deferrable")?.to_uppercase(),
        ))
    }
}
