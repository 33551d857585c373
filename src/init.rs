//! `realitycheck init`: writes the starter configuration, the commented reference of
//! every key, refusing to overwrite a file unless asked.

use std::process::ExitCode;

use realitycheck_config::{DEFAULT_FILE_NAME, REFERENCE_CONFIG};

use crate::cli::InitArgs;
use crate::exit::AppError;

pub fn init(args: &InitArgs) -> Result<ExitCode, AppError> {
    std::fs::create_dir_all(&args.dir).map_err(AppError::io(format!("cannot create {}", args.dir.display())))?;
    let path = args.dir.join(DEFAULT_FILE_NAME);
    if path.exists() && !args.force {
        return Err(AppError::Usage(format!(
            "{} exists; pass --force to overwrite it, or --dir to write elsewhere",
            path.display()
        )));
    }
    std::fs::write(&path, REFERENCE_CONFIG).map_err(AppError::io(format!("cannot write {}", path.display())))?;
    println!("wrote {}", path.display());
    println!("next: set host, cloud_provider and project in it, export CIRCLE_TOKEN, then `realitycheck run`");
    Ok(ExitCode::SUCCESS)
}
