//! The checks of realitycheck, by suite, and the preflights they need. Each suite module
//! holds its checks' bodies and the pure functions that judge what the bodies observed.

pub mod api;
pub mod cluster;
pub mod contexts;
pub mod executors;
pub mod features;
mod jobs;
pub mod nomad;
pub mod pipeline;

use std::sync::Arc;

use harness::{Check, CheckKind, Diagnosis, Preflight, Tag};

use realitycheck_config::Target;

use crate::cluster::ClusterError;
use crate::context::Context;

/// Every check for `target`, in the order reports list them: one `resource_classes::` check
/// per docker resource class the target configures.
pub fn all(target: &Target) -> Vec<Check<Context>> {
    let mut checks = vec![
        cluster::pods_ready(),
        nomad::servers_alive(),
        nomad::clients_ready(),
        api::authenticated(),
        api::project(),
        contexts::org_global(),
        contexts::individual_local(),
        pipeline::trigger(),
        executors::docker(),
        executors::machine(),
        executors::remote_docker(),
        executors::runner(),
        executors::arm(),
        executors::windows(),
    ];
    checks.extend(target.pipeline.docker_resource_classes.iter().map(|class| executors::docker_resource_class(class)));
    checks.extend([
        features::contexts(),
        features::workspaces(),
        features::cache(),
        features::artifacts(),
        features::test_results(),
    ]);
    checks
}

/// Reachability checks run before any check that needs them; a failure ends the run (exit 3).
pub fn preflights() -> Vec<Preflight<Context>> {
    vec![
        Preflight::new("kubernetes-api", Tag::NeedsCluster, CheckKind::Cluster, |ctx: Arc<Context>| async move {
            let cluster = ctx.cluster.get().await.map_err(|e| {
                format!("{e}; check KUBECONFIG, --kube-context and that the cluster is reachable from here")
            })?;
            let version = cluster
                .version()
                .await
                .map_err(|e| format!("{e}; check the kubeconfig context, VPN or network path, and the API server"))?;
            Ok(format!("Kubernetes {version} at {}, namespace {}", cluster.url(), cluster.namespace()))
        }),
        Preflight::new("circleci-api", Tag::NeedsApi, CheckKind::Api, api::preflight),
    ]
}

/// A Kubernetes API failure met by a check after the preflight passed (RBAC, a pod gone).
pub(crate) fn cluster_failure(error: &ClusterError) -> Diagnosis {
    let diagnosis = Diagnosis::new(error.to_string()).phase("Kubernetes access");
    match error {
        ClusterError::ListPods { namespace, .. } => diagnosis
            .cause("the API refused or failed the pod list: missing RBAC permission, or the namespace does not exist")
            .remediation(format!("grant `list` on pods in the namespace to this identity (`kubectl auth can-i list pods -n {namespace}`), and check --namespace")),
        ClusterError::Exec { namespace, .. } => diagnosis
            .cause("the exec into the pod failed: missing RBAC permission, or the pod or container went away")
            .remediation(format!("grant `get` and `create` on pods/exec in the namespace (`kubectl auth can-i create pods/exec -n {namespace}`), and check the pod")),
        ClusterError::Config { .. } | ClusterError::Unreachable { .. } => diagnosis
            .cause("the Kubernetes API could not be used")
            .remediation("check KUBECONFIG, --kube-context and the network path to the API server"),
    }
}
