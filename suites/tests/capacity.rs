//! `suites::capacity::measure` against simulated installations (60× faster than a real one:
//! a 60 s hold takes a second): each capacity scenario gives the verdict it is made for, the
//! polls cost the same few requests whatever the number of containers, a class no client can
//! hold is refused before anything is triggered, and a cancelled measurement cancels its
//! workflow.

use std::time::Duration;

use capacity::{Ending, Measure, MeasureId, Measurement, Summary, Thresholds, judge};
use harness::CancellationToken;
use realitycheck_config::{CloudProvider, Target};
use realitycheck_project::{CapacityExecutor, CapacityWorkload};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::capacity::{CapacityError, Limits, measure};

async fn start(scenario: Scenario) -> (SimServer, Target) {
    let server = SimServer::start(scenario, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let target = Target { cloud_provider: Some(CloudProvider::Aws), ..server.target("capacity") };
    (server, target)
}

fn workload(executor: CapacityExecutor, containers: u32, class: &str) -> CapacityWorkload {
    CapacityWorkload { executor, containers, resource_class: class.into(), hold_seconds: 60 }
}

fn limits() -> Limits {
    Limits::new(Duration::from_secs(10), Duration::from_secs(10), Duration::from_secs(120))
}

async fn measured(target: &Target, workload: &CapacityWorkload) -> Measurement {
    measure(target, workload, &limits(), &CancellationToken::new(), &mut |_| {}).await.unwrap()
}

/// The verdict on each measure, by ID, with the summary.
fn judged(target: &Target, measurement: &Measurement) -> (Summary, Vec<Measure>) {
    let summary = Summary::of(measurement);
    let thresholds = Thresholds { max_wait_p95: target.capacity.max_wait_p95 };
    let measures = judge(measurement, &summary, &thresholds);
    (summary, measures)
}

fn verdict(measures: &[Measure], id: MeasureId) -> &Measure {
    measures.iter().find(|m| m.id == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_installation_runs_fifty_containers_scaling_out_within_the_threshold() {
    let (server, target) = start(Scenario::CapacityHealthy).await;
    let measurement = measured(&target, &workload(CapacityExecutor::Docker, 50, "medium")).await;
    let (summary, measures) = judged(&target, &measurement);
    assert_eq!(measurement.ending, Ending::AllRan, "{measurement:#?}");
    assert_eq!((summary.started, summary.succeeded), (50, 50), "{summary:#?}");
    for measure in &measures {
        assert_eq!(measure.passed, Some(true), "{measure:#?}\n{summary:#?}");
    }
    assert!(summary.first_scale_out.is_some(), "the autoscaler added clients: {summary:#?}");
    assert!(summary.clients_peak > summary.clients_before, "{summary:#?}");
    assert!(measurement.fit.as_ref().is_some_and(|fit| fit.fits()), "{:?}", measurement.fit);
    let requests = server.circleci_state().request_counts();
    let polls = requests.iter().filter(|(endpoint, _)| endpoint.contains("/job/")).map(|(_, n)| n).sum::<u64>();
    assert!(polls > 0, "{requests:#?}");
    assert!(
        requests.keys().all(|endpoint| !endpoint.contains("/job/") || !endpoint.ends_with("/artifacts")),
        "nothing but the job's details and build is read per poll: {requests:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaler_at_its_max_is_red_naming_the_max_and_the_setting() {
    let (_server, target) = start(Scenario::AutoscalerAtMax).await;
    let measurement = measured(&target, &workload(CapacityExecutor::Docker, 50, "medium")).await;
    let (summary, measures) = judged(&target, &measurement);
    let autoscaler = verdict(&measures, MeasureId::Autoscaler);
    assert_eq!(autoscaler.passed, Some(false), "{autoscaler:#?}\n{summary:#?}");
    assert!(autoscaler.message.contains("max of 2 clients"), "{}", autoscaler.message);
    assert!(autoscaler.message.contains("nomad.auto_scaler.scaling.max"), "{}", autoscaler.message);
    assert_eq!(verdict(&measures, MeasureId::MaxWaitP95).passed, Some(false), "waits grow: {summary:#?}");
    assert_eq!(summary.clients_peak, Some(2), "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_autoscaler_is_red_quoting_its_logs() {
    let (_server, target) = start(Scenario::AutoscalerStuck).await;
    let measurement = measured(&target, &workload(CapacityExecutor::Docker, 50, "medium")).await;
    let (summary, measures) = judged(&target, &measurement);
    let autoscaler = verdict(&measures, MeasureId::Autoscaler);
    assert_eq!(autoscaler.passed, Some(false), "{autoscaler:#?}\n{summary:#?}");
    assert!(autoscaler.message.contains("no client was added"), "{}", autoscaler.message);
    assert!(autoscaler.message.contains("level=error"), "the log line is quoted: {}", autoscaler.message);
    assert_eq!(summary.first_scale_out, None, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_no_client_can_hold_is_red_before_anything_is_triggered() {
    let (server, target) = start(Scenario::ClientsTooSmall).await;
    let measurement = measured(&target, &workload(CapacityExecutor::Docker, 10, "xlarge")).await;
    let (_, measures) = judged(&target, &measurement);
    assert!(matches!(measurement.ending, Ending::NotStarted { .. }), "{:?}", measurement.ending);
    let fits = verdict(&measures, MeasureId::Fits);
    assert_eq!(fits.passed, Some(false), "{fits:#?}");
    assert!(fits.message.contains("xlarge (8 vCPU, 16384 MiB)"), "{}", fits.message);
    assert!(server.circleci_state().pipeline_summaries().is_empty(), "no pipeline was triggered");

    let medium = measured(&target, &workload(CapacityExecutor::Docker, 4, "medium")).await;
    assert_eq!(medium.ending, Ending::AllRan, "a class that fits runs: {medium:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_containers_wait_for_their_vms_and_nomad_is_not_judged() {
    let (_server, target) = start(Scenario::CapacityHealthy).await;
    let measurement = measured(&target, &workload(CapacityExecutor::Machine, 5, "medium")).await;
    let (summary, measures) = judged(&target, &measurement);
    assert_eq!(summary.started, 5, "{measurement:#?}");
    assert!(measurement.clients.is_empty(), "machine jobs do not sample Nomad");
    assert_eq!(verdict(&measures, MeasureId::Autoscaler).passed, None);
    assert_eq!(verdict(&measures, MeasureId::Fits).passed, None);
    assert_eq!(verdict(&measures, MeasureId::MaxWaitP95).passed, Some(true), "{summary:#?}");
    assert!(
        summary.wait_p50.is_some_and(|wait| wait >= Duration::from_millis(900)),
        "a VM takes a (scaled) minute to start: {summary:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_measurement_cancels_its_workflow_and_says_so() {
    let (server, target) = start(Scenario::AutoscalerAtMax).await;
    let cancel = CancellationToken::new();
    let on_progress = cancel.clone();
    let mut progress = move |progress: &suites::capacity::Progress| {
        if progress.running > 0 {
            on_progress.cancel();
        }
    };
    let measurement =
        measure(&target, &workload(CapacityExecutor::Docker, 40, "medium"), &limits(), &cancel, &mut progress)
            .await
            .unwrap();
    assert_eq!(measurement.ending, Ending::Interrupted { by: "Ctrl-C".into() });
    assert!(measurement.notes.iter().any(|note| note.contains("was cancelled")), "{:?}", measurement.notes);
    let summaries = server.circleci_state().pipeline_summaries();
    let workflow = &summaries[0].workflows[0];
    assert_eq!(workflow.status, "canceled", "{summaries:#?}");
}

#[tokio::test]
async fn more_containers_than_the_cap_are_refused_naming_the_setting() {
    let (_server, mut target) = start(Scenario::CapacityHealthy).await;
    target.capacity.max_jobs = 50;
    let error = measure(
        &target,
        &workload(CapacityExecutor::Docker, 5000, "medium"),
        &limits(),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CapacityError::TooMany { asked: 5000, max: 50 }), "{error:?}");
    assert!(error.to_string().contains("capacity.max_jobs"), "{error}");
}
