//! Tables redefined whole: where an engine changes a kept table's foreign keys only by
//! creating the table anew and copying its rows (SQLite, as Prisma's migrations do), that
//! one redefinition carries every difference of the table (columns, keys, checks, foreign
//! keys, its own options), and its indexes and triggers, which the old table takes with
//! it, are created again. A redefinition that would lose rows or values, or fail on them,
//! is not written: the table's foreign keys are then listed with why.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    NONE, Phase, Planned, Sides, Step, Tables, manual, needs_a_value, object, rebuilt, sql_step,
};
use crate::schema::ddl::{Ddl, owner, table_and_name};
use crate::schema::{Difference, Object, ObjectKey, ObjectKind, Schema};

/// Per table to redefine: its steps, or why it is not redefined.
pub(super) type Redefined<'a> = BTreeMap<String, Result<Vec<Planned<'a>>, String>>;

/// The kept tables with a foreign key the engine cannot add or drop on its own, and their
/// redefinitions. `dropped`: the tables the script drops (not kept).
pub(super) fn tables<'a>(
    differences: &[Difference],
    sides: &Sides<'a>,
    ddl: &dyn Ddl,
    tables: Tables,
    dropped: &BTreeSet<String>,
) -> Redefined<'a> {
    let is_table = |schema: &Schema, name: &str| {
        schema.objects.contains_key(&ObjectKey {
            kind: ObjectKind::Table,
            name: name.to_string(),
        })
    };
    let mut names = BTreeSet::new();
    for difference in differences {
        let key = difference.object();
        if key.kind != ObjectKind::ForeignKey {
            continue;
        }
        let (left, right) = (object(sides.left, key), object(sides.right, key));
        let create = !matches!(difference, Difference::Extra { .. });
        let drop = !matches!(difference, Difference::Missing { .. });
        let in_place = rebuilt(key, (drop, create), (left, right), ddl).is_some();
        let table = owner(key, if drop { left } else { right });
        if let Some(table) = table.filter(|t| {
            !in_place && !dropped.contains(t) && is_table(sides.left, t) && is_table(sides.right, t)
        }) {
            names.insert(table);
        }
    }
    names
        .into_iter()
        .map(|table| {
            let steps = redefinition(&table, differences, sides, ddl, tables);
            (table, steps)
        })
        .collect()
}

/// What `redefined` makes of `difference`: nothing more to write when its table is
/// redefined (`Some` of no steps), a foreign key listed with why when the table is not,
/// `None` when its table is not one of them.
pub(super) fn covered<'a>(
    redefined: &Redefined<'a>,
    difference: &Difference,
    sides: &Sides<'a>,
) -> Option<Vec<Planned<'a>>> {
    let key = difference.object();
    let table = match key.kind {
        ObjectKind::Table => Some(key.name.clone()),
        _ => {
            let side = match difference {
                Difference::Missing { .. } => sides.right,
                _ => sides.left,
            };
            owner(key, object(side, key))
        }
    };
    match redefined.get(table.as_deref()?)? {
        Ok(_) => Some(Vec::new()),
        Err(reason) if key.kind == ObjectKind::ForeignKey => {
            Some(vec![manual(key, reason.clone())])
        }
        Err(_) => None,
    }
}

/// The redefinition of `table` (in the column changes' phase: after the tables its foreign
/// keys may name are created, before those they no longer name are dropped), then its
/// indexes and triggers as the right side has them; or why it is not written.
fn redefinition<'a>(
    table: &str,
    differences: &[Difference],
    sides: &Sides<'a>,
    ddl: &dyn Ddl,
    tables: Tables,
) -> Result<Vec<Planned<'a>>, String> {
    if let Some(loss) = loses_data(table, differences, sides, tables) {
        return Err(format!(
            "SQLite changes a foreign key only by redefining its table, and redefining `{table}` {loss}: change it with a migration"
        ));
    }
    let not_written = || format!("safemig does not write the redefinition of table `{table}`");
    let copied = copied_columns(table, sides);
    let new = ddl
        .redefine_table(table, sides.right, &copied)
        .ok_or_else(not_written)?;
    let key = ObjectKey {
        kind: ObjectKind::Table,
        name: table.to_string(),
    };
    let mut redefined = sql_step(&key, Phase::Column, new.sql, &NONE);
    if let Step::Sql { sql, note, .. } = &mut redefined.step {
        *note = ddl.note(ObjectKind::Table, sql);
    }
    let mut steps = vec![redefined];
    for kind in [ObjectKind::Index, ObjectKind::Trigger] {
        for (key, object) in owned(sides.right, table, kind) {
            if new.covers.contains(key) {
                continue;
            }
            let sql = ddl
                .create(kind, &key.name, object)
                .ok_or_else(not_written)?;
            steps.push(sql_step(key, Phase::Create, sql, object));
        }
    }
    Ok(steps)
}

