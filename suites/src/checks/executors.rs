//! `executors::*` and `resource_classes::*`: a job of each executor (docker, machine, remote
//! docker, runner, Arm, Windows) and of each configured docker resource class succeeds, on the
//! resource class its config asks for (read back from the job's details). Cloud provider and
//! opt-in settings decide which apply.

use std::sync::Arc;
use std::time::Duration;

use harness::{Applicability, Check, Diagnosis, Verdict};
use realitycheck_config::CloudProvider;

use super::api::{api_failure, not_configured, project_configured};
use super::jobs::{pipeline_spec, run_job};
use crate::context::Context;
use crate::pipeline::JobSpec;

pub fn docker() -> Check<Context> {
    executor_check("executors::docker", "a docker job succeeds on the resource class it asks for", |_| {
        Some(JobSpec::docker())
    })
    .applies_when(project_configured)
}

pub fn machine() -> Check<Context> {
    executor_check("executors::machine", "a Linux machine job succeeds (AWS and GCP installs)", |_| {
        Some(JobSpec::machine())
    })
    .applies_when(|ctx| needs_machines(ctx, &[CloudProvider::Aws, CloudProvider::Gcp]))
}

pub fn remote_docker() -> Check<Context> {
    executor_check(
        "executors::remote_docker",
        "a docker job with setup_remote_docker builds and runs an image (AWS and GCP installs)",
        |_| Some(JobSpec::remote_docker()),
    )
    .applies_when(|ctx| needs_machines(ctx, &[CloudProvider::Aws, CloudProvider::Gcp]))
}

pub fn runner() -> Check<Context> {
    executor_check("executors::runner", "a job on the configured self-hosted runner resource class succeeds", |ctx| {
        ctx.target.pipeline.runner_resource_class.as_deref().map(JobSpec::runner)
    })
    .applies_when(|ctx| match (project_configured(ctx), &ctx.target.pipeline.runner_resource_class) {
        (Applicability::Applies, None) => Applicability::NotConfigured(
            "no runner resource class configured: set pipeline.runner_resource_class (or REALITYCHECK_RUNNER_RESOURCE_CLASS) to namespace/name".into(),
        ),
        (other, _) => other,
    })
}

pub fn arm() -> Check<Context> {
    executor_check("executors::arm", "an Arm machine job succeeds (AWS installs)", |_| Some(JobSpec::arm()))
        .applies_when(|ctx| needs_machines(ctx, &[CloudProvider::Aws]))
}

pub fn windows() -> Check<Context> {
    executor_check("executors::windows", "a Windows machine job succeeds (opt-in)", |_| Some(JobSpec::windows()))
        .applies_when(|ctx| match needs_machines(ctx, &[CloudProvider::Aws, CloudProvider::Gcp]) {
            Applicability::Applies if !ctx.target.pipeline.windows => Applicability::NotApplicable(
                "Windows jobs are opt-in: set pipeline.windows = true when the machine provisioner has a Windows image"
                    .into(),
            ),
            other => other,
        })
}

/// `resource_classes::docker_<class>`: one check per configured docker resource class.
pub fn docker_resource_class(class: &str) -> Check<Context> {
    let id = format!("resource_classes::docker_{class}");
    let summary = format!("a docker job on resource class {class} succeeds on that class");
    let job = JobSpec::docker_resource_class(class);
    executor_check(&id, &summary, move |_| Some(job.clone())).applies_when(project_configured)
}

/// Applies when the project is configured and the cloud provider is one of `providers`.
fn needs_machines(ctx: &Context, providers: &[CloudProvider]) -> Applicability {
    let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
    let names = names.join(" or ");
    match (project_configured(ctx), ctx.target.cloud_provider) {
        (Applicability::Applies, None) => Applicability::NotConfigured(format!(
            "no cloud provider configured: set CIRCLE_CLOUD_PROVIDER (or cloud_provider) to aws, gcp or other; this job runs on {names}"
        )),
        (Applicability::Applies, Some(provider)) if !providers.contains(&provider) => {
            Applicability::NotApplicable(format!(
                "the cloud provider is {}: this job needs the machine provisioner of an {names} install",
                provider.as_str()
            ))
        }
        (other, _) => other,
    }
}

/// A check that waits for one job and checks the resource class it ran on.
fn executor_check(
    id: &str,
    summary: &str,
    job: impl Fn(&Context) -> Option<JobSpec> + Send + Sync + 'static,
) -> Check<Context> {
    let job = Arc::new(job);
    Check::new(pipeline_spec(id, summary), move |ctx: Arc<Context>| {
        let job = Arc::clone(&job);
        async move {
            let Some(spec) = job(&ctx) else {
                return not_configured(project_configured(&ctx));
            };
            verify_executor(&ctx, &spec).await
        }
    })
}

async fn verify_executor(ctx: &Context, spec: &JobSpec) -> Verdict {
    let (api, run, number) = match run_job(ctx, spec).await {
        Ok(done) => done,
        Err(verdict) => return verdict,
    };
    let details = match api.client.job_details(&run.slug, number).await {
        Ok(details) => details,
        Err(error) => return Verdict::Fail(api_failure(&error)),
    };
    let executor = details.executor.kind.as_deref().unwrap_or("unknown");
    let took =
        details.duration.map(|ms| format!(" in {}", harness::humanize(Duration::from_millis(ms)))).unwrap_or_default();
    if details.executor.resource_class != spec.resource_class {
        return Verdict::Fail(
            Diagnosis::new(format!(
                "job {spec} (#{number}) ran on resource class {} instead of {}",
                details.executor.resource_class, spec.resource_class
            ))
            .observed(format!("executor {executor}, resource class {}", details.executor.resource_class))
            .cause("the installation maps the resource class the job asked for to another one")
            .remediation(
                "check the resource classes of the docker and machine provisioners in values.yaml (resource_classes)",
            )
            .phase(spec.needs.phase()),
        );
    }
    Verdict::Pass(format!(
        "job {spec} (#{number}) of pipeline #{} succeeded{took} on {} ({executor} executor)",
        run.number, spec.resource_class
    ))
}
