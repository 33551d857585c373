//! A run's pipeline: realitycheck sets this run's values in the contexts it created, triggers
//! the project on its branch with the run's parameters, and starts the one poller that
//! every pipeline check reads. Dropping the run stops the poller.

use std::sync::Arc;

use std::time::{SystemTime, UNIX_EPOCH};

use realitycheck_config::Secret;
use realitycheck_project::{CONTEXTS, ParameterSwitches, Parameters, context_digest, context_value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    ) -> Result<PipelineRun, TriggerError> {
        let client = &client.scoped();
        let slug = project.slug();
        let found = project.project().await.map_err(TriggerError::Project)?;
        let branch = settings
            .branch
            .clone()
            .or_else(|| found.value.vcs_info.as_ref().and_then(|vcs| vcs.default_branch.clone()));
        let run_id = new_run_id();
        let (context_values, context_digest) = match project.context_setup().await {
            Ok(setup) => set_context_values(client, setup, &run_id).await,
            Err(error) => (ContextValues::PresenceOnly(format!("the contexts could not be listed: {error}")), None),
        };
        let parameters =
            Parameters { run_id, switches, image_registry: settings.image_registry.clone(), context_digest };
        let creation = client
            .trigger_pipeline(slug, branch.as_deref(), &parameters.to_json())
            .await
            .map_err(TriggerError::Trigger)?;
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

    /// Cancels the workflows that have not finished (jobs stuck in a queue would otherwise run
    /// whenever the installation recovers). Returns what was cancelled, or why not.
    pub async fn cancel_unfinished(&self, client: &ApiClient) -> Vec<Result<String, String>> {
        let snapshot = self.snapshots.borrow().clone();
        let unfinished = snapshot.workflows.iter().filter(|state| !state.workflow.status.is_terminal());
        let mut outcomes = Vec::new();
        for state in unfinished {
            let name = &state.workflow.name;
            outcomes.push(match client.cancel_workflow(&state.workflow.id).await {
                Ok(_) => Ok(format!("cancelled workflow `{name}` of pipeline #{}", self.number)),
                Err(error) => Err(format!("could not cancel workflow `{name}` of pipeline #{}: {error}", self.number)),
            });
        }
        outcomes
    }
}

impl Drop for PipelineRun {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// A run id that names this run in artifacts, caches and test names: `rc-` and the time.
fn new_run_id() -> String {
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
