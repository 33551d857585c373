//! Runner behaviour on tokio's paused clock: outcomes, timeouts, slow notices, retries and
//! flaky passes, preflight failures, panics, cancellation and the global deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use harness::*;

#[derive(Default)]
struct Ctx {
    flaky_calls: AtomicU32,
    cluster_reachable: bool,
    preflight_hangs: bool,
}

fn options() -> RunOptions {
    RunOptions {
        info: RunInfo {
            target: "test".into(),
            host: "https://circleci.example.com".into(),
            profile: "laptop".into(),
            started_at: SystemTime::UNIX_EPOCH,
        },
        selection: Selection::default(),
        timeouts: Timeouts {
            cluster: Duration::from_secs(10),
            api: Duration::from_secs(10),
            pipeline: Duration::from_secs(100),
            scale: 1.0,
        },
        deadline: None,
        retries: 0,
        retry_delay: Duration::from_secs(1),
        concurrency: 4,
    }
}

fn spec(id: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Cluster, "test check").tagged(Tag::NeedsCluster)
}

fn plan() -> Plan<Ctx> {
    let checks = vec![
        Check::new(spec("demo::passes"), |_| async { Verdict::Pass("fine".into()) }),
        Check::new(spec("demo::fails"), |_| async { Verdict::Fail(Diagnosis::new("broken")) }),
        Check::new(spec("demo::slow"), |_| async {
            tokio::time::sleep(Duration::from_secs(7)).await;
            Verdict::Pass("slowly".into())
        }),
        Check::new(spec("demo::hangs"), |_| std::future::pending()),
        Check::new(spec("demo::flaky"), |ctx: Arc<Ctx>| async move {
            if ctx.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Verdict::Fail(Diagnosis::new("first try fails"))
            } else {
                Verdict::Pass("second try".into())
            }
        }),
        Check::new(spec("demo::panics"), |_| async { panic!("bad input") }),
        Check::new(spec("demo::gcp_only"), |_| async { Verdict::Pass("ran".into()) })
            .applies_when(|_| Applicability::NotApplicable("needs GCP".into())),
    ];
    let preflights =
        vec![Preflight::new("kube-api", Tag::NeedsCluster, CheckKind::Cluster, |ctx: Arc<Ctx>| async move {
            if ctx.preflight_hangs {
                std::future::pending::<()>().await;
            }
            if ctx.cluster_reachable {
                Ok("v1.32".to_string())
            } else {
                Err("kube API unreachable at https://k8s:6443".to_string())
            }
        })];
    Plan { checks, preflights }
}

async fn run(ctx: Ctx, options: RunOptions, cancel: CancellationToken) -> (RunSummary, Vec<Event>) {
    let (sink, mut rx) = EventSink::channel();
    let summary = plan().run(Arc::new(ctx), &options, &sink, cancel).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    (summary, events)
}

fn outcome<'a>(summary: &'a RunSummary, id: &str) -> &'a CheckResult {
    summary.results.iter().find(|r| r.spec.id == id).unwrap_or_else(|| panic!("{id} not in results"))
}

#[tokio::test(start_paused = true)]
async fn every_outcome_is_reported_in_plan_order() {
    let ctx = Ctx { cluster_reachable: true, ..Default::default() };
    let mut opts = options();
    opts.retries = 1;
    let (summary, events) = run(ctx, opts, CancellationToken::new()).await;

    assert_eq!(summary.status, RunStatus::Failed);
    let ids: Vec<_> = summary.results.iter().map(|r| r.spec.id.as_str()).collect();
    assert_eq!(
        ids,
        ["demo::passes", "demo::fails", "demo::slow", "demo::hangs", "demo::flaky", "demo::panics", "demo::gcp_only"]
    );
    assert_eq!(outcome(&summary, "demo::passes").outcome, Outcome::Passed { note: "fine".into() });
    assert_eq!(outcome(&summary, "demo::fails").attempts, 2, "one retry");
    assert!(matches!(&outcome(&summary, "demo::slow").outcome, Outcome::Passed { .. }));
    assert_eq!(outcome(&summary, "demo::slow").duration, Duration::from_secs(7));
    let Outcome::Failed { diagnosis } = &outcome(&summary, "demo::hangs").outcome else { panic!("hangs must fail") };
    assert_eq!(diagnosis.summary, "no answer within the cluster timeout of 10s");
    assert!(diagnosis.remediation.contains("timeouts.cluster"));
    let Outcome::Flaky { failures, .. } = &outcome(&summary, "demo::flaky").outcome else { panic!("flaky") };
    assert_eq!(failures[0].summary, "first try fails");
    let Outcome::Failed { diagnosis } = &outcome(&summary, "demo::panics").outcome else { panic!("panic must fail") };
    assert!(diagnosis.summary.contains("crashed"), "{}", diagnosis.summary);
    assert_eq!(
        outcome(&summary, "demo::gcp_only").outcome,
        Outcome::Skipped { reason: SkipReason::NotApplicable("needs GCP".into()) }
    );

    assert!(matches!(events.first(), Some(Event::RunStarted { checks, .. }) if checks.len() == 7));
    assert!(matches!(events.get(1), Some(Event::PreflightPassed { name, .. }) if name == "kube-api"));
    assert!(events.iter().any(|e| matches!(e, Event::CheckSlow { id, elapsed, .. } if id == "demo::slow" && *elapsed == Duration::from_secs(5))));
    assert!(
        events.iter().any(|e| matches!(e, Event::CheckRetrying { id, next_attempt: 2, .. } if id == "demo::flaky"))
    );
    assert!(matches!(events.last(), Some(Event::RunFinished(s)) if *s == summary));
    let finished = events.iter().filter(|e| matches!(e, Event::CheckFinished(_))).count();
    assert_eq!(finished, 7);
}

