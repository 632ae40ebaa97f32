//! Comparing two `_prisma_migrations` histories: which migrations each side has applied,
//! with which checksums, in which order, and which are left failed.

use serde::{Deserialize, Serialize};

use crate::history::HistoryRow;
use crate::migrations::MigrationsDir;

/// One migration of a history, as drift compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub checksum: String,
    pub state: EntryState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Applied,
    /// Started and neither finished nor rolled back: Prisma's P3009.
    Failed,
    /// An attempt marked rolled back: it blocks nothing and changed nothing, so it is not
    /// compared.
    RolledBack,
}

/// A history read from a database, in the order its rows were started. Rows started in
/// the same millisecond (the precision Prisma and safemig write) are taken in name order,
/// which is the folder's for any history Prisma or safemig made.
pub fn from_rows(rows: &[HistoryRow]) -> Vec<Entry> {
    let mut rows: Vec<&HistoryRow> = rows.iter().collect();
    rows.sort_by(|a, b| (a.started_at, &a.migration_name).cmp(&(b.started_at, &b.migration_name)));
    rows.into_iter()
        .map(|r| Entry {
            name: r.migration_name.clone(),
            checksum: r.checksum.clone(),
            state: if r.rolled_back_at.is_some() {
                EntryState::RolledBack
            } else if r.is_applied() {
                EntryState::Applied
            } else {
                EntryState::Failed
            },
        })
        .collect()
}

/// The history the folder describes: every migration applied, in the folder's order.
pub fn from_folder(dir: &MigrationsDir) -> Vec<Entry> {
    dir.migrations
        .iter()
        .map(|m| Entry {
            name: m.name.clone(),
            checksum: m.checksum.clone(),
            state: EntryState::Applied,
        })
        .collect()
}

/// One way two histories differ ("left" is the side being checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum HistoryDifference {
    /// Applied on the left only.
    OnlyLeft { migration: String },
    /// Applied on the right only.
    OnlyRight { migration: String },
    /// Applied on both, from files with different contents.
    Checksum {
        migration: String,
        left: String,
        right: String,
    },
    /// Applied on both, but in another order relative to the migrations before it.
    Order { migration: String },
    /// Left failed on one side.
    Failed { migration: String, side: Side },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

/// Every difference between two histories. Rolled-back attempts are not compared; a
/// migration applied twice counts once (its last application).
pub fn compare(left: &[Entry], right: &[Entry]) -> Vec<HistoryDifference> {
    let applied = |entries: &[Entry]| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for e in entries.iter().filter(|e| e.state == EntryState::Applied) {
            out.retain(|(name, _)| *name != e.name);
            out.push((e.name.clone(), e.checksum.clone()));
        }
        out
    };
    let (l, r) = (applied(left), applied(right));
    let find = |list: &[(String, String)], name: &str| list.iter().position(|(n, _)| n == name);
    let mut differences = Vec::new();
    for (name, checksum) in &l {
        match find(&r, name) {
            None => differences.push(HistoryDifference::OnlyLeft {
                migration: name.clone(),
            }),
            Some(i) if r[i].1 != *checksum => differences.push(HistoryDifference::Checksum {
                migration: name.clone(),
                left: checksum.clone(),
                right: r[i].1.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, _) in &r {
        if find(&l, name).is_none() {
            differences.push(HistoryDifference::OnlyRight {
                migration: name.clone(),
            });
        }
    }
    // Order: among the migrations both applied, the longest run that both sides applied in
    // the same order is in order; each other one was applied out of order (one migration
    // moved to the end is one difference, not one per migration after it).
    let right_position = |name: &str| find(&r, name);
    let positions: Vec<usize> = l.iter().filter_map(|(n, _)| right_position(n)).collect();
    let in_order = longest_increasing(&positions);
    for (i, &position) in positions.iter().enumerate() {
        if !in_order.contains(&i) {
            differences.push(HistoryDifference::Order {
                migration: r[position].0.clone(),
            });
        }
    }
    for (entries, side) in [(left, Side::Left), (right, Side::Right)] {
        for e in entries.iter().filter(|e| e.state == EntryState::Failed) {
            differences.push(HistoryDifference::Failed {
                migration: e.name.clone(),
                side,
            });
        }
    }
    differences
}

/// The indexes of one longest strictly increasing subsequence of `values` (patience
/// sorting, O(n log n)).
fn longest_increasing(values: &[usize]) -> std::collections::BTreeSet<usize> {
    // tails[k]: index of the smallest last value of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; values.len()];
    for (i, &value) in values.iter().enumerate() {
        let k = tails.partition_point(|&t| values[t] < value);
        previous[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut run = std::collections::BTreeSet::new();
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.insert(i);
        at = previous[i];
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(name: &str, checksum: &str) -> Entry {
        Entry {
            name: name.into(),
            checksum: checksum.into(),
            state: EntryState::Applied,
        }
    }

    #[test]
    fn rows_started_in_the_same_millisecond_are_taken_in_name_order() {
        let mut second = HistoryRow::resolved_applied("2_users", "b");
        let mut first = HistoryRow::resolved_applied("1_init", "a");
        first.started_at = second.started_at;
        second.finished_at = first.finished_at;
        let names: Vec<String> = from_rows(&[second, first])
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["1_init", "2_users"]);
    }

    #[test]
    fn one_migration_moved_is_one_difference() {
        let right: Vec<Entry> = (0..6).map(|i| applied(&format!("{i}_m"), "x")).collect();
        let mut left = right.clone();
        let moved = left.remove(1);
        left.push(moved);
        assert_eq!(
            compare(&left, &right),
            vec![HistoryDifference::Order {
                migration: "1_m".into()
            }]
        );
    }

    #[test]
    fn same_histories_do_not_differ_and_rolled_back_attempts_do_not_count() {
        let left = vec![
            applied("1_init", "a"),
            Entry {
                state: EntryState::RolledBack,
                ..applied("2_users", "x")
            },
            applied("2_users", "b"),
        ];
        let right = vec![applied("1_init", "a"), applied("2_users", "b")];
        assert_eq!(compare(&left, &right), vec![]);
    }

    #[test]
    fn renamed_edited_reordered_and_failed_migrations_are_each_named() {
        let left = vec![
            applied("1_init", "a"),
            applied("3_posts", "c"),
            applied("2_users", "b"),
            applied("4_fix_by_hand", "d"),
            Entry {
                state: EntryState::Failed,
                ..applied("5_index", "e")
            },
        ];
        let right = vec![
            applied("1_init", "a2"),
            applied("2_users", "b"),
            applied("3_posts", "c"),
            applied("4_fix", "d"),
        ];
        let differences = compare(&left, &right);
        assert_eq!(
            differences,
            vec![
                HistoryDifference::Checksum {
                    migration: "1_init".into(),
                    left: "a".into(),
                    right: "a2".into()
                },
                HistoryDifference::OnlyLeft {
                    migration: "4_fix_by_hand".into()
                },
                HistoryDifference::OnlyRight {
                    migration: "4_fix".into()
                },
                HistoryDifference::Order {
                    migration: "3_posts".into()
                },
                HistoryDifference::Failed {
                    migration: "5_index".into(),
                    side: Side::Left
                },
            ]
        );
    }
}
