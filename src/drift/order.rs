//! What depends on what among the objects a `drift --sql` script drops and creates, read
//! from their definitions the way every engine keeps them: a view's text names the views
//! and tables it selects from, a trigger's text the function it runs (PostgreSQL) or the
//! tables its body touches. A script drops dependents before what they depend on, and
//! creates in the opposite order; an object that depends on one the script drops and
//! creates again is dropped and created again with it (PostgreSQL refuses `DROP VIEW a_v`
//! while `b_v` selects from it).

use crate::schema::{Object, ObjectKey, ObjectKind};

/// The kinds whose drop takes their dependents along (or is refused because of them).
pub(super) fn has_dependents(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::View
            | ObjectKind::MaterializedView
            | ObjectKind::Function
            | ObjectKind::Procedure
    )
}

/// The kinds that depend on others through their definition text and are dropped and
/// created again with them.
pub(super) fn is_dependent(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Trigger | ObjectKind::Index
    )
}

/// The name other objects' text uses for `key`: a routine's without its arguments, an
/// object of a table without the table.
fn referenced_name(key: &ObjectKey) -> &str {
    match key.kind {
        ObjectKind::Function | ObjectKind::Procedure | ObjectKind::Aggregate => key
            .name
            .split_once('(')
            .map_or(key.name.as_str(), |(n, _)| n),
        _ => key.name.as_str(),
    }
}

/// The kinds other objects' texts name: the rest (indexes, constraints, triggers) are
/// never what another object is built on, and are not searched for (a script may create
/// thousands of them).
fn is_named_by_others(kind: ObjectKind) -> bool {
    has_dependents(kind)
        || matches!(
            kind,
            ObjectKind::Table
                | ObjectKind::Sequence
                | ObjectKind::Enum
                | ObjectKind::Domain
                | ObjectKind::CompositeType
                | ObjectKind::Aggregate
        )
}

/// Whether `dependent`'s definition names `dependency` as a whole word.
pub(super) fn depends_on(dependent: (&ObjectKey, &Object), dependency: &ObjectKey) -> bool {
    let (key, object) = dependent;
    key != dependency
        && is_named_by_others(dependency.kind)
        && object
            .attributes
            .get("definition")
            .is_some_and(|text| super::names(text, referenced_name(dependency)))
}

/// `items` reordered so that each comes after every item `after(item, other)` says it
/// must follow, and otherwise in the given order: each item is placed once what it
/// follows is (depth first). A cycle (two texts naming each other) is broken where the
/// walk meets it.
pub(super) fn topological<T>(items: Vec<T>, after: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let n = items.len();
    let follows: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| i != j && after(&items[i], &items[j]))
                .collect()
        })
        .collect();
    let mut state = vec![Visit::New; n];
    let mut order = Vec::with_capacity(n);
    for i in 0..n {
        place(i, &follows, &mut state, &mut order);
    }
    let mut items: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| items[i].take().expect("each item is placed once"))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    Placing,
    Placed,
}

/// Places what `i` follows, then `i`.
fn place(i: usize, follows: &[Vec<usize>], state: &mut [Visit], order: &mut Vec<usize>) {
    if state[i] != Visit::New {
        return;
    }
    state[i] = Visit::Placing;
    for &j in &follows[i] {
        place(j, follows, state, order);
    }
    state[i] = Visit::Placed;
    order.push(i);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: ObjectKind, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            name: name.into(),
        }
    }

    #[test]
    fn texts_name_their_dependencies_as_whole_words() {
        let b_v = Object::text("SELECT a_v.id FROM \"a_v\"");
        let view = key(ObjectKind::View, "b_v");
        assert!(depends_on((&view, &b_v), &key(ObjectKind::View, "a_v")));
        assert!(!depends_on((&view, &b_v), &key(ObjectKind::View, "a")));
        let trigger = Object::text("CREATE TRIGGER t BEFORE UPDATE ON u EXECUTE FUNCTION touch()");
        let function = key(ObjectKind::Function, "touch()");
        assert!(depends_on(
            (&key(ObjectKind::Trigger, "u.t"), &trigger),
            &function
        ));
        assert!(!depends_on((&view, &b_v), &view), "not on itself");
    }

    #[test]
    fn dependencies_come_first_and_a_cycle_is_broken() {
        let after = |a: &&str, b: &&str| (*a, *b) == ("b", "a") || (*a, *b) == ("a", "c");
        assert_eq!(
            topological(vec!["b", "a", "c", "d"], after),
            ["c", "a", "b", "d"]
        );
        let cycle = |a: &&str, b: &&str| a != b;
        assert_eq!(topological(vec!["x", "y"], cycle), ["y", "x"]);
    }
}
