//! What every pipeline check shares: the run's pipeline (blocked when it could not start),
//! waiting on the one poller for some jobs to finish, calling a job stuck in the queue red
//! as soon as the cause is observable (no Nomad client, no machine provisioner, no runner),
//! and the diagnosis of a failed job with the last lines of its failing step. The causes that
//! make several checks red at once are marked here, the one place pipeline diagnoses are built,
//! with a key of [`shared_causes`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use harness::{Diagnosis, Phase, Scope, SkipReason, Verdict};
use realitycheck_project::{Job, Needs, Workflow as JobWorkflow};

use super::api::api_failure;
use super::cause::{Because, Cause, StatedBy, Values, causes};
use super::nomad::{client_nodes, nomad_failure, unusable_because};
use super::{BUG, PipelineHandles, ids};
use crate::clients::circleci::{ApiClient, ApiError, BuildDetails, JobStatus, Workflow, WorkflowJob};
use crate::clients::pods::component::MACHINE_PROVISIONER;
use crate::clients::pods::{self, PodState};
use crate::phase;
use crate::resources::api::ApiAccess;
use crate::resources::cluster::ClusterAccess;
use crate::resources::pipeline::{PipelineRun, PollEnd, Snapshot, TriggerError};

/// How many of a failed step's last output lines a diagnosis quotes.
const OUTPUT_LINES: usize = 10;

/// Polls between two looks for the cause of a job stuck in the queue.
const POLLS_BETWEEN_PROBES: u64 = 5;

/// How long before its timeout a pipeline check stops waiting to say what it saw: a tenth of
/// the timeout, at most this.
const REPORT_BEFORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys of the causes that make several pipeline checks red at once (`harness::SharedCause`):
/// reports state each once and list the checks it explains.
pub(crate) mod shared_causes {
    /// No Nomad client is ready, eligible and undrained with a healthy docker driver.
    pub const NO_NOMAD_CLIENT_FOR_DOCKER: &str = "no-nomad-client-for-docker";
    /// The Nomad servers have no leader: Nomad places no job.
    pub const NOMAD_HAS_NO_LEADER: &str = "nomad-has-no-leader";
    /// Part of the machine provisioner has no ready pod.
    pub const MACHINE_PROVISIONER_NOT_READY: &str = "machine-provisioner-not-ready";
    /// The machine provisioner runs, but the jobs that need a VM ended `infrastructure_fail`.
    pub const MACHINE_PROVISIONER_CANNOT_START_VMS: &str = "machine-provisioner-cannot-start-vms";
    /// The jobs that ask for Docker layer caching failed saying the layer cache was not given.
    pub const DLC_NOT_GRANTED: &str = "dlc-not-granted";
    /// No self-hosted runner of the configured resource class is registered.
    pub const NO_RUNNER_REGISTERED: &str = "no-runner-registered";
    /// The CircleCI API failed while the poller followed the pipeline.
    pub const API_FAILED_DURING_PIPELINE: &str = "api-failed-during-pipeline";
}

/// A job that ended without success: what its status says, and what to read.
const STEP_FAILED_TEXT: &str = "a step of the job failed: its output above says which and why";
const TIMED_OUT_TEXT: &str = "a step ran past its time limit";
const CANCELED_TEXT: &str = "the job was cancelled before it finished (by a user, or by auto-cancel)";
const UNAUTHORIZED_TEXT: &str = "the job may not use one of its contexts (a security group restriction)";
const NOT_SUCCEEDED_TEXT: &str = "the job did not run to success";
const READ_STEP_OUTPUT: &str =
    "read the step output; image pulls need Docker Hub or the mirror named by pipeline.image_registry";
const READ_RUNNER_LOGS: &str = "read the runner agent's logs on its host";

