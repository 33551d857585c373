//! The command line (a contract: scripts and docs depend on it; the README documents it):
//! subcommands and their flags. `demo` and `sim` exist with the default `sim` feature.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use realitycheck_config::CloudProvider;

#[derive(Debug, Parser)]
#[command(
    name = "realitycheck",
    version,
    about = "Tells whether a CircleCI server 4.x installation really works: Nomad, contexts, and jobs on every executor",
    after_help = "Exit codes: 0 all selected checks passed, 1 a check failed, 2 usage or configuration error, \
                  3 preflight failed (unreachable, TLS, token), 4 the filter selected no check, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Colour on the terminal; NO_COLOR turns it off in auto mode.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour an output that is (or is not) a terminal; `auto` honours NO_COLOR.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an installation.
    Run(RunArgs),
    /// List the checks a run would include, with their tags.
    List(ListArgs),
    /// Run the checks against the embedded simulated installation.
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// Serve a simulated installation for realitycheck or kubectl to point at.
    #[cfg(feature = "sim")]
    Sim(SimArgs),
    /// Check every configured installation on a schedule, with Prometheus metrics, a status
    /// page, a JSON API and webhooks (profile `health` by default: changes nothing).
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// Write a starter configuration (the commented reference of every key, with your answers)
    /// and the realitycheck CircleCI project's .circleci/config.yml to push; on a terminal it
    /// asks for the settings and checks them.
    Init(InitArgs),
    /// Explain a check: what it verifies and how, what it needs, every cause of red it knows
    /// with its fix, its installation phase and the demo scenarios that show it red.
    Explain(ExplainArgs),
    /// Print a shell completion script for realitycheck (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page of realitycheck (roff, for `man -l -`).
    Man,
    /// Work with the configuration without checking the installation.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration as `run` does, for the chosen target and profile (else every
    /// one), and print the effective settings with where each came from.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Where the configuration comes from, and the flags that override it.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file (else REALITYCHECK_CONFIG, else ./realitycheck.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile: laptop, ci, health, or one of the file's [profiles.NAME].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Target: one of the file's [targets.NAME].
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Base URL of the installation (overrides CIRCLE_HOSTNAME).
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
    /// File holding the API token (the token itself is never a flag: use CIRCLE_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// aws, gcp or other (overrides CIRCLE_CLOUD_PROVIDER).
    #[arg(long, value_name = "PROVIDER", value_parser = cloud_provider)]
    pub cloud_provider: Option<CloudProvider>,
    /// Project slug vcs/org/repo (overrides REALITYCHECK_PROJECT).
    #[arg(long, value_name = "SLUG")]
    pub project: Option<String>,
    /// PEM file of the CA certificates that sign the installation's certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// Accept any TLS certificate from the installation (self-signed test installs only).
    #[arg(long)]
    pub insecure: bool,
    /// Kubeconfig file (else KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (else the current one).
    #[arg(long, value_name = "NAME")]
    pub kube_context: Option<String>,
    /// Namespace of the CircleCI server release (default circleci-server).
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Chart version the CircleCI server release must run (e.g. after `helm upgrade --version`).
    #[arg(long, value_name = "VERSION")]
    pub expect_chart_version: Option<String>,
    /// Nomad clients that must be ready.
    #[arg(long, value_name = "N")]
    pub min_clients: Option<u32>,
    /// Self-hosted runner resource class (namespace/name) the runner job runs on.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub runner_resource_class: Option<String>,
    /// Multiplies every timeout and the deadline.
    #[arg(long, value_name = "FACTOR")]
    pub timeout_scale: Option<f64>,
}

