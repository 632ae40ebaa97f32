//! `drift --sql`: the statements that would bring the left side to the right side's
//! schema, written by the engine's [`Ddl`], and every difference no statement is written
//! for, with why. Drift never runs them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::order;
use crate::schema::ddl::{Ddl, NewTable, owner, table_and_name};
use crate::schema::{Difference, Object, ObjectKey, ObjectKind, Schema};

mod redefine;

/// One step of the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Sql {
        object: ObjectKey,
        sql: String,
        /// What to know before running it (a `CREATE INDEX` that blocks writes).
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A difference left to a person: dropping data, rebuilding a table, or DDL safemig
    /// does not write for this engine.
    NotExpressed { object: ObjectKey, reason: String },
}

/// When a step runs: foreign keys dropped first (MySQL refuses to drop an index one
/// needs), then other drops (a changed view or index is dropped, then created), then
/// sequences and tables created (columns' defaults use the sequences), then column changes,
/// then tables dropped (once nothing refers to them), then types and sequences (once no
/// column uses them), then what is created (an index may need a column added before it).
/// Within the drops and the creations, by dependency ([`order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    DropForeignKey,
    Drop,
    CreateSequence,
    CreateTable,
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

/// What the steps are written from.
pub struct Sides<'a> {
    pub left: &'a Schema,
    pub right: &'a Schema,
    /// The tables of the left side that hold rows (see [`tables_to_probe`]).
    pub occupied: &'a BTreeSet<String>,
}

/// A step with its phase and the object it drops or creates, as that side has it (what
/// it depends on is read from there).
struct Planned<'a> {
    phase: Phase,
    step: Step,
    object: &'a Object,
}

static NONE: Object = Object {
    attributes: BTreeMap::new(),
    by_text: false,
};

/// The steps for `differences` between `sides.left` and `sides.right`, in an order that
/// runs.
pub fn steps(
    differences: &[Difference],
    sides: &Sides,
    ddl: &dyn Ddl,
    tables: Tables,
) -> Vec<Step> {
    let (left, right) = (sides.left, sides.right);
    let dropped = dropped_tables(differences, tables);
    let created: BTreeMap<&str, Option<NewTable>> = differences
        .iter()
        .filter(|d| matches!(d, Difference::Missing { .. }) && d.object().kind == ObjectKind::Table)
        .map(|d| {
            (
                d.object().name.as_str(),
                ddl.create_table(&d.object().name, right),
            )
        })
        .collect();
    let redefined = redefine::tables(differences, sides, ddl, tables, &dropped);
    let mut planned: Vec<Planned> = Vec::new();
    for difference in differences {
        let key = difference.object();
        if let Some(done) = redefine::covered(&redefined, difference, sides) {
            planned.extend(done);
            continue;
        }
        let (l, r) = (object(left, key), object(right, key));
        let table = owner(
            key,
            if matches!(difference, Difference::Missing { .. }) {
                r
            } else {
                l
            },
        );
        if let Some(table) = &table {
            // Goes with its table. A foreign key is dropped first all the same where the
            // engine can (another dropped table may be referenced by it); SQLite cannot,
            // and drops it with its table.
            let own_drop =
                key.kind == ObjectKind::ForeignKey && ddl.drop(key.kind, &key.name, l).is_some();
            if dropped.contains(table.as_str()) && !own_drop {
                continue;
            }
            match created.get(table.as_str()) {
                Some(Some(new)) if new.covers.contains(key) => continue,
                Some(None) => {
                    let reason = format!("its table `{table}` is not written");
                    planned.push(manual(key, reason));
                    continue;
                }
                _ => {}
            }
        }
        let new_table = match key.kind {
            ObjectKind::Table => created.get(key.name.as_str()).and_then(Option::as_ref),
            _ => None,
        };
        planned.extend(steps_for(difference, (l, r), sides, ddl, tables, new_table));
    }
    planned.extend(redefined.into_values().flat_map(Result::unwrap_or_default));
    rebuild_dependents(&mut planned, sides, ddl, &dropped);
    defer_users_of_unwritten_columns(&mut planned, sides);
    planned.sort_by_key(|p| p.phase);
    let planned = by_dependency(planned, ddl);
    // An object replaced whole is replaced once, however many of its attributes differ.
    let mut written: Vec<Step> = Vec::new();
    for p in planned {
        if !written.contains(&p.step) {
            written.push(p.step);
        }
    }
    written
}

