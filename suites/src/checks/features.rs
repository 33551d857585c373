//! `features::*`: what jobs do beyond running. The contexts job saw the values realitycheck
//! set, a workspace and a cache cross from one job to the next, artifacts are listed and their
//! content downloaded and compared, test results are read back and compared, a job checks out
//! the pipeline's commit, and `circleci env subst` renders a template from a job's
//! environment. (`features::oidc_token` has its own module, `oidc`.)

use harness::{Check, Diagnosis, SkipReason, Verdict};
use realitycheck_project::outputs::{self, ARTIFACT_PATH, CHECKOUT_STEP, ENV_SUBST_STEP};
use realitycheck_project::{FeatureJob, Job};

use super::api::{api_failed, api_failure};
use super::cause::{Because, StatedBy, causes};
use super::contexts::CHECK_OF;
use super::jobs::{StepOutputError, output_of_step, run_job, run_jobs};
use super::{PipelineHandles, ids, pipeline_check};
use crate::RealityCheck;
use crate::clients::circleci::TestCase;
use crate::phase;
use crate::resources::pipeline::{ContextValues, RUN_IN_PROGRESS};

causes! {
    StatedBy::Checks(&[ids::FEATURE_CONTEXTS]) => {
        VALUES_CHANGED:
            "something other than realitycheck changed a context variable after this run set it, and the job saw that value: a person, a script or another tool writes to contexts that realitycheck created and owns",
            "find who writes these variables (Organization Settings > Contexts shows when each was updated; the organization's audit log says by whom) and stop it, or let realitycheck use contexts of its own";
        OTHER_VALUES:
            "the job saw other context values than realitycheck set for this run: another realitycheck run (or a person) changed them while this one ran, or the job got another context of the same name",
            "run realitycheck again alone; runs at once leave the values to the one holding the {marker} marker, so look for a run that removed or ignored it, and check the contexts' restrictions";
    }
    StatedBy::Checks(&[ids::ARTIFACTS]) => {
        /// The API lists no artifact of that path.
        ARTIFACT_NOT_STORED:
            "store_artifacts could not upload to the installation's object storage",
            "check the object storage settings (bucket, credentials, endpoint) in values.yaml and the output-processor logs";
        ARTIFACT_NOT_DOWNLOADED:
            "the artifact is listed but cannot be downloaded: the object storage is not reachable from here, or its URLs are wrong",
            "the diagnosis quotes the failed download; check the object storage's URL as the installation hands it out and the network path to it";
        ARTIFACT_ALTERED:
            "the object storage served another object (a stale or shared bucket path) or altered it",
            "check the object storage bucket the installation writes artifacts to, and any proxy in front of it";
    }
    StatedBy::Checks(&[ids::TEST_RESULTS]) => {
        TESTS_NOT_STORED:
            "store_test_results did not reach the installation's test results storage, or it was processed wrongly",
            "check the output-processor pods and the object storage settings in values.yaml";
    }
    StatedBy::Checks(&[ids::CHECKOUT, ids::ENV_SUBST, ids::OIDC_TOKEN, ids::REMOTE_DOCKER_DLC, ids::MACHINE_DLC]) => {
        STEP_OUTPUT_UNREADABLE:
            "the step output is not readable through the API",
            "check the object storage settings in values.yaml and the output-processor pods";
    }
    StatedBy::Checks(&[ids::ENV_SUBST]) => {
        NO_ENV_SUBST:
            "the CircleCI CLI in the job's image has no `env subst` (a CLI older than the command), or the image has no `circleci` at all",
            "run `circleci version` and `circleci env subst --help` in a job on the image; mirror a current cimg/base through pipeline.image_registry, or update the CircleCI CLI in the image the job uses";
        NOT_RENDERED:
            "`circleci env subst` did not render the job's environment into the template: the job's `environment` did not reach the step, or the CLI left the variables as they were",
            "compare the printed text with the expected line; `printenv REALITYCHECK_RUN_ID` in the same step shows whether the environment reached it";
    }
    StatedBy::Checks(&[ids::CHECKOUT]) => {
        OTHER_COMMIT:
            "the checkout step fetched another commit than the pipeline was created for: a repository mirror that lags, or a branch that moved is checked out by name",
            "compare the project's repository URL in the CircleCI project settings with the VCS; a proxy or mirror in between must serve the same commits";
        NO_COMMIT_PRINTED:
            "the project's config is not the one this realitycheck expects",
            "push the config `realitycheck init` writes to the project's default branch (or pipeline.branch)";
        CHECKOUT_KEY_REFUSED:
            "the VCS refuses the project's checkout key: the deploy key was removed from the repository (or the user key's owner lost access), so no job of the project can check out its code",
            "in the project's settings on {host} (Project Settings, SSH Keys), add a deploy key again (or a user key), and check that it is among the repository's deploy keys in the VCS";
    }
}

