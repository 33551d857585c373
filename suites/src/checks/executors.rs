//! `executors::*` and `resource_classes::*`: a job of each executor (docker, machine, remote
//! docker, runner, Arm, Windows) and of each configured docker resource class succeeds, on the
//! resource class its config asks for (read back from the job's details). Cloud provider and
//! opt-in settings decide which apply. Once its job has succeeded, an executor check records
//! how long the job waited in the queue and how long it ran (`job_wait_seconds`,
//! `job_run_seconds`, of the executor) from those same details, on the right resource class
//! or not: what `serve`'s canary exports.

use std::time::Duration;

use harness::{Check, Diagnosis, Observation, Scope, Verdict};
use k8s_openapi::jiff::Timestamp;
use realitycheck_project::Job;

use super::api::api_failed;
use super::cause::{Because, StatedBy, causes};
use super::jobs::{phase_of, run_job};
use super::{CheckOutcome, JOB_RUN, JOB_WAIT, PipelineHandles, ids, pipeline_check, unconfigured_pipeline_check};
use crate::RealityCheck;
use crate::clients::circleci::JobDetails;

pub fn docker() -> Check<RealityCheck> {
    executor_check(
        ids::DOCKER,
        "a docker job succeeds on the resource class it asks for",
        Job::docker(),
        Some("docker"),
    )
}

pub fn machine() -> Check<RealityCheck> {
    executor_check(ids::MACHINE, "a Linux machine job succeeds (AWS and GCP installs)", Job::machine(), Some("machine"))
}

pub fn remote_docker() -> Check<RealityCheck> {
    executor_check(
        ids::REMOTE_DOCKER,
        "a docker job with setup_remote_docker builds and runs an image (AWS and GCP installs)",
        Job::remote_docker(),
        Some("remote-docker"),
    )
}

/// The runner's job on `resource_class`, the configured runner resource class.
pub fn runner(resource_class: Option<&str>) -> Check<RealityCheck> {
    let summary = "a job on the configured self-hosted runner resource class succeeds";
    match resource_class {
        Some(class) => executor_check(ids::RUNNER, summary, Job::runner(class), Some("runner")),
        None => unconfigured_pipeline_check(
            ids::RUNNER,
            summary,
            "no runner resource class configured: set pipeline.runner_resource_class (or REALITYCHECK_RUNNER_RESOURCE_CLASS) to namespace/name".into(),
        ),
    }
}

pub fn arm() -> Check<RealityCheck> {
    executor_check(ids::ARM, "an Arm machine job succeeds (AWS installs)", Job::arm(), Some("arm"))
}

pub fn windows() -> Check<RealityCheck> {
    executor_check(ids::WINDOWS, "a Windows machine job succeeds (opt-in)", Job::windows(), Some("windows"))
}

/// `resource_classes::docker_<class>`: one check per configured docker resource class. It
/// records no wait: `executors::docker` measures the docker executor's.
pub fn docker_resource_class(class: &str) -> Check<RealityCheck> {
    let summary = format!("a docker job on resource class {class} succeeds on that class");
    executor_check(&ids::docker_resource_class(class), &summary, Job::docker_resource_class(class), None)
}

causes! {
    StatedBy::Checks(&[
        ids::DOCKER,
        ids::MACHINE,
        ids::REMOTE_DOCKER,
        ids::RUNNER,
        ids::ARM,
        ids::WINDOWS,
        ids::DOCKER_RESOURCE_CLASSES,
    ]) => {
        RESOURCE_CLASS_MAPPED:
            "the installation maps the resource class the job asked for to another one",
            "check the resource classes of the docker and machine provisioners in values.yaml (resource_classes)";
    }
}

/// A check that waits for one job and checks the resource class it ran on; with an
/// `executor`, it records the job's wait and run time under that name.
fn executor_check(id: &str, summary: &str, job: Job, executor: Option<&'static str>) -> Check<RealityCheck> {
    pipeline_check(id, summary, vec![job], move |handles, scope| async move {
        verify_executor(&handles, &scope, executor).await
    })
}