fn object<'a>(schema: &'a Schema, key: &ObjectKey) -> &'a Object {
    schema.objects.get(key).unwrap_or(&NONE)
}

/// The steps for one difference, its object as the left and the right side have it;
/// `created`: the table's `CREATE TABLE`, for a missing table the engine writes.
fn steps_for<'a>(
    difference: &Difference,
    (left, right): (&'a Object, &'a Object),
    sides: &Sides,
    ddl: &dyn Ddl,
    tables: Tables,
    created: Option<&NewTable>,
) -> Vec<Planned<'a>> {
    let key = difference.object();
    let (table, name) = table_and_name(&key.name);
    let not_written_drop = || "safemig does not write this drop here".to_string();
    let step = match (key.kind, difference) {
        (ObjectKind::Table, Difference::Missing { .. }) => match created {
            Some(new) => sql_step(key, Phase::CreateTable, new.sql.clone(), right),
            None => manual(
                key,
                "safemig does not write this table on this engine: create it with its migration"
                    .into(),
            ),
        },
        (ObjectKind::Sequence, Difference::Missing { .. }) => {
            match ddl.create_sequence(&key.name, right) {
                Some((create, owned)) => {
                    let mut steps = vec![sql_step(key, Phase::CreateSequence, create, right)];
                    steps.extend(owned.map(|sql| sql_step(key, Phase::Create, sql, right)));
                    return steps;
                }
                None => return replaced(difference, (left, right), ddl),
            }
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
        (ObjectKind::Column, Difference::Missing { .. }) => added_column(key, right, sides, ddl),
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
        (ObjectKind::Trigger, Difference::Changed { attribute, .. })
            if attribute == "order" && ordered_by_drops(key, right, sides, ddl) =>
        {
            return Vec::new();
        }
        _ => return replaced(difference, (left, right), ddl),
    };
    vec![step]
}

/// Whether a trigger's `order` (MySQL's position among its table's triggers of the same
/// timing and event) comes out as `right` has it once the script drops the triggers only
/// the left side has: it differed only because of them.
fn ordered_by_drops(key: &ObjectKey, right: &Object, sides: &Sides, ddl: &dyn Ddl) -> bool {
    let left = object(sides.left, key);
    let a = |o: &Object, name: &str| o.attributes.get(name).cloned();
    let order = |o: &Object| a(o, "order").and_then(|n| n.parse::<u32>().ok());
    let table = owner(key, left);
    let mut kept: Vec<(u32, &ObjectKey)> = sides
        .left
        .objects
        .iter()
        .filter(|(k, o)| {
            k.kind == ObjectKind::Trigger
                && owner(k, o) == table
                && a(o, "timing") == a(left, "timing")
                && a(o, "event") == a(left, "event")
                && (sides.right.objects.contains_key(*k) || ddl.drop(k.kind, &k.name, o).is_none())
        })
        .filter_map(|(k, o)| Some((order(o)?, k)))
        .collect();
    kept.sort();
    let position = kept.iter().position(|(_, k)| *k == key);
    position.map(|p| p as u32 + 1) == order(right)
}

/// A column only the right side has. A NOT NULL column without a default cannot be added
/// to a table that holds rows (every engine refuses or fails), so that is left to a person.
fn added_column<'a>(
    key: &ObjectKey,
    column: &'a Object,
    sides: &Sides,
    ddl: &dyn Ddl,
) -> Planned<'a> {
    let (table, name) = table_and_name(&key.name);
    let needs_value = needs_a_value(column);
    if needs_value && sides.occupied.contains(table) {
        let reason =
            format!("table `{table}` holds rows: a NOT NULL column needs a default or a backfill");
        return manual(key, reason);
    }
    // An engine that adds the column as nullable but not as it is refuses a NOT NULL
    // column without a default (SQLite, even to an empty table).
    let nullable = column.clone().with("nullable", "true");
    let reason = if needs_value && ddl.add_column(table, name, &nullable).is_some() {
        "this engine adds a NOT NULL column only with a default: add it in a migration".into()
    } else {
        format!("safemig does not write this {} here", key.kind)
    };
    match ddl.add_column(table, name, column) {
        Some(sql) => sql_step(key, Phase::Column, sql, column),
        None => manual(key, reason),
    }
}

