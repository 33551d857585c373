//! `realitycheck init`: writes the starter configuration (the commented reference of every
//! key, with the answers filled in) and the realitycheck CircleCI project's config to push,
//! refusing to overwrite a file unless asked. On a terminal it asks for the answers and checks
//! them (`interview`); elsewhere the flags give them.

mod interview;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use realitycheck_config::{DEFAULT_FILE_NAME, Starter, registry, setting};

use crate::cli::InitArgs;
use crate::exit::AppError;

/// The variable the token is read from when the configuration names none.
const DEFAULT_TOKEN_ENV: &str = match setting::TOKEN.env {
    Some(var) => var,
    None => panic!("the token has a variable"),
};

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

/// The answers the flags give, each checked as the configuration will check it, and written
/// as the configuration reads it (a host normalised); the default token variable is not
/// written.
fn from_flags(args: &InitArgs) -> Result<Starter, AppError> {
    let mut starter = Starter::default();
    for setting in realitycheck_config::registry::all() {
        let (Some(given), Some(flag)) = (args.answers.flags.get(setting), setting.flag) else { continue };
        let value = setting
            .read(given)
            .map_err(|message| AppError::Usage(format!("{}: {message}\n  fix: {}", flag.name(), setting.fix)))?;
        let value = value.show();
        if !(registry::same(setting, &setting::TOKEN_ENV) && value == DEFAULT_TOKEN_ENV) {
            starter = starter.answer(setting, value);
        }
    }
    Ok(starter)
}

/// What to do after `init`: push the project, export the token, run.
fn next_steps(starter: &Starter, config: &Path, project: &Path, dir: &Path) -> String {
    let token_env = starter.get(&setting::TOKEN_ENV).unwrap_or(DEFAULT_TOKEN_ENV);
    let slug = starter.get(&setting::PROJECT).map(|slug| format!(" ({slug})")).unwrap_or_default();
    let mut steps = vec![format!(
        "push {} to the repository of the realitycheck project{slug} and set the project up in CircleCI (Projects > Set Up Project)",
        project.display()
    )];
    let mut missing: Vec<&str> = Vec::new();
    for wanted in [&setting::HOST, &setting::PROJECT] {
        if starter.get(wanted).is_none() {
            missing.push(wanted.key);
        }
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
