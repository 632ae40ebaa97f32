//! `safemig status`: [`safemig::status::report`], printed as a table or as JSON; over an
//! environment's tenants, [`safemig::check::run`] without drift, printed as `check` prints.

use clap::Args;

use safemig::check::{self, CheckOptions, CheckReport, Prepared};
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
    let project = args.project.or(before);
    if let Some(environment) = project.fleet()? {
        return Ok(tenants(&environment, args.json, printer).await);
    }
    let ctx = project.context()?;
    let dir = super::migrations(&ctx)?;
    let report = safemig::status::report(&ctx, &dir).await?;
    if args.json {
        printer.json(&report);
    } else {
        printer.status(&report);
    }
    Ok(report.verdict.exit_code())
}

/// The status of each tenant `environment` selects, as `check` reports it (drift
/// left out); the exit code is the worst tenant's.
pub(super) async fn tenants(environment: &Prepared, json: bool, printer: &mut Printer) -> ExitCode {
    let options = CheckOptions {
        drift: false,
        ..CheckOptions::default()
    };
    let report = CheckReport::new(vec![check::run(environment, &options).await]);
    if json {
        printer.json(&report);
    } else {
        printer.check(&report);
    }
    report.exit_code()
}
