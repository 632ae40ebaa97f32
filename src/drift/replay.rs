//! The migrations folder as a schema: replayed by safemig's own deploy into a scratch
//! database that is dropped whatever happens, and cached under a key made of everything
//! the result depends on, so a second run skips the replay.

use std::path::Path;
use std::time::Duration;

use super::history;
use super::snapshot::Snapshot;
use crate::Error;
use crate::cache::{self, Cache, Key};
use crate::database_url::DatabaseUrl;
use crate::deploy::{self, Options};
use crate::engine::{self, Access, Engine};
use crate::error::{DeployError, DriftError};
use crate::interrupt::Interrupt;
use crate::lock::LockOptions;
use crate::migrations::MigrationsDir;
use crate::schema::Detail;

/// The folder's schema, and whether it came from the cache.
pub struct Replayed {
    pub snapshot: Snapshot,
    pub cached: bool,
}

/// Replays `dir` into a scratch database made through `server` (beside the live
/// database, or on `--shadow-url`'s server), reads its schema, and drops it — after a
/// failure and a stop request too. With `cache`, a schema replayed before under the same
/// key is read instead.
pub async fn replay(
    server: &DatabaseUrl,
    dir: &MigrationsDir,
    cache: Option<&Cache>,
    interrupt: &Interrupt,
    wait: Duration,
    detail: Detail,
) -> Result<Replayed, Error> {
    dir.check_provider(server.provider())?;
    let mut admin = engine::connect(server, Access::ReadOnly, wait).await?;
    let cached_file = match cache {
        Some(cache) => {
            let mut key = Key::replay(
                "drift folder schema 1",
                &mut *admin,
                server.schema().as_deref(),
            )
            .await?;
            key.part(&format!("{detail:?}")).migrations(&dir.migrations);
            Some(key.file(&cache.dir, "drift"))
        }
        None => None,
    };
    let cached = cache.zip(cached_file.as_deref());
    if let Some(snapshot) = cached.and_then(|(cache, file)| read_cache(cache, file)) {
        return Ok(Replayed {
            snapshot,
            cached: true,
        });
    }
    if interrupt.stop_requested() {
        return Err(stopped("before drift's replay of the migrations folder"));
    }

    let name = format!(
        "safemig_drift_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let scratch = admin.create_scratch(&name).await?;
    tracing::info!("replaying the migrations into {}", scratch.describe());
    let replayed = replay_into(&scratch, dir, interrupt, wait, detail).await;
    let dropped = admin.drop_scratch(&name).await;
    let schema = match replayed {
        Ok(schema) => schema,
        Err(e) => {
            if let Err(left) = dropped {
                tracing::error!("{left}");
            }
            return Err(match e {
                Error::Deploy(DeployError::Interrupted { .. }) => stopped(&format!(
                    "while replaying the migrations folder into {}",
                    scratch.describe()
                )),
                e @ Error::Drift(DriftError::Stopped { .. }) => e,
                e => Error::Drift(DriftError::Replay {
                    scratch: scratch.describe(),
                    source: Box::new(e),
                }),
            });
        }
    };
    dropped.map_err(|e| {
        Error::Drift(DriftError::ScratchLeft {
            scratch: scratch.describe(),
            message: e.to_string(),
        })
    })?;
    let snapshot = Snapshot::new(
        server.provider(),
        format!("the migrations folder {}", crate::text::path(&dir.path)),
        Some(history::from_folder(dir)),
        schema,
    );
    if let Some(file) = &cached_file {
        cache::write(file, &snapshot.to_json());
    }
    Ok(Replayed {
        snapshot,
        cached: false,
    })
}

/// Deploys the folder into the scratch database and reads its schema.
async fn replay_into(
    scratch: &DatabaseUrl,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    wait: Duration,
    detail: Detail,
) -> Result<crate::schema::Schema, Error> {
    let mut engine = deploy_into(scratch, dir, interrupt, wait).await?;
    if interrupt.stop_requested() {
        return Err(stopped("after drift's replay of the migrations folder"));
    }
    super::read_schema(&mut *engine, detail).await
}

/// Deploys `dir` into the scratch database `scratch` and hands back the connection, so a
/// caller can go on from that state: drift reads its schema, repair runs a failed
/// migration's statements one at a time on it. No migration lock: nothing else knows the
/// scratch database, and MySQL's lock is per server, so taking it would hold up deploys of
/// the live database for the whole replay.
pub(crate) async fn deploy_into(
    scratch: &DatabaseUrl,
    dir: &MigrationsDir,
    interrupt: &Interrupt,
    wait: Duration,
) -> Result<Box<dyn Engine>, Error> {
    let mut engine = engine::connect(scratch, Access::ReadWrite, wait).await?;
    let options = Options {
        lock: LockOptions {
            timeout: wait,
            enabled: false,
        },
        // Nothing else uses the scratch database: no lock to wait for.
        lock_wait: Default::default(),
        interrupt: interrupt.clone(),
    };
    deploy::deploy(&mut *engine, dir, &options, &mut |_| {}).await?;
    Ok(engine)
}

fn stopped(when: &str) -> Error {
    Error::Drift(DriftError::Stopped {
        when: when.to_string(),
    })
}

/// A cached schema, if one is there and readable; anything else means "replay".
fn read_cache(cache: &Cache, file: &Path) -> Option<Snapshot> {
    match Snapshot::parse(&cache.entry(file)?, file) {
        Ok(snapshot) => Some(snapshot),
        Err(e) => {
            tracing::warn!("ignoring the drift cache: {e}");
            None
        }
    }
}
