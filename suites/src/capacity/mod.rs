//! `realitycheck capacity`: a workload of concurrent containers triggered on the installation
//! and measured. The project's capacity job (`realitycheck_project::CapacityWorkload`: its
//! parallelism, resource class and hold are pipeline parameters) is triggered once; then each
//! poll reads the job's details and (once it started) its v1.1 build, two requests whatever
//! the number of containers, and samples the Nomad clients. It ends when the job ends, on
//! Ctrl-C or at the deadline (the workflow is then cancelled: a measurement never leaves jobs
//! behind), and returns a [`capacity::Measurement`] that the `capacity` crate judges.

mod containers;
mod nomad;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use capacity::{Ending, Measurement, Workload};
use harness::CancellationToken;
use realitycheck_config::Target;
use realitycheck_project::{CapacityExecutor, CapacityWorkload, ParameterSwitches, Parameters};
use tokio::time::Instant;

use crate::clients::circleci::{ApiClient, ApiClientError, ApiError, JobStatus, PipelineState};
use crate::resources::api::ApiAccess;
use crate::resources::cluster::ClusterAccess;
use crate::resources::pipeline::ledger::Ledger;
use crate::resources::pipeline::pipeline_url;
use crate::resources::pipeline::poller::passing;
use crate::resources::pipeline::run::{new_run_id, trigger};
use nomad::NomadSide;

/// How a measurement reaches the installation and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One API call.
    pub api_timeout: Duration,
    /// One Kubernetes call.
    pub cluster_timeout: Duration,
    /// The whole measurement: then the workflow is cancelled.
    pub deadline: Duration,
    /// How long polls may keep failing for a passing reason before the measurement gives up.
    pub failure_budget: Duration,
    /// The shortest time between two polls (while things change); quiet polls back off to
    /// four times it.
    pub poll_interval: Duration,
    /// How long a created pipeline may show no capacity workflow.
    pub workflow_grace: Duration,
}

impl Limits {
    /// The limits of a measurement with the profile's API and cluster timeouts and deadline.
    pub fn new(api_timeout: Duration, cluster_timeout: Duration, deadline: Duration) -> Limits {
        Limits {
            api_timeout,
            cluster_timeout,
            deadline,
            failure_budget: Duration::from_secs(120),
            poll_interval: Duration::from_millis(500),
            workflow_grace: Duration::from_secs(60),
        }
    }
}

/// Where a measurement stands, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Since the trigger.
    pub elapsed: Duration,
    /// Containers queued and not started.
    pub waiting: u32,
    /// Containers running.
    pub running: u32,
    /// Containers that ended.
    pub done: u32,
    /// Nomad clients ready at the last sample.
    pub clients: Option<u32>,
}

/// Why a measurement could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// A setting it needs is missing.
    #[error("capacity needs {what}: set {setting}")]
    NotConfigured { what: &'static str, setting: &'static str },
    /// More containers than `capacity.max_jobs` allows, or none.
    #[error(
        "--jobs {asked}: capacity.max_jobs allows {max} containers at once; ask for fewer, or raise capacity.max_jobs in the target's [capacity] table if the installation should run that many"
    )]
    TooMany { asked: u32, max: u32 },
    /// The API client cannot be built (its CA bundle).
    #[error(transparent)]
    Client(#[from] ApiClientError),
    /// The trigger was refused.
    #[error("cannot trigger the capacity workload of project {project}: {source}")]
    Trigger { project: String, source: ApiError },
    /// The pipeline could not be created from the project's config.
    #[error(
        "the capacity pipeline {url} errored: {message}; if the project's config predates `capacity`, push the current one (`realitycheck init --force` writes it to .circleci/config.yml)"
    )]
    PipelineErrored { url: String, message: String },
    /// No capacity workflow appeared.
    #[error(
        "the capacity pipeline {url} started no `{workflow}` workflow within {grace:?}: the project's config must declare the capacity_* parameters and workflows; push the current one (`realitycheck init --force` writes it to .circleci/config.yml)"
    )]
    NoWorkflow { url: String, workflow: &'static str, grace: Duration },
    /// The API kept failing, or failed for good, while the workload ran; its workflow was
    /// cancelled.
    #[error("the CircleCI API failed while following the capacity pipeline {url}: {source}; {cancelled}")]
    Api { url: String, source: ApiError, cancelled: String },
}

/// What one poll found.
struct Polled {
    containers: Vec<capacity::Container>,
    finished: bool,
}

/// The pipeline being followed.
struct Followed<'a> {
    client: &'a ApiClient,
    slug: &'a str,
    pipeline_id: String,
    url: String,
    workflow_name: &'static str,
    containers: u32,
    origin_ms: i64,
    workflow_id: Option<String>,
    job_number: Option<u64>,
    triggered: Instant,
}

