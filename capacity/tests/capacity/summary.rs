//! The summary on odd measurements: containers started before they were queued or without a
//! queued time, no samples, no containers, samples out of order, and (property tests) any
//! measurement at all, which every output renders without a panic.

use std::time::Duration;

use capacity::{AutoscalerView, ClientSample, Container, Ending, Fit, Measurement, Summary};
use proptest::prelude::*;

use crate::fixtures::{self, container, docker};
use crate::{json, picture, report};

#[test]
fn a_container_started_before_it_was_queued_waited_no_time() {
    let mut measurement = docker(2, 60.0);
    measurement.containers = vec![
        container(0, Some(10.0), Some(4.0), Some(70.0), "success"),
        container(1, Some(2.0), Some(5.0), Some(71.0), "success"),
    ];
    let summary = Summary::of(&measurement);
    assert_eq!(summary.wait_p50, Some(Duration::ZERO));
    assert_eq!(summary.wait_max, Some(Duration::from_secs(3)));
    assert_eq!(summary.started, 2);
    assert_eq!(summary.waiting_peak, 1);
}

#[test]
fn a_container_without_a_queued_time_still_started() {
    let mut measurement = docker(2, 60.0);
    measurement.containers = vec![
        container(0, None, Some(4.0), Some(70.0), "success"),
        container(1, Some(2.0), Some(5.0), Some(71.0), "success"),
    ];
    let summary = Summary::of(&measurement);
    assert_eq!(summary.started, 2, "both started, though one wait is unknown");
    assert_eq!(summary.all_ran_after, Some(Duration::from_secs(5)));
    assert_eq!(summary.wait_max, Some(Duration::from_secs(3)));
}

#[test]
fn without_samples_the_clients_are_unknown() {
    let summary = Summary::of(&fixtures::machine());
    assert_eq!((summary.clients_before, summary.clients_peak, summary.clients_after), (None, None, None));
    assert_eq!(summary.first_scale_out, None);
    assert_eq!(summary.waited_at_max, Duration::ZERO);
}

#[test]
fn without_containers_nothing_waited_or_ran() {
    let measurement = docker(0, 60.0);
    let summary = Summary::of(&measurement);
    assert_eq!((summary.containers, summary.started, summary.waiting_peak), (0, 0, 0));
    assert_eq!((summary.wait_p95, summary.run_p50, summary.all_ran_after), (None, None, None));
    assert_eq!(summary.observed_until, Duration::ZERO);
}

#[test]
fn the_summary_watches_until_the_last_thing_seen() {
    let summary = Summary::of(&fixtures::green());
    let measurement = fixtures::green();
    let last_sample = measurement.clients.iter().map(|s| s.at).max().unwrap();
    assert_eq!(summary.observed_until, last_sample);
    assert_eq!(summary.first_scale_out, Some(Duration::from_secs(70)));
    assert_eq!((summary.clients_before, summary.clients_peak, summary.clients_after), (Some(3), Some(5), Some(5)));
}

#[test]
fn huge_times_saturate() {
    let mut measurement = docker(1, 60.0);
    measurement.containers = vec![container(0, Some(0.0), None, None, "queued")];
    measurement.clients = vec![
        ClientSample { at: Duration::ZERO, ready: 5, pending_allocations: None },
        ClientSample { at: Duration::MAX, ready: 5, pending_allocations: None },
        ClientSample { at: Duration::MAX, ready: 5, pending_allocations: None },
    ];
    let summary = Summary::of(&measurement);
    assert_eq!(summary.waited_at_max, Duration::MAX);
    let report = report(measurement);
    assert_eq!(report.verdict(), capacity::Verdict::Failed);
    report.svg();
}

/// A time: mostly within an hour, sometimes none, sometimes enormous.
fn time() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        4 => (0u64..3_600_000).prop_map(|ms| Some(Duration::from_millis(ms))),
        1 => Just(None),
        1 => prop_oneof![Just(Duration::ZERO), Just(Duration::MAX), (0u64..u64::MAX).prop_map(Duration::from_secs)].prop_map(Some),
    ]
}

