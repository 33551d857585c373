//! No pipeline is left behind and none is created twice: a trigger whose answer is lost is
//! found by the run's `run_id` instead of being sent again; a trigger the API keeps refusing
//! for a while is sent again within the read budget, once no pipeline of the run exists; a run
//! interrupted while its
//! trigger is in flight still cancels the pipeline it created; and the end of a run spends a
//! bounded grace on cancelling, then names what it left running.

mod common;

use std::time::Duration;

use harness::{CancellationToken, EventSink, Outcome, Run, RunOptions, RunStatus, Timeouts};
use realitycheck_config::Target;
use realitycheck_project::Job;
use realitycheck_sim::circleci::{ApiBehaviour, Fault, FaultPlan};
use realitycheck_sim::execution::JobTiming;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use suites::RealityCheck;
use suites::checks::ids;
use suites::resources::pipeline::{Ledger, PipelineAccess};
use suites::resources::{Requires, Resources};

/// The simulation as a target; its kubeconfig lets the docker check see at once that no Nomad
/// client can take its job.
fn target(server: &SimServer) -> Target {
    server.target("sim")
}

/// A simulation without Nomad clients whose API misbehaves on the endpoints of `prefix` as
/// `fault` on their first request.
async fn sim(prefix: &str, fault: Fault) -> SimServer {
    sim_failing(prefix, [(1, fault)]).await
}

/// A simulation without Nomad clients whose API misbehaves on the endpoints of `prefix`: on
/// their nth request as `faults` says for n.
async fn sim_failing(prefix: &str, faults: impl IntoIterator<Item = (u64, Fault)>) -> SimServer {
    let api = ApiBehaviour { delay: Duration::ZERO, faults: FaultPlan::repeating(1_000, faults).only(prefix) };
    SimServer::start_with(
        Scenario::NoNomadClients,
        ([127, 0, 0, 1], 0).into(),
        SimOptions { api, timing: JobTiming::default(), ..SimOptions::for_scenario(Scenario::NoNomadClients) },
    )
    .await
    .unwrap()
}

/// `trigger` and `docker` only: docker jobs stay queued without Nomad clients, so the pipeline
/// has a workflow to cancel at the end.
fn options() -> RunOptions {
    common::run_options("sim", &[ids::TRIGGER, ids::DOCKER], true)
}

#[tokio::test]
async fn a_trigger_whose_answer_is_lost_creates_one_pipeline() {
    let server = sim("POST /api/v2/project/", Fault::AnswerLost).await;
    let run = Run::new(RealityCheck::new(target(&server), false), options());
    let (sink, _events) = EventSink::channel();
    let report = run.execute(&sink, CancellationToken::new()).await.unwrap();
    let pipelines = server.circleci_state().pipeline_summaries();
    assert_eq!(pipelines.len(), 1, "the lost answer's pipeline was found, not triggered again: {pipelines:?}");
    let trigger = report.summary.results.iter().find(|r| r.spec.id == ids::TRIGGER).unwrap();
    assert!(matches!(trigger.outcome, Outcome::Passed { .. }), "{:?}", trigger.outcome);
    assert!(
        report.finish_notes.iter().any(|note| note.starts_with("cancelled workflow `docker` of pipeline #1")),
        "{:?}",
        report.finish_notes
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_trigger_refused_four_times_in_a_row_is_sent_again_and_creates_one_pipeline() {
    let refusals = [Fault::ServiceUnavailable, Fault::BadGatewayPage, Fault::ServiceUnavailable];
    // Four refusals: one more than a write's fixed retries, which used to bound the trigger.
    let faults = (1..=4).map(|n| (n, refusals[(n % 3) as usize]));
    let server = sim_failing("POST /api/v2/project/", faults).await;
    let run = Run::new(RealityCheck::new(target(&server), false), options());
    let (sink, _events) = EventSink::channel();
    let report = run.execute(&sink, CancellationToken::new()).await.unwrap();
    let pipelines = server.circleci_state().pipeline_summaries();
    assert_eq!(pipelines.len(), 1, "the fifth trigger created the run's one pipeline: {pipelines:?}");
    let trigger = report.summary.results.iter().find(|r| r.spec.id == ids::TRIGGER).unwrap();
    let Outcome::Passed { note } = &trigger.outcome else { panic!("{:?}", trigger.outcome) };
    assert!(note.contains("after 4 retries"), "{note}");
    assert!(note.contains("no pipeline of this run found, so the trigger is sent again"), "{note}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_run_interrupted_while_its_trigger_is_in_flight_cancels_the_pipeline() {
    // The API creates the pipeline at once and answers 20 s later; the run is stopped before.
    let server = sim("POST /api/v2/project/", Fault::AnswerAfter(Duration::from_secs(20))).await;
    let run = Run::new(RealityCheck::new(target(&server), false), options());
    let (sink, _events) = EventSink::channel();
    let cancel = CancellationToken::new();
    let stop = async {
        while server.circleci_state().pipeline_summaries().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
    };
    let executed = tokio::time::timeout(Duration::from_secs(15), run.execute(&sink, cancel.clone()));
    let (report, ()) = tokio::join!(executed, stop);
    let report = report.expect("the run ends soon after it is stopped").unwrap();
    assert_eq!(report.summary.status, RunStatus::Interrupted);
    assert!(
        report.finish_notes.iter().any(|note| note.starts_with("cancelled workflow `docker` of pipeline #1")),
        "the pipeline of the interrupted trigger is found by its run_id and cancelled: {:?}",
        report.finish_notes
    );
    let pipelines = server.circleci_state().pipeline_summaries();
    assert!(pipelines[0].workflows.iter().all(|w| w.status == "canceled"), "{pipelines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn cancelling_is_bounded_and_names_what_it_left_running() {
    // Every cancel hangs for a minute.
    let server = sim("POST /api/v2/workflow/", Fault::AnswerAfter(Duration::from_secs(60))).await;
    let target = std::sync::Arc::new(target(&server));
    let timeouts = Timeouts {
        cluster: Duration::from_secs(30),
        api: Duration::from_secs(120),
        pipeline: Duration::from_secs(300),
    };
    let jobs = Requires::Pipeline(vec![Job::docker()]);
    let ledger = Ledger::new("rc-bounded-cleanup".into());
    let resources =
        Resources::prepare(std::sync::Arc::clone(&target), &[&jobs], &timeouts, false, ledger.clone()).unwrap();
    let pipeline: &PipelineAccess = resources.pipeline.as_ref().unwrap();
    let run = pipeline.run().await.unwrap();
    let mut snapshots = run.subscribe();
    snapshots.wait_for(|s| !s.workflows.is_empty()).await.unwrap();
    let client = resources.api.as_ref().unwrap().client();
    let started = tokio::time::Instant::now();
    let notes = pipeline.end_within(client, Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by the grace: {:?}", started.elapsed());
    let url = format!("{}/pipelines/{}/1", server.circleci_url(), realitycheck_sim::SIM_PROJECT);
    assert_eq!(
        notes,
        ["cancelling did not finish within 300ms".to_string(), format!("pipeline #1 ({url}) may still be running"),]
    );
    assert_eq!(ledger.left_running(), [format!("pipeline #1 ({url}) may still be running")]);
    server.shutdown().await;
}
