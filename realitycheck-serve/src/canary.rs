//! What `serve` knows of a target's canary: the runs of the canary profile that serve starts
//! on the canary's own interval (a docker job, and a machine job where the cloud has a
//! machine provisioner), kept apart from the scheduled runs: their own bounded history, their
//! checks' states, counts by result, and the last wait and run time of each executor's job
//! with how many canaries in a row waited longer than the target allows. Pure data, like the
//! rest of the state.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::record::{JOB_RUN, JOB_WAIT, RunRecord, RunResult};
use crate::state::{CheckState, Health, Transition, apply_check};

/// How a target's canary runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanarySchedule {
    /// The profile it runs (`canary`).
    pub profile: String,
    /// Time between the starts of two canaries.
    pub interval: Duration,
    /// A job that waits longer than this in the queue waits too long (the target's
    /// `capacity.max_wait_p95`).
    pub max_wait: Duration,
}

/// The last wait and run time the canary measured of one executor's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTimes {
    /// The executor (`docker`, `machine`): the observations' subject.
    pub executor: String,
    /// The check whose job it was.
    pub check: String,
    /// Seconds from queued to started; `None` when that canary measured only the run time.
    pub wait_seconds: Option<i64>,
    /// Seconds from started to stopped; `None` when that canary measured only the wait.
    pub run_seconds: Option<i64>,
    /// The canary that measured them.
    pub run_id: u64,
    /// When that canary ended, Unix milliseconds.
    pub measured_ms: u64,
    /// Canaries in a row, up to that one, whose job waited longer than the schedule's
    /// `max_wait`; a canary that measured no wait leaves it as it was.
    pub waits_over: u32,
}

/// Everything `serve` knows of one target's canary.
#[derive(Debug, Clone, Default)]
pub struct CanaryState {
    /// How it runs; `None` when the target has no canary (records kept from before are still
    /// shown).
    pub schedule: Option<CanarySchedule>,
    /// The last canaries, oldest first, as many as the target keeps runs.
    pub history: VecDeque<Arc<RunRecord>>,
    /// Each of the canary's checks' state, by ID.
    pub checks: BTreeMap<String, CheckState>,
    /// Canaries counted by result since `serve` started (restored ones included).
    pub runs_by_result: BTreeMap<RunResult, u64>,
    /// When the next canary starts, Unix milliseconds.
    pub next_run_ms: Option<u64>,
    /// The last times measured, by executor.
    pub jobs: BTreeMap<String, JobTimes>,
}

/// Whether a canary works, as the page's badge says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryHealth {
    /// No canary check's last verdict is a failure, and the last canary ran its checks.
    Passing,
    /// A canary check's last verdict is a failure, or the last canary could not run its checks.
    Failing,
    /// No canary has ended yet.
    Unknown,
}

impl CanaryHealth {
    /// `passing`, `failing` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryHealth::Passing => "passing",
            CanaryHealth::Failing => "failing",
            CanaryHealth::Unknown => "unknown",
        }
    }
}

impl CanaryState {
    /// Whether the target has a canary, or kept canaries to show.
    pub fn shown(&self) -> bool {
        self.schedule.is_some() || !self.history.is_empty()
    }

    /// The last finished canary.
    pub fn last_run(&self) -> Option<&Arc<RunRecord>> {
        self.history.back()
    }

    /// Whether the canary works, as far as its runs tell.
    pub fn health(&self) -> CanaryHealth {
        let Some(last) = self.last_run() else { return CanaryHealth::Unknown };
        let failing = self.checks.values().any(|c| c.health == Some(Health::Failing))
            || matches!(last.result, RunResult::Error | RunResult::PreflightFailed);
        if failing { CanaryHealth::Failing } else { CanaryHealth::Passing }
    }

    /// The longest a job may wait, in whole seconds, when the target has a canary.
    pub fn max_wait_seconds(&self) -> Option<i64> {
        self.schedule.as_ref().map(|schedule| i64::try_from(schedule.max_wait.as_secs()).unwrap_or(i64::MAX))
    }

    /// Takes a finished canary of `target` into account, keeping at most `capacity` of them;
    /// returns the changes of its checks' health.
    pub fn apply(&mut self, target: &str, record: Arc<RunRecord>, capacity: usize) -> Vec<Transition> {
        *self.runs_by_result.entry(record.result).or_default() += 1;
        let ended = record.finished_at_ms();
        let transitions = record
            .checks
            .iter()
            .filter_map(|check| apply_check(&mut self.checks, target, &record, check, ended))
            .collect();
        self.measure(&record, ended);
        self.history.push_back(record);
        while self.history.len() > capacity.max(1) {
            self.history.pop_front();
        }
        transitions
    }

