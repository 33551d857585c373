//! Benchmark: a full run of every check against the simulated installation (scenario healthy,
//! the demo's settings, default job timing), five times. For each run: the wall time against
//! the pipeline's critical path (from its creation to its last workflow's end, as the API
//! reports them), and the API requests by endpoint. Reproduce with
//! `cargo bench -p suites --bench pipeline_run`; BENCHMARKS.md records the results.

use std::time::{Duration, SystemTime};

use harness::{CancellationToken, EventSink, Run, RunInfo, RunOptions, RunStatus, Selection, Timeouts};
use k8s_openapi::jiff::Timestamp;
use realitycheck_config::{CloudProvider, Secret, Target};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::RealityCheck;
use suites::clients::circleci::{ApiClient, ApiSettings, RetryPolicy};
use tokio::time::Instant;
use url::Url;

const RUNS: usize = 5;

/// The demo's settings: the simulation (its runner included) and three docker resource classes.
fn target(server: &SimServer) -> Target {
    let mut target = server.target("bench");
    target.cloud_provider = Some(CloudProvider::Aws);
    target.pipeline.docker_resource_classes = vec!["small".into(), "medium".into(), "large".into()];
    target
}

/// From the pipeline's creation to its last workflow's end, as the API reports them.
async fn critical_path(server: &SimServer) -> Duration {
    let client = ApiClient::new(&ApiSettings {
        host: Url::parse(&server.circleci_url()).unwrap(),
        token: Secret::new(realitycheck_sim::SIM_TOKEN),
        timeout: Duration::from_secs(10),
        ca_bundle: Some(server.ca_bundle().to_path_buf()),
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap();
    let summary = server.circleci_state().pipeline_summaries().pop().expect("the run triggered a pipeline");
    let pipeline = client.pipeline(&summary.id).await.unwrap();
    let created: Timestamp = pipeline.created_at.unwrap().parse().unwrap();
    let workflows = client.pipeline_workflows(&summary.id).await.unwrap();
    let ended = workflows.iter().filter_map(|w| w.stopped_at.as_deref()?.parse::<Timestamp>().ok()).max().unwrap();
    Duration::try_from(ended.duration_since(created)).unwrap()
}

async fn one_run() -> (Duration, Duration, u64, std::collections::BTreeMap<String, u64>) {
    let server = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let target = target(&server);
    let options = RunOptions {
        info: RunInfo {
            target: "bench".into(),
            host: server.circleci_url(),
            profile: "bench".into(),
            started_at: SystemTime::now(),
        },
        selection: Selection::default(),
        timeouts: Timeouts {
            cluster: Duration::from_secs(30),
            api: Duration::from_secs(30),
            pipeline: Duration::from_secs(900),
        },
        deadline: None,
        retries: 0,
        retry_delay: Duration::ZERO,
        concurrency: 8,
        collect: false,
    };
    let (sink, _events) = EventSink::channel();
    let started = Instant::now();
    let run = Run::new(RealityCheck::new(target, false), options);
    let summary = run.execute(&sink, CancellationToken::new()).await.unwrap().summary;
    let wall = started.elapsed();
    assert_eq!(summary.status, RunStatus::Passed, "the healthy run must pass");
    let requests = server.circleci_state().request_counts();
    let total = requests.values().sum();
    let critical = critical_path(&server).await;
    server.shutdown().await;
    (wall, critical, total, requests)
}

#[tokio::main]
async fn main() {
    println!("run  wall     critical path  overhead  API requests");
    let mut last = None;
    for run in 1..=RUNS {
        let (wall, critical, total, requests) = one_run().await;
        let overhead = wall.saturating_sub(critical);
        println!(
            "{run:>3}  {:>6.3}s  {:>12.3}s  {:>7.3}s  {total}",
            wall.as_secs_f64(),
            critical.as_secs_f64(),
            overhead.as_secs_f64()
        );
        last = Some(requests);
    }
    println!("\nrequests of the last run, by endpoint (ids shown as they were):");
    for (endpoint, count) in last.unwrap_or_default() {
        println!("{count:>4}  {endpoint}");
    }
}
