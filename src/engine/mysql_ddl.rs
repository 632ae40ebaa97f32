//! MySQL's and MariaDB's DDL for `drift --sql` and `repair --roll-back`: only drops.
//! Column changes need the whole column definition (`MODIFY`), and the catalogs render
//! defaults differently on MySQL and MariaDB, so those are left to a person.

use crate::schema::ddl::{Ddl, table_and_name};
use crate::schema::{Object, ObjectKind};

pub struct MysqlDdl;

impl Ddl for MysqlDdl {
    fn quote(&self, name: &str) -> String {
        super::mysql::quote_name(name)
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
