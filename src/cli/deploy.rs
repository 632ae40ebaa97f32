//! `safemig deploy` ([`safemig::deploy::run`]) and `safemig deploy --dry-run`
//! ([`safemig::deploy::dry_run`]), with their progress and results printed.

use std::time::Duration;

use clap::Args;

use safemig::context::Context;
use safemig::deploy::{self, Event, Outcome};
use safemig::interrupt::Interrupt;
use safemig::{Error, ExitCode};

use super::output::Printer;
use super::signals::{Policy, StopSignals};
use super::{ProjectArgs, parse_seconds};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// List what would be applied, and how, without changing anything
    #[arg(long)]
    dry_run: bool,

    /// On SIGTERM/SIGINT, seconds a running statement may go on before it is cancelled
    /// server-side (keep it below the container's stop grace period)
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
    deadline: Duration,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

pub async fn deploy(
    args: DeployArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    if args.dry_run {
        // Reads only: nothing to stop cleanly.
        signals.set(Policy::Exit);
        let ctx = args.project.or(before).context()?;
        let dir = super::migrations(&ctx)?;
        printer.dry_run(&deploy::dry_run(&ctx, &dir).await?);
    } else {
        let interrupt = Interrupt::new(args.deadline);
        signals.set(Policy::Stop(interrupt.clone()));
        let ctx = args.project.or(before).context()?;
        apply(&ctx, &interrupt, printer).await?;
    }
    Ok(ExitCode::Success)
}

/// Deploys, printing each step and the summary; also `run`'s pre-start deploy.
pub async fn apply(
    ctx: &Context,
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<Outcome, Error> {
    let dir = super::migrations(ctx)?;
    let timeout = ctx.lock.timeout;
    let outcome = deploy::run(ctx, &dir, interrupt, &mut |event| match event {
        Event::Connected { target } => printer.deploy_header(&dir, target),
        Event::WaitingForLock(wait) => printer.lock_wait(&wait, timeout),
        Event::CreatedHistoryTable => printer.line("Created the _prisma_migrations table."),
        Event::Resuming { name, done, total } => printer.resuming(name, done, total),
        Event::Applied {
            name,
            mode,
            elapsed,
        } => printer.applied(name, mode, elapsed),
    })
    .await?;
    printer.deploy_summary(&outcome);
    Ok(outcome)
}