#[tokio::test(start_paused = true)]
async fn a_failed_preflight_skips_everything_with_its_reason() {
    let (summary, events) = run(Ctx::default(), options(), CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::PreflightFailed);
    assert_eq!(summary.stopped_because.as_deref(), Some("kube API unreachable at https://k8s:6443"));
    assert_eq!(summary.results.len(), 7);
    for result in &summary.results {
        assert!(
            matches!(&result.outcome, Outcome::Skipped { reason: SkipReason::PreflightFailed { preflight, message } } if preflight == "kube-api" && message.contains("unreachable"))
        );
    }
    assert!(events.iter().any(|e| matches!(e, Event::PreflightFailed { .. })));
}

#[tokio::test(start_paused = true)]
async fn preflights_run_only_for_checks_that_need_them() {
    let mut opts = options();
    opts.selection.filters = vec!["gcp_only".into()];
    let (summary, events) = run(Ctx::default(), opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::Passed, "a not-applicable check needs no preflight");
    assert!(!events.iter().any(|e| matches!(e, Event::PreflightFailed { .. } | Event::PreflightPassed { .. })));
}

#[tokio::test(start_paused = true)]
async fn an_empty_selection_says_so() {
    let mut opts = options();
    opts.selection.filters = vec!["nothing-matches".into()];
    let (summary, _) = run(Ctx::default(), opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::NothingSelected);
    assert!(summary.results.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_marks_unfinished_checks_interrupted() {
    let mut opts = options();
    opts.deadline = Some(Duration::from_secs(3));
    opts.selection.filters = vec!["passes".into(), "hangs".into()];
    let ctx = Ctx { cluster_reachable: true, ..Default::default() };
    let (summary, _) = run(ctx, opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.stopped_because.as_deref(), Some("the global deadline of 3s was reached"));
    assert!(matches!(outcome(&summary, "demo::passes").outcome, Outcome::Passed { .. }));
    assert!(matches!(
        &outcome(&summary, "demo::hangs").outcome,
        Outcome::Skipped { reason: SkipReason::Interrupted(_) }
    ));
}

#[tokio::test(start_paused = true)]
async fn cancellation_interrupts_the_run() {
    let cancel = CancellationToken::new();
    let mut opts = options();
    opts.selection.filters = vec!["hangs".into()];
    let ctx = Ctx { cluster_reachable: true, ..Default::default() };
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let (summary, _) = run(ctx, opts, cancel).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.results[0].duration, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn cancellation_interrupts_a_hanging_preflight() {
    let cancel = CancellationToken::new();
    let mut opts = options();
    opts.timeouts.cluster = Duration::from_secs(3600);
    let ctx = Ctx { cluster_reachable: true, preflight_hangs: true, ..Default::default() };
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        trigger.cancel();
    });
    let (summary, _) = run(ctx, opts, cancel).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.duration, Duration::from_secs(2));
    assert!(
        summary.results.iter().all(|r| matches!(r.outcome, Outcome::Skipped { reason: SkipReason::Interrupted(_) }))
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_scale_stretches_timeouts() {
    let mut opts = options();
    opts.timeouts.scale = 0.5;
    opts.selection.filters = vec!["slow".into()];
    let ctx = Ctx { cluster_reachable: true, ..Default::default() };
    let (summary, _) = run(ctx, opts, CancellationToken::new()).await;
    let Outcome::Failed { diagnosis } = &summary.results[0].outcome else { panic!("7s > 5s must time out") };
    assert_eq!(diagnosis.summary, "no answer within the cluster timeout of 5s");
}

#[test]
fn durations_read_like_a_person_wrote_them() {
    assert_eq!(humanize(Duration::from_millis(250)), "250ms");
    assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
    assert_eq!(humanize(Duration::from_secs(30)), "30s");
    assert_eq!(humanize(Duration::from_secs(120)), "2m");
    assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
}