pub fn contexts() -> Check<RealityCheck> {
    let jobs = vec![Job::feature(FeatureJob::Contexts)];
    pipeline_check(
        ids::FEATURE_CONTEXTS,
        "a job saw the context values realitycheck set",
        jobs,
        |handles, scope| async move {
            let (run, jobs) = match run_jobs(&handles, &scope).await {
                Err(Verdict::Fail(diagnosis)) => match blocking_context(&handles).await {
                    Some(blocked) => Err(blocked),
                    None => Err(digest_mismatch(&handles, diagnosis).await),
                },
                ran => ran,
            }?;
            let number = jobs.first().and_then(|(_, j)| j.job_number).map_or("?".into(), |n| n.to_string());
            Ok(Verdict::Pass(match &run.context_values {
                ContextValues::SetThisRun => format!(
                    "job `contexts` (#{number}) saw the values realitycheck set for this run in org-global and individual-local (digest matched)"
                ),
                ContextValues::PresenceOnly(why) => {
                    format!("job `contexts` (#{number}) saw both context variables set; values not compared: {why}")
                }
            }))
        },
    )
}

/// The verdict of a failed contexts job. When the job saw both variables but other values
/// than this run set: if another realitycheck run set them meanwhile, the contexts work (a
/// pass noting it); if a variable was changed after this run set it, the diagnosis names it;
/// otherwise the cause is the contexts (a restriction, another context of the same name),
/// never the executor.
async fn digest_mismatch(handles: &PipelineHandles, diagnosis: Diagnosis) -> Verdict {
    if !diagnosis.observed.iter().any(|line| line.contains("context digest mismatch")) {
        return Verdict::Fail(diagnosis);
    }
    let client = handles.api.client();
    if let Some(taken) = handles.pipeline.values_taken_over(client).await {
        return Verdict::Pass(format!("job `contexts` saw both context variables set; values not compared: {taken}"));
    }
    let changed = handles.pipeline.values_changed_since_set(client).await;
    if changed.iter().any(|line| line.contains("after this run set it")) {
        return Verdict::Fail(diagnosis.observed_all(changed).because(&VALUES_CHANGED).phase(&phase::CONTEXTS));
    }
    Verdict::Fail(
        diagnosis
            .observed_all(changed)
            .because(OTHER_VALUES.with(&[("marker", &RUN_IN_PROGRESS)]))
            .phase(&phase::CONTEXTS),
    )
}

/// A skip naming the contexts check that already explains a failed job run with the
/// project's contexts (`contexts`, `oidc`).
pub(super) async fn blocking_context(handles: &PipelineHandles) -> Option<Verdict> {
    let setup = handles.project.context_setup().await.ok()?;
    let (unusable, check) =
        CHECK_OF.iter().find(|(context, _)| setup.get(*context).is_none_or(|p| p.usable_id.is_none()))?;
    Some(Verdict::Skip(SkipReason::Blocked {
        by: check.to_string(),
        reason: format!("context `{}` lacks {}, so the job could not see it", unusable.name, unusable.variable),
    }))
}

pub fn workspaces() -> Check<RealityCheck> {
    round_trip(
        ids::WORKSPACES,
        "a workspace written by one job is read by the next",
        (FeatureJob::WriteWorkspace, FeatureJob::ReadWorkspace),
        "persisted a workspace",
        "attached it and read this run's id",
    )
}

pub fn cache() -> Check<RealityCheck> {
    round_trip(
        ids::CACHE,
        "save_cache and restore_cache round-trip",
        (FeatureJob::SaveCache, FeatureJob::RestoreCache),
        "saved a cache",
        "restored it and read this run's id",
    )
}

