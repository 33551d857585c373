//! `realitycheck init`: writes the starter configuration (the commented reference of every
//! key, with the answers filled in) and the realitycheck CircleCI project's config to push,
//! refusing to overwrite a file unless asked. On a terminal it asks for the answers and checks
//! them (`interview`); elsewhere the flags give them.

mod interview;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use realitycheck_config::{
    DEFAULT_FILE_NAME, Starter, check_namespace, check_project, check_runner_resource_class, check_token_env,
    display_host, normalise_host,
};

use crate::cli::InitArgs;
use crate::exit::AppError;

/// The variable the token is read from when the configuration names none.
const DEFAULT_TOKEN_ENV: &str = "CIRCLE_TOKEN";
/// The namespace of the release when the configuration names none.
const DEFAULT_NAMESPACE: &str = "circleci-server";

/// What to do about a bad value of each answer, for the flags and the questions alike.
const HOST_FIX: &str = "give the base URL with its protocol, like https://circleci.example.com";
const TOKEN_ENV_FIX: &str =
    "give the name of the environment variable that holds the API token, like CIRCLE_TOKEN or PROD_CIRCLE_TOKEN";
const NAMESPACE_FIX: &str =
    "give the namespace of the CircleCI server release, like circleci-server (`kubectl get namespaces` lists them)";
const PROJECT_FIX: &str = "give the project slug as vcs/org/repo, like gh/example-org/realitycheck";
const RUNNER_FIX: &str = "give the runner resource class as namespace/name, like example-org/linux-runner";

pub async fn init(args: &InitArgs) -> Result<ExitCode, AppError> {
    let config = args.dir.join(DEFAULT_FILE_NAME);
    let project = args.dir.join(realitycheck_project::CONFIG_PATH);
    // Refuse before asking or writing anything, so that a refusal leaves the directory as it was.
    if let Some(existing) = [&config, &project].into_iter().find(|path| path.exists() && !args.force) {
        return Err(AppError::Usage(format!(
            "{} exists; pass --force to overwrite it, or --dir to write elsewhere",
            existing.display()
        )));
    }
    let interactive = !args.no_input && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let starter = if interactive { interview::interview(args, &config).await? } else { from_flags(args)? };
    for (path, text) in [(&config, starter.render()), (&project, realitycheck_project::CONFIG_YML.to_string())] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(AppError::io(format!("cannot create {}", parent.display())))?;
        }
        std::fs::write(path, text).map_err(AppError::io(format!("cannot write {}", path.display())))?;
        println!("wrote {}", path.display());
    }
    print!("{}", next_steps(&starter, &config, &project, &args.dir));
    Ok(ExitCode::SUCCESS)
}

/// The answers the flags give, each checked as the configuration will check it.
fn from_flags(args: &InitArgs) -> Result<Starter, AppError> {
    let refuse = |flag: &str, message: String, fix: &str| AppError::Usage(format!("--{flag}: {message}\n  fix: {fix}"));
    let host = args
        .host
        .as_deref()
        .map(|host| normalise_host(host).map(|url| display_host(&url)).map_err(|m| refuse("host", m, HOST_FIX)))
        .transpose()?;
    if let Some(name) = &args.token_env {
        check_token_env(name).map_err(|m| refuse("token-env", m, TOKEN_ENV_FIX))?;
    }
    if let Some(namespace) = &args.namespace {
        check_namespace(namespace).map_err(|m| refuse("namespace", m, NAMESPACE_FIX))?;
    }
    if let Some(project) = &args.project {
        check_project(project).map_err(|m| refuse("project", m, PROJECT_FIX))?;
    }
    if let Some(class) = &args.runner_resource_class {
        check_runner_resource_class(class).map_err(|m| refuse("runner-resource-class", m, RUNNER_FIX))?;
    }
    if args.kube_context.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(refuse("kube-context", "the context is empty".into(), "give the name of a kubeconfig context"));
    }
    Ok(Starter {
        host,
        token_env: args.token_env.clone().filter(|name| name != DEFAULT_TOKEN_ENV),
        project: args.project.clone(),
        kube_context: args.kube_context.clone(),
        namespace: args.namespace.clone(),
        runner_resource_class: args.runner_resource_class.clone(),
    })
}

/// What to do after `init`: push the project, export the token, run.
fn next_steps(starter: &Starter, config: &Path, project: &Path, dir: &Path) -> String {
    let token_env = starter.token_env.as_deref().unwrap_or(DEFAULT_TOKEN_ENV);
    let slug = starter.project.as_deref().map(|slug| format!(" ({slug})")).unwrap_or_default();
    let mut steps = vec![format!(
        "push {} to the repository of the realitycheck project{slug} and set the project up in CircleCI (Projects > Set Up Project)",
        project.display()
    )];
    let mut missing: Vec<&str> = Vec::new();
    if starter.host.is_none() {
        missing.push("host");
    }
    if starter.project.is_none() {
        missing.push("project");
    }
    missing.push("cloud_provider (aws, gcp or other: the machine, Arm and remote docker jobs)");
    steps.push(format!("set {} in {}", missing.join(", "), config.display()));
    steps.push(format!(
        "export {token_env}=<a personal API token>   (the token is never written to {DEFAULT_FILE_NAME})"
    ));
    let flag = if dir == Path::new(".") { String::new() } else { format!(" --config {}", config.display()) };
    steps.push(format!(
        "realitycheck config check{flag}   (the settings, and where each comes from), then realitycheck run{flag}"
    ));
    let mut text = String::from("\nnext steps:\n");
    for (number, step) in steps.iter().enumerate() {
        text.push_str(&format!("  {}. {step}\n", number + 1));
    }
    text
}
