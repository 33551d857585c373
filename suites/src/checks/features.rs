//! `features::*`: what jobs do beyond running. The contexts job saw the values realitycheck
//! set, a workspace and a cache cross from one job to the next, artifacts are listed and their
//! content downloaded and compared, and test results are read back and compared.

use std::sync::Arc;

use harness::{Check, Diagnosis, SkipReason, Verdict};

use super::api::{api_failure, project_configured};
use super::contexts::REQUIRED;
use super::jobs::{pipeline_spec, run_job, run_jobs};
use crate::circleci::TestCase;
use crate::context::Context;
use crate::pipeline::{ContextValues, JobSpec, PipelineRun};

/// The artifact the artifacts job stores, and the line it writes into it.
const ARTIFACT_PATH: &str = "realitycheck.txt";

fn expected_artifact(run_id: &str) -> String {
    format!("realitycheck artifact {run_id}\n")
}

/// The test cases the test_results job stores: (classname, name, result).
fn expected_tests(run_id: &str) -> Vec<(String, String, String)> {
    let case = |name: String, result: &str| ("realitycheck.features".to_string(), name, result.to_string());
    vec![case(format!("run {run_id} passes"), "success"), case(format!("run {run_id} skips"), "skipped")]
}

pub fn contexts() -> Check<Context> {
    let spec = pipeline_spec("features::contexts", "a job saw the context values realitycheck set");
    Check::new(spec, |ctx: Arc<Context>| async move {
        let job = JobSpec::feature("contexts");
        match run_jobs(&ctx, std::slice::from_ref(&job)).await {
            Ok((_, run, jobs)) => {
                let number = jobs.first().and_then(|(_, j)| j.job_number).map_or("?".into(), |n| n.to_string());
                Verdict::Pass(match &run.context_values {
                    ContextValues::SetThisRun => format!(
                        "job `contexts` (#{number}) saw the values realitycheck set for this run in org-global and individual-local (digest matched)"
                    ),
                    ContextValues::PresenceOnly(why) => {
                        format!("job `contexts` (#{number}) saw both context variables set; values not compared: {why}")
                    }
                })
            }
            Err(Verdict::Fail(diagnosis)) => match blocking_context(&ctx).await {
                Some(blocked) => blocked,
                None => Verdict::Fail(diagnosis),
            },
            Err(other) => other,
        }
    })
    .applies_when(project_configured)
}

/// A skip naming the contexts check that already explains a failed contexts job.
async fn blocking_context(ctx: &Context) -> Option<Verdict> {
    let setup = ctx.api.as_ref()?.context_setup.as_ref()?.get().await.ok()?;
    let unusable = REQUIRED.iter().find(|required| setup.get(**required).is_none_or(|p| p.usable_id.is_none()))?;
    Some(Verdict::Skip(SkipReason::Blocked {
        by: unusable.check_id.into(),
        reason: format!("context `{}` lacks {}, so the job could not see it", unusable.name, unusable.variable),
    }))
}

pub fn workspaces() -> Check<Context> {
    round_trip(
        "features::workspaces",
        "a workspace written by one job is read by the next",
        ("write_workspace", "read_workspace"),
        "persisted a workspace",
        "attached it and read this run's id",
    )
}

pub fn cache() -> Check<Context> {
    round_trip(
        "features::cache",
        "save_cache and restore_cache round-trip",
        ("save_cache", "restore_cache"),
        "saved a cache",
        "restored it and read this run's id",
    )
}

/// Two jobs, the second requiring the first, that must both succeed.
fn round_trip(
    id: &'static str,
    summary: &'static str,
    (first, second): (&'static str, &'static str),
    first_did: &'static str,
    second_did: &'static str,
) -> Check<Context> {
    Check::new(pipeline_spec(id, summary), move |ctx: Arc<Context>| async move {
        let specs = [JobSpec::feature(first), JobSpec::feature(second)];
        match run_jobs(&ctx, &specs).await {
            Ok((_, _, jobs)) => {
                let label = |name: &str| {
                    jobs.iter()
                        .find(|(_, j)| j.name == name)
                        .and_then(|(_, j)| j.job_number)
                        .map_or("?".into(), |n| n.to_string())
                };
                Verdict::Pass(format!(
                    "job `{first}` (#{}) {first_did}; job `{second}` (#{}) {second_did}",
                    label(first),
                    label(second)
                ))
            }
            Err(verdict) => verdict,
        }
    })
    .applies_when(project_configured)
}

