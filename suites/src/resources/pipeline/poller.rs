//! The one poller of a run's pipeline: it follows the pipeline until its state settles,
//! lists its workflows, and lists the jobs of every workflow that is not finished, then
//! publishes a [`Snapshot`] that every waiting check reads. No check polls on its own.
//!
//! The interval adapts: back to the minimum whenever something changed, longer (up to the
//! maximum) while nothing does. A finished workflow's jobs are not fetched again.
//!
//! A poll that fails for a passing reason (no connection, a timeout, 429, 5xx, after the
//! client's own retries) does not end the poller: it keeps polling at the maximum interval,
//! noting each failed poll as a retry of the run, and gives up only when polls have failed
//! for longer than the failure budget, saying for how long and how many.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::clients::circleci::{ApiClient, ApiError, PipelineError, PipelineState, Retry, Workflow, WorkflowJob};

/// How often the poller asks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollIntervals {
    pub min: Duration,
    pub max: Duration,
    /// How long a created pipeline may show no workflow before the poller gives up.
    pub no_workflow_grace: Duration,
    /// How long polls may keep failing for a passing reason before the poller gives up.
    pub failure_budget: Duration,
    /// How long the pipeline may stay in setup (its config being processed) before the
    /// poller gives up.
    pub setup_grace: Duration,
}

impl Default for PollIntervals {
    fn default() -> Self {
        PollIntervals {
            min: Duration::from_millis(500),
            max: Duration::from_secs(5),
            no_workflow_grace: Duration::from_secs(30),
            failure_budget: Duration::from_secs(120),
            setup_grace: Duration::from_secs(120),
        }
    }
}

/// A workflow and its jobs as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowState {
    pub workflow: Workflow,
    pub jobs: Vec<WorkflowJob>,
}

/// Why the poller stopped.
#[derive(Debug, Clone)]
pub enum PollEnd {
    /// Every workflow finished.
    Finished,
    /// The pipeline could not be created from the config.
    Errored(Vec<PipelineError>),
    /// The pipeline was created but no workflow appeared.
    NoWorkflows { waited: Duration },
    /// The pipeline stayed in setup (`setup`, `setup-pending`, `pending`: its configuration
    /// being processed) for longer than the setup grace.
    NotCreated { state: String, waited: Duration },
    /// The API failed (after the client's own retries): at once for a lasting reason, or on
    /// every poll for longer than the failure budget.
    ApiFailed {
        /// The last failure.
        error: Arc<ApiError>,
        /// How long polls had been failing (zero for a lasting failure).
        failing_for: Duration,
        /// Polls that failed in a row.
        failed_polls: u64,
    },
}

/// What the poller saw last.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Polls so far (0: none yet).
    pub polls: u64,
    pub workflows: Vec<WorkflowState>,
    /// `Some` once the poller stopped: nothing will change any more.
    pub end: Option<PollEnd>,
}

impl Snapshot {
    /// The job named `name` and its workflow.
    pub fn job(&self, name: &str) -> Option<(&Workflow, &WorkflowJob)> {
        self.workflows
            .iter()
            .find_map(|state| state.jobs.iter().find(|job| job.name == name).map(|job| (&state.workflow, job)))
    }

    /// `name (status)` of every workflow, for diagnoses.
    pub fn describe_workflows(&self) -> String {
        if self.workflows.is_empty() {
            return "none".into();
        }
        let names: Vec<String> =
            self.workflows.iter().map(|w| format!("{} ({})", w.workflow.name, w.workflow.status.as_str())).collect();
        names.join(", ")
    }
}