causes! {
    StatedBy::Checks(&[ids::REMOTE_DOCKER_DLC, ids::MACHINE_DLC]) => {
        /// A layer caching job failed saying its layer cache was not given.
        DLC_NOT_GRANTED:
            "the machine provisioner did not give the job a Docker layer cache: Docker layer caching is not set up for this installation",
            "DLC needs the machine provisioner (see machine_provisioner::config) with its layer cache volume settings in values.yaml, and on AWS an S3 bucket with versioning enabled (`aws s3api get-bucket-versioning --bucket <bucket>` says `Enabled`); the machine provisioner's logs say why it refused (`kubectl -n {namespace} get pods | grep {component}`, then `kubectl -n {namespace} logs <pod>`)";
    }
    StatedBy::Shared("Pipeline jobs") => {
        /// A job waits without a visible cause.
        NEVER_PICKED_UP:
            "the job was never picked up although realitycheck saw capacity for it (Nomad clients, the machine provisioner's pod, runners): the service that hands jobs to executors may be failing",
            "read the logs of the provisioners' pods: `kubectl -n {namespace} get pods | grep -e docker-provisioner -e {component}`, then `kubectl -n {namespace} logs <pod>` (the docker provisioner for docker jobs, the machine provisioner for machine jobs); on a slow installation, raise timeouts.pipeline";
        RUNS_TOO_LONG:
            "the job runs longer than the pipeline timeout allows: slow image pulls, a slow executor, or a step that hangs",
            "open the job in the CircleCI UI to see which step is slow; raise timeouts.pipeline (or timeout_scale) if the installation is merely slow";
        /// The workflows ended before the check's jobs ran.
        REQUIRED_JOB_FAILED:
            "a job they require did not succeed, or the workflow was cancelled",
            "the checks of the jobs they require say why; the workflow's page in the CircleCI UI shows who cancelled it";
        /// The pipeline has no job of that name.
        NOT_THE_EXPECTED_CONFIG:
            "the project's .circleci/config.yml is not the one this realitycheck expects (an older version, or edited)",
            "push the config `realitycheck init` writes to the project's default branch (or pipeline.branch)";
        NO_CLIENT_FOR_DOCKER:
            "docker jobs run on Nomad clients, and none is ready, eligible, undrained with a healthy docker driver",
            "see nomad::clients_ready: enable or undrain a client (`nomad node eligibility -enable <id>`, `nomad node drain -disable <id>`), fix its docker daemon, or check the nomad-autoscaler if clients scale from zero";
        NOMAD_LEADERLESS:
            "docker jobs are placed by the Nomad servers' leader, and the servers have none: fewer than a majority of them are alive (no quorum)",
            "see nomad::servers_alive: bring a majority of the Nomad servers back, then the queued jobs are placed";
        NO_READY_PROVISIONER:
            "machine, Arm, Windows and remote docker jobs get their VM from the machine provisioner, and part of it is not running",
            "`kubectl -n {namespace} describe pod {pods}` and `kubectl -n {namespace} logs {pods}` say why it is not ready";
        NO_RUNNER:
            "no self-hosted runner of this resource class has connected to the installation",
            "install a machine or container runner with a token of `{class}` (`circleci runner resource-class create`), with its API URL set to {host}; or set pipeline.runner_resource_class to a class that has runners";
        NO_JOB_NUMBER:
            "the API's job list lacks job_number: a server older than realitycheck expects",
            "report the server version to the realitycheck maintainers";
        /// `infrastructure_fail` on a runner.
        RUNNER_SETUP_FAILED: "the runner could not set up the job's environment", READ_RUNNER_LOGS;
        /// `infrastructure_fail` of a docker job.
        CONTAINERS_NOT_STARTED: "the Nomad client could not start the job's containers", READ_STEP_OUTPUT;
        /// `infrastructure_fail` of a job that needs a VM.
        NO_VM:
            "the machine provisioner could not provide a VM for the job",
            "read the machine provisioner's logs (`kubectl -n {namespace} get pods | grep {component}`, then `kubectl -n {namespace} logs <pod>`): its cloud credentials and IAM permissions, quotas, the VM image and the subnet decide whether VMs start";
        STEP_FAILED: STEP_FAILED_TEXT, READ_STEP_OUTPUT;
        STEP_FAILED_ON_RUNNER: STEP_FAILED_TEXT, READ_RUNNER_LOGS;
        TIMED_OUT: TIMED_OUT_TEXT, READ_STEP_OUTPUT;
        TIMED_OUT_ON_RUNNER: TIMED_OUT_TEXT, READ_RUNNER_LOGS;
        CANCELED: CANCELED_TEXT, READ_STEP_OUTPUT;
        CANCELED_ON_RUNNER: CANCELED_TEXT, READ_RUNNER_LOGS;
        UNAUTHORIZED: UNAUTHORIZED_TEXT, READ_STEP_OUTPUT;
        UNAUTHORIZED_ON_RUNNER: UNAUTHORIZED_TEXT, READ_RUNNER_LOGS;
        NOT_SUCCEEDED: NOT_SUCCEEDED_TEXT, READ_STEP_OUTPUT;
        NOT_SUCCEEDED_ON_RUNNER: NOT_SUCCEEDED_TEXT, READ_RUNNER_LOGS;
    }
}

