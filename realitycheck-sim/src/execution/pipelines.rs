//! The pipelines of the simulated project: triggering one plans its workflows from the config and
//! decides every job's course at once ([`super::job`]); their statuses are then computed lazily,
//! at each request, from `tokio::time::Instant` (so a paused test clock drives them; nothing runs
//! in the background) and shown as wall-clock timestamps counted from the pipeline's creation.
//!
//! A job is `blocked` until the jobs it requires succeed, `queued` until an executor takes it
//! (forever when none can), `running` through its steps, then `success`, `failed` or
//! `infrastructure_fail`; a job whose requirement ended otherwise stays `blocked`. A job with
//! `parallelism` runs that many containers, each with its own course (`CIRCLE_NODE_INDEX` and
//! `CIRCLE_NODE_TOTAL` in its environment) and start: its docker containers start when the Nomad
//! clients have room for them ([`super::fleet`]), its VMs a VM's start after it queued. Such a job
//! is `queued` until its first container starts and `running` until its last one ends, then
//! `infrastructure_fail` if a container's infrastructure failed, else `failed` if one failed,
//! else `success`. A workflow is
//! `running` (`failing` once a job failed) until every job settled, then `success` or `failed`;
//! cancelling it makes its unfinished jobs `canceled`: their containers that had not started
//! never do, those running stop then. Job numbers are unique and increasing
//! across the project, allocated when a pipeline is triggered (jobs that never queue get none);
//! a job shows its number from the moment it is queued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::fleet::{self, Demand, Fleet, SharedFleet};
use super::job::{self, Caches, ContextLookup, Course, DlcVolumes, JobInputs, JobResult, StepRun};
use super::shell::FileSystem;
use super::timing::JobTiming;
use crate::installation::Installation;
use crate::oidc::JobIdentity;
use crate::project::executor;
use crate::project::parameters::{self, ParameterError, ParameterValue};
use crate::project::plan::{PipelineValues, PlannedJob};
use crate::{SIM_PROJECT, ids, project};

/// Why a trigger is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("branch and tag are mutually exclusive")]
    BranchAndTag,
    #[error(transparent)]
    Parameters(#[from] ParameterError),
}

/// What a trigger asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerRequest {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

/// A job's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Blocked,
    Queued,
    Running,
    Success,
    Failed,
    InfrastructureFail,
    Canceled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Blocked => "blocked",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Success => "success",
            JobStatus::Failed => "failed",
            JobStatus::InfrastructureFail => "infrastructure_fail",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Failed | JobStatus::InfrastructureFail | JobStatus::Canceled)
    }

    fn of(result: JobResult) -> Self {
        match result {
            JobResult::Success => JobStatus::Success,
            JobResult::Failed => JobStatus::Failed,
            JobResult::InfrastructureFail => JobStatus::InfrastructureFail,
        }
    }
}

/// A workflow's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowStatus {
    Running,
    Failing,
    Success,
    Failed,
    Canceled,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Failing => "failing",
            WorkflowStatus::Success => "success",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Canceled => "canceled",
        }
    }
}

/// A triggered pipeline.
#[derive(Debug, Clone)]
pub struct PipelineRecord {
    pub id: String,
    pub number: u64,
    pub created_at: Timestamp,
    created_instant: Instant,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// The parameters the trigger gave, as it gave them.
    pub trigger_parameters: serde_json::Map<String, serde_json::Value>,
    /// Config processing errors: the pipeline is `errored` and has no workflows.
    pub errors: Vec<String>,
    pub workflows: Vec<WorkflowRecord>,
}

/// A workflow of a pipeline.
#[derive(Debug, Clone)]
pub struct WorkflowRecord {
    pub id: String,
    pub name: String,
    pub jobs: Vec<JobRecord>,
    canceled_after: Option<Duration>,
}

/// A job of a workflow, with its whole course decided.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub name: String,
    pub plan: PlannedJob,
    /// Its containers by index: one, or as many as its `parallelism`.
    pub containers: Vec<ContainerRecord>,
    /// Ids of the jobs it requires.
    pub dependencies: Vec<String>,
    number: Option<u64>,
    /// Offset from the pipeline's creation.
    queued_after: Option<Duration>,
}

/// One container of a job: what it does, and when.
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    pub course: Course,
    /// Its place among the fleet's containers, for a docker container of a job with
    /// `parallelism`: the fleet decides its start.
    demand: Option<usize>,
    /// Offsets from the pipeline's creation.
    started_after: Option<Duration>,
    stopped_after: Option<Duration>,
}

impl ContainerRecord {
    /// How long its steps take together.
    fn run_time(&self) -> Duration {
        match &self.course {
            Course::Runs { steps, .. } => {
                steps.iter().fold(Duration::ZERO, |total, step| total.saturating_add(step.duration))
            }
            Course::StaysQueued { .. } => Duration::ZERO,
        }
    }

    /// A container that does `course`, not started yet.
    fn new(course: Course) -> Self {
        Self { course, demand: None, started_after: None, stopped_after: None }
    }

    /// It starts `started_after` the pipeline's creation (or never).
    fn start(&mut self, started_after: Option<Duration>) {
        self.started_after = started_after;
        self.stopped_after = started_after.map(|started| started.saturating_add(self.run_time()));
    }
}

impl JobRecord {
    /// How it ended, once every container ran: `infrastructure_fail` if one container's
    /// infrastructure failed, else `failed` if one failed, else `success`.
    pub fn result(&self) -> Option<JobResult> {
        combined(self.containers.iter().map(|container| container.course.result()))
    }

    /// When its first container started.
    fn started_after(&self) -> Option<Duration> {
        self.containers.iter().filter_map(|container| container.started_after).min()
    }

    /// When its last container ended, once every one did.
    fn stopped_after(&self) -> Option<Duration> {
        self.containers.iter().map(|container| container.stopped_after).collect::<Option<Vec<_>>>()?.into_iter().max()
    }
}

/// A job as it is at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub status: JobStatus,
    pub number: Option<u64>,
    pub queued_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
}

/// A workflow as it is at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowState {
    pub status: WorkflowStatus,
    pub stopped_at: Option<Timestamp>,
}

/// A step as it is at one moment: only steps that have started are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepState<'a> {
    pub run: &'a StepRun,
    /// `running`, or the step's result once it ended (`canceled` when the workflow was).
    pub status: &'static str,
    pub started_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