/// Whether adding `column` needs a value for each existing row: NOT NULL, without a
/// default, an identity or a generation expression to fill it.
fn needs_a_value(column: &Object) -> bool {
    let a = |name: &str| column.attributes.contains_key(name);
    column.attributes.get("nullable").map(String::as_str) == Some("false")
        && !a("default")
        && !a("identity")
        && !a("generated")
}

/// The tables of the left side the script would add a NOT NULL column without a default
/// to, or make a column NOT NULL in (which a table redefinition fails on with NULLs in
/// it): the caller asks the database whether they hold rows (`Inspect::holds_data`).
pub fn tables_to_probe(
    differences: &[Difference],
    left: &Schema,
    right: &Schema,
) -> BTreeSet<String> {
    differences
        .iter()
        .filter(|d| d.object().kind == ObjectKind::Column)
        .filter(|d| match d {
            Difference::Missing { object: key } => needs_a_value(object(right, key)),
            Difference::Changed {
                attribute, right, ..
            } => attribute == "nullable" && right.as_deref() == Some("false"),
            Difference::Extra { .. } => false,
        })
        .map(|d| table_and_name(&d.object().name).0.to_string())
        .filter(|table| {
            left.objects.contains_key(&ObjectKey {
                kind: ObjectKind::Table,
                name: table.clone(),
            })
        })
        .collect()
}

/// Everything else is replaced whole: dropped as the left side has it, created as the
/// right side has it.
fn replaced<'a>(
    difference: &Difference,
    (left, right): (&'a Object, &'a Object),
    ddl: &dyn Ddl,
) -> Vec<Planned<'a>> {
    let key = difference.object();
    let drop = !matches!(difference, Difference::Missing { .. });
    let create = !matches!(difference, Difference::Extra { .. });
    match rebuilt(key, (drop, create), (left, right), ddl) {
        Some(steps) => steps,
        None => vec![manual(
            key,
            format!(
                "safemig does not write DDL for this {} on this engine{}",
                key.kind,
                attribute_of(difference)
            ),
        )],
    }
}

/// The drop (of `left`) and the create (of `right`) of `key`, those asked for; `None`
/// when the engine writes either not.
fn rebuilt<'a>(
    key: &ObjectKey,
    (drop, create): (bool, bool),
    (left, right): (&'a Object, &'a Object),
    ddl: &dyn Ddl,
) -> Option<Vec<Planned<'a>>> {
    let kind = key.kind;
    let phase = match kind {
        ObjectKind::Enum
        | ObjectKind::Domain
        | ObjectKind::CompositeType
        | ObjectKind::Sequence => Phase::DropType,
        // MySQL refuses to drop an index a foreign key needs.
        ObjectKind::ForeignKey => Phase::DropForeignKey,
        _ => Phase::Drop,
    };
    let mut steps = Vec::new();
    if drop {
        steps.push(sql_step(key, phase, ddl.drop(kind, &key.name, left)?, left));
    }
    if create {
        let sql = ddl.create(kind, &key.name, right)?;
        steps.push(sql_step(key, Phase::Create, sql, right));
    }
    Some(steps)
}

