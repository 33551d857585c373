//! `realitycheck demo` and `realitycheck sim`: the simulated installation, run against
//! in-process or served for realitycheck and kubectl to point at.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use realitycheck_config::setting;
use realitycheck_project::CloudProvider;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::version::{Deployment, NomadServers, ServerVersion};

use crate::capacity::{self, CapacityReports};
use crate::cli::{ColorChoice, ConfigArgs, DemoArgs, DeploymentArgs, SimArgs};
use crate::collect::Collect;
use crate::exit::AppError;
use crate::{run, wiring};

/// The scenario of `demo` without `--scenario`.
const DEFAULT_SCENARIO: &str = "healthy";
/// The scenario of `demo --upgrade-to` without `--scenario`: an installation ready for its upgrade.
const UPGRADE_DEFAULT_SCENARIO: &str = "upgrade-ready";
/// The scenario of `demo --jobs N` without `--scenario`: an installation whose autoscaler keeps up.
const CAPACITY_DEFAULT_SCENARIO: &str = "capacity-healthy";

fn scenario(name: &str) -> Result<Scenario, AppError> {
    name.parse().map_err(|e: realitycheck_sim::scenario::UnknownScenario| AppError::Usage(e.to_string()))
}

/// What `--server-version`, `--nomad-servers` and `--cloud-provider` ask for `scenario`, or a
/// usage error that says what works.
fn options(scenario: Scenario, args: &DeploymentArgs) -> Result<SimOptions, AppError> {
    let usage = |error: &dyn std::fmt::Display| AppError::Usage(error.to_string());
    let version = args.server_version.as_deref().map(str::parse::<ServerVersion>).transpose().map_err(|e| usage(&e))?;
    let servers = args.nomad_servers.as_deref().map(str::parse::<NomadServers>).transpose().map_err(|e| usage(&e))?;
    let deployment = Deployment::resolve(scenario, version, servers).map_err(|e| usage(&e))?;
    let cloud_provider = CloudProvider::parse(&args.cloud_provider).ok_or_else(|| {
        AppError::Usage(format!("--cloud-provider: `{}` is none of aws, gcp and other", args.cloud_provider))
    })?;
    Ok(SimOptions { deployment, cloud_provider, ..SimOptions::for_scenario(scenario) })
}

pub async fn demo(args: DemoArgs, color: ColorChoice) -> Result<ExitCode, AppError> {
    let default = match (&args.upgrade_to, args.workload.jobs) {
        (Some(_), _) => UPGRADE_DEFAULT_SCENARIO,
        (None, Some(_)) => CAPACITY_DEFAULT_SCENARIO,
        (None, None) => DEFAULT_SCENARIO,
    };
    let scenario = scenario(args.scenario.as_deref().unwrap_or(default))?;
    let options = options(scenario, &args.deployment)?;
    let comparing = wiring::comparing(&args.baseline)?;
    let server = SimServer::start_with(scenario, ([127, 0, 0, 1], 0).into(), options)
        .await
        .map_err(AppError::io("cannot start the simulated installation on 127.0.0.1".into()))?;
    let workdir = tempfile::tempdir().map_err(AppError::io("cannot create a temporary directory".into()))?;
    let files = server.write_env(&workdir.path().join("env.sh")).map_err(AppError::io(format!(
        "cannot write the simulation's kubeconfig and CA into {}",
        workdir.path().display()
    )))?;
    // The demo reads this file as ./realitycheck.toml of its working directory.
    let config_file = workdir.path().join(realitycheck_config::DEFAULT_FILE_NAME);
    std::fs::write(&config_file, pipeline_config())
        .map_err(AppError::io(format!("cannot write the demo's configuration into {}", workdir.path().display())))?;
    let mut flags = server.flags(&files);
    if let Some(profile) = &args.profile {
        flags.set(&setting::PROFILE, profile.clone());
    }
    let config_args = ConfigArgs::of(flags);
    // The demo reads no environment and no ./realitycheck.toml: a real installation's
    // settings must not leak into it.
    let settings = wiring::load_settings_in(&config_args, &|_| None, workdir.path())?;
    if args.workload.jobs.is_some() {
        let reports = CapacityReports { json: args.reports.json.clone(), junit: args.reports.junit.clone() };
        let outcome = capacity::measure(&settings, &args.workload, &reports, color).await;
        server.shutdown().await;
        return outcome;
    }
    let collect = Collect::request(&args.reports, &settings)?;
    let mut options = wiring::run_options(&settings, wiring::selection(&args.selection, &settings));
    options.collect = collect.is_some();
    options.info.target = "demo".into();
    options.info.host = format!("simulated installation, scenario {scenario}, at {}", server.circleci_url());
    let suite = match &args.upgrade_to {
        Some(to) => wiring::upgrade_suite(&settings, Some(to))?,
        None => wiring::suite(&settings, args.setup_contexts)?,
    };
    let run = wiring::run(suite, options, &settings)?;
    let outcome = run::execute(&run, &args.selection, &args.reports, comparing.as_ref(), collect, color).await;
    server.shutdown().await;
    outcome
}

