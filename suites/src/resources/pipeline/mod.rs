//! One pipeline of the realitycheck project per run: triggered by the first check that waits
//! for it, with the parameters that start the workflows of the jobs the selected checks
//! declared ([`PipelineAccess`]); the one shared poller that follows its workflows and jobs
//! (`poller`); and the run that ties them together (`run`).

pub mod ledger;
pub mod poller;
pub mod run;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use harness::Fixture;
use realitycheck_project::ParameterSwitches;

use super::api::{ApiAccess, ProjectAccess};
use crate::clients::circleci::ApiClient;
pub use ledger::{Ledger, StartedPipeline};
pub use poller::{PollEnd, PollIntervals, Snapshot, WorkflowState};
pub use run::{ContextValues, PipelineRun, TriggerError};

/// How long the end of a run spends cancelling what it started, all cancels at once.
pub const CLEANUP_GRACE: Duration = Duration::from_secs(10);

/// Pages of the project's newest pipelines searched for this run's own.
const PIPELINE_PAGES_SEARCHED: u32 = 3;

/// The run's pipeline, started once: a failed start is kept as a value, never retried.
type PipelineFixture = Fixture<Result<Arc<PipelineRun>, Arc<TriggerError>>, Infallible>;

/// The run's pipeline as the pipeline checks share it.
#[derive(Clone)]
pub struct PipelineAccess {
    run: Arc<PipelineFixture>,
    ledger: Ledger,
    slug: String,
}

impl PipelineAccess {
    /// The pipeline of `project`, to be triggered with `switches` on the branch and image
    /// registry of `settings`, recorded in `ledger`; nothing is triggered yet.
    pub fn new(
        api: &ApiAccess,
        project: &ProjectAccess,
        settings: &realitycheck_config::Pipeline,
        switches: ParameterSwitches,
        poll: PollIntervals,
        ledger: Ledger,
    ) -> PipelineAccess {
        let slug = project.slug().to_string();
        let (client, project, settings, record) =
            (api.client().clone(), project.clone(), settings.clone(), ledger.clone());
        let run = Fixture::new("pipeline", move || {
            let (client, project, settings, switches, ledger) =
                (client.clone(), project.clone(), settings.clone(), switches.clone(), record.clone());
            async move {
                let run = PipelineRun::start(&client, &project, &settings, switches, poll, &ledger).await;
                Ok(run.map(Arc::new).map_err(Arc::new))
            }
        });
        PipelineAccess { run: Arc::new(run), ledger, slug }
    }

    /// The run's pipeline, triggered now if no check did before; a failed trigger is tried
    /// once per run.
    pub async fn run(&self) -> Result<Arc<PipelineRun>, Arc<TriggerError>> {
        match self.run.get().await {
            Ok(started) => started.clone(),
            Err(infallible) => match *infallible {},
        }
    }

    /// Ends what the run started: the workflows of its pipeline that have not finished are
    /// cancelled (jobs stuck in a queue would otherwise run whenever the installation
    /// recovers), all at once and within [`CLEANUP_GRACE`]. The pipeline is the one the
    /// trigger created, or, when the trigger was interrupted or failed after it was sent, the
    /// project's pipeline carrying this run's `run_id`. One line per thing done, and the
    /// pipeline's number and URL for whatever is left running.
    pub async fn end(&self, client: &ApiClient) -> Vec<String> {
        self.end_within(client, CLEANUP_GRACE).await
    }

    /// [`Self::end`], spending at most `grace` on it.
    pub async fn end_within(&self, client: &ApiClient, grace: Duration) -> Vec<String> {
        let ended = tokio::time::timeout(grace, self.cancel_unfinished(client)).await;
        ended.unwrap_or_else(|_| {
            let mut lines = vec![format!("cancelling did not finish within {}", harness::humanize(grace))];
            lines.extend(self.ledger.left_running());
            lines
        })
    }

    async fn cancel_unfinished(&self, client: &ApiClient) -> Vec<String> {
        let pipeline = match self.ledger.pipeline() {
            Some(pipeline) => pipeline,
            None if self.ledger.was_trigger_sent() => {
                let run_id = ("run_id", self.ledger.run_id());
                match client.find_pipeline(&self.slug, None, run_id, PIPELINE_PAGES_SEARCHED).await {
                    Ok(Some(found)) => {
                        let url = pipeline_url(client, &self.slug, found.number);
                        StartedPipeline { id: found.id, number: found.number, url }
                    }
                    Ok(None) => return Vec::new(),
                    Err(error) => {
                        let mut lines = vec![format!("looking for this run's pipeline failed: {error}")];
                        lines.extend(self.ledger.left_running());
                        return lines;
                    }
                }
            }
            None => return Vec::new(),
        };
        let pipeline = &pipeline;
        let left = &|why: String| format!("pipeline #{} ({}) left running: {why}", pipeline.number, pipeline.url);
        let workflows = match client.pipeline_workflows(&pipeline.id).await {
            Ok(workflows) => workflows,
            Err(error) => return vec![left(format!("its workflows could not be listed: {error}"))],
        };
        let cancels = workflows.into_iter().filter(|w| !w.status.is_terminal()).map(|workflow| async move {
            match client.cancel_workflow(&workflow.id).await {
                Ok(_) => format!("cancelled workflow `{}` of pipeline #{}", workflow.name, pipeline.number),
                Err(error) => left(format!("workflow `{}` could not be cancelled: {error}", workflow.name)),
            }
        });
        join_all(cancels).await
    }
}

/// The page of pipeline `number` of project `slug` in the installation's UI.
pub fn pipeline_url(client: &ApiClient, slug: &str, number: u64) -> String {
    format!("{}/pipelines/{slug}/{number}", realitycheck_config::display_host(client.host()))
}
