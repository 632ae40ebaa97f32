//! `safemig split`: [`safemig::split::Script`], its statements printed.

use std::path::PathBuf;

use clap::Args;

use safemig::split::{self, Script};
use safemig::sql::Dialect;
use safemig::{Error, ExitCode};

use super::output::Printer;

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The SQL file, usually a migration.sql
    file: PathBuf,

    /// SQL dialect [default: the provider in the migrations folder's migration_lock.toml]
    #[arg(long, value_parser = split::dialect_named)]
    dialect: Option<Dialect>,

    /// Print a JSON array of {line, kind, sql, start, end}
    #[arg(long)]
    json: bool,
}

pub fn split(args: SplitArgs, printer: &mut Printer) -> Result<ExitCode, Error> {
    let script = Script::read(&args.file, args.dialect)?;
    let statements = script.statements();
    if args.json {
        printer.split_json(&statements);
    } else {
        printer.split(&statements);
    }
    Ok(ExitCode::Success)
}