fn measurement() -> impl Strategy<Value = Measurement> {
    let containers = prop::collection::vec(
        (time(), time(), time(), prop_oneof![Just("success".to_owned()), Just("queued".to_owned()), ".{0,6}"]),
        0..40,
    );
    let samples = prop::collection::vec((time(), 0u32..40, prop::option::of(0u32..100)), 0..30).prop_map(|samples| {
        samples
            .into_iter()
            .map(|(at, ready, pending_allocations)| ClientSample {
                at: at.unwrap_or_default(),
                ready,
                pending_allocations,
            })
            .collect::<Vec<_>>()
    });
    let autoscaler =
        prop::option::of((any::<bool>(), prop::option::of(0u32..40), prop::collection::vec(".{0,30}", 0..3))).prop_map(
            |view| {
                view.map(|(enabled, max, log_errors)| AutoscalerView {
                    enabled,
                    max,
                    max_source: "the default".to_owned(),
                    reaction: Duration::from_secs(240),
                    log_errors,
                })
            },
        );
    let fit =
        prop::option::of((0u32..64, 0u64..1 << 20, prop::option::of((0u32..64, 0u64..1 << 20)))).prop_map(|fit| {
            fit.map(|(class_cpus, class_memory_mib, largest_client)| Fit {
                class_cpus,
                class_memory_mib,
                largest_client,
            })
        });
    let ending = prop_oneof![
        Just(Ending::AllRan),
        ".{0,20}".prop_map(|by| Ending::Interrupted { by }),
        ".{0,20}".prop_map(|reason| Ending::NotStarted { reason }),
    ];
    (
        containers,
        samples,
        autoscaler,
        fit,
        ending,
        prop_oneof![Just(0u32), 0u32..60, Just(u32::MAX)],
        ".{0,12}",
        prop::bool::ANY,
        any::<u64>(),
    )
        .prop_map(
            |(containers, clients, autoscaler, fit, ending, total, target, docker_executor, triggered_unix_ms)| {
                let mut measurement = docker(total, 60.0);
                measurement.target = target;
                if !docker_executor {
                    measurement.workload.executor = "machine".to_owned();
                }
                measurement.triggered_unix_ms = triggered_unix_ms;
                Measurement {
                    containers: containers
                        .into_iter()
                        .zip(0..)
                        .map(|((queued, started, stopped, status), index)| Container {
                            index,
                            queued,
                            started,
                            stopped,
                            status,
                        })
                        .collect(),
                    clients,
                    autoscaler,
                    fit,
                    ending,
                    ..measurement
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever was observed, the summary is consistent and every output renders: the JSON
    /// conforms to its schema, the terminal carries no escape sequence of its own, the picture
    /// is well-formed with every coordinate on the canvas.
    #[test]
    fn any_measurement_is_summarised_judged_and_rendered(measurement in measurement()) {
        let summary = Summary::of(&measurement);
        prop_assert!(summary.wait_p50 <= summary.wait_p95 && summary.wait_p95 <= summary.wait_max);
        prop_assert!(summary.succeeded as usize <= measurement.containers.len());
        prop_assert!(summary.started as usize <= measurement.containers.len());
        prop_assert!(summary.clients_before <= summary.clients_peak && summary.clients_after <= summary.clients_peak);
        let report = report(measurement);
        prop_assert_eq!(report.measures.len(), capacity::MEASURES.len());
        let terminal = report.terminal(capacity::TerminalOptions { color: false, width: Some(80) });
        prop_assert!(!terminal.contains('\u{1b}'), "{}", terminal);
        let document: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        let errors = json::errors(&document);
        prop_assert!(errors.is_empty(), "{:#?}", errors);
        report.junit();
        picture::drawable(&report.svg());
    }
}
