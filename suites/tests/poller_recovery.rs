//! A poller that gave up on the API is not the end of the pipeline: the next check that
//! subscribes (a check retried by the `ci` profile) gets polling started again, and sees the
//! pipeline afresh once the API answers.

mod common;

use std::time::Duration;

use realitycheck_project::{CloudProvider, Job, ParameterSwitches};
use realitycheck_sim::circleci::{ApiBehaviour, Fault, FaultPlan};
use realitycheck_sim::execution::JobTiming;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use suites::resources::api::{ApiAccess, ProjectAccess};
use suites::resources::pipeline::{Ledger, PipelineAccess, PollEnd, PollIntervals};

#[tokio::test]
async fn a_check_that_subscribes_after_the_poller_gave_up_polls_again() {
    // Every endpoint under /api/v2/pipeline/ answers its first request late, after the
    // client's timeout: the client does not send a read that timed out again (a 503 it would
    // retry for a minute), the poller fails that poll.
    let late = Fault::AnswerAfter(Duration::from_secs(5));
    let faults = FaultPlan::repeating(1_000, [(1, late)]).only("GET /api/v2/pipeline/");
    let options = SimOptions {
        api: ApiBehaviour { delay: Duration::ZERO, faults },
        timing: JobTiming::default(),
        ..SimOptions::for_scenario(Scenario::Healthy)
    };
    let server = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let target = server.target("sim");
    let api = ApiAccess::for_target(&target, Duration::from_secs(1)).unwrap().unwrap();
    let project = ProjectAccess::new(&api, realitycheck_sim::SIM_PROJECT, false);
    // No failure budget: the first failed poll ends the poller.
    let intervals = PollIntervals { failure_budget: Duration::ZERO, ..PollIntervals::default() };
    let switches = ParameterSwitches::for_jobs(vec![&Job::docker()], Some(CloudProvider::Other));
    let ledger = Ledger::new("rc-recovery".into());
    let pipeline = PipelineAccess::new(&api, &project, &target.pipeline, switches, intervals, ledger, None);
    let run = pipeline.run().await.unwrap();

    let (mut ends, mut saw_workflows) = (Vec::new(), false);
    for _attempt in 0..3 {
        let mut snapshots = run.subscribe();
        let seen = tokio::time::timeout(
            Duration::from_secs(30),
            snapshots.wait_for(|s| s.end.is_some() || !s.workflows.is_empty()),
        )
        .await
        .expect("the poller ends or sees the workflows")
        .unwrap()
        .clone();
        if !seen.workflows.is_empty() {
            saw_workflows = true;
            break;
        }
        ends.push(seen.end.clone());
    }
    assert!(
        ends.iter().all(|end| matches!(end, Some(PollEnd::ApiFailed { .. }))),
        "the first subscriptions saw the API fail: {ends:?}"
    );
    assert_eq!(ends.len(), 2, "pipeline GET, then the workflow list, each failed one poll: {ends:?}");
    assert!(saw_workflows, "the third subscription polls again and sees the pipeline's workflows");
    server.shutdown().await;
}