/// Two jobs, the second requiring the first, that must both succeed.
fn round_trip(
    id: &'static str,
    summary: &'static str,
    (first, second): (FeatureJob, FeatureJob),
    first_did: &'static str,
    second_did: &'static str,
) -> Check<RealityCheck> {
    let jobs = vec![Job::feature(first), Job::feature(second)];
    let (first, second) = (first.name(), second.name());
    pipeline_check(id, summary, jobs, move |handles, scope| async move {
        let (_, jobs) = run_jobs(&handles, &scope).await?;
        let label = |name: &str| {
            jobs.iter()
                .find(|(_, j)| j.name == name)
                .and_then(|(_, j)| j.job_number)
                .map_or("?".into(), |n| n.to_string())
        };
        Ok(Verdict::Pass(format!(
            "job `{first}` (#{}) {first_did}; job `{second}` (#{}) {second_did}",
            label(first),
            label(second)
        )))
    })
}

pub fn artifacts() -> Check<RealityCheck> {
    let summary = "artifacts are listed through the API and their content verified";
    let jobs = vec![Job::feature(FeatureJob::Artifacts)];
    pipeline_check(ids::ARTIFACTS, summary, jobs, |handles, scope| async move {
        let (run, number) = run_job(&handles, &scope).await?;
        let client = handles.api.client();
        let artifacts = client.job_artifacts(&run.slug, number).await.map_err(api_failed)?;
        let artifact = artifacts.iter().find(|a| a.path == ARTIFACT_PATH).ok_or_else(|| {
            let listed: Vec<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
            Verdict::Fail(
                Diagnosis::new(format!("job `artifacts` (#{number}) succeeded but the API lists no {ARTIFACT_PATH}"))
                    .observed(format!(
                        "artifacts listed: {}",
                        if listed.is_empty() { "none".into() } else { listed.join(", ") }
                    ))
                    .because(&ARTIFACT_NOT_STORED)
                    .phase(&phase::OBJECT_STORAGE),
            )
        })?;
        let content = client.download_artifact(artifact).await.map_err(|error| {
            Verdict::Fail(api_failure(&error).because(&ARTIFACT_NOT_DOWNLOADED).phase(&phase::OBJECT_STORAGE))
        })?;
        Ok(judge_artifact(&run.parameters.run_id, number, &content))
    })
}

/// Pass when the artifact downloaded from job `number` holds what run `run_id`'s job wrote.
fn judge_artifact(run_id: &str, number: u64, content: &[u8]) -> Verdict {
    let expected = outputs::artifact_content(run_id);
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
            .because(&ARTIFACT_ALTERED)
            .phase(&phase::OBJECT_STORAGE),
    )
}

pub fn test_results() -> Check<RealityCheck> {
    let summary = "test results stored by a job are read back through the API";
    let jobs = vec![Job::feature(FeatureJob::TestResults)];
    pipeline_check(ids::TEST_RESULTS, summary, jobs, |handles, scope| async move {
        let (run, number) = run_job(&handles, &scope).await?;
        let tests = handles.api.client().job_tests(&run.slug, number).await.map_err(api_failed)?;
        Ok(judge_tests(&run.parameters.run_id, number, &tests))
    })
}

/// Pass when the test cases read back from job `number` are those run `run_id`'s job stored,
/// results included.
fn judge_tests(run_id: &str, number: u64, tests: &[TestCase]) -> Verdict {
    let mut seen: Vec<outputs::TestCase> = tests
        .iter()
        .map(|t| outputs::TestCase {
            classname: t.classname.clone().unwrap_or_default(),
            name: t.name.clone(),
            result: t.result.clone(),
        })
        .collect();
    seen.sort();
    let mut expected = outputs::test_cases(run_id);
    expected.sort();
    if seen == expected {
        return Verdict::Pass(format!(
            "job `test_results` (#{number}) stored {} test cases; all read back as stored (1 success, 1 skipped)",
            seen.len()
        ));
    }
    let describe = |cases: &[outputs::TestCase]| -> Vec<String> {
        cases.iter().map(|case| format!("  {} / {}: {}", case.classname, case.name, case.result)).collect()
    };
    Verdict::Fail(
        Diagnosis::new(format!("the test results of job #{number} do not match what the job stored"))
            .observed("expected:")
            .observed_all(describe(&expected))
            .observed(format!("read back ({}):", seen.len()))
            .observed_all(describe(&seen))
            .because(&TESTS_NOT_STORED)
            .phase(&phase::OBJECT_STORAGE),
    )
}