    /// Takes the job times `record`'s checks observed, by executor.
    fn measure(&mut self, record: &RunRecord, ended: u64) {
        let max_wait = self.max_wait_seconds();
        for check in &record.checks {
            let mut measured: BTreeMap<&str, (Option<i64>, Option<i64>)> = BTreeMap::new();
            for observation in &check.observations {
                let times = measured.entry(observation.subject.as_str()).or_default();
                match observation.name.as_str() {
                    JOB_WAIT => times.0 = Some(observation.value),
                    JOB_RUN => times.1 = Some(observation.value),
                    _ => {}
                }
            }
            for (executor, (wait, run)) in measured.into_iter().filter(|(_, times)| *times != (None, None)) {
                let before = self.jobs.get(executor).map_or(0, |times| times.waits_over);
                let waits_over = match (wait, max_wait) {
                    (Some(wait), Some(max)) if wait > max => before + 1,
                    (Some(_), _) => 0,
                    (None, _) => before,
                };
                self.jobs.insert(
                    executor.to_string(),
                    JobTimes {
                        executor: executor.to_string(),
                        check: check.id.clone(),
                        wait_seconds: wait,
                        run_seconds: run,
                        run_id: record.id,
                        measured_ms: ended,
                        waits_over,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CheckRecord, CheckStatus, DiagnosisRecord, ObservationRecord, RUN_SCHEMA_VERSION, Trigger};

    fn observation(name: &str, executor: &str, value: i64) -> ObservationRecord {
        ObservationRecord { name: name.into(), subject: executor.into(), value }
    }

    fn check(id: &str, status: CheckStatus, observations: Vec<ObservationRecord>) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            summary: "a job succeeds".into(),
            status,
            duration_ms: 60_000,
            attempts: 1,
            note: (status == CheckStatus::Passed).then(|| "ok".into()),
            diagnosis: (status == CheckStatus::Failed).then(|| DiagnosisRecord {
                summary: "job docker is queued and Nomad has no client that can run it".into(),
                observed: vec![],
                cause: "c".into(),
                remediation: "r".into(),
                phase: None,
            }),
            skip_reason: None,
            observations,
        }
    }

    fn canary(id: u64, waits: &[(&str, i64)]) -> Arc<RunRecord> {
        let checks = waits
            .iter()
            .map(|(executor, wait)| {
                check(
                    &format!("executors::{executor}"),
                    CheckStatus::Passed,
                    vec![observation(JOB_WAIT, executor, *wait), observation(JOB_RUN, executor, 30)],
                )
            })
            .collect();
        record(id, RunResult::Passed, checks)
    }

    fn record(id: u64, result: RunResult, checks: Vec<CheckRecord>) -> Arc<RunRecord> {
        Arc::new(RunRecord {
            schema_version: RUN_SCHEMA_VERSION.into(),
            id,
            target: "prod".into(),
            trigger: Trigger::Schedule,
            profile: "canary".into(),
            canary: true,
            started_at_ms: id * 1000,
            duration_ms: 100,
            result,
            overran: false,
            stopped_because: None,
            finish_notes: vec![],
            checks,
        })
    }

    fn state() -> CanaryState {
        CanaryState {
            schedule: Some(CanarySchedule {
                profile: "canary".into(),
                interval: Duration::from_secs(3600),
                max_wait: Duration::from_secs(180),
            }),
            ..CanaryState::default()
        }
    }

    #[test]
    fn waits_over_the_threshold_are_counted_in_a_row_per_executor_and_one_under_ends_the_row() {
        let mut state = state();
        let over_in_a_row = |state: &CanaryState| {
            state.jobs.values().map(|times| (times.executor.clone(), times.waits_over)).collect::<Vec<_>>()
        };
        state.apply("prod", canary(1, &[("docker", 181), ("machine", 20)]), 10);
        assert_eq!(over_in_a_row(&state), [("docker".into(), 1), ("machine".into(), 0)]);
        state.apply("prod", canary(2, &[("docker", 400), ("machine", 180)]), 10);
        assert_eq!(over_in_a_row(&state), [("docker".into(), 2), ("machine".into(), 0)], "180 s is not over 3m");
        assert_eq!(state.jobs["docker"].wait_seconds, Some(400));
        assert_eq!((state.jobs["docker"].run_id, state.jobs["docker"].measured_ms), (2, 2100));
        state.apply("prod", canary(3, &[("docker", 12)]), 10);
        assert_eq!(over_in_a_row(&state), [("docker".into(), 0), ("machine".into(), 0)]);
        assert_eq!(state.jobs["machine"].run_id, 2, "a canary that did not measure it keeps the last");
    }

    #[test]
    fn a_canary_that_measured_no_wait_keeps_the_row_and_a_failure_is_the_canary_s_own() {
        let mut state = state();
        state.apply("prod", canary(1, &[("docker", 500)]), 10);
        let stuck = check("executors::docker", CheckStatus::Failed, vec![]);
        let transitions = state.apply("prod", record(2, RunResult::Failed, vec![stuck]), 10);
        assert_eq!(transitions.len(), 1);
        assert!(transitions[0].canary, "announced as the canary's");
        assert_eq!(state.jobs["docker"].waits_over, 1, "no wait measured: neither over nor under");
        assert_eq!(state.checks["executors::docker"].consecutive_failures, 1);
        assert_eq!(state.health(), CanaryHealth::Failing);
        assert_eq!(state.runs_by_result[&RunResult::Failed], 1);
    }

    #[test]
    fn the_history_is_bounded() {
        let mut state = state();
        for id in 1..=4 {
            state.apply("prod", canary(id, &[("docker", 1)]), 2);
        }
        assert_eq!(state.history.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(CanaryState::default().health(), CanaryHealth::Unknown);
        assert!(!CanaryState::default().shown() && state.shown());
    }
}
