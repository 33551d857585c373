//! The pipeline parameters realitycheck triggers the project with: switches that start the
//! workflows of the jobs a run waits for (derived from those jobs, never from check names),
//! the image registry, the run's id, and the digest of the context values the `contexts` job
//! must see.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cloud::CloudProvider;
use crate::jobs::{Job, Needs, Workflow};

/// The parameters that start workflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSwitches {
    /// Starts the `docker` workflow.
    pub docker: bool,
    /// Starts the `features` workflow.
    pub features: bool,
    /// `aws` or `gcp` starts the `machine` workflow, `aws` the `arm` workflow too.
    pub cloud_provider: CloudProvider,
    /// A class starts the `runner` workflow on it.
    pub runner_resource_class: Option<String>,
    /// Starts the `windows` workflow.
    pub windows: bool,
    /// Starts the `docker_resource_classes` workflow.
    pub docker_resource_classes: bool,
    /// Starts the `dlc` workflow (with `cloud_provider` aws or gcp).
    pub dlc: bool,
    /// Starts the `oidc` workflow. Set for the `oidc` job; the run clears it when the release
    /// does not enable OIDC (the job would get no token).
    pub oidc: bool,
}

impl ParameterSwitches {
    /// The switches that start the workflows of `jobs` and no other. The machine, Arm, DLC and
    /// Android workflows are gated by the installation's `cloud_provider` (`None`: no machine
    /// job).
    pub fn for_jobs<'a>(jobs: impl IntoIterator<Item = &'a Job>, cloud_provider: Option<CloudProvider>) -> Self {
        let mut switches = ParameterSwitches {
            docker: false,
            features: false,
            cloud_provider: CloudProvider::Other,
            runner_resource_class: None,
            windows: false,
            docker_resource_classes: false,
            dlc: false,
            oidc: false,
        };
        for job in jobs {
            match job.workflow {
                Workflow::Docker => switches.docker = true,
                Workflow::Features => switches.features = true,
                Workflow::Machine | Workflow::Arm | Workflow::Android => {
                    switches.cloud_provider = cloud_provider.unwrap_or(CloudProvider::Other);
                }
                Workflow::Dlc => {
                    switches.cloud_provider = cloud_provider.unwrap_or(CloudProvider::Other);
                    switches.dlc = true;
                }
                Workflow::Oidc => switches.oidc = true,
                Workflow::Runner => {
                    if let Needs::Runner(class) = &job.needs {
                        switches.runner_resource_class = Some(class.clone());
                    }
                }
                Workflow::Windows => switches.windows = true,
                Workflow::DockerResourceClasses => switches.docker_resource_classes = true,
            }
        }
        switches
    }
}

/// The executor a capacity workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapacityExecutor {
    /// Docker containers on the Nomad clients.
    Docker,
    /// Linux VMs the machine provisioner starts.
    Machine,
}

impl CapacityExecutor {
    /// The value of the `capacity_executor` parameter, and the executor's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityExecutor::Docker => "docker",
            CapacityExecutor::Machine => "machine",
        }
    }

    /// The job (and its workflow) of the config that runs the workload.
    pub fn job_name(self) -> &'static str {
        match self {
            CapacityExecutor::Docker => "capacity_docker",
            CapacityExecutor::Machine => "capacity_machine",
        }
    }
}

/// What `realitycheck capacity` asks the project to run: `containers` containers of one job
/// (its parallelism), each on `resource_class`, each holding its executor `hold_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityWorkload {
    /// The executor the containers run on.
    pub executor: CapacityExecutor,
    /// How many run at once (at least 1).
    pub containers: u32,
    /// The resource class each asks for.
    pub resource_class: String,
    /// How long each holds its executor.
    pub hold_seconds: u32,
}

/// The parameters of one run's pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// Names the run in artifacts, caches and test names.
    pub run_id: String,
    /// Which workflows run.
    pub switches: ParameterSwitches,
    /// Prefix of every docker image (air-gapped installs), empty or ending in `/`.
    pub image_registry: String,
    /// `None`: realitycheck does not know the context values (it did not set them), and the
    /// `contexts` job only checks that both variables are set.
    pub context_digest: Option<String>,
    /// The capacity workload to run; `None` runs none.
    pub capacity: Option<CapacityWorkload>,
}

impl Parameters {
    /// The pipeline parameters the config declares; a trigger may set only these.
    pub const NAMES: [&'static str; 15] = [
        "run_id",
        "docker",
        "features",
        "cloud_provider",
        "runner_resource_class",
        "windows",
        "docker_resource_classes",
        "image_registry",
        "context_digest",
        "dlc",
        "oidc",
        "capacity_executor",
        "capacity_jobs",
        "capacity_resource_class",
        "capacity_hold_seconds",
    ];

