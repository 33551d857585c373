//! The resources layer: what the checks of one run share, prepared for the checks selected to
//! run from what each declares it needs ([`Requires`]). Kubernetes access and the Nomad
//! server pod ([`cluster`]), the CircleCI API and the project's answers ([`api`]), the
//! project's CircleCI contexts found or set up ([`contexts`]), and the run's pipeline
//! ([`pipeline`]). Whether a check applies is decided here too, once, from its declaration.
//! Resources use the clients layer (`crate::clients`) and never the checks.

pub mod api;
pub mod cluster;
pub mod contexts;
pub mod nomad;
pub mod pipeline;
pub mod release;

use std::sync::Arc;

use harness::{Applicability, Timeouts};
use realitycheck_config::{Target, display_host};
use realitycheck_project::{CloudProvider, Job, ParameterSwitches, Workflow};

use self::api::{ApiAccess, ProjectAccess};
use self::cluster::ClusterAccess;
use self::pipeline::{Ledger, PipelineAccess, PollIntervals};
use crate::clients::circleci::ApiClientError;

/// What a check needs from the run, declared with the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requires {
    /// The Kubernetes API of the installation.
    Cluster,
    /// The Kubernetes API, on an installation whose machine provisioner starts VMs (AWS, GCP).
    MachineProvisioner,
    /// The CircleCI API (host and token).
    Api,
    /// The CircleCI API at an `https://` host.
    HttpsApi,
    /// The CircleCI API and the realitycheck project (its slug).
    Project,
    /// The run's pipeline and these jobs of it (none: the pipeline itself).
    Pipeline(Vec<Job>),
    /// The run's pipeline and a job that needs a setting which is absent: the reason says
    /// which and how to set it.
    UnconfiguredJob(String),
}

/// Everything the checks of one run share. Each handle is there when some check selected to
/// run needs it and its settings are configured.
pub struct Resources {
    /// The Kubernetes API and the Nomad server pod.
    pub cluster: ClusterAccess,
    /// The CircleCI API.
    pub api: Option<ApiAccess>,
    /// The realitycheck project on the installation.
    pub project: Option<ProjectAccess>,
    /// The run's pipeline, started by the first check that waits for it.
    pub pipeline: Option<PipelineAccess>,
    target: Arc<Target>,
}

impl Resources {
    /// The resources `selected` need on `target`; `setup_contexts` creates the contexts and
    /// variables the project's jobs need when they are missing; what the run starts is
    /// recorded in `ledger`. The error says why the API client cannot be built (its CA bundle).
    pub fn prepare(
        target: Arc<Target>,
        selected: &[&Requires],
        timeouts: &Timeouts,
        setup_contexts: bool,
        ledger: Ledger,
    ) -> Result<Resources, ApiClientError> {
        let cluster = ClusterAccess::new(&target, timeouts.cluster);
        let needs_api = selected.iter().any(|r| !matches!(r, Requires::Cluster | Requires::MachineProvisioner));
        let api = if needs_api { ApiAccess::for_target(&target, timeouts.api)? } else { None };
        let needs_project = selected
            .iter()
            .any(|r| matches!(r, Requires::Project | Requires::Pipeline(_) | Requires::UnconfiguredJob(_)));
        let project = match (&api, &target.project) {
            (Some(api), Some(slug)) if needs_project => Some(ProjectAccess::new(api, slug, setup_contexts)),
            _ => None,
        };
        let jobs: Vec<&Job> = selected
            .iter()
            .filter_map(|requires| match requires {
                Requires::Pipeline(jobs) => Some(jobs),
                _ => None,
            })
            .flatten()
            .collect();
        let waits_for_pipeline = selected.iter().any(|r| matches!(r, Requires::Pipeline(_)));
        let pipeline = match (&api, &project) {
            (Some(api), Some(project)) if waits_for_pipeline => {
                let switches = ParameterSwitches::for_jobs(jobs, target.cloud_provider);
                let (poll, release) = (PollIntervals::default(), Some(cluster.clone()));
                Some(PipelineAccess::new(api, project, &target.pipeline, switches, poll, ledger, release))
            }
            _ => None,
        };
        Ok(Resources { cluster, api, project, pipeline, target })
    }

    /// The target's settings.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Ends what the run started and left unfinished: the workflows of its pipeline whose
    /// jobs still wait (they would run whenever the installation recovers). One line per
    /// workflow, for the operator.
    pub async fn finish(&self) -> Vec<String> {
        match (&self.api, &self.pipeline) {
            (Some(api), Some(pipeline)) => pipeline.end(api.client()).await,
            _ => Vec::new(),
        }
    }
}

