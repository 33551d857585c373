//! From flags and settings to the engine's inputs: the configuration loaded with the flags'
//! values, selection, run options, the suite, the baseline a run is compared with, and the
//! reporters a run feeds.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use harness::{IgnoredMode, Run, RunInfo, RunOptions, Selection, Suite};
use realitycheck_config::{Config, LoadRequest, Settings, display_host};
use reports::{Baseline, JsonReporter, JunitReporter, Reporter, TerminalOptions, TerminalReporter};
use suites::upgrades::UpgradeTarget;

use crate::cli::{BaselineArgs, ColorChoice, ConfigArgs, OnCommand, ReportArgs, SelectionArgs};
use crate::exit::AppError;

/// Loads the settings from the process environment and the working directory.
pub fn load_settings<C: OnCommand>(args: &ConfigArgs<C>) -> Result<Settings, AppError> {
    Ok(load_config(args)?.settings()?)
}

/// Loads the settings with `var` reading the environment and `cwd` as the directory where
/// `realitycheck.toml` is looked for (`demo`: an empty environment, its own directory).
#[cfg(feature = "sim")]
pub fn load_settings_in(
    args: &ConfigArgs,
    var: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Settings, AppError> {
    let config = Config::load(&LoadRequest { config_flag: args.config_file(), var, cwd, flags: args.flags.clone() })?;
    Ok(config.settings()?)
}

/// Reads every source of the configuration, with the flags of `args`, from the process
/// environment and the working directory.
pub fn load_config<C: OnCommand>(args: &ConfigArgs<C>) -> Result<Config, AppError> {
    let cwd = std::env::current_dir()
        .map_err(|source| AppError::Io { what: "cannot read the working directory".into(), source })?;
    let var = |name: &str| std::env::var(name).ok();
    Ok(Config::load(&LoadRequest { config_flag: args.config_file(), var: &var, cwd: &cwd, flags: args.flags.clone() })?)
}

pub fn selection(args: &SelectionArgs, settings: &Settings) -> Selection {
    Selection {
        filters: args.filters.clone(),
        skips: args.skip.clone(),
        exact: args.exact,
        ignored: if args.ignored {
            IgnoredMode::Only
        } else if args.include_ignored {
            IgnoredMode::Include
        } else {
            IgnoredMode::Report
        },
        excluded_tags: settings.profile.exclude_tags.clone(),
        only: settings.profile.checks.clone(),
    }
}

/// The run of `suite` with `options`; refused when the profile's `checks` names a check the
/// suite does not have, which would silently run fewer checks than the profile says.
pub fn run<S: Suite>(suite: S, options: RunOptions, settings: &Settings) -> Result<Run<S>, AppError> {
    let run = Run::new(suite, options);
    let unknown = run.unknown_checks();
    if !unknown.is_empty() {
        let profile = &settings.profile.name;
        let origin = settings.profile_values.origin(&realitycheck_config::setting::ONLY_CHECKS);
        let names: Vec<String> = unknown.iter().map(|id| format!("`{id}`")).collect();
        return Err(AppError::Usage(format!(
            "profile `{profile}`'s checks ({origin}) name {}, which {} no check of target `{}` here; `realitycheck list --profile laptop` prints the IDs of the checks, or remove {} from the list",
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" },
            settings.target.name,
            if names.len() == 1 { "it" } else { "them" },
        )));
    }
    Ok(run)
}

pub fn run_options(settings: &Settings, selection: Selection) -> RunOptions {
    let profile = &settings.profile;
    let target = &settings.target;
    let host = target.host.as_ref().map(display_host).unwrap_or_else(|| {
        let context = target.kubernetes.context.as_deref().unwrap_or("current kube context");
        format!("{context}, namespace {}", target.kubernetes.namespace)
    });
    RunOptions {
        info: RunInfo {
            target: target.name.clone(),
            host,
            profile: profile.name.clone(),
            started_at: SystemTime::now(),
        },
        selection,
        timeouts: profile.scaled_timeouts(),
        deadline: Some(profile.scaled_deadline()),
        retries: profile.retries,
        retry_delay: Duration::from_secs(2),
        concurrency: profile.concurrency,
        collect: false,
    }
}

/// The suite for the settings' target; warns on stderr when TLS verification is off. A profile
/// that leaves out what mutates refuses `--setup-contexts`, which mutates.
pub fn suite(settings: &Settings, setup_contexts: bool) -> Result<suites::RealityCheck, AppError> {
    let profile = &settings.profile;
    if setup_contexts && profile.exclude_tags.contains(&harness::Tag::Mutates) {
        return Err(AppError::Usage(format!(
            "--setup-contexts changes the installation's contexts, and profile `{}` runs nothing that mutates (exclude_tags has `mutates`); leave --setup-contexts out, or run it with another profile (laptop, ci)",
            profile.name
        )));
    }
    let target = &settings.target;
    if target.insecure {
        eprintln!(
            "warning: TLS certificate verification is OFF for {} (insecure): anyone on the network path can read the API token; use ca_bundle instead",
            target.host.as_ref().map(display_host).unwrap_or_else(|| "the CircleCI API".into())
        );
    }
    Ok(suites::RealityCheck::new(target.clone(), setup_contexts))
}

/// The `upgrade::*` suite for the settings' target, judging an upgrade to `to` (none: the
/// newest version realitycheck knows, with the `upgrade.latest_patches` setting).
pub fn upgrade_suite(settings: &Settings, to: Option<&str>) -> Result<suites::RealityCheck, AppError> {
    let target = &settings.target;
    let to = UpgradeTarget::resolve(to, &target.upgrade.latest_patches)
        .map_err(|e| AppError::Usage(format!("--to: {e}")))?;
    Ok(suites::RealityCheck::upgrade(target.clone(), to))
}

/// Checks, before anything runs, that each report file can be written where asked: not a
/// directory, in a directory that exists or can be made, and not the file of another report.
pub fn prepare_report_paths(args: &ReportArgs) -> Result<(), AppError> {
    if let (Some(junit), Some(json)) = (&args.junit, &args.json) {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => absolute(a) == absolute(b),
        };
        if same(junit, json) {
            return Err(AppError::Usage(format!(
                "--junit and --json both name {}: each report needs its own file",
                junit.display()
            )));
        }
    }
    for (flag, path) in [("--junit", &args.junit), ("--json", &args.json)] {
        if let Some(path) = path {
            prepare_report_path(flag, path)?;
        }
    }
    Ok(())
}

