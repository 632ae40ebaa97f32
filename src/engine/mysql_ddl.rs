//! MySQL's and MariaDB's DDL for `drift --sql` and `repair --roll-back`: drops, and
//! foreign keys added.
//! Column changes need the whole column definition (`MODIFY`), and the catalogs render
//! defaults differently on MySQL and MariaDB, so those are left to a person.

use crate::schema::ddl::{Ddl, alter_table_rename, table_and_name};
use crate::schema::{Object, ObjectKind};
use crate::sql::{Rename, Renamed};

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

    /// Tables and columns as every engine, indexes by `RENAME INDEX` (MySQL 5.7, MariaDB
    /// 10.5.2); MySQL renames no constraint.
    fn rename(&self, rename: &Rename) -> Option<String> {
        match rename.renamed {
            Renamed::Index => Some(format!(
                "ALTER TABLE {} RENAME INDEX {} TO {};",
                self.quote(rename.table.as_deref()?),
                self.quote(&rename.from),
                self.quote(&rename.to)
            )),
            _ => alter_table_rename(&|name| self.quote(name), rename),
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
    /// A foreign key from the reader's attributes: its columns as [`name_list`] writes
    /// them and its target as `parent(columns)`, each name quoted here; the rules as
    /// `REFERENTIAL_CONSTRAINTS` spells them (`CASCADE`, `SET NULL`, …).
    fn add_foreign_key(&self, name: &str, object: &Object) -> Option<String> {
        let a = |name: &str| object.attributes.get(name).map(String::as_str);
        let columns = |list: &str| {
            names_of(list)
                .iter()
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

/// Column names as the model lists them: joined by `, `, a name that could be misread
/// (one holding `,`, a backtick or parentheses, or starting or ending with a space) in
/// backticks, so that the list reads back as the names it was made of. Plain names are
/// written as they are, as they always were.
pub(super) fn name_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| {
            let plain =
                !name.is_empty() && name.trim() == name && !name.contains([',', '`', '(', ')']);
            if plain {
                name.clone()
            } else {
                super::mysql::quote_name(name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of a [`name_list`].
fn names_of(list: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = match rest.strip_prefix('`') {
            Some(quoted) => {
                let mut name = String::new();
                let mut chars = quoted.char_indices().peekable();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    if c == '`' {
                        if chars.peek().map(|(_, c)| *c) == Some('`') {
                            chars.next();
                        } else {
                            end = i + 1;
                            break;
                        }
                    }
                    name.push(c);
                }
                (name, &quoted[end..])
            }
            None => {
                let end = rest.find(", ").unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            }
        };
        names.push(name);
        rest = after.strip_prefix(", ").unwrap_or(after);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_lists_read_back_as_their_names() {
        let cases: [&[&str]; 4] = [
            &["a"],
            &["authorId", "title"],
            &["a, b", "c`d", " e"],
            &["x(y)", "z"],
        ];
        for names in cases {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            assert_eq!(names_of(&name_list(&names)), names, "{}", name_list(&names));
        }
        assert_eq!(
            name_list(&["a".into(), "b".into()]),
            "a, b",
            "plain names as before"
        );
    }

    #[test]
    fn foreign_keys_quote_each_of_their_columns() {
        let key = Object::default()
            .with("columns", name_list(&["a, b".into(), "c".into()]))
            .with(
                "references",
                format!("P({})", name_list(&["x, y".into(), "z".into()])),
            )
            .with("on_update", "CASCADE")
            .with("on_delete", "SET NULL");
        assert_eq!(
            MysqlDdl.add_foreign_key("T.fk", &key).unwrap(),
            "ALTER TABLE `T` ADD CONSTRAINT `fk` FOREIGN KEY (`a, b`, `c`) REFERENCES `P` \
             (`x, y`, `z`) ON UPDATE CASCADE ON DELETE SET NULL;"
        );
    }
}
