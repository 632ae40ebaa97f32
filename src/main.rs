//! The `safemig` command line: parses arguments, drives the library, prints.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
