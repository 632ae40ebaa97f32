//! `safemig deploy --env NAME` over an environment's tenants: one crash-safe deploy per
//! tenant, many at once, with canaries, an error policy and a summary per tenant.
//!
//! What makes it fast and resumable:
//!
//! - **Skipping without connecting.** Tenants on one server (PostgreSQL schemas, MySQL
//!   databases) are found with one catalog query and their histories read in batches
//!   ([`crate::environment::discover`]); a tenant already at the folder's last migration is
//!   `current` without a connection of its own. SQLite files have no shared catalog: each
//!   file is opened, and deploy finds nothing to do.
//! - **Bounded parallelism.** At most [`FleetOptions::jobs`] tenants deploy at once, each
//!   on its own connection with [`crate::deploy::deploy`], so each keeps deploy's
//!   crash-safety: a fan-out killed half-way is run again, finished tenants are skipped
//!   and interrupted ones resume from their journal.
//! - **One lock for a server.** Prisma's migration lock is not per tenant: on PostgreSQL
//!   it is an advisory lock of the database (`pg_advisory_lock(72707369)`), shared by
//!   every schema in it; on MySQL a named lock (`GET_LOCK`) of the whole server. Taken per
//!   tenant it would serialise the fan-out (or, with a timeout, fail it), and released
//!   between tenants it would let a `prisma migrate deploy` slip in. So a fan-out over a
//!   server's tenants takes the lock once, on a holder connection of its own, keeps it
//!   until the last tenant is done, and plans (skips) under it; the tenants' deploys run
//!   without taking it. It checks every [`LOCK_CHECK`] that the lock is still its own:
//!   once lost, no further tenant starts. SQLite has no such lock: each file is its own
//!   database.
//! - **Few connections.** On PostgreSQL a connection whose tenant deployed successfully
//!   moves on to the next tenant ([`Engine::reuse_for`]) instead of a new backend and
//!   SCRAM handshake per tenant.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use crate::Error;
use crate::config::environments::Tenants;
use crate::database_url::DatabaseUrl;
use crate::deploy;
use crate::engine::{self, Access, Engine};
use crate::environment::{self, Prepared};
use crate::error::{ConfigError, ExitCode};
use crate::interrupt::Interrupt;
use crate::lock::{self, LockOptions};
use crate::lock_wait::LockWait;
use crate::status::{self, HistoryTable, Verdict};

/// The `deploy --json` format of a fleet; a change older readers could misread raises it.
pub const FORMAT_VERSION: u32 = 1;

/// What to do when a tenant fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Start no other tenant; those running finish.
    #[default]
    Stop,
    /// Deploy every other tenant.
    Continue,
}

/// How to deploy a fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Tenants deployed at once.
    pub jobs: usize,
    /// Tenants deployed first, in the selection's order; the others start only when all of
    /// them succeeded.
    pub canary: usize,
    pub on_error: OnError,
    /// The lock as `--lock-timeout` and `PRISMA_SCHEMA_DISABLE_ADVISORY_LOCK` set it; its
    /// timeout also bounds each connection attempt.
    pub lock: LockOptions,
    /// Each tenant's deploy: how long its statements wait for table locks, and retry.
    pub lock_wait: LockWait,
}

/// What happened to one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Migrations were applied.
    Applied,
    /// Already at the folder's last migration.
    Current,
    /// Its deploy failed; its error says why.
    Failed,
    /// Stopped at a safe point by a stop signal: the next run continues it.
    Interrupted,
    /// Not started: a canary or, with `--on-error stop`, another tenant failed, or a stop
    /// signal came first.
    NotReached,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Applied,
        Outcome::Current,
        Outcome::Failed,
        Outcome::Interrupted,
        Outcome::NotReached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Current => "current",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::NotReached => "not_reached",
        }
    }
}

/// One tenant's part of the fan-out.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    /// The schema, database or file.
    pub tenant: String,
    /// How messages name its database (no credentials).
    pub target: String,
    pub outcome: Outcome,
    /// Whether it was one of the canaries.
    pub canary: bool,
    /// The migrations applied to it by this run.
    pub applied: Vec<String>,
    /// Why it failed or stopped (credentials masked by the printer).
    pub error: Option<String>,
    /// The exit code `safemig deploy` would have given for this tenant alone.
    pub exit_code: u8,
    #[serde(skip)]
    pub code: ExitCode,
    pub elapsed_ms: u64,
}

/// Why the fan-out stopped before every tenant was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// A canary failed.
    Canary,
    /// A tenant failed under `--on-error stop`.
    Failure,
    /// SIGTERM or SIGINT.
    Signal,
    /// The holder connection lost the migration lock (its session ended): no tenant
    /// starts without it.
    LockLost,
}

