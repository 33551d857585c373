//! What checks share during one run: the target's settings and the lazily started fixtures
//! (the Kubernetes client, the Nomad server pod to exec into, the CircleCI API answers).

use std::sync::Arc;
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::Target;

use crate::api::Api;
use crate::cluster::{Cluster, ClusterError};
use crate::pipeline::PollIntervals;
use crate::pods::PodState;

/// Why no Nomad server pod can be used.
#[derive(Debug, thiserror::Error)]
pub enum NomadPodError {
    #[error(transparent)]
    Cluster(Arc<ClusterError>),
    #[error("no Running and Ready pod matches `{selector}` in namespace `{namespace}`")]
    NoReadyPod { selector: String, namespace: String, found: Vec<PodState> },
}

pub struct Context {
    pub target: Target,
    pub cluster: Arc<Fixture<Cluster, ClusterError>>,
    /// Name of the Nomad server pod the nomad CLI runs in.
    pub nomad_pod: Fixture<String, NomadPodError>,
    /// The CircleCI API; `None` when no host or token is configured.
    pub api: Option<Api>,
    /// `run --setup-contexts`: create the contexts and variables that are missing.
    pub setup_contexts: bool,
    /// The pipeline checks' timeout.
    pub pipeline_timeout: Duration,
}

/// How long one call may take, by kind.
#[derive(Debug, Clone, Copy)]
pub struct CallTimeouts {
    pub cluster: Duration,
    pub api: Duration,
    /// How long a pipeline check may wait for its jobs (it reports what it saw shortly before).
    pub pipeline: Duration,
}

impl Context {
    /// The error says why the API client cannot be built (its CA bundle).
    pub fn new(
        target: Target,
        timeouts: CallTimeouts,
        setup_contexts: bool,
        poll: PollIntervals,
    ) -> Result<Context, String> {
        let cluster_timeout = timeouts.cluster;
        let api = Api::for_target(&target, timeouts.api, setup_contexts, poll)?;
        let kubernetes = target.kubernetes.clone();
        let cluster = Arc::new(Fixture::new("kubernetes client", move || {
            let kubernetes = kubernetes.clone();
            async move { Cluster::connect(&kubernetes, cluster_timeout).await }
        }));
        let selector = target.nomad.server_selector.clone();
        let for_pod = Arc::clone(&cluster);
        let nomad_pod = Fixture::new("nomad server pod", move || {
            let (cluster, selector) = (Arc::clone(&for_pod), selector.clone());
            async move {
                let cluster = cluster.get().await.map_err(NomadPodError::Cluster)?;
                let pods = cluster.pods(Some(&selector)).await.map_err(|e| NomadPodError::Cluster(Arc::new(e)))?;
                let states: Vec<PodState> = pods.iter().map(PodState::of).collect();
                states.iter().find(|p| p.phase == "Running" && p.ready).map(|p| p.name.clone()).ok_or_else(|| {
                    NomadPodError::NoReadyPod {
                        selector: selector.clone(),
                        namespace: cluster.namespace().to_string(),
                        found: states,
                    }
                })
            }
        });
        Ok(Context { target, cluster, nomad_pod, api, setup_contexts, pipeline_timeout: timeouts.pipeline })
    }

    /// Tells the run which checks it runs (IDs), before any starts, so that its pipeline
    /// leaves out the workflows none of them waits for. Later calls change nothing.
    pub fn select_checks(&self, ids: Vec<String>) {
        if let Some(api) = &self.api {
            let _ = api.selected_checks.set(ids);
        }
    }

    /// Ends what the run started and left unfinished: the workflows of its pipeline whose
    /// jobs still wait (they would run whenever the installation recovers). Returns one line
    /// per workflow, for the operator.
    pub async fn finish(&self) -> Vec<String> {
        let Some(api) = &self.api else { return Vec::new() };
        let Some(Ok(run)) = api.pipeline.as_ref().and_then(|pipeline| pipeline.peek()) else {
            return Vec::new();
        };
        run.cancel_unfinished(&api.client).await.into_iter().map(|outcome| outcome.unwrap_or_else(|e| e)).collect()
    }
}
