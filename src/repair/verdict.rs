//! The verdict: which prefix of the failed migration the live schema is. Pure: it sees
//! only schemas and what each statement can do, so it is tested without a database.

use serde::Serialize;

use crate::schema::{Difference, Schema, diff};

/// How much of the failed migration the live schema shows. `k` counts statements from the
/// start of the migration: state k is the schema after its first k statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The live schema is the state before the migration: nothing of it is applied.
    None,
    /// The live schema is the state after the whole migration.
    All,
    /// The live schema is the state after the first `applied` statements, and no other.
    Partial { applied: usize },
    /// Several states match: the statements between them change no schema (data
    /// statements, grants, …), so the schema cannot tell whether they ran.
    Ambiguous {
        /// The matching states.
        candidates: Vec<usize>,
        /// The statements (1-based) the schema cannot show, between the first and the
        /// last candidate.
        unseen: Vec<usize>,
    },
    /// No state matches: something else changed the database. `differences` are the live
    /// schema's against the nearest state (left: live, right: state `nearest`).
    Diverged {
        nearest: usize,
        differences: Vec<Difference>,
    },
}

impl Verdict {
    /// Whether `repair --apply` may act on this verdict without a person deciding.
    pub fn repairable(&self) -> bool {
        matches!(self, Verdict::None | Verdict::All | Verdict::Partial { .. })
    }

    /// A short human form: `none`, `all`, `partial 2 of 5`, `ambiguous`, `diverged`.
    pub fn describe(&self, total: usize) -> String {
        match self {
            Verdict::None => "none".into(),
            Verdict::All => "all".into(),
            Verdict::Partial { applied } => format!("partial {applied} of {total}"),
            Verdict::Ambiguous { .. } => "ambiguous".into(),
            Verdict::Diverged { .. } => "diverged".into(),
        }
    }
}

/// Classifies `live` against `states` (S₀…Sₙ, one more than there are statements; `None`
/// for a state no failure leaves, inside the script's own transaction: never a candidate).
/// `transparent[i]` says running statement i+1 again is harmless (transaction control,
/// session settings, DDL that changed nothing in the scratch database), so states that
/// differ only by such statements are one state, and the earliest is taken (its statements
/// run again).
/// Any other statement between two matching states makes the verdict ambiguous: never a
/// guess, and above all never an `all` that skips a data statement.
pub fn classify(live: &Schema, states: &[Option<Schema>], transparent: &[bool]) -> Verdict {
    assert_eq!(states.len(), transparent.len() + 1, "one state per prefix");
    let total = transparent.len();
    let differences: Vec<(usize, Vec<Difference>)> = states
        .iter()
        .enumerate()
        .filter_map(|(k, s)| Some((k, diff(live, s.as_ref()?))))
        .collect();
    let candidates: Vec<usize> = differences
        .iter()
        .filter(|(_, d)| d.is_empty())
        .map(|(k, _)| *k)
        .collect();
    let (Some(&first), Some(&last)) = (candidates.first(), candidates.last()) else {
        let (nearest, differences) = differences
            .into_iter()
            .min_by_key(|(_, d)| d.len())
            .expect("state 0 is always read");
        return Verdict::Diverged {
            nearest,
            differences,
        };
    };
    let unseen: Vec<usize> = (first + 1..=last)
        .filter(|&s| !transparent[s - 1])
        .collect();
    if !unseen.is_empty() {
        return Verdict::Ambiguous { candidates, unseen };
    }
    if last == total {
        Verdict::All
    } else if first == 0 {
        Verdict::None
    } else {
        Verdict::Partial { applied: first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Object, ObjectKind};

    fn schema(tables: &[&str]) -> Option<Schema> {
        let mut s = Schema::default();
        for t in tables {
            s.insert(ObjectKind::Table, *t, Object::default());
        }
        Some(s)
    }

    fn live(tables: &[&str]) -> Schema {
        schema(tables).unwrap()
    }

    /// States of `CREATE a; CREATE b; CREATE c`.
    fn three() -> Vec<Option<Schema>> {
        vec![
            schema(&[]),
            schema(&["a"]),
            schema(&["a", "b"]),
            schema(&["a", "b", "c"]),
        ]
    }

    #[test]
    fn each_prefix_is_recognised() {
        let states = three();
        let t = [false; 3];
        assert_eq!(
            classify(states[0].as_ref().unwrap(), &states, &t),
            Verdict::None
        );
        assert_eq!(
            classify(states[2].as_ref().unwrap(), &states, &t),
            Verdict::Partial { applied: 2 }
        );
        assert_eq!(
            classify(states[3].as_ref().unwrap(), &states, &t),
            Verdict::All
        );
    }

    #[test]
    fn a_data_statement_at_the_end_is_never_assumed_run() {
        // CREATE a; CREATE b; INSERT INTO b
        let states = vec![
            schema(&[]),
            schema(&["a"]),
            schema(&["a", "b"]),
            schema(&["a", "b"]),
        ];
        assert_eq!(
            classify(states[3].as_ref().unwrap(), &states, &[false; 3]),
            Verdict::Ambiguous {
                candidates: vec![2, 3],
                unseen: vec![3]
            }
        );
    }

    #[test]
    fn transaction_control_does_not_make_a_verdict_ambiguous() {
        // BEGIN; CREATE a; COMMIT
        let states = vec![schema(&[]), schema(&[]), schema(&["a"]), schema(&["a"])];
        let t = [true, false, true];
        assert_eq!(
            classify(states[0].as_ref().unwrap(), &states, &t),
            Verdict::None
        );
        assert_eq!(
            classify(states[2].as_ref().unwrap(), &states, &t),
            Verdict::All
        );
    }

    #[test]
    fn no_state_inside_the_scripts_own_transaction_is_a_candidate() {
        // CREATE x; BEGIN; CREATE a; CREATE b; COMMIT: states 2 to 4 are not read.
        let states = vec![
            schema(&[]),
            schema(&["x"]),
            None,
            None,
            None,
            schema(&["x", "a", "b"]),
        ];
        let t = &[false, true, false, false, true];
        assert_eq!(
            classify(&live(&["x"]), &states, t),
            Verdict::Partial { applied: 1 }
        );
        assert_eq!(classify(&live(&["x", "a", "b"]), &states, t), Verdict::All);
        match classify(&live(&["x", "a"]), &states, t) {
            Verdict::Diverged { nearest, .. } => assert_eq!(nearest, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unrelated_change_diverges_from_the_nearest_state() {
        let states = three();
        let live = live(&["a", "b", "x"]);
        match classify(&live, &states, &[false; 3]) {
            Verdict::Diverged {
                nearest,
                differences,
            } => {
                assert_eq!(nearest, 2);
                assert_eq!(differences.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