/// Objects the left side keeps, unchanged, that depend on one the script drops (a view
/// on a view, a trigger on a function): dropped before it and created again after it.
/// When the engine cannot write one of them, the object it depends on is left to a
/// person instead of a drop that would fail.
fn rebuild_dependents<'a>(
    planned: &mut Vec<Planned<'a>>,
    sides: &Sides<'a>,
    ddl: &dyn Ddl,
    dropped_tables: &BTreeSet<String>,
) {
    let mut seen: BTreeSet<ObjectKey> = planned.iter().map(|p| p.key().clone()).collect();
    let mut queue: Vec<ObjectKey> = planned
        .iter()
        .filter(|p| p.phase == Phase::Drop && order::has_dependents(p.key().kind))
        .map(|p| p.key().clone())
        .collect();
    while let Some(dropped) = queue.pop() {
        let dependents: Vec<(&ObjectKey, &Object)> = sides
            .left
            .objects
            .iter()
            .filter(|(k, o)| {
                order::is_dependent(k.kind)
                    && !seen.contains(*k)
                    && !owner(k, o).is_some_and(|t| dropped_tables.contains(&t))
                    && order::depends_on((k, o), &dropped)
            })
            .collect();
        for (key, left) in dependents {
            seen.insert(key.clone());
            let right = object(sides.right, key);
            match rebuilt(key, (true, true), (left, right), ddl) {
                Some(steps) => {
                    planned.extend(steps);
                    if order::has_dependents(key.kind) {
                        queue.push(key.clone());
                    }
                }
                None => {
                    planned.retain(|p| *p.key() != dropped);
                    let reason = format!(
                        "{key} depends on it, and safemig does not write DDL for that {} on this engine",
                        key.kind
                    );
                    planned.push(manual(&dropped, reason));
                }
            }
        }
    }
}

/// An index (or exclusion constraint) the script creates on a column whose change is not
/// written (its type) would be built for the column as it is, and may fail (no operator
/// class of its method for that type): it is left to a person with the column, drop and
/// creation alike. Constraints whose expressions hold for either type (a check on an
/// integer made bigint) are still written.
fn defer_users_of_unwritten_columns(planned: &mut Vec<Planned>, sides: &Sides) {
    let unwritten: Vec<(String, String)> = planned
        .iter()
        .filter(|p| {
            p.phase == Phase::Manual
                && p.key().kind == ObjectKind::Column
                && sides.left.objects.contains_key(p.key())
                && sides.right.objects.contains_key(p.key())
        })
        .map(|p| {
            let (table, column) = table_and_name(&p.key().name);
            (table.to_string(), column.to_string())
        })
        .collect();
    let uses = |p: &Planned| {
        unwritten.iter().find(|(table, column)| {
            p.phase == Phase::Create
                && matches!(p.key().kind, ObjectKind::Index | ObjectKind::Exclusion)
                && owner(p.key(), p.object).as_deref() == Some(table.as_str())
                && p.object
                    .attributes
                    .values()
                    .any(|v| super::names(v, column))
        })
    };
    let deferred: BTreeMap<ObjectKey, String> = planned
        .iter()
        .filter_map(|p| {
            let (table, column) = uses(p)?;
            let reason = format!("it uses column `{table}.{column}`, whose change is not written");
            Some((p.key().clone(), reason))
        })
        .collect();
    planned.retain(|p| !deferred.contains_key(p.key()));
    planned.extend(
        deferred
            .iter()
            .map(|(key, reason)| manual(key, reason.clone())),
    );
}

/// The steps of each phase in dependency order: drops of dependents first, creations of
/// what others depend on first.
fn by_dependency<'a>(planned: Vec<Planned<'a>>, ddl: &dyn Ddl) -> Vec<Planned<'a>> {
    let mut out = Vec::with_capacity(planned.len());
    let mut rest = planned.into_iter().peekable();
    while let Some(first) = rest.next() {
        let phase = first.phase;
        let mut group = vec![first];
        while let Some(p) = rest.next_if(|p| p.phase == phase) {
            group.push(p);
        }
        let group = match phase {
            Phase::Drop | Phase::DropType => order::topological(group, |a, b| {
                order::depends_on((b.key(), b.object), a.key())
            }),
            Phase::Create | Phase::CreateTable => order::topological(group, |a, b| {
                order::depends_on((a.key(), a.object), b.key())
            }),
            _ => group,
        };
        out.extend(group);
    }
    for p in &mut out {
        if let (Phase::Create, Step::Sql { object, sql, note }) = (p.phase, &mut p.step) {
            *note = ddl.note(object.kind, sql);
        }
    }
    out
}

impl Planned<'_> {
    fn key(&self) -> &ObjectKey {
        match &self.step {
            Step::Sql { object, .. } | Step::NotExpressed { object, .. } => object,
        }
    }
}

fn sql_step<'a>(key: &ObjectKey, phase: Phase, sql: String, object: &'a Object) -> Planned<'a> {
    let step = Step::Sql {
        object: key.clone(),
        sql,
        note: None,
    };
    Planned {
        phase,
        step,
        object,
    }
}

