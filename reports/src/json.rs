//! The JSON report, for programs: a flat, versioned document whose every field is described
//! in `reports/schema/report-v3.schema.json`. Fields are only ever added within a schema
//! version; renaming or removing one makes a new version. Version 2 keeps every field of
//! version 1 and adds the causes of the failures: a `causes` list, which each failed check
//! refers to by its `cause`. Version 3 keeps every field of version 2 and adds the comparison
//! with a baseline (`run --baseline before.json`): a `baseline` section, null without one, and
//! each check's `baseline` mark (`report-v1.schema.json` and `report-v2.schema.json` stay for
//! readers of older reports). Each check carries the observations of its last attempt (what it
//! measured besides its verdict) when it recorded any.

use std::path::PathBuf;
use std::sync::Arc;

use harness::{
    CheckResult, Counts, Diagnosis, Event, Observation, Outcome, Phase, RunInfo, RunStatus, RunSummary, SkipReason,
};
use serde::Serialize;

use crate::baseline::{Baseline, Comparison, MarkCounts};
use crate::causes::{self, Cause};
use crate::file::ReportFile;
use crate::{ReportError, Reporter, run};

/// The value of the report's `schema_version` field.
pub const SCHEMA_VERSION: &str = "realitycheck.report/v3";

/// Writes the JSON report to a file when the run finishes.
#[derive(Debug)]
pub struct JsonReporter {
    file: ReportFile,
    baseline: Option<Arc<Baseline>>,
}

impl JsonReporter {
    /// A reporter that writes the JSON report to `path` (its missing directories are created).
    pub fn new(path: PathBuf) -> Self {
        JsonReporter { file: ReportFile::new(path, "JSON"), baseline: None }
    }

    /// Compares the run with `baseline`, if any: the report's `baseline` section and each check's mark.
    pub fn with_baseline(mut self, baseline: Option<Arc<Baseline>>) -> Self {
        self.baseline = baseline;
        self
    }
}

impl Reporter for JsonReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        let baseline = self.baseline.as_deref();
        self.file.handle(event, |info, summary| {
            let comparison = baseline.map(|baseline| baseline.compare(&summary.results));
            let mut json = serde_json::to_vec_pretty(&JsonReport::new(info, summary, comparison.as_ref()))?;
            json.push(b'\n');
            Ok(json)
        })
    }
}

/// The name the report gives a run's status (`preflight-failed`), which the exit code follows.
pub(crate) fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Passed => "passed",
        RunStatus::Failed => "failed",
        RunStatus::PreflightFailed => "preflight-failed",
        RunStatus::NothingSelected => "nothing-selected",
        RunStatus::Interrupted => "interrupted",
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: &'static str,
    target: &'a str,
    host: &'a str,
    profile: &'a str,
    started_at: String,
    duration_ms: u64,
    status: &'static str,
    stopped_because: Option<&'a str>,
    counts: Counts,
    checks: Vec<JsonCheck<'a>>,
    causes: Vec<JsonCause<'a>>,
    /// Null without `--baseline`.
    baseline: Option<JsonBaseline<'a>>,
}

/// The baseline a run was compared with, and what the comparison found.
#[derive(Serialize)]
struct JsonBaseline<'a> {
    file: &'a str,
    schema_version: &'a str,
    started_at: String,
    target: &'a str,
    host: &'a str,
    profile: &'a str,
    status: &'static str,
    counts: MarkCounts,
    not_in_this_run: &'a [&'a str],
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    id: &'a str,
    suite: &'a str,
    summary: &'a str,
    kind: &'static str,
    tags: Vec<&'static str>,
    status: &'static str,
    duration_ms: u64,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnosis: Option<JsonDiagnosis<'a>>,
    /// The `id` of the failed check's entry in `causes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<JsonSkipReason<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    earlier_failures: Option<Vec<JsonDiagnosis<'a>>>,
    /// Added within v1: absent when the check recorded none (the reports of earlier versions).
    #[serde(skip_serializing_if = "<[Observation]>::is_empty")]
    observations: &'a [Observation],
    /// Added in v3: the check's mark, with `--baseline` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonDiagnosis<'a> {
    summary: &'a str,
    observed: &'a [String],
    cause: &'a str,
    remediation: &'a str,
    phase: Option<&'a str>,
}

/// A cause of failures: one several checks share, or a failed check's own.
#[derive(Serialize)]
struct JsonCause<'a> {
    id: &'a str,
    summary: &'a str,
    observed: &'a [String],
    cause: &'a str,
    remediation: &'a str,
    phase: Option<&'a str>,
    checks: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonSkipReason<'a> {
    kind: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked_by: Option<&'a str>,
}

