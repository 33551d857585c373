//! What `serve` keeps of one finished run: a [`RunRecord`], owned and serialisable, made from
//! the engine's [`harness::RunReport`] (or from the error that kept the run from starting). It
//! is what the history holds, what `--state-dir` writes as one JSON line, and what
//! `GET /api/v1/runs/{id}` answers. It holds what the reports hold (notes, diagnoses, skip
//! reasons), never a token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use harness::CheckStatus;
use harness::{CheckResult, Counts, Diagnosis, Observation, Outcome, RunReport, RunStatus};
use serde::{Deserialize, Serialize};

/// The value of a record's `schema_version` field (the API's run documents and the state
/// dir's lines). Fields are only ever added within a version.
pub const RUN_SCHEMA_VERSION: &str = "realitycheck.run/v1";

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Its turn in the schedule came.
    Schedule,
    /// `POST /api/v1/runs` asked for it.
    Request,
}

/// How a run ended, as metrics (`realitycheck_runs_total{result}`) and the API name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    /// Every selected check passed (skips and flaky passes allowed).
    Passed,
    /// At least one check failed.
    Failed,
    /// A preflight failed (unreachable, TLS, token): no check ran.
    PreflightFailed,
    /// The profile and filters left no check to run.
    NothingSelected,
    /// The global deadline or a shutdown stopped the run.
    Interrupted,
    /// The run could not start: its resources could not be prepared (the error says why).
    Error,
}

impl RunResult {
    /// Every result, in the order metrics list them.
    pub const ALL: [RunResult; 6] = [
        RunResult::Passed,
        RunResult::Failed,
        RunResult::PreflightFailed,
        RunResult::NothingSelected,
        RunResult::Interrupted,
        RunResult::Error,
    ];

    /// The kebab-case name the API, the metrics and the page use.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
            RunResult::PreflightFailed => "preflight-failed",
            RunResult::NothingSelected => "nothing-selected",
            RunResult::Interrupted => "interrupted",
            RunResult::Error => "error",
        }
    }

    fn of(status: RunStatus) -> RunResult {
        match status {
            RunStatus::Passed => RunResult::Passed,
            RunStatus::Failed => RunResult::Failed,
            RunStatus::PreflightFailed => RunResult::PreflightFailed,
            RunStatus::NothingSelected => RunResult::NothingSelected,
            RunStatus::Interrupted => RunResult::Interrupted,
        }
    }
}

/// Why a check failed, owned: the engine's [`Diagnosis`] with its phase as a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisRecord {
    /// One line: what is wrong.
    pub summary: String,
    /// What was seen, one fact per line.
    pub observed: Vec<String>,
    /// The likely cause.
    pub cause: String,
    /// What to do.
    pub remediation: String,
    /// The part of the installation the fix belongs to.
    pub phase: Option<String>,
}

impl From<&Diagnosis> for DiagnosisRecord {
    fn from(diagnosis: &Diagnosis) -> Self {
        DiagnosisRecord {
            summary: diagnosis.summary.clone(),
            observed: diagnosis.observed.clone(),
            cause: diagnosis.cause.clone(),
            remediation: diagnosis.remediation.clone(),
            phase: diagnosis.phase.map(|phase| phase.label().to_string()),
        }
    }
}

/// How one check ended in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The check's stable ID (`nomad::clients_ready`).
    pub id: String,
    /// One line: what the check verifies.
    pub summary: String,
    /// How it ended.
    pub status: CheckStatus,
    /// From the start of its first attempt to its end.
    pub duration_ms: u64,
    /// How many times its body ran.
    pub attempts: u32,
    /// What a pass saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why it failed (for a flaky pass: why its last failed attempt failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<DiagnosisRecord>,
    /// Why it did not run to a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// What its last attempt measured besides its verdict (certificate expiries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<ObservationRecord>,
}

/// A number a check measured besides its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// What was measured (`certificate_expiry_timestamp_seconds`).
    pub name: String,
    /// What it was measured of (`nomad-mtls cert.pem`).
    pub subject: String,
    /// The value.
    pub value: i64,
}

impl From<&Observation> for ObservationRecord {
    fn from(observation: &Observation) -> Self {
        ObservationRecord {
            name: observation.name.clone(),
            subject: observation.subject.clone(),
            value: observation.value,
        }
    }
}

/// The name of the observation that carries a certificate's notAfter, in Unix seconds.
pub const CERTIFICATE_EXPIRY: &str = "certificate_expiry_timestamp_seconds";

