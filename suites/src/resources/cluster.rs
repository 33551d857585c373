//! Kubernetes access as the checks of one run share it: the client, connected by the first
//! check that asks, the installation's Helm release ([`InstalledRelease`]), read once, and the
//! Nomad server pod the nomad CLI runs in, found once.

use std::sync::Arc;
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::{CloudProvider, Nomad, Target};

use crate::clients::cluster::{Cluster, ClusterError};
use crate::clients::pods::PodState;
use crate::resources::release::InstalledRelease;

/// Why no Nomad server pod can be used.
#[derive(Debug, thiserror::Error)]
pub enum NomadPodError {
    /// The Kubernetes API failed.
    #[error(transparent)]
    Cluster(Arc<ClusterError>),
    /// No pod of the selector is Running and Ready; `found` lists the ones that match.
    #[error("no Running and Ready pod matches `{selector}` in namespace `{namespace}`")]
    NoReadyPod {
        /// The label selector of the Nomad server pods.
        selector: String,
        /// The release's namespace.
        namespace: String,
        /// The pods that match, in their state.
        found: Vec<PodState>,
    },
}

/// The Kubernetes API of the installation and its Nomad server pod.
#[derive(Clone)]
pub struct ClusterAccess {
    client: Arc<Fixture<Cluster, ClusterError>>,
    nomad_pod: Arc<Fixture<String, NomadPodError>>,
    release: Arc<Fixture<InstalledRelease, Arc<ClusterError>>>,
    namespace: String,
    nomad: Nomad,
    cloud_provider: Option<CloudProvider>,
    expect_chart_version: Option<String>,
}

impl ClusterAccess {
    /// Access to `target`'s cluster; each call may take `call_timeout`. Nothing connects yet.
    pub fn new(target: &Target, call_timeout: Duration) -> ClusterAccess {
        let kubernetes = target.kubernetes.clone();
        let client = Arc::new(Fixture::new("kubernetes client", move || {
            let kubernetes = kubernetes.clone();
            async move { Cluster::connect(&kubernetes, call_timeout).await }
        }));
        let selector = target.nomad.server_selector.clone();
        let for_pod = Arc::clone(&client);
        let nomad_pod = Arc::new(Fixture::new("nomad server pod", move || {
            let (client, selector) = (Arc::clone(&for_pod), selector.clone());
            async move { ready_pod(&client, &selector).await }
        }));
        let (for_release, configured) = (Arc::clone(&client), target.server_version.clone());
        let release = Arc::new(Fixture::new("helm release", move || {
            let (client, configured) = (Arc::clone(&for_release), configured.clone());
            async move {
                let cluster = client.get().await?;
                Ok(InstalledRelease::read(cluster, configured.as_deref()).await)
            }
        }));
        ClusterAccess {
            client,
            nomad_pod,
            release,
            namespace: target.kubernetes.namespace.clone(),
            nomad: target.nomad.clone(),
            cloud_provider: target.cloud_provider,
            expect_chart_version: target.kubernetes.expect_chart_version.clone(),
        }
    }

    /// The Kubernetes client, connected by the first check that asks.
    pub async fn client(&self) -> Result<&Cluster, Arc<ClusterError>> {
        self.client.get().await
    }

    /// The name of a Running and Ready Nomad server pod, found once.
    pub async fn nomad_pod(&self) -> Result<&str, Arc<NomadPodError>> {
        self.nomad_pod.get().await.map(String::as_str)
    }

    /// The installation's Helm release and server version, read once.
    pub async fn release(&self) -> Result<&InstalledRelease, Arc<ClusterError>> {
        self.release.get().await.map_err(|e| (*e).clone())
    }

    /// The release's namespace, as configured.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Nomad settings: the server pods' selector and the clients that must be ready.
    pub fn nomad(&self) -> &Nomad {
        &self.nomad
    }

    /// The cloud the installation runs on, as configured.
    pub fn cloud_provider(&self) -> Option<CloudProvider> {
        self.cloud_provider
    }

    /// The chart version the release must run, if configured.
    pub fn expect_chart_version(&self) -> Option<&str> {
        self.expect_chart_version.as_deref()
    }
}

async fn ready_pod(client: &Fixture<Cluster, ClusterError>, selector: &str) -> Result<String, NomadPodError> {
    let cluster = client.get().await.map_err(NomadPodError::Cluster)?;
    let pods = cluster.pods(Some(selector)).await.map_err(|e| NomadPodError::Cluster(Arc::new(e)))?;
    let states: Vec<PodState> = pods.iter().map(PodState::of).collect();
    states.iter().find(|p| p.phase == "Running" && p.ready).map(|p| p.name.clone()).ok_or_else(|| {
        NomadPodError::NoReadyPod {
            selector: selector.to_string(),
            namespace: cluster.namespace().to_string(),
            found: states,
        }
    })
}
