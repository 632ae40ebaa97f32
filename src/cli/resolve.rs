//! `safemig resolve`: [`safemig::resolve::run`], and what it recorded.

use clap::Args;

use safemig::interrupt::Interrupt;
use safemig::resolve::{self, Action, Event};
use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::{self, Printer};
use super::signals::{Policy, StopSignals};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").required(true))]
pub struct ResolveArgs {
    /// Record NAME as applied (its failed attempts are marked rolled back)
    #[arg(long, value_name = "NAME", group = "action")]
    applied: Option<String>,

    /// Mark NAME's failed attempts rolled back, so deploy applies it again
    #[arg(long, value_name = "NAME", group = "action")]
    rolled_back: Option<String>,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

pub async fn resolve(
    args: ResolveArgs,
    before: ProjectArgs,
    printer: &mut Printer,
    signals: &StopSignals,
) -> Result<ExitCode, Error> {
    // A stop while waiting for the lock stops cleanly; the writes themselves are short.
    let interrupt = Interrupt::default();
    signals.set(Policy::Stop(interrupt.clone()));
    // The group makes clap require exactly one of the two.
    let action = match (args.applied, args.rolled_back) {
        (Some(name), _) => Action::Applied(name),
        (None, name) => Action::RolledBack(name.unwrap_or_default()),
    };
    let project = args.project.or(before);
    printer.set_target(project.target());
    let ctx = project.context()?;
    let timeout = ctx.lock.timeout;
    let resolved = resolve::run(&ctx, &action, &interrupt, &mut |event| match event {
        Event::FolderRead(dir) => output::not_utf8_warnings(dir),
        Event::WaitingForLock(wait) => printer.lock_wait(&wait, timeout),
    })
    .await?;
    printer.resolved(action.name(), &resolved, &ctx.url.describe());
    Ok(ExitCode::Success)
}
