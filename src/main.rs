//! `realitycheck`: the binary. Parses the command line, wires configuration, the suite and
//! reporters into a run (and, with the default `sim` feature, the simulated installation for
//! `demo` and `sim`), and maps outcomes to exit codes. `explain`, `completions` and `man` print
//! the docs embedded in it or generated from its command line.

mod capacity;
mod cli;
mod collect;
mod completions;
mod config_check;
mod exit;
mod explain;
mod init;
mod prompt;
mod run;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "sim")]
mod sim;
mod wiring;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, ColorChoice, Command, ConfigCommand};
use crate::exit::AppError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let outcome: Result<ExitCode, AppError> = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args, cli.color).await,
            Command::List(args) => run::list(args),
            Command::UpgradeCheck(args) => run::upgrade_check(args, cli.color).await,
            Command::Capacity(args) => capacity::capacity(args, cli.color).await,
            #[cfg(feature = "sim")]
            Command::Demo(args) => sim::demo(args, cli.color).await,
            #[cfg(feature = "sim")]
            Command::Sim(args) => sim::serve(args).await,
            #[cfg(feature = "serve")]
            Command::Serve(args) => serve::serve(args).await,
            Command::Explain(args) => explain::explain(&args),
            Command::Completions(args) => completions::completions(&args),
            Command::Man => completions::man(),
            Command::Init(args) => init::init(&args).await,
            Command::Config(ConfigCommand::Check(args)) => config_check::check(&args),
        }
    });
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        exit::for_error(&error)
    })
}

/// Logs go to stderr; stdout carries the report. Without -v, the Kubernetes client's own
/// error logs stay quiet: the report already says what failed, with its causes.
fn init_logging(verbose: u8, color: ColorChoice) {
    let level = match verbose {
        0 => "warn,kube_client=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = color.enabled(std::io::stderr().is_terminal());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
