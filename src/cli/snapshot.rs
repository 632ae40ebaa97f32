//! `safemig snapshot`: [`safemig::drift::snapshot`] of the database, as JSON on stdout or
//! in a file, for `safemig drift --against FILE` later.

use std::path::PathBuf;

use clap::Args;

use safemig::error::ConfigError;
use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Write the snapshot to this file (whole or not at all) instead of stdout
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
    let ctx = args.project.or(before).context()?;
    let snapshot =
        safemig::drift::snapshot(&ctx.url, ctx.lock.timeout, args.detail.detail()).await?;
    match &args.output {
        None => printer.line(&snapshot.to_json()),
        Some(file) => write_whole(file, &snapshot.to_json())?,
    }
    Ok(ExitCode::Success)
}

/// Writes `text` to a temporary file beside `file` and renames it over `file`, so that a
/// failure (a full disk, a signal) never leaves half a snapshot.
fn write_whole(file: &std::path::Path, text: &str) -> Result<(), Error> {
    let io = |source| {
        Error::Config(ConfigError::Write {
            path: file.to_path_buf(),
            source,
        })
    };
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let partial = folder.join(format!(".safemig-snapshot.{}.partial", std::process::id()));
    std::fs::write(&partial, text).map_err(io)?;
    std::fs::rename(&partial, file).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io(e)
    })
}
