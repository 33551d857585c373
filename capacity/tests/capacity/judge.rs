//! The verdict of each measure, on fixture measurements.

use capacity::{Ending, Fit, Measure, MeasureId, Measurement, Verdict};

use crate::fixtures::{self, container, docker, secs};
use crate::report;

/// The verdict on `id` of `measurement`.
fn measure(measurement: Measurement, id: MeasureId) -> Measure {
    report(measurement).measure(id).cloned().unwrap()
}

fn assert_green(measure: &Measure) {
    assert_eq!(measure.passed, Some(true), "{measure:#?}");
}

fn assert_red(measure: &Measure) {
    assert_eq!(measure.passed, Some(false), "{measure:#?}");
}

fn assert_not_judged(measure: &Measure) {
    assert_eq!(measure.passed, None, "{measure:#?}");
    assert_eq!((measure.value, measure.threshold), (None, None), "no figures without a verdict");
}

#[test]
fn every_measure_is_judged_in_report_order() {
    let report = report(fixtures::green());
    let ids: Vec<MeasureId> = report.measures.iter().map(|m| m.id).collect();
    assert_eq!(ids, capacity::MEASURES);
}

#[test]
fn the_class_fits_the_largest_client() {
    let fits = measure(fixtures::green(), MeasureId::Fits);
    assert_green(&fits);
    assert_eq!(fits.message, "medium (2 vCPU, 4096 MiB) fits the largest client (8 vCPU, 30720 MiB)");
}

#[test]
fn a_class_larger_than_every_client_does_not_fit() {
    let mut measurement = fixtures::green();
    measurement.fit = Some(Fit { class_cpus: 2, class_memory_mib: 4096, largest_client: Some((4, 2048)) });
    let fits = measure(measurement, MeasureId::Fits);
    assert_red(&fits);
    assert!(fits.message.starts_with("no Nomad client can hold medium (2 vCPU, 4096 MiB)"), "{}", fits.message);
    assert!(fits.message.contains("4 vCPU and 2048 MiB"), "{}", fits.message);
}

#[test]
fn the_fit_is_not_judged_without_the_clients_size_or_a_ready_client() {
    let mut unread = fixtures::green();
    unread.fit = None;
    let fits = measure(unread, MeasureId::Fits);
    assert_not_judged(&fits);
    assert!(fits.message.contains("could not be read"), "{}", fits.message);
    let mut no_client = fixtures::green();
    no_client.fit = Some(Fit { class_cpus: 2, class_memory_mib: 4096, largest_client: None });
    let fits = measure(no_client, MeasureId::Fits);
    assert_not_judged(&fits);
    assert!(fits.message.contains("no Nomad client is ready"), "{}", fits.message);
}

#[test]
fn every_container_ran() {
    let all_ran = measure(fixtures::green(), MeasureId::AllRan);
    assert_green(&all_ran);
    assert_eq!((all_ran.value, all_ran.threshold), (Some(20.0), Some(20.0)));
    assert!(all_ran.message.starts_with("20 of 20 containers ran, the last "), "{}", all_ran.message);
}

#[test]
fn an_interrupted_measurement_did_not_run_every_container() {
    let all_ran = measure(fixtures::interrupted(100.0), MeasureId::AllRan);
    assert_red(&all_ran);
    assert_eq!(all_ran.threshold, Some(50.0));
    assert!(all_ran.value.unwrap() < 50.0);
    assert!(all_ran.message.contains("stopped the measurement; the workflow was cancelled"), "{}", all_ran.message);
}

#[test]
fn a_workflow_that_ended_before_every_container_started_is_red() {
    let mut measurement = fixtures::green();
    measurement.containers[3].started = None;
    measurement.containers[3].stopped = None;
    measurement.containers[3].status = "canceled".to_owned();
    let all_ran = measure(measurement, MeasureId::AllRan);
    assert_red(&all_ran);
    assert_eq!(all_ran.message, "19 of 20 containers started before the workflow ended");
}

#[test]
fn nothing_triggered_is_not_judged_and_says_why() {
    let report = report(fixtures::not_started());
    let all_ran = report.measure(MeasureId::AllRan).unwrap();
    assert_not_judged(all_ran);
    assert!(all_ran.message.starts_with("nothing was triggered: the API refused the trigger"), "{}", all_ran.message);
    assert_not_judged(report.measure(MeasureId::MaxWaitP95).unwrap());
    let autoscaler = report.measure(MeasureId::Autoscaler).unwrap();
    assert_not_judged(autoscaler);
    assert_eq!(autoscaler.message, "not judged: nothing was triggered");
    assert_eq!(report.verdict(), Verdict::NotMeasured);
}

