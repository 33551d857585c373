//! One pipeline of the realitycheck project per run: triggered by the first check that waits
//! for it, with the parameters that start the workflows of the jobs the selected checks
//! declared ([`PipelineAccess`]); the one shared poller that follows its workflows and jobs
//! (`poller`); and the run that ties them together (`run`).

pub mod poller;
pub mod run;

use std::convert::Infallible;
use std::sync::Arc;

use harness::Fixture;
use realitycheck_project::ParameterSwitches;

use super::api::{ApiAccess, ProjectAccess};
use crate::clients::circleci::ApiClient;
pub use poller::{PollEnd, PollIntervals, Snapshot, WorkflowState};
pub use run::{ContextValues, PipelineRun, TriggerError};

/// The run's pipeline, started once: a failed start is kept as a value, never retried.
type PipelineFixture = Fixture<Result<Arc<PipelineRun>, Arc<TriggerError>>, Infallible>;

/// The run's pipeline as the pipeline checks share it.
#[derive(Clone)]
pub struct PipelineAccess {
    run: Arc<PipelineFixture>,
}

impl PipelineAccess {
    /// The pipeline of `project`, to be triggered with `switches` on the branch and image
    /// registry of `settings`; nothing is triggered yet.
    pub fn new(
        api: &ApiAccess,
        project: &ProjectAccess,
        settings: &realitycheck_config::Pipeline,
        switches: ParameterSwitches,
        poll: PollIntervals,
    ) -> PipelineAccess {
        let (client, project, settings) = (api.client().clone(), project.clone(), settings.clone());
        let run = Fixture::new("pipeline", move || {
            let (client, project, settings, switches) =
                (client.clone(), project.clone(), settings.clone(), switches.clone());
            async move {
                let run = PipelineRun::start(&client, &project, &settings, switches, poll).await;
                Ok(run.map(Arc::new).map_err(Arc::new))
            }
        });
        PipelineAccess { run: Arc::new(run) }
    }

    /// The run's pipeline, triggered now if no check did before; a failed trigger is tried
    /// once per run.
    pub async fn run(&self) -> Result<Arc<PipelineRun>, Arc<TriggerError>> {
        match self.run.get().await {
            Ok(started) => started.clone(),
            Err(infallible) => match *infallible {},
        }
    }

    /// Cancels the workflows of the pipeline, if it started, that have not finished (jobs
    /// stuck in a queue would otherwise run whenever the installation recovers). One line
    /// per workflow, saying what was done.
    pub async fn cancel_unfinished(&self, client: &ApiClient) -> Vec<String> {
        let Some(Ok(run)) = self.run.peek() else {
            return Vec::new();
        };
        run.cancel_unfinished(client).await.into_iter().map(|outcome| outcome.unwrap_or_else(|e| e)).collect()
    }
}