/// Polls the pipeline `pipeline_id` until it ends, publishing every poll on `snapshots`.
pub async fn poll(
    client: ApiClient,
    pipeline_id: String,
    intervals: PollIntervals,
    snapshots: watch::Sender<Arc<Snapshot>>,
) {
    let started = Instant::now();
    // The pipeline's state, as last read (it is read until it is `created`).
    let mut state = PipelineState::Pending;
    let mut interval = intervals.min;
    let mut current = Snapshot::default();
    // When polls started failing, and how many have since.
    let mut failing: Option<(Instant, u64)> = None;
    loop {
        let next = match poll_once(&client, &pipeline_id, &mut state, &current).await {
            Ok(_) if state != PipelineState::Created && started.elapsed() > intervals.setup_grace => {
                let state = state.as_str().to_string();
                current.end = Some(PollEnd::NotCreated { state, waited: started.elapsed() });
                snapshots.send_replace(Arc::new(current));
                return;
            }
            Ok(workflows) => workflows,
            Err(PollFailure::Passing(error)) => {
                let (since, failed) = failing.get_or_insert((Instant::now(), 0));
                *failed += 1;
                if since.elapsed() > intervals.failure_budget {
                    let (failing_for, failed_polls) = (since.elapsed(), *failed);
                    current.end = Some(PollEnd::ApiFailed { error: Arc::new(error), failing_for, failed_polls });
                    snapshots.send_replace(Arc::new(current));
                    return;
                }
                client.record_retry(Retry {
                    call: format!("poll of pipeline {pipeline_id}"),
                    attempt: *failed as u32,
                    reason: error.to_string(),
                    wait: intervals.max,
                });
                tracing::info!(%error, failed_polls = *failed, "a poll failed; polling on");
                interval = intervals.max;
                tokio::time::sleep(interval).await;
                continue;
            }
            Err(PollFailure::End(end)) => {
                current.end = Some(end);
                snapshots.send_replace(Arc::new(current));
                return;
            }
        };
        failing = None;
        interval = next_interval(interval, &current.workflows, &next, &intervals);
        current.polls += 1;
        current.workflows = next;
        let all_finished = current.workflows.iter().all(|w| w.workflow.status.is_terminal());
        let created = state == PipelineState::Created;
        current.end = match (created, current.workflows.is_empty()) {
            (true, false) if all_finished => Some(PollEnd::Finished),
            (true, true) if started.elapsed() >= intervals.no_workflow_grace => {
                Some(PollEnd::NoWorkflows { waited: started.elapsed() })
            }
            _ => None,
        };
        let ended = current.end.is_some();
        snapshots.send_replace(Arc::new(current.clone()));
        if ended {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// The wait before the next poll, after the last wait `last`: back to the minimum when the
/// workflows `seen` by the previous poll changed in this one (`now`), else half again as long
/// as the last, up to the maximum.
fn next_interval(last: Duration, seen: &[WorkflowState], now: &[WorkflowState], intervals: &PollIntervals) -> Duration {
    if now != seen { intervals.min } else { last.mul_f64(1.5).min(intervals.max) }
}

/// Why a poll did not see the pipeline.
enum PollFailure {
    /// The API failed for a reason that may pass: poll again.
    Passing(ApiError),
    /// The poller is done.
    End(PollEnd),
}

/// Whether `error` may pass by itself: no connection, no answer in time, rate limited, or
/// the server failed (5xx).
pub(crate) fn passing(error: &ApiError) -> bool {
    match error {
        ApiError::Unreachable { .. } | ApiError::Timeout { .. } => true,
        ApiError::Status { status, .. } => *status == 429 || *status >= 500,
        ApiError::Tls { .. }
        | ApiError::Decode { .. }
        | ApiError::TooLarge { .. }
        | ApiError::TooManyPages { .. }
        | ApiError::NotTheApi { .. }
        | ApiError::Redirect { .. } => false,
    }
}

/// One round: the pipeline (until created), its workflows, the jobs of unfinished ones.
async fn poll_once(
    client: &ApiClient,
    pipeline_id: &str,
    state: &mut PipelineState,
    previous: &Snapshot,
) -> Result<Vec<WorkflowState>, PollFailure> {
    let api_failed = |error: ApiError| {
        if passing(&error) {
            PollFailure::Passing(error)
        } else {
            PollFailure::End(PollEnd::ApiFailed {
                error: Arc::new(error),
                failing_for: Duration::ZERO,
                failed_polls: 1,
            })
        }
    };
    if *state != PipelineState::Created {
        let pipeline = client.pipeline(pipeline_id).await.map_err(api_failed)?;
        if pipeline.state == PipelineState::Errored {
            return Err(PollFailure::End(PollEnd::Errored(pipeline.errors)));
        }
        *state = pipeline.state;
    }
    let workflows = client.pipeline_workflows(pipeline_id).await.map_err(api_failed)?;
    let fetches = workflows.into_iter().map(|workflow| async move {
        let seen_finished = previous
            .workflows
            .iter()
            .find(|state| state.workflow.id == workflow.id && state.workflow.status.is_terminal());
        if let Some(state) = seen_finished {
            return Ok(state.clone());
        }
        let jobs = client.workflow_jobs(&workflow.id).await?;
        Ok(WorkflowState { workflow, jobs })
    });
    join_all(fetches).await.into_iter().collect::<Result<Vec<_>, ApiError>>().map_err(api_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(status: &str) -> WorkflowState {
        let workflow = serde_json::json!({"id": "w-1", "name": "docker", "status": status});
        WorkflowState { workflow: serde_json::from_value(workflow).unwrap(), jobs: Vec::new() }
    }

    #[test]
    fn only_failures_that_may_pass_keep_the_poller_polling() {
        let (call, url) = ("GET /api/v2/pipeline/p-1/workflow".to_string(), "https://ci.example".to_string());
        let status =
            |status: u16| ApiError::Status { call: call.clone(), url: url.clone(), status, message: String::new() };
        for code in [429, 500, 502, 503, 504] {
            assert!(passing(&status(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 428, 499] {
            assert!(!passing(&status(code)), "{code}");
        }
        assert!(passing(&ApiError::Unreachable { call: call.clone(), url: url.clone(), message: String::new() }));
        assert!(passing(&ApiError::Timeout { call: call.clone(), url: url.clone(), after: Duration::from_secs(10) }));
        assert!(!passing(&ApiError::Tls { call: call.clone(), url: url.clone(), message: String::new() }));
        assert!(!passing(&ApiError::NotTheApi { call, url, title: None }));
    }

    #[test]
    fn the_interval_grows_while_nothing_changes_and_drops_back_after_a_change() {
        let intervals = PollIntervals::default();
        let running = [workflow("running")];
        let mut interval = intervals.min;
        let mut waits = Vec::new();
        for _ in 0..7 {
            interval = next_interval(interval, &running, &running, &intervals);
            waits.push(interval.as_millis());
        }
        assert_eq!(waits, [750, 1125, 1687, 2531, 3796, 5000, 5000], "grows by half, up to the maximum");
        let finished = [workflow("success")];
        assert_eq!(next_interval(interval, &running, &finished, &intervals), intervals.min, "a status changed");
        assert_eq!(next_interval(interval, &[], &running, &intervals), intervals.min, "a workflow appeared");
        assert_eq!(next_interval(interval, &[], &[], &intervals), intervals.max, "still none");
    }
}