/// The run's pipeline, or the verdict of a check that cannot wait for jobs.
pub(crate) async fn pipeline_run(handles: &PipelineHandles) -> Result<Arc<PipelineRun>, Verdict> {
    handles.pipeline.run().await.map_err(|error| blocked_by_trigger(&error))
}

fn blocked_by_trigger(error: &TriggerError) -> Verdict {
    let by = match error {
        TriggerError::Project(_) => ids::PROJECT,
        TriggerError::Trigger(_) => ids::TRIGGER,
    };
    Verdict::Skip(SkipReason::Blocked { by: by.into(), reason: error.to_string() })
}

/// How waiting for a check's jobs ended.
pub(crate) enum Waited {
    /// Every job finished, or one finished without success (the others may never run).
    Finished(Vec<(Workflow, WorkflowJob)>),
    /// A job waits in the queue for something the installation lacks.
    Stuck(Diagnosis),
    /// The poller stopped for good without these jobs finishing.
    Ended(Verdict),
}

/// Waits on the run's poller until the check's jobs have finished, one of them failed, or one
/// waits in the queue for a cause that can be observed; shortly before the check's deadline,
/// says what it saw.
pub(crate) async fn wait_for_jobs(handles: &PipelineHandles, run: &PipelineRun, scope: &Scope) -> Waited {
    let specs = &handles.jobs[..];
    let mut snapshots = run.subscribe();
    let margin = (scope.timeout / 10).min(REPORT_BEFORE_TIMEOUT);
    let give_up_at = scope.deadline.checked_sub(margin).unwrap_or_else(Instant::now);
    let patience = scope.timeout.saturating_sub(margin);
    let mut first_seen_waiting: HashMap<String, u64> = HashMap::new();
    let mut last_probe: Option<u64> = None;
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        let found: Vec<Option<(&Workflow, &WorkflowJob)>> = specs.iter().map(|s| snapshot.job(&s.name)).collect();
        let all_finished = found.iter().all(|f| f.is_some_and(|(_, job)| job.status.is_terminal()));
        let one_failed =
            found.iter().flatten().any(|(_, job)| job.status.is_terminal() && job.status != JobStatus::Success);
        if all_finished || one_failed {
            return Waited::Finished(found.into_iter().flatten().map(|(w, j)| (w.clone(), j.clone())).collect());
        }
        if let Some(end) = &snapshot.end {
            return Waited::Ended(ended_without(run, specs, &snapshot, end));
        }
        for (spec, (workflow, job)) in specs.iter().zip(&found).filter_map(|(s, f)| f.map(|f| (s, f))) {
            if !job.status.is_waiting_for_capacity() {
                continue;
            }
            let first = *first_seen_waiting.entry(job.id.clone()).or_insert(snapshot.polls);
            let probe_due = last_probe.is_none_or(|probe| snapshot.polls >= probe + POLLS_BETWEEN_PROBES);
            if snapshot.polls > first && probe_due {
                last_probe = Some(snapshot.polls);
                let waited_polls = snapshot.polls - first + 1;
                if let Some(diagnosis) = why_stuck(handles, spec, workflow, job, waited_polls).await {
                    return Waited::Stuck(diagnosis);
                }
            }
        }
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() && snapshots.borrow().end.is_none() {
                    return Waited::Ended(Verdict::Fail(
                        Diagnosis::new("the pipeline poller stopped unexpectedly").because(&BUG),
                    ));
                }
            }
            () = tokio::time::sleep_until(give_up_at) => {
                return Waited::Stuck(still_waiting(&handles.cluster, run, specs, &snapshot, patience, scope.timeout));
            }
        }
    }
}

