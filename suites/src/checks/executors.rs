//! `executors::*` and `resource_classes::*`: a job of each executor (docker, machine, remote
//! docker, runner, Arm, Windows, Android, and remote docker and machine with Docker layer
//! caching) and of each configured docker resource class succeeds, on the resource class its
//! config asks for (read back from the job's details). The layer caching jobs also prove the
//! image they built carries this run's id, and say whether a layer came from the cache. Cloud
//! provider and opt-in settings decide which apply. Once its job has succeeded, an executor check records
//! how long the job waited in the queue and how long it ran (`job_wait_seconds`,
//! `job_run_seconds`, of the executor) from those same details, on the right resource class
//! or not: what `serve`'s canary exports.

use std::sync::Arc;
use std::time::Duration;

use harness::{Check, Diagnosis, Observation, Scope, Verdict};
use k8s_openapi::jiff::Timestamp;
use realitycheck_project::Job;
use realitycheck_project::outputs::DLC_BUILD_STEP;

use super::api::api_failed;
use super::cause::{Because, StatedBy, causes};
use super::features::unread_step_output;
use super::jobs::{last_lines, output_of_step, phase_of, run_job};
use super::{JOB_RUN, JOB_WAIT, PipelineHandles, ids, pipeline_check, unconfigured_pipeline_check};
use crate::RealityCheck;
use crate::clients::circleci::JobDetails;
use crate::phase;
use crate::resources::pipeline::PipelineRun;

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

pub fn android() -> Check<RealityCheck> {
    executor_check(
        ids::ANDROID,
        "a machine job on the Android image succeeds (GCP installs)",
        Job::android(),
        Some("android"),
    )
}

pub fn remote_docker_dlc() -> Check<RealityCheck> {
    dlc_check(
        ids::REMOTE_DOCKER_DLC,
        "a remote docker job with Docker layer caching builds and runs an image (AWS and GCP installs)",
        Job::remote_docker_dlc(),
    )
}

pub fn machine_dlc() -> Check<RealityCheck> {
    dlc_check(
        ids::MACHINE_DLC,
        "a machine job with Docker layer caching builds and runs an image (AWS and GCP installs)",
        Job::machine_dlc(),
    )
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
        ids::ANDROID,
        ids::REMOTE_DOCKER_DLC,
        ids::MACHINE_DLC,
        ids::DOCKER_RESOURCE_CLASSES,
    ]) => {
        RESOURCE_CLASS_MAPPED:
            "the installation maps the resource class the job asked for to another one",
            "check the resource classes of the docker and machine provisioners in values.yaml (resource_classes)";
    }
    StatedBy::Checks(&[ids::REMOTE_DOCKER_DLC, ids::MACHINE_DLC]) => {
        NOT_THIS_RUNS_IMAGE:
            "the image the job built does not print this run's id: its layer cache served a layer for an instruction that changed, or the job's config is not the one this realitycheck expects",
            "read the step's build output: a `CACHED` layer whose instruction carries another run id means the layer cache is keyed wrongly (clear the machine provisioner's layer cache volumes); else push the config `realitycheck init` writes";
    }
}

/// A check that waits for one job and checks the resource class it ran on; with an
/// `executor`, it records the job's wait and run time under that name.
fn executor_check(id: &str, summary: &str, job: Job, executor: Option<&'static str>) -> Check<RealityCheck> {
    pipeline_check(id, summary, vec![job], move |handles, scope| async move {
        verify_executor(&handles, &scope, executor).await.map(|ran| Verdict::Pass(ran.note))
    })
}

