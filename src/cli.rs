//! The command line (a contract: scripts and docs depend on it; the README documents it):
//! subcommands and their flags. `demo` and `sim` exist with the default `sim` feature.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use realitycheck_config::{Flags, Setting, registry, setting};

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
    /// Say whether the installation may be upgraded to a server version now (read-only): the
    /// path, Kubernetes, the Helm release, its values, data stores, Nomad clients and a backup.
    UpgradeCheck(UpgradeCheckArgs),
    /// Measure how long jobs wait: run N containers at once on an executor (the realitycheck
    /// project's capacity job), then report waits, clients over time and the autoscaler.
    Capacity(CapacityArgs),
    /// Run the checks against the embedded simulated installation.
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// Serve a simulated installation for realitycheck or kubectl to point at.
    #[cfg(feature = "sim")]
    Sim(SimArgs),
    /// Check every configured installation on a schedule, with Prometheus metrics, a status
    /// page, a JSON API and webhooks (profile `health` by default: changes nothing), and run
    /// its canary every hour (a docker and a machine job: it triggers a pipeline each time;
    /// --canary-every off turns it off).
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

/// Where the configuration comes from, and the flags that override it: one flag for every
/// setting whose definition (`realitycheck_config::registry`) gives one on the command `C`
/// names (`run`, `list`, `config check` by default; `serve`; `init`).
#[derive(Debug, Clone, Default)]
pub struct ConfigArgs<C: OnCommand = Checks> {
    /// The values the flags give, as typed.
    pub flags: Flags,
    command: PhantomData<C>,
}

impl<C: OnCommand> ConfigArgs<C> {
    /// The flags `flags`, for tests and for `demo`, which sets them itself.
    pub fn of(flags: Flags) -> Self {
        ConfigArgs { flags, command: PhantomData }
    }

    /// `--config FILE`, if given.
    pub fn config_file(&self) -> Option<&Path> {
        self.flags.get(&setting::CONFIG).map(Path::new)
    }
}

/// A command whose flags come from the registry of settings.
pub trait OnCommand: Clone + Default + Send + Sync + 'static {
    /// The command, as the registry names it.
    const COMMAND: registry::Command;
}

/// `run`, `list`, `config check`.
#[derive(Debug, Clone, Default)]
pub struct Checks;
impl OnCommand for Checks {
    const COMMAND: registry::Command = registry::Command::Checks;
}

/// `serve`.
#[cfg(feature = "serve")]
#[derive(Debug, Clone, Default)]
pub struct Serving;
#[cfg(feature = "serve")]
impl OnCommand for Serving {
    const COMMAND: registry::Command = registry::Command::Serve;
}

/// `upgrade-check`.
#[derive(Debug, Clone, Default)]
pub struct Upgrading;
impl OnCommand for Upgrading {
    const COMMAND: registry::Command = registry::Command::Upgrade;
}

/// `capacity`.
#[derive(Debug, Clone, Default)]
pub struct Measuring;
impl OnCommand for Measuring {
    const COMMAND: registry::Command = registry::Command::Capacity;
}

/// `init`.
#[derive(Debug, Clone, Default)]
pub struct Initialising;
impl OnCommand for Initialising {
    const COMMAND: registry::Command = registry::Command::Init;
}

/// The settings whose flag `C` has, with the flag.
fn flagged<C: OnCommand>() -> impl Iterator<Item = (&'static Setting, &'static registry::Flag)> {
    registry::all().iter().filter_map(|setting| Some((*setting, setting.flag_on(C::COMMAND)?)))
}

