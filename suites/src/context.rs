//! What checks share during one run: the target's settings and the lazily started fixtures
//! (the Kubernetes client, the Nomad server pod to exec into).

use std::sync::Arc;
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::Target;

use crate::cluster::{Cluster, ClusterError};
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
}

impl Context {
    /// `cluster_timeout` bounds each Kubernetes API read.
    pub fn new(target: Target, cluster_timeout: Duration) -> Context {
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
        Context { target, cluster, nomad_pod }
    }
}
