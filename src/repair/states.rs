//! S₀…Sₙ: the schema before the failed migration and after each of its statements, built
//! in a scratch database (drift's machinery) that is dropped whatever happens.

use std::time::Duration;

use crate::Error;
use crate::database_url::DatabaseUrl;
use crate::drift::{read_schema, replay};
use crate::engine::{self, Access, Engine};
use crate::error::{DeployError, RepairError};
use crate::interrupt::Interrupt;
use crate::migrations::MigrationsDir;
use crate::schema::{Detail, Schema};
use crate::sql::Statement;

/// Replays the migrations before `index` of `dir` into a scratch database made on
/// `server`'s server, then runs `statements` (the failed migration's) one at a time,
/// reading the schema before the first and after each: `statements.len() + 1` schemas.
/// The scratch database is dropped after a failure and a stop request too.
pub async fn build(
    server: &DatabaseUrl,
    dir: &MigrationsDir,
    index: usize,
    statements: &[Statement<'_>],
    interrupt: &Interrupt,
    wait: Duration,
) -> Result<Vec<Schema>, Error> {
    let prefix = MigrationsDir {
        migrations: dir.migrations[..index].to_vec(),
        ..dir.clone()
    };
    let mut admin = engine::connect(server, Access::ReadOnly, wait).await?;
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
    Ok(states)
}

async fn build_into(
    scratch: &DatabaseUrl,
    prefix: &MigrationsDir,
    statements: &[Statement<'_>],
    interrupt: &Interrupt,
    wait: Duration,
) -> Result<Vec<Schema>, Error> {
    let mut engine: Box<dyn Engine> = replay::deploy_into(scratch, prefix, interrupt, wait).await?;
    let mut states = vec![read_schema(&mut *engine, Detail::default()).await?];
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
        states.push(read_schema(&mut *engine, Detail::default()).await?);
    }
    Ok(states)
}
