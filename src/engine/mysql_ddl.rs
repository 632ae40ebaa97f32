//! MySQL's and MariaDB's DDL for `drift --sql` and `repair --roll-back`: drops, and
//! foreign keys added.
//! Column changes need the whole column definition (`MODIFY`), and the catalogs render
//! defaults differently on MySQL and MariaDB, so those are left to a person.

use crate::schema::ddl::{Ddl, table_and_name};
use crate::schema::{Object, ObjectKind};

pub struct MysqlDdl;

impl Ddl for MysqlDdl {
    fn quote(&self, name: &str) -> String {
        super::mysql::quote_name(name)
    }

    fn create(&self, kind: ObjectKind, name: &str, object: &Object) -> Option<String> {
        match kind {
            ObjectKind::ForeignKey => self.add_foreign_key(name, object),
            _ => None,
        }
    }

    fn drop(&self, kind: ObjectKind, name: &str, _object: &Object) -> Option<String> {
        Some(match kind {
            ObjectKind::Index => {
                let (table, index) = table_and_name(name);
                format!("DROP INDEX {} ON {};", self.quote(index), self.quote(table))
            }
            ObjectKind::ForeignKey => {
                let (table, key) = table_and_name(name);
                format!(
                    "ALTER TABLE {} DROP FOREIGN KEY {};",
                    self.quote(table),
                    self.quote(key)
                )
            }
            ObjectKind::View => format!("DROP VIEW {};", self.quote(name)),
            ObjectKind::Trigger => format!("DROP TRIGGER {};", self.quote(table_and_name(name).1)),
            _ => return None,
        })
    }
}

impl MysqlDdl {
    /// A foreign key from the reader's attributes: its columns joined by `, ` and its
    /// target as `parent(columns)`, each name quoted here; the rules as
    /// `REFERENTIAL_CONSTRAINTS` spells them (`CASCADE`, `SET NULL`, …).
    fn add_foreign_key(&self, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        let columns = |list: &str| {
            list.split(", ")
                .map(|c| self.quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (parent, parent_columns) = a("references")?.strip_suffix(')')?.split_once('(')?;
        let (table, key) = table_and_name(name);
        Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) \
             ON UPDATE {} ON DELETE {};",
            self.quote(table),
            self.quote(key),
            columns(a("columns")?),
            self.quote(parent),
            columns(parent_columns),
            a("on_update")?,
            a("on_delete")?,
        ))
    }
}