/// The columns both sides have, which the redefinition copies (a generated column is
/// computed, not copied).
fn copied_columns<'a>(table: &str, sides: &Sides<'a>) -> Vec<&'a str> {
    owned(sides.right, table, ObjectKind::Column)
        .into_iter()
        .filter(|(key, right)| {
            let left = sides.left.objects.get(*key);
            left.is_some_and(|l| !l.attributes.contains_key("generated"))
                && !right.attributes.contains_key("generated")
        })
        .map(|(key, _)| table_and_name(&key.name).1)
        .collect()
}

/// What redefining `table` would lose or fail on, if anything: a column the right side
/// does not have (its values; `repair --roll-back` drops it, after checking it holds
/// none), or, on a table with rows, a NOT NULL column added without a default or a
/// column made NOT NULL.
fn loses_data(
    table: &str,
    differences: &[Difference],
    sides: &Sides,
    tables: Tables,
) -> Option<String> {
    let occupied = sides.occupied.contains(table);
    differences.iter().find_map(|difference| {
        let key = difference.object();
        let (owned, column) = table_and_name(&key.name);
        if key.kind != ObjectKind::Column || owned != table {
            return None;
        }
        match difference {
            Difference::Extra { .. } if tables == Tables::Keep => Some(format!(
                "would drop column `{column}` and its data"
            )),
            Difference::Missing { .. }
                if occupied && needs_a_value(object(sides.right, key)) =>
            {
                Some(format!(
                    "needs a value in each of its rows for NOT NULL column `{column}` (a default or a backfill)"
                ))
            }
            Difference::Changed {
                attribute, right, ..
            } if occupied && attribute == "nullable" && right.as_deref() == Some("false") => {
                Some(format!(
                    "would fail on its rows where column `{column}`, made NOT NULL, is NULL"
                ))
            }
            _ => None,
        }
    })
}