/// The diagnosis of jobs that did not finish in time although no cause showed.
fn still_waiting(
    cluster: &ClusterAccess,
    run: &PipelineRun,
    specs: &[Job],
    snapshot: &Snapshot,
    waited: Duration,
    timeout: Duration,
) -> Diagnosis {
    let statuses: Vec<(&Job, Option<&WorkflowJob>)> =
        specs.iter().map(|spec| (spec, snapshot.job(&spec.name).map(|(_, job)| job))).collect();
    let observed = statuses.iter().map(|(spec, job)| match job {
        Some(job) => {
            format!("job {spec} (#{}): {}", job.job_number.map_or("?".into(), |n| n.to_string()), job.status.as_str())
        }
        None => {
            format!("job {spec}: not in pipeline #{} yet (workflows: {})", run.number, snapshot.describe_workflows())
        }
    });
    let never_picked_up = statuses
        .iter()
        .any(|(_, job)| job.is_none_or(|job| !job.status.is_terminal() && job.status != JobStatus::Running));
    let namespace = cluster.namespace();
    let phase = specs.first().map_or(&phase::NOMAD_CLIENTS, |spec| phase_of(&spec.needs));
    let diagnosis = Diagnosis::new(format!(
        "{} did not finish within {} (the pipeline timeout is {})",
        specs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        harness::humanize(waited),
        harness::humanize(timeout)
    ))
    .observed_all(observed)
    .phase(phase);
    if never_picked_up {
        diagnosis.because(NEVER_PICKED_UP.with(&[("namespace", &namespace), ("component", &MACHINE_PROVISIONER)]))
    } else {
        diagnosis.because(&RUNS_TOO_LONG)
    }
}

/// The verdict when the poller stopped and some of `specs` never finished.
fn ended_without(run: &PipelineRun, specs: &[Job], snapshot: &Snapshot, end: &PollEnd) -> Verdict {
    match end {
        PollEnd::ApiFailed { error, failing_for, failed_polls } => {
            Verdict::Fail(poller_gave_up(error, *failing_for, *failed_polls))
        }
        PollEnd::Errored(errors) => Verdict::Skip(SkipReason::Blocked {
            by: ids::TRIGGER.into(),
            reason: match errors.first() {
                Some(error) => format!("pipeline #{} errored: {}", run.number, error.message),
                None => format!("pipeline #{} errored", run.number),
            },
        }),
        PollEnd::NoWorkflows { .. } => Verdict::Skip(SkipReason::Blocked {
            by: ids::TRIGGER.into(),
            reason: format!("pipeline #{} ran no workflow", run.number),
        }),
        PollEnd::NotCreated { state, waited } => Verdict::Skip(SkipReason::Blocked {
            by: ids::TRIGGER.into(),
            reason: format!("pipeline #{} was still `{state}` after {}", run.number, harness::humanize(*waited)),
        }),
        PollEnd::Finished => {
            let missing: Vec<String> =
                specs.iter().filter(|s| snapshot.job(&s.name).is_none()).map(|s| s.to_string()).collect();
            if missing.is_empty() {
                let unfinished = specs
                    .iter()
                    .filter_map(|s| snapshot.job(&s.name).map(|(_, job)| format!("{s}: {}", job.status.as_str())));
                return Verdict::Fail(
                    Diagnosis::new(format!("the workflows of pipeline #{} ended before these jobs ran", run.number))
                        .observed_all(unfinished)
                        .observed(format!("workflows: {}", snapshot.describe_workflows()))
                        .because(&REQUIRED_JOB_FAILED)
                        .phase(&phase::REALITYCHECK_PROJECT),
                );
            }
            Verdict::Fail(
                Diagnosis::new(format!("pipeline #{} has no job {}", run.number, missing.join(", ")))
                    .observed(format!("workflows: {}", snapshot.describe_workflows()))
                    .because(&NOT_THE_EXPECTED_CONFIG)
                    .phase(&phase::REALITYCHECK_PROJECT),
            )
        }
    }
}

/// The diagnosis of a poller that stopped on an API failure: at once, or after polls kept
/// failing for longer than its budget (said, with how many).
pub(crate) fn poller_gave_up(error: &ApiError, failing_for: Duration, failed_polls: u64) -> Diagnosis {
    let diagnosis = api_failure(error).shared_cause(
        shared_causes::API_FAILED_DURING_PIPELINE,
        "the CircleCI API failed while realitycheck followed the pipeline",
    );
    if failed_polls <= 1 {
        return diagnosis;
    }
    diagnosis.observed(format!(
        "every poll of the pipeline failed for {} ({failed_polls} polls in a row), so realitycheck stopped waiting",
        harness::humanize(failing_for)
    ))
}