impl<'a> JsonReport<'a> {
    fn new(info: &'a RunInfo, summary: &'a RunSummary, comparison: Option<&'a Comparison<'a>>) -> Self {
        let causes = causes::of(&summary.results);
        JsonReport {
            schema_version: SCHEMA_VERSION,
            target: &info.target,
            host: &info.host,
            profile: &info.profile,
            started_at: run::rfc3339_millis(run::started_at_utc(info.started_at)),
            duration_ms: millis(summary.duration),
            status: run_status(summary.status),
            stopped_because: summary.stopped_because.as_deref(),
            counts: Counts::of(&summary.results),
            checks: summary
                .results
                .iter()
                .map(|result| {
                    let check =
                        JsonCheck::new(result, causes::of_check(&causes, &result.spec.id).map(|cause| cause.id));
                    let mark = comparison.map(|comparison| comparison.baseline().mark(result).as_str());
                    JsonCheck { baseline: mark, ..check }
                })
                .collect(),
            causes: causes.iter().map(JsonCause::new).collect(),
            baseline: comparison.map(JsonBaseline::new),
        }
    }
}

impl<'a> JsonBaseline<'a> {
    fn new(comparison: &'a Comparison<'a>) -> Self {
        let baseline = comparison.baseline();
        JsonBaseline {
            file: baseline.file(),
            schema_version: baseline.schema_version(),
            started_at: run::rfc3339_millis(baseline.started_at()),
            target: baseline.target(),
            host: baseline.host(),
            profile: baseline.profile(),
            status: run_status(baseline.status()),
            counts: comparison.counts(),
            not_in_this_run: comparison.not_in_this_run(),
        }
    }
}

impl<'a> JsonCheck<'a> {
    /// The entry of `result`; `cause` is the `id` of its failure's cause.
    fn new(result: &'a CheckResult, cause: Option<&'a str>) -> Self {
        let spec = &result.spec;
        let base = JsonCheck {
            id: &spec.id,
            suite: spec.suite(),
            summary: &spec.summary,
            kind: spec.kind.as_str(),
            tags: spec.tags.iter().map(|tag| tag.as_str()).collect(),
            status: result.outcome.status().as_str(),
            duration_ms: millis(result.duration),
            attempts: result.attempts,
            note: None,
            diagnosis: None,
            cause: None,
            skip_reason: None,
            earlier_failures: None,
            observations: &result.observations,
            baseline: None,
        };
        match &result.outcome {
            Outcome::Passed { note } => JsonCheck { note: Some(note), ..base },
            Outcome::Failed { diagnosis } => {
                JsonCheck { diagnosis: Some(JsonDiagnosis::new(diagnosis)), cause, ..base }
            }
            Outcome::Skipped { reason } => JsonCheck { skip_reason: Some(JsonSkipReason::new(reason)), ..base },
            Outcome::Flaky { note, failures } => JsonCheck {
                note: Some(note),
                earlier_failures: Some(failures.iter().map(JsonDiagnosis::new).collect()),
                ..base
            },
        }
    }
}

impl<'a> JsonDiagnosis<'a> {
    fn new(diagnosis: &'a Diagnosis) -> Self {
        JsonDiagnosis {
            summary: &diagnosis.summary,
            observed: &diagnosis.observed,
            cause: &diagnosis.cause,
            remediation: &diagnosis.remediation,
            phase: diagnosis.phase.map(Phase::label),
        }
    }
}

impl<'a> JsonCause<'a> {
    fn new(cause: &Cause<'a>) -> Self {
        let first = cause.first();
        JsonCause {
            id: cause.id,
            summary: cause.summary,
            observed: cause.evidence(),
            cause: &first.cause,
            remediation: &first.remediation,
            phase: first.phase.map(Phase::label),
            checks: cause.checks.iter().map(|(result, _)| result.spec.id.as_str()).collect(),
        }
    }
}

impl<'a> JsonSkipReason<'a> {
    fn new(reason: &'a SkipReason) -> Self {
        let (detail, blocked_by) = match reason {
            SkipReason::NotApplicable(detail)
            | SkipReason::NotConfigured(detail)
            | SkipReason::PreflightFailed { message: detail, .. }
            | SkipReason::Interrupted(detail) => (detail, None),
            SkipReason::Blocked { by, reason } => (reason, Some(by.as_str())),
        };
        JsonSkipReason { kind: reason.kind(), detail, blocked_by }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