/// Whether a check that `requires` this applies to `target`.
pub fn applicability(target: &Target, requires: &Requires) -> Applicability {
    match requires {
        Requires::Cluster => Applicability::Applies,
        Requires::MachineProvisioner => {
            needs_machines(target, &[CloudProvider::Aws, CloudProvider::Gcp], OnMachines::MachineProvisioner)
        }
        Requires::Api => api_configured(target),
        Requires::HttpsApi => match (api_configured(target), &target.host) {
            (Applicability::Applies, Some(host)) if host.scheme() != "https" => Applicability::NotApplicable(format!(
                "{} is served over plain HTTP: there is no certificate",
                display_host(host)
            )),
            (applicability, _) => applicability,
        },
        Requires::Project => project_configured(target),
        Requires::Pipeline(jobs) => match project_configured(target) {
            Applicability::Applies => jobs
                .iter()
                .map(|job| job_applies(target, job))
                .find(|a| *a != Applicability::Applies)
                .unwrap_or(Applicability::Applies),
            other => other,
        },
        Requires::UnconfiguredJob(reason) => match project_configured(target) {
            Applicability::Applies => Applicability::NotConfigured(reason.clone()),
            other => other,
        },
    }
}

fn api_configured(target: &Target) -> Applicability {
    match (&target.host, &target.token) {
        (Some(_), Some(_)) => Applicability::Applies,
        _ => Applicability::NotConfigured(
            "no CircleCI API configured: set CIRCLE_HOSTNAME (or host) and CIRCLE_TOKEN (or token_file)".into(),
        ),
    }
}

fn project_configured(target: &Target) -> Applicability {
    match (api_configured(target), &target.project) {
        (Applicability::Applies, Some(_)) => Applicability::Applies,
        (Applicability::Applies, None) => Applicability::NotConfigured(
            "no project configured: set REALITYCHECK_PROJECT (or project) to the realitycheck project's slug".into(),
        ),
        (other, _) => other,
    }
}

/// Whether the installation can run `job`: machine jobs need the machine provisioner of an
/// AWS or GCP install (Arm: AWS, Android: GCP), Windows jobs are opt-in. Whether the `oidc`
/// job applies depends on the release (OIDC enabled), which its check reads.
fn job_applies(target: &Target, job: &Job) -> Applicability {
    const MACHINES: &[CloudProvider] = &[CloudProvider::Aws, CloudProvider::Gcp];
    match job.workflow {
        Workflow::Machine | Workflow::Dlc => needs_machines(target, MACHINES, OnMachines::Job),
        Workflow::Android => needs_machines(target, &[CloudProvider::Gcp], OnMachines::Job),
        Workflow::Arm => needs_machines(target, &[CloudProvider::Aws], OnMachines::Job),
        Workflow::Windows => match needs_machines(target, MACHINES, OnMachines::Job) {
            Applicability::Applies if !target.pipeline.windows => Applicability::NotApplicable(
                "Windows jobs are opt-in: set pipeline.windows = true when the machine provisioner has a Windows image"
                    .into(),
            ),
            other => other,
        },
        Workflow::Docker | Workflow::DockerResourceClasses | Workflow::Runner | Workflow::Features | Workflow::Oidc => {
            Applicability::Applies
        }
    }
}

/// What runs only on the installs of some cloud providers, as the reasons name it.
#[derive(Debug, Clone, Copy)]
enum OnMachines {
    /// A job of the project, which needs the machine provisioner's VMs.
    Job,
    /// The machine provisioner itself.
    MachineProvisioner,
}

/// Applies when the cloud provider is one of `providers`; `what` is what needs it.
fn needs_machines(target: &Target, providers: &[CloudProvider], what: OnMachines) -> Applicability {
    let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
    let names = names.join(" or ");
    let (what, elsewhere) = match what {
        OnMachines::Job => {
            let article = if names.starts_with('a') { "an" } else { "a" };
            ("this job", format!("this job needs the machine provisioner of {article} {names} install"))
        }
        OnMachines::MachineProvisioner => {
            ("the machine provisioner", format!("the machine provisioner runs on {names} installs only"))
        }
    };
    match target.cloud_provider {
        None => Applicability::NotConfigured(format!(
            "no cloud provider configured: set CIRCLE_CLOUD_PROVIDER (or cloud_provider) to aws, gcp or other; {what} runs on {names}"
        )),
        Some(provider) if !providers.contains(&provider) => {
            Applicability::NotApplicable(format!("the cloud provider is {}: {elsewhere}", provider.as_str()))
        }
        Some(_) => Applicability::Applies,
    }
}