/// Why `job` waits in the queue, when the installation shows the cause.
async fn why_stuck(
    handles: &PipelineHandles,
    spec: &Job,
    workflow: &Workflow,
    job: &WorkflowJob,
    waited_polls: u64,
) -> Option<Diagnosis> {
    let waiting = format!(
        "job {spec} (#{}) of workflow `{}` is {} (seen so in {waited_polls} polls)",
        job.job_number.map_or("?".into(), |n| n.to_string()),
        workflow.name,
        job.status.as_str()
    );
    let cluster = &handles.cluster;
    match &spec.needs {
        Needs::NomadClient => no_nomad_client(cluster, spec, &waiting).await,
        Needs::MachineProvisioner => no_machine_provisioner(cluster, spec, &waiting).await,
        Needs::NomadClientAndMachineProvisioner => match no_nomad_client(cluster, spec, &waiting).await {
            Some(diagnosis) => Some(diagnosis),
            None => no_machine_provisioner(cluster, spec, &waiting).await,
        },
        Needs::Runner(class) => no_runner(&handles.api, spec, class, &waiting).await,
    }
}

async fn no_nomad_client(cluster: &ClusterAccess, spec: &Job, waiting: &str) -> Option<Diagnosis> {
    let nodes = match client_nodes(cluster).await {
        Ok(nodes) => nodes,
        Err(error) if error.is_no_leader() => {
            let failure = nomad_failure(cluster.namespace(), &error);
            return Some(
                Diagnosis::new(format!("job {spec} is queued and the Nomad servers have no leader"))
                    .observed(waiting)
                    .shared_cause(shared_causes::NOMAD_HAS_NO_LEADER, "the Nomad servers have no leader")
                    .observed(failure.summary)
                    .observed_all(failure.observed)
                    .because(&NOMAD_LEADERLESS)
                    .phase(&phase::NOMAD_SERVERS),
            );
        }
        Err(_) => return None,
    };
    if nodes.iter().any(|node| unusable_because(node).is_none()) {
        return None;
    }
    let observed: Vec<String> = if nodes.is_empty() {
        vec!["`nomad node status` lists no node".into()]
    } else {
        nodes
            .iter()
            .map(|n| format!("{} ({}): {}", n.name, n.short_id(), unusable_because(n).unwrap_or_default()))
            .collect()
    };
    Some(
        Diagnosis::new(format!("job {spec} is queued and Nomad has no client that can run it"))
            .observed(waiting)
            .shared_cause(shared_causes::NO_NOMAD_CLIENT_FOR_DOCKER, "Nomad has no client that can run docker jobs")
            .observed_all(observed)
            .because(&NO_CLIENT_FOR_DOCKER)
            .phase(phase_of(&Needs::NomadClient)),
    )
}

/// The machine provisioner's workloads that have no ready pod, when that is why the job waits.
/// Nothing found at all is no cause: the workloads may be named in a way realitycheck does not
/// know, and a false red on a healthy installation is the worst verdict; the job then waits.
async fn no_machine_provisioner(access: &ClusterAccess, spec: &Job, waiting: &str) -> Option<Diagnosis> {
    let cluster = access.client().await.ok()?;
    let pods = cluster.pods(None).await.ok()?;
    let workloads = pods::workloads_of(&pods, MACHINE_PROVISIONER);
    let unready: Vec<(&String, Vec<PodState>)> = workloads
        .iter()
        .filter(|(_, pods)| !pods::any_ready(pods))
        .map(|(workload, pods)| (workload, pods.iter().map(|pod| PodState::of(pod)).collect()))
        .collect();
    if unready.is_empty() {
        return None;
    }
    let namespace = cluster.namespace();
    let names: Vec<&str> = unready.iter().map(|(workload, _)| workload.as_str()).collect();
    let found: Vec<&str> = workloads.keys().map(String::as_str).collect();
    let pod_names: Vec<&str> = unready.iter().flat_map(|(_, states)| states.iter().map(|p| p.name.as_str())).collect();
    Some(
        Diagnosis::new(format!(
            "job {spec} is queued and the machine provisioner has no ready pod in {}",
            names.join(", ")
        ))
        .observed(waiting)
        .shared_cause(
            shared_causes::MACHINE_PROVISIONER_NOT_READY,
            format!("the machine provisioner has no ready pod in {}", names.join(", ")),
        )
        .observed(format!("machine provisioner workloads found: {}", found.join(", ")))
        .observed_all(unready.iter().flat_map(|(_, states)| states.iter().map(PodState::describe)))
        .because(NO_READY_PROVISIONER.with(&[("namespace", &namespace), ("pods", &pod_names.join(" "))]))
        .phase(phase_of(&Needs::MachineProvisioner)),
    )
}

