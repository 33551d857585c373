//! The jobs of the project that realitycheck's checks wait for: each job's name, the resource
//! class its config asks for, what the installation needs to run it, and the workflow it runs
//! in (which decides the pipeline parameter that starts it). `tests/config.rs` holds this table
//! against the YAML.

use std::fmt;

/// The docker resource classes the project's `docker_resource_classes` matrix runs a job on.
pub const DOCKER_RESOURCE_CLASSES: &[&str] = &["small", "medium", "medium+", "large", "xlarge"];

/// The vCPUs and memory (MiB) a docker resource class asks of a Nomad client, as CircleCI
/// defines its classes; `None` for a class it does not define (a custom class of the docker
/// provisioner's config).
pub fn docker_class_size(class: &str) -> Option<(u32, u64)> {
    Some(match class {
        "small" => (1, 2048),
        "medium" => (2, 4096),
        "medium+" => (3, 6144),
        "large" => (4, 8192),
        "xlarge" => (8, 16384),
        "2xlarge" => (16, 32768),
        "2xlarge+" => (20, 40960),
        _ => return None,
    })
}

/// What part of the installation must work for a job to leave the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needs {
    /// A Nomad client ready, eligible, undrained, docker healthy (docker executor).
    NomadClient,
    /// The machine provisioner (machine, Arm and Windows executors).
    MachineProvisioner,
    /// A Nomad client for the job's container, then the machine provisioner for its remote engine.
    NomadClientAndMachineProvisioner,
    /// A self-hosted runner registered for this resource class.
    Runner(String),
}

/// A workflow of the project; each is started by one pipeline parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workflow {
    /// `docker`: the docker executor's job (parameter `docker`).
    Docker,
    /// `docker_resource_classes`: the resource-class matrix (parameter `docker_resource_classes`).
    DockerResourceClasses,
    /// `machine`: machine and remote docker jobs (parameter `cloud_provider` aws or gcp).
    Machine,
    /// `arm`: the Arm job (parameter `cloud_provider` aws).
    Arm,
    /// `runner`: the self-hosted runner's job (parameter `runner_resource_class` not empty).
    Runner,
    /// `windows`: the Windows job (parameter `windows`).
    Windows,
    /// `features`: contexts, workspaces, cache, artifacts, test results, checkout, `circleci
    /// env subst` (parameter `features`).
    Features,
    /// `dlc`: remote docker and machine jobs with Docker layer caching (parameter `dlc`, and
    /// `cloud_provider` aws or gcp).
    Dlc,
    /// `android`: the Android machine job (parameter `cloud_provider` gcp).
    Android,
    /// `oidc`: the job that verifies its OIDC tokens (parameter `oidc`).
    Oidc,
}

impl Workflow {
    /// The workflow's name in the config.
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Docker => "docker",
            Workflow::DockerResourceClasses => "docker_resource_classes",
            Workflow::Machine => "machine",
            Workflow::Arm => "arm",
            Workflow::Runner => "runner",
            Workflow::Windows => "windows",
            Workflow::Features => "features",
            Workflow::Dlc => "dlc",
            Workflow::Android => "android",
            Workflow::Oidc => "oidc",
        }
    }
}

/// A job of the features workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureJob {
    /// Reads both contexts' variables and compares their digest with `context_digest`.
    Contexts,
    /// Persists a workspace holding the run id.
    WriteWorkspace,
    /// Attaches the workspace and reads the run id (requires `write_workspace`).
    ReadWorkspace,
    /// Saves a cache keyed by the run id.
    SaveCache,
    /// Restores the cache and reads the run id (requires `save_cache`).
    RestoreCache,
    /// Stores [`crate::outputs::ARTIFACT_PATH`].
    Artifacts,
    /// Stores the test cases of [`crate::outputs::test_cases`].
    TestResults,
    /// Checks out the project's repository (the VCS integration and its checkout key) and
    /// prints the commit ([`crate::outputs::CHECKOUT_STEP`]).
    Checkout,
    /// Renders a template of job environment values with `circleci env subst` and prints it
    /// ([`crate::outputs::ENV_SUBST_STEP`]).
    EnvSubst,
}

