//! PostgreSQL's DDL for `drift --sql`: definitions the server rendered itself (indexes,
//! constraints, views, routines, triggers) are replayed as they are; columns get their
//! default and nullability changed in place. Unqualified names resolve in the session's
//! `search_path`, which the script sets first.

use crate::schema::ddl::{
    Ddl, NewTable, alter_table_rename, columns_of, statement, table_and_name,
};
use crate::schema::{Object, ObjectKey, ObjectKind, Schema};
use crate::sql::{Rename, Renamed};

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
        Some(format!(
            "ALTER TABLE {} ADD COLUMN {};",
            self.quote(table),
            self.column(column, object)?
        ))
    }

    /// Ordinary tables (not partitioned, partitions or inheriting), with their columns;
    /// keys, constraints, indexes and foreign keys follow as statements of their own.
    fn create_table(&self, table: &str, schema: &Schema) -> Option<NewTable> {
        let object = schema.objects.get(&ObjectKey {
            kind: ObjectKind::Table,
            name: table.to_string(),
        })?;
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        if ["partition_key", "partition_bound", "inherits"]
            .iter()
            .any(|attribute| a(attribute).is_some())
        {
            return None;
        }
        let mut columns = Vec::new();
        let mut covers = Vec::new();
        for (key, column) in columns_of(schema, table) {
            columns.push(format!(
                "    {}",
                self.column(table_and_name(&key.name).1, column)?
            ));
            covers.push(key.clone());
        }
        let unlogged = if a("unlogged") == Some("true") {
            "UNLOGGED "
        } else {
            ""
        };
        let mut sql = format!(
            "CREATE {unlogged}TABLE {} (\n{}\n);",
            self.quote(table),
            columns.join(",\n")
        );
        for (attribute, clause) in [
            ("row_security", "ENABLE ROW LEVEL SECURITY"),
            ("force_row_security", "FORCE ROW LEVEL SECURITY"),
        ] {
            if a(attribute) == Some("true") {
                sql.push_str(&format!("\nALTER TABLE {} {clause};", self.quote(table)));
            }
        }
        Some(NewTable { sql, covers })
    }

    fn create_sequence(&self, name: &str, object: &Object) -> Option<(String, Option<String>)> {
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        let create = format!(
            "CREATE SEQUENCE {} AS {} START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} \
             CACHE {} {}CYCLE;",
            self.quote(name),
            a("type")?,
            a("start")?,
            a("increment")?,
            a("min")?,
            a("max")?,
            a("cache")?,
            if a("cycle")? == "true" { "" } else { "NO " },
        );
        let owned = match a("owned_by") {
            Some(column) => {
                let (table, column) = table_and_name(column);
                Some(format!(
                    "ALTER SEQUENCE {} OWNED BY {}.{};",
                    self.quote(name),
                    self.quote(table),
                    self.quote(column)
                ))
            }
            None => None,
        };
        Some((create, owned))
    }

    /// A plain `CREATE INDEX` holds a lock that blocks writes to its table until the build
    /// ends; `CONCURRENTLY` does not, but cannot run in a transaction block, and the script
    /// may be run as one (`psql --single-transaction`, a client sending it whole), so the
    /// script keeps the plain form and says how to run the other.
    fn note(&self, kind: ObjectKind, sql: &str) -> Option<String> {
        if kind != ObjectKind::Index || sql.contains(" CONCURRENTLY ") {
            return None;
        }
        let concurrently = sql.replacen(" INDEX ", " INDEX CONCURRENTLY ", 1);
        Some(format!(
            "this CREATE INDEX blocks writes to its table until it is built; to keep writes \
             going, run it on its own, outside a transaction block, as: {concurrently}"
        ))
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

    /// Every rename: `ALTER INDEX` names no table, `RENAME CONSTRAINT` also renames a
    /// key's index.
    fn rename(&self, rename: &Rename) -> Option<String> {
        let (from, to) = (self.quote(&rename.from), self.quote(&rename.to));
        match rename.renamed {
            Renamed::Index => Some(format!("ALTER INDEX {from} RENAME TO {to};")),
            Renamed::Constraint => Some(format!(
                "ALTER TABLE {} RENAME CONSTRAINT {from} TO {to};",
                self.quote(rename.table.as_deref()?)
            )),
            Renamed::Table | Renamed::Column => {
                alter_table_rename(&|name| self.quote(name), rename)
            }
        }
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
    /// A column's definition as `CREATE TABLE` and `ADD COLUMN` write it: name, type,
    /// collation, default, identity or generation, NOT NULL.
    fn column(&self, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name);
        let mut sql = format!("{} {}", self.quote(name), a("type")?);
        if let Some(collation) = a("collation") {
            sql.push_str(&format!(" COLLATE {}", self.quote(collation)));
        }
        if let Some(default) = a("default") {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if let Some(expression) = a("generated") {
            sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
        }
        if let Some(identity) = a("identity") {
            let options =
                a("identity_sequence").map_or(Some(String::new()), |s| identity_options(s))?;
            sql.push_str(&format!(
                " GENERATED {} AS IDENTITY{options}",
                identity.to_uppercase()
            ));
        }
        if a("nullable").map(String::as_str) == Some("false") {
            sql.push_str(" NOT NULL");
        }
        Some(sql)
    }

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

/// An identity's sequence options as the reader renders them (`bigint start 1 increment 1
/// min 1 max 9223372036854775807 cache 1`, then ` cycle`), as the identity clause writes
/// them.
fn identity_options(sequence: &str) -> Option<String> {
    let words: Vec<&str> = sequence.split_whitespace().collect();
    let value = |name: &str| {
        let at = words.iter().position(|w| *w == name)?;
        words.get(at + 1).copied()
    };
    Some(format!(
        " (START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{})",
        value("start")?,
        value("increment")?,
        value("min")?,
        value("max")?,
        value("cache")?,
        if words.last() == Some(&"cycle") {
            " CYCLE"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_options_are_written_as_the_reader_renders_them() {
        assert_eq!(
            identity_options("bigint start 5 increment 2 min 1 max 100 cache 3 cycle").unwrap(),
            " (START WITH 5 INCREMENT BY 2 MINVALUE 1 MAXVALUE 100 CACHE 3 CYCLE)"
        );
        assert_eq!(identity_options("bigint start 1"), None);
    }

    #[test]
    fn a_plain_create_index_says_how_to_build_it_concurrently() {
        let sql = "CREATE UNIQUE INDEX i ON public.t USING btree (a);";
        let note = PostgresDdl.note(ObjectKind::Index, sql).unwrap();
        assert!(
            note.ends_with("as: CREATE UNIQUE INDEX CONCURRENTLY i ON public.t USING btree (a);"),
            "{note}"
        );
        assert_eq!(PostgresDdl.note(ObjectKind::View, sql), None);
    }
}
