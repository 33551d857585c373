//! `realitycheck init`: writes the starter configuration (the commented reference of every
//! key) and the realitycheck CircleCI project's config to push, refusing to overwrite a
//! file unless asked.

use std::process::ExitCode;

use realitycheck_config::{DEFAULT_FILE_NAME, REFERENCE_CONFIG};

use crate::cli::InitArgs;
use crate::exit::AppError;

pub fn init(args: &InitArgs) -> Result<ExitCode, AppError> {
    let files =
        [(DEFAULT_FILE_NAME, REFERENCE_CONFIG), (realitycheck_project::CONFIG_PATH, realitycheck_project::CONFIG_YML)];
    let targets: Vec<_> = files.iter().map(|(name, text)| (args.dir.join(name), *text)).collect();
    // Refuse before writing anything, so that a refusal leaves the directory as it was.
    if let Some((existing, _)) = targets.iter().find(|(path, _)| path.exists() && !args.force) {
        return Err(AppError::Usage(format!(
            "{} exists; pass --force to overwrite it, or --dir to write elsewhere",
            existing.display()
        )));
    }
    for (path, text) in &targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(AppError::io(format!("cannot create {}", parent.display())))?;
        }
        std::fs::write(path, text).map_err(AppError::io(format!("cannot write {}", path.display())))?;
        println!("wrote {}", path.display());
    }
    println!(
        "next: set host, cloud_provider and project in {DEFAULT_FILE_NAME}, export CIRCLE_TOKEN, then `realitycheck run`"
    );
    println!(
        "      push {} to the repository of the realitycheck project and set the project up in CircleCI",
        realitycheck_project::CONFIG_PATH
    );
    Ok(ExitCode::SUCCESS)
}
