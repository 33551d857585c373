//! Whole runs against a simulated API that fails about a third of its answers (502 pages as
//! nginx sends them, 503, 429 with `Retry-After`), each run with its own seed: every run is
//! green, since every fault is one the API recovers from. Issue 24, item 3.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use harness::{CancellationToken, EventSink, Outcome, Run, RunSummary, Selection};
use realitycheck_config::{CloudProvider, Target};
use realitycheck_sim::circleci::{ApiBehaviour, FaultPlan};
use realitycheck_sim::execution::JobTiming;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use suites::RealityCheck;
use suites::checks::ids;

/// Runs at once, each against its own installation with its own seed.
const RUNS: u64 = 20;

/// Of 100 answers of the API, about this many fail.
const FAILING_PERCENT: u8 = 35;

/// Every check of a target that configures them all, against `server`.
fn target(name: &str, server: &SimServer) -> Target {
    let mut target = Target { cloud_provider: Some(CloudProvider::Aws), ..server.target(name) };
    target.pipeline.runner_resource_class = Some(realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS.into());
    target.pipeline.docker_resource_classes = vec!["small".into(), "medium".into(), "large".into()];
    target
}

/// What did not pass, by check ID, with why.
fn not_passed(summary: &RunSummary) -> BTreeMap<String, String> {
    summary
        .results
        .iter()
        .filter(|result| !matches!(result.outcome, Outcome::Passed { .. }))
        .map(|result| (result.spec.id.clone(), format!("{:?}", result.outcome)))
        .collect()
}

/// One full run (every check) against a healthy installation whose API fails `percent` % of
/// its answers, chosen by `seed`: the checks that did not pass, how many requests the API
/// answered, and how long the run took.
async fn run_with(seed: u64, percent: u8) -> (BTreeMap<String, String>, u64, Duration) {
    let faults = FaultPlan::scattered(seed, percent);
    let options = SimOptions {
        api: ApiBehaviour { delay: Duration::ZERO, faults },
        timing: JobTiming::instant(),
        ..SimOptions::for_scenario(Scenario::Healthy)
    };
    let server = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let name = format!("seed-{seed}");
    let mut options = common::run_options(&name, &[], false);
    options.selection = Selection::default();
    let run = Run::new(RealityCheck::new(target(&name, &server), false), options);
    let (events, _received) = EventSink::channel();
    let started = std::time::Instant::now();
    let summary = run.execute(&events, CancellationToken::new()).await.unwrap().summary;
    let took = started.elapsed();
    let requests: u64 = server.circleci_state().request_counts().values().sum();
    server.shutdown().await;
    (not_passed(&summary), requests, took)
}

/// Green: every check that passes against the API without faults passes against the failing
/// one too (what does not pass on the simulation's healthy installation, skips included, is
/// the same in both).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_runs_against_an_api_failing_a_third_of_its_answers_are_all_green() {
    let (baseline, _, _) = run_with(0, 0).await;
    // The checks that read the API most pass without faults, so that the runs below prove something.
    let readers = [
        ids::AUTHENTICATED,
        ids::PROJECT,
        ids::ORG_GLOBAL,
        ids::INDIVIDUAL_LOCAL,
        ids::TRIGGER,
        ids::DOCKER,
        ids::RUNNER,
        ids::FEATURE_CONTEXTS,
        ids::ARTIFACTS,
        ids::TEST_RESULTS,
    ];
    assert!(readers.iter().all(|id| !baseline.contains_key(*id)), "not passing without faults: {baseline:#?}");
    let started = std::time::Instant::now();
    let runs = join_all((1..=RUNS).map(|seed| run_with(seed, FAILING_PERCENT))).await;
    let elapsed = started.elapsed();
    let same_as_baseline = |failed: &BTreeMap<String, String>| failed.keys().eq(baseline.keys());
    let red: Vec<(u64, &BTreeMap<String, String>)> = (1..=RUNS)
        .zip(&runs)
        .filter(|(_, (failed, _, _))| !same_as_baseline(failed))
        .map(|(seed, (failed, _, _))| (seed, failed))
        .collect();
    let requests: u64 = runs.iter().map(|(_, requests, _)| requests).sum();
    let longest = runs.iter().map(|(_, _, took)| *took).max().unwrap_or_default();
    eprintln!(
        "{RUNS} runs at {FAILING_PERCENT} % failed answers: {} green, {requests} requests, the longest run {longest:.1?}, all in {elapsed:.1?}; not passing without faults either: {:?}",
        RUNS as usize - red.len(),
        baseline.keys().collect::<Vec<_>>()
    );
    assert!(red.is_empty(), "red runs (by seed), beside {:?}: {red:#?}", baseline.keys().collect::<Vec<_>>());
}