impl FeatureJob {
    /// Every feature job, in the config's order.
    pub const ALL: [FeatureJob; 9] = [
        FeatureJob::Contexts,
        FeatureJob::WriteWorkspace,
        FeatureJob::ReadWorkspace,
        FeatureJob::SaveCache,
        FeatureJob::RestoreCache,
        FeatureJob::Artifacts,
        FeatureJob::TestResults,
        FeatureJob::Checkout,
        FeatureJob::EnvSubst,
    ];

    /// The job's name in the config.
    pub fn name(self) -> &'static str {
        match self {
            FeatureJob::Contexts => "contexts",
            FeatureJob::WriteWorkspace => "write_workspace",
            FeatureJob::ReadWorkspace => "read_workspace",
            FeatureJob::SaveCache => "save_cache",
            FeatureJob::RestoreCache => "restore_cache",
            FeatureJob::Artifacts => "artifacts",
            FeatureJob::TestResults => "test_results",
            FeatureJob::Checkout => "checkout",
            FeatureJob::EnvSubst => "env_subst",
        }
    }
}

/// A job of the project that a check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's name in the pipeline (a matrix job's name carries its value).
    pub name: String,
    /// The resource class the job's config asks for.
    pub resource_class: String,
    /// What the installation needs to run it.
    pub needs: Needs,
    /// The workflow it runs in.
    pub workflow: Workflow,
}

impl Job {
    fn new(name: &str, resource_class: &str, needs: Needs, workflow: Workflow) -> Job {
        Job { name: name.to_string(), resource_class: resource_class.to_string(), needs, workflow }
    }

    /// The docker executor's job.
    pub fn docker() -> Job {
        Job::new("docker", "medium", Needs::NomadClient, Workflow::Docker)
    }

    /// The Linux machine job.
    pub fn machine() -> Job {
        Job::new("machine", "medium", Needs::MachineProvisioner, Workflow::Machine)
    }

    /// The docker job that builds and runs an image on a remote Docker engine.
    pub fn remote_docker() -> Job {
        Job::new("remote_docker", "medium", Needs::NomadClientAndMachineProvisioner, Workflow::Machine)
    }

    /// The job on the self-hosted runner resource class `resource_class` (`namespace/name`).
    pub fn runner(resource_class: &str) -> Job {
        Job::new("runner", resource_class, Needs::Runner(resource_class.to_string()), Workflow::Runner)
    }

    /// The Arm machine job.
    pub fn arm() -> Job {
        Job::new("arm", "arm.medium", Needs::MachineProvisioner, Workflow::Arm)
    }

    /// The Windows machine job.
    pub fn windows() -> Job {
        Job::new("windows", "windows.medium", Needs::MachineProvisioner, Workflow::Windows)
    }

    /// The remote docker job with Docker layer caching.
    pub fn remote_docker_dlc() -> Job {
        Job::new("remote_docker_dlc", "medium", Needs::NomadClientAndMachineProvisioner, Workflow::Dlc)
    }

    /// The Linux machine job with Docker layer caching.
    pub fn machine_dlc() -> Job {
        Job::new("machine_dlc", "medium", Needs::MachineProvisioner, Workflow::Dlc)
    }

    /// The machine job on the Android image (`android-default`).
    pub fn android() -> Job {
        Job::new("android", "medium", Needs::MachineProvisioner, Workflow::Android)
    }

    /// The docker job that verifies its OIDC tokens ([`crate::outputs::OIDC_STEP`]).
    pub fn oidc() -> Job {
        Job::new("oidc", "medium", Needs::NomadClient, Workflow::Oidc)
    }

    /// The docker job of the resource-class matrix for `class` (CircleCI names matrix jobs
    /// `<job>-<value>`).
    pub fn docker_resource_class(class: &str) -> Job {
        Job::new(&format!("docker_resource_class-{class}"), class, Needs::NomadClient, Workflow::DockerResourceClasses)
    }

    /// A docker job of the features workflow.
    pub fn feature(job: FeatureJob) -> Job {
        Job::new(job.name(), "medium", Needs::NomadClient, Workflow::Features)
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.name)
    }
}
