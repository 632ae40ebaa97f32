//! `safemig completions SHELL`: shell completions, generated at run time from the parser's
//! own definition so they can never disagree with the options the binary accepts, and so
//! every way of installing safemig (npm, static binary, container image, cargo) gets them
//! without extra files.

use clap::Args;
use clap_complete::Shell;

use safemig::ExitCode;

use super::output::Printer;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn completions(args: CompletionsArgs, printer: &mut Printer) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::command(), "safemig", &mut script);
    printer.line(String::from_utf8_lossy(&script).trim_end());
    ExitCode::Success
}
