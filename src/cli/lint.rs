//! `safemig lint compose`: [`safemig::lint::compose::lint_files`], findings printed.

use std::path::PathBuf;

use clap::Subcommand;

use safemig::lint::compose;
use safemig::{Error, ExitCode};

use super::output::Printer;

#[derive(Debug, Subcommand)]
pub enum LintCommand {
    /// Check docker-compose / podman-compose files: grace periods, signal-swallowing
    /// commands, missing init, stop signals, an app that starts before its database
    Compose {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the findings as JSON
        #[arg(long)]
        json: bool,
    },
}

/// Exits 0 without findings, 12 with.
pub fn lint(command: LintCommand, printer: &mut Printer) -> Result<ExitCode, Error> {
    let LintCommand::Compose { files, json } = command;
    let findings = compose::lint_files(&files)?;
    if json {
        printer.json(&findings);
    } else {
        printer.lint(&findings, files.len());
    }
    Ok(if findings.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::LintFindings
    })
}