impl<C: OnCommand> clap::FromArgMatches for ConfigArgs<C> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Flags::default();
        for (setting, flag) in flagged::<C>() {
            if setting.kind == registry::Kind::Bool {
                if matches.get_flag(flag.long) {
                    flags.set(setting, "true");
                }
            } else if let Some(value) = matches.get_one::<String>(flag.long) {
                flags.set(setting, value.clone());
            }
        }
        Ok(ConfigArgs::of(flags))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<C: OnCommand> clap::Args for ConfigArgs<C> {
    fn augment_args(command: clap::Command) -> clap::Command {
        flagged::<C>().fold(command, |command, (setting, flag)| {
            let mut help = setting.help.replace('`', "");
            if let Some(first) = help.get(..1) {
                help.replace_range(..1, &first.to_uppercase());
            }
            if let Some(var) = setting.env.filter(|_| C::COMMAND != registry::Command::Init) {
                help.push_str(&format!(" [env: {var}]"));
            }
            let arg = clap::Arg::new(flag.long).long(flag.long).help(help).help_heading("Settings");
            let arg = if setting.kind == registry::Kind::Bool {
                arg.action(clap::ArgAction::SetTrue)
            } else {
                arg.value_name(flag.value_name).action(clap::ArgAction::Set)
            };
            command.arg(arg)
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
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
    /// Write a JSON report here (schema realitycheck.report/v3).
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

/// The earlier run a run is compared with: what an upgrade changed.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Compare with this JSON report of an earlier run (`--json FILE` before `helm upgrade`):
    /// each check is marked new red, new green, still red, not rechecked, unchanged or not
    /// compared.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Exit 1 only when a check is red that was not red in the baseline: checks still red
    /// alone exit 0 (needs --baseline).
    #[arg(long, requires = "baseline")]
    pub fail_on_new_red_only: bool,
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
    #[command(flatten)]
    pub baseline: BaselineArgs,
}

#[derive(Debug, Args)]
pub struct UpgradeCheckArgs {
    /// The server version to upgrade to, like 4.10 (its last patch) or 4.10.1; default: the
    /// newest version realitycheck knows.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs<Upgrading>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// The executor a capacity workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorChoice {
    /// Docker containers on the Nomad clients.
    Docker,
    /// Linux VMs of the machine provisioner (AWS, GCP).
    Machine,
}

/// What a capacity measurement runs.
#[derive(Debug, Clone, Args)]
pub struct WorkloadArgs {
    /// Run this many containers at once (at most the target's capacity.max_jobs, 50 by
    /// default).
    #[arg(long, value_name = "N")]
    pub jobs: Option<u32>,
    /// The executor they run on.
    #[arg(long, value_enum, default_value_t = ExecutorChoice::Docker, requires = "jobs")]
    pub executor: ExecutorChoice,
    /// The resource class each container asks for.
    #[arg(long, value_name = "CLASS", default_value = "medium", requires = "jobs")]
    pub resource_class: String,
    /// How long each container holds its executor (whole seconds, like 60s or 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = hold, requires = "jobs")]
    pub hold: u32,
}

/// `--hold`: a whole number of seconds from 1 to an hour.
fn hold(text: &str) -> Result<u32, String> {
    let duration = humantime::parse_duration(text).map_err(|e| format!("{e}; give a duration like 60s or 2m"))?;
    if duration.subsec_nanos() != 0 || duration.is_zero() || duration.as_secs() > 3600 {
        return Err("give whole seconds from 1s to 1h, like 60s".into());
    }
    u32::try_from(duration.as_secs()).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Write a JUnit XML report here (one case per measure, capacity.max_wait_p95 among them).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here (schema realitycheck.capacity/v1), and the SVG picture of the
    /// waits and clients over time beside it (the same name, .svg).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs<Measuring>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The simulated installation's state (default: healthy; upgrade-ready with --upgrade-to,
    /// capacity-healthy with --jobs).
    #[arg(long, value_name = "NAME", value_parser = scenario_names())]
    pub scenario: Option<String>,
    /// Run `upgrade-check --to VERSION` against the simulation instead of the checks of `run`.
    #[arg(long, value_name = "VERSION", conflicts_with_all = ["setup_contexts", "jobs"])]
    pub upgrade_to: Option<String>,
    /// With --jobs N: run `capacity` against the simulation instead of the checks of `run`.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Profile of the run (laptop, ci, health, canary).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Create the missing contexts and variables in the simulation, as `run` does.
    #[arg(long)]
    pub setup_contexts: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
}

/// What the simulation installs: the CircleCI server version, where its Nomad servers run, and
/// the cloud it runs on.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// The CircleCI server version simulated (default: 4.10).
    #[arg(long, value_name = "VERSION", value_parser = server_version_names())]
    pub server_version: Option<String>,
    /// Where the simulated Nomad servers run: internal (in the cluster) or external (4.8 and later);
    /// default: external for the nomad-external-* scenarios, internal otherwise.
    #[arg(long, value_name = "WHERE", value_parser = ["internal", "external"])]
    pub nomad_servers: Option<String>,
    /// The cloud the simulated installation runs on, which decides the jobs its machine
    /// provisioner runs (aws: Arm; gcp: Android; other: none); scenario cloud-provider-other
    /// runs on other whatever this says.
    #[arg(long, default_value = "aws", value_name = "CLOUD", value_parser = ["aws", "gcp", "other"])]
    pub cloud_provider: String,
}

#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The simulated installation's state.
    #[arg(long, default_value = "healthy", value_name = "NAME", value_parser = scenario_names())]
    pub scenario: String,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
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
    /// The configuration and `[serve]`'s flags; --target watches one target only, --profile
    /// names the profile of the runs (default: the file's serve.profile, else health).
    #[command(flatten)]
    pub config: ConfigArgs<Serving>,
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
    /// The answers: the settings written into the starter file (the token itself is never
    /// asked for nor written).
    #[command(flatten)]
    pub answers: ConfigArgs<Initialising>,
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

/// The scenario names `--scenario` accepts, listed in `--help`.
#[cfg(feature = "sim")]
fn scenario_names() -> clap::builder::PossibleValuesParser {
    realitycheck_sim::scenario::Scenario::ALL
        .iter()
        .map(|s| clap::builder::PossibleValue::new(s.name()).help(s.description()))
        .collect::<Vec<_>>()
        .into()
}

/// The server versions `--server-version` accepts.
#[cfg(feature = "sim")]
fn server_version_names() -> clap::builder::PossibleValuesParser {
    realitycheck_sim::version::ServerVersion::ALL.iter().map(|version| version.name()).collect::<Vec<_>>().into()
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn each_command_has_the_flags_the_registry_gives_it_and_keeps_them_as_typed() {
        let run = Cli::parse_from([
            "realitycheck",
            "run",
            "--host",
            "https://x.example.com",
            "--insecure",
            "--min-clients",
            "3",
        ]);
        let Command::Run(run) = run.command else { panic!("run") };
        let flags = &run.config.flags;
        assert_eq!(flags.get(&setting::HOST), Some("https://x.example.com"));
        assert_eq!(flags.get(&setting::INSECURE), Some("true"), "a switch");
        assert_eq!(flags.get(&setting::MIN_CLIENTS), Some("3"));
        assert_eq!(flags.get(&setting::CLOUD_PROVIDER), None);
        let init = Cli::parse_from(["realitycheck", "init", "--token-env", "PROD_TOKEN"]);
        let Command::Init(init) = init.command else { panic!("init") };
        assert_eq!(init.answers.flags.get(&setting::TOKEN_ENV), Some("PROD_TOKEN"));
        assert!(Cli::try_parse_from(["realitycheck", "run", "--token-env", "X"]).is_err(), "init's flag only");
        assert!(Cli::try_parse_from(["realitycheck", "run", "--every", "1m"]).is_err(), "serve's flag only");
    }

    #[test]
    fn fail_on_new_red_only_needs_a_baseline() {
        let refused = Cli::try_parse_from(["realitycheck", "run", "--fail-on-new-red-only"]).unwrap_err();
        assert_eq!(refused.kind(), clap::error::ErrorKind::MissingRequiredArgument, "{refused}");
        assert!(refused.to_string().contains("--baseline <FILE>"), "{refused}");
        let run = Cli::parse_from(["realitycheck", "run", "--baseline", "before.json", "--fail-on-new-red-only"]);
        let Command::Run(run) = run.command else { panic!("run") };
        assert_eq!(run.baseline.baseline.as_deref(), Some(Path::new("before.json")));
        assert!(run.baseline.fail_on_new_red_only);
    }

    #[cfg(feature = "serve")]
    #[test]
    fn serve_s_profile_is_the_profile_of_its_runs() {
        let serve = Cli::parse_from(["realitycheck", "serve", "--profile", "ci", "--every", "1m", "--target", "prod"]);
        let Command::Serve(serve) = serve.command else { panic!("serve") };
        let flags = &serve.config.flags;
        assert_eq!(flags.get(&setting::SERVE_PROFILE), Some("ci"));
        assert_eq!(flags.get(&setting::PROFILE), None);
        assert_eq!(flags.get(&setting::EVERY), Some("1m"));
        assert_eq!(flags.get(&setting::DEFAULT_TARGET), Some("prod"));
    }
}
