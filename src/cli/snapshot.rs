//! `safemig snapshot`: [`safemig::drift::snapshot`] of the database, as JSON on stdout or
//! in a file, for `safemig drift --against FILE` later.

use std::path::{Path, PathBuf};

use clap::Args;

use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Write the snapshot to this file (whole or not at all) instead of stdout; `-` is
    /// stdout, a device or named pipe is written through, a link is followed
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    detail: super::drift::DetailArgs,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

pub async fn snapshot(
    args: SnapshotArgs,
    before: ProjectArgs,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let project = args.project.or(before);
    printer.set_target(project.target());
    let ctx = project.context()?;
    let snapshot =
        safemig::drift::snapshot(&ctx.url, ctx.lock.timeout, args.detail.detail()).await?;
    match args.output.as_deref() {
        None => printer.line(&snapshot.to_json()),
        Some(file) if file == Path::new("-") => printer.line(&snapshot.to_json()),
        Some(file) => {
            safemig::files::write_whole(file, &snapshot.to_json())?;
            super::output::stderr_line(&format!(
                "Wrote the snapshot of the {} to {}",
                ctx.url.describe(),
                safemig::text::path(file)
            ));
        }
    }
    Ok(ExitCode::Success)
}