pub fn checkout() -> Check<RealityCheck> {
    let summary = "a job checks out the project's repository at the pipeline's commit (VCS integration, checkout key)";
    let jobs = vec![Job::feature(FeatureJob::Checkout)];
    pipeline_check(ids::CHECKOUT, summary, jobs, |handles, scope| async move {
        let (run, number) = run_job(&handles, &scope).await.map_err(|verdict| match verdict {
            Verdict::Fail(diagnosis) => Verdict::Fail(refused_checkout(diagnosis, &handles.api.host())),
            verdict => verdict,
        })?;
        let client = handles.api.client();
        let printed = output_of_step(client, &run.slug, number, CHECKOUT_STEP)
            .await
            .map_err(|error| Verdict::Fail(unread_step_output(&Job::feature(FeatureJob::Checkout), number, error)))?;
        let vcs = client.pipeline(&run.id).await.map_err(api_failed)?.vcs.unwrap_or_default();
        Ok(judge_checkout(number, &printed, vcs.revision.as_deref(), vcs.branch.as_deref()))
    })
}

/// Why what `job` (#`number`) printed is unknown: the API failing is the API's (its phase and
/// causes), an output that is missing or cannot be fetched is the object storage's.
pub(super) fn unread_step_output(job: &Job, number: u64, error: StepOutputError) -> Diagnosis {
    let unknown = format!("job {job} (#{number}) succeeded, but what it printed is unknown");
    match error {
        StepOutputError::Api(error) => api_failure(&error).observed(unknown),
        StepOutputError::Unreadable(why) => {
            Diagnosis::new(unknown).observed(why).because(&STEP_OUTPUT_UNREADABLE).phase(&phase::OBJECT_STORAGE)
        }
    }
}

/// Pass when job `number` printed the commit the pipeline built (`revision`).
pub fn judge_checkout(number: u64, printed: &str, revision: Option<&str>, branch: Option<&str>) -> Verdict {
    let commit =
        printed.lines().map(str::trim).find(|line| line.len() == 40 && line.bytes().all(|b| b.is_ascii_hexdigit()));
    let on = branch.map_or(String::new(), |branch| format!(" of branch {branch}"));
    match (commit, revision) {
        (Some(commit), Some(revision)) if commit.eq_ignore_ascii_case(revision) => {
            Verdict::Pass(format!("job `checkout` (#{number}) checked out {commit}{on}, the commit the pipeline built"))
        }
        (Some(commit), None) => Verdict::Pass(format!(
            "job `checkout` (#{number}) checked out {commit}{on} (the API gives no revision to compare with)"
        )),
        (Some(commit), Some(revision)) => Verdict::Fail(
            Diagnosis::new(format!(
                "job `checkout` (#{number}) checked out {commit}, not the pipeline's commit {revision}"
            ))
            .because(&OTHER_COMMIT)
            .phase(&phase::REALITYCHECK_PROJECT),
        ),
        (None, _) => Verdict::Fail(
            Diagnosis::new(format!("job `checkout` (#{number}) printed no commit in step `{CHECKOUT_STEP}`"))
                .observed(format!("the step printed: {}", printed.lines().take(3).collect::<Vec<_>>().join(" / ")))
                .because(&NO_COMMIT_PRINTED)
                .phase(&phase::REALITYCHECK_PROJECT),
        ),
    }
}

pub fn env_subst() -> Check<RealityCheck> {
    let summary = "`circleci env subst` in a job renders a template from the job's environment";
    let job = Job::feature(FeatureJob::EnvSubst);
    pipeline_check(ids::ENV_SUBST, summary, vec![job.clone()], move |handles, scope| {
        let job = job.clone();
        async move {
            let (run, number) = run_job(&handles, &scope).await.map_err(|verdict| match verdict {
                Verdict::Fail(diagnosis) => Verdict::Fail(no_env_subst(diagnosis)),
                verdict => verdict,
            })?;
            let printed = output_of_step(handles.api.client(), &run.slug, number, ENV_SUBST_STEP)
                .await
                .map_err(|error| Verdict::Fail(unread_step_output(&job, number, error)))?;
            Ok(judge_env_subst(&run.parameters.run_id, number, &printed))
        }
    })
}

/// What a shell or the CircleCI CLI says when `circleci env subst` does not exist.
const NO_SUBST: [&str; 2] = ["unknown command \"subst\"", "circleci: command not found"];

/// A failed `env_subst` job's diagnosis; when the CLI lacks the command, the cause says so.
fn no_env_subst(diagnosis: Diagnosis) -> Diagnosis {
    if !diagnosis.observed.iter().any(|line| NO_SUBST.iter().any(|said| line.contains(said))) {
        return diagnosis;
    }
    diagnosis.because(&NO_ENV_SUBST).phase(&phase::REALITYCHECK_PROJECT)
}