/// Checks that the report file `flag` names can be written: not a directory, in a directory
/// that exists or can be made.
pub fn prepare_report_path(flag: &str, path: &Path) -> Result<(), AppError> {
    let path = absolute(path);
    if path.is_dir() {
        return Err(AppError::Usage(format!("{flag} {} is a directory; give the path of a file", path.display())));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| AppError::Io {
            what: format!("{flag} {}: cannot create its directory", path.display()),
            source,
        })?;
    }
    Ok(())
}

/// What `--baseline` asks of a run: the earlier run's report to compare it with, and whether
/// only the checks red now that were not red then fail it.
pub struct Comparing {
    pub baseline: Arc<Baseline>,
    pub fail_on_new_red_only: bool,
}

/// Reads the baseline `args` name, if any, before anything runs: a file that is no JSON report
/// of realitycheck is a usage error.
pub fn comparing(args: &BaselineArgs) -> Result<Option<Comparing>, AppError> {
    let Some(path) = &args.baseline else { return Ok(None) };
    let baseline = Arc::new(Baseline::read(path)?);
    Ok(Some(Comparing { baseline, fail_on_new_red_only: args.fail_on_new_red_only }))
}

/// The terminal reporter on stdout, plus the file reporters asked for; each compares the run
/// with `baseline`, when given.
pub fn reporters(
    args: &ReportArgs,
    color: ColorChoice,
    baseline: Option<&Arc<Baseline>>,
) -> Vec<Box<dyn Reporter + Send>> {
    let stdout = std::io::stdout();
    let is_tty = stdout.is_terminal();
    let color = color.enabled(is_tty);
    let live = is_tty && std::env::var_os("CI").is_none();
    let terminal = TerminalReporter::new(stdout, TerminalOptions { color, live }).with_baseline(baseline.cloned());
    let mut reporters: Vec<Box<dyn Reporter + Send>> = vec![Box::new(terminal)];
    if let Some(path) = &args.junit {
        reporters.push(Box::new(JunitReporter::new(absolute(path)).with_baseline(baseline.cloned())));
    }
    if let Some(path) = &args.json {
        reporters.push(Box::new(JsonReporter::new(absolute(path)).with_baseline(baseline.cloned())));
    }
    reporters
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
