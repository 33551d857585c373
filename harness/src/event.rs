//! The typed event stream a run emits. Reporters consume it; the runner knows nothing
//! about output formats (the cargo-nextest model).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::check::{CheckSpec, Diagnosis, SkipReason};
use crate::observation::Observation;

/// What a run is about: shown in headers, JUnit properties and the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Name of the target (installation) in the configuration.
    pub target: String,
    /// Base URL of the installation, or what stands for it (a kube context).
    pub host: String,
    /// Name of the profile the run uses (`laptop`, `ci`, `health`).
    pub profile: String,
    /// When the run started. Not serialized: each report formats it itself.
    #[serde(skip)]
    pub started_at: SystemTime,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Passed on the first attempt.
    Passed {
        /// What the check saw ("3 of 3 clients ready").
        note: String,
    },
    /// Failed on every attempt, retries included.
    Failed {
        /// Why the last attempt failed.
        diagnosis: Diagnosis,
    },
    /// Did not run to a pass or a fail.
    Skipped {
        /// Why not.
        reason: SkipReason,
    },
    /// Passed on a retry after failing; the earlier failures are kept.
    Flaky {
        /// What the passing attempt saw.
        note: String,
        /// Why each earlier attempt failed, in order.
        failures: Vec<Diagnosis>,
    },
}

impl Outcome {
    /// The word reports print for the outcome: `PASS`, `FAIL`, `SKIP` or `FLAKY`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed { .. } => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Skipped { .. } => "SKIP",
            Outcome::Flaky { .. } => "FLAKY",
        }
    }

    /// Whether the check failed; one failure makes the run [`RunStatus::Failed`]. Skipped and
    /// flaky checks are not failures.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// How the check ended, without the details.
    pub fn status(&self) -> CheckStatus {
        match self {
            Outcome::Passed { .. } => CheckStatus::Passed,
            Outcome::Failed { .. } => CheckStatus::Failed,
            Outcome::Skipped { .. } => CheckStatus::Skipped,
            Outcome::Flaky { .. } => CheckStatus::Flaky,
        }
    }
}

/// How a check ended, without the details of its [`Outcome`]: what counts, the JSON report
/// and `serve`'s run records name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Passed at the first attempt.
    Passed,
    /// Passed after failing (the earlier failures are kept).
    Flaky,
    /// Failed.
    Failed,
    /// Did not run to a verdict (not applicable, not configured, blocked, interrupted).
    Skipped,
}

impl CheckStatus {
    /// The kebab-case name reports, the API and the status page use.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Flaky => "flaky",
            CheckStatus::Failed => "failed",
            CheckStatus::Skipped => "skipped",
        }
    }
}

/// How many checks ended each way; a flaky check counts as flaky, not as passed. Reports and
/// `serve` state it as it serialises.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed at the first attempt.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Did not run to a verdict.
    pub skipped: usize,
    /// Passed after failing.
    pub flaky: usize,
}

impl Counts {
    /// How many of `results` ended each way.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Counts {
        results.into_iter().map(|result| result.outcome.status()).collect()
    }
}

impl FromIterator<CheckStatus> for Counts {
    fn from_iter<I: IntoIterator<Item = CheckStatus>>(statuses: I) -> Counts {
        let mut counts = Counts::default();
        for status in statuses {
            let count = match status {
                CheckStatus::Passed => &mut counts.passed,
                CheckStatus::Failed => &mut counts.failed,
                CheckStatus::Skipped => &mut counts.skipped,
                CheckStatus::Flaky => &mut counts.flaky,
            };
            *count += 1;
        }
        counts
    }
}

/// How one selected check ended: sent as [`Event::CheckFinished`] and kept in the
/// [`RunSummary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check this result is about.
    pub spec: CheckSpec,
    /// How it ended.
    pub outcome: Outcome,
    /// From the start of the first attempt to the end, retry pauses included; zero when the
    /// check never started.
    pub duration: Duration,
    /// How many times the body ran (0 when it was skipped without running).
    pub attempts: u32,
    /// What the check's last attempt that ran recorded besides its verdict (an earlier
    /// attempt's observations are replaced by a retry's), kept whether that attempt passed,
    /// failed, timed out (what it recorded before), crashed or was interrupted; empty when the
    /// check never ran.
    pub observations: Vec<Observation>,
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

/// How a run ended: its status and the result of every selected check. The
/// [`Event::RunFinished`] event carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The overall verdict.
    pub status: RunStatus,
    /// One result per selected check, in the order the checks were planned.
    pub results: Vec<CheckResult>,
    /// From [`Event::RunStarted`] to [`Event::RunFinished`]; preparing the suite's resources
    /// and finishing them are not included.
    pub duration: Duration,
    /// What stopped the run early, if anything (preflight failure or interruption).
    pub stopped_because: Option<String>,
}

/// What happens during a run, in the order it happens. A run sends [`Event::RunStarted`]
/// first and [`Event::RunFinished`] last, whatever happens in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The run begins, once the suite's resources are prepared.
    RunStarted {
        /// What the run is about.
        info: RunInfo,
        /// Every selected check, in planned order, including those that will be skipped.
        checks: Vec<CheckSpec>,
    },
    /// A preflight passed.
    PreflightPassed {
        /// Which preflight.
        name: String,
        /// What it saw ("Kubernetes v1.32.4").
        note: String,
    },
    /// A preflight failed: every selected check is skipped, and the run ends.
    PreflightFailed {
        /// Which preflight.
        name: String,
        /// Why it failed, or that it did not answer in time.
        message: String,
    },
    /// A check got a concurrency slot and its first attempt begins.
    CheckStarted {
        /// The check's ID.
        id: String,
    },
    /// The check has been running longer than half its timeout.
    CheckSlow {
        /// The check's ID.
        id: String,
        /// How long the attempt has run so far.
        elapsed: Duration,
        /// The attempt's timeout.
        timeout: Duration,
    },
    /// An attempt failed and the check will run again.
    CheckRetrying {
        /// The check's ID.
        id: String,
        /// The number of the attempt to come; the first attempt is 1.
        next_attempt: u32,
        /// Why the attempt failed.
        failure: Diagnosis,
    },
    /// A check ended: it passed, failed, was skipped or was interrupted.
    CheckFinished(CheckResult),
    /// The run ended; always the last event.
    RunFinished(RunSummary),
}

/// Where a run sends its events. Cheap to clone; a dropped receiver is not an error (a
/// run without reporters still runs).
#[derive(Debug, Clone)]
pub struct EventSink(mpsc::UnboundedSender<Event>);

impl EventSink {
    /// A sink and the receiver its events arrive on, for a reporter to read.
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink(tx), rx)
    }

    /// Sends `event`; does nothing when nobody listens any more.
    pub fn emit(&self, event: Event) {
        // A closed receiver means nobody listens any more; the run goes on regardless.
        let _ = self.0.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tell_flaky_passes_from_passes() {
        let statuses = [CheckStatus::Passed, CheckStatus::Flaky, CheckStatus::Failed, CheckStatus::Flaky];
        let counts: Counts = statuses.into_iter().collect();
        assert_eq!(counts, Counts { passed: 1, failed: 1, skipped: 0, flaky: 2 });
        let flaky = Outcome::Flaky { note: "seen".into(), failures: Vec::new() };
        assert_eq!(flaky.status(), CheckStatus::Flaky);
        assert_eq!(CheckStatus::Skipped.as_str(), "skipped");
    }
}
