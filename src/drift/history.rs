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

/// A history read from a database, in the order its rows were started.
pub fn from_rows(rows: &[HistoryRow]) -> Vec<Entry> {
    let mut rows: Vec<&HistoryRow> = rows.iter().collect();
    rows.sort_by_key(|r| r.started_at);
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
    // Order: the migrations both applied, in each side's order; a name whose position
    // among them differs is out of order.
    let common = |list: &[(String, String)], other: &[(String, String)]| -> Vec<String> {
        list.iter()
            .filter(|(n, _)| find(other, n).is_some())
            .map(|(n, _)| n.clone())
            .collect()
    };
    let (lc, rc) = (common(&l, &r), common(&r, &l));
    for (a, b) in lc.iter().zip(&rc) {
        if a != b {
            differences.push(HistoryDifference::Order {
                migration: a.clone(),
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
                HistoryDifference::Order {
                    migration: "2_users".into()
                },
                HistoryDifference::Failed {
                    migration: "5_index".into(),
                    side: Side::Left
                },
            ]
        );
    }
}