async fn no_runner(api: &ApiAccess, spec: &Job, class: &str, waiting: &str) -> Option<Diagnosis> {
    let client = api.client();
    let runners = client.runners(class).await.ok()?;
    if !runners.is_empty() {
        return None;
    }
    let unclaimed = match client.unclaimed_runner_tasks(class).await {
        Ok(count) => format!("{count} job(s) of `{class}` wait for a runner to claim them"),
        Err(error) => format!("the count of waiting jobs is unavailable: {error}"),
    };
    Some(
        Diagnosis::new(format!("job {spec} is queued and no runner is registered for resource class `{class}`"))
            .observed(waiting)
            .shared_cause(
                shared_causes::NO_RUNNER_REGISTERED,
                format!("no runner is registered for resource class `{class}`"),
            )
            .observed(unclaimed)
            .because(NO_RUNNER.with(&[("class", &class), ("host", &api.host())]))
            .phase(phase_of(&spec.needs)),
    )
}

/// The diagnosis of a job that finished without success, with its failing step's last lines.
pub(crate) async fn failed_job(
    handles: &PipelineHandles,
    run: &PipelineRun,
    spec: &Job,
    workflow: &Workflow,
    job: &WorkflowJob,
) -> Diagnosis {
    let status = job.status.as_str();
    let number = job.job_number.map_or("?".into(), |n| n.to_string());
    let mut diagnosis = Diagnosis::new(format!("job {spec} (#{number}) of pipeline #{} ended {status}", run.number))
        .observed(format!("workflow `{}`: {}", workflow.name, workflow.status.as_str()))
        .phase(phase_of(&spec.needs));
    let output = match job.job_number {
        Some(number) => step_output(handles.api.client(), &run.slug, number).await,
        None => Vec::new(),
    };
    let needs_a_vm = matches!(spec.needs, Needs::MachineProvisioner | Needs::NomadClientAndMachineProvisioner);
    let mut cause = failed_job_cause(&job.status, &spec.needs);
    if refused_layer_cache(spec, &output) {
        diagnosis = diagnosis.shared_cause(
            shared_causes::DLC_NOT_GRANTED,
            "the machine provisioner does not grant Docker layer caching",
        );
        cause = &DLC_NOT_GRANTED;
    } else if needs_a_vm && job.status == JobStatus::InfrastructureFail {
        diagnosis = diagnosis.shared_cause(
            shared_causes::MACHINE_PROVISIONER_CANNOT_START_VMS,
            "the machine provisioner cannot start VMs for the jobs that need one",
        );
    }
    let values: Values<'_> = &[("namespace", &handles.cluster.namespace()), ("component", &MACHINE_PROVISIONER)];
    diagnosis.observed_all(output).because(cause.with(values))
}

/// What a job that needs `needs` and ended `status` states: the cause its status says, and
/// what to read (the runner agent's logs, the machine provisioner's, or the step output).
/// Whether a failed layer caching job's step output says its layer cache was not given.
fn refused_layer_cache(spec: &Job, output: &[String]) -> bool {
    spec.workflow == JobWorkflow::Dlc && output.iter().any(|line| line.to_lowercase().contains("layer cach"))
}

fn failed_job_cause(status: &JobStatus, needs: &Needs) -> &'static Cause {
    let (elsewhere, on_runner) = match status {
        JobStatus::InfrastructureFail => {
            return match needs {
                Needs::Runner(_) => &RUNNER_SETUP_FAILED,
                Needs::NomadClient => &CONTAINERS_NOT_STARTED,
                Needs::MachineProvisioner | Needs::NomadClientAndMachineProvisioner => &NO_VM,
            };
        }
        JobStatus::Failed => (&STEP_FAILED, &STEP_FAILED_ON_RUNNER),
        JobStatus::Timedout => (&TIMED_OUT, &TIMED_OUT_ON_RUNNER),
        JobStatus::Canceled => (&CANCELED, &CANCELED_ON_RUNNER),
        JobStatus::Unauthorized => (&UNAUTHORIZED, &UNAUTHORIZED_ON_RUNNER),
        _ => (&NOT_SUCCEEDED, &NOT_SUCCEEDED_ON_RUNNER),
    };
    if matches!(needs, Needs::Runner(_)) { on_runner } else { elsewhere }
}