pub async fn serve(args: SimArgs) -> Result<ExitCode, AppError> {
    let scenario = scenario(&args.scenario)?;
    let options = options(scenario, &args.deployment)?;
    let server = SimServer::start_with(scenario, args.listen, options)
        .await
        .map_err(AppError::io(format!("cannot listen on {}", args.listen)))?;
    let env_note = match &args.write_env {
        Some(path) => {
            let files = server.write_env(path).map_err(AppError::io(format!("cannot write {}", path.display())))?;
            let config = write_config_beside(path)?;
            Some(format!(
                "wrote {} (exports), {} (kubeconfig), {} (the CircleCI API's CA), {} (the simulation's token) and {} (pipeline settings)",
                shown(path),
                files.kubeconfig.display(),
                files.ca_bundle.display(),
                files.token_file.display(),
                config.display()
            ))
        }
        None => None,
    };
    // No punctuation right after a URL: scripts take the words that start with `http`.
    let nomad_api = match server.nomad_url() {
        Some(url) if scenario == Scenario::NomadExternalUnreachable => {
            format!(" and says the Nomad servers' API is at {url} (nothing listens there)")
        }
        Some(url) => format!(" and the Nomad servers' API at {url}"),
        None => String::new(),
    };
    let mut lines = vec![format!(
        "realitycheck sim: CircleCI server {} with Nomad servers {}, scenario {scenario} ({}), serving the Kubernetes \
         API at {} and the CircleCI API at {}{nomad_api}",
        server.server_version(),
        server.nomad_servers(),
        scenario.description(),
        server.kube_url(),
        server.circleci_url()
    )];
    if let (Some(note), Some(path)) = (env_note, &args.write_env) {
        lines.push(note);
        let look = match server.nomad_servers() {
            NomadServers::Internal => "kubectl get pods -l app=nomad-server".to_owned(),
            NomadServers::External => format!(
                "NOMAD_TLS_SERVER_NAME=server.global.nomad NOMAD_CACERT=<ca.pem of Secret {}> nomad server members",
                realitycheck_sim::mtls::MTLS_SECRET
            ),
        };
        lines.push(format!("try: . {} && realitycheck run   |   {look}", shown(path)));
    }
    lines.push("stop with Ctrl-C".into());
    // Whoever started the simulation may stop reading its stdout; it goes on serving.
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    drop(stdout);
    run::shutdown_signal().await;
    server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The settings the demo runs with beyond host, token and cluster: the simulation's runner,
/// three docker resource classes, and the capacity thresholds at the simulation's speed.
fn pipeline_config() -> String {
    format!(
        "# The pipeline settings of the simulated installation (`realitycheck demo` uses the same).\n\
         [defaults.pipeline]\n\
         runner_resource_class = \"{}\"\n\
         docker_resource_classes = [\"small\", \"medium\", \"large\"]\n\
         \n\
         # The simulated installation runs {}x faster than a real one: the defaults (3m, 4m) in its time.\n\
         [defaults.capacity]\n\
         max_wait_p95 = \"{}\"\n\
         autoscaler_reaction = \"{}\"\n",
        realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS,
        realitycheck_sim::execution::timing::SPEED,
        realitycheck_sim::sim::CAPACITY_MAX_WAIT_P95,
        realitycheck_sim::sim::CAPACITY_AUTOSCALER_REACTION,
    )
}

/// Writes [`pipeline_config`] beside the env file (as `<file name>.toml`) and appends its
/// `export REALITYCHECK_CONFIG=...` to the env file, so that a `run` sees what the demo sees.
fn write_config_beside(env_file: &Path) -> Result<PathBuf, AppError> {
    let mut name = env_file.file_name().unwrap_or_default().to_os_string();
    name.push(".toml");
    let config = std::path::absolute(env_file.with_file_name(name))
        .map_err(AppError::io(format!("cannot resolve {}", env_file.display())))?;
    std::fs::write(&config, pipeline_config()).map_err(AppError::io(format!("cannot write {}", config.display())))?;
    let quoted = format!("'{}'", config.display().to_string().replace('\'', r"'\''"));
    let mut exports = std::fs::OpenOptions::new()
        .append(true)
        .open(env_file)
        .map_err(AppError::io(format!("cannot append to {}", env_file.display())))?;
    let var = setting::CONFIG.env.unwrap_or_default();
    writeln!(exports, "export {var}={quoted}")
        .map_err(AppError::io(format!("cannot append to {}", env_file.display())))?;
    Ok(config)
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}
