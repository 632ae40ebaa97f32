//! Invalid indexes: what a `CREATE INDEX CONCURRENTLY` leaves when it fails or is killed
//! (PostgreSQL keeps the index, marked `indisvalid = false`, and never uses it). The
//! schema readers mark such an index `valid = false`. An invalid index the migration
//! creates is a statement that did not finish: repair classifies the schema without it,
//! names it in the evidence, and `--apply` drops it before acting, so that the statement
//! that creates it runs again (finish, or deploy after a roll-back) and builds it whole.

use serde::Serialize;

use crate::Error;
use crate::engine::Engine;
use crate::schema::{Object, ObjectKind, Schema};

/// An index the live schema holds invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidIndex {
    pub name: String,
    pub table: Option<String>,
    /// Its definition as the server renders it (`CREATE UNIQUE INDEX …`).
    pub definition: Option<String>,
    #[serde(skip)]
    object: Object,
}

/// Whether `object` is an index the server marks invalid.
pub fn is_invalid(kind: ObjectKind, object: &Object) -> bool {
    kind == ObjectKind::Index && object.attributes.get("valid").map(String::as_str) == Some("false")
}

/// `live` without the invalid indexes that one of `states` (the migration's) creates, and
/// those indexes. An invalid index no state holds is left in: it is something else's, and
/// shows as a difference.
pub fn set_aside(live: &Schema, states: &[Option<Schema>]) -> (Schema, Vec<InvalidIndex>) {
    let mut kept = live.clone();
    let mut invalid = Vec::new();
    for (key, object) in &live.objects {
        let created = states.iter().flatten().any(|s| s.objects.contains_key(key));
        if is_invalid(key.kind, object) && created {
            kept.objects.remove(key);
            invalid.push(InvalidIndex {
                name: key.name.clone(),
                table: object.attributes.get("table").cloned(),
                definition: object.attributes.get("definition").cloned(),
                object: object.clone(),
            });
        }
    }
    (kept, invalid)
}

/// Drops `indexes`, left by migration `name` (the caller holds the migration lock), so the
/// statements that create them can run again.
pub async fn drop(
    engine: &mut dyn Engine,
    name: &str,
    indexes: &[InvalidIndex],
) -> Result<(), Error> {
    let ddl = crate::engine::ddl(engine.provider());
    for index in indexes {
        let sql = ddl
            .drop(ObjectKind::Index, &index.name, &index.object)
            .expect("every engine with invalid indexes writes DROP INDEX");
        tracing::info!("dropping the invalid index {}", index.name);
        engine.run_script(&sql).await.map_err(|e| {
            crate::error::RepairError::InvalidIndexNotDropped {
                name: name.to_string(),
                index: index.name.clone(),
                message: e.message,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(valid: &str) -> Object {
        Object::text("CREATE UNIQUE INDEX i ON t (n)")
            .with("table", "t")
            .with("valid", valid)
    }

    #[test]
    fn only_the_migrations_invalid_indexes_are_set_aside() {
        let mut live = Schema::default();
        live.insert(ObjectKind::Index, "i", index("false"));
        live.insert(ObjectKind::Index, "other", index("false"));
        live.insert(ObjectKind::Index, "fine", index("true"));
        let mut after = Schema::default();
        after.insert(ObjectKind::Index, "i", index("true"));
        after.insert(ObjectKind::Index, "fine", index("true"));
        let (kept, invalid) = set_aside(&live, &[Some(Schema::default()), None, Some(after)]);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].name, "i");
        assert_eq!(invalid[0].table.as_deref(), Some("t"));
        assert_eq!(kept.objects.len(), 2, "{kept:?}");
    }
}