#[test]
fn the_95th_percentile_within_the_threshold_is_green() {
    let p95 = measure(fixtures::green(), MeasureId::MaxWaitP95);
    assert_green(&p95);
    assert_eq!(p95.threshold, Some(180.0));
    assert!(p95.value.unwrap() < 60.0, "{p95:#?}");
    assert!(p95.message.ends_with("over 20 containers, within 180.0s"), "{}", p95.message);
}

/// A class no client can hold: nothing starts, and the wait is over the threshold all the same.
#[test]
fn containers_that_all_waited_past_the_threshold_are_red_though_none_started() {
    let mut measurement = docker(4, 60.0);
    measurement.ending = Ending::Interrupted { by: "the deadline".to_owned() };
    measurement.containers = (0..4).map(|index| container(index, Some(2.0), None, None, "queued")).collect();
    measurement.clients = vec![capacity::ClientSample { at: secs(300.0), ready: 2, pending_allocations: Some(4) }];
    let p95 = measure(measurement.clone(), MeasureId::MaxWaitP95);
    assert_red(&p95);
    assert_eq!(p95.value, Some(298.0));
    assert!(p95.message.starts_with("4 of 4 containers never started in the 300.0s measured"), "{}", p95.message);
    measurement.clients[0].at = secs(60.0);
    let p95 = measure(measurement, MeasureId::MaxWaitP95);
    assert_not_judged(&p95);
    assert_eq!(p95.message, "not measured: no container started");
}

#[test]
fn the_95th_percentile_over_the_threshold_is_red() {
    let p95 = measure(fixtures::scaling_to_the_max(), MeasureId::MaxWaitP95);
    assert_red(&p95);
    assert!(p95.value.unwrap() > 180.0, "{p95:#?}");
    assert!(p95.message.contains("over capacity.max_wait_p95 (180.0s)"), "{}", p95.message);
}

/// Three containers started within seconds, 47 never did: the 95th percentile of those that
/// started says nothing of the workload's.
#[test]
fn containers_that_never_started_count_in_the_95th_percentile() {
    let mut measurement = docker(50, 60.0);
    measurement.ending = Ending::Interrupted { by: "Ctrl-C".to_owned() };
    measurement.containers = (0..50)
        .map(|index| match index {
            0..3 => container(index, Some(2.0), Some(4.0), None, "running"),
            _ => container(index, Some(2.0), None, None, "queued"),
        })
        .collect();
    let waited_until = |seconds: f64| {
        let mut measurement = measurement.clone();
        measurement.clients = vec![capacity::ClientSample { at: secs(seconds), ready: 2, pending_allocations: None }];
        measure(measurement, MeasureId::MaxWaitP95)
    };
    let early = waited_until(30.0);
    assert_not_judged(&early);
    assert!(
        early.message.starts_with("not judged: 47 of 50 containers never started in the 30.0s measured"),
        "{}",
        early.message
    );
    assert!(early.message.contains("at least 28.0s"), "{}", early.message);
    let late = waited_until(600.0);
    assert_red(&late);
    assert_eq!((late.value, late.threshold), (Some(598.0), Some(180.0)));
    assert!(late.message.contains("the 95th percentile wait is at least 598.0s"), "{}", late.message);
}

/// One of a hundred never started: however long it waits, the 95th percentile is among those
/// that did.
#[test]
fn a_few_containers_that_never_started_leave_the_95th_percentile_known() {
    let mut measurement = docker(100, 60.0);
    measurement.ending = Ending::Interrupted { by: "the deadline".to_owned() };
    measurement.containers = (0..100)
        .map(|index| match index {
            0 => container(index, Some(2.0), None, None, "queued"),
            _ => container(index, Some(2.0), Some(2.0 + f64::from(index)), Some(80.0 + f64::from(index)), "success"),
        })
        .collect();
    let p95 = measure(measurement, MeasureId::MaxWaitP95);
    assert_green(&p95);
    assert_eq!(p95.value, Some(95.0), "the 95th of 100, the one that never started counted as the longest");
    assert!(
        p95.message.contains("1 of 100 never started, yet however long they wait the 95th percentile is at most 95.0s"),
        "{}",
        p95.message
    );
}

