//! `safemig status`: [`safemig::status::report`], printed as a table or as JSON.

use clap::Args;

use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the report as JSON (format documented in the README)
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    pub(super) project: ProjectArgs,
}

/// Exits with the verdict's code.
pub async fn status(
    args: StatusArgs,
    before: ProjectArgs,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let ctx = args.project.or(before).context()?;
    let dir = super::migrations(&ctx)?;
    let report = safemig::status::report(&ctx, &dir).await?;
    if args.json {
        printer.json(&report);
    } else {
        printer.status(&report);
    }
    Ok(report.verdict.exit_code())
}
