//! What `serve` knows of each target, built from the runs it recorded: the bounded history,
//! each check's current state (since when, how many failures in a row, the last success),
//! counts of runs by result, the run in progress and the next one. Applying a run returns the
//! changes of checks' states, which the webhook announces. A canary's run goes to the
//! target's [`CanaryState`] instead, with its own history and checks' states, so that it
//! never changes what the scheduled runs found. Pure data: the scheduler owns the clock and
//! the runs, the HTTP layer reads snapshots.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::canary::CanaryState;
use crate::record::{CERTIFICATE_EXPIRY, CheckRecord, CheckStatus, DiagnosisRecord, RunRecord, RunResult, Trigger};
use crate::webhook::Outcome;

/// Whether a check works, as notifications and the page see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Its last verdict was a pass (or a flaky pass).
    Passing,
    /// Its last verdict was a failure.
    Failing,
}

impl Health {
    fn of(status: CheckStatus) -> Option<Health> {
        match status {
            CheckStatus::Passed | CheckStatus::Flaky => Some(Health::Passing),
            CheckStatus::Failed => Some(Health::Failing),
            CheckStatus::Skipped => None,
        }
    }

    /// `passing` or `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Passing => "passing",
            Health::Failing => "failing",
        }
    }
}

/// What one check of a target did lately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckState {
    /// The check's ID.
    pub id: String,
    /// How it ended in the last run that selected it.
    pub status: CheckStatus,
    /// Its last verdict (a skip leaves it as it was); `None` before any verdict.
    pub health: Option<Health>,
    /// When `health` became what it is, Unix milliseconds.
    pub since_ms: Option<u64>,
    /// How long it took in its last run.
    pub duration_ms: u64,
    /// When its last run ended, Unix milliseconds.
    pub last_run_ms: u64,
    /// When it last passed, Unix milliseconds.
    pub last_success_ms: Option<u64>,
    /// Failures in a row up to its last verdict.
    pub consecutive_failures: u32,
    /// The run whose record holds its latest result.
    pub run_id: u64,
}

/// A check whose health changed: what a webhook announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The target's name.
    pub target: String,
    /// The check's ID.
    pub check: String,
    /// Its health before; `None` for a check seen failing at its first verdict.
    pub from: Option<Health>,
    /// Its health now.
    pub to: Health,
    /// The run that saw it.
    pub run_id: u64,
    /// When that run ended, Unix milliseconds.
    pub at_ms: u64,
    /// Why it fails, for a change to failing.
    pub diagnosis: Option<DiagnosisRecord>,
    /// What the passing run saw, for a change to passing.
    pub note: Option<String>,
    /// The check is one of the target's canary, whose state is apart from the scheduled runs'.
    pub canary: bool,
}

/// What became of a target's webhook notifications, counted since `serve` started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    /// Delivered (after retries, if any).
    pub delivered: u64,
    /// Not delivered after every retry.
    pub failed: u64,
    /// Dropped undelivered: a newer notification of the same check superseded them.
    pub superseded: u64,
    /// Dropped undelivered: the oldest waiting when the outbox was full.
    pub queue_full: u64,
}

impl WebhookCounts {
    /// Counts one notification's outcome.
    pub fn count(&mut self, outcome: Outcome) {
        *match outcome {
            Outcome::Delivered => &mut self.delivered,
            Outcome::Failed => &mut self.failed,
            Outcome::Superseded => &mut self.superseded,
            Outcome::QueueFull => &mut self.queue_full,
        } += 1;
    }
}

/// The run of a target going on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Running {
    /// The ID its record will have.
    pub id: u64,
    /// What started it.
    pub trigger: Trigger,
    /// It is the target's canary.
    pub canary: bool,
    /// When it started, Unix milliseconds.
    pub started_at_ms: u64,
}

/// A certificate expiry a check reported: what `realitycheck_certificate_expiry_timestamp_seconds`
/// exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateExpiry {
    /// The check that read it.
    pub check: String,
    /// Which certificate (`nomad-mtls cert.pem`, the installation's URL).
    pub certificate: String,
    /// Its notAfter, Unix seconds.
    pub expires_at: i64,
}