/// Pass when job `number` printed the template rendered from run `run_id`'s environment.
fn judge_env_subst(run_id: &str, number: u64, printed: &str) -> Verdict {
    let expected = outputs::env_subst_rendered(run_id);
    let expected = expected.trim_end();
    if printed.lines().any(|line| line.trim_end() == expected) {
        return Verdict::Pass(format!("job `env_subst` (#{number}) rendered its template: {expected:?}"));
    }
    let shown: Vec<String> =
        printed.lines().filter(|l| !l.trim().is_empty()).take(5).map(|l| format!("  {l}")).collect();
    Verdict::Fail(
        Diagnosis::new(format!("job `env_subst` (#{number}) did not print the rendered template"))
            .observed(format!("expected {expected:?}; step `{ENV_SUBST_STEP}` printed:"))
            .observed_all(shown)
            .because(&NOT_RENDERED)
            .phase(&phase::REALITYCHECK_PROJECT),
    )
}

/// What the VCS says when it refuses a checkout, as git prints it.
const REFUSALS: [&str; 4] = [
    "Permission denied (publickey)",
    "Could not read from remote repository",
    "Host key verification failed",
    "Repository not found",
];

/// A failed checkout job's diagnosis; when the VCS refused the checkout key, the cause and
/// what to do say so.
fn refused_checkout(diagnosis: Diagnosis, host: &str) -> Diagnosis {
    if !diagnosis.observed.iter().any(|line| REFUSALS.iter().any(|refusal| line.contains(refusal))) {
        return diagnosis;
    }
    diagnosis.because(CHECKOUT_KEY_REFUSED.with(&[("host", &host)])).phase(&phase::REALITYCHECK_PROJECT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::jobs::STEP_FAILED;
    use crate::clients::circleci::ApiError;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_commit_checked_out_must_be_the_pipelines() {
        let printed = format!("{COMMIT}\n");
        assert_eq!(
            judge_checkout(16, &printed, Some(COMMIT), Some("main")),
            Verdict::Pass(format!(
                "job `checkout` (#16) checked out {COMMIT} of branch main, the commit the pipeline built"
            ))
        );
        let after_noise = format!("Switched to a new branch 'realitycheck1'\nabc123\n{COMMIT}\n");
        assert!(matches!(judge_checkout(16, &after_noise, Some(COMMIT), None), Verdict::Pass(_)), "{after_noise}");
        let other = "fedcba9876543210fedcba9876543210fedcba98";
        let Verdict::Fail(moved) = judge_checkout(16, &printed, Some(other), None) else { panic!() };
        assert_eq!(
            moved.summary,
            format!("job `checkout` (#16) checked out {COMMIT}, not the pipeline's commit {other}")
        );
        let Verdict::Fail(nothing) = judge_checkout(16, "fatal: not a git repository\n", Some(COMMIT), None) else {
            panic!()
        };
        assert!(nothing.observed[0].contains("fatal: not a git repository"), "{nothing:?}");
    }

    #[test]
    fn the_artifact_must_hold_the_bytes_the_job_wrote() {
        let written = outputs::artifact_content("rc-1");
        assert_eq!(
            judge_artifact("rc-1", 14, written.as_bytes()),
            Verdict::Pass(format!(
                "job `artifacts` (#14) stored {ARTIFACT_PATH}; downloaded, {} bytes as written",
                written.len()
            ))
        );
        let half = &written.as_bytes()[..written.len() / 2];
        let Verdict::Fail(cut) = judge_artifact("rc-1", 14, half) else { panic!() };
        assert_eq!(cut.summary, format!("artifact {ARTIFACT_PATH} of job #14 does not hold what the job wrote"));
        assert_eq!(cut.observed[1], format!("downloaded {} bytes: {:?}", half.len(), String::from_utf8_lossy(half)));
        let Verdict::Fail(stale) = judge_artifact("rc-2", 14, written.as_bytes()) else { panic!() };
        assert_eq!(stale.observed[0], format!("expected {:?}", outputs::artifact_content("rc-2")));
    }

    fn read_back(cases: &[outputs::TestCase]) -> Vec<TestCase> {
        cases
            .iter()
            .map(|case| TestCase {
                name: case.name.clone(),
                classname: Some(case.classname.clone()),
                result: case.result.clone(),
                message: None,
                file: None,
                source: None,
                run_time: None,
            })
            .collect()
    }

    #[test]
    fn the_test_cases_must_read_back_as_stored() {
        let stored = outputs::test_cases("rc-1");
        let mut reversed = read_back(&stored);
        reversed.reverse();
        assert_eq!(
            judge_tests("rc-1", 15, &reversed),
            Verdict::Pass(
                "job `test_results` (#15) stored 2 test cases; all read back as stored (1 success, 1 skipped)".into()
            )
        );
        let Verdict::Fail(dropped) = judge_tests("rc-1", 15, &read_back(&stored[..1])) else { panic!() };
        assert!(dropped.observed.contains(&"read back (1):".to_string()), "{dropped:?}");
        let mut changed = read_back(&stored);
        changed[1].result = "success".into();
        let Verdict::Fail(result) = judge_tests("rc-1", 15, &changed) else { panic!() };
        assert_eq!(result.summary, "the test results of job #15 do not match what the job stored");
        assert!(matches!(judge_tests("rc-2", 15, &read_back(&stored)), Verdict::Fail(_)), "another run's cases");
    }

    #[test]
    fn an_api_failing_to_give_the_step_output_is_the_api_s_not_the_object_storage_s() {
        let bad_gateway = ApiError::Status {
            call: "GET /api/v1.1/project/github/o/r/16".into(),
            url: "https://ci.example/api/v1.1/project/github/o/r/16".into(),
            status: 502,
            message: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        };
        let checkout = Job::feature(FeatureJob::Checkout);
        let api = unread_step_output(&checkout, 16, StepOutputError::Api(bad_gateway));
        assert_eq!(api.phase.map(|p| p.key()), Some(phase::CIRCLECI_API.key()), "{api:?}");
        assert!(api.cause.contains("the API failed on its side"), "{api:?}");
        assert!(!format!("{api:?}").contains("object storage"), "{api:?}");
        let missing = unread_step_output(&checkout, 16, StepOutputError::Unreadable("job #16 has no output".into()));
        assert_eq!(missing.phase.map(|p| p.key()), Some(phase::OBJECT_STORAGE.key()), "{missing:?}");
    }

    #[test]
    fn the_env_subst_job_must_print_the_template_rendered_from_its_environment() {
        let rendered = format!("Some noise\n{}", outputs::env_subst_rendered("rc-1"));
        assert_eq!(
            judge_env_subst("rc-1", 17, &rendered),
            Verdict::Pass(
                "job `env_subst` (#17) rendered its template: \"run rc-1: rendered by circleci env subst\"".into()
            )
        );
        let Verdict::Fail(left) = judge_env_subst("rc-1", 17, "run ${REALITYCHECK_RUN_ID}: $REALITYCHECK_GREETING\n")
        else {
            panic!()
        };
        assert_eq!(left.cause, NOT_RENDERED.cause());
        assert!(left.observed[1].contains("${REALITYCHECK_RUN_ID}"), "{left:?}");
        assert!(matches!(judge_env_subst("rc-2", 17, &rendered), Verdict::Fail(_)), "another run's id");
    }

    #[test]
    fn a_cli_without_env_subst_is_named_and_other_failures_are_left_alone() {
        let failed = |line: &str| {
            Diagnosis::new("job `env_subst` (#17) of pipeline #1 ended failed")
                .observed(format!("  {line}"))
                .because(&STEP_FAILED)
        };
        let missing = no_env_subst(failed("Error: unknown command \"subst\" for \"circleci env\""));
        assert_eq!(missing.cause, NO_ENV_SUBST.cause());
        let absent = no_env_subst(failed("/bin/bash: line 2: circleci: command not found"));
        assert_eq!(absent.cause, NO_ENV_SUBST.cause());
        assert_eq!(no_env_subst(failed("cat: rendered.txt: No such file or directory")).cause, STEP_FAILED.cause());
    }

    #[test]
    fn a_refused_checkout_key_is_named_and_other_failures_are_left_alone() {
        let failed = |line: &str| {
            Diagnosis::new("job `checkout` (#16) of pipeline #1 ended failed")
                .observed(format!("  {line}"))
                .because(&STEP_FAILED)
        };
        let refused = refused_checkout(failed("git@github.com: Permission denied (publickey)."), "https://ci.example");
        assert!(refused.cause.contains("refuses the project's checkout key"), "{refused:?}");
        assert!(refused.remediation.contains("https://ci.example (Project Settings, SSH Keys)"), "{refused:?}");
        let other = refused_checkout(failed("No space left on device"), "https://ci.example");
        assert_eq!(other.cause, STEP_FAILED.cause());
    }
}
