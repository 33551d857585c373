//! `executors::*` and `resource_classes::*`: a job of each executor (docker, machine, remote
//! docker, runner, Arm, Windows) and of each configured docker resource class succeeds, on the
//! resource class its config asks for (read back from the job's details). Cloud provider and
//! opt-in settings decide which apply.

use std::time::Duration;

use harness::{Check, Diagnosis, Scope, Verdict};
use realitycheck_project::Job;

use super::api::api_failed;
use super::cause::{Because, StatedBy, causes};
use super::jobs::{phase_of, run_job};
use super::{CheckOutcome, PipelineHandles, ids, pipeline_check, unconfigured_pipeline_check};
use crate::RealityCheck;

pub fn docker() -> Check<RealityCheck> {
    executor_check(ids::DOCKER, "a docker job succeeds on the resource class it asks for", Job::docker())
}

pub fn machine() -> Check<RealityCheck> {
    executor_check(ids::MACHINE, "a Linux machine job succeeds (AWS and GCP installs)", Job::machine())
}

pub fn remote_docker() -> Check<RealityCheck> {
    executor_check(
        ids::REMOTE_DOCKER,
        "a docker job with setup_remote_docker builds and runs an image (AWS and GCP installs)",
        Job::remote_docker(),
    )
}

/// The runner's job on `resource_class`, the configured runner resource class.
pub fn runner(resource_class: Option<&str>) -> Check<RealityCheck> {
    let summary = "a job on the configured self-hosted runner resource class succeeds";
    match resource_class {
        Some(class) => executor_check(ids::RUNNER, summary, Job::runner(class)),
        None => unconfigured_pipeline_check(
            ids::RUNNER,
            summary,
            "no runner resource class configured: set pipeline.runner_resource_class (or REALITYCHECK_RUNNER_RESOURCE_CLASS) to namespace/name".into(),
        ),
    }
}

pub fn arm() -> Check<RealityCheck> {
    executor_check(ids::ARM, "an Arm machine job succeeds (AWS installs)", Job::arm())
}

pub fn windows() -> Check<RealityCheck> {
    executor_check(ids::WINDOWS, "a Windows machine job succeeds (opt-in)", Job::windows())
}

/// `resource_classes::docker_<class>`: one check per configured docker resource class.
pub fn docker_resource_class(class: &str) -> Check<RealityCheck> {
    let summary = format!("a docker job on resource class {class} succeeds on that class");
    executor_check(&ids::docker_resource_class(class), &summary, Job::docker_resource_class(class))
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

/// A check that waits for one job and checks the resource class it ran on.
fn executor_check(id: &str, summary: &str, job: Job) -> Check<RealityCheck> {
    pipeline_check(id, summary, vec![job], |handles, scope| async move { verify_executor(&handles, &scope).await })
}

async fn verify_executor(handles: &PipelineHandles, scope: &Scope) -> CheckOutcome {
    let spec = &handles.jobs[0];
    let (run, number) = run_job(handles, scope).await?;
    let details = handles.api.client().job_details(&run.slug, number).await.map_err(api_failed)?;
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
