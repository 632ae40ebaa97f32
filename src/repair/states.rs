//! S₀…Sₙ: the schema before the failed migration and after each of its statements, built
//! in a scratch database (drift's machinery) that is dropped whatever happens, and cached
//! under the names and checksums of the migrations up to the failed one.
//!
//! A script's own transaction (`BEGIN; …; COMMIT`) is one unit where DDL is transactional:
//! a failure inside it rolls back to the state before its `BEGIN`, so the states between
//! its `BEGIN` and `COMMIT` are never what a crash left. They are not read either: a read
//! there would be a query inside the script's transaction, before statements that must come
//! first (PostgreSQL's `SET TRANSACTION ISOLATION LEVEL`).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::cache::{self, Key};
use crate::database_url::DatabaseUrl;
use crate::drift::{read_schema, replay};
use crate::engine::{self, Access, Engine};
use crate::error::{DeployError, RepairError};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;
use crate::schema::{Detail, Schema};
use crate::sql::{Statement, TxEffect};

/// The cache entry's format; a change older readers could misread raises it.
/// 2: a state inside the script's own transaction is `null`.
const CACHE_FORMAT: u32 = 2;

/// S₀…Sₙ, and whether they came from the cache. `None`: a state inside the script's own
/// transaction, which no failure leaves (see the module's documentation).
pub struct States {
    pub schemas: Vec<Option<Schema>>,
    pub cached: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    format_version: u32,
    states: Vec<Option<Schema>>,
}

/// Replays the migrations before `index` of `dir` into a scratch database made on
/// `server`'s server, then runs `statements` (the failed migration's) one at a time,
/// reading the schema before the first and after each outside the script's own
/// transaction: `statements.len() + 1` states.
/// The scratch database is dropped after a failure and a stop request too. With `cache`,
/// states built before for the same migrations on the same kind of server are read instead.
pub async fn build(
    server: &DatabaseUrl,
    dir: &MigrationsDir,
    index: usize,
    statements: &[Statement<'_>],
    cache: Option<&Path>,
    interrupt: &Interrupt,
    wait: Duration,
) -> Result<States, Error> {
    let mut admin = engine::connect(server, Access::ReadOnly, wait).await?;
    let cached_file = match cache {
        Some(cache) => {
            let mut key =
                Key::replay("repair states 1", &mut *admin, server.schema().as_deref()).await?;
            key.migrations(&dir.migrations[..=index]);
            Some(key.file(cache, "repair"))
        }
        None => None,
    };
    if let Some(schemas) = cached_file
        .as_deref()
        .and_then(|f| read_cache(f, statements.len() + 1))
    {
        return Ok(States {
            schemas,
            cached: true,
        });
    }
    let prefix = MigrationsDir {
        migrations: dir.migrations[..index].to_vec(),
        ..dir.clone()
    };
    let name = format!(
        "safemig_repair_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let scratch = admin.create_scratch(&name).await?;
    tracing::info!(
        "replaying {} migrations and the failed one into {}",
        index,
        scratch.describe()
    );
    let built = build_into(&scratch, &prefix, statements, interrupt, wait).await;
    let dropped = admin.drop_scratch(&name).await;
    let states = match built {
        Ok(states) => states,
        Err(e) => {
            if let Err(left) = dropped {
                tracing::error!("{left}");
            }
            return Err(match e {
                e @ (Error::Deploy(DeployError::Interrupted { .. }) | Error::Repair(_)) => e,
                e => Error::Repair(RepairError::Replay {
                    scratch: scratch.describe(),
                    source: Box::new(e),
                }),
            });
        }
    };
    dropped.map_err(|e| {
        Error::Repair(RepairError::ScratchLeft {
            scratch: scratch.describe(),
            message: e.to_string(),
        })
    })?;
    if let Some(file) = &cached_file {
        let entry = CacheEntry {
            format_version: CACHE_FORMAT,
            states,
        };
        cache::write(
            file,
            &serde_json::to_string(&entry).expect("schemas serialise"),
        );
        return Ok(States {
            schemas: entry.states,
            cached: false,
        });
    }
    Ok(States {
        schemas: states,
        cached: false,
    })
}

/// Cached states, if an entry of this format with one state per prefix is there;
/// anything else means "build them".
fn read_cache(file: &Path, count: usize) -> Option<Vec<Option<Schema>>> {
    let text = cache::read(file)?;
    let entry = serde_json::from_str::<CacheEntry>(&text).ok();
    match entry {
        Some(e) if e.format_version == CACHE_FORMAT && e.states.len() == count => Some(e.states),
        _ => {
            tracing::warn!(
                "ignoring the repair cache entry {}: unreadable",
                crate::text::path(file)
            );
            None
        }
    }
}

async fn build_into(
    scratch: &DatabaseUrl,
    prefix: &MigrationsDir,
    statements: &[Statement<'_>],
    interrupt: &Interrupt,
    wait: Duration,
) -> Result<Vec<Option<Schema>>, Error> {
    let mut engine: Box<dyn Engine> = replay::deploy_into(scratch, prefix, interrupt, wait).await?;
    let dialect = engine.provider().dialect();
    let one_unit = engine.capabilities().transactional_ddl;
    let mut in_transaction = false;
    let mut states = vec![Some(read_schema(&mut *engine, Detail::default()).await?)];
    for (i, stmt) in statements.iter().enumerate() {
        if interrupt.stop_requested() {
            return Err(Error::Deploy(DeployError::Interrupted {
                detail: "repair stopped while building the migration's states; the scratch database is dropped".into(),
            }));
        }
        engine.run_script(stmt.sql).await.map_err(|e| {
            Error::Repair(RepairError::StatementFailsOnScratch {
                statement: i + 1,
                line: stmt.line,
                message: e.message,
            })
        })?;
        match stmt.tx_effect(dialect) {
            TxEffect::Opens => in_transaction = true,
            TxEffect::Closes => in_transaction = false,
            TxEffect::None => {}
        }
        states.push(if in_transaction && one_unit {
            None
        } else {
            Some(read_schema(&mut *engine, Detail::default()).await?)
        });
    }
    Ok(states)
}

/// An assumption that a failure stopped inside the migration's own transaction: the server
/// rolls such a transaction back, so what ran is the state before its `BEGIN` or after its
/// `COMMIT`, never one between (those states are not even built).
pub fn refuse_inside_transaction(
    states: &[Option<Schema>],
    k: usize,
    name: &str,
) -> Result<(), RepairError> {
    match states.get(k) {
        Some(None) => Err(RepairError::AssumptionContradicted {
            name: name.to_string(),
            assumed: k,
            evidence: format!(
                "cannot be left after statement {k}: it runs inside the migration's own transaction, which a failure rolls back as a whole"
            ),
        }),
        _ => Ok(()),
    }
}