async fn verify_executor(handles: &PipelineHandles, scope: &Scope, executor: Option<&str>) -> CheckOutcome {
    let spec = &handles.jobs[0];
    let (run, number) = run_job(handles, scope).await?;
    let details = handles.api.client().job_details(&run.slug, number).await.map_err(api_failed)?;
    if let Some(executor) = executor {
        for observation in job_times(executor, &details) {
            scope.observations.record(observation);
        }
    }
    let executor = details.executor.kind.as_deref().unwrap_or("unknown");
    let took =
        details.duration.map(|ms| format!(" in {}", harness::humanize(Duration::from_millis(ms)))).unwrap_or_default();
    if details.executor.resource_class != spec.resource_class {
        return Err(Verdict::Fail(
            Diagnosis::new(format!(
                "job {spec} (#{number}) ran on resource class {} instead of {}",
                details.executor.resource_class, spec.resource_class
            ))
            .observed(format!("executor {executor}, resource class {}", details.executor.resource_class))
            .because(&RESOURCE_CLASS_MAPPED)
            .phase(phase_of(&spec.needs)),
        ));
    }
    Ok(Verdict::Pass(format!(
        "job {spec} (#{number}) of pipeline #{} succeeded{took} on {} ({executor} executor)",
        run.number, spec.resource_class
    )))
}

/// How long the job of `details` waited from queued to started and ran from started to
/// stopped, in whole seconds (rounded), as observations of `executor`. A time the details
/// lack or that does not parse, or a span that ends before it starts, gives no observation.
fn job_times(executor: &str, details: &JobDetails) -> Vec<Observation> {
    let at = |time: &Option<String>| time.as_deref().and_then(|time| time.parse::<Timestamp>().ok());
    let (queued, started, stopped) = (at(&details.queued_at), at(&details.started_at), at(&details.stopped_at));
    let seconds = |from: Option<Timestamp>, to: Option<Timestamp>| {
        let millis = to?.as_millisecond() - from?.as_millisecond();
        (millis >= 0).then(|| (millis + 500) / 1000)
    };
    [(JOB_WAIT, seconds(queued, started)), (JOB_RUN, seconds(started, stopped))]
        .into_iter()
        .filter_map(|(name, value)| Some(Observation::new(name, executor, value?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(queued: Option<&str>, started: Option<&str>, stopped: Option<&str>) -> JobDetails {
        serde_json::from_value(serde_json::json!({
            "number": 7,
            "name": "docker",
            "executor": {"resource_class": "medium", "type": "docker"},
            "queued_at": queued,
            "started_at": started,
            "stopped_at": stopped,
        }))
        .unwrap()
    }

    #[test]
    fn the_wait_and_the_run_time_come_from_the_job_s_times() {
        let job =
            details(Some("2026-03-02T09:30:00.100Z"), Some("2026-03-02T09:33:20.600Z"), Some("2026-03-02T09:34:05Z"));
        assert_eq!(
            job_times("docker", &job),
            [Observation::new(JOB_WAIT, "docker", 201), Observation::new(JOB_RUN, "docker", 44)],
            "200.5 s rounds up, 44.4 s down"
        );
    }

    #[test]
    fn a_missing_unreadable_or_backwards_time_gives_no_observation() {
        let not_started = details(Some("2026-03-02T09:30:00Z"), None, None);
        assert!(job_times("machine", &not_started).is_empty());
        let unreadable = details(Some("yesterday"), Some("2026-03-02T09:30:00Z"), Some("2026-03-02T09:30:09Z"));
        assert_eq!(job_times("machine", &unreadable), [Observation::new(JOB_RUN, "machine", 9)]);
        let backwards = details(Some("2026-03-02T09:31:00Z"), Some("2026-03-02T09:30:00Z"), None);
        assert!(job_times("machine", &backwards).is_empty());
    }
}
