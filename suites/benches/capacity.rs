//! Benchmark: `capacity --jobs 200` (medium docker containers, a 60 s hold) against the
//! simulated installation in scenario capacity-healthy, in process. It prints the polls, the
//! CircleCI API requests by endpoint and per poll (the goal: none per container per poll, the
//! two reads of the job whatever the number of containers), the Nomad samples, and the verdict.
//! Reproduce with `cargo bench -p suites --bench capacity`; BENCHMARKS.md records the results
//! with the peak memory and CPU of the binary measured apart (the simulation shares this
//! process here).

use std::time::Duration;

use capacity::{Report, Thresholds};
use harness::CancellationToken;
use realitycheck_config::CloudProvider;
use realitycheck_project::{CapacityExecutor, CapacityWorkload};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::capacity::{Limits, measure};
use tokio::time::Instant;

const CONTAINERS: u32 = 200;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = SimServer::start(Scenario::CapacityHealthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut target = server.target("bench");
    target.cloud_provider = Some(CloudProvider::Aws);
    target.capacity.max_jobs = CONTAINERS;
    let workload = CapacityWorkload {
        executor: CapacityExecutor::Docker,
        containers: CONTAINERS,
        resource_class: "medium".into(),
        hold_seconds: 60,
    };
    let limits = Limits::new(Duration::from_secs(10), Duration::from_secs(10), Duration::from_secs(300));
    let mut polls = 0u64;
    let started = Instant::now();
    let measurement = measure(&target, &workload, &limits, &CancellationToken::new(), &mut |_| polls += 1)
        .await
        .expect("the measurement ends");
    let wall = started.elapsed();
    let requests = server.circleci_state().request_counts();
    let total: u64 = requests.values().sum();
    println!(
        "capacity --jobs {CONTAINERS}: {wall:.2?} wall, {polls} polls, {} Nomad samples",
        measurement.clients.len()
    );
    println!("CircleCI API requests: {total} ({:.2} per poll)", total as f64 / polls.max(1) as f64);
    for (endpoint, count) in &requests {
        println!("  {count:>4}  {endpoint}");
    }
    let report = Report::new(measurement, Thresholds { max_wait_p95: target.capacity.max_wait_p95 });
    let summary = &report.summary;
    println!(
        "{} of {} started, wait p50 {:?} p95 {:?} max {:?}, clients {:?} → {:?}, verdict {:?}",
        summary.started,
        summary.containers,
        summary.wait_p50,
        summary.wait_p95,
        summary.wait_max,
        summary.clients_before,
        summary.clients_peak,
        report.verdict()
    );
    server.shutdown().await;
}