/// Everything `serve` knows of one target.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// The target's name.
    pub name: String,
    /// Its host (or what stands for it), for the page.
    pub host: String,
    /// The profile its runs use.
    pub profile: String,
    /// Time between the starts of two runs.
    pub interval: Duration,
    /// At most this many runs are kept.
    pub capacity: usize,
    /// The last runs, oldest first.
    pub history: VecDeque<Arc<RunRecord>>,
    /// Each check's state, by ID.
    pub checks: BTreeMap<String, CheckState>,
    /// Runs counted by result since `serve` started (restored runs included).
    pub runs_by_result: BTreeMap<RunResult, u64>,
    /// Runs that took longer than the interval.
    pub overruns: u64,
    /// When the last passed run ended, Unix milliseconds.
    pub last_passed_ms: Option<u64>,
    /// The run going on now.
    pub running: Option<Running>,
    /// When the next scheduled run starts, Unix milliseconds.
    pub next_run_ms: Option<u64>,
    /// Certificate expiries the last run that read them reported, by (check, certificate).
    pub certificates: BTreeMap<(String, String), i64>,
    /// What became of the target's webhook notifications.
    pub webhooks: WebhookCounts,
    /// What the target's canary found, apart from the scheduled runs.
    pub canary: CanaryState,
}

impl TargetState {
    /// A target nothing has run against yet.
    pub fn new(name: &str, host: &str, profile: &str, interval: Duration, capacity: usize) -> TargetState {
        TargetState {
            name: name.to_string(),
            host: host.to_string(),
            profile: profile.to_string(),
            interval,
            capacity: capacity.max(1),
            history: VecDeque::new(),
            checks: BTreeMap::new(),
            runs_by_result: BTreeMap::new(),
            overruns: 0,
            last_passed_ms: None,
            running: None,
            next_run_ms: None,
            certificates: BTreeMap::new(),
            webhooks: WebhookCounts::default(),
            canary: CanaryState::default(),
        }
    }

    /// The last finished run.
    pub fn last_run(&self) -> Option<&Arc<RunRecord>> {
        self.history.back()
    }

    /// Takes a finished run into account and returns the checks whose health it changed. A
    /// run that could not start, or that was interrupted, changes no check's health: it says
    /// nothing about the installation (its skipped checks keep their state). A canary's run
    /// changes the canary's state only.
    pub fn apply(&mut self, record: Arc<RunRecord>) -> Vec<Transition> {
        if record.canary {
            return self.canary.apply(&self.name, record, self.capacity);
        }
        *self.runs_by_result.entry(record.result).or_default() += 1;
        if record.overran {
            self.overruns += 1;
        }
        let ended = record.finished_at_ms();
        if record.result == RunResult::Passed {
            self.last_passed_ms = Some(ended);
        }
        let mut transitions = Vec::new();
        for check in &record.checks {
            let expiries = check
                .observations
                .iter()
                .filter(|observation| observation.name == CERTIFICATE_EXPIRY)
                .map(|observation| (observation.subject.clone(), observation.value))
                .collect();
            self.set_certificates(&check.id, expiries);
            if let Some(transition) = apply_check(&mut self.checks, &self.name, &record, check, ended) {
                transitions.push(transition);
            }
        }
        self.history.push_back(record);
        while self.history.len() > self.capacity {
            self.history.pop_front();
        }
        transitions
    }

    /// Replaces the certificate expiries `check` reported (a run that read none keeps the last).
    pub fn set_certificates(&mut self, check: &str, expiries: Vec<(String, i64)>) {
        if expiries.is_empty() {
            return;
        }
        self.certificates.retain(|(owner, _), _| owner != check);
        for (certificate, expires_at) in expiries {
            self.certificates.insert((check.to_string(), certificate), expires_at);
        }
    }

    /// The certificate expiries, in (check, certificate) order.
    pub fn certificate_expiries(&self) -> Vec<CertificateExpiry> {
        self.certificates
            .iter()
            .map(|((check, certificate), expires_at)| CertificateExpiry {
                check: check.clone(),
                certificate: certificate.clone(),
                expires_at: *expires_at,
            })
            .collect()
    }

