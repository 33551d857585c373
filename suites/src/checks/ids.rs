//! The check IDs, defined once: the checks are built with them, and a check that names
//! another (a skip blocked by it) uses them. Docs, metrics and filters rely on them: they
//! are stable.

pub const PODS_READY: &str = "cluster::pods_ready";
pub const HELM_RELEASE: &str = "cluster::helm_release";
pub const KUBERNETES_VERSION: &str = "cluster::kubernetes_version";
pub const SERVERS_ALIVE: &str = "nomad::servers_alive";
pub const CLIENTS_READY: &str = "nomad::clients_ready";
pub const MTLS: &str = "nomad::mtls";
pub const GOSSIP_KEY: &str = "nomad::gossip_key";
pub const AUTOSCALER: &str = "nomad::autoscaler";
pub const MACHINE_PROVISIONER_CONFIG: &str = "machine_provisioner::config";
pub const AUTHENTICATED: &str = "api::authenticated";
pub const TLS_CERTIFICATE: &str = "api::tls_certificate";
pub const PROJECT: &str = "api::project";
pub const ORG_GLOBAL: &str = "contexts::org_global";
pub const INDIVIDUAL_LOCAL: &str = "contexts::individual_local";
pub const TRIGGER: &str = "pipeline::trigger";
pub const DOCKER: &str = "executors::docker";
pub const MACHINE: &str = "executors::machine";
pub const REMOTE_DOCKER: &str = "executors::remote_docker";
pub const RUNNER: &str = "executors::runner";
pub const ARM: &str = "executors::arm";
pub const WINDOWS: &str = "executors::windows";
pub const REMOTE_DOCKER_DLC: &str = "executors::remote_docker_dlc";
pub const MACHINE_DLC: &str = "executors::machine_dlc";
pub const ANDROID: &str = "executors::android";
pub const FEATURE_CONTEXTS: &str = "features::contexts";
pub const WORKSPACES: &str = "features::workspaces";
pub const CACHE: &str = "features::cache";
pub const ARTIFACTS: &str = "features::artifacts";
pub const TEST_RESULTS: &str = "features::test_results";
pub const CHECKOUT: &str = "features::checkout";
pub const ENV_SUBST: &str = "features::env_subst";
pub const OIDC_TOKEN: &str = "features::oidc_token";
pub const UPGRADE_PATH: &str = "upgrade::path";
pub const UPGRADE_KUBERNETES: &str = "upgrade::kubernetes";
pub const UPGRADE_RELEASE_STATE: &str = "upgrade::release_state";
pub const UPGRADE_VALUES: &str = "upgrade::values";
pub const UPGRADE_DATA_STORES: &str = "upgrade::data_stores";
pub const UPGRADE_NOMAD_CLIENTS: &str = "upgrade::nomad_clients";
pub const UPGRADE_BACKUP: &str = "upgrade::backup";

/// `resource_classes::docker_<class>`: one per configured docker resource class.
pub fn docker_resource_class(class: &str) -> String {
    format!("resource_classes::docker_{class}")
}

/// The family of the docker resource class checks, as the docs name it (one page for all).
pub const DOCKER_RESOURCE_CLASSES: &str = "resource_classes::docker_<class>";
