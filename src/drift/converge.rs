//! `drift --sql`: the statements that would bring the left side to the right side's
//! schema, written by the engine's [`Ddl`], and every difference no statement is written
//! for, with why. Drift never runs them.

use serde::Serialize;

use crate::schema::ddl::{Ddl, table_and_name};
use crate::schema::{Difference, Object, ObjectKey, ObjectKind, Schema};

/// One step of the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Sql {
        object: ObjectKey,
        sql: String,
    },
    /// A difference left to a person: dropping data, rebuilding a table, or DDL safemig
    /// does not write for this engine.
    NotExpressed {
        object: ObjectKey,
        reason: String,
    },
}

/// When a step runs: drops first (a changed view or index is dropped, then created), then
/// column changes, then tables (once nothing refers to them), then types and sequences
/// (once no column uses them), then what is created (an index may need a column added
/// before it).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Drop,
    Column,
    DropTable,
    DropType,
    Create,
    Manual,
}

/// Whether the script may drop tables and columns the right side does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    /// `drift --sql`: a table or column only on the left is left to a person (its data).
    Keep,
    /// `repair --roll-back`: they are what the migration created, and are dropped (the
    /// caller checks they hold no data first).
    Drop,
}

/// The steps for `differences` between `left` and `right`, in an order that runs.
pub fn steps(
    differences: &[Difference],
    left: &Schema,
    right: &Schema,
    ddl: &dyn Ddl,
    tables: Tables,
) -> Vec<Step> {
    let object =
        |schema: &Schema, key: &ObjectKey| schema.objects.get(key).cloned().unwrap_or_default();
    let dropped = dropped_tables(differences, tables);
    let mut steps: Vec<(Phase, Step)> = Vec::new();
    for difference in differences {
        let key = difference.object();
        let l = object(left, key);
        if let Some(table) = owner(key, &l)
            && dropped.contains(table.as_str())
            && key.kind != ObjectKind::ForeignKey
        {
            // Goes with its table. A foreign key is dropped first all the same: another
            // dropped table may be referenced by it.
            continue;
        }
        steps.extend(steps_for(difference, &l, &object(right, key), ddl, tables));
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    // An object replaced whole is replaced once, however many of its attributes differ.
    let mut written: Vec<Step> = Vec::new();
    for (_, step) in steps {
        if !written.contains(&step) {
            written.push(step);
        }
    }
    written
}

/// The steps for one difference, its object as `left` and as `right` have it.
fn steps_for(
    difference: &Difference,
    left: &Object,
    right: &Object,
    ddl: &dyn Ddl,
    tables: Tables,
) -> Vec<(Phase, Step)> {
    let key = difference.object();
    let (table, name) = table_and_name(&key.name);
    let not_written_drop = || "safemig does not write this drop here".to_string();
    let step = match (key.kind, difference) {
        (ObjectKind::Table, Difference::Missing { .. }) => {
            manual(key, "create the table with its migration".into())
        }
        (ObjectKind::Table, Difference::Extra { .. }) if tables == Tables::Drop => sql_or_manual(
            key,
            Phase::DropTable,
            ddl.drop_table(&key.name),
            not_written_drop(),
        ),
        (ObjectKind::Table, Difference::Extra { .. }) => {
            manual(key, "dropping a table deletes its rows".into())
        }
        (ObjectKind::Column, Difference::Extra { .. }) if tables == Tables::Drop => sql_or_manual(
            key,
            Phase::Column,
            ddl.drop_column(table, name),
            not_written_drop(),
        ),
        (ObjectKind::Column, Difference::Missing { .. }) => sql_or_manual(
            key,
            Phase::Column,
            ddl.add_column(table, name, right),
            format!("safemig does not write this {} here", key.kind),
        ),
        (ObjectKind::Column, Difference::Extra { .. }) => {
            manual(key, "dropping a column deletes its data".into())
        }
        (
            ObjectKind::Column,
            Difference::Changed {
                attribute,
                right: to,
                ..
            },
        ) => {
            let written = match attribute.as_str() {
                "default" => ddl.set_default(table, name, to.as_deref()),
                "nullable" => ddl.set_nullable(table, name, to.as_deref() == Some("true")),
                _ => None,
            };
            sql_or_manual(
                key,
                Phase::Column,
                written,
                format!(
                    "a change of a column's {attribute} is not written for this engine: it can rebuild the table or fail on its rows"
                ),
            )
        }
        _ => return replaced(difference, left, right, ddl),
    };
    vec![step]
}

/// Everything else is replaced whole: dropped as the left side has it, created as the
/// right side has it.
fn replaced(
    difference: &Difference,
    left: &Object,
    right: &Object,
    ddl: &dyn Ddl,
) -> Vec<(Phase, Step)> {
    let key = difference.object();
    let kind = key.kind;
    let drop = !matches!(difference, Difference::Missing { .. });
    let create = !matches!(difference, Difference::Extra { .. });
    let dropped = drop.then(|| ddl.drop(kind, &key.name, left));
    let created = create.then(|| ddl.create(kind, &key.name, right));
    if dropped.as_ref().is_some_and(Option::is_none)
        || created.as_ref().is_some_and(Option::is_none)
    {
        return vec![manual(
            key,
            format!(
                "safemig does not write DDL for this {kind} on this engine{}",
                attribute_of(difference)
            ),
        )];
    }
    let phase = match kind {
        ObjectKind::Enum
        | ObjectKind::Domain
        | ObjectKind::CompositeType
        | ObjectKind::Sequence => Phase::DropType,
        _ => Phase::Drop,
    };
    let drops = dropped.flatten().map(|s| sql_step(key, phase, s));
    let creates = created.flatten().map(|s| sql_step(key, Phase::Create, s));
    drops.into_iter().chain(creates).collect()
}

fn sql_step(key: &ObjectKey, phase: Phase, sql: String) -> (Phase, Step) {
    let object = key.clone();
    (phase, Step::Sql { object, sql })
}

fn manual(key: &ObjectKey, reason: String) -> (Phase, Step) {
    let object = key.clone();
    (Phase::Manual, Step::NotExpressed { object, reason })
}

/// The statement the engine writes, or, when it writes none, the difference left to a
/// person with `reason`.
fn sql_or_manual(
    key: &ObjectKey,
    phase: Phase,
    sql: Option<String>,
    reason: String,
) -> (Phase, Step) {
    match sql {
        Some(sql) => sql_step(key, phase, sql),
        None => manual(key, reason),
    }
}

/// The tables the script drops.
fn dropped_tables(
    differences: &[Difference],
    tables: Tables,
) -> std::collections::BTreeSet<String> {
    differences
        .iter()
        .filter(|d| {
            tables == Tables::Drop
                && matches!(d, Difference::Extra { .. })
                && d.object().kind == ObjectKind::Table
        })
        .map(|d| d.object().name.clone())
        .collect()
}

/// The table an object belongs to: its `table` attribute, else the part of its key before
/// the dot (columns, constraints, triggers are keyed `table.name`). Tables, views and
/// types belong to none.
fn owner(key: &ObjectKey, object: &Object) -> Option<String> {
    if let Some(table) = object.attributes.get("table") {
        return Some(table.clone());
    }
    match key.kind {
        ObjectKind::Column
        | ObjectKind::PrimaryKey
        | ObjectKind::Unique
        | ObjectKind::Exclusion
        | ObjectKind::Index
        | ObjectKind::ForeignKey
        | ObjectKind::Check
        | ObjectKind::Trigger
        | ObjectKind::Policy => Some(
            // MySQL and SQLite key a primary key by its table alone.
            key.name
                .split_once('.')
                .map_or(key.name.as_str(), |(t, _)| t)
                .to_string(),
        ),
        _ => None,
    }
}

fn attribute_of(difference: &Difference) -> String {
    match difference {
        Difference::Changed { attribute, .. } => format!(" (its {attribute})"),
        _ => String::new(),
    }
}

/// The script: an optional preamble, then the steps.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub preamble: Option<String>,
    pub steps: Vec<Step>,
}