/// The last lines of the job's failing step (v1.1 job details, then the step's output URL),
/// or why they are unavailable.
async fn step_output(client: &ApiClient, slug: &str, number: u64) -> Vec<String> {
    let details = match client.build_details(slug, number).await {
        Ok(details) => details,
        Err(error) => return vec![format!("step output unavailable: {error}")],
    };
    let Some((step, url)) = failing_step(&details) else {
        return vec!["no step of the job has output".into()];
    };
    match output_text(client, &url).await {
        Ok(text) => {
            std::iter::once(format!("last lines of step `{step}`:")).chain(last_lines(&text, OUTPUT_LINES)).collect()
        }
        Err(error) => vec![format!("output of step `{step}` unavailable: {error}")],
    }
}

/// Why a step's output could not be read.
/// The last `count` lines of a step's `output` that are not blank, indented as a diagnosis
/// quotes output.
pub(crate) fn last_lines(output: &str, count: usize) -> Vec<String> {
    let lines: Vec<&str> = output.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].iter().map(|line| format!("  {line}")).collect()
}

#[derive(Debug)]
pub(crate) enum StepOutputError {
    /// The API failed to give the job's v1.1 details (after its retries): the API's fault, not
    /// the object storage's.
    Api(ApiError),
    /// The job has no output for the step, or its presigned output could not be fetched.
    Unreadable(String),
}

/// The whole output of the job's step named `step`; the error says why it is unavailable.
pub(crate) async fn output_of_step(
    client: &ApiClient,
    slug: &str,
    number: u64,
    step: &str,
) -> Result<String, StepOutputError> {
    let details = client.build_details(slug, number).await.map_err(StepOutputError::Api)?;
    let url =
        details.steps.iter().find(|s| s.name == step).and_then(|s| s.actions.first()?.output_url.clone()).ok_or_else(
            || StepOutputError::Unreadable(format!("job #{number} has no output for a step named `{step}`")),
        )?;
    output_text(client, &url)
        .await
        .map_err(|e| StepOutputError::Unreadable(format!("output of step `{step}` unavailable: {e}")))
}

async fn output_text(client: &ApiClient, url: &str) -> Result<String, ApiError> {
    let lines = client.step_output(url).await?;
    Ok(lines.iter().map(|line| line.message.as_str()).collect())
}

/// The name and output URL of the step that failed, else of the last step with output.
fn failing_step(details: &BuildDetails) -> Option<(String, String)> {
    let with_output = || {
        details.steps.iter().filter_map(|step| {
            let action = step.actions.first()?;
            let url = action.output_url.clone()?;
            Some((step.name.clone(), url, action.status.as_deref().unwrap_or("") != "success"))
        })
    };
    with_output().find(|(_, _, failed)| *failed).or_else(|| with_output().next_back()).map(|(name, url, _)| (name, url))
}

/// The check's jobs, finished with success; any other ending is the check's verdict.
pub(crate) async fn run_jobs(
    handles: &PipelineHandles,
    scope: &Scope,
) -> Result<(Arc<PipelineRun>, Vec<(Workflow, WorkflowJob)>), Verdict> {
    let specs = &handles.jobs[..];
    let run = pipeline_run(handles).await?;
    match wait_for_jobs(handles, &run, scope).await {
        Waited::Stuck(diagnosis) => Err(Verdict::Fail(diagnosis)),
        Waited::Ended(verdict) => Err(verdict),
        Waited::Finished(jobs) => {
            let failed = jobs.iter().find(|(_, job)| job.status != JobStatus::Success);
            if let Some((workflow, job)) = failed {
                let spec = specs.iter().find(|s| s.name == job.name).unwrap_or(&specs[0]);
                return Err(Verdict::Fail(failed_job(handles, &run, spec, workflow, job).await));
            }
            Ok((run, jobs))
        }
    }
}

/// The check's one job, finished with success, and its number; any other ending is the
/// check's verdict.
pub(crate) async fn run_job(handles: &PipelineHandles, scope: &Scope) -> Result<(Arc<PipelineRun>, u64), Verdict> {
    let (run, jobs) = run_jobs(handles, scope).await?;
    let spec = &handles.jobs[0];
    let number = jobs.first().and_then(|(_, job)| job.job_number).ok_or_else(|| no_job_number(spec))?;
    Ok((run, number))
}

/// The verdict of a job that succeeded without a job number in the API's answer.
pub(crate) fn no_job_number(spec: &Job) -> Verdict {
    Verdict::Fail(
        Diagnosis::new(format!("job {spec} succeeded but the API gave no job number"))
            .because(&NO_JOB_NUMBER)
            .phase(&phase::CIRCLECI_API),
    )
}