pub fn artifacts() -> Check<Context> {
    let spec = pipeline_spec("features::artifacts", "artifacts are listed through the API and their content verified");
    Check::new(spec, |ctx: Arc<Context>| async move {
        let (api, run, number) = match run_job(&ctx, &JobSpec::feature("artifacts")).await {
            Ok(done) => done,
            Err(verdict) => return verdict,
        };
        let artifacts = match api.client.job_artifacts(&run.slug, number).await {
            Ok(artifacts) => artifacts,
            Err(error) => return Verdict::Fail(api_failure(&error)),
        };
        let Some(artifact) = artifacts.iter().find(|a| a.path == ARTIFACT_PATH) else {
            let listed: Vec<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
            return Verdict::Fail(
                Diagnosis::new(format!("job `artifacts` (#{number}) succeeded but the API lists no {ARTIFACT_PATH}"))
                    .observed(format!("artifacts listed: {}", if listed.is_empty() { "none".into() } else { listed.join(", ") }))
                    .cause("store_artifacts could not upload to the installation's object storage")
                    .remediation("check the object storage settings (bucket, credentials, endpoint) in values.yaml and the output-processor logs")
                    .phase("object storage"),
            );
        };
        let content = match api.client.download_artifact(artifact).await {
            Ok(content) => content,
            Err(error) => {
                return Verdict::Fail(
                    api_failure(&error)
                        .cause("the artifact is listed but cannot be downloaded: the object storage is not reachable from here, or its URLs are wrong")
                        .phase("object storage"),
                );
            }
        };
        judge_artifact(&run, number, &content)
    })
    .applies_when(project_configured)
}

fn judge_artifact(run: &PipelineRun, number: u64, content: &[u8]) -> Verdict {
    let expected = expected_artifact(&run.parameters.run_id);
    if content == expected.as_bytes() {
        return Verdict::Pass(format!(
            "job `artifacts` (#{number}) stored {ARTIFACT_PATH}; downloaded, {} bytes as written",
            content.len()
        ));
    }
    let shown: String = String::from_utf8_lossy(content).chars().take(120).collect();
    Verdict::Fail(
        Diagnosis::new(format!("artifact {ARTIFACT_PATH} of job #{number} does not hold what the job wrote"))
            .observed(format!("expected {expected:?}"))
            .observed(format!("downloaded {} bytes: {shown:?}", content.len()))
            .cause("the object storage served another object (a stale or shared bucket path) or altered it")
            .remediation(
                "check the object storage bucket the installation writes artifacts to, and any proxy in front of it",
            )
            .phase("object storage"),
    )
}

pub fn test_results() -> Check<Context> {
    let spec = pipeline_spec("features::test_results", "test results stored by a job are read back through the API");
    Check::new(spec, |ctx: Arc<Context>| async move {
        let (api, run, number) = match run_job(&ctx, &JobSpec::feature("test_results")).await {
            Ok(done) => done,
            Err(verdict) => return verdict,
        };
        match api.client.job_tests(&run.slug, number).await {
            Ok(tests) => judge_tests(&run.parameters.run_id, number, &tests),
            Err(error) => Verdict::Fail(api_failure(&error)),
        }
    })
    .applies_when(project_configured)
}

fn judge_tests(run_id: &str, number: u64, tests: &[TestCase]) -> Verdict {
    let mut seen: Vec<(String, String, String)> =
        tests.iter().map(|t| (t.classname.clone().unwrap_or_default(), t.name.clone(), t.result.clone())).collect();
    seen.sort();
    let mut expected = expected_tests(run_id);
    expected.sort();
    if seen == expected {
        return Verdict::Pass(format!(
            "job `test_results` (#{number}) stored {} test cases; all read back as stored (1 success, 1 skipped)",
            seen.len()
        ));
    }
    let describe = |cases: &[(String, String, String)]| -> Vec<String> {
        cases.iter().map(|(class, name, result)| format!("  {class} / {name}: {result}")).collect()
    };
    Verdict::Fail(
        Diagnosis::new(format!("the test results of job #{number} do not match what the job stored"))
            .observed("expected:")
            .observed_all(describe(&expected))
            .observed(format!("read back ({}):", seen.len()))
            .observed_all(describe(&seen))
            .cause(
                "store_test_results did not reach the installation's test results storage, or it was processed wrongly",
            )
            .remediation("check the output-processor pods and the object storage settings in values.yaml")
            .phase("object storage"),
    )
}
