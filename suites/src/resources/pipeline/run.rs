//! A run's pipeline: realitycheck sets this run's values in the contexts it created, triggers
//! the project on its branch with the run's parameters, and starts the one poller that
//! every pipeline check reads. A poller that gave up on the API is started again for the next
//! check that subscribes (a retried check gets a fresh view). Dropping the run stops the
//! poller.

use std::sync::{Arc, Mutex};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use realitycheck_config::Secret;
use realitycheck_project::{CONTEXTS, ParameterSwitches, Parameters, context_digest, context_value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ledger::{Claim, Ledger, StartedPipeline, ValueSet};
use super::pipeline_url;
use super::poller::{PollEnd, PollIntervals, Snapshot, poll};
use crate::clients::circleci::{ApiClient, ApiError, Retry};
use crate::resources::api::ProjectAccess;
use crate::resources::contexts::ContextSetup;

/// Why no pipeline runs.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the project could not be read: {0}")]
    Project(Arc<ApiError>),
    #[error("the pipeline could not be triggered: {0}")]
    Trigger(ApiError),
}

/// Whether realitycheck knows the context values the contexts job must see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValues {
    /// realitycheck set this run's values in both contexts (it created them); the job
    /// compares their digest.
    SetThisRun,
    /// The job only checks that both variables are set; the reason says why no digest.
    PresenceOnly(String),
}

/// The pipeline of one run.
pub struct PipelineRun {
    pub slug: String,
    pub id: String,
    pub number: u64,
    pub branch: Option<String>,
    pub parameters: Parameters,
    pub context_values: ContextValues,
    /// Retries the trigger (and the contexts' values) needed.
    trigger_retries: Vec<Retry>,
    /// The client the poller uses, for the retries it needed.
    poll_client: ApiClient,
    intervals: PollIntervals,
    polling: Mutex<Polling>,
}

/// The current poller and what it publishes.
struct Polling {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    poller: JoinHandle<()>,
}

impl Polling {
    fn start(client: &ApiClient, pipeline_id: &str, intervals: PollIntervals) -> Polling {
        let (publish, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let poller = tokio::spawn(poll(client.clone(), pipeline_id.to_string(), intervals, publish));
        Polling { snapshots, poller }
    }
}

impl PipelineRun {
    /// Prepares the contexts' values, triggers the pipeline and starts its poller.
    pub async fn start(
        client: &ApiClient,
        project: &ProjectAccess,
        settings: &realitycheck_config::Pipeline,
        switches: ParameterSwitches,
        intervals: PollIntervals,
        ledger: &Ledger,
    ) -> Result<PipelineRun, TriggerError> {
        let client = &client.scoped();
        let slug = project.slug();
        let found = project.project().await.map_err(TriggerError::Project)?;
        let branch = settings
            .branch
            .clone()
            .or_else(|| found.value.vcs_info.as_ref().and_then(|vcs| vcs.default_branch.clone()));
        let run_id = ledger.run_id().to_string();
        let (context_values, context_digest) = match project.context_setup().await {
            Ok(setup) => set_context_values(client, setup, &run_id, ledger).await,
            Err(error) => (ContextValues::PresenceOnly(format!("the contexts could not be listed: {error}")), None),
        };
        let parameters = Parameters {
            run_id,
            switches,
            image_registry: settings.image_registry.clone(),
            context_digest,
            capacity: None,
        };
        let creation =
            trigger(client, slug, branch.as_deref(), &parameters, ledger).await.map_err(TriggerError::Trigger)?;
        tracing::info!(pipeline = creation.number, id = %creation.id, run_id = %parameters.run_id, "pipeline triggered");
        let poll_client = client.scoped();
        let polling = Mutex::new(Polling::start(&poll_client, &creation.id, intervals));
        Ok(PipelineRun {
            slug: slug.to_string(),
            id: creation.id,
            number: creation.number,
            branch,
            parameters,
            context_values,
            trigger_retries: client.retries(),
            poll_client,
            intervals,
            polling,
        })
    }

