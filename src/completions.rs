//! `realitycheck completions SHELL` and `realitycheck man`: the shell completion script and the
//! manual page, both generated from the command line's clap definitions (`src/cli.rs`), so
//! that they list exactly the subcommands and flags this binary has.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::AppError;

/// The binary's name, as the shell completes it.
const BIN_NAME: &str = "realitycheck";

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode, AppError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN_NAME, &mut script);
    write_stdout(&script, "the completion script")
}

pub fn man() -> Result<ExitCode, AppError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(AppError::io("cannot render the manual page".into()))?;
    write_stdout(&page, "the manual page")
}

fn write_stdout(bytes: &[u8], what: &str) -> Result<ExitCode, AppError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(AppError::io(format!("cannot write {what} to stdout")))?;
    Ok(ExitCode::SUCCESS)
}
