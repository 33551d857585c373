//! The pipeline parameters realitycheck triggers the project with: they select the workflows
//! that apply to the installation (cloud provider, runner, Windows, resource classes), the
//! image registry, this run's id, and the digest of the context values the contexts job must
//! see.

use std::time::{SystemTime, UNIX_EPOCH};

use realitycheck_config::{CloudProvider, Target};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The parameters of one run's pipeline: each selects workflows, except the run id, the
/// image registry and the context digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunParameters {
    pub run_id: String,
    /// Run the docker executor's job.
    pub docker: bool,
    /// Run the features workflow.
    pub features: bool,
    pub cloud_provider: CloudProvider,
    pub runner_resource_class: Option<String>,
    pub windows: bool,
    pub docker_resource_classes: bool,
    pub image_registry: String,
    /// `None`: realitycheck does not know the context values (it did not set them).
    pub context_digest: Option<String>,
}

impl RunParameters {
    /// The parameters `target` asks for; a target without a cloud provider runs no machine job.
    /// With `selected` (the IDs of the checks that run), workflows no selected check waits for
    /// are left out: no docker, features, runner, Windows or resource-class job, and no machine
    /// job (sent as cloud provider `other`) that nothing will judge; the Windows job runs when
    /// its check is selected.
    pub fn for_target(
        target: &Target,
        run_id: String,
        context_digest: Option<String>,
        selected: Option<&[String]>,
    ) -> RunParameters {
        let wanted =
            |ids: &[&str]| selected.is_none_or(|selected| selected.iter().any(|id| ids.contains(&id.as_str())));
        let any_of_suite = |suite: &str| selected.is_none_or(|s| s.iter().any(|id| id.starts_with(suite)));
        let machines = wanted(&["executors::machine", "executors::remote_docker", "executors::arm"]);
        RunParameters {
            run_id,
            docker: wanted(&["executors::docker"]),
            features: any_of_suite("features::"),
            cloud_provider: target.cloud_provider.filter(|_| machines).unwrap_or(CloudProvider::Other),
            runner_resource_class: target
                .pipeline
                .runner_resource_class
                .clone()
                .filter(|_| wanted(&["executors::runner"])),
            // A run told its checks runs the Windows job when executors::windows is among them,
            // even as an ignored check asked for with --include-ignored.
            windows: match selected {
                Some(_) => wanted(&["executors::windows"]),
                None => target.pipeline.windows,
            },
            docker_resource_classes: !target.pipeline.docker_resource_classes.is_empty()
                && any_of_suite("resource_classes::"),
            image_registry: target.pipeline.image_registry.clone(),
            context_digest,
        }
    }

    /// The body's `parameters`, named as the project's config declares them.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut parameters = Map::new();
        parameters.insert("run_id".into(), self.run_id.clone().into());
        parameters.insert("docker".into(), self.docker.into());
        parameters.insert("features".into(), self.features.into());
        parameters.insert("cloud_provider".into(), self.cloud_provider.as_str().into());
        parameters
            .insert("runner_resource_class".into(), self.runner_resource_class.clone().unwrap_or_default().into());
        parameters.insert("windows".into(), self.windows.into());
        parameters.insert("docker_resource_classes".into(), self.docker_resource_classes.into());
        parameters.insert("image_registry".into(), self.image_registry.clone().into());
        parameters.insert("context_digest".into(), self.context_digest.clone().unwrap_or_default().into());
        parameters
    }
}

/// A run id that names this run in artifacts, caches and test names: `rc-` and the time.
pub fn new_run_id() -> String {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("rc-{}-{:03}-{}", since_epoch.as_secs(), since_epoch.subsec_millis(), std::process::id() % 1000)
}

/// The value realitycheck sets, for one run, in a context variable it created.
pub fn context_value(run_id: &str, context_name: &str) -> String {
    format!("{run_id}/{context_name}")
}

/// The digest the contexts job computes: sha256 of the values joined by a newline, in hex.
pub fn context_digest(values: &[String]) -> String {
    let digest = Sha256::digest(values.join("\n").as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_what_sha256sum_prints_for_the_joined_values() {
        // printf 'a\nb' | sha256sum
        assert_eq!(
            context_digest(&["a".into(), "b".into()]),
            "7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78"
        );
    }

    #[test]
    fn parameters_carry_the_target_and_default_to_no_machine_jobs() {
        let mut parameters = RunParameters {
            run_id: "rc-1".into(),
            docker: true,
            features: false,
            cloud_provider: CloudProvider::Gcp,
            runner_resource_class: None,
            windows: false,
            docker_resource_classes: true,
            image_registry: "registry.example.com/".into(),
            context_digest: None,
        };
        let json = Value::Object(parameters.to_json());
        assert_eq!(
            json,
            serde_json::json!({"run_id": "rc-1", "docker": true, "features": false, "cloud_provider": "gcp", "runner_resource_class": "",
                "windows": false, "docker_resource_classes": true, "image_registry": "registry.example.com/",
                "context_digest": ""})
        );
        parameters.runner_resource_class = Some("org/runner".into());
        assert_eq!(parameters.to_json()["runner_resource_class"], "org/runner");
        assert!(new_run_id().starts_with("rc-"));
    }

    #[test]
    fn workflows_no_selected_check_waits_for_are_left_out() {
        let target = realitycheck_config::Target {
            name: "t".into(),
            host: None,
            token: None,
            cloud_provider: Some(CloudProvider::Aws),
            project: None,
            ca_bundle: None,
            insecure: false,
            kubernetes: realitycheck_config::Kubernetes { kubeconfig: None, context: None, namespace: "ns".into() },
            nomad: realitycheck_config::Nomad { server_selector: "app=nomad-server".into(), min_clients: 1 },
            pipeline: realitycheck_config::Pipeline {
                runner_resource_class: Some("org/runner".into()),
                windows: true,
                docker_resource_classes: vec!["small".into()],
                ..realitycheck_config::Pipeline::default()
            },
        };
        let all = RunParameters::for_target(&target, "rc".into(), None, None);
        assert_eq!(
            (all.cloud_provider, all.runner_resource_class.as_deref(), all.windows, all.docker_resource_classes),
            (CloudProvider::Aws, Some("org/runner"), true, true)
        );
        let docker_only = RunParameters::for_target(&target, "rc".into(), None, Some(&["executors::docker".into()]));
        assert_eq!(
            (
                docker_only.cloud_provider,
                docker_only.runner_resource_class,
                docker_only.windows,
                docker_only.docker_resource_classes
            ),
            (CloudProvider::Other, None, false, false)
        );
        let some = ["executors::arm".to_string(), "resource_classes::docker_small".to_string()];
        let arm = RunParameters::for_target(&target, "rc".into(), None, Some(&some));
        assert_eq!((arm.cloud_provider, arm.docker_resource_classes, arm.windows), (CloudProvider::Aws, true, false));
        assert_eq!((arm.docker, arm.features), (false, false));
    }
}
