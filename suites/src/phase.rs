//! The parts of a CircleCI server installation a fix belongs to, as `harness::Phase` values:
//! named as the server install guide names its phases and parts. A diagnosis carries one;
//! reports print its label, and the evidence of a red check depends on it.

use harness::Phase;

/// Access to the Kubernetes API (kubeconfig, RBAC, network path).
pub const KUBERNETES_ACCESS: Phase = Phase::new("kubernetes-access", "Kubernetes access");

/// The Kubernetes cluster the installation runs on (its version).
pub const KUBERNETES_CLUSTER: Phase = Phase::new("kubernetes-cluster", "Kubernetes cluster");

/// The Helm release of CircleCI server and its pods.
pub const HELM_INSTALL: Phase = Phase::new("helm-install", "Helm install");

/// The Nomad servers inside the cluster.
pub const NOMAD_SERVERS: Phase = Phase::new("nomad-servers", "Nomad servers");

/// The Nomad clients that run docker jobs.
pub const NOMAD_CLIENTS: Phase = Phase::new("nomad-clients", "Nomad clients");

/// The mutual TLS between the Nomad servers, clients and CLI.
pub const NOMAD_MTLS: Phase = Phase::new("nomad-mtls", "Nomad mTLS");

/// The machine provisioner that starts VMs for machine, Arm, Windows and remote docker jobs.
pub const MACHINE_PROVISIONER: Phase = Phase::new("machine-provisioner", "machine provisioner");

/// Self-hosted runners.
pub const RUNNER: Phase = Phase::new("runner", "runner");

/// The CircleCI API of the installation.
pub const CIRCLECI_API: Phase = Phase::new("circleci-api", "CircleCI API");

/// The CircleCI contexts the realitycheck project uses.
pub const CONTEXTS: Phase = Phase::new("contexts", "contexts");

/// The realitycheck CircleCI project (its config, its setup on the installation).
pub const REALITYCHECK_PROJECT: Phase = Phase::new("realitycheck-project", "Reality Check project");

/// The object storage of artifacts and test results.
pub const OBJECT_STORAGE: Phase = Phase::new("object-storage", "object storage");

/// The OIDC service that gives jobs their identity tokens, its signing keys and its issuer.
pub const OIDC_SERVICE: Phase = Phase::new("oidc-service", "OIDC service");

/// The installation's data stores (MongoDB, and Vault or Tink for contexts' secrets).
pub const DATA_STORES: Phase = Phase::new("data-stores", "data stores");

/// Backup and restore of the installation (Velero).
pub const BACKUP: Phase = Phase::new("backup", "backup and restore");

/// Every phase.
pub const ALL: [Phase; 15] = [
    KUBERNETES_ACCESS,
    KUBERNETES_CLUSTER,
    HELM_INSTALL,
    NOMAD_SERVERS,
    NOMAD_CLIENTS,
    NOMAD_MTLS,
    MACHINE_PROVISIONER,
    RUNNER,
    CIRCLECI_API,
    CONTEXTS,
    REALITYCHECK_PROJECT,
    OBJECT_STORAGE,
    OIDC_SERVICE,
    DATA_STORES,
    BACKUP,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn keys_and_labels_are_unique_and_keys_kebab_case() {
        let keys: BTreeSet<&str> = ALL.iter().map(|phase| phase.key()).collect();
        let labels: BTreeSet<&str> = ALL.iter().map(|phase| phase.label()).collect();
        assert_eq!((keys.len(), labels.len()), (ALL.len(), ALL.len()));
        for key in keys {
            assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{key}");
        }
    }
}
