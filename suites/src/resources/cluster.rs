//! Kubernetes access as the checks of one run share it: the client, connected by the first
//! check that asks, the installation's Helm release ([`InstalledRelease`]), read once, and the
//! way to the Nomad servers ([`NomadRoute`]: a server pod or their HTTP API), found once.

use std::sync::Arc;
use std::time::Duration;

use harness::Fixture;
use realitycheck_config::{CloudProvider, Nomad, Target, Upgrade};

use crate::clients::cluster::{Cluster, ClusterError};
use crate::clients::pods::PodState;
use crate::resources::nomad::{NomadAccessError, NomadError, NomadRoute, NomadServers};
use crate::resources::release::InstalledRelease;

/// Why no Nomad server pod can be used.
#[derive(Debug, thiserror::Error)]
pub enum NomadPodError {
    /// The Kubernetes API failed.
    #[error(transparent)]
    Cluster(Arc<ClusterError>),
    /// No pod of the selector is Running and Ready; `found` lists the ones that match.
    #[error("no Running and Ready pod matches `{selector}` in namespace `{namespace}`{}", unknown_release.as_ref().map_or_else(String::new, |why| format!(" ({why}, so realitycheck looked for in-cluster servers; set nomad.address if they run outside the cluster)")))]
    NoReadyPod {
        /// The label selector of the Nomad server pods.
        selector: String,
        /// The release's namespace.
        namespace: String,
        /// The pods that match, in their state.
        found: Vec<PodState>,
        /// Why the release could not say where its servers run, when it could not.
        unknown_release: Option<String>,
    },
}

/// The Kubernetes API of the installation and its Nomad server pod.
#[derive(Clone)]
pub struct ClusterAccess {
    client: Arc<Fixture<Cluster, ClusterError>>,
    release: Arc<Fixture<InstalledRelease, Arc<ClusterError>>>,
    nomad: Arc<Fixture<NomadRoute, NomadAccessError>>,
    namespace: String,
    nomad_settings: Nomad,
    cloud_provider: Option<CloudProvider>,
    expect_chart_version: Option<String>,
    upgrade_settings: Upgrade,
    call_timeout: Duration,
}

impl ClusterAccess {
    /// Access to `target`'s cluster; each call may take `call_timeout`. Nothing connects yet.
    pub fn new(target: &Target, call_timeout: Duration) -> ClusterAccess {
        let kubernetes = target.kubernetes.clone();
        let client = Arc::new(Fixture::new("kubernetes client", move || {
            let kubernetes = kubernetes.clone();
            async move { Cluster::connect(&kubernetes, call_timeout).await }
        }));
        let (for_release, configured) = (Arc::clone(&client), target.server_version.clone());
        let release = Arc::new(Fixture::new("helm release", move || {
            let (client, configured) = (Arc::clone(&for_release), configured.clone());
            async move {
                let cluster = client.get().await?;
                InstalledRelease::read(cluster, configured.as_deref()).await.map_err(Arc::new)
            }
        }));
        let (for_nomad, of_release, settings) = (Arc::clone(&client), Arc::clone(&release), target.nomad.clone());
        let nomad = Arc::new(Fixture::new("nomad servers", move || {
            let (client, release, settings) = (Arc::clone(&for_nomad), Arc::clone(&of_release), settings.clone());
            async move {
                let cluster = client.get().await.map_err(NomadAccessError::Cluster)?;
                let release =
                    release.get().await.map_err(|e: Arc<Arc<ClusterError>>| NomadAccessError::Cluster((*e).clone()))?;
                NomadRoute::find(cluster, release, &settings, call_timeout).await
            }
        }));
        ClusterAccess {
            client,
            release,
            nomad,
            namespace: target.kubernetes.namespace.clone(),
            nomad_settings: target.nomad.clone(),
            cloud_provider: target.cloud_provider,
            expect_chart_version: target.kubernetes.expect_chart_version.clone(),
            upgrade_settings: target.upgrade.clone(),
            call_timeout,
        }
    }

    /// The Kubernetes client, connected by the first check that asks.
    pub async fn client(&self) -> Result<&Cluster, Arc<ClusterError>> {
        self.client.get().await
    }

    /// The Nomad servers, reached through a server pod or their HTTP API as the release says,
    /// the way found once.
    pub async fn nomad(&self) -> Result<NomadServers<'_>, NomadError> {
        let route = self.nomad.get().await.map_err(NomadError::Access)?;
        let cluster = self.client().await.map_err(|e| NomadError::Access(Arc::new(NomadAccessError::Cluster(e))))?;
        Ok(NomadServers { route, cluster })
    }

    /// The installation's Helm release and server version, read once.
    pub async fn release(&self) -> Result<&InstalledRelease, Arc<ClusterError>> {
        self.release.get().await.map_err(|e| (*e).clone())
    }

    /// How long one call to the cluster or the Nomad servers may take.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The release's namespace, as configured.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Nomad settings: the server pods' selector, the external servers' address and TLS,
    /// the clients that must be ready.
    pub fn nomad_settings(&self) -> &Nomad {
        &self.nomad_settings
    }

    /// The cloud the installation runs on, as configured.
    pub fn cloud_provider(&self) -> Option<CloudProvider> {
        self.cloud_provider
    }

    /// The chart version the release must run, if configured.
    pub fn expect_chart_version(&self) -> Option<&str> {
        self.expect_chart_version.as_deref()
    }

    /// What `upgrade-check` is told besides what the installation says.
    pub fn upgrade_settings(&self) -> &Upgrade {
        &self.upgrade_settings
    }
}

/// A Running and Ready pod of `selector`; `unknown_release` says why the release could not
/// tell where the servers run, for the error when there is none.
pub(crate) async fn ready_pod(
    cluster: &Cluster,
    selector: &str,
    unknown_release: Option<String>,
) -> Result<String, NomadPodError> {
    let pods = cluster.pods(Some(selector)).await.map_err(|e| NomadPodError::Cluster(Arc::new(e)))?;
    let states: Vec<PodState> = pods.iter().map(PodState::of).collect();
    states.iter().find(|p| p.phase == "Running" && p.ready).map(|p| p.name.clone()).ok_or_else(|| {
        NomadPodError::NoReadyPod {
            selector: selector.to_string(),
            namespace: cluster.namespace().to_string(),
            found: states,
            unknown_release,
        }
    })
}
