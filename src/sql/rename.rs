//! The renames a statement makes: what `repair --roll-back` renames back rather than
//! dropping and creating again (a drop and an add lose a column's values and place, a
//! table's rows, and need `--allow-data-loss`).

use super::Dialect;
use super::Statement;
use super::words::Words;

/// What a rename renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renamed {
    Table,
    Column,
    Index,
    /// A named constraint (PostgreSQL's `RENAME CONSTRAINT`: a key, check or foreign key).
    Constraint,
}

/// One rename, `from` → `to`. `table` is the table the object belongs to, as named when
/// the statement ran (for a table: the table itself, `from`); `None` for PostgreSQL's
/// `ALTER INDEX`, which names no table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub renamed: Renamed,
    pub table: Option<String>,
    pub from: String,
    pub to: String,
}

impl Rename {
    /// The rename that undoes this one.
    pub fn back(&self) -> Rename {
        let table = match self.renamed {
            Renamed::Table => Some(self.to.clone()),
            _ => self.table.clone(),
        };
        Rename {
            renamed: self.renamed,
            table,
            from: self.to.clone(),
            to: self.from.clone(),
        }
    }
}

/// The renames `stmt` makes, in order: `ALTER TABLE t RENAME [COLUMN] a TO b`, `RENAME TO`
/// / `RENAME AS` (the table), `RENAME INDEX|KEY|CONSTRAINT a TO b` (MySQL may list several
/// clauses), MySQL's `RENAME TABLE a TO b, c TO d`, PostgreSQL's `ALTER INDEX a RENAME TO b`.
pub fn renames(stmt: &Statement<'_>, dialect: Dialect) -> Vec<Rename> {
    let mut w = Words::new(stmt.sql, dialect);
    if w.eat("RENAME") {
        return if w.eat("TABLE") || w.eat("TABLES") {
            rename_tables(&mut w)
        } else {
            Vec::new()
        };
    }
    if !w.eat("ALTER") {
        return Vec::new();
    }
    w.eat_all(&["ONLINE", "IGNORE"]);
    if w.eat("INDEX") {
        w.eat_if_exists();
        let from = w.name();
        return match (from, w.eat("RENAME"), w.eat("TO"), w.name()) {
            (Some(from), true, true, Some(to)) => vec![Rename {
                renamed: Renamed::Index,
                table: None,
                from,
                to,
            }],
            _ => Vec::new(),
        };
    }
    if !w.eat("TABLE") {
        return Vec::new();
    }
    w.eat_if_exists();
    w.eat("ONLY");
    match w.name() {
        Some(table) => alter_table_renames(&mut w, table),
        None => Vec::new(),
    }
}

/// The `RENAME` clauses of an `ALTER TABLE table …`, after its name. A table renamed by
/// one clause is the table of the clauses after it.
fn alter_table_renames(w: &mut Words, mut table: String) -> Vec<Rename> {
    let mut renames = Vec::new();
    while w.peek().is_some() {
        if !w.eat("RENAME") {
            w.pos += 1;
            continue;
        }
        if w.eat("TO") || w.eat("AS") || !(w.is("COLUMN") || w.is("INDEX") || w.is("KEY")) {
            // `RENAME TO new`, or MySQL's bare `RENAME new`; PostgreSQL's bare
            // `RENAME a TO b` is a column, told apart by the `TO` after the name.
            let at = w.pos;
            if !w.is("CONSTRAINT") {
                let name = w.name();
                if let Some(to) = name.filter(|_| !w.is("TO")) {
                    renames.push(Rename {
                        renamed: Renamed::Table,
                        table: Some(table.clone()),
                        from: table.clone(),
                        to: to.clone(),
                    });
                    table = to;
                    continue;
                }
            }
            w.pos = at;
        }
        let renamed = if w.eat("INDEX") || w.eat("KEY") {
            Renamed::Index
        } else if w.eat("CONSTRAINT") {
            Renamed::Constraint
        } else {
            w.eat("COLUMN");
            Renamed::Column
        };
        let (Some(from), true, Some(to)) = (w.name(), w.eat("TO"), w.name()) else {
            break;
        };
        renames.push(Rename {
            renamed,
            table: Some(table.clone()),
            from,
            to,
        });
    }
    renames
}

