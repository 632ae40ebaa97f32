//! The drift part of a check: what `drift` found for a target, summed up for the report
//! and the metrics.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CheckOptions, State, TargetReport};
use crate::database_url::DatabaseUrl;
use crate::drift;
use crate::environment::{Prepared, PreparedDrift};
use crate::status::HistoryTable;

/// What drift found, when the environment configures it.
#[derive(Debug, Clone, Serialize)]
pub struct DriftSummary {
    /// What the schema was compared with.
    pub against: String,
    pub verdict: Option<drift::Verdict>,
    /// Objects that differ.
    pub differences: usize,
    /// Differences between the two histories, where both sides have one.
    pub history_differences: Option<usize>,
    /// The differing objects per kind and change (`missing`, `extra`, `changed`), for
    /// `serve`'s `safemig_drift_objects`.
    pub objects: Vec<DriftCount>,
    /// The one migration every differing object was last named in, when there is one:
    /// where `repair` looks.
    pub suspect: Option<String>,
    /// What kind of thing the schema was compared with (`against` says it for people):
    /// alerts and advice differ between drift from the migrations and a difference from
    /// another environment or a snapshot.
    pub comparison: Comparison,
    pub error: Option<String>,
}

/// What drift compared a schema with, as `serve`'s labels name it: bounded values, never
/// a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Comparison {
    /// The migrations folder: the replay of the migrations the history applied.
    Folder,
    /// Another environment of `safemig.toml`.
    Environment { name: String },
    /// A database given by its URL (`drift --against URL`).
    Database,
    /// A file from `safemig snapshot`.
    Snapshot,
}

impl Comparison {
    fn of(setting: &PreparedDrift) -> Comparison {
        match (&setting.against, &setting.environment) {
            (drift::Source::Folder, _) => Comparison::Folder,
            (drift::Source::Snapshot(_), _) => Comparison::Snapshot,
            (drift::Source::Database(_), Some(name)) => {
                Comparison::Environment { name: name.clone() }
            }
            (drift::Source::Database(_), None) => Comparison::Database,
        }
    }
}

/// How many objects of one kind differ in one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftCount {
    /// The kind as drift's JSON names it (`primary_key`).
    pub kind: String,
    pub change: &'static str,
    pub count: usize,
}

fn drift_counts(findings: &[drift::Finding]) -> Vec<DriftCount> {
    use crate::schema::Difference;
    let mut counts: BTreeMap<(&'static str, &'static str), usize> = BTreeMap::new();
    for finding in findings {
        let (object, change) = match &finding.difference {
            Difference::Missing { object } => (object, "missing"),
            Difference::Extra { object } => (object, "extra"),
            Difference::Changed { object, .. } => (object, "changed"),
        };
        *counts.entry((object.kind.as_str(), change)).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .map(|((kind, change), count)| DriftCount {
            kind: kind.replace(' ', "_"),
            change,
            count,
        })
        .collect()
}

/// Compares the target's schema as its environment configures, when asked to.
pub(super) async fn add_drift(
    environment: &Prepared,
    url: &DatabaseUrl,
    target: &mut TargetReport,
    options: &CheckOptions,
) {
    let Some(setting) = environment.drift.as_ref().filter(|_| options.drift) else {
        return;
    };
    // Drift reads the database's schema: only where the database exists and was read.
    if target.verdict.is_none() || target.history_table == Some(HistoryTable::NoDatabase) {
        return;
    }
    let request = drift::Request {
        left: drift::Source::Database(url.clone()),
        right: setting.against.clone(),
        folder: Some(&environment.dir),
        shadow: setting.shadow.clone(),
        cache: options.cache.clone(),
        wait: options.timeout,
        converge: false,
        detail: Default::default(),
        interrupt: Default::default(),
    };
    let summary = match drift::compare(&request).await {
        Ok(report) => {
            if report.verdict != drift::Verdict::Same {
                target.state = State::worst([target.state, State::Drift]);
            }
            DriftSummary {
                against: setting.description.clone(),
                verdict: Some(report.verdict),
                differences: report.differences.len(),
                history_differences: report.history.as_ref().map(Vec::len),
                objects: drift_counts(&report.differences),
                suspect: report.suspect().map(str::to_string),
                comparison: Comparison::of(setting),
                error: None,
            }
        }
        Err(e) => {
            target.state = State::worst([target.state, State::of_error(&e)]);
            DriftSummary {
                against: setting.description.clone(),
                verdict: None,
                differences: 0,
                history_differences: None,
                objects: Vec::new(),
                suspect: None,
                comparison: Comparison::of(setting),
                error: Some(e.to_string()),
            }
        }
    };
    target.drift = Some(summary);
}