/// A fleet deploy: what `deploy --env NAME` prints for an environment with tenants.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub format_version: u32,
    pub environment: String,
    /// Tenants per outcome (every outcome listed, zeros included).
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    pub stopped: Option<Stopped>,
    /// The process's exit code: the first failed tenant's, else 11 after a stop signal,
    /// else 0.
    pub exit_code: u8,
    #[serde(skip)]
    pub code: ExitCode,
    /// Every selected tenant, in the selection's order.
    pub tenants: Vec<TenantReport>,
    pub elapsed_ms: u64,
}

impl FleetReport {
    fn new(
        environment: &str,
        tenants: Vec<TenantReport>,
        stopped: Option<Stopped>,
        started: Instant,
    ) -> FleetReport {
        let mut counts: std::collections::BTreeMap<&'static str, usize> =
            Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect();
        for tenant in &tenants {
            *counts.entry(tenant.outcome.as_str()).or_insert(0) += 1;
        }
        let code = match tenants.iter().find(|t| t.outcome == Outcome::Failed) {
            Some(failed) => failed.code,
            None if stopped == Some(Stopped::LockLost) => ExitCode::LockTimeout,
            None if stopped == Some(Stopped::Signal)
                || tenants.iter().any(|t| t.outcome == Outcome::Interrupted) =>
            {
                ExitCode::Interrupted
            }
            None => ExitCode::Success,
        };
        FleetReport {
            format_version: FORMAT_VERSION,
            environment: environment.to_string(),
            counts,
            stopped,
            exit_code: code as u8,
            code,
            tenants,
            elapsed_ms: millis(started),
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.counts.get(outcome.as_str()).copied().unwrap_or(0)
    }
}

/// Progress, reported as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The server's lock is busy; the fan-out waits for it.
    WaitingForLock(lock::Wait<'a>),
    /// The selection is known: `current` tenants are skipped, `to_deploy` will be
    /// deployed (SQLite files count as to deploy until opened).
    Planned {
        tenants: usize,
        current: usize,
        to_deploy: usize,
        canaries: usize,
    },
    /// A tenant finished (or was found current on its own connection).
    Finished(&'a TenantReport),
    /// What a tenant's deploy reports while it runs: a lock-wait retry
    /// ([`deploy::Event::RetryingLockWait`]) or a long statement
    /// ([`deploy::Event::StillRunning`]); the rest is in its report.
    Tenant {
        tenant: &'a str,
        event: deploy::Event<'a>,
    },
}

/// A tenant to deploy.
struct Target {
    name: String,
    url: DatabaseUrl,
}

/// A tenant as one deploy of the fan-out sees it: where it is, whether it is a canary,
/// and where its events go.
struct Tenant<'t> {
    target: &'t Target,
    canary: bool,
    report_event: &'t dyn Fn(Event<'_>),
}

