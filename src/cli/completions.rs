//! `safemig completions SHELL` and `safemig man [COMMAND…]`: shell completions and manual
//! pages, generated at run time from the parser's own definition so they can never
//! disagree with the options the binary accepts, and so every way of installing safemig
//! (npm, static binary, container image, cargo) gets them without extra files.

use clap::error::ErrorKind;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use safemig::{Error, ExitCode};

use super::Cli;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print, such as `run` or `lint compose` [default: the page
    /// of safemig itself]
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn completions(args: CompletionsArgs, printer: &mut Printer) -> Result<ExitCode, Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "safemig", &mut script);
    printer.line(String::from_utf8_lossy(&script).trim_end());
    Ok(ExitCode::Success)
}

pub fn man(args: ManArgs, printer: &mut Printer) -> Result<ExitCode, Error> {
    let mut command = Cli::command();
    // Building propagates the global options into the subcommands and names them
    // `safemig-run` and so on, as man pages of subcommands are named.
    command.build();
    for name in &args.command {
        let Some(sub) = command.find_subcommand(name).cloned() else {
            let known: Vec<_> = command
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|&c| c != "help")
                .collect();
            Cli::command()
                .error(
                    ErrorKind::InvalidSubcommand,
                    format!(
                        "`{}` has no command `{name}`; its commands are: {}",
                        command.get_bin_name().unwrap_or("safemig"),
                        known.join(", ")
                    ),
                )
                .exit();
        };
        command = sub;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        // The footer; clap_mangen would print the subcommand's name without a version.
        .source(format!("safemig {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)
        .expect("rendering into memory cannot fail");
    printer.line(String::from_utf8_lossy(&page).trim_end());
    Ok(ExitCode::Success)
}