/// A Docker layer caching job's check: the executor's, then the image the job built must print
/// this run's id; the pass note says whether a layer came from the cache.
fn dlc_check(id: &str, summary: &str, job: Job) -> Check<RealityCheck> {
    pipeline_check(id, summary, vec![job], move |handles, scope| async move {
        let ran = verify_executor(&handles, &scope, None).await?;
        let spec = &handles.jobs[0];
        let output = output_of_step(handles.api.client(), &ran.run.slug, ran.number, DLC_BUILD_STEP)
            .await
            .map_err(|error| Verdict::Fail(unread_step_output(spec, ran.number, error)))?;
        Ok(judge_layer_cache(&ran.run.parameters.run_id, ran.number, &ran.note, &output, spec))
    })
}

/// A job that succeeded on the resource class it asked for.
struct Ran {
    run: Arc<PipelineRun>,
    number: u64,
    /// The executor check's pass note.
    note: String,
}

/// Pass when the image job `number` built (`output`) printed `run_id` as the step's last
/// line; the executor's pass `note` gains whether the build took a layer from the cache
/// (`CACHED` with BuildKit, `Using cache` with the classic builder).
fn judge_layer_cache(run_id: &str, number: u64, note: &str, output: &str, spec: &Job) -> Verdict {
    let printed = output.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or_default();
    if printed != run_id {
        return Verdict::Fail(
            Diagnosis::new(format!(
                "job {spec} (#{number}) built an image that printed {printed:?}, not this run's id {run_id:?}"
            ))
            .observed_all(last_lines(output, 6))
            .because(&NOT_THIS_RUNS_IMAGE)
            .phase(&phase::MACHINE_PROVISIONER),
        );
    }
    let cached = output.lines().filter(|line| line.contains("CACHED") || line.contains("Using cache")).count();
    let cache = match cached {
        0 => "no layer came from the layer cache (a first run on a new cache volume)".to_string(),
        1 => "1 layer came from the layer cache".to_string(),
        n => format!("{n} layers came from the layer cache"),
    };
    Verdict::Pass(format!("{note}; its image printed this run's id, {cache}"))
}

async fn verify_executor(handles: &PipelineHandles, scope: &Scope, executor: Option<&str>) -> Result<Ran, Verdict> {
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
    let note = format!(
        "job {spec} (#{number}) of pipeline #{} succeeded{took} on {} ({executor} executor)",
        run.number, spec.resource_class
    );
    Ok(Ran { run, number, note })
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
    fn a_dlc_image_must_print_this_run_s_id_and_the_note_says_what_the_cache_gave() {
        let job = Job::machine_dlc();
        let first = "#5 [2/3] RUN echo \"realitycheck layer cache\" > /tmp/realitycheck-cached\n#5 DONE 0.2s\nrc-1\n";
        assert_eq!(
            judge_layer_cache("rc-1", 9, "job `machine_dlc` (#9) succeeded", first, &job),
            Verdict::Pass(
                "job `machine_dlc` (#9) succeeded; its image printed this run's id, no layer came from the layer cache (a first run on a new cache volume)".into()
            )
        );
        let reused = "#5 [2/3] RUN echo \"realitycheck layer cache\" > /tmp/realitycheck-cached\n#5 CACHED\nrc-2\n";
        let Verdict::Pass(note) = judge_layer_cache("rc-2", 9, "ran", reused, &job) else { panic!() };
        assert!(note.ends_with("1 layer came from the layer cache"), "{note}");
        let classic = "Step 2/4 : RUN echo x\n ---> Using cache\nStep 3/4 : RUN echo rc-3\n ---> Using cache\nrc-3\n";
        let Verdict::Pass(note) = judge_layer_cache("rc-3", 9, "ran", classic, &job) else { panic!() };
        assert!(note.ends_with("2 layers came from the layer cache"), "{note}");
        let Verdict::Fail(stale) = judge_layer_cache("rc-4", 9, "ran", reused, &job) else { panic!() };
        assert_eq!(
            stale.summary,
            "job `machine_dlc` (#9) built an image that printed \"rc-2\", not this run's id \"rc-4\""
        );
        assert_eq!(stale.cause, NOT_THIS_RUNS_IMAGE.cause());
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