/// Deploys every selected tenant of `environment` (an environment with tenants).
/// Errors are the environment's own (the server unreachable, the lock not obtained, a
/// selection naming nothing); a tenant's failure is in its [`TenantReport`].
pub async fn deploy(
    environment: &Prepared,
    options: &FleetOptions,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<FleetReport, Error> {
    let started = Instant::now();
    match (&environment.tenants, &environment.url) {
        (Some(Tenants::Files(_)), _) => {
            let targets: Vec<Target> = environment::tenant_files(environment)?
                .into_iter()
                .map(|(url, name)| Target { name, url })
                .collect();
            if targets.is_empty() {
                return Err(environment::nothing_selected(environment));
            }
            let order: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            let mut reports = Vec::new();
            let stopped = fan_out(
                environment,
                targets,
                &mut reports,
                options,
                options.lock,
                interrupt,
                &Cell::new(false),
                on_event,
            )
            .await;
            in_order(&mut reports, &order);
            Ok(FleetReport::new(
                &environment.name,
                reports,
                stopped,
                started,
            ))
        }
        (Some(tenants), Some(url)) => {
            let mut holder = engine::connect(url, Access::ReadWrite, options.lock.timeout).await?;
            lock::acquire(&mut *holder, &options.lock, interrupt, &mut |wait| {
                on_event(Event::WaitingForLock(wait))
            })
            .await?;
            let result = deploy_server(
                environment,
                url,
                tenants,
                &mut *holder,
                options,
                interrupt,
                on_event,
                started,
            )
            .await;
            // A connection let go by a stop may still be busy: the lock ends with the
            // process's sessions.
            if !interrupt.abandoned() {
                lock::release(&mut *holder, &options.lock).await;
            }
            result
        }
        _ => Err(Error::Config(ConfigError::InvalidEnvironment {
            environment: environment.name.clone(),
            reason: "it has no tenants to deploy one by one".into(),
        })),
    }
}

/// The tenants of one server, under the lock `holder` keeps.
#[allow(clippy::too_many_arguments)]
async fn deploy_server(
    environment: &Prepared,
    url: &DatabaseUrl,
    tenants: &Tenants,
    holder: &mut dyn Engine,
    options: &FleetOptions,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event<'_>),
    started: Instant,
) -> Result<FleetReport, Error> {
    let found =
        environment::discover(holder, tenants, environment.tenant_filter.as_deref()).await?;
    if found.names.is_empty() {
        return Err(environment::nothing_selected(environment));
    }
    let mut reports = Vec::new();
    let mut targets = Vec::new();
    for name in &found.names {
        let Some(tenant_url) = url.for_tenant(name) else {
            continue;
        };
        let current = found.histories.get(name).is_some_and(|rows| {
            status::from_history(
                &tenant_url,
                &environment.dir,
                HistoryTable::Present,
                rows,
                &Default::default(),
                None,
            )
            .verdict
                == Verdict::UpToDate
        });
        if current {
            reports.push(TenantReport {
                tenant: name.clone(),
                target: tenant_url.describe(),
                outcome: Outcome::Current,
                canary: false,
                applied: Vec::new(),
                error: None,
                exit_code: 0,
                code: ExitCode::Success,
                elapsed_ms: 0,
            });
        } else {
            targets.push(Target {
                name: name.clone(),
                url: tenant_url,
            });
        }
    }
    // Under the holder's lock, the tenants' deploys take none.
    let unlocked = LockOptions {
        enabled: false,
        ..options.lock
    };
    let lock_lost = Cell::new(false);
    let stopped = {
        let fan = fan_out(
            environment,
            targets,
            &mut reports,
            options,
            unlocked,
            interrupt,
            &lock_lost,
            on_event,
        );
        tokio::pin!(fan);
        // The holder watches its lock while the tenants deploy.
        let watch = watch_lock(holder, &options.lock, &lock_lost);
        tokio::pin!(watch);
        tokio::select! {
            stopped = &mut fan => stopped,
            () = &mut watch => fan.await,
        }
    };
    in_order(&mut reports, &found.names);
    Ok(FleetReport::new(
        &environment.name,
        reports,
        stopped,
        started,
    ))
}

/// How often the holder checks that it still holds the lock.
const LOCK_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Returns when the holder no longer holds the lock (its session ended, or the check
/// failed), having set `lost`; never while it holds it.
async fn watch_lock(holder: &mut dyn Engine, lock: &LockOptions, lost: &Cell<bool>) {
    if !lock.enabled {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(LOCK_CHECK).await;
        if !matches!(holder.holds_lock().await, Ok(true)) {
            tracing::warn!(
                "the fleet's holder connection lost the migration lock: no further tenant starts"
            );
            lost.set(true);
            return;
        }
    }
}

/// Deploys `targets`, canaries first, and appends their reports to `reports` (which may
/// already hold the current ones). Returns why it stopped early, if it did. No tenant
/// starts once `lock_lost` is set.
#[allow(clippy::too_many_arguments)]
async fn fan_out(
    environment: &Prepared,
    targets: Vec<Target>,
    reports: &mut Vec<TenantReport>,
    options: &FleetOptions,
    lock: LockOptions,
    interrupt: &Interrupt,
    lock_lost: &Cell<bool>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Option<Stopped> {
    let canaries = options.canary.min(targets.len());
    // Shared by the tenants' deploys, which run as futures of this one task: each call
    // ends before the next await.
    let on_event = RefCell::new(on_event);
    let report_event = |event: Event<'_>| (on_event.borrow_mut())(event);
    report_event(Event::Planned {
        tenants: reports.len() + targets.len(),
        current: reports.len(),
        to_deploy: targets.len(),
        canaries,
    });
    let mut targets = targets.into_iter();
    let first: Vec<Target> = targets.by_ref().take(canaries).collect();
    let rest: Vec<Target> = targets.collect();
    let deploy_options = deploy::Options {
        lock,
        lock_wait: options.lock_wait,
        interrupt: interrupt.clone(),
    };
    let mut stopped = None;
    // Connections whose last deploy succeeded, for the next tenant (at most `jobs`).
    let idle: RefCell<Vec<Box<dyn Engine>>> = RefCell::new(Vec::new());
    for (wave, is_canary) in [(first, true), (rest, false)] {
        if wave.is_empty() {
            continue;
        }
        // A canary's failure stops the rest whatever --on-error says.
        let stop_on_failure = is_canary || options.on_error == OnError::Stop;
        if stopped.is_some() {
            reports.extend(wave.iter().map(|t| not_reached(t, is_canary)));
            continue;
        }
        let halt = Cell::new(false);
        let results = futures_util::stream::iter(wave)
            .map(|target| {
                let halt = &halt;
                let deploy_options = &deploy_options;
                let idle = &idle;
                let report_event = &report_event;
                async move {
                    if halt.get() || lock_lost.get() || interrupt.stop_requested() {
                        return not_reached(&target, is_canary);
                    }
                    let tenant = Tenant {
                        target: &target,
                        canary: is_canary,
                        report_event,
                    };
                    deploy_one(environment, tenant, deploy_options, idle).await
                }
            })
            .buffer_unordered(options.jobs.max(1));
        futures_util::pin_mut!(results);
        while let Some(report) = results.next().await {
            if report.outcome == Outcome::Failed && stop_on_failure && !halt.get() {
                halt.set(true);
                stopped = Some(if is_canary {
                    Stopped::Canary
                } else {
                    Stopped::Failure
                });
            }
            if report.outcome != Outcome::NotReached {
                report_event(Event::Finished(&report));
            }
            reports.push(report);
        }
        if stopped.is_none() {
            stopped = early_stop(interrupt, lock_lost);
        }
    }
    stopped.or_else(|| early_stop(interrupt, lock_lost))
}

/// Why new tenants stop starting, apart from a failure.
fn early_stop(interrupt: &Interrupt, lock_lost: &Cell<bool>) -> Option<Stopped> {
    if lock_lost.get() {
        Some(Stopped::LockLost)
    } else if interrupt.stop_requested() {
        Some(Stopped::Signal)
    } else {
        None
    }
}

/// One tenant's crash-safe deploy on a connection of its own: an idle one of an earlier
/// tenant when the engine can point it at this one ([`Engine::reuse_for`]; a new
/// backend and authentication per tenant is most of a small migration's cost), else a
/// new one. The connection goes back to `idle` only after a successful deploy.
async fn deploy_one(
    environment: &Prepared,
    tenant: Tenant<'_>,
    options: &deploy::Options,
    idle: &RefCell<Vec<Box<dyn Engine>>>,
) -> TenantReport {
    let Tenant {
        target,
        canary,
        report_event,
    } = tenant;
    let started = Instant::now();
    let result = async {
        let reused = idle.borrow_mut().pop();
        let reused = match reused {
            Some(mut engine) => match engine.reuse_for(&target.url).await {
                Ok(true) => Some(engine),
                // Not reusable (or it failed): dropped, and a new connection opened.
                Ok(false) | Err(_) => None,
            },
            None => None,
        };
        let mut engine = match reused {
            Some(engine) => engine,
            None => engine::connect(&target.url, Access::ReadWrite, options.lock.timeout).await?,
        };
        let outcome = deploy::deploy(&mut *engine, &environment.dir, options, &mut |event| {
            if matches!(
                event,
                deploy::Event::RetryingLockWait(_) | deploy::Event::StillRunning(_)
            ) {
                report_event(Event::Tenant {
                    tenant: &target.name,
                    event,
                });
            }
        })
        .await?;
        idle.borrow_mut().push(engine);
        Ok::<_, Error>(outcome)
    }
    .await;
    let (outcome, applied, error, code) = match result {
        Ok(done) if done.applied.is_empty() => {
            (Outcome::Current, Vec::new(), None, ExitCode::Success)
        }
        Ok(done) => (Outcome::Applied, done.applied, None, ExitCode::Success),
        Err(e) => {
            let code = e.exit_code();
            let outcome = if code == ExitCode::Interrupted {
                Outcome::Interrupted
            } else {
                Outcome::Failed
            };
            (outcome, Vec::new(), Some(e.to_string()), code)
        }
    };
    TenantReport {
        tenant: target.name.clone(),
        target: target.url.describe(),
        outcome,
        canary,
        applied,
        error,
        exit_code: code as u8,
        code,
        elapsed_ms: millis(started),
    }
}

/// Puts the reports in the selection's order, whatever order the tenants finished in.
fn in_order(reports: &mut [TenantReport], names: &[String]) {
    let position: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    reports.sort_by_key(|r| position.get(r.tenant.as_str()).copied());
}

fn not_reached(target: &Target, canary: bool) -> TenantReport {
    TenantReport {
        tenant: target.name.clone(),
        target: target.url.describe(),
        outcome: Outcome::NotReached,
        canary,
        applied: Vec::new(),
        error: None,
        exit_code: 0,
        code: ExitCode::Success,
        elapsed_ms: 0,
    }
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}
