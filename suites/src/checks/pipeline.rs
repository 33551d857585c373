//! `pipeline::trigger`: the realitycheck project's pipeline is created (not `errored`) and its
//! workflows appear. Its pipeline is the one every executor and feature check waits on.

use harness::{Check, Diagnosis, SkipReason, Verdict};

use super::api::api_failure;
use super::cause::{Because, StatedBy, causes};
use super::jobs::poller_gave_up;
use super::{BUG, PipelineHandles, ids, pipeline_check, retries_note};
use crate::RealityCheck;
use crate::clients::circleci::ApiError;
use crate::phase;
use crate::resources::pipeline::{PipelineRun, PollEnd, TriggerError};

pub fn trigger() -> Check<RealityCheck> {
    pipeline_check(
        ids::TRIGGER,
        "a pipeline of the realitycheck project is created and its workflows appear",
        Vec::new(),
        |handles: PipelineHandles, _| async move {
            let run = handles.pipeline.run().await.map_err(|error| trigger_failure(&handles, &error))?;
            Ok(workflows_appear(&run).await)
        },
    )
}

fn trigger_failure(handles: &PipelineHandles, error: &TriggerError) -> Verdict {
    match error {
        TriggerError::Project(error) => {
            Verdict::Skip(SkipReason::Blocked { by: ids::PROJECT.into(), reason: error.to_string() })
        }
        TriggerError::Trigger(error) => {
            Verdict::Fail(rejected_trigger(&handles.api.host(), handles.project.slug(), error))
        }
    }
}

causes! {
    StatedBy::Checks(&[ids::TRIGGER]) => {
        /// The trigger was refused (400).
        PARAMETERS_NOT_DECLARED:
            "the project's .circleci/config.yml does not declare the pipeline parameters realitycheck sends: it is an older or a different config",
            "push the config `realitycheck init` writes as .circleci/config.yml to the project's default branch (or pipeline.branch)";
        /// The project was not found (404).
        CANNOT_BUILD:
            "the project is not followed on this installation, or the token's user cannot build it",
            "follow the project in the CircleCI UI ({host}/projects) as the token's user";
        PIPELINE_ERRORED:
            "CircleCI could not build the pipeline from the project's config (a config error, or the config could not be fetched from the VCS)",
            "push the config `realitycheck init` writes; check that the installation can reach the VCS (GitHub OAuth app, webhooks)";
        NO_WORKFLOW:
            "the project's config has no workflow for these parameters (an older or edited config), or the workflow conductor is not running",
            "push the config `realitycheck init` writes; check the workflows-conductor pods";
        CONFIG_NOT_PROCESSED:
            "CircleCI has not finished processing the project's configuration: the config processing service (or the frontend that hands it the config) is down or stuck; no job could have been queued, so the executors are not at fault",
            "check the frontend and config processing pods and their logs (`kubectl get pods | grep -e frontend -e config`), and that the installation can fetch the config from the VCS";
    }
}

/// The diagnosis of a trigger the API of `host` refused.
fn rejected_trigger(host: &str, slug: &str, error: &ApiError) -> Diagnosis {
    let diagnosis = api_failure(error);
    match error.status() {
        Some(400) => Diagnosis::new(format!("the pipeline of {slug} was refused: {error}"))
            .because(&PARAMETERS_NOT_DECLARED)
            .phase(&phase::REALITYCHECK_PROJECT),
        Some(404) => Diagnosis::new(format!("the pipeline of {slug} could not be triggered: {error}"))
            .because(CANNOT_BUILD.with(&[("host", &host)]))
            .phase(&phase::REALITYCHECK_PROJECT),
        _ => diagnosis,
    }
}

/// Waits for the first workflows of the pipeline (or for why there are none).
async fn workflows_appear(run: &PipelineRun) -> Verdict {
    let mut snapshots = run.subscribe();
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        let branch = run.branch.as_deref().map(|b| format!(" on branch {b}")).unwrap_or_default();
        if !snapshot.workflows.is_empty() {
            let names: Vec<&str> = snapshot.workflows.iter().map(|w| w.workflow.name.as_str()).collect();
            return Verdict::Pass(format!(
                "pipeline #{}{branch} (run {}) started workflows {}{}",
                run.number,
                run.parameters.run_id,
                names.join(", "),
                retries_note(&run.retries())
            ));
        }
        if let Some(verdict) = snapshot.end.as_ref().and_then(|end| ended_without_workflows(run, end)) {
            return verdict;
        }
        if snapshots.changed().await.is_err()
            && snapshots.borrow().workflows.is_empty()
            && snapshots.borrow().end.is_none()
        {
            return Verdict::Fail(Diagnosis::new("the pipeline poller stopped unexpectedly").because(&BUG));
        }
    }
}

/// The verdict of a pipeline whose poller stopped (`end`) before a workflow appeared; `None`
/// when it finished, which its workflows show.
fn ended_without_workflows(run: &PipelineRun, end: &PollEnd) -> Option<Verdict> {
    let (diagnosis, cause, phase) = match end {
        PollEnd::Errored(errors) => (
            Diagnosis::new(format!("pipeline #{} errored", run.number))
                .observed_all(errors.iter().map(|e| format!("{}: {}", e.kind, e.message))),
            &PIPELINE_ERRORED,
            &phase::REALITYCHECK_PROJECT,
        ),
        PollEnd::NoWorkflows { waited } => (
            Diagnosis::new(format!("pipeline #{} started no workflow in {}", run.number, harness::humanize(*waited))),
            &NO_WORKFLOW,
            &phase::REALITYCHECK_PROJECT,
        ),
        PollEnd::NotCreated { state, waited } => (
            Diagnosis::new(format!(
                "pipeline #{} was still `{state}` after {}: its configuration was never processed",
                run.number,
                harness::humanize(*waited)
            )),
            &CONFIG_NOT_PROCESSED,
            &phase::CIRCLECI_API,
        ),
        PollEnd::ApiFailed { error, failing_for, failed_polls } => {
            return Some(Verdict::Fail(poller_gave_up(error, *failing_for, *failed_polls)));
        }
        PollEnd::Finished => return None,
    };
    Some(Verdict::Fail(diagnosis.because(cause).phase(phase)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, message: &str) -> ApiError {
        ApiError::Status {
            call: "POST /api/v2/project/gh/o/r/pipeline".into(),
            url: "https://ci.example/api/v2/project/gh/o/r/pipeline".into(),
            status,
            message: message.into(),
        }
    }

    #[test]
    fn a_refused_trigger_names_the_config_or_the_following() {
        let parameters =
            rejected_trigger("https://ci.example", "gh/o/r", &refused(400, "Unexpected argument(s): run_id"));
        assert_eq!(
            parameters.summary,
            "the pipeline of gh/o/r was refused: POST /api/v2/project/gh/o/r/pipeline answered 400: Unexpected argument(s): run_id"
        );
        assert!(parameters.cause.contains("does not declare the pipeline parameters"), "{parameters:?}");
        let not_followed = rejected_trigger("https://ci.example", "gh/o/r", &refused(404, "Project not found"));
        assert!(not_followed.remediation.contains("https://ci.example/projects"), "{not_followed:?}");
        assert_eq!(not_followed.phase, Some(&phase::REALITYCHECK_PROJECT));
        let other = rejected_trigger("https://ci.example", "gh/o/r", &refused(500, "Internal server error"));
        assert_eq!(other, api_failure(&refused(500, "Internal server error")));
    }
}
