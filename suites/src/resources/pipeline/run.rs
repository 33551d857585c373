//! A run's pipeline: realitycheck sets this run's values in the contexts it created, triggers
//! the project on its branch with the run's parameters, and starts the one poller that
//! every pipeline check reads. Dropping the run stops the poller.

use std::sync::Arc;

use std::time::{SystemTime, UNIX_EPOCH};

use realitycheck_config::Secret;
use realitycheck_project::{CONTEXTS, ParameterSwitches, Parameters, context_digest, context_value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ledger::{Ledger, StartedPipeline};
use super::pipeline_url;
use super::poller::{PollIntervals, Snapshot, poll};
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
    snapshots: watch::Receiver<Arc<Snapshot>>,
    poller: JoinHandle<()>,
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
            Ok(setup) => set_context_values(client, setup, &run_id).await,
            Err(error) => (ContextValues::PresenceOnly(format!("the contexts could not be listed: {error}")), None),
        };
        let parameters =
            Parameters { run_id, switches, image_registry: settings.image_registry.clone(), context_digest };
        let creation =
            trigger(client, slug, branch.as_deref(), &parameters, ledger).await.map_err(TriggerError::Trigger)?;
        tracing::info!(pipeline = creation.number, id = %creation.id, run_id = %parameters.run_id, "pipeline triggered");
        let (publish, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let poll_client = client.scoped();
        let poller = tokio::spawn(poll(poll_client.clone(), creation.id.clone(), intervals, publish));
        Ok(PipelineRun {
            slug: slug.to_string(),
            id: creation.id,
            number: creation.number,
            branch,
            parameters,
            context_values,
            trigger_retries: client.retries(),
            poll_client,
            snapshots,
            poller,
        })
    }

    /// A receiver of every snapshot the poller publishes from now on.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
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
/// none carries it is the trigger sent again (with the client's backoff and number of
/// retries, noted as retries). The pipeline created is recorded in `ledger`.
async fn trigger(
    client: &ApiClient,
    slug: &str,
    branch: Option<&str>,
    parameters: &Parameters,
    ledger: &Ledger,
) -> Result<Created, ApiError> {
    let once = client.without_retries();
    let policy = client.retry_policy().clone();
    let body = parameters.to_json();
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
        if attempt > policy.max_retries {
            return Err(error);
        }
        let wait = policy.base_delay.saturating_mul(2u32.saturating_pow(attempt - 1)).min(policy.max_delay);
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
struct Created {
    id: String,
    number: u64,
}

impl Drop for PipelineRun {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// A run id that names this run in artifacts, caches and test names: `rc-` and the time.
pub fn new_run_id() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("rc-{}-{:03}-{}", since_epoch.as_secs(), since_epoch.subsec_millis(), std::process::id() % 1000)
}

/// Sets this run's value in each context of the jobs that realitycheck created; the digest
/// the job must see when it could set both.
async fn set_context_values(client: &ApiClient, setup: &ContextSetup, run_id: &str) -> (ContextValues, Option<String>) {
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
        if let Err(error) = client.put_context_variable(id, required.variable, &Secret::new(value.clone())).await {
            let reason = format!("this run's value could not be set in `{}`: {error}", required.name);
            return (ContextValues::PresenceOnly(reason), None);
        }
        values.push(value);
    }
    (ContextValues::SetThisRun, Some(context_digest(&values)))
}
