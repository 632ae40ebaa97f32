//! `safemig status`: [`safemig::status::report`], printed as a table or as JSON; over an
//! environment's tenants, [`safemig::check::run`] without drift, printed as `check` prints.

use clap::Args;

use safemig::advice::Target;
use safemig::check::{self, CheckOptions, CheckReport};
use safemig::environment::Prepared;
use safemig::status::Strictness;
use safemig::{Error, ExitCode};

use super::ProjectArgs;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the report as JSON (format: docs/reference/json.md)
    #[arg(long)]
    json: bool,

    /// Call migrations edited after they were applied, gone from the folder or applied out
    /// of order `inconsistent` (exit 7) instead of noting them [also: `strict = true` for an
    /// environment of safemig.toml]
    #[arg(long)]
    strict: bool,

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
    printer.set_target(project.target());
    if let Some(mut environment) = project.fleet()? {
        environment.strictness.strict |= args.strict;
        return Ok(tenants(&environment, args.json, &project.folder_target(), printer).await);
    }
    let strictness = Strictness {
        strict: args.strict || project.environment_is_strict()?,
    };
    let ctx = project.context()?;
    let dir = super::migrations(&ctx)?;
    let report = safemig::status::report(&ctx, &dir, strictness).await?;
    if args.json {
        printer.json(&report);
    } else {
        printer.status(&report);
    }
    Ok(report.verdict.exit_code())
}

/// The status of each tenant `environment` selects, as `check` reports it (drift
/// left out); the exit code is the worst tenant's.
pub(super) async fn tenants(
    environment: &Prepared,
    json: bool,
    base: &Target,
    printer: &mut Printer,
) -> ExitCode {
    let options = CheckOptions {
        drift: false,
        ..CheckOptions::default()
    };
    let report = CheckReport::new(vec![check::run(environment, &options).await]);
    if json {
        printer.json(&safemig::diagnosis::check_json(&report, base, true));
    } else {
        printer.check(&report, base, true, false);
    }
    report.exit_code()
}
