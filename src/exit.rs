//! The one mapping from outcomes and errors to exit codes (the README's exit-code table).

use std::process::ExitCode;

use harness::RunStatus;
use suites::capacity::CapacityError;

/// Everything that ends a command before or instead of a verdict.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] realitycheck_config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Report(#[from] reports::ReportError),
    /// `--baseline` names no JSON report that can be compared with.
    #[error(transparent)]
    Baseline(#[from] reports::BaselineError),
    /// The run's resources cannot be prepared (the API client's CA bundle, its token).
    #[error(transparent)]
    Prepare(#[from] suites::clients::circleci::ApiClientError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// A capacity measurement could not be made or finished (boxed: it is the largest).
    #[error(transparent)]
    Capacity(Box<CapacityError>),
}

impl From<CapacityError> for AppError {
    fn from(error: CapacityError) -> AppError {
        AppError::Capacity(Box::new(error))
    }
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

/// The code of a run that ended with `status`. `new_reds` is given with
/// `--fail-on-new-red-only`: how many checks are red that were not red in the baseline; a
/// failed run without any (every red one was red before) passes. Every other status keeps its
/// code.
pub fn for_run(status: RunStatus, new_reds: Option<usize>) -> u8 {
    match (status, new_reds) {
        (RunStatus::Passed, _) => PASSED,
        (RunStatus::Failed, Some(0)) => PASSED,
        (RunStatus::Failed, Some(_) | None) => FAILED,
        (RunStatus::PreflightFailed, _) => PREFLIGHT,
        (RunStatus::NothingSelected, _) => NOTHING_SELECTED,
        (RunStatus::Interrupted, _) => INTERRUPTED,
    }
}

pub fn for_error(error: &AppError) -> ExitCode {
    ExitCode::from(match error {
        AppError::Config(_)
        | AppError::Usage(_)
        | AppError::Report(_)
        | AppError::Baseline(_)
        | AppError::Prepare(_)
        | AppError::Io { .. } => USAGE,
        AppError::Capacity(error) => match error.as_ref() {
            CapacityError::NotConfigured { .. } | CapacityError::TooMany { .. } | CapacityError::Client(_) => USAGE,
            CapacityError::Trigger { .. } => PREFLIGHT,
            CapacityError::PipelineErrored { .. } | CapacityError::NoWorkflow { .. } | CapacityError::Api { .. } => {
                FAILED
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_reds_fail_a_run_that_asks_so_and_every_other_status_keeps_its_code() {
        let statuses = [
            (RunStatus::Passed, PASSED),
            (RunStatus::Failed, FAILED),
            (RunStatus::PreflightFailed, PREFLIGHT),
            (RunStatus::NothingSelected, NOTHING_SELECTED),
            (RunStatus::Interrupted, INTERRUPTED),
        ];
        for (status, code) in statuses {
            assert_eq!(for_run(status, None), code, "{status:?}");
            assert_eq!(for_run(status, Some(2)), code, "{status:?} with new reds");
        }
        assert_eq!(for_run(RunStatus::Failed, Some(0)), PASSED, "still red alone");
        for status in [RunStatus::PreflightFailed, RunStatus::NothingSelected, RunStatus::Interrupted] {
            assert_eq!(for_run(status, Some(0)), for_run(status, None), "{status:?} keeps its code");
        }
    }
}