    /// The trigger body's `parameters`, named as the config declares them (every one of
    /// [`Parameters::NAMES`]).
    pub fn to_json(&self) -> Map<String, Value> {
        let switches = &self.switches;
        let capacity = self.capacity.as_ref();
        let values: [Value; 15] = [
            self.run_id.clone().into(),
            switches.docker.into(),
            switches.features.into(),
            switches.cloud_provider.as_str().into(),
            switches.runner_resource_class.clone().unwrap_or_default().into(),
            switches.windows.into(),
            switches.docker_resource_classes.into(),
            self.image_registry.clone().into(),
            self.context_digest.clone().unwrap_or_default().into(),
            switches.dlc.into(),
            switches.oidc.into(),
            capacity.map_or("none", |workload| workload.executor.as_str()).into(),
            capacity.map_or(1, |workload| workload.containers).into(),
            capacity.map_or("medium", |workload| workload.resource_class.as_str()).into(),
            capacity.map_or(60, |workload| workload.hold_seconds).into(),
        ];
        Parameters::NAMES.iter().map(|name| name.to_string()).zip(values).collect()
    }
}

/// The value realitycheck sets, for one run, in a context variable it created.
pub fn context_value(run_id: &str, context_name: &str) -> String {
    format!("{run_id}/{context_name}")
}

/// The digest the `contexts` job computes: sha256 of the values joined by a newline, in hex.
pub fn context_digest(values: &[String]) -> String {
    let digest = Sha256::digest(values.join("\n").as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::FeatureJob;

    #[test]
    fn the_digest_is_what_sha256sum_prints_for_the_joined_values() {
        // printf 'a\nb' | sha256sum
        assert_eq!(
            context_digest(&["a".into(), "b".into()]),
            "7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78"
        );
    }

    #[test]
    fn parameters_are_named_as_the_config_declares_them() {
        let mut parameters = Parameters {
            run_id: "rc-1".into(),
            switches: ParameterSwitches::for_jobs(
                &[Job::docker(), Job::docker_resource_class("small")],
                Some(CloudProvider::Gcp),
            ),
            image_registry: "registry.example.com/".into(),
            context_digest: None,
            capacity: None,
        };
        assert_eq!(
            Value::Object(parameters.to_json()),
            serde_json::json!({"run_id": "rc-1", "docker": true, "features": false, "cloud_provider": "other",
                "runner_resource_class": "", "windows": false, "docker_resource_classes": true,
                "image_registry": "registry.example.com/", "context_digest": "", "dlc": false, "oidc": false,
                "capacity_executor": "none",
                "capacity_jobs": 1, "capacity_resource_class": "medium", "capacity_hold_seconds": 60})
        );
        parameters.switches.runner_resource_class = Some("org/runner".into());
        parameters.context_digest = Some("abc".into());
        parameters.capacity = Some(CapacityWorkload {
            executor: CapacityExecutor::Machine,
            containers: 50,
            resource_class: "large".into(),
            hold_seconds: 5,
        });
        let json = parameters.to_json();
        assert_eq!(
            (json["runner_resource_class"].as_str(), json["context_digest"].as_str()),
            (Some("org/runner"), Some("abc"))
        );
        assert_eq!(
            [
                &json["capacity_executor"],
                &json["capacity_jobs"],
                &json["capacity_resource_class"],
                &json["capacity_hold_seconds"]
            ],
            [&Value::from("machine"), &Value::from(50), &Value::from("large"), &Value::from(5)]
        );
    }

    #[test]
    fn switches_start_only_the_workflows_of_the_jobs_waited_for() {
        let aws = Some(CloudProvider::Aws);
        let all = [
            Job::docker(),
            Job::machine(),
            Job::remote_docker(),
            Job::arm(),
            Job::runner("org/runner"),
            Job::windows(),
            Job::docker_resource_class("small"),
            Job::feature(FeatureJob::Artifacts),
            Job::remote_docker_dlc(),
            Job::oidc(),
        ];
        assert_eq!(
            ParameterSwitches::for_jobs(&all, aws),
            ParameterSwitches {
                docker: true,
                features: true,
                cloud_provider: CloudProvider::Aws,
                runner_resource_class: Some("org/runner".into()),
                windows: true,
                docker_resource_classes: true,
                dlc: true,
                oidc: true,
            }
        );
        let android = ParameterSwitches::for_jobs(&[Job::android()], Some(CloudProvider::Gcp));
        assert_eq!((android.cloud_provider, android.dlc, android.oidc), (CloudProvider::Gcp, false, false));
        let dlc = ParameterSwitches::for_jobs(&[Job::machine_dlc()], None);
        assert_eq!((dlc.cloud_provider, dlc.dlc), (CloudProvider::Other, true), "the workflow's `when` keeps it off");
        let docker_only = ParameterSwitches::for_jobs(&[Job::docker()], aws);
        assert_eq!(
            (docker_only.docker, docker_only.features, docker_only.cloud_provider, docker_only.windows),
            (true, false, CloudProvider::Other, false)
        );
        assert_eq!(docker_only.runner_resource_class, None);
        let arm = ParameterSwitches::for_jobs(&[Job::arm()], aws);
        assert_eq!((arm.cloud_provider, arm.docker, arm.docker_resource_classes), (CloudProvider::Aws, false, false));
        assert_eq!(ParameterSwitches::for_jobs(&[Job::machine()], None).cloud_provider, CloudProvider::Other);
    }
}
