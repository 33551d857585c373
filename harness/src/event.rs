//! The typed event stream a run emits. Reporters consume it; the runner knows nothing
//! about output formats (the cargo-nextest model).

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::check::{CheckSpec, Diagnosis, SkipReason};

/// What a run is about: shown in headers, JUnit properties and the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Name of the target (installation) in the configuration.
    pub target: String,
    /// Base URL of the installation, or what stands for it (a kube context).
    pub host: String,
    pub profile: String,
    #[serde(skip)]
    pub started_at: SystemTime,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Passed {
        note: String,
    },
    Failed {
        diagnosis: Diagnosis,
    },
    Skipped {
        reason: SkipReason,
    },
    /// Passed on a retry after failing; the earlier failures are kept.
    Flaky {
        note: String,
        failures: Vec<Diagnosis>,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed { .. } => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Skipped { .. } => "SKIP",
            Outcome::Flaky { .. } => "FLAKY",
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub spec: CheckSpec,
    pub outcome: Outcome,
    pub duration: Duration,
    /// How many times the body ran (0 when it was skipped without running).
    pub attempts: u32,
}

/// The overall verdict of a run; the binary maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every selected check passed (skips and flaky passes allowed).
    Passed,
    /// At least one check failed.
    Failed,
    /// A preflight failed; every check was skipped with its reason.
    PreflightFailed,
    /// The filter selected no check.
    NothingSelected,
    /// A signal or the global deadline stopped the run.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub status: RunStatus,
    /// One result per selected check, in the order the checks were planned.
    pub results: Vec<CheckResult>,
    pub duration: Duration,
    /// What stopped the run early, if anything (preflight failure or interruption).
    pub stopped_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    RunStarted {
        info: RunInfo,
        checks: Vec<CheckSpec>,
    },
    PreflightPassed {
        name: String,
        note: String,
    },
    PreflightFailed {
        name: String,
        message: String,
    },
    CheckStarted {
        id: String,
    },
    /// The check has been running longer than half its timeout.
    CheckSlow {
        id: String,
        elapsed: Duration,
        timeout: Duration,
    },
    /// An attempt failed and the check will run again.
    CheckRetrying {
        id: String,
        next_attempt: u32,
        failure: Diagnosis,
    },
    CheckFinished(CheckResult),
    RunFinished(RunSummary),
}

/// Where a run sends its events. Cheap to clone; a dropped receiver is not an error (a
/// run without reporters still runs).
#[derive(Debug, Clone)]
pub struct EventSink(mpsc::UnboundedSender<Event>);

impl EventSink {
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink(tx), rx)
    }

    pub fn emit(&self, event: Event) {
        // A closed receiver means nobody listens any more; the run goes on regardless.
        let _ = self.0.send(event);
    }
}