/// The installation phase a failure of a job that needs `needs` belongs to.
pub(crate) fn phase_of(needs: &Needs) -> &'static Phase {
    match needs {
        Needs::NomadClient => &phase::NOMAD_CLIENTS,
        Needs::MachineProvisioner | Needs::NomadClientAndMachineProvisioner => &phase::MACHINE_PROVISIONER,
        Needs::Runner(_) => &phase::RUNNER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::circleci::BuildStep;

    #[test]
    fn a_layer_caching_job_refused_its_cache_is_told_from_other_failures() {
        let said = ["last lines of step `Spin up environment`:".to_string(), "  Error: Docker layer caching was requested, but the machine provisioner could not attach a layer cache volume".to_string()];
        assert!(refused_layer_cache(&Job::machine_dlc(), &said));
        assert!(refused_layer_cache(&Job::remote_docker_dlc(), &said));
        assert!(!refused_layer_cache(&Job::machine(), &said), "only the layer caching jobs ask for it");
        assert!(!refused_layer_cache(&Job::machine_dlc(), &["  Error: quota exceeded".to_string()]));
    }

    fn step(name: &str, status: &str, url: Option<&str>) -> BuildStep {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "actions": [{"name": name, "status": status, "output_url": url}],
        }))
        .unwrap()
    }

    fn details(steps: Vec<BuildStep>) -> BuildDetails {
        let mut details: BuildDetails = serde_json::from_value(serde_json::json!({"steps": []})).unwrap();
        details.steps = steps;
        details
    }

    #[test]
    fn an_api_failure_during_the_pipeline_is_one_cause_for_every_check_waiting() {
        let error = ApiError::Status {
            call: "GET /api/v2/pipeline/p/workflow".into(),
            url: "https://ci.example/api/v2/pipeline/p/workflow".into(),
            status: 502,
            message: "Bad Gateway".into(),
        };
        let diagnosis = poller_gave_up(&error, Duration::from_secs(120), 40);
        let shared = diagnosis.shared_cause.as_deref().expect("a shared cause");
        assert_eq!(shared.id, shared_causes::API_FAILED_DURING_PIPELINE);
        assert!(diagnosis.own_observed().is_empty(), "{diagnosis:?}");
        assert_eq!(diagnosis.cause_evidence().len(), 1, "{diagnosis:?}");
        assert!(diagnosis.cause_evidence()[0].contains("40 polls in a row"), "{diagnosis:?}");
        assert_eq!(diagnosis.phase, Some(&phase::CIRCLECI_API));
    }

    #[test]
    fn a_failed_job_states_its_status_and_what_ran_it() {
        let runner = Needs::Runner("namespace/name".into());
        assert_eq!(failed_job_cause(&JobStatus::InfrastructureFail, &runner), &RUNNER_SETUP_FAILED);
        assert_eq!(failed_job_cause(&JobStatus::InfrastructureFail, &Needs::NomadClient), &CONTAINERS_NOT_STARTED);
        assert_eq!(failed_job_cause(&JobStatus::InfrastructureFail, &Needs::MachineProvisioner), &NO_VM);
        assert_eq!(failed_job_cause(&JobStatus::Timedout, &runner), &TIMED_OUT_ON_RUNNER);
        assert_eq!(failed_job_cause(&JobStatus::Failed, &Needs::NomadClientAndMachineProvisioner), &STEP_FAILED);
        assert_eq!(failed_job_cause(&JobStatus::Running, &Needs::NomadClient).fix(), READ_STEP_OUTPUT);
    }

    #[test]
    fn the_failing_step_is_quoted_before_the_last_one() {
        let failed = details(vec![
            step("Spin up environment", "success", Some("https://s/0")),
            step("Build", "failed", Some("https://s/1")),
            step("Upload", "success", Some("https://s/2")),
        ]);
        assert_eq!(failing_step(&failed), Some(("Build".into(), "https://s/1".into())));
        let infrastructure = details(vec![step("Spin up environment", "infrastructure_fail", Some("https://s/0"))]);
        assert_eq!(failing_step(&infrastructure).unwrap().0, "Spin up environment");
        let no_failure = details(vec![step("a", "success", Some("https://s/a")), step("b", "success", None)]);
        assert_eq!(failing_step(&no_failure), Some(("a".into(), "https://s/a".into())));
        assert_eq!(failing_step(&details(vec![])), None);
    }
}
