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
use realitycheck_project::{ParameterSwitches, ProjectContext};

use super::api::{ApiAccess, ProjectAccess};
use super::cluster::ClusterAccess;
use crate::clients::circleci::ApiClient;
pub use ledger::{Ledger, StartedPipeline};
pub use poller::{PollEnd, PollIntervals, Snapshot, WorkflowState};
pub use run::{ContextValues, PipelineRun, RUN_IN_PROGRESS, TriggerError};

/// How long the end of a run spends cancelling what it started, all cancels at once.
pub const CLEANUP_GRACE: Duration = Duration::from_secs(10);

/// Pages of the project's newest pipelines searched for this run's own.
const PIPELINE_PAGES_SEARCHED: u32 = 3;

/// The run's pipeline, started once: a failed start is kept as a value, never retried.
type PipelineFixture = Fixture<Result<Arc<PipelineRun>, Arc<TriggerError>>, Infallible>;

/// Whether the release of `cluster`'s namespace enables OIDC (`oidc_service.isEnabled`); a
/// release that cannot be read enables nothing.
pub async fn oidc_enabled(cluster: &ClusterAccess) -> bool {
    let release = cluster.release().await;
    release.ok().and_then(|release| release.record()).and_then(|record| record.oidc.enabled).unwrap_or(false)
}

/// The run's pipeline as the pipeline checks share it.
#[derive(Clone)]
pub struct PipelineAccess {
    run: Arc<PipelineFixture>,
    ledger: Ledger,
    slug: String,
}

impl PipelineAccess {
    /// The pipeline of `project`, to be triggered with `switches` on the branch and image
    /// registry of `settings`, recorded in `ledger`; nothing is triggered yet. With `release`,
    /// the `oidc` switch stays on only when the installation's release enables OIDC (the job
    /// would get no token, and `features::oidc_token` skips).
    pub fn new(
        api: &ApiAccess,
        project: &ProjectAccess,
        settings: &realitycheck_config::Pipeline,
        switches: ParameterSwitches,
        poll: PollIntervals,
        ledger: Ledger,
        release: Option<ClusterAccess>,
    ) -> PipelineAccess {
        let slug = project.slug().to_string();
        let (client, project, settings, record) =
            (api.client().clone(), project.clone(), settings.clone(), ledger.clone());
        let run = Fixture::new("pipeline", move || {
            let (client, project, settings, mut switches, ledger, release) =
                (client.clone(), project.clone(), settings.clone(), switches.clone(), record.clone(), release.clone());
            async move {
                if let (true, Some(release)) = (switches.oidc, release) {
                    switches.oidc = oidc_enabled(&release).await;
                }
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

    /// The run's pipeline if a check started it (never triggers it).
    pub fn started(&self) -> Option<Arc<PipelineRun>> {
        self.run.peek().and_then(|started| started.as_ref().ok()).cloned()
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

    /// [`Self::end`], spending at most `grace` on it. The run-in-progress marker this run set
    /// in the contexts is removed too (unless another run has set it since).
    pub async fn end_within(&self, client: &ApiClient, grace: Duration) -> Vec<String> {
        let ending = async {
            let (mut lines, released) = tokio::join!(self.cancel_unfinished(client), self.release_claim(client));
            lines.extend(released);
            lines
        };
        let ended = tokio::time::timeout(grace, ending).await;
        ended.unwrap_or_else(|_| {
            let mut lines = vec![format!("cancelling did not finish within {}", harness::humanize(grace))];
            lines.extend(self.ledger.left_running());
            lines
        })
    }

    /// When this run set the context values and another run has set its run-in-progress
    /// marker since (or removed it), what happened: the values the jobs read may be the other
    /// run's.
    pub async fn values_taken_over(&self, client: &ApiClient) -> Option<String> {
        let claim = self.ledger.claim()?;
        let variables = client.context_variables(&claim.context_id).await.ok()?;
        let marker = variables.iter().find(|v| v.variable == RUN_IN_PROGRESS);
        match marker {
            Some(marker) if marker.updated_at == claim.updated_at => None,
            Some(marker) => Some(format!(
                "another realitycheck run set the contexts' values (its {RUN_IN_PROGRESS} marker at {}) while this run's job read them",
                marker.updated_at.as_deref().unwrap_or("an unknown time")
            )),
            None => Some(format!(
                "another realitycheck run removed this run's {RUN_IN_PROGRESS} marker while this run's job read the contexts"
            )),
        }
    }

    /// The context variables this run set that were changed or removed since (their
    /// `updated_at` differs from the one the PUT answered), one line each; a line too when a
    /// context's variables could not be listed.
    pub async fn values_changed_since_set(&self, client: &ApiClient) -> Vec<String> {
        let mut lines = Vec::new();
        for set in self.ledger.values_set() {
            let ProjectContext { name, variable } = set.context;
            let variables = match client.context_variables(&set.context_id).await {
                Ok(variables) => variables,
                Err(error) => {
                    lines.push(format!("the variables of `{name}` could not be listed: {error}"));
                    continue;
                }
            };
            let set_at = set.updated_at.as_deref().unwrap_or("an unknown time");
            match variables.iter().find(|v| v.variable == variable) {
                None => lines.push(format!("{variable} was removed from `{name}` after this run set it at {set_at}")),
                Some(now) if now.updated_at != set.updated_at => lines.push(format!(
                    "{variable} in `{name}` was changed at {}, after this run set it at {set_at}",
                    now.updated_at.as_deref().unwrap_or("an unknown time")
                )),
                Some(_) => {}
            }
        }
        lines
    }

    /// Removes this run's run-in-progress marker; a line only when that failed.
    async fn release_claim(&self, client: &ApiClient) -> Option<String> {
        let claim = self.ledger.claim()?;
        let variables = match client.context_variables(&claim.context_id).await {
            Ok(variables) => variables,
            Err(error) => return Some(format!("the {RUN_IN_PROGRESS} marker could not be checked: {error}")),
        };
        let ours = variables.iter().any(|v| v.variable == RUN_IN_PROGRESS && v.updated_at == claim.updated_at);
        if !ours {
            return None;
        }
        client.delete_context_variable(&claim.context_id, RUN_IN_PROGRESS).await.err().map(|error| {
            format!("the {RUN_IN_PROGRESS} marker could not be removed ({error}): other runs compare context values for presence only for an hour")
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