    /// A receiver of every snapshot the poller publishes from now on. When the poller gave up
    /// on the API, polling starts again first: a check retried after that sees the pipeline
    /// afresh, not the failure.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        let mut polling = self.polling.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(polling.snapshots.borrow().end, Some(PollEnd::ApiFailed { .. })) {
            tracing::info!(pipeline = self.number, "the poller had given up on the API; polling again");
            *polling = Polling::start(&self.poll_client, &self.id, self.intervals);
        }
        polling.snapshots.clone()
    }

    /// The latest snapshot the poller published, without starting it again.
    pub fn latest(&self) -> Arc<Snapshot> {
        let polling = self.polling.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        polling.snapshots.borrow().clone()
    }

    /// The retries the trigger and the poller needed so far.
    pub fn retries(&self) -> Vec<Retry> {
        let mut retries = self.trigger_retries.clone();
        retries.extend(self.poll_client.retries());
        retries
    }
}

/// Triggers the pipeline without ever creating two. The trigger is sent once; when it fails
/// in a way that may have reached the server or may pass (no connection, a timeout, 429,
/// 5xx), the project's pipelines are searched for this run's `run_id` first, and only when
/// none carries it is the trigger sent again (with the client's backoff, for as long as a read
/// would be retried: its read budget, within the check's deadline; noted as retries). The
/// pipeline created is recorded in `ledger`.
pub(crate) async fn trigger(
    client: &ApiClient,
    slug: &str,
    branch: Option<&str>,
    parameters: &Parameters,
    ledger: &Ledger,
) -> Result<Created, ApiError> {
    let once = client.without_retries();
    let policy = client.retry_policy().clone();
    let body = parameters.to_json();
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    let created = loop {
        attempt += 1;
        ledger.trigger_sent();
        let error = match once.trigger_pipeline(slug, branch, &body).await {
            Ok(creation) => break Created { id: creation.id, number: creation.number },
            Err(error) => error,
        };
        let uncertain = match &error {
            ApiError::Unreachable { .. } | ApiError::Timeout { .. } => true,
            ApiError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        };
        if !uncertain {
            return Err(error);
        }
        let run_id = ("run_id", parameters.run_id.as_str());
        if let Ok(Some(found)) = client.find_pipeline(slug, branch, run_id, 1).await {
            tracing::info!(pipeline = found.number, "the failed trigger had created the pipeline");
            break Created { id: found.id, number: found.number };
        }
        let wait = policy.base_delay.saturating_mul(2u32.saturating_pow(attempt - 1)).min(policy.max_delay);
        if !client.may_resend_within_read_budget(attempt, started, wait) {
            return Err(error);
        }
        client.record_retry(Retry {
            call: format!("POST /api/v2/project/{slug}/pipeline"),
            attempt,
            reason: format!("{error}; no pipeline of this run found, so the trigger is sent again"),
            wait,
        });
        tokio::time::sleep(wait).await;
    };
    ledger.record(StartedPipeline {
        id: created.id.clone(),
        number: created.number,
        url: pipeline_url(client, slug, created.number),
    });
    Ok(created)
}

/// The pipeline a trigger created.
pub(crate) struct Created {
    pub id: String,
    pub number: u64,
}

impl Drop for PipelineRun {
    fn drop(&mut self) {
        self.polling.lock().unwrap_or_else(std::sync::PoisonError::into_inner).poller.abort();
    }
}

/// A run id that names this run in artifacts, caches and test names: `rc-` and the time.
pub fn new_run_id() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("rc-{}-{:03}-{}", since_epoch.as_secs(), since_epoch.subsec_millis(), std::process::id() % 1000)
}

/// The variable a run that sets context values keeps in the first context while it runs (its
/// value is the run id; only its `updated_at` can be read back): another run that finds it
/// fresh leaves the values alone.
pub const RUN_IN_PROGRESS: &str = "REALITYCHECK_RUN_IN_PROGRESS";

/// How long a run-in-progress marker is honoured: a run that died without removing it stops
/// holding the contexts after this.
const RUN_IN_PROGRESS_FOR: Duration = Duration::from_secs(60 * 60);

