//! The jobs of the realitycheck project (`realitycheck init` writes its config) that the
//! checks wait for: each job's name, the resource class its config asks for, and what the
//! installation needs to run it. `tests/project_jobs.rs` keeps this table and the config
//! in step.

use std::fmt;

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

impl Needs {
    /// The installation phase a failure of this kind belongs to.
    pub fn phase(&self) -> &'static str {
        match self {
            Needs::NomadClient => "Nomad clients",
            Needs::MachineProvisioner | Needs::NomadClientAndMachineProvisioner => "machine provisioner",
            Needs::Runner(_) => "runner",
        }
    }
}

/// A job of the project that a check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub name: String,
    /// The resource class the job's config asks for.
    pub resource_class: String,
    pub needs: Needs,
}

impl JobSpec {
    fn new(name: &str, resource_class: &str, needs: Needs) -> JobSpec {
        JobSpec { name: name.to_string(), resource_class: resource_class.to_string(), needs }
    }

    pub fn docker() -> JobSpec {
        JobSpec::new("docker", "medium", Needs::NomadClient)
    }

    pub fn machine() -> JobSpec {
        JobSpec::new("machine", "medium", Needs::MachineProvisioner)
    }

    pub fn remote_docker() -> JobSpec {
        JobSpec::new("remote_docker", "medium", Needs::NomadClientAndMachineProvisioner)
    }

    pub fn runner(resource_class: &str) -> JobSpec {
        JobSpec::new("runner", resource_class, Needs::Runner(resource_class.to_string()))
    }

    pub fn arm() -> JobSpec {
        JobSpec::new("arm", "arm.medium", Needs::MachineProvisioner)
    }

    pub fn windows() -> JobSpec {
        JobSpec::new("windows", "windows.medium", Needs::MachineProvisioner)
    }

    /// The docker job of the resource-class matrix for `class` (CircleCI names matrix jobs
    /// `<job>-<value>`).
    pub fn docker_resource_class(class: &str) -> JobSpec {
        JobSpec::new(&format!("docker_resource_class-{class}"), class, Needs::NomadClient)
    }

    /// A docker job of the features workflow.
    pub fn feature(name: &str) -> JobSpec {
        JobSpec::new(name, "medium", Needs::NomadClient)
    }
}

impl fmt::Display for JobSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.name)
    }
}
