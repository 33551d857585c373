//! The one mapping from outcomes and errors to exit codes (the README's exit-code table).

use std::process::ExitCode;

use harness::RunStatus;

/// Everything that ends a command before or instead of a verdict.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] realitycheck_config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Report(#[from] reports::ReportError),
    /// The run's resources cannot be prepared (the API client's CA bundle, its token).
    #[error(transparent)]
    Prepare(#[from] suites::clients::circleci::ApiClientError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl AppError {
    /// Maps an I/O error to one that says what was being done: `.map_err(AppError::io(..))`.
    pub fn io(what: String) -> impl FnOnce(std::io::Error) -> AppError {
        move |source| AppError::Io { what, source }
    }
}

pub const PASSED: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const PREFLIGHT: u8 = 3;
pub const NOTHING_SELECTED: u8 = 4;
pub const INTERRUPTED: u8 = 130;

pub fn for_status(status: RunStatus) -> ExitCode {
    ExitCode::from(match status {
        RunStatus::Passed => PASSED,
        RunStatus::Failed => FAILED,
        RunStatus::PreflightFailed => PREFLIGHT,
        RunStatus::NothingSelected => NOTHING_SELECTED,
        RunStatus::Interrupted => INTERRUPTED,
    })
}

pub fn for_error(error: &AppError) -> ExitCode {
    ExitCode::from(match error {
        AppError::Config(_) | AppError::Usage(_) | AppError::Report(_) | AppError::Prepare(_) | AppError::Io { .. } => {
            USAGE
        }
    })
}
