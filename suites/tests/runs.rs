//! Runs of the realitycheck suite against simulated installations. Runs are values: two go on
//! at once in one process against two installations (one healthy, one without Nomad clients)
//! and each gets its own installation's verdicts; a run started again prepares its resources
//! afresh (a new pipeline), sharing nothing with the first start. This is what `serve` loops
//! over. And a check's declaration decides, in one place, that it is not configured.

mod common;

use std::collections::BTreeMap;

use harness::{
    CancellationToken, EventSink, IgnoredMode, Outcome, Run, RunOptions, RunStatus, RunSummary, Selection, SkipReason,
};
use realitycheck_config::{CloudProvider, Target};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::RealityCheck;
use suites::checks::ids;

fn target(name: &str, server: &SimServer) -> Target {
    Target { cloud_provider: Some(CloudProvider::Aws), ..server.target(name) }
}

fn options(name: &str) -> RunOptions {
    common::run_options(
        name,
        &[ids::PODS_READY, ids::CLIENTS_READY, ids::AUTHENTICATED, ids::TRIGGER, ids::DOCKER],
        true,
    )
}

/// Each check's outcome kind, by check ID.
fn verdicts(summary: &RunSummary) -> BTreeMap<String, &'static str> {
    summary
        .results
        .iter()
        .map(|result| {
            let kind = match &result.outcome {
                Outcome::Passed { .. } => "passed",
                Outcome::Flaky { .. } => "flaky",
                Outcome::Failed { .. } => "failed",
                Outcome::Skipped { .. } => "skipped",
            };
            (result.spec.id.clone(), kind)
        })
        .collect()
}