/// MySQL's `RENAME TABLE a TO b, c TO d`, after `RENAME TABLE`.
fn rename_tables(w: &mut Words) -> Vec<Rename> {
    let mut renames = Vec::new();
    while let Some(from) = w.name() {
        let (true, Some(to)) = (w.eat("TO"), w.name()) else {
            break;
        };
        renames.push(Rename {
            renamed: Renamed::Table,
            table: Some(from.clone()),
            from,
            to,
        });
        if !w.eat(",") {
            break;
        }
    }
    renames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    fn of(sql: &str, dialect: Dialect) -> Vec<(Renamed, Option<String>, String, String)> {
        split(sql, dialect)
            .iter()
            .flat_map(|s| renames(s, dialect))
            .map(|r| (r.renamed, r.table, r.from, r.to))
            .collect()
    }

    fn one(
        renamed: Renamed,
        table: Option<&str>,
        from: &str,
        to: &str,
    ) -> Vec<(Renamed, Option<String>, String, String)> {
        vec![(renamed, table.map(String::from), from.into(), to.into())]
    }

    #[test]
    fn column_renames_of_every_engine() {
        let pg = Dialect::Postgres;
        assert_eq!(
            of(
                "-- RenameColumn\nALTER TABLE \"public\".\"User\" RENAME COLUMN \"email\" TO \"mail\";",
                pg
            ),
            one(Renamed::Column, Some("User"), "email", "mail")
        );
        assert_eq!(
            of("ALTER TABLE ONLY u RENAME a TO b", pg),
            one(Renamed::Column, Some("u"), "a", "b")
        );
        assert_eq!(
            of(
                "ALTER TABLE `u` ADD COLUMN x int, RENAME COLUMN `a` TO `b`, RENAME COLUMN c TO d",
                Dialect::Mysql
            ),
            [
                one(Renamed::Column, Some("u"), "a", "b"),
                one(Renamed::Column, Some("u"), "c", "d")
            ]
            .concat()
        );
    }

    #[test]
    fn table_index_and_constraint_renames() {
        let (pg, my, lite) = (Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite);
        let table = |t: &str, to: &str| one(Renamed::Table, Some(t), t, to);
        assert_eq!(
            of("ALTER TABLE \"u\" RENAME TO \"v\";", pg),
            table("u", "v")
        );
        assert_eq!(of("ALTER TABLE u RENAME TO v", lite), table("u", "v"));
        assert_eq!(of("ALTER TABLE `u` RENAME AS `v`", my), table("u", "v"));
        assert_eq!(of("ALTER TABLE `u` RENAME `v`", my), table("u", "v"));
        assert_eq!(
            of("RENAME TABLE `a` TO `b`, c TO d", my),
            [table("a", "b"), table("c", "d")].concat()
        );
        assert_eq!(
            of("ALTER INDEX \"public\".\"a_key\" RENAME TO \"b_key\";", pg),
            one(Renamed::Index, None, "a_key", "b_key")
        );
        assert_eq!(
            of("ALTER TABLE `u` RENAME INDEX `a` TO `b`", my),
            one(Renamed::Index, Some("u"), "a", "b")
        );
        assert_eq!(
            of(
                "ALTER TABLE \"u\" RENAME CONSTRAINT \"u_pkey\" TO \"v_pkey\";",
                pg
            ),
            one(Renamed::Constraint, Some("u"), "u_pkey", "v_pkey")
        );
        // A table renamed, then a column of it: the column's table is the new name.
        assert_eq!(
            of("ALTER TABLE `u` RENAME TO `v`, RENAME COLUMN a TO b", my),
            [table("u", "v"), one(Renamed::Column, Some("v"), "a", "b")].concat()
        );
        for none in ["CREATE TABLE u (a int)", "ALTER TABLE u ADD COLUMN r int"] {
            assert_eq!(of(none, pg), [], "{none}");
        }
    }

    #[test]
    fn a_rename_back_swaps_the_names() {
        let r = &split("ALTER TABLE u RENAME TO v", Dialect::Sqlite)[0];
        let back = renames(r, Dialect::Sqlite)[0].back();
        assert_eq!(
            (back.table.as_deref(), back.from.as_str()),
            (Some("v"), "v")
        );
        assert_eq!(back.to, "u");
    }
}