/// The name of the observation of how long a job waited from queued to started, in seconds;
/// its subject is the executor (`docker`, `machine`).
pub const JOB_WAIT: &str = "job_wait_seconds";

/// The name of the observation of how long a job ran from started to stopped, in seconds; its
/// subject is the executor.
pub const JOB_RUN: &str = "job_run_seconds";

impl CheckRecord {
    /// The suite of the check: its ID up to `::`.
    pub fn suite(&self) -> &str {
        self.id.split_once("::").map_or(&self.id, |(suite, _)| suite)
    }

    fn of(result: &CheckResult) -> CheckRecord {
        let (note, diagnosis, skip_reason) = match &result.outcome {
            Outcome::Passed { note } => (Some(note.clone()), None, None),
            Outcome::Flaky { note, failures } => (Some(note.clone()), failures.last().map(DiagnosisRecord::from), None),
            Outcome::Failed { diagnosis } => (None, Some(diagnosis.into()), None),
            Outcome::Skipped { reason } => (None, None, Some(reason.to_string())),
        };
        CheckRecord {
            id: result.spec.id.clone(),
            summary: result.spec.summary.clone(),
            status: result.outcome.status(),
            duration_ms: millis(result.duration),
            attempts: result.attempts,
            note,
            diagnosis,
            skip_reason,
            observations: result.observations.iter().map(ObservationRecord::from).collect(),
        }
    }
}

/// One finished run of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always [`RUN_SCHEMA_VERSION`].
    pub schema_version: String,
    /// Unique among the runs `serve` keeps (all targets), increasing with time.
    pub id: u64,
    /// The target's name.
    pub target: String,
    /// What started it.
    pub trigger: Trigger,
    /// The profile it ran (empty in records of versions that did not keep it).
    #[serde(default)]
    pub profile: String,
    /// A run of the target's canary, on the canary's own interval, rather than of the scheduled
    /// profile: its checks' state is the canary's, apart from the scheduled runs'.
    #[serde(default)]
    pub canary: bool,
    /// When it started, Unix milliseconds.
    pub started_at_ms: u64,
    /// How long it took, preparation and finish included.
    pub duration_ms: u64,
    /// How it ended.
    pub result: RunResult,
    /// It took longer than the interval between two runs; the next one started late.
    #[serde(default)]
    pub overran: bool,
    /// What stopped it early (a preflight, the deadline, a shutdown), or why it could not
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_because: Option<String>,
    /// What the run did when it ended (workflows cancelled), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finish_notes: Vec<String>,
    /// Every selected check, in report order.
    pub checks: Vec<CheckRecord>,
}

/// How a run went, as the engine hands it over: its report, or why it could not start.
pub type RunOutcome<'a> = Result<&'a RunReport, String>;

/// The when and why of a run, besides its outcome.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The record's ID.
    pub id: u64,
    /// The target's name.
    pub target: String,
    /// What started it.
    pub trigger: Trigger,
    /// The profile it ran.
    pub profile: String,
    /// Whether it is the target's canary.
    pub canary: bool,
    /// When it started (wall clock).
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// The interval between its target's runs of its kind (scheduled or canary), to tell an
    /// overrun.
    pub interval: Duration,
}

impl RunRecord {
    /// The record of a run that ended with `outcome`.
    pub fn new(meta: RunMeta, outcome: RunOutcome<'_>) -> RunRecord {
        let (result, stopped_because, finish_notes, checks) = match outcome {
            Ok(report) => (
                RunResult::of(report.summary.status),
                report.summary.stopped_because.clone(),
                report.finish_notes.clone(),
                report.summary.results.iter().map(CheckRecord::of).collect(),
            ),
            Err(error) => (RunResult::Error, Some(error), Vec::new(), Vec::new()),
        };
        RunRecord {
            schema_version: RUN_SCHEMA_VERSION.to_string(),
            id: meta.id,
            target: meta.target,
            trigger: meta.trigger,
            profile: meta.profile,
            canary: meta.canary,
            started_at_ms: unix_millis(meta.started_at),
            duration_ms: millis(meta.duration),
            result,
            overran: meta.duration > meta.interval,
            stopped_because,
            finish_notes,
            checks,
        }
    }

    /// When the run ended, Unix milliseconds.
    pub fn finished_at_ms(&self) -> u64 {
        self.started_at_ms.saturating_add(self.duration_ms)
    }

    /// How many of its checks ended each way.
    pub fn counts(&self) -> Counts {
        self.checks.iter().map(|check| check.status).collect()
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