    /// A run by its ID, if still kept (the canary's too).
    pub fn run(&self, id: u64) -> Option<&Arc<RunRecord>> {
        self.history.iter().chain(&self.canary.history).find(|record| record.id == id)
    }
}

/// Takes `check` of `record` (a run of `target` that ended at `ended`) into the checks' states
/// `checks`; returns the change of its health, if it is news.
pub(crate) fn apply_check(
    checks: &mut BTreeMap<String, CheckState>,
    target: &str,
    record: &RunRecord,
    check: &CheckRecord,
    ended: u64,
) -> Option<Transition> {
    let state = checks.entry(check.id.clone()).or_insert_with(|| CheckState {
        id: check.id.clone(),
        status: check.status,
        health: None,
        since_ms: None,
        duration_ms: 0,
        last_run_ms: ended,
        last_success_ms: None,
        consecutive_failures: 0,
        run_id: record.id,
    });
    state.status = check.status;
    state.run_id = record.id;
    let health = Health::of(check.status)?;
    state.duration_ms = check.duration_ms;
    state.last_run_ms = ended;
    match health {
        Health::Passing => {
            state.last_success_ms = Some(ended);
            state.consecutive_failures = 0;
        }
        Health::Failing => state.consecutive_failures += 1,
    }
    let before = state.health.replace(health);
    if before == Some(health) {
        return None;
    }
    state.since_ms = Some(ended);
    // A check first seen passing is no news; one first seen failing is.
    if before.is_none() && health == Health::Passing {
        return None;
    }
    Some(Transition {
        target: target.to_string(),
        check: check.id.clone(),
        from: before,
        to: health,
        run_id: record.id,
        at_ms: ended,
        diagnosis: check.diagnosis.clone().filter(|_| health == Health::Failing),
        note: check.note.clone().filter(|_| health == Health::Passing),
        canary: record.canary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RUN_SCHEMA_VERSION, Trigger};

    fn check(id: &str, status: CheckStatus) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            summary: "s".into(),
            status,
            duration_ms: 5,
            attempts: 1,
            note: (status == CheckStatus::Passed).then(|| "ok".into()),
            diagnosis: (status == CheckStatus::Failed).then(|| DiagnosisRecord {
                summary: "broken".into(),
                observed: vec![],
                cause: "c".into(),
                remediation: "r".into(),
                phase: None,
            }),
            skip_reason: (status == CheckStatus::Skipped).then(|| "not configured".into()),
            observations: vec![],
        }
    }

    fn run(id: u64, result: RunResult, checks: Vec<CheckRecord>) -> Arc<RunRecord> {
        Arc::new(RunRecord {
            schema_version: RUN_SCHEMA_VERSION.into(),
            id,
            target: "prod".into(),
            trigger: Trigger::Schedule,
            profile: "health".into(),
            canary: false,
            started_at_ms: id * 1000,
            duration_ms: 100,
            result,
            overran: false,
            stopped_because: None,
            finish_notes: vec![],
            checks,
        })
    }

    fn target() -> TargetState {
        TargetState::new("prod", "https://circleci.example.com", "health", Duration::from_secs(60), 3)
    }

    #[test]
    fn a_change_of_health_is_a_transition_and_a_repeat_is_not() {
        let mut state = target();
        let first = state.apply(run(1, RunResult::Passed, vec![check("a::x", CheckStatus::Passed)]));
        assert!(first.is_empty(), "first seen passing is no news: {first:?}");
        let broke = state.apply(run(2, RunResult::Failed, vec![check("a::x", CheckStatus::Failed)]));
        assert_eq!(broke.len(), 1);
        assert_eq!((broke[0].from, broke[0].to), (Some(Health::Passing), Health::Failing));
        assert_eq!(broke[0].diagnosis.as_ref().map(|d| d.summary.as_str()), Some("broken"));
        assert!(state.apply(run(3, RunResult::Failed, vec![check("a::x", CheckStatus::Failed)])).is_empty());
        assert_eq!(state.checks["a::x"].consecutive_failures, 2);
        assert_eq!(state.checks["a::x"].since_ms, Some(2100));
        let mended = state.apply(run(4, RunResult::Passed, vec![check("a::x", CheckStatus::Flaky)]));
        assert_eq!((mended[0].from, mended[0].to), (Some(Health::Failing), Health::Passing));
        assert_eq!(state.checks["a::x"].consecutive_failures, 0);
        assert_eq!(state.checks["a::x"].last_success_ms, Some(4100));
    }

    #[test]
    fn a_canary_changes_the_canary_s_state_only() {
        let mut state = target();
        state.apply(run(1, RunResult::Failed, vec![check("a::x", CheckStatus::Failed)]));
        let mut canary = Arc::unwrap_or_clone(run(2, RunResult::Passed, vec![check("a::x", CheckStatus::Passed)]));
        canary.canary = true;
        let transitions = state.apply(Arc::new(canary));
        assert!(transitions.is_empty(), "first seen passing in the canary: no news, {transitions:?}");
        let health = &state.checks["a::x"];
        assert_eq!((health.health, health.consecutive_failures, health.run_id), (Some(Health::Failing), 1, 1));
        assert_eq!(state.history.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
        assert_eq!((state.runs_by_result.get(&RunResult::Passed), state.last_passed_ms), (None, None));
        assert_eq!(state.canary.checks["a::x"].health, Some(Health::Passing));
        assert_eq!(state.run(2).map(|r| r.id), Some(2), "a kept canary is found by its ID");
    }

    #[test]
    fn a_check_first_seen_failing_is_announced() {
        let mut state = target();
        let transitions = state.apply(run(1, RunResult::Failed, vec![check("a::x", CheckStatus::Failed)]));
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].from, None);
    }

    #[test]
    fn a_skip_keeps_the_health_and_the_failure_count() {
        let mut state = target();
        state.apply(run(1, RunResult::Failed, vec![check("a::x", CheckStatus::Failed)]));
        let skipped = state.apply(run(2, RunResult::Interrupted, vec![check("a::x", CheckStatus::Skipped)]));
        assert!(skipped.is_empty());
        let kept = &state.checks["a::x"];
        assert_eq!(
            (kept.health, kept.consecutive_failures, kept.status),
            (Some(Health::Failing), 1, CheckStatus::Skipped)
        );
        assert_eq!(kept.last_run_ms, 1100, "a skip is not a run of the check");
    }

    #[test]
    fn history_is_bounded_and_runs_are_counted_by_result() {
        let mut state = target();
        for id in 1..=5 {
            let result = if id % 2 == 0 { RunResult::Failed } else { RunResult::Passed };
            state.apply(run(id, result, vec![]));
        }
        assert_eq!(state.history.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(state.runs_by_result[&RunResult::Passed], 3);
        assert_eq!(state.runs_by_result[&RunResult::Failed], 2);
        assert_eq!(state.last_passed_ms, Some(5100));
        assert!(state.run(2).is_none() && state.run(4).is_some());
    }

    #[test]
    fn certificates_are_replaced_per_check_and_kept_when_a_run_reads_none() {
        let mut state = target();
        state
            .set_certificates("nomad::mtls", vec![("nomad-mtls ca.pem".into(), 10), ("nomad-mtls cert.pem".into(), 5)]);
        state.set_certificates("api::tls_certificate", vec![("https://x".into(), 7)]);
        state.set_certificates("nomad::mtls", vec![("nomad-mtls cert.pem".into(), 6)]);
        state.set_certificates("nomad::mtls", vec![]);
        let expiries: Vec<_> =
            state.certificate_expiries().into_iter().map(|c| (c.check, c.certificate, c.expires_at)).collect();
        assert_eq!(
            expiries,
            vec![
                ("api::tls_certificate".into(), "https://x".into(), 7),
                ("nomad::mtls".into(), "nomad-mtls cert.pem".into(), 6)
            ]
        );
    }
}