fn manual<'a>(key: &ObjectKey, reason: String) -> Planned<'a> {
    let step = Step::NotExpressed {
        object: key.clone(),
        reason,
    };
    Planned {
        phase: Phase::Manual,
        step,
        object: &NONE,
    }
}

/// The statement the engine writes, or, when it writes none, the difference left to a
/// person with `reason`.
fn sql_or_manual<'a>(
    key: &ObjectKey,
    phase: Phase,
    sql: Option<String>,
    reason: String,
) -> Planned<'a> {
    match sql {
        Some(sql) => sql_step(key, phase, sql, &NONE),
        None => manual(key, reason),
    }
}

/// The tables the script drops.
fn dropped_tables(differences: &[Difference], tables: Tables) -> BTreeSet<String> {
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
            Step::Sql { sql, note, .. } => {
                if let Some(note) = note {
                    out.push_str(&format!("-- note: {note}\n"));
                }
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
        fn add_column(&self, t: &str, c: &str, _: &Object) -> Option<String> {
            Some(format!("ADD {t}.{c}"))
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
        let sides = Sides {
            left: &left,
            right: &right,
            occupied: &BTreeSet::new(),
        };
        let steps = steps(&differences, &sides, &Plain, Tables::Keep);
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

    fn script(left: &Schema, right: &Schema, occupied: &[&str]) -> Vec<String> {
        script_of(left, right, occupied, &Plain, Tables::Keep)
    }

    /// The script's lines (without its header) from `left` to `right`, where the
    /// `occupied` tables hold rows.
    pub(super) fn script_of(
        left: &Schema,
        right: &Schema,
        occupied: &[&str],
        ddl: &dyn Ddl,
        tables: Tables,
    ) -> Vec<String> {
        let occupied = occupied.iter().map(|t| t.to_string()).collect();
        let sides = Sides {
            left,
            right,
            occupied: &occupied,
        };
        let steps = steps(&crate::schema::diff(left, right), &sides, ddl, tables);
        let text = render(
            &Script {
                preamble: None,
                steps,
            },
            "test",
        );
        text.lines().skip(2).map(String::from).collect()
    }

    #[test]
    fn dependents_are_dropped_first_and_created_last() {
        let mut left = Schema::default();
        let mut right = Schema::default();
        for schema in [&mut left, &mut right] {
            schema.insert(ObjectKind::View, "b_v", Object::text("SELECT id FROM a_v"));
            schema.insert(ObjectKind::View, "z_v", Object::text("SELECT id FROM b_v"));
            schema.insert(
                ObjectKind::Trigger,
                "t.a_touch",
                Object::text("CREATE TRIGGER a_touch EXECUTE FUNCTION touch()"),
            );
        }
        left.insert(ObjectKind::View, "a_v", Object::text("SELECT id FROM t"));
        right.insert(ObjectKind::View, "a_v", Object::text("SELECT id, x FROM t"));
        left.insert(ObjectKind::Function, "touch()", Object::text("old"));
        right.insert(ObjectKind::Function, "touch()", Object::text("new"));
        assert_eq!(
            script(&left, &right, &[]),
            [
                "DROP z_v",
                "DROP b_v",
                "DROP a_v",
                "DROP t.a_touch",
                "DROP touch()",
                "CREATE a_v",
                "CREATE touch()",
                "CREATE t.a_touch",
                "CREATE b_v",
                "CREATE z_v",
            ]
        );
    }

    #[test]
    fn a_not_null_column_without_a_default_is_not_added_to_a_table_with_rows() {
        let mut left = Schema::default();
        left.insert(ObjectKind::Table, "t", Object::default());
        let mut right = left.clone();
        right.insert(
            ObjectKind::Column,
            "t.c",
            Object::default().with("nullable", "false"),
        );
        let differences = crate::schema::diff(&left, &right);
        assert_eq!(
            tables_to_probe(&differences, &left, &right),
            BTreeSet::from(["t".to_string()])
        );
        assert_eq!(
            script(&left, &right, &["t"]),
            [
                "-- not written: column `t.c`: table `t` holds rows: a NOT NULL column needs a default or a backfill"
            ]
        );
    }
}
