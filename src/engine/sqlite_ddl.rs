//! SQLite's DDL for `drift --sql`: indexes, views and triggers from the text SQLite keeps,
//! and columns added as `ALTER TABLE … ADD COLUMN` allows. Everything else (a changed
//! default, nullability, type) needs a table rebuild, which is a migration, not a fix.

use crate::schema::ddl::{Ddl, NewTable, columns_of, objects_of, statement, table_and_name};
use crate::schema::{Object, ObjectKey, ObjectKind, Schema};

pub struct SqliteDdl;

impl Ddl for SqliteDdl {
    fn quote(&self, name: &str) -> String {
        super::quote_ident(name)
    }

    /// Not what SQLite refuses to add: a generated column, or a NOT NULL column without a
    /// default (even to an empty table).
    fn add_column(&self, table: &str, column: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name);
        let not_null = a("nullable").map(String::as_str) == Some("false");
        if a("generated").is_some() || (not_null && a("default").is_none()) {
            return None;
        }
        Some(format!(
            "ALTER TABLE {} ADD COLUMN {};",
            self.quote(table),
            self.column(column, object)
        ))
    }

    /// The whole table in one statement, since SQLite adds no key or constraint to an
    /// existing table: columns, primary key, unique constraints, checks and foreign keys;
    /// its other indexes follow as statements of their own.
    fn create_table(&self, table: &str, schema: &Schema) -> Option<NewTable> {
        self.table_named(table, table, schema)
    }

    /// Prisma's redefinition: foreign keys off (deferred where they cannot be switched,
    /// inside a transaction), the table created as `new_T`, the rows of the shared columns
    /// copied, the old table dropped and the new one renamed. `legacy_alter_table` keeps
    /// the rename from checking views and triggers that name the table: they name the old
    /// one, gone at that moment, and would fail it ("error in view").
    fn redefine_table(&self, table: &str, schema: &Schema, copied: &[&str]) -> Option<NewTable> {
        let new_name = format!("new_{table}");
        let created = self.table_named(table, &new_name, schema)?;
        let columns = copied
            .iter()
            .map(|c| self.quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        let (table, new_name) = (self.quote(table), self.quote(&new_name));
        let sql = [
            "PRAGMA defer_foreign_keys=ON;",
            "PRAGMA foreign_keys=OFF;",
            &created.sql,
            &format!("INSERT INTO {new_name} ({columns}) SELECT {columns} FROM {table};"),
            &format!("DROP TABLE {table};"),
            "PRAGMA legacy_alter_table=ON;",
            &format!("ALTER TABLE {new_name} RENAME TO {table};"),
            "PRAGMA legacy_alter_table=OFF;",
            "PRAGMA foreign_keys=ON;",
            "PRAGMA defer_foreign_keys=OFF;",
        ]
        .join("\n");
        Some(NewTable {
            sql,
            covers: created.covers,
        })
    }

    /// A table created by a script is either new (nothing to lose) or a redefinition,
    /// whose `DROP TABLE` must not run once the copy of its rows has failed: the `sqlite3`
    /// shell goes on after an error unless told to stop.
    fn note(&self, kind: ObjectKind, _sql: &str) -> Option<String> {
        (kind == ObjectKind::Table).then(|| {
            "this redefines the table, copying its rows: run the script so that it stops at \
             the first error (`sqlite3 -bail DATABASE < script.sql`), or a failed copy is \
             followed by the DROP TABLE of the old table"
                .to_string()
        })
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

impl SqliteDdl {
    /// `CREATE TABLE name` for `table` as `schema` has it: columns, primary key, unique
    /// constraints, checks and foreign keys.
    fn table_named(&self, table: &str, name: &str, schema: &Schema) -> Option<NewTable> {
        let key = |kind: ObjectKind, name: &str| ObjectKey {
            kind,
            name: name.to_string(),
        };
        let object = schema.objects.get(&key(ObjectKind::Table, table))?;
        let flag = |name: &str| object.attributes.get(name).map(String::as_str) == Some("true");
        let mut covers = Vec::new();
        let mut items = Vec::new();
        let primary_key = key(ObjectKind::PrimaryKey, table);
        let pk_columns = schema
            .objects
            .get(&primary_key)
            .and_then(|pk| pk.attributes.get("columns"));
        for (key, column) in columns_of(schema, table) {
            let name = table_and_name(&key.name).1;
            let mut item = self.column(name, column);
            if flag("autoincrement") && pk_columns.map(String::as_str) == Some(name) {
                item.push_str(" PRIMARY KEY AUTOINCREMENT");
            }
            items.push(item);
            covers.push(key.clone());
        }
        if let Some(columns) = pk_columns {
            if !flag("autoincrement") {
                items.push(format!("PRIMARY KEY ({})", self.column_list(columns)));
            }
            covers.push(primary_key);
        }
        for (key, index) in objects_of(schema, table, ObjectKind::Index) {
            if index.attributes.contains_key("constraint") {
                items.push(format!(
                    "UNIQUE ({})",
                    self.column_list(index.attributes.get("columns")?)
                ));
                covers.push(key.clone());
            }
        }
        for (key, _) in objects_of(schema, table, ObjectKind::Check) {
            let check = key.name.strip_prefix(table)?.strip_prefix(": ")?;
            items.push(format!("CHECK {check}"));
            covers.push(key.clone());
        }
        for (key, foreign_key) in objects_of(schema, table, ObjectKind::ForeignKey) {
            items.push(self.foreign_key(table, &key.name, foreign_key)?);
            covers.push(key.clone());
        }
        let mut options = Vec::new();
        if flag("strict") {
            options.push("STRICT");
        }
        if flag("without_rowid") {
            options.push("WITHOUT ROWID");
        }
        let sql = format!(
            "CREATE TABLE {} (\n    {}\n){};",
            self.quote(name),
            items.join(",\n    "),
            if options.is_empty() {
                String::new()
            } else {
                format!(" {}", options.join(", "))
            }
        );
        Some(NewTable { sql, covers })
    }

    /// A column's definition: name, declared type, NOT NULL, default, collation, and a
    /// generated column's expression.
    fn column(&self, name: &str, object: &Object) -> String {
        let a = |name: &str| object.attributes.get(name);
        let mut sql = self.quote(name);
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
        if let (Some(kind), Some(expression)) = (a("generated"), a("expression")) {
            sql.push_str(&format!(" AS {expression} {}", kind.to_uppercase()));
        }
        sql
    }

    /// A list of names as the model joins them (`a, b`), each quoted.
    fn column_list(&self, columns: &str) -> String {
        columns
            .split(", ")
            .map(|part| quote_column(self, part))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A foreign key as a table constraint, from its key (`T(a, b) -> P`) and attributes.
    fn foreign_key(&self, table: &str, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        let columns = name
            .strip_prefix(table)?
            .strip_prefix('(')?
            .split_once(") -> ")?
            .0;
        let (parent, parent_columns) = a("references")?.strip_suffix(')')?.split_once('(')?;
        let parent_columns = if parent_columns.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.column_list(parent_columns))
        };
        let mut sql = format!(
            "FOREIGN KEY ({}) REFERENCES {}{parent_columns} ON UPDATE {} ON DELETE {}",
            self.column_list(columns),
            self.quote(parent),
            a("on_update")?,
            a("on_delete")?,
        );
        if let Some(match_type) = a("match").filter(|m| *m != "NONE") {
            sql.push_str(&format!(" MATCH {match_type}"));
        }
        match a("deferrable")? {
            "not deferrable" => {}
            deferral => sql.push_str(&format!(" {}", deferral.to_uppercase())),
        }
        Some(sql)
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