/// Which checks run (libtest's model) and where reports go.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectionArgs {
    /// Run only checks whose ID contains one of these (the whole ID with --exact).
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Leave out checks whose ID contains this (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Filters and --skip match whole check IDs.
    #[arg(long)]
    pub exact: bool,
    /// List the selected checks instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Run only the checks that do not apply to this installation.
    #[arg(long, conflicts_with = "include_ignored")]
    pub ignored: bool,
    /// Run the checks that do not apply to this installation too.
    #[arg(long)]
    pub include_ignored: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here (schema realitycheck.report/v2).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// When a check is red, write an evidence bundle (realitycheck-evidence-<time>.tar.gz)
    /// into this directory; the ci profile does so into ./realitycheck-evidence.
    #[arg(long, value_name = "DIR", conflicts_with = "no_collect")]
    pub collect: Option<PathBuf>,
    /// Write no evidence bundle, whatever the profile says.
    #[arg(long)]
    pub no_collect: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Create the contexts and variables the checks need when they are missing (only in
    /// contexts realitycheck created; never changes one it did not create).
    #[arg(long)]
    pub setup_contexts: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The simulated installation's state.
    #[arg(long, default_value = "healthy", value_name = "NAME", value_parser = scenario_names())]
    pub scenario: String,
    /// Profile of the run (laptop, ci, health).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Create the missing contexts and variables in the simulation, as `run` does.
    #[arg(long)]
    pub setup_contexts: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The simulated installation's state.
    #[arg(long, default_value = "healthy", value_name = "NAME", value_parser = scenario_names())]
    pub scenario: String,
    /// Address to listen on (loopback only by default).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Write shell exports here (and a kubeconfig beside it) for realitycheck and kubectl.
    #[arg(long, value_name = "FILE")]
    pub write_env: Option<PathBuf>,
}

#[cfg(feature = "serve")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration; --target watches one target only, --profile names the profile of
    /// the runs (default: the file's serve.profile, else health).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Time between the starts of two runs of one target (default 15m; 10s to 24h).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub every: Option<std::time::Duration>,
    /// Address of the HTTP server (default 127.0.0.1:9797; 0.0.0.0:9797 in a container).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Runs kept per target (default 100).
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Keep the history here across restarts (JSON lines).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// POST here whenever a check starts or stops failing.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Body of the webhook's POSTs: json (realitycheck.webhook/v1) or slack.
    #[arg(long, value_name = "FORMAT", value_parser = webhook_format)]
    pub webhook_format: Option<realitycheck_config::WebhookFormat>,
    /// File holding the bearer token that POST /api/v1/runs requires.
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Ask nothing, even on a terminal: write what the flags say.
    #[arg(long)]
    pub no_input: bool,
    /// Base URL of the installation (host).
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
    /// Environment variable that holds the API token (token_env; default CIRCLE_TOKEN). The
    /// token itself is never asked for nor written.
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
    /// Kubeconfig context (kubernetes.context; on a terminal the current one is the default).
    #[arg(long, value_name = "NAME")]
    pub kube_context: Option<String>,
    /// Namespace of the CircleCI server release (kubernetes.namespace; default circleci-server).
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Slug vcs/org/repo of the realitycheck project (project).
    #[arg(long, value_name = "SLUG")]
    pub project: Option<String>,
    /// Self-hosted runner resource class namespace/name (pipeline.runner_resource_class).
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub runner_resource_class: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The check's ID, as reports print it (nomad::clients_ready); none lists every check.
    #[arg(value_name = "CHECK_ID")]
    pub check: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `--cloud-provider`, read as the configuration reads CIRCLE_CLOUD_PROVIDER.
fn cloud_provider(value: &str) -> Result<CloudProvider, String> {
    CloudProvider::parse(&value.to_lowercase()).ok_or_else(|| "use aws, gcp or other".to_string())
}

/// `--webhook-format`, read as the configuration reads `serve.webhook_format`.
#[cfg(feature = "serve")]
fn webhook_format(value: &str) -> Result<realitycheck_config::WebhookFormat, String> {
    realitycheck_config::WebhookFormat::parse(&value.to_lowercase()).ok_or_else(|| "use json or slack".to_string())
}

/// The scenario names `--scenario` accepts, listed in `--help`.
#[cfg(feature = "sim")]
fn scenario_names() -> clap::builder::PossibleValuesParser {
    realitycheck_sim::scenario::Scenario::ALL
        .iter()
        .map(|s| clap::builder::PossibleValue::new(s.name()).help(s.description()))
        .collect::<Vec<_>>()
        .into()
}