/// A summary of a pipeline for tests: names and statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSummary {
    pub id: String,
    pub number: u64,
    pub state: &'static str,
    pub workflows: Vec<WorkflowSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSummary {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    /// Job name and status.
    pub jobs: Vec<(String, &'static str)>,
}

/// Every pipeline of the project, the caches its jobs saved, the installation's Docker layer
/// cache volumes, and the Nomad client group its parallel docker containers run on.
#[derive(Debug)]
pub struct Pipelines {
    installation: Arc<Installation>,
    timing: JobTiming,
    pipelines: Vec<PipelineRecord>,
    next_job_number: u64,
    caches: Caches,
    dlc_volumes: DlcVolumes,
    fleet: SharedFleet,
}

impl Pipelines {
    /// The pipelines of `installation`, none yet; its client group starts now.
    pub fn new(installation: Arc<Installation>, timing: JobTiming) -> Self {
        let fleet = SharedFleet::new(Fleet::new(&installation, Instant::now()));
        Self {
            installation,
            timing,
            pipelines: Vec::new(),
            next_job_number: 1,
            caches: Caches::new(),
            dlc_volumes: DlcVolumes::new(),
            fleet,
        }
    }

    pub fn installation(&self) -> Arc<Installation> {
        Arc::clone(&self.installation)
    }

    /// The Nomad client group the parallel docker containers run on, which the Nomad servers show.
    pub fn fleet(&self) -> SharedFleet {
        self.fleet.clone()
    }

    /// Creates a pipeline at `now` (wall time `wall`), reading contexts through `contexts`.
    pub fn trigger(
        &mut self,
        request: TriggerRequest,
        contexts: &ContextLookup<'_>,
        now: Instant,
        wall: Timestamp,
    ) -> Result<&PipelineRecord, TriggerError> {
        if request.branch.is_some() && request.tag.is_some() {
            return Err(TriggerError::BranchAndTag);
        }
        parameters::check_limits(&request.parameters)?;
        let config = project::config();
        let values = parameters::resolve(&config.parameters, &request.parameters)?;
        let number = u64::try_from(self.pipelines.len()).unwrap_or(u64::MAX - 1) + 1;
        let id = ids::uuid(&format!("circleci-pipeline:{SIM_PROJECT}#{number}"));
        let branch = match (&request.branch, &request.tag) {
            (None, None) => Some("main".to_owned()),
            (branch, _) => branch.clone(),
        };
        let pipeline_values = PipelineValues {
            id: id.clone(),
            number,
            branch: branch.clone(),
            tag: request.tag.clone(),
            parameters: values,
        };
        let mut record = PipelineRecord {
            id,
            number,
            created_at: wall,
            created_instant: now,
            branch,
            tag: request.tag,
            trigger_parameters: request.parameters,
            errors: Vec::new(),
            workflows: Vec::new(),
        };
        let planned = match &self.installation.config_error {
            Some(error) => Err(error.clone()),
            None => config.plan(&pipeline_values).map_err(|error| error.to_string()),
        };
        match planned {
            Ok(_) if self.installation.starts_no_workflows => {}
            Ok(planned) => {
                for workflow in planned {
                    let id = ids::uuid(&format!("circleci-workflow:{}/{}", record.id, workflow.name));
                    let jobs = self.run_jobs(&id, workflow.jobs, &pipeline_values, contexts, (now, wall));
                    record.workflows.push(WorkflowRecord { id, name: workflow.name, jobs, canceled_after: None });
                }
                self.number_jobs(&mut record.workflows);
            }
            Err(error) => record.errors.push(error),
        }
        self.pipelines.push(record);
        self.follow_fleet();
        Ok(self.pipelines.last().expect("just pushed"))
    }

    /// Starts every parallel docker container when the fleet's schedule says, after a change.
    fn follow_fleet(&mut self) {
        let mut fleet = self.fleet.lock();
        for pipeline in &mut self.pipelines {
            let created = pipeline.created_instant;
            let containers = pipeline.workflows.iter_mut().flat_map(|w| &mut w.jobs).flat_map(|j| &mut j.containers);
            for container in containers {
                if let Some(demand) = container.demand {
                    let start = fleet.start_of(demand).map(|start| start.saturating_duration_since(created));
                    container.start(start);
                }
            }
        }
    }

    /// Decides the course and timeline of every job of a workflow of a pipeline created at
    /// `created` (and wall time), in `requires` order; the parallel docker containers join the
    /// fleet, which decides their start.
    fn run_jobs(
        &mut self,
        workflow_id: &str,
        planned: Vec<PlannedJob>,
        values: &PipelineValues,
        contexts: &ContextLookup<'_>,
        (created, wall): (Instant, Timestamp),
    ) -> Vec<JobRecord> {
        let mut records: Vec<Option<JobRecord>> = vec![None; planned.len()];
        let mut workspaces: BTreeMap<String, FileSystem> = BTreeMap::new();
        while records.iter().any(Option::is_none) {
            let Some(index) = (0..planned.len()).find(|&index| {
                records[index].is_none()
                    && planned[index].requires.iter().all(|required| workspaces.contains_key(required))
            }) else {
                break;
            };
            let job = &planned[index];
            let upstream: Vec<&JobRecord> =
                records.iter().flatten().filter(|record| job.requires.contains(&record.name)).collect();
            let id = ids::uuid(&format!("circleci-job:{workflow_id}/{}", job.name));
            let mut workspace = FileSystem::default();
            for required in &job.requires {
                for (path, content) in workspaces.get(required).map(|w| w.under("")).unwrap_or_default() {
                    workspace.write(&path, content);
                }
            }
            let ready_after = upstream.iter().map(|record| record.stopped_after()).max().flatten().unwrap_or_default();
            let upstream_succeeded = upstream.iter().all(|record| record.result() == Some(JobResult::Success));
            let mut containers = Vec::new();
            for node in 0..job.containers() {
                if !upstream_succeeded {
                    let course = Course::StaysQueued { reason: "a required job did not succeed".to_owned() };
                    containers.push(ContainerRecord::new(course));
                    continue;
                }
                let seed = if node == 0 { id.clone() } else { ids::uuid(&format!("{id}#{node}")) };
                let course = job::simulate(
                    job,
                    JobInputs {
                        installation: &self.installation,
                        contexts,
                        timing: &self.timing,
                        workspace: workspace.clone(),
                        caches: &mut self.caches,
                        dlc_volumes: &mut self.dlc_volumes,
                        environment: environment(values, workflow_id, job, node),
                        identity: identity(values, workflow_id, &id, wall, ready_after + self.timing.queue),
                        seed: &seed,
                    },
                );
                containers.push(self.container(job, &id, node, course, created, ready_after));
            }
            // Later jobs attach what this job and its requirements persisted.
            for container in &containers {
                if let Course::Runs { workspace: persisted, .. } = &container.course {
                    for (path, content) in persisted.under("") {
                        workspace.write(&path, content);
                    }
                }
            }
            workspaces.insert(job.name.clone(), workspace);
            let dependencies = upstream.iter().map(|record| record.id.clone()).collect();
            records[index] = Some(JobRecord {
                id,
                name: job.name.clone(),
                plan: job.clone(),
                containers,
                dependencies,
                number: None,
                queued_after: upstream_succeeded.then_some(ready_after),
            });
        }
        records.into_iter().flatten().collect()
    }

    /// Container `node` of `job` (id `job_id`), which does `course`, of a pipeline created at
    /// `created`, its job queued `queued_after` then: it starts after the queue time, unless the
    /// job has parallelism; then a docker container joins the fleet (which starts it), a VM
    /// starts a VM's start later, and a runner takes its task after the queue time.
    fn container(
        &mut self,
        job: &PlannedJob,
        job_id: &str,
        node: u32,
        course: Course,
        created: Instant,
        queued_after: Duration,
    ) -> ContainerRecord {
        let mut container = ContainerRecord::new(course);
        if let Course::StaysQueued { .. } = container.course {
            return container;
        }
        let reaches_executor = queued_after + self.timing.queue;
        let kind = job.executor.kind;
        match job.parallelism {
            Some(_) if kind.needs_nomad() => {
                let class = self.installation.docker_class_run_on(&job.executor.resource_class);
                let demand = Demand {
                    job_id: nomad_job_id(job_id, node),
                    size: executor::docker_class_size(class),
                    queued: created + reaches_executor,
                    hold: container.run_time(),
                    canceled: None,
                };
                container.demand = Some(self.fleet.lock().add(demand));
            }
            Some(_) if kind.needs_machine_provisioner() => container.start(Some(reaches_executor + fleet::VM_START)),
            _ => container.start(Some(reaches_executor)),
        }
        container
    }

    /// Gives every job that will be queued a number, in the order they queue.
    fn number_jobs(&mut self, workflows: &mut [WorkflowRecord]) {
        let mut queued: Vec<(Duration, usize, usize)> = workflows
            .iter()
            .enumerate()
            .flat_map(|(w, workflow)| {
                workflow.jobs.iter().enumerate().filter_map(move |(j, job)| Some((job.queued_after?, w, j)))
            })
            .collect();
        queued.sort();
        for (_, w, j) in queued {
            workflows[w].jobs[j].number = Some(self.next_job_number);
            self.next_job_number += 1;
        }
    }

    /// Every pipeline, oldest first.
    pub fn all(&self) -> &[PipelineRecord] {
        &self.pipelines
    }

    pub fn pipeline(&self, id: &str) -> Option<&PipelineRecord> {
        self.pipelines.iter().find(|pipeline| pipeline.id.eq_ignore_ascii_case(id))
    }

    /// The workflow `id` and its pipeline.
    pub fn workflow(&self, id: &str) -> Option<(&PipelineRecord, &WorkflowRecord)> {
        self.pipelines.iter().find_map(|pipeline| {
            pipeline.workflows.iter().find(|workflow| workflow.id.eq_ignore_ascii_case(id)).map(|w| (pipeline, w))
        })
    }

    /// The job with project job number `number`, if it has been queued by `now`.
    pub fn job_by_number(&self, number: u64, now: Instant) -> Option<(&PipelineRecord, &WorkflowRecord, &JobRecord)> {
        self.jobs().find(|(pipeline, workflow, job)| {
            job.number == Some(number) && pipeline.job_state(workflow, job, now).number.is_some()
        })
    }

    /// The job `id`, if it has been queued by `now`.
    pub fn job_by_id(&self, id: &str, now: Instant) -> Option<(&PipelineRecord, &WorkflowRecord, &JobRecord)> {
        self.jobs().find(|(pipeline, workflow, job)| {
            job.id.eq_ignore_ascii_case(id) && pipeline.job_state(workflow, job, now).number.is_some()
        })
    }

    fn jobs(&self) -> impl Iterator<Item = (&PipelineRecord, &WorkflowRecord, &JobRecord)> {
        self.pipelines.iter().flat_map(|pipeline| {
            pipeline
                .workflows
                .iter()
                .flat_map(move |workflow| workflow.jobs.iter().map(move |job| (pipeline, workflow, job)))
        })
    }

    /// Cancels workflow `id` at `now`: its unfinished jobs become `canceled`, and its parallel
    /// docker containers leave the fleet's queue or their clients. Returns false when there is no
    /// such workflow; cancelling a finished workflow changes nothing.
    pub fn cancel_workflow(&mut self, id: &str, now: Instant) -> bool {
        for pipeline in &mut self.pipelines {
            let created = pipeline.created_instant;
            let elapsed = now.saturating_duration_since(created);
            let Some(index) = pipeline.workflows.iter().position(|workflow| workflow.id.eq_ignore_ascii_case(id))
            else {
                continue;
            };
            let ended = matches!(
                pipeline.workflow_state(&pipeline.workflows[index], now).status,
                WorkflowStatus::Success | WorkflowStatus::Failed | WorkflowStatus::Canceled
            );
            if ended {
                return true;
            }
            let workflow = &mut pipeline.workflows[index];
            workflow.canceled_after = Some(elapsed);
            let demands = workflow.jobs.iter().flat_map(|job| &job.containers).filter_map(|container| container.demand);
            let mut fleet = self.fleet.lock();
            for demand in demands {
                fleet.cancel(demand, now);
            }
            drop(fleet);
            self.follow_fleet();
            return true;
        }
        false
    }

    /// How many jobs of runner resource class `resource_class` are queued at `now`.
    pub fn queued_runner_jobs(&self, resource_class: &str, now: Instant) -> usize {
        self.jobs()
            .filter(|(_, _, job)| job.plan.executor.resource_class == resource_class)
            .filter(|(pipeline, workflow, job)| pipeline.job_state(workflow, job, now).status == JobStatus::Queued)
            .count()
    }

    /// Every pipeline, summarised at `now`.
    pub fn summaries(&self, now: Instant) -> Vec<PipelineSummary> {
        self.pipelines
            .iter()
            .map(|pipeline| PipelineSummary {
                id: pipeline.id.clone(),
                number: pipeline.number,
                state: pipeline.state(),
                workflows: pipeline
                    .workflows
                    .iter()
                    .map(|workflow| WorkflowSummary {
                        id: workflow.id.clone(),
                        name: workflow.name.clone(),
                        status: pipeline.workflow_state(workflow, now).status.as_str(),
                        jobs: workflow
                            .jobs
                            .iter()
                            .map(|job| (job.name.clone(), pipeline.job_state(workflow, job, now).status.as_str()))
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The result of a job whose containers ended with `results`, once each did: the worst of them.
fn combined(results: impl Iterator<Item = Option<JobResult>>) -> Option<JobResult> {
    let results: Vec<JobResult> = results.collect::<Option<_>>()?;
    [JobResult::InfrastructureFail, JobResult::Failed]
        .into_iter()
        .find(|worst| results.contains(worst))
        .or(Some(JobResult::Success))
}

/// The ID of the Nomad job the docker provisioner submits for container `node` of CircleCI job
/// `job_id`.
fn nomad_job_id(job_id: &str, node: u32) -> String {
    let short: String = job_id.chars().filter(|c| *c != '-').take(24).collect();
    format!("{short}-{node}-build")
}

/// Who job `job_id` of workflow `workflow_id` is, for its OIDC tokens: issued when it reaches
/// its executor, `reaches_executor` after the pipeline's creation at `created` (when it starts,
/// but for a parallel container, which may start later: a VM's start, or when the Nomad clients
/// have room).
fn identity(
    values: &PipelineValues,
    workflow_id: &str,
    job_id: &str,
    created: Timestamp,
    reaches_executor: Duration,
) -> JobIdentity {
    let vcs_ref = match (&values.tag, &values.branch) {
        (Some(tag), _) => format!("refs/tags/{tag}"),
        (None, branch) => format!("refs/heads/{}", branch.as_deref().unwrap_or("main")),
    };
    let offset = SignedDuration::try_from(reaches_executor).unwrap_or(SignedDuration::MAX);
    JobIdentity {
        pipeline_id: values.id.clone(),
        workflow_id: workflow_id.to_owned(),
        job_id: job_id.to_owned(),
        vcs_ref,
        context_ids: Vec::new(),
        started_at: created.checked_add(offset).unwrap_or(created),
    }
}

/// The `CIRCLE_*` variables of container `node` of a job.
fn environment(values: &PipelineValues, workflow_id: &str, job: &PlannedJob, node: u32) -> BTreeMap<String, String> {
    let (_, repository) = SIM_PROJECT.rsplit_once('/').unwrap_or_default();
    let (node, total) = (node.to_string(), job.containers().to_string());
    let mut environment: BTreeMap<String, String> = [
        ("CI", "true"),
        ("CIRCLECI", "true"),
        ("CIRCLE_JOB", job.name.as_str()),
        ("CIRCLE_NODE_INDEX", node.as_str()),
        ("CIRCLE_NODE_TOTAL", total.as_str()),
        ("CIRCLE_WORKFLOW_ID", workflow_id),
        ("CIRCLE_PIPELINE_ID", values.id.as_str()),
        ("CIRCLE_PROJECT_REPONAME", repository),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    if let Some(branch) = &values.branch {
        environment.insert("CIRCLE_BRANCH".to_owned(), branch.clone());
    }
    environment.insert(
        "CIRCLE_SHA1".to_owned(),
        crate::project::plan::revision(values.branch.as_deref(), values.tag.as_deref()),
    );
    if let Some(ParameterValue::String(run_id)) = values.parameters.get("run_id") {
        environment.insert("REALITYCHECK_RUN_ID".to_owned(), run_id.clone());
    }
    environment
}

impl PipelineRecord {
    /// `created`, or `errored` when config processing failed.
    pub fn state(&self) -> &'static str {
        if self.errors.is_empty() { "created" } else { "errored" }
    }

    /// The wall-clock time `offset` after the pipeline's creation.
    pub fn at(&self, offset: Duration) -> Timestamp {
        let offset = SignedDuration::try_from(offset).unwrap_or(SignedDuration::MAX);
        self.created_at.checked_add(offset).unwrap_or(self.created_at)
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created_instant)
    }

    /// Job `job` of `workflow` at `now`.
    pub fn job_state(&self, workflow: &WorkflowRecord, job: &JobRecord, now: Instant) -> JobState {
        let elapsed = self.elapsed(now);
        let canceled = workflow.canceled_after.filter(|canceled| *canceled <= elapsed);
        let horizon = canceled.unwrap_or(elapsed);
        let seen = |offset: Option<Duration>| offset.filter(|offset| *offset <= horizon);
        let (started_after, stopped_after) = (job.started_after(), job.stopped_after());
        let status_at = |time: Duration| match (job.queued_after, started_after, stopped_after) {
            (Some(queued), _, _) if time < queued => JobStatus::Blocked,
            (None, _, _) => JobStatus::Blocked,
            (Some(_), None, _) => JobStatus::Queued,
            (Some(_), Some(started), _) if time < started => JobStatus::Queued,
            (Some(_), Some(_), Some(stopped)) if time < stopped => JobStatus::Running,
            // Some container has not run yet.
            (Some(_), Some(_), None) => JobStatus::Running,
            _ => job.result().map_or(JobStatus::Queued, JobStatus::of),
        };
        let status = status_at(horizon);
        let (status, stopped_at) = match canceled {
            Some(canceled) if !status.is_terminal() => (JobStatus::Canceled, Some(canceled)),
            _ => (status, seen(stopped_after)),
        };
        let queued = seen(job.queued_after);
        JobState {
            status,
            number: queued.and(job.number),
            queued_at: queued.map(|offset| self.at(offset)),
            started_at: seen(started_after).map(|offset| self.at(offset)),
            stopped_at: stopped_at.map(|offset| self.at(offset)),
        }
    }

    /// The status of container `node` of `job` at `now`: the job's until it is queued, then
    /// `queued` until the container starts, `running` until it ends, then its result
    /// (`canceled` when its workflow was cancelled first).
    pub fn container_status(&self, workflow: &WorkflowRecord, job: &JobRecord, node: usize, now: Instant) -> JobStatus {
        let job_status = self.job_state(workflow, job, now);
        let Some(container) = job.containers.get(node) else { return job_status.status };
        if job_status.queued_at.is_none() {
            return job_status.status;
        }
        let elapsed = self.elapsed(now);
        let canceled = workflow.canceled_after.filter(|canceled| *canceled <= elapsed);
        let horizon = canceled.unwrap_or(elapsed);
        let status = match (container.started_after, container.stopped_after) {
            (Some(started), _) if started > horizon => JobStatus::Queued,
            (None, _) => JobStatus::Queued,
            (Some(_), Some(stopped)) if stopped <= horizon => {
                container.course.result().map_or(JobStatus::Queued, JobStatus::of)
            }
            (Some(_), _) => JobStatus::Running,
        };
        if canceled.is_some() && !status.is_terminal() { JobStatus::Canceled } else { status }
    }

    /// Workflow `workflow` at `now`.
    pub fn workflow_state(&self, workflow: &WorkflowRecord, now: Instant) -> WorkflowState {
        let elapsed = self.elapsed(now);
        if let Some(canceled) = workflow.canceled_after.filter(|canceled| *canceled <= elapsed) {
            return WorkflowState { status: WorkflowStatus::Canceled, stopped_at: Some(self.at(canceled)) };
        }
        let states: Vec<JobState> = workflow.jobs.iter().map(|job| self.job_state(workflow, job, now)).collect();
        // A job settles when it ends, or when it can never start because a requirement ended
        // otherwise than in success.
        let mut settled: Vec<bool> = Vec::with_capacity(states.len());
        for (job, state) in workflow.jobs.iter().zip(&states) {
            let never_starts = job.queued_after.is_none()
                && job.dependencies.iter().all(|dependency| {
                    workflow
                        .jobs
                        .iter()
                        .position(|other| &other.id == dependency)
                        .is_some_and(|index| settled.get(index).copied().unwrap_or(false))
                });
            settled.push(state.status.is_terminal() || never_starts);
        }
        let failed =
            states.iter().any(|state| matches!(state.status, JobStatus::Failed | JobStatus::InfrastructureFail));
        if settled.iter().all(|settled| *settled) {
            let stopped_at = states.iter().filter_map(|state| state.stopped_at).max();
            let status = if failed { WorkflowStatus::Failed } else { WorkflowStatus::Success };
            WorkflowState { status, stopped_at }
        } else {
            WorkflowState {
                status: if failed { WorkflowStatus::Failing } else { WorkflowStatus::Running },
                stopped_at: None,
            }
        }
    }

    /// The steps of container `node` of `job` that have started by `now`.
    pub fn step_states<'a>(
        &self,
        workflow: &WorkflowRecord,
        job: &'a JobRecord,
        node: usize,
        now: Instant,
    ) -> Vec<StepState<'a>> {
        let Some(container) = job.containers.get(node) else { return Vec::new() };
        let (Course::Runs { steps, .. }, Some(started)) = (&container.course, container.started_after) else {
            return Vec::new();
        };
        let elapsed = self.elapsed(now);
        let canceled = workflow.canceled_after.filter(|canceled| *canceled <= elapsed);
        let horizon = canceled.unwrap_or(elapsed);
        let mut begins = started;
        let mut shown = Vec::new();
        for run in steps {
            let ends = begins + run.duration;
            if begins > horizon {
                break;
            }
            let (status, stopped) = if ends <= horizon {
                (run.result.as_str(), Some(ends))
            } else if canceled.is_some() {
                ("canceled", Some(horizon))
            } else {
                ("running", None)
            };
            shown.push(StepState {
                run,
                status,
                started_at: self.at(begins),
                stopped_at: stopped.map(|offset| self.at(offset)),
            });
            begins = ends;
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use realitycheck_project::outputs;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::SIM_RUNNER_RESOURCE_CLASS;
    use crate::execution::job::JobContext;
    use crate::execution::shell::hex;
    use crate::installation::UNSERVED_API_URL;
    use crate::oidc::{DISCOVERY_PATH, JWKS_PATH, KEY_ID, WRONG_ISSUER};
    use crate::scenario::Scenario;
    use realitycheck_project::outputs::OIDC_TOKEN_VARIABLES;

    const ORG_VALUE: &str = "org value";
    const LOCAL_VALUE: &str = "local value";

    fn started_at() -> Timestamp {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    fn pipelines(scenario: Scenario) -> Pipelines {
        Pipelines::new(Arc::new(Installation::new(scenario, started_at())), JobTiming::default())
    }

    /// The contexts of a healthy organization, or none in `contexts-missing`; in
    /// `context-value-changed`, org-global's value is another than the run set.
    fn contexts(scenario: Scenario) -> impl Fn(&str) -> Option<JobContext> {
        move |name: &str| {
            let variable = match name {
                _ if scenario == Scenario::ContextsMissing => return None,
                "org-global" if scenario == Scenario::ContextValueChanged => ("CONTEXT_END_TO_END_TEST_VAR", "by hand"),
                "org-global" => ("CONTEXT_END_TO_END_TEST_VAR", ORG_VALUE),
                "individual-local" => ("MULTI_CONTEXT_END_TO_END_VAR", LOCAL_VALUE),
                _ => return None,
            };
            Some(JobContext { id: context_id(name), variables: vec![(variable.0.to_owned(), variable.1.to_owned())] })
        }
    }

    fn context_id(name: &str) -> String {
        ids::uuid(&format!("test-context:{name}"))
    }

    fn digest() -> String {
        hex(&Sha256::digest(format!("{ORG_VALUE}\n{LOCAL_VALUE}").as_bytes()))
    }

    /// Every gated workflow open, as a full realitycheck run on AWS asks.
    fn everything(cloud: &str) -> TriggerRequest {
        let parameters = json!({
            "run_id": "run-1", "cloud_provider": cloud, "runner_resource_class": SIM_RUNNER_RESOURCE_CLASS,
            "windows": true, "docker_resource_classes": true, "context_digest": digest(), "dlc": true
        });
        TriggerRequest { branch: Some("main".into()), tag: None, parameters: parameters.as_object().unwrap().clone() }
    }

    fn trigger(pipelines: &mut Pipelines, scenario: Scenario, request: TriggerRequest) -> String {
        pipelines.trigger(request, &contexts(scenario), Instant::now(), started_at()).unwrap().id.clone()
    }

    fn statuses(pipelines: &Pipelines) -> Vec<(String, &'static str)> {
        let summary = pipelines.summaries(Instant::now()).pop().unwrap();
        summary.workflows.into_iter().flat_map(|workflow| workflow.jobs).collect()
    }

    fn workflow_statuses(pipelines: &Pipelines) -> Vec<(String, &'static str)> {
        let summary = pipelines.summaries(Instant::now()).pop().unwrap();
        summary.workflows.into_iter().map(|workflow| (workflow.name, workflow.status)).collect()
    }

    const ALL_JOBS: [&str; 20] = [
        "docker",
        "docker_resource_class-small",
        "docker_resource_class-medium",
        "docker_resource_class-medium+",
        "docker_resource_class-large",
        "docker_resource_class-xlarge",
        "machine",
        "remote_docker",
        "arm",
        "remote_docker_dlc",
        "machine_dlc",
        "runner",
        "windows",
        "contexts",
        "write_workspace",
        "read_workspace",
        "save_cache",
        "restore_cache",
        "artifacts",
        "env_subst",
    ];

    /// The terminal (or stuck) status of every job of a full run (`everything("aws")`, plus
    /// `test_results`) in `scenario`, the table the harness's expectations follow.
    fn expected(scenario: Scenario, job: &str) -> &'static str {
        let docker = job.starts_with("docker")
            || [
                "remote_docker",
                "remote_docker_dlc",
                "contexts",
                "write_workspace",
                "save_cache",
                "artifacts",
                "test_results",
                "checkout",
                "env_subst",
            ]
            .contains(&job);
        let dlc = ["remote_docker_dlc", "machine_dlc"].contains(&job);
        let vm = dlc || ["machine", "remote_docker", "arm", "windows"].contains(&job);
        match scenario {
            Scenario::NoNomadClients
            | Scenario::NomadClientsDraining
            | Scenario::NomadDockerUnhealthy
            | Scenario::NomadServersNoQuorum => match job {
                "read_workspace" | "restore_cache" => "blocked",
                _ if docker => "queued",
                _ => "success",
            },
            Scenario::PodsNotReady if vm => "queued",
            Scenario::MachineProvisionerBroken
            | Scenario::MachineProvisionerForbidden
            | Scenario::CloudProviderOther
                if vm =>
            {
                "infrastructure_fail"
            }
            Scenario::RunnerMissing if job == "runner" => "queued",
            Scenario::ContextsMissing | Scenario::ContextValueChanged if job == "contexts" => "failed",
            Scenario::CheckoutKeyMissing if job == "checkout" => "failed",
            Scenario::DlcNotGranted if dlc => "infrastructure_fail",
            Scenario::EnvSubstMissing if job == "env_subst" => "failed",
            Scenario::ClientsTooSmall if job == "docker_resource_class-xlarge" => "queued",
            _ => "success",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_scenario_ends_every_job_as_the_table_says() {
        for &scenario in Scenario::ALL {
            let mut pipelines = pipelines(scenario);
            trigger(&mut pipelines, scenario, everything("aws"));
            tokio::time::advance(Duration::from_secs(60)).await;
            let statuses = statuses(&pipelines);
            let names: Vec<&str> = statuses.iter().map(|(name, _)| name.as_str()).collect();
            let mut all_jobs = ALL_JOBS.to_vec();
            all_jobs.extend(["test_results", "checkout"]);
            if matches!(scenario, Scenario::PipelineConfigError | Scenario::NoWorkflows) {
                all_jobs.clear();
            }
            let mut sorted_names = names.clone();
            sorted_names.sort_unstable();
            all_jobs.sort_unstable();
            assert_eq!(sorted_names, all_jobs, "{scenario}");
            for (job, status) in &statuses {
                assert_eq!(*status, expected(scenario, job), "{scenario}: {job}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_pipeline_moves_through_the_statuses() {
        let mut pipelines = pipelines(Scenario::Healthy);
        let id = trigger(&mut pipelines, Scenario::Healthy, everything("aws"));
        let job = |pipelines: &Pipelines, name: &str| -> JobState {
            let (pipeline, workflow, job) =
                pipelines.jobs().find(|(p, _, job)| p.id == id && job.name == name).unwrap();
            pipeline.job_state(workflow, job, Instant::now())
        };
        let docker = job(&pipelines, "docker");
        assert_eq!((docker.status, docker.started_at), (JobStatus::Queued, None));
        assert_eq!(docker.queued_at, Some(started_at()));
        let read = job(&pipelines, "read_workspace");
        assert_eq!((read.status, read.number, read.queued_at), (JobStatus::Blocked, None, None));
        assert!(workflow_statuses(&pipelines).iter().all(|(_, status)| *status == "running"));

        tokio::time::advance(Duration::from_millis(250)).await;
        let docker = job(&pipelines, "docker");
        assert_eq!(docker.status, JobStatus::Running);
        assert_eq!(docker.started_at, Some(started_at() + SignedDuration::from_millis(200)));
        assert!(pipelines.job_by_number(docker.number.unwrap(), Instant::now()).is_some());
        assert!(pipelines.job_by_number(read.number.unwrap_or(999), Instant::now()).is_none());

        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(workflow_statuses(&pipelines).iter().all(|(_, status)| *status == "success"));
        let read = job(&pipelines, "read_workspace");
        let write = job(&pipelines, "write_workspace");
        assert_eq!(read.status, JobStatus::Success);
        assert_eq!(read.queued_at, write.stopped_at, "a job queues when its requirement ends");
        assert!(read.number > write.number);
        let summary = pipelines.summaries(Instant::now()).pop().unwrap();
        let (pipeline, workflow) = pipelines.workflow(&summary.workflows[0].id).unwrap();
        assert_eq!(pipeline.workflow_state(workflow, Instant::now()).stopped_at, job(&pipelines, "docker").stopped_at);
    }

    #[tokio::test(start_paused = true)]
    async fn numbers_are_unique_and_increase_across_pipelines() {
        let mut pipelines = pipelines(Scenario::Healthy);
        trigger(&mut pipelines, Scenario::Healthy, everything("aws"));
        trigger(&mut pipelines, Scenario::Healthy, TriggerRequest::default());
        tokio::time::advance(Duration::from_secs(60)).await;
        let numbers: Vec<u64> = pipelines.jobs().filter_map(|(_, _, job)| job.number).collect();
        assert_eq!(numbers.len(), 22 + 10);
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), numbers.len());
        assert_eq!(pipelines.summaries(Instant::now()).iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
        let second = pipelines.pipelines[1].workflows.iter().flat_map(|w| &w.jobs).filter_map(|job| job.number);
        assert!(
            second.clone().min()
                > pipelines.pipelines[0].workflows.iter().flat_map(|w| &w.jobs).filter_map(|j| j.number).max()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_cancels_unfinished_jobs_only() {
        let mut pipelines = pipelines(Scenario::NoNomadClients);
        trigger(&mut pipelines, Scenario::NoNomadClients, everything("aws"));
        tokio::time::advance(Duration::from_secs(30)).await;
        let summary = pipelines.summaries(Instant::now()).pop().unwrap();
        let features = summary.workflows.iter().find(|w| w.name == "features").unwrap();
        let machine = summary.workflows.iter().find(|w| w.name == "machine").unwrap();
        assert_eq!((features.status, machine.status), ("running", "running"));
        let arm = summary.workflows.iter().find(|w| w.name == "arm").unwrap();
        assert_eq!(arm.status, "success");
        for workflow in [&features.id, &machine.id, &arm.id] {
            assert!(pipelines.cancel_workflow(workflow, Instant::now()));
        }
        assert!(!pipelines.cancel_workflow("no-such-workflow", Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        let summary = pipelines.summaries(Instant::now()).pop().unwrap();
        let by_name = |name: &str| summary.workflows.iter().find(|w| w.name == name).unwrap().clone();
        assert_eq!(by_name("features").status, "canceled");
        assert!(by_name("features").jobs.iter().all(|(_, status)| *status == "canceled"));
        assert_eq!(by_name("machine").status, "canceled");
        assert_eq!(
            by_name("machine").jobs,
            [("machine".to_owned(), "success"), ("remote_docker".to_owned(), "canceled")]
        );
        assert_eq!(by_name("arm").status, "success", "a finished workflow stays as it ended");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_workflow_is_failing_then_failed() {
        let mut pipelines = pipelines(Scenario::ContextsMissing);
        trigger(&mut pipelines, Scenario::ContextsMissing, TriggerRequest::default());
        tokio::time::advance(Duration::from_millis(600)).await;
        let features = workflow_statuses(&pipelines).into_iter().find(|(name, _)| name == "features").unwrap();
        assert_eq!(features.1, "failing");
        tokio::time::advance(Duration::from_secs(10)).await;
        let features = workflow_statuses(&pipelines).into_iter().find(|(name, _)| name == "features").unwrap();
        assert_eq!(features.1, "failed");
    }

    fn course(pipelines: &Pipelines, name: &str) -> Course {
        pipelines.jobs().find(|(_, _, job)| job.name == name).unwrap().2.containers[0].course.clone()
    }

    fn output(course: &Course) -> String {
        let Course::Runs { steps, .. } = course else { panic!("the job runs: {course:?}") };
        steps.iter().flat_map(|step| &step.lines).map(|(_, line)| line.as_str()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_context_job_compares_the_digest_and_names_what_is_missing() {
        let mut pipelines = pipelines(Scenario::Healthy);
        let now = Instant::now();
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), now, started_at()).unwrap();
        assert_eq!(course(&pipelines, "contexts").result(), Some(JobResult::Success));
        assert!(output(&course(&pipelines, "contexts")).contains("context digest matches"));

        let mut pipelines = self::pipelines(Scenario::Healthy);
        let mut wrong = everything("aws");
        wrong.parameters.insert("context_digest".into(), json!("0".repeat(64)));
        pipelines.trigger(wrong, &contexts(Scenario::Healthy), now, started_at()).unwrap();
        let mismatch = course(&pipelines, "contexts");
        assert_eq!(mismatch.result(), Some(JobResult::Failed));
        assert!(
            output(&mismatch).contains(&format!("context digest mismatch: the job saw {}", digest())),
            "{}",
            output(&mismatch)
        );

        let mut pipelines = self::pipelines(Scenario::Healthy);
        let without_variable = |name: &str| {
            let empty = JobContext { id: context_id(name), variables: Vec::new() };
            (name == "org-global").then_some(empty).or_else(|| contexts(Scenario::Healthy)(name))
        };
        pipelines.trigger(everything("aws"), &without_variable, now, started_at()).unwrap();
        let missing_variable = course(&pipelines, "contexts");
        assert_eq!(missing_variable.result(), Some(JobResult::Failed));
        assert!(
            output(&missing_variable).contains("CONTEXT_END_TO_END_TEST_VAR is not set"),
            "{}",
            output(&missing_variable)
        );

        let mut pipelines = self::pipelines(Scenario::ContextsMissing);
        pipelines.trigger(everything("aws"), &contexts(Scenario::ContextsMissing), now, started_at()).unwrap();
        let missing_context = course(&pipelines, "contexts");
        let Course::Runs { steps, .. } = &missing_context else { panic!() };
        assert_eq!(steps.len(), 1, "the job ends at spin-up");
        assert!(output(&missing_context).contains("the context `org-global` does not exist"));

        let mut pipelines = self::pipelines(Scenario::Healthy);
        pipelines.trigger(TriggerRequest::default(), &contexts(Scenario::Healthy), now, started_at()).unwrap();
        assert!(output(&course(&pipelines, "contexts")).contains("no digest to compare"));
    }

    #[test]
    fn artifacts_tests_workspaces_and_caches_follow_the_commands() {
        let mut pipelines = pipelines(Scenario::Healthy);
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let Course::Runs { artifacts, .. } = course(&pipelines, "artifacts") else { panic!() };
        assert_eq!(artifacts.len(), 1);
        // What the project's jobs store, run from its YAML, is what realitycheck expects.
        assert_eq!(
            (artifacts[0].path.as_str(), artifacts[0].content.clone()),
            (outputs::ARTIFACT_PATH, outputs::artifact_content("run-1"))
        );
        let Course::Runs { tests, .. } = course(&pipelines, "test_results") else { panic!() };
        let cases: Vec<outputs::TestCase> = tests
            .iter()
            .map(|case| outputs::TestCase {
                classname: case.classname.clone(),
                name: case.name.clone(),
                result: case.result.to_string(),
            })
            .collect();
        assert_eq!(cases, outputs::test_cases("run-1"));
        assert_eq!(tests.iter().map(|case| case.run_time).collect::<Vec<_>>(), [0.1, 0.0]);
        assert_eq!(tests[0].source, "test-results");
        assert!(output(&course(&pipelines, "read_workspace")).contains("workspace round-trip"));
        assert!(output(&course(&pipelines, "restore_cache")).contains("cache round-trip"));
        assert!(output(&course(&pipelines, "docker")).contains("realitycheck run-1 ran on a docker executor (x86_64)"));
        assert!(output(&course(&pipelines, "arm")).contains("realitycheck on aarch64"));
        assert!(output(&course(&pipelines, "runner")).contains("ran on runner ip-10-0-7-21"));
        assert!(output(&course(&pipelines, "windows")).contains("realitycheck run-1 on Windows_NT"));
        assert!(output(&course(&pipelines, "remote_docker")).contains("realitycheck remote docker"));
        let Course::Runs { steps, .. } = course(&pipelines, "env_subst") else { panic!() };
        let rendered = &steps.last().unwrap().lines;
        assert_eq!(steps.last().unwrap().name, outputs::ENV_SUBST_STEP);
        assert_eq!(
            rendered.iter().map(|(_, line)| format!("{line}\n")).collect::<String>(),
            outputs::env_subst_rendered("run-1"),
            "the job's environment: reaches circleci env subst"
        );
        assert!(
            output(&course(&pipelines, "docker_resource_class-medium+")).contains("class medium+: 3 CPUs, 6144 MiB")
        );
        // A second pipeline of the same run finds the cache saved.
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let second = pipelines.pipelines[1].workflows.iter().flat_map(|w| &w.jobs).find(|job| job.name == "save_cache");
        assert!(output(&second.unwrap().containers[0].course).contains("Skipping cache generation"));
    }

    /// The steps of job `name` of the newest pipeline: name, result and output.
    fn steps_of(pipelines: &Pipelines, name: &str) -> Vec<(String, JobResult, Vec<String>)> {
        let pipeline = pipelines.pipelines.last().unwrap();
        let job = pipeline.workflows.iter().flat_map(|w| &w.jobs).find(|job| job.name == name).unwrap();
        let Course::Runs { steps, .. } = &job.containers[0].course else { panic!("{name} runs") };
        steps
            .iter()
            .map(|step| (step.name.clone(), step.result, step.lines.iter().map(|(_, l)| l.clone()).collect()))
            .collect()
    }

    fn trigger_run(pipelines: &mut Pipelines, run_id: &str, cloud: &str) {
        let mut request = everything(cloud);
        request.parameters.insert("run_id".into(), json!(run_id));
        pipelines.trigger(request, &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
    }

    #[test]
    fn docker_layer_caching_reuses_the_layers_of_the_previous_job_of_the_same_kind() {
        for cloud in ["aws", "gcp"] {
            let mut installation = Installation::new(Scenario::Healthy, started_at());
            installation.cloud_provider = realitycheck_project::CloudProvider::parse(cloud).unwrap();
            let mut pipelines = Pipelines::new(Arc::new(installation), JobTiming::default());
            trigger_run(&mut pipelines, "first", cloud);
            for job in ["remote_docker_dlc", "machine_dlc"] {
                let steps = steps_of(&pipelines, job);
                let (name, result, lines) = steps.last().unwrap();
                assert_eq!((name.as_str(), *result), (outputs::DLC_BUILD_STEP, JobResult::Success), "{job}");
                assert!(!lines.iter().any(|line| line.ends_with("CACHED")), "{job} on a fresh simulation: {lines:?}");
                assert_eq!(lines.last().map(String::as_str), Some("first"), "{job}: the image prints the run id");
            }
            trigger_run(&mut pipelines, "second", cloud);
            for job in ["remote_docker_dlc", "machine_dlc"] {
                let steps = steps_of(&pipelines, job);
                let lines = &steps.last().unwrap().2;
                let cached: Vec<&str> = lines
                    .windows(2)
                    .filter(|pair| pair[1].ends_with(" CACHED"))
                    .map(|pair| pair[0].split_once("] ").unwrap().1)
                    .collect();
                assert_eq!(
                    cached,
                    [
                        "FROM docker.io/cimg/base:2025.05",
                        "RUN echo \"realitycheck layer cache\" > /tmp/realitycheck-cached"
                    ],
                    "{job}: {lines:?}"
                );
                assert!(lines.iter().any(|line| line.contains("RUN echo \"second\"")), "{lines:?}");
                assert_eq!(lines.last().map(String::as_str), Some("second"), "{job}");
            }
            // Jobs without Docker layer caching start with an empty engine.
            for job in ["machine", "remote_docker"] {
                let steps = steps_of(&pipelines, job);
                let lines = &steps.last().unwrap().2;
                assert!(!lines.iter().any(|line| line.ends_with("CACHED")), "{job}: {lines:?}");
            }
        }
    }

    #[test]
    fn dlc_not_granted_fails_the_dlc_jobs_where_their_vm_starts() {
        let mut pipelines = pipelines(Scenario::DlcNotGranted);
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let machine = steps_of(&pipelines, "machine_dlc");
        assert_eq!(machine.len(), 1);
        let (name, result, lines) = &machine[0];
        assert_eq!((name.as_str(), *result), ("Spin up environment", JobResult::InfrastructureFail));
        assert_eq!(lines.last().map(String::as_str), Some(crate::installation::DLC_REFUSAL));
        let remote = steps_of(&pipelines, "remote_docker_dlc");
        let (name, result, lines) = remote.last().unwrap();
        assert_eq!((name.as_str(), *result), ("Setup a remote Docker engine", JobResult::InfrastructureFail));
        assert_eq!(lines.last().map(String::as_str), Some(crate::installation::DLC_REFUSAL));
        assert_eq!(
            crate::installation::DLC_REFUSAL,
            "Error: Docker layer caching was requested, but the machine provisioner could not attach a layer cache \
             volume: DLC is not enabled for this installation"
        );
        for job in ["machine", "remote_docker"] {
            assert_eq!(course(&pipelines, job).result(), Some(JobResult::Success), "{job}");
        }
    }

    #[test]
    fn env_subst_missing_fails_the_env_subst_job_with_the_clis_error() {
        let mut pipelines = pipelines(Scenario::EnvSubstMissing);
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let steps = steps_of(&pipelines, "env_subst");
        let (name, result, lines) = steps.last().unwrap();
        assert_eq!((name.as_str(), *result), (outputs::ENV_SUBST_STEP, JobResult::Failed));
        assert_eq!(
            lines[..2],
            ["Error: unknown command \"subst\" for \"circleci env\"", "Run 'circleci env --help' for usage."]
        );
        assert!(lines.last().unwrap().ends_with("Exited with code exit status 255"), "{lines:?}");
        assert_eq!(course(&pipelines, "artifacts").result(), Some(JobResult::Success));
    }

    #[test]
    fn the_android_image_runs_on_gcp_only() {
        let mut gcp = Installation::new(Scenario::Healthy, started_at());
        gcp.cloud_provider = realitycheck_project::CloudProvider::Gcp;
        let mut pipelines = Pipelines::new(Arc::new(gcp), JobTiming::default());
        pipelines.trigger(everything("gcp"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let android = course(&pipelines, "android");
        assert_eq!(android.result(), Some(JobResult::Success), "{android:?}");
        let output = output(&android);
        assert!(output.contains("realitycheck run-1 on Android image, SDK at /opt/android/sdk"), "{output}");
        assert!(output.ends_with("realitycheck android"), "{output}");

        // A job asking for the image on AWS (the workflow is GCP only: the parameter says gcp)
        // ends as a machine job whose image the provisioner lacks.
        let mut pipelines = self::pipelines(Scenario::Healthy);
        pipelines.trigger(everything("gcp"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let android = steps_of(&pipelines, "android");
        let (name, result, lines) = android.last().unwrap();
        assert_eq!((name.as_str(), *result), ("Spin up environment", JobResult::InfrastructureFail));
        assert_eq!(
            lines.last().unwrap(),
            "Machine image android-default is not available: Android machine images need CircleCI server on GCP"
        );
        assert_eq!(course(&pipelines, "machine").result(), Some(JobResult::Success));
    }

    #[test]
    fn failed_and_broken_jobs_say_why() {
        let mut pipelines = pipelines(Scenario::MachineProvisionerBroken);
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let machine = course(&pipelines, "machine");
        assert_eq!(machine.result(), Some(JobResult::InfrastructureFail));
        assert!(output(&machine).contains("RunInstances"));
        let Course::Runs { steps, .. } = course(&pipelines, "remote_docker") else { panic!() };
        assert_eq!(steps.last().unwrap().name, "Setup a remote Docker engine");
        assert_eq!(steps.last().unwrap().result, JobResult::InfrastructureFail);

        let mut pipelines = self::pipelines(Scenario::CloudProviderOther);
        pipelines.trigger(everything("other"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        let windows = course(&pipelines, "windows");
        assert!(output(&windows).contains("No machine provisioner is configured"));
        let workflows: Vec<String> =
            pipelines.summaries(Instant::now())[0].workflows.iter().map(|w| w.name.clone()).collect();
        assert_eq!(workflows, ["docker", "docker_resource_classes", "runner", "windows", "features"]);

        let mut gcp = Installation::new(Scenario::Healthy, started_at());
        gcp.cloud_provider = realitycheck_project::CloudProvider::Gcp;
        let mut pipelines = Pipelines::new(Arc::new(gcp), JobTiming::default());
        pipelines.trigger(everything("aws"), &contexts(Scenario::Healthy), Instant::now(), started_at()).unwrap();
        assert_eq!(course(&pipelines, "arm").result(), Some(JobResult::InfrastructureFail));
        assert_eq!(course(&pipelines, "machine").result(), Some(JobResult::Success));
    }

    #[test]
    fn triggers_are_checked() {
        let mut pipelines = pipelines(Scenario::Healthy);
        let lookup = contexts(Scenario::Healthy);
        let both = TriggerRequest { branch: Some("a".into()), tag: Some("b".into()), parameters: Default::default() };
        assert_eq!(
            pipelines.trigger(both, &lookup, Instant::now(), started_at()).unwrap_err(),
            TriggerError::BranchAndTag
        );
        let unexpected =
            TriggerRequest { parameters: json!({"name": 1}).as_object().unwrap().clone(), ..Default::default() };
        let error = pipelines.trigger(unexpected, &lookup, Instant::now(), started_at()).unwrap_err();
        assert_eq!(error.to_string(), "Unexpected argument(s): name");
        let wrong =
            TriggerRequest { parameters: json!({"windows": "yes"}).as_object().unwrap().clone(), ..Default::default() };
        assert!(pipelines.trigger(wrong, &lookup, Instant::now(), started_at()).is_err());
        assert!(pipelines.summaries(Instant::now()).is_empty(), "refused triggers create nothing");
        let tag = TriggerRequest { tag: Some("v1".into()), ..Default::default() };
        let pipeline = pipelines.trigger(tag, &lookup, Instant::now(), started_at()).unwrap();
        assert_eq!(
            (pipeline.branch.clone(), pipeline.tag.clone(), pipeline.state()),
            (None, Some("v1".into()), "created")
        );
    }

    /// Jobs queue for 200 ms, spin up in 300 ms and run each step in 500 ms (plus its sleeps).
    fn even_timing() -> JobTiming {
        JobTiming {
            queue: Duration::from_millis(200),
            spin_up: Duration::from_millis(300),
            run_min: Duration::from_millis(500),
            run_max: Duration::from_millis(500),
        }
    }

    /// What `realitycheck capacity` triggers: the capacity workflow of `executor` alone.
    fn capacity(executor: &str, containers: u32, class: &str, hold_seconds: u32) -> TriggerRequest {
        let parameters = json!({
            "run_id": "cap-1", "docker": false, "features": false, "capacity_executor": executor,
            "capacity_jobs": containers, "capacity_resource_class": class, "capacity_hold_seconds": hold_seconds
        });
        TriggerRequest { branch: None, tag: None, parameters: parameters.as_object().unwrap().clone() }
    }

    /// The only job of the newest pipeline, its state and its containers' statuses at `now`.
    fn only_job(pipelines: &Pipelines) -> (JobState, Vec<&'static str>) {
        let pipeline = pipelines.pipelines.last().unwrap();
        let workflow = &pipeline.workflows[0];
        let job = &workflow.jobs[0];
        let now = Instant::now();
        let containers = (0..job.containers.len())
            .map(|node| pipeline.container_status(workflow, job, node, now).as_str())
            .collect();
        (pipeline.job_state(workflow, job, now), containers)
    }

    fn counts(statuses: &[&str]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for status in statuses {
            *counts.entry((*status).to_owned()).or_insert(0) += 1;
        }
        counts
    }

    fn count_map(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(status, count)| ((*status).to_owned(), *count)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_projects_capacity_job_runs_its_containers_as_the_clients_have_room() {
        let installation = Arc::new(Installation::new(Scenario::AutoscalerAtMax, started_at()));
        let mut pipelines = Pipelines::new(installation, even_timing());
        let pipeline = pipelines
            .trigger(capacity("docker", 10, "medium", 60), &contexts(Scenario::Healthy), Instant::now(), started_at())
            .unwrap();
        let workflows: Vec<&str> = pipeline.workflows.iter().map(|workflow| workflow.name.as_str()).collect();
        assert_eq!(workflows, ["capacity_docker"]);
        let job = &pipeline.workflows[0].jobs[0];
        assert_eq!((job.name.as_str(), job.plan.parallelism, job.containers.len()), ("capacity_docker", Some(10), 10));
        // Each container: 300 ms of spin-up, then its step: 500 ms and `sleep 60`, a second here.
        let Course::Runs { steps, .. } = &job.containers[3].course else { panic!("it runs") };
        assert_eq!(steps.iter().map(|step| step.duration).collect::<Vec<_>>(), [300, 1_500].map(Duration::from_millis));
        let output: Vec<&str> = steps[1].lines.iter().map(|(_, line)| line.as_str()).collect();
        assert_eq!(output, ["realitycheck cap-1 container 3 of 10 holds medium"]);

        let (queued, containers) = only_job(&pipelines);
        assert_eq!((queued.status, queued.queued_at, queued.started_at), (JobStatus::Queued, Some(started_at()), None));
        assert_eq!(counts(&containers), count_map(&[("queued", 10)]));
        // The two clients take eight; the other two wait for the first eight to end, at 2 s.
        tokio::time::advance(Duration::from_millis(250)).await;
        let (running, containers) = only_job(&pipelines);
        assert_eq!(running.status, JobStatus::Running);
        assert_eq!(running.started_at, Some(started_at() + SignedDuration::from_millis(200)));
        assert_eq!(counts(&containers), count_map(&[("queued", 2), ("running", 8)]));
        tokio::time::advance(Duration::from_millis(1_800)).await;
        let (still_running, containers) = only_job(&pipelines);
        assert_eq!((still_running.status, still_running.stopped_at), (JobStatus::Running, None));
        assert_eq!(counts(&containers), count_map(&[("running", 2), ("success", 8)]));
        assert_eq!(workflow_statuses(&pipelines), [("capacity_docker".to_owned(), "running")]);
        tokio::time::advance(Duration::from_millis(1_800)).await;
        let (done, containers) = only_job(&pipelines);
        assert_eq!(done.status, JobStatus::Success);
        assert_eq!(done.stopped_at, Some(started_at() + SignedDuration::from_millis(3_800)), "the last one's end");
        assert_eq!(counts(&containers), count_map(&[("success", 10)]));
        assert_eq!(workflow_statuses(&pipelines), [("capacity_docker".to_owned(), "success")]);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_a_parallel_job_stops_its_running_containers_and_frees_their_clients() {
        let installation = Arc::new(Installation::new(Scenario::AutoscalerAtMax, started_at()));
        let mut pipelines = Pipelines::new(installation, even_timing());
        let lookup = contexts(Scenario::Healthy);
        let first = pipelines.trigger(capacity("docker", 10, "medium", 60), &lookup, Instant::now(), started_at());
        let workflow = first.unwrap().workflows[0].id.clone();
        // A second pipeline's eight containers queue behind the first's two that wait.
        tokio::time::advance(Duration::from_millis(500)).await;
        let second_wall = started_at() + SignedDuration::from_millis(500);
        pipelines.trigger(capacity("docker", 8, "medium", 60), &lookup, Instant::now(), second_wall).unwrap();
        tokio::time::advance(Duration::from_millis(500)).await;
        let (waiting, containers) = only_job(&pipelines);
        assert_eq!((waiting.status, counts(&containers)), (JobStatus::Queued, count_map(&[("queued", 8)])));

        assert!(pipelines.cancel_workflow(&workflow, Instant::now()));
        tokio::time::advance(Duration::from_millis(10)).await;
        let pipeline = &pipelines.pipelines[0];
        let (workflow, job) = (&pipeline.workflows[0], &pipeline.workflows[0].jobs[0]);
        let canceled = pipeline.job_state(workflow, job, Instant::now());
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(canceled.stopped_at, Some(started_at() + SignedDuration::from_secs(1)));
        let statuses: Vec<&str> =
            (0..10).map(|node| pipeline.container_status(workflow, job, node, Instant::now()).as_str()).collect();
        assert_eq!(counts(&statuses), count_map(&[("canceled", 10)]));
        let running_then = pipeline.step_states(workflow, job, 0, Instant::now());
        assert_eq!(running_then.last().map(|step| step.status), Some("canceled"));
        let stopped = running_then.last().and_then(|step| step.stopped_at);
        assert_eq!(stopped, Some(started_at() + SignedDuration::from_secs(1)));
        assert!(pipeline.step_states(workflow, job, 9, Instant::now()).is_empty(), "a container that waited never ran");

        // The clients the cancelled containers held take the second pipeline's at once.
        let (next, containers) = only_job(&pipelines);
        assert_eq!(next.started_at, Some(started_at() + SignedDuration::from_secs(1)));
        assert_eq!(counts(&containers), count_map(&[("running", 8)]));
        tokio::time::advance(Duration::from_secs(60)).await;
        let pipeline = &pipelines.pipelines[0];
        let (workflow, job) = (&pipeline.workflows[0], &pipeline.workflows[0].jobs[0]);
        let statuses: Vec<&str> =
            (0..10).map(|node| pipeline.container_status(workflow, job, node, Instant::now()).as_str()).collect();
        assert_eq!(counts(&statuses), count_map(&[("canceled", 10)]), "a cancelled container stays so");
        assert_eq!(only_job(&pipelines).0.status, JobStatus::Success);
    }

    #[test]
    fn a_parallel_job_ends_as_its_worst_container_once_each_ended() {
        use JobResult::{Failed, InfrastructureFail, Success};
        let of = |results: &[Option<JobResult>]| combined(results.iter().copied());
        assert_eq!(of(&[Some(Success), Some(Success)]), Some(Success));
        assert_eq!(of(&[Some(Success), Some(Failed), Some(Success)]), Some(Failed));
        assert_eq!(of(&[Some(Failed), Some(InfrastructureFail)]), Some(InfrastructureFail));
        assert_eq!(of(&[Some(Failed), None]), None, "one never ran");
    }

    #[tokio::test(start_paused = true)]
    async fn parallel_machine_containers_each_get_a_vm_whatever_else_runs() {
        let installation = Arc::new(Installation::new(Scenario::AutoscalerAtMax, started_at()));
        let mut pipelines = Pipelines::new(installation, even_timing());
        pipelines
            .trigger(capacity("machine", 30, "medium", 60), &contexts(Scenario::Healthy), Instant::now(), started_at())
            .unwrap();
        tokio::time::advance(Duration::from_millis(1_150)).await;
        let (queued, containers) = only_job(&pipelines);
        assert_eq!((queued.status, counts(&containers)), (JobStatus::Queued, count_map(&[("queued", 30)])));
        tokio::time::advance(Duration::from_millis(100)).await;
        let (running, containers) = only_job(&pipelines);
        assert_eq!(running.started_at, Some(started_at() + SignedDuration::from_millis(1_200)), "queue time and a VM");
        assert_eq!(counts(&containers), count_map(&[("running", 30)]));
        assert!(pipelines.fleet().lock().nomad_at(Instant::now()).jobs.is_empty(), "VMs are no Nomad jobs");
    }

    #[tokio::test(start_paused = true)]
    async fn a_class_no_client_holds_leaves_a_job_queued_and_a_parallel_ones_containers_in_nomads_queue() {
        let mut pipelines = pipelines(Scenario::ClientsTooSmall);
        pipelines
            .trigger(everything("aws"), &contexts(Scenario::ClientsTooSmall), Instant::now(), started_at())
            .unwrap();
        let Course::StaysQueued { reason } = course(&pipelines, "docker_resource_class-xlarge") else {
            panic!("no client holds xlarge")
        };
        assert_eq!(
            reason,
            "no Nomad client can hold resource class xlarge (8 vCPU, 16384 MiB): the largest, t3a.xlarge, has 4 vCPU \
             and 12288 MiB for jobs"
        );
        assert_eq!(course(&pipelines, "docker_resource_class-large").result(), Some(JobResult::Success));

        let lookup = contexts(Scenario::Healthy);
        pipelines.trigger(capacity("docker", 4, "xlarge", 60), &lookup, Instant::now(), started_at()).unwrap();
        tokio::time::advance(Duration::from_secs(600)).await;
        let (queued, containers) = only_job(&pipelines);
        assert_eq!((queued.status, counts(&containers)), (JobStatus::Queued, count_map(&[("queued", 4)])));
        let nomad = pipelines.fleet().lock().nomad_at(Instant::now());
        assert_eq!(nomad.jobs.iter().filter(|job| job.status() == "pending").count(), 4, "Nomad holds them queued");
        pipelines.trigger(capacity("docker", 4, "medium", 60), &lookup, Instant::now(), started_at()).unwrap();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(only_job(&pipelines).0.status, JobStatus::Success, "medium fits a t3a.xlarge");
    }

    /// The `oidc` job of a pipeline of `scenario` that opens only the `oidc` workflow.
    fn oidc_pipelines(scenario: Scenario) -> Pipelines {
        let mut pipelines = pipelines(scenario);
        let request = TriggerRequest {
            parameters: json!({"run_id": "run-1", "oidc": true}).as_object().unwrap().clone(),
            ..TriggerRequest::default()
        };
        pipelines.trigger(request, &contexts(scenario), Instant::now(), started_at()).unwrap();
        pipelines
    }

    #[test]
    fn the_oidc_job_verifies_tokens_that_name_the_job_and_no_step_prints_them() {
        let pipelines = oidc_pipelines(Scenario::Healthy);
        let (pipeline, workflow, job) = pipelines.jobs().find(|(_, _, job)| job.name == "oidc").unwrap();
        let oidc = &job.containers[0].course;
        let lines = output(oidc);
        assert_eq!(oidc.result(), Some(JobResult::Success), "{lines}");
        for variable in OIDC_TOKEN_VARIABLES {
            let verified = format!("oidc {variable} verified: key {KEY_ID} of {UNSERVED_API_URL}{JWKS_PATH}");
            assert!(lines.contains(&verified), "{lines}");
        }
        let prefix = "oidc CIRCLE_OIDC_TOKEN claims ";
        let claims = lines.lines().find_map(|line| line.strip_prefix(prefix)).unwrap();
        let claims: serde_json::Value = serde_json::from_str(claims).unwrap();
        let started = pipeline.job_state(workflow, job, Instant::now() + Duration::from_secs(3_600)).started_at;
        let identity = JobIdentity {
            pipeline_id: pipeline.id.clone(),
            workflow_id: workflow.id.clone(),
            job_id: job.id.clone(),
            vcs_ref: "refs/heads/main".to_owned(),
            context_ids: vec![context_id("org-global")],
            started_at: started.unwrap(),
        };
        let installation = pipelines.installation();
        assert_eq!(claims, installation.oidc.claims(&identity, false), "the ids of the API, iat the job's start");
        assert_eq!(claims["oidc.circleci.com/project-id"], crate::circleci::project_id());
        let tokens = installation.oidc.tokens(&identity);
        for (_, _, job) in pipelines.jobs() {
            for container in &job.containers {
                let Course::Runs { steps, .. } = &container.course else { continue };
                for (_, line) in steps.iter().flat_map(|step| &step.lines) {
                    assert!(!line.contains("eyJ"), "{}: a JWT part in {line}", job.name);
                    for (_, token) in &tokens {
                        assert!(token.split('.').all(|part| !line.contains(part)), "{}: {line}", job.name);
                    }
                }
            }
        }
    }

    #[test]
    fn the_oidc_faults_fail_the_oidc_job_as_the_program_says() {
        let bad = oidc_pipelines(Scenario::OidcBadSignature);
        let course = course(&bad, "oidc");
        assert_eq!(course.result(), Some(JobResult::Failed));
        for variable in OIDC_TOKEN_VARIABLES {
            let line = format!(
                "oidc {variable} bad-signature: key {KEY_ID} of {UNSERVED_API_URL}{JWKS_PATH} does not verify it"
            );
            assert!(output(&course).contains(&line), "{}", output(&course));
        }
        let wrong = oidc_pipelines(Scenario::OidcWrongIssuer);
        let course = self::course(&wrong, "oidc");
        assert_eq!(course.result(), Some(JobResult::Failed));
        for variable in OIDC_TOKEN_VARIABLES {
            let line = format!(
                "oidc {variable} unverified: reading {WRONG_ISSUER}{DISCOVERY_PATH} and its key set failed: <urlopen \
                 error [Errno -2] Name or service not known>"
            );
            assert!(output(&course).contains(&line), "{}", output(&course));
        }
        assert!(output(&course).contains(&format!("\"iss\": \"{WRONG_ISSUER}\"")));
    }
}
