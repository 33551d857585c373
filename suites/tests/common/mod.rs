//! What the integration tests of the suites share: the simulation as a target.

use std::path::PathBuf;

use realitycheck_config::{Kubernetes, Nomad, Pipeline, Secret, Target};
use realitycheck_sim::sim::SimServer;
use url::Url;

/// The simulation `server` as target `name`: its API (trusting its CA) with its token and
/// project, its cluster through `kubeconfig` (none: the cluster is not reached), no cloud
/// provider, the default pipeline settings.
pub fn sim_target(name: &str, server: &SimServer, kubeconfig: Option<PathBuf>) -> Target {
    let context = kubeconfig.as_ref().map(|_| realitycheck_sim::KUBE_CONTEXT.to_string());
    Target {
        name: name.into(),
        host: Some(Url::parse(&server.circleci_url()).unwrap()),
        token: Some(Secret::new(realitycheck_sim::SIM_TOKEN)),
        cloud_provider: None,
        project: Some(realitycheck_sim::SIM_PROJECT.into()),
        ca_bundle: Some(server.ca_bundle().to_path_buf()),
        insecure: false,
        tls_min_days: 30,
        max_pages: suites::clients::circleci::DEFAULT_MAX_PAGES,
        kubernetes: Kubernetes {
            kubeconfig,
            context,
            namespace: realitycheck_sim::NAMESPACE.into(),
            expect_chart_version: None,
        },
        nomad: Nomad { server_selector: "app=nomad-server".into(), min_clients: 1, mtls_min_days: 30 },
        pipeline: Pipeline::default(),
    }
}