impl Followed<'_> {
    async fn poll(&mut self, grace: Duration) -> Result<Polled, CapacityError> {
        let api = |source| CapacityError::Api { url: self.url.clone(), source, cancelled: String::new() };
        if self.workflow_id.is_none() {
            let workflows = self.client.pipeline_workflows(&self.pipeline_id).await.map_err(api)?;
            self.workflow_id = workflows.into_iter().find(|w| w.name == self.workflow_name).map(|w| w.id);
            if self.workflow_id.is_none() {
                let pipeline = self.client.pipeline(&self.pipeline_id).await.map_err(api)?;
                if pipeline.state == PipelineState::Errored {
                    let message = pipeline.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
                    return Err(CapacityError::PipelineErrored { url: self.url.clone(), message });
                }
                if self.triggered.elapsed() > grace {
                    return Err(CapacityError::NoWorkflow {
                        url: self.url.clone(),
                        workflow: self.workflow_name,
                        grace,
                    });
                }
                return Ok(Polled { containers: Vec::new(), finished: false });
            }
        }
        if self.job_number.is_none() {
            let workflow = self.workflow_id.as_deref().unwrap_or_default();
            let jobs = self.client.workflow_jobs(workflow).await.map_err(api)?;
            self.job_number = jobs.iter().find(|job| job.name == self.workflow_name).and_then(|job| job.job_number);
            if self.job_number.is_none() {
                return Ok(Polled { containers: Vec::new(), finished: false });
            }
        }
        let number = self.job_number.unwrap_or_default();
        let details = self.client.job_details(self.slug, number).await.map_err(api)?;
        let status = details.status.clone().unwrap_or(JobStatus::Queued);
        let build = if status.is_waiting_for_capacity() {
            None
        } else {
            Some(self.client.build_details(self.slug, number).await.map_err(api)?)
        };
        Ok(Polled {
            containers: containers::read(&details, build.as_ref(), self.containers, self.origin_ms),
            finished: status.is_terminal(),
        })
    }

    /// Cancels the workflow (finding it first when no poll did), saying what happened.
    async fn cancel(&mut self) -> String {
        if self.workflow_id.is_none()
            && let Ok(workflows) = self.client.pipeline_workflows(&self.pipeline_id).await
        {
            self.workflow_id = workflows.into_iter().find(|w| w.name == self.workflow_name).map(|w| w.id);
        }
        match &self.workflow_id {
            Some(id) => match self.client.cancel_workflow(id).await {
                Ok(_) => format!("the workflow {id} was cancelled"),
                Err(error) => format!("cancelling the workflow {id} failed ({error}): cancel it in the UI"),
            },
            None => format!("no workflow of pipeline {} was found to cancel: look at it in the UI", self.url),
        }
    }
}