/// Sets this run's value in each context of the jobs that realitycheck created; the digest
/// the job must see when it could set both. Unless another run is setting them now (its
/// [`RUN_IN_PROGRESS`] marker is fresh): then both runs compare presence only, and neither
/// disturbs the other. The marker this run sets is recorded in `ledger`, for the end of the run
/// to remove, and so is each value set, for a failed comparison to find what changed since.
async fn set_context_values(
    client: &ApiClient,
    setup: &ContextSetup,
    run_id: &str,
    ledger: &Ledger,
) -> (ContextValues, Option<String>) {
    let all_ours = CONTEXTS.iter().all(|required| {
        setup.get(*required).is_some_and(|prepared| prepared.created_by_us && prepared.usable_id.is_some())
    });
    if let (true, Some(first)) = (all_ours, CONTEXTS.first().and_then(|c| setup.get(*c))) {
        let id = first.usable_id.clone().unwrap_or_default();
        match claim(client, &id, run_id).await {
            Ok(claimed) => ledger.claimed(claimed),
            Err(reason) => return (ContextValues::PresenceOnly(reason), None),
        }
    }
    let mut values = Vec::new();
    for required in CONTEXTS {
        let Some(prepared) = setup.get(required) else {
            return (ContextValues::PresenceOnly(format!("context `{}` was not prepared", required.name)), None);
        };
        let Some(id) = prepared.usable_id.as_deref() else {
            let reason = format!("context `{}` is missing or lacks {}", required.name, required.variable);
            return (ContextValues::PresenceOnly(reason), None);
        };
        if !prepared.created_by_us {
            let reason = format!(
                "realitycheck did not create context `{}`, so it does not set its values (compared for presence only)",
                required.name
            );
            return (ContextValues::PresenceOnly(reason), None);
        }
        let value = context_value(run_id, required.name);
        match client.put_context_variable(id, required.variable, &Secret::new(value.clone())).await {
            Ok(set) => {
                ledger.value_set(ValueSet { context: required, context_id: id.to_string(), updated_at: set.updated_at })
            }
            Err(error) => {
                let reason = format!("this run's value could not be set in `{}`: {error}", required.name);
                return (ContextValues::PresenceOnly(reason), None);
            }
        }
        values.push(value);
    }
    (ContextValues::SetThisRun, Some(context_digest(&values)))
}

/// Sets the [`RUN_IN_PROGRESS`] marker in context `id`, unless another run's is fresh (the
/// reason says whose and since when).
async fn claim(client: &ApiClient, id: &str, run_id: &str) -> Result<Claim, String> {
    let variables =
        client.context_variables(id).await.map_err(|e| format!("the context's variables could not be listed: {e}"))?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let fresh = variables.iter().find(|v| v.variable == RUN_IN_PROGRESS).and_then(|marker| {
        let set = marker
            .updated_at
            .as_deref()
            .or(marker.created_at.as_deref())?
            .parse::<k8s_openapi::jiff::Timestamp>()
            .ok()?;
        let age = now.duration_since(set).unsigned_abs();
        (age < RUN_IN_PROGRESS_FOR).then_some(age)
    });
    if let Some(age) = fresh {
        return Err(format!(
            "another realitycheck run set its values {} ago and may still run (variable {RUN_IN_PROGRESS}); this run compares presence only, so that neither disturbs the other",
            harness::humanize(age)
        ));
    }
    let set = client
        .put_context_variable(id, RUN_IN_PROGRESS, &Secret::new(run_id))
        .await
        .map_err(|e| format!("the run-in-progress marker could not be set: {e}"))?;
    // Two runs that looked at once both set the marker: the last one set holds the contexts.
    let now_set =
        client.context_variables(id).await.map_err(|e| format!("the context's variables could not be listed: {e}"))?;
    let held = now_set.iter().any(|v| v.variable == RUN_IN_PROGRESS && v.updated_at == set.updated_at);
    if !held {
        return Err(format!(
            "another realitycheck run set its {RUN_IN_PROGRESS} marker at the same moment; this run compares presence only, so that neither disturbs the other"
        ));
    }
    Ok(Claim { context_id: id.to_string(), updated_at: set.updated_at })
}
