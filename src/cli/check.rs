//! `safemig check`: [`safemig::check::run_all`] over the environments of safemig.toml,
//! printed as a table or as JSON.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use safemig::check::{self, CheckOptions, Prepared};
use safemig::config::environments::Environments;
use safemig::{Error, ExitCode};

use super::output::{self, Printer};
use super::parse_seconds;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment to check; repeat for several [default: every environment]
    #[arg(long = "env", value_name = "NAME", conflicts_with = "all")]
    pub(super) env: Vec<String>,

    /// Only the tenants matching PATTERN (`*` any characters, `?` one; a tenant file also
    /// matches by its file name), in every environment checked
    #[arg(long, value_name = "PATTERN")]
    pub(super) tenant: Option<String>,

    /// Check every environment of safemig.toml (the default without --env)
    #[arg(long)]
    all: bool,

    /// Print the report as JSON (format documented in the README)
    #[arg(long)]
    json: bool,

    /// How many databases are checked at once (tenants on one server share a connection)
    #[arg(long, value_name = "N", default_value = "16", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,

    /// Seconds each database (or each server's batch of tenants) may take to answer before
    /// it is reported unreachable
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,

    /// Skip the drift comparisons safemig.toml configures
    #[arg(long)]
    no_drift: bool,

    /// Replay the migrations folder for drift even when a cached replay exists
    #[arg(long)]
    no_cache: bool,
}

/// The environments `names` of the environments file (all of them when `names` is
/// empty), read and prepared once, with their warnings printed.
pub(super) fn prepare(config: Option<&Path>, names: &[String]) -> Result<Vec<Prepared>, Error> {
    let lookup = |name: &str| std::env::var(name).ok();
    let environments = Environments::require(config)?;
    let names: Vec<String> = if names.is_empty() {
        environments.environments.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    let mut prepared = Vec::with_capacity(names.len());
    for name in &names {
        for warning in environments.get(name)?.warnings() {
            output::stderr_line(&format!("warning: {warning}"));
        }
        let environment = check::prepare(&environments, name, &lookup, &Default::default())?;
        output::not_utf8_warnings(&environment.dir);
        prepared.push(environment);
    }
    Ok(prepared)
}

/// Exits with the worst state's code.
pub async fn check(
    args: CheckArgs,
    config: Option<PathBuf>,
    printer: &mut Printer,
) -> Result<ExitCode, Error> {
    let mut prepared = prepare(config.as_deref(), &args.env)?;
    for environment in &mut prepared {
        environment.tenant_filter = args.tenant.clone();
    }
    let options = CheckOptions {
        jobs: args.jobs.into(),
        timeout: args.timeout,
        drift: !args.no_drift,
        drift_cache: super::cache_dir(args.no_cache),
    };
    let report = check::run_all(&prepared, &options).await;
    if args.json {
        printer.json(&report);
    } else {
        printer.check(&report);
    }
    Ok(report.exit_code())
}
