//! `pipeline::trigger`: the realitycheck project's pipeline is created (not `errored`) and its
//! workflows appear. Its pipeline is the one every executor and feature check waits on.

use harness::{Check, Diagnosis, SkipReason, Verdict};

use super::api::api_failure;
use super::jobs::poller_gave_up;
use super::{PipelineHandles, ids, pipeline_check, retries_note};
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

/// The diagnosis of a trigger the API of `host` refused.
fn rejected_trigger(host: &str, slug: &str, error: &ApiError) -> Diagnosis {
    let diagnosis = api_failure(error);
    match error.status() {
        Some(400) => Diagnosis::new(format!("the pipeline of {slug} was refused: {error}"))
            .cause("the project's .circleci/config.yml does not declare the pipeline parameters realitycheck sends: it is an older or a different config")
            .remediation("push the config `realitycheck init` writes as .circleci/config.yml to the project's default branch (or pipeline.branch)")
            .phase(&phase::REALITYCHECK_PROJECT),
        Some(404) => Diagnosis::new(format!("the pipeline of {slug} could not be triggered: {error}"))
            .cause("the project is not followed on this installation, or the token's user cannot build it")
            .remediation(format!("follow the project in the CircleCI UI ({host}/projects) as the token's user"))
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
        match &snapshot.end {
            Some(PollEnd::Errored(errors)) => {
                return Verdict::Fail(
                    Diagnosis::new(format!("pipeline #{} errored", run.number))
                        .observed_all(errors.iter().map(|e| format!("{}: {}", e.kind, e.message)))
                        .cause("CircleCI could not build the pipeline from the project's config (a config error, or the config could not be fetched from the VCS)")
                        .remediation("push the config `realitycheck init` writes; check that the installation can reach the VCS (GitHub OAuth app, webhooks)")
                        .phase(&phase::REALITYCHECK_PROJECT),
                );
            }
            Some(PollEnd::NoWorkflows { waited }) => {
                return Verdict::Fail(
                    Diagnosis::new(format!("pipeline #{} started no workflow in {}", run.number, harness::humanize(*waited)))
                        .cause("the project's config has no workflow for these parameters (an older or edited config), or the workflow conductor is not running")
                        .remediation("push the config `realitycheck init` writes; check the workflows-conductor pods")
                        .phase(&phase::REALITYCHECK_PROJECT),
                );
            }
            Some(PollEnd::NotCreated { state, waited }) => {
                return Verdict::Fail(
                    Diagnosis::new(format!(
                        "pipeline #{} was still `{state}` after {}: its configuration was never processed",
                        run.number,
                        harness::humanize(*waited)
                    ))
                    .cause("CircleCI has not finished processing the project's configuration: the config processing service (or the frontend that hands it the config) is down or stuck; no job could have been queued, so the executors are not at fault")
                    .remediation("check the frontend and config processing pods and their logs (`kubectl get pods | grep -e frontend -e config`), and that the installation can fetch the config from the VCS")
                    .phase(&phase::CIRCLECI_API),
                );
            }
            Some(PollEnd::ApiFailed { error, failing_for, failed_polls }) => {
                return Verdict::Fail(poller_gave_up(error, *failing_for, *failed_polls));
            }
            Some(PollEnd::Finished) | None => {}
        }
        if snapshots.changed().await.is_err()
            && snapshots.borrow().workflows.is_empty()
            && snapshots.borrow().end.is_none()
        {
            return Verdict::Fail(
                Diagnosis::new("the pipeline poller stopped unexpectedly").cause("a bug in realitycheck"),
            );
        }
    }
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