/// Triggers `workload` on `target` and measures it, until it ends, `cancel` fires or the
/// deadline passes; `progress` hears of every poll.
pub async fn measure(
    target: &Target,
    workload: &CapacityWorkload,
    limits: &Limits,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Measurement, CapacityError> {
    let max = target.capacity.max_jobs;
    if workload.containers == 0 || workload.containers > max {
        return Err(CapacityError::TooMany { asked: workload.containers, max });
    }
    let slug = target.project.as_deref().ok_or(CapacityError::NotConfigured {
        what: "the realitycheck project",
        setting: "project (REALITYCHECK_PROJECT, --project)",
    })?;
    let api = ApiAccess::for_target(target, limits.api_timeout)?.ok_or(CapacityError::NotConfigured {
        what: "the CircleCI API and a token",
        setting: "host (CIRCLE_HOSTNAME, --host) and the token (CIRCLE_TOKEN, token_file)",
    })?;
    let client = api.client();
    let cluster = ClusterAccess::new(target, limits.cluster_timeout);
    let mut nomad = NomadSide::new(&cluster);
    let docker = workload.executor == CapacityExecutor::Docker;
    let mut measurement = Measurement {
        target: target.name.clone(),
        workload: Workload {
            executor: workload.executor.as_str().to_owned(),
            containers: workload.containers,
            resource_class: workload.resource_class.clone(),
            hold: Duration::from_secs(u64::from(workload.hold_seconds)),
        },
        triggered_unix_ms: 0,
        pipeline: None,
        containers: Vec::new(),
        clients: Vec::new(),
        autoscaler: None,
        fit: None,
        sample_interval: limits.poll_interval,
        ending: Ending::AllRan,
        notes: Vec::new(),
    };
    let start = Instant::now();
    if docker {
        measurement.fit = nomad.fit(&workload.resource_class).await;
        measurement.autoscaler = nomad.autoscaler(target.capacity.autoscaler_reaction).await;
        if let Some(fit) = measurement.fit.as_ref().filter(|fit| fit.largest_client.is_some() && !fit.fits()) {
            measurement.ending = Ending::NotStarted {
                reason: format!(
                    "no Nomad client can hold {} ({} vCPU, {} MiB): its containers would stay queued",
                    workload.resource_class, fit.class_cpus, fit.class_memory_mib
                ),
            };
            measurement.notes.append(&mut nomad.notes);
            return Ok(measurement);
        }
        measurement.clients.extend(nomad.sample(Duration::ZERO).await);
    }
    let run_id = format!("capacity-{}", new_run_id());
    let parameters = Parameters {
        run_id: run_id.clone(),
        switches: ParameterSwitches::for_jobs([], target.cloud_provider),
        image_registry: target.pipeline.image_registry.clone(),
        context_digest: None,
        capacity: Some(workload.clone()),
    };
    let ledger = Ledger::new(run_id);
    let triggered = Instant::now();
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let created = trigger(client, slug, target.pipeline.branch.as_deref(), &parameters, &ledger)
        .await
        .map_err(|source| CapacityError::Trigger { project: slug.to_owned(), source })?;
    let url = pipeline_url(client, slug, created.number);
    let created_at = client.pipeline(&created.id).await.ok().and_then(|p| p.created_at);
    let origin_ms = created_at
        .as_deref()
        .and_then(containers::unix_ms)
        .unwrap_or_else(|| i64::try_from(wall.as_millis()).unwrap_or(i64::MAX));
    measurement.triggered_unix_ms = u64::try_from(origin_ms).unwrap_or(0);
    measurement.pipeline = Some(url.clone());
    let mut followed = Followed {
        client,
        slug,
        pipeline_id: created.id,
        url,
        workflow_name: workload.executor.job_name(),
        containers: workload.containers,
        origin_ms,
        workflow_id: None,
        job_number: None,
        triggered,
    };
    let deadline = start + limits.deadline;
    let mut interval = limits.poll_interval;
    let mut failing_since: Option<Instant> = None;
    loop {
        let interrupted = tokio::select! {
            () = cancel.cancelled() => Some("Ctrl-C".to_owned()),
            () = tokio::time::sleep_until(deadline) => Some(format!("the deadline ({})", harness::humanize(limits.deadline))),
            () = tokio::time::sleep(interval) => None,
        };
        if let Some(by) = interrupted {
            measurement.ending = Ending::Interrupted { by };
            let cancelled = followed.cancel().await;
            if let Ok(polled) = followed.poll(limits.workflow_grace).await {
                measurement.containers = polled.containers;
            }
            measurement.notes.push(cancelled);
            break;
        }
        match followed.poll(limits.workflow_grace).await {
            Ok(polled) => {
                failing_since = None;
                let changed = polled.containers != measurement.containers;
                interval = if changed { limits.poll_interval } else { (interval * 2).min(limits.poll_interval * 4) };
                measurement.containers = polled.containers;
                if polled.finished {
                    break;
                }
            }
            Err(CapacityError::Api { url, source, .. }) if passing(&source) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > limits.failure_budget {
                    let cancelled = followed.cancel().await;
                    return Err(CapacityError::Api { url, source, cancelled });
                }
                interval = limits.poll_interval * 4;
            }
            Err(error) => {
                let cancelled = followed.cancel().await;
                return Err(match error {
                    CapacityError::Api { url, source, .. } => CapacityError::Api { url, source, cancelled },
                    other => other,
                });
            }
        }
        if docker {
            measurement.clients.extend(nomad.sample(triggered.elapsed()).await);
        }
        progress(&progress_of(&measurement, triggered.elapsed()));
    }
    if docker {
        measurement.clients.extend(nomad.sample(triggered.elapsed()).await);
        if let Some(view) = measurement.autoscaler.as_mut().filter(|view| view.enabled) {
            view.log_errors = nomad.autoscaler_errors().await;
        }
    }
    measurement.notes.append(&mut nomad.notes);
    Ok(measurement)
}

fn progress_of(measurement: &Measurement, elapsed: Duration) -> Progress {
    let count = |keep: &dyn Fn(&capacity::Container) -> bool| {
        u32::try_from(measurement.containers.iter().filter(|c| keep(c)).count()).unwrap_or(u32::MAX)
    };
    Progress {
        elapsed,
        waiting: count(&|c| c.started.is_none()),
        running: count(&|c| c.started.is_some() && c.stopped.is_none()),
        done: count(&|c| c.stopped.is_some()),
        clients: measurement.clients.last().map(|sample| sample.ready),
    }
}