/// The objects of `schema` of `kind` that belong to `table`.
fn owned<'a>(
    schema: &'a Schema,
    table: &str,
    kind: ObjectKind,
) -> Vec<(&'a ObjectKey, &'a Object)> {
    schema
        .objects
        .iter()
        .filter(|(k, o)| k.kind == kind && owner(k, o).as_deref() == Some(table))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::Tables;
    use crate::schema::{Object, ObjectKind, Schema};

    /// SQLite's table `t` (id, p_id, x) with an index and a trigger, as a kept table.
    fn sqlite_table() -> Schema {
        let mut schema = Schema::default();
        schema.insert(
            ObjectKind::Table,
            "t",
            Object::default().with("autoincrement", "false"),
        );
        for (position, column) in ["id", "p_id", "x"].iter().enumerate() {
            let object = Object::default()
                .with("type", if *column == "x" { "TEXT" } else { "INTEGER" })
                .with("nullable", if *column == "id" { "false" } else { "true" })
                .with("position", (position + 1).to_string());
            schema.insert(ObjectKind::Column, format!("t.{column}"), object);
        }
        schema.insert(
            ObjectKind::PrimaryKey,
            "t",
            Object::default().with("columns", "id"),
        );
        let index = Object::default()
            .with("table", "t")
            .with("unique", "false")
            .with("columns", "x")
            .with("definition", r#"CREATE INDEX "t_x" ON "t"("x")"#);
        schema.insert(ObjectKind::Index, "t_x", index);
        let trigger = r#"CREATE TRIGGER "t_touch" AFTER UPDATE ON "t" BEGIN SELECT 1; END"#;
        schema.insert(
            ObjectKind::Trigger,
            "t_touch",
            Object::text(trigger).with("table", "t"),
        );
        schema
    }

    fn sqlite_script(
        left: &Schema,
        right: &Schema,
        occupied: &[&str],
        tables: Tables,
    ) -> Vec<String> {
        let ddl = crate::engine::ddl(crate::provider::Provider::Sqlite);
        super::super::tests::script_of(left, right, occupied, ddl, tables)
    }

    fn with_foreign_key(schema: &Schema) -> Schema {
        let mut schema = schema.clone();
        let key = Object::default()
            .with("references", "p(id)")
            .with("on_update", "CASCADE")
            .with("on_delete", "SET NULL")
            .with("match", "NONE")
            .with("deferrable", "not deferrable");
        schema.insert(ObjectKind::ForeignKey, "t(p_id) -> p", key);
        schema
    }

    /// A foreign key added to a SQLite table that stays is written as Prisma's table
    /// redefinition, which carries the table's other changes (a column added) and is
    /// followed by its index and trigger; nothing is written for them apart (it was listed
    /// as not written, "SQLite adds or drops a foreign key only by redefining its table").
    #[test]
    fn a_sqlite_foreign_key_on_a_kept_table_is_written_as_a_redefinition() {
        let left = sqlite_table();
        let mut right = with_foreign_key(&left);
        right.insert(
            ObjectKind::Column,
            "t.y",
            Object::default()
                .with("type", "TEXT")
                .with("nullable", "true")
                .with("position", "4"),
        );
        let redefinition = [
            "-- note: this redefines the table, copying its rows: run the script so that it stops at the first error (`sqlite3 -bail DATABASE < script.sql`), or a failed copy is followed by the DROP TABLE of the old table",
            "PRAGMA defer_foreign_keys=ON;",
            "PRAGMA foreign_keys=OFF;",
            r#"CREATE TABLE "new_t" ("#,
            r#"    "id" INTEGER NOT NULL,"#,
            r#"    "p_id" INTEGER,"#,
            r#"    "x" TEXT,"#,
            r#"    "y" TEXT,"#,
            r#"    PRIMARY KEY ("id"),"#,
            r#"    FOREIGN KEY ("p_id") REFERENCES "p" ("id") ON UPDATE CASCADE ON DELETE SET NULL"#,
            ");",
            r#"INSERT INTO "new_t" ("id", "p_id", "x") SELECT "id", "p_id", "x" FROM "t";"#,
            r#"DROP TABLE "t";"#,
            "PRAGMA legacy_alter_table=ON;",
            r#"ALTER TABLE "new_t" RENAME TO "t";"#,
            "PRAGMA legacy_alter_table=OFF;",
            "PRAGMA foreign_keys=ON;",
            "PRAGMA defer_foreign_keys=OFF;",
            r#"CREATE INDEX "t_x" ON "t"("x");"#,
            r#"CREATE TRIGGER "t_touch" AFTER UPDATE ON "t" BEGIN SELECT 1; END;"#,
        ];
        for tables in [Tables::Keep, Tables::Drop] {
            assert_eq!(sqlite_script(&left, &right, &["t"], tables), redefinition);
        }
        // Dropped the other way round: the same redefinition, without the column `y`
        // where the roll-back drops it (and checks it holds no values first).
        let dropped = sqlite_script(&right, &left, &[], Tables::Drop);
        assert!(
            dropped.contains(&r#"    "x" TEXT,"#.to_string()),
            "{dropped:#?}"
        );
        assert!(
            !dropped
                .iter()
                .any(|l| l.contains("FOREIGN KEY") || l.contains(r#""y""#))
        );
    }

    /// A redefinition that would lose values or fail on rows is listed with why.
    #[test]
    fn a_sqlite_redefinition_that_loses_data_is_not_written() {
        let left = sqlite_table();
        let right = with_foreign_key(&left);
        let mut extra = left.clone();
        extra.insert(ObjectKind::Column, "t.old", Object::default());
        assert_eq!(
            sqlite_script(&extra, &right, &[], Tables::Keep),
            [
                "-- not written: column `t.old`: dropping a column deletes its data",
                "-- not written: foreign key `t(p_id) -> p`: SQLite changes a foreign key only by redefining its table, and redefining `t` would drop column `old` and its data: change it with a migration",
            ]
        );
        let mut needs_value = right.clone();
        needs_value.insert(
            ObjectKind::Column,
            "t.n",
            Object::default().with("nullable", "false"),
        );
        let script = sqlite_script(&left, &needs_value, &["t"], Tables::Keep);
        assert!(
            script.contains(&"-- not written: foreign key `t(p_id) -> p`: SQLite changes a foreign key only by redefining its table, and redefining `t` needs a value in each of its rows for NOT NULL column `n` (a default or a backfill): change it with a migration".to_string()),
            "{script:#?}"
        );
        // A column made NOT NULL: the table is probed for rows, and with rows the copy
        // could fail on a NULL, so it is listed (with foreign keys off, the DROP TABLE
        // after a failed copy would lose them).
        let mut not_null = right.clone();
        not_null.insert(
            ObjectKind::Column,
            "t.x",
            Object::default()
                .with("type", "TEXT")
                .with("nullable", "false")
                .with("position", "3"),
        );
        let differences = crate::schema::diff(&left, &not_null);
        assert_eq!(
            super::super::tables_to_probe(&differences, &left, &not_null),
            BTreeSet::from(["t".to_string()])
        );
        let script = sqlite_script(&left, &not_null, &["t"], Tables::Drop);
        assert!(
            script.contains(&"-- not written: foreign key `t(p_id) -> p`: SQLite changes a foreign key only by redefining its table, and redefining `t` would fail on its rows where column `x`, made NOT NULL, is NULL: change it with a migration".to_string()),
            "{script:#?}"
        );
        let empty = sqlite_script(&left, &not_null, &[], Tables::Drop);
        assert!(
            empty.contains(&r#"    "x" TEXT NOT NULL,"#.to_string()),
            "{empty:#?}"
        );
    }
}