#[test]
fn the_autoscaler_at_its_max_while_containers_wait_is_red() {
    let autoscaler = measure(fixtures::scaling_to_the_max(), MeasureId::Autoscaler);
    assert_red(&autoscaler);
    assert_eq!((autoscaler.value, autoscaler.threshold), (Some(5.0), Some(5.0)));
    let message = &autoscaler.message;
    assert!(message.starts_with("the autoscaler reached its max of 5 clients"), "{message}");
    assert!(message.contains("Raise nomad.auto_scaler.scaling.max in the Helm values"), "{message}");
}

#[test]
fn an_autoscaler_that_adds_no_client_while_containers_wait_is_red_and_quoted() {
    let autoscaler = measure(fixtures::stuck(), MeasureId::Autoscaler);
    assert_red(&autoscaler);
    let message = &autoscaler.message;
    assert!(message.starts_with("no client was added while containers waited longer than the autoscaler's reaction time (240.0s), with 2 of 5 clients."), "{message}");
    assert!(message.contains("kubectl logs deploy/nomad-autoscaler"), "{message}");
    assert!(message.ends_with("; its logs say:\n  2026-03-02T09:31:02Z [ERROR] policy_eval.worker: failed to scale target: error=\"AccessDenied: autoscaling:SetDesiredCapacity\"\n  2026-03-02T09:32:02Z [ERROR] policy_eval.worker: failed to scale target: error=\"AccessDenied\""), "{message}");
}

#[test]
fn a_stuck_autoscaler_without_error_lines_says_so() {
    let mut measurement = fixtures::stuck();
    measurement.autoscaler.as_mut().unwrap().log_errors.clear();
    let autoscaler = measure(measurement, MeasureId::Autoscaler);
    assert_red(&autoscaler);
    assert!(autoscaler.message.ends_with("; its logs hold no error line"), "{}", autoscaler.message);
}

#[test]
fn an_autoscaler_that_scaled_out_is_green() {
    let autoscaler = measure(fixtures::green(), MeasureId::Autoscaler);
    assert_green(&autoscaler);
    assert_eq!((autoscaler.value, autoscaler.threshold), (Some(5.0), Some(10.0)));
    assert_eq!(
        autoscaler.message,
        "a new client first seen 70.0s after the trigger, 3 → 5 clients of max 10 (nomad.auto_scaler.scaling.max of the release)"
    );
}

/// Stopped after 30 seconds, long before the autoscaler's reaction time: that it added no
/// client yet says nothing against it.
#[test]
fn containers_still_waiting_at_an_early_stop_do_not_make_the_autoscaler_red() {
    let autoscaler = measure(fixtures::interrupted(30.0), MeasureId::Autoscaler);
    assert_green(&autoscaler);
    assert!(
        autoscaler.message.starts_with("no client needed adding, 2 → 2 clients of max 5"),
        "{}",
        autoscaler.message
    );
}

#[test]
fn the_autoscaler_does_not_apply_to_machine_jobs() {
    let report = report(fixtures::machine());
    let autoscaler = report.measure(MeasureId::Autoscaler).unwrap();
    assert_not_judged(autoscaler);
    assert_eq!(autoscaler.message, "not applicable: machine jobs do not run on Nomad clients");
    let fits = report.measure(MeasureId::Fits).unwrap();
    assert_not_judged(fits);
    assert!(fits.message.contains("machine jobs run on VMs"), "{}", fits.message);
    assert_eq!(report.verdict(), Verdict::Passed);
}

#[test]
fn the_autoscaler_is_not_judged_when_it_is_off_or_unread_or_unsampled() {
    let mut off = fixtures::green();
    off.autoscaler.as_mut().unwrap().enabled = false;
    assert_eq!(measure(off, MeasureId::Autoscaler).message, "not applicable: the release runs no Nomad autoscaler");
    let mut unread = fixtures::green();
    unread.autoscaler = None;
    assert_not_judged(&measure(unread, MeasureId::Autoscaler));
    let mut unsampled = fixtures::green();
    unsampled.clients.clear();
    assert_eq!(measure(unsampled, MeasureId::Autoscaler).message, "not judged: no sample of the Nomad clients");
}

#[test]
fn the_verdict_is_red_when_any_measure_is() {
    assert_eq!(report(fixtures::green()).verdict(), Verdict::Passed);
    let red = report(fixtures::scaling_to_the_max());
    assert_eq!(red.verdict(), Verdict::Failed);
    let red_ids: Vec<MeasureId> = red.red().map(|m| m.id).collect();
    assert_eq!(red_ids, [MeasureId::MaxWaitP95, MeasureId::Autoscaler]);
    assert_eq!(report(fixtures::stuck()).verdict(), Verdict::Failed);
}