/// The script as `drift --sql` prints it: statements, and each difference left to a
/// person as a comment.
pub fn render(script: &Script, header: &str) -> String {
    let mut out = format!(
        "-- {header}\n-- Written by safemig drift --sql; review before running. Not run by drift.\n"
    );
    if let Some(preamble) = &script.preamble {
        out.push_str(preamble);
        out.push('\n');
    }
    for step in &script.steps {
        match step {
            Step::Sql { sql, .. } => {
                out.push_str(sql);
                out.push('\n');
            }
            Step::NotExpressed { object, reason } => {
                out.push_str(&format!("-- not written: {object}: {reason}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Object;

    struct Plain;
    impl Ddl for Plain {
        fn quote(&self, name: &str) -> String {
            name.into()
        }
        fn set_default(&self, t: &str, c: &str, d: Option<&str>) -> Option<String> {
            Some(format!("DEFAULT {t}.{c} {d:?}"))
        }
        fn create(&self, _: ObjectKind, name: &str, _: &Object) -> Option<String> {
            Some(format!("CREATE {name}"))
        }
        fn drop(&self, _: ObjectKind, name: &str, _: &Object) -> Option<String> {
            Some(format!("DROP {name}"))
        }
    }

    #[test]
    fn drops_come_first_and_data_is_never_dropped() {
        let mut left = Schema::default();
        let mut right = Schema::default();
        left.insert(ObjectKind::View, "v", Object::text("a"));
        right.insert(ObjectKind::View, "v", Object::text("b"));
        right.insert(ObjectKind::Index, "i", Object::text("x"));
        left.insert(ObjectKind::Column, "t.gone", Object::default());
        left.insert(
            ObjectKind::Column,
            "t.c",
            Object::default().with("default", "1"),
        );
        right.insert(ObjectKind::Column, "t.c", Object::default());
        let differences = crate::schema::diff(&left, &right);
        let steps = steps(&differences, &left, &right, &Plain, Tables::Keep);
        let text = render(
            &Script {
                preamble: None,
                steps,
            },
            "test",
        );
        assert_eq!(
            text.lines().skip(2).collect::<Vec<_>>(),
            [
                "DROP v",
                "DEFAULT t.c None",
                "CREATE i",
                "CREATE v",
                "-- not written: column `t.gone`: dropping a column deletes its data",
            ]
        );
    }
}
