//! `safemig man [COMMAND…]`: manual pages, generated at run time from the parser's own
//! definition (see [`super::completions`] for why).

use clap::error::ErrorKind;
use clap::{Args, CommandFactory};

use safemig::ExitCode;

use super::Cli;
use super::output::Printer;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print, such as `run` or `lint compose` [default: the page
    /// of safemig itself]
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
}

/// An unknown command is a usage error, reported (exit 2) as clap reports its own.
pub fn man(args: ManArgs, printer: &mut Printer) -> ExitCode {
    let mut command = super::command();
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
    ExitCode::Success
}
