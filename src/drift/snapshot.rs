//! A schema and history saved as JSON: `safemig snapshot` writes one, `drift --against
//! FILE` reads it back ("what changed since yesterday"), and drift's replay cache keeps
//! the folder's replayed schema in the same form.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::history::Entry;
use crate::Error;
use crate::error::DriftError;
use crate::provider::Provider;
use crate::schema::Schema;

/// The snapshot format this safemig writes and reads; a new field that older readers
/// could misread raises it.
pub const FORMAT: u32 = 1;

/// The largest snapshot read: far above the 10,000-table schemas drift is measured on.
const LIMIT: u64 = 1 << 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub format_version: u32,
    pub provider: Provider,
    /// What was read, as messages name it (never with credentials).
    pub source: String,
    pub taken_at: DateTime<Utc>,
    /// The safemig that took it.
    pub safemig: String,
    /// The `_prisma_migrations` history, when the source has one.
    pub history: Option<Vec<Entry>>,
    pub schema: Schema,
}

impl Snapshot {
    pub fn new(
        provider: Provider,
        source: String,
        history: Option<Vec<Entry>>,
        schema: Schema,
    ) -> Self {
        Snapshot {
            format_version: FORMAT,
            provider,
            source,
            taken_at: Utc::now(),
            safemig: env!("CARGO_PKG_VERSION").to_string(),
            history,
            schema,
        }
    }

    /// Reads a snapshot file, refusing one of another format.
    pub fn read(path: &Path) -> Result<Snapshot, Error> {
        Snapshot::parse(&crate::files::read_text(path, LIMIT)?, path)
    }

    /// A snapshot from the text of the file `path`, refusing one of another format.
    pub fn parse(text: &str, path: &Path) -> Result<Snapshot, Error> {
        let unreadable = |message: String| {
            Error::Drift(DriftError::SnapshotUnreadable {
                path: path.to_path_buf(),
                message,
            })
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| unreadable(format!("not JSON: {e}")))?;
        match value.get("format_version").and_then(|f| f.as_u64()) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => {
                return Err(unreadable(format!(
                    "it is in format {f}; this safemig reads format {FORMAT}"
                )));
            }
            None => return Err(unreadable("it is not a safemig snapshot".into())),
        }
        serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a snapshot serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Object, ObjectKind};

    #[test]
    fn a_snapshot_reads_back_as_written() {
        let mut schema = Schema::default();
        schema.insert(
            ObjectKind::Column,
            "User.email",
            Object::default().with("type", "text"),
        );
        schema.insert(ObjectKind::View, "V", Object::text("SELECT 1"));
        let snapshot = Snapshot::new(Provider::Postgres, "db".into(), None, schema.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, snapshot.to_json()).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap().schema, schema);

        std::fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        let error = Snapshot::read(&path).unwrap_err().to_string();
        assert!(error.contains("format 99"), "{error}");
    }
}