fn diagnosis(summary: &RunSummary, id: &str) -> String {
    match &summary.results.iter().find(|r| r.spec.id == id).unwrap().outcome {
        Outcome::Failed { diagnosis } => format!("{diagnosis:?}"),
        other => panic!("{id} did not fail: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_in_one_process_each_judge_their_own_installation() {
    let healthy = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let broken = SimServer::start(Scenario::NoNomadClients, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let healthy_run = Run::new(RealityCheck::new(target("healthy", &healthy), false), options("healthy"));
    let broken_run = Run::new(RealityCheck::new(target("broken", &broken), false), options("broken"));

    let (events, _received) = EventSink::channel();
    let (first, red) = tokio::join!(
        healthy_run.execute(&events, CancellationToken::new()),
        broken_run.execute(&events, CancellationToken::new())
    );
    let (first, red) = (first.unwrap().summary, red.unwrap().summary);

    assert_eq!(first.status, RunStatus::Passed, "{:?}", verdicts(&first));
    assert!(verdicts(&first).values().all(|v| *v == "passed"), "{:?}", verdicts(&first));
    assert_eq!(red.status, RunStatus::Failed);
    let red_verdicts = verdicts(&red);
    assert_eq!(red_verdicts[ids::CLIENTS_READY], "failed");
    assert_eq!(red_verdicts[ids::DOCKER], "failed");
    assert_eq!((red_verdicts[ids::PODS_READY], red_verdicts[ids::TRIGGER]), ("passed", "passed"));
    assert!(diagnosis(&red, ids::DOCKER).contains("Nomad has no client"), "{}", diagnosis(&red, ids::DOCKER));
    assert_eq!(healthy.circleci_state().pipeline_summaries().len(), 1, "each run triggers on its own installation");
    assert_eq!(broken.circleci_state().pipeline_summaries().len(), 1);

    let again = healthy_run.execute(&events, CancellationToken::new()).await.unwrap();
    assert_eq!(verdicts(&again.summary), verdicts(&first), "the run starts again with the same verdicts");
    let pipelines = healthy.circleci_state().pipeline_summaries();
    assert_eq!(pipelines.len(), 2, "started again, the run prepares its resources afresh: a new pipeline");
    assert_ne!(pipelines[0].id, pipelines[1].id);
    healthy.shutdown().await;
    broken.shutdown().await;
}

#[tokio::test]
async fn a_check_asked_for_without_its_setting_is_skipped_as_not_configured() {
    let server = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut options = options("no-runner");
    options.selection = Selection {
        filters: vec![ids::RUNNER.into()],
        exact: true,
        ignored: IgnoredMode::Include,
        ..Selection::default()
    };
    let mut target = target("no-runner", &server);
    target.pipeline.runner_resource_class = None;
    let run = Run::new(RealityCheck::new(target, false), options);
    let (events, _received) = EventSink::channel();
    let summary = run.execute(&events, CancellationToken::new()).await.unwrap().summary;
    let Outcome::Skipped { reason: SkipReason::NotConfigured(why) } = &summary.results[0].outcome else {
        panic!("{:?}", summary.results[0].outcome);
    };
    assert!(why.contains("pipeline.runner_resource_class"), "{why}");
    assert!(server.circleci_state().pipeline_summaries().is_empty(), "nothing to wait for: no pipeline triggered");
    server.shutdown().await;
}

/// The one check `id` run against `scenario`, with a pipeline timeout short enough that a check
/// which only waited would end red with other words within a minute.
async fn stuck_job_diagnosis(scenario: Scenario, id: &str) -> String {
    let server = SimServer::start(scenario, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut target = target(scenario.name(), &server);
    target.pipeline.runner_resource_class = Some(realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS.into());
    let mut options = common::run_options(scenario.name(), &[id], true);
    options.timeouts.pipeline = std::time::Duration::from_secs(40);
    let (events, _received) = EventSink::channel();
    let run = Run::new(RealityCheck::new(target, false), options);
    let summary = run.execute(&events, CancellationToken::new()).await.unwrap().summary;
    server.shutdown().await;
    diagnosis(&summary, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stuck_for_want_of_a_runner_or_a_provisioner_is_diagnosed_not_waited_out() {
    let runner = stuck_job_diagnosis(Scenario::RunnerMissing, ids::RUNNER).await;
    assert!(runner.contains("no runner is registered for resource class `realitycheck-sim/linux-runner`"), "{runner}");
    assert!(runner.contains("wait for a runner to claim them"), "{runner}");
    let machine = stuck_job_diagnosis(Scenario::PodsNotReady, ids::MACHINE).await;
    assert!(
        machine.contains("the machine provisioner has no ready pod in machine-provisioner-provisioner"),
        "{machine}"
    );
}

/// The API requests of a whole healthy run, by endpoint, with jobs that end as soon as they
/// are triggered (so that the number of polls does not depend on the machine's speed): one
/// trigger, one poll (the pipeline, its workflow list, each workflow's jobs, in pages of two),
/// one job-details read per executor check, the artifact and test reads, the pipeline read
/// again for the commit `features::checkout` compares, the user, project and contexts once
/// each, the TLS probe (`GET /`), and at the end one more workflow list (what is left to
/// cancel). A check that starts polling on its own, or a poll that reads a finished workflow
/// again, changes these counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_run_makes_the_requests_it_needs_and_no_more() {
    use realitycheck_sim::execution::JobTiming;
    use realitycheck_sim::sim::SimOptions;
    let options = SimOptions { timing: JobTiming::instant(), ..SimOptions::for_scenario(Scenario::Healthy) };
    let server = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let mut target = target("counted", &server);
    target.pipeline.runner_resource_class = Some(realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS.into());
    target.pipeline.docker_resource_classes = vec!["small".into(), "medium".into(), "large".into()];
    let mut options = self::options("counted");
    options.selection = Selection::default();
    let run = Run::new(RealityCheck::new(target, false), options);
    let (events, _received) = EventSink::channel();
    let summary = run.execute(&events, CancellationToken::new()).await.unwrap().summary;
    assert_eq!(summary.status, RunStatus::Passed, "{:?}", verdicts(&summary));
    let counts = server.circleci_state().request_counts();
    let ids_hidden: BTreeMap<String, u64> = counts
        .into_iter()
        .map(|(endpoint, count)| {
            let shape: Vec<&str> = endpoint
                .split('/')
                .map(|segment| if segment.len() == 36 && segment.contains('-') { "{id}" } else { segment })
                .collect();
            (shape.join("/"), count)
        })
        .fold(BTreeMap::new(), |mut all, (endpoint, count)| {
            *all.entry(endpoint).or_default() += count;
            all
        });
    insta::assert_debug_snapshot!(ids_hidden);
    server.shutdown().await;
}
