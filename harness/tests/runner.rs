//! Runner behaviour on tokio's paused clock: outcomes, timeouts, slow notices, retries and
//! flaky passes, preflight failures, panics, cancellation and the global deadline; what a
//! check body is handed (its scope) and what it measured besides its verdict (observations,
//! kept from its last attempt whatever the verdict); and the suite lifecycle a run drives (prepare the
//! resources of the checks that will run, run them, gather evidence of the red ones when asked,
//! finish).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use harness::*;
use tokio::time::Instant;

/// What a test check declares it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declaration {
    /// The cluster, for the check named here (so that a test can tell whose declaration `prepare` got).
    Cluster(&'static str),
    /// A GCP installation, which the installation under test is not.
    Gcp,
}

/// What a run of the test suite did, shared between the suite, its resources and the test.
#[derive(Default)]
struct Journal {
    /// In order: `prepare`, `<check id> ran` when a body completes, `collect`, `finish`.
    lines: Mutex<Vec<String>>,
    /// The declarations and timeouts each `prepare` was handed.
    prepared: Mutex<Vec<(Vec<Declaration>, Timeouts)>>,
    /// Every attempt of `demo::scope`: its scope, when its body started, and whether the scope
    /// was already cancelled then.
    scopes: Mutex<Vec<(Scope, Instant, bool)>>,
}

impl Journal {
    fn log(&self, line: impl Into<String>) {
        self.lines.lock().unwrap().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn prepared(&self) -> Vec<(Vec<Declaration>, Timeouts)> {
        self.prepared.lock().unwrap().clone()
    }

    fn scopes(&self) -> Vec<(Scope, Instant, bool)> {
        self.scopes.lock().unwrap().clone()
    }
}

/// The suite under test: the flags of the installation it pretends to check.
#[derive(Default)]
struct TestSuite {
    cluster_reachable: bool,
    preflight_hangs: bool,
    prepare_fails: bool,
    /// Adds `demo::scope`, which records the scope of each of its attempts.
    probe_scope: bool,
    /// Adds the `demo::measures_*` checks, which record observations before their verdicts.
    measure: bool,
    journal: Arc<Journal>,
}

/// What the checks of one run share; prepared afresh for every run.
struct Resources {
    flaky_calls: AtomicU32,
    /// Attempts of `demo::measures_each_attempt` so far.
    measure_calls: AtomicU32,
    /// How many check bodies ran to a verdict.
    bodies_ran: AtomicU32,
    journal: Arc<Journal>,
}

impl Resources {
    fn ran(&self, id: &str) {
        self.bodies_ran.fetch_add(1, Ordering::SeqCst);
        self.journal.log(format!("{id} ran"));
    }
}

#[derive(Debug)]
struct PrepareError(String);

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrepareError {}

fn spec(id: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Cluster, "test check").tagged(Tag::NeedsCluster)
}

impl Suite for TestSuite {
    type Declaration = Declaration;
    type Resources = Resources;
    type Error = PrepareError;

    fn checks(&self) -> Vec<Check<Self>> {
        let mut checks = vec![
            Check::new(spec("demo::passes"), Declaration::Cluster("passes"), |r: Arc<Resources>, _| async move {
                r.ran("demo::passes");
                Verdict::Pass("fine".into())
            }),
            Check::new(spec("demo::fails"), Declaration::Cluster("fails"), |r: Arc<Resources>, _| async move {
                r.ran("demo::fails");
                Verdict::Fail(Diagnosis::new("broken"))
            }),
            Check::new(spec("demo::slow"), Declaration::Cluster("slow"), |r: Arc<Resources>, _| async move {
                tokio::time::sleep(Duration::from_secs(7)).await;
                r.ran("demo::slow");
                Verdict::Pass("slowly".into())
            }),
            Check::new(spec("demo::hangs"), Declaration::Cluster("hangs"), |_, _| std::future::pending()),
            Check::new(spec("demo::flaky"), Declaration::Cluster("flaky"), |r: Arc<Resources>, _| async move {
                r.ran("demo::flaky");
                if r.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Verdict::Fail(Diagnosis::new("first try fails"))
                } else {
                    Verdict::Pass("second try".into())
                }
            }),
            Check::new(spec("demo::panics"), Declaration::Cluster("panics"), |_, _| async { panic!("bad input") }),
            Check::new(spec("demo::gcp_only"), Declaration::Gcp, |r: Arc<Resources>, _| async move {
                r.ran("demo::gcp_only");
                Verdict::Pass("ran".into())
            }),
        ];
        if self.probe_scope {
            let spec = CheckSpec::new("demo::scope", CheckKind::Pipeline, "sees its scope").tagged(Tag::NeedsCluster);
            checks.push(Check::new(
                spec,
                Declaration::Cluster("scope"),
                |r: Arc<Resources>, scope: Scope| async move {
                    let attempt = {
                        let mut scopes = r.journal.scopes.lock().unwrap();
                        let cancelled = scope.cancel.is_cancelled();
                        scopes.push((scope, Instant::now(), cancelled));
                        scopes.len()
                    };
                    if attempt == 1 {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        Verdict::Fail(Diagnosis::new("the first attempt fails"))
                    } else {
                        std::future::pending().await
                    }
                },
            ));
        }
        if self.measure {
            checks.extend(measuring_checks());
        }
        checks
    }

    fn preflights(&self) -> Vec<Preflight<Self>> {
        let (reachable, hangs) = (self.cluster_reachable, self.preflight_hangs);
        vec![Preflight::new("kube-api", Tag::NeedsCluster, CheckKind::Cluster, move |_: Arc<Resources>| async move {
            if hangs {
                std::future::pending::<()>().await;
            }
            if reachable {
                Ok("v1.32".to_string())
            } else {
                Err("kube API unreachable at https://k8s:6443".to_string())
            }
        })]
    }

    fn applicability(&self, declaration: &Declaration) -> Applicability {
        match declaration {
            Declaration::Cluster(_) => Applicability::Applies,
            Declaration::Gcp => Applicability::NotApplicable("needs GCP".into()),
        }
    }

    fn prepare(&self, selected: &[&Declaration], timeouts: &Timeouts) -> Result<Resources, PrepareError> {
        self.journal.log("prepare");
        self.journal
            .prepared
            .lock()
            .unwrap()
            .push((selected.iter().map(|declaration| **declaration).collect(), *timeouts));
        if self.prepare_fails {
            return Err(PrepareError("no kube context `test` in ~/.kube/config".into()));
        }
        Ok(Resources {
            flaky_calls: AtomicU32::new(0),
            measure_calls: AtomicU32::new(0),
            bodies_ran: AtomicU32::new(0),
            journal: Arc::clone(&self.journal),
        })
    }

    async fn collect(&self, resources: &Resources, red: &[(&CheckResult, &Declaration)]) -> Evidence {
        tokio::task::yield_now().await;
        self.journal.log("collect");
        let ids: Vec<String> = red.iter().map(|(result, _)| result.spec.id.clone()).collect();
        let ran = resources.bodies_ran.load(Ordering::SeqCst).to_string();
        Evidence {
            files: vec![EvidenceFile::new("ran.txt", "check bodies that ran", ids, ran.into_bytes())],
            notes: red.iter().map(|(result, declared)| format!("{} declared {declared:?}", result.spec.id)).collect(),
        }
    }

    async fn finish(&self, resources: &Resources) -> Vec<String> {
        tokio::task::yield_now().await;
        self.journal.log("finish");
        vec![format!("{} check bodies ran", resources.bodies_ran.load(Ordering::SeqCst))]
    }
}

/// An observation of the test checks: `name` of `subject` is `value`.
fn observed(name: &str, subject: &str, value: i64) -> Observation {
    Observation::new(name, subject, value)
}

/// Checks that record observations, then fail, pass on a retry, hang or crash.
fn measuring_checks() -> Vec<Check<TestSuite>> {
    vec![
        Check::new(spec("demo::measures_and_fails"), Declaration::Cluster("measures"), |_, scope: Scope| async move {
            scope.observations.record(observed("expiry_timestamp_seconds", "failing", 42));
            Verdict::Fail(Diagnosis::new("expires too soon"))
        }),
        Check::new(
            spec("demo::measures_each_attempt"),
            Declaration::Cluster("measures"),
            |r: Arc<Resources>, scope: Scope| async move {
                let attempt = r.measure_calls.fetch_add(1, Ordering::SeqCst) + 1;
                scope.observations.record(observed("attempt", "retried", i64::from(attempt)));
                if attempt == 1 {
                    scope.observations.record(observed("only_the_first_attempt", "retried", 1));
                    Verdict::Fail(Diagnosis::new("first try fails"))
                } else {
                    Verdict::Pass("second try".into())
                }
            },
        ),
        Check::new(spec("demo::measures_then_hangs"), Declaration::Cluster("measures"), |_, scope: Scope| async move {
            scope.observations.record(observed("expiry_timestamp_seconds", "hanging", 7));
            std::future::pending().await
        }),
        Check::new(
            spec("demo::measures_then_panics"),
            Declaration::Cluster("measures"),
            |_, scope: Scope| async move {
                scope.observations.record(observed("expiry_timestamp_seconds", "crashing", 9));
                panic!("bad input after measuring")
            },
        ),
    ]
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
        },
        deadline: None,
        retries: 0,
        retry_delay: Duration::from_secs(1),
        concurrency: 4,
        collect: false,
    }
}

/// Executes `run` once, with its own event channel: what it returned and every event it sent.
async fn execute(run: &Run<TestSuite>, cancel: CancellationToken) -> (Result<RunReport, PrepareError>, Vec<Event>) {
    let (sink, mut rx) = EventSink::channel();
    let report = run.execute(&sink, cancel).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    (report, events)
}

/// Runs `suite` once with `options`, expecting its resources to be prepared.
async fn run(suite: TestSuite, options: RunOptions, cancel: CancellationToken) -> (RunSummary, Vec<Event>) {
    let (report, events) = execute(&Run::new(suite, options), cancel).await;
    (report.expect("the resources are prepared").summary, events)
}

fn outcome<'a>(summary: &'a RunSummary, id: &str) -> &'a CheckResult {
    summary.results.iter().find(|r| r.spec.id == id).unwrap_or_else(|| panic!("{id} not in results"))
}

/// Cancels `cancel` after `after` (on the paused clock).
fn cancel_after(cancel: &CancellationToken, after: Duration) {
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        trigger.cancel();
    });
}

#[tokio::test(start_paused = true)]
async fn every_outcome_is_reported_in_plan_order() {
    let suite = TestSuite { cluster_reachable: true, ..Default::default() };
    let mut opts = options();
    opts.retries = 1;
    let (summary, events) = run(suite, opts, CancellationToken::new()).await;

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
    let (summary, events) = run(TestSuite::default(), options(), CancellationToken::new()).await;
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
    let (summary, events) = run(TestSuite::default(), opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::Passed, "a not-applicable check needs no preflight");
    assert!(!events.iter().any(|e| matches!(e, Event::PreflightFailed { .. } | Event::PreflightPassed { .. })));
}

#[test]
fn a_name_of_only_that_is_no_check_is_told() {
    let mut opts = options();
    opts.selection.only = vec!["demo::passes".into(), "demo::pases".into()];
    let run = Run::new(TestSuite::default(), opts);
    assert_eq!(run.unknown_checks(), ["demo::pases"]);
    let ids: Vec<&str> = run.select().iter().map(|(check, _)| check.spec.id.as_str()).collect();
    assert_eq!(ids, ["demo::passes"]);
}

#[tokio::test(start_paused = true)]
async fn an_empty_selection_says_so() {
    let mut opts = options();
    opts.selection.filters = vec!["nothing-matches".into()];
    let (summary, _) = run(TestSuite::default(), opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::NothingSelected);
    assert!(summary.results.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_marks_unfinished_checks_interrupted() {
    let mut opts = options();
    opts.deadline = Some(Duration::from_secs(3));
    opts.selection.filters = vec!["passes".into(), "hangs".into()];
    let suite = TestSuite { cluster_reachable: true, ..Default::default() };
    let (summary, _) = run(suite, opts, CancellationToken::new()).await;
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
    let suite = TestSuite { cluster_reachable: true, ..Default::default() };
    cancel_after(&cancel, Duration::from_secs(1));
    let (summary, _) = run(suite, opts, cancel).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.results[0].duration, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn cancellation_interrupts_a_hanging_preflight() {
    let cancel = CancellationToken::new();
    let mut opts = options();
    opts.timeouts.cluster = Duration::from_secs(3600);
    let suite = TestSuite { cluster_reachable: true, preflight_hangs: true, ..Default::default() };
    cancel_after(&cancel, Duration::from_secs(2));
    let (summary, _) = run(suite, opts, cancel).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.duration, Duration::from_secs(2));
    assert!(
        summary.results.iter().all(|r| matches!(r.outcome, Outcome::Skipped { reason: SkipReason::Interrupted(_) }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_check_body_receives_its_scope() {
    let journal = Arc::new(Journal::default());
    let suite =
        TestSuite { cluster_reachable: true, probe_scope: true, journal: Arc::clone(&journal), ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["demo::scope".into()];
    opts.retries = 1;
    let cancel = CancellationToken::new();
    // The first attempt fails after 2s, the retry starts 1s later and hangs until the cancel.
    cancel_after(&cancel, Duration::from_secs(5));
    let (summary, _) = run(suite, opts.clone(), cancel).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    assert_eq!(summary.stopped_because.as_deref(), Some("the run was cancelled (signal)"));

    let scopes = journal.scopes();
    assert_eq!(scopes.len(), 2, "one scope per attempt");
    for (attempt, (scope, started, cancelled_then)) in scopes.iter().enumerate() {
        assert_eq!(scope.timeout, opts.timeouts.pipeline, "attempt {attempt}: the timeout of its kind");
        assert_eq!(scope.deadline, *started + opts.timeouts.pipeline, "attempt {attempt}: its start + its timeout");
        assert!(!cancelled_then, "attempt {attempt}: not cancelled when it started");
        assert!(scope.cancel.is_cancelled(), "attempt {attempt}: cancelled with the run");
    }
    assert_eq!(scopes[1].1 - scopes[0].1, Duration::from_secs(3), "failed after 2s, retried after 1s more");

    // The interrupted check keeps its attempts and the earlier failure.
    let interrupted = outcome(&summary, "demo::scope");
    assert_eq!((interrupted.attempts, interrupted.duration), (2, Duration::from_secs(5)));
    let Outcome::Skipped { reason: SkipReason::Interrupted(said) } = &interrupted.outcome else {
        panic!("{:?}", interrupted.outcome)
    };
    assert_eq!(said, "the run was cancelled (signal), during attempt 2; attempt 1 failed: the first attempt fails");
}

#[tokio::test(start_paused = true)]
async fn observations_of_the_last_attempt_are_kept_whatever_the_verdict() {
    let suite = TestSuite { cluster_reachable: true, measure: true, ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["measures".into(), "demo::passes".into(), "gcp_only".into()];
    opts.retries = 1;
    let (summary, events) = run(suite, opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::Failed);

    // A red check keeps what it measured; its retry's observations replace the first
    // attempt's (one observation, not two).
    let failing = outcome(&summary, "demo::measures_and_fails");
    assert!(matches!(&failing.outcome, Outcome::Failed { diagnosis } if diagnosis.summary == "expires too soon"));
    assert_eq!(failing.attempts, 2);
    assert_eq!(failing.observations, [observed("expiry_timestamp_seconds", "failing", 42)]);

    // A pass on a retry carries the retry's observations only.
    let retried = outcome(&summary, "demo::measures_each_attempt");
    assert!(matches!(&retried.outcome, Outcome::Flaky { .. }), "{retried:?}");
    assert_eq!(retried.observations, [observed("attempt", "retried", 2)]);

    // A timed-out or crashed attempt keeps what it recorded before.
    let hanging = outcome(&summary, "demo::measures_then_hangs");
    let Outcome::Failed { diagnosis } = &hanging.outcome else { panic!("{hanging:?}") };
    assert!(diagnosis.summary.starts_with("no answer within"), "{diagnosis:?}");
    assert_eq!(hanging.observations, [observed("expiry_timestamp_seconds", "hanging", 7)]);
    let crashing = outcome(&summary, "demo::measures_then_panics");
    assert!(matches!(&crashing.outcome, Outcome::Failed { diagnosis } if diagnosis.summary.contains("crashed")));
    assert_eq!(crashing.observations, [observed("expiry_timestamp_seconds", "crashing", 9)]);

    // A check that records nothing has none; a check that never ran has none.
    assert!(outcome(&summary, "demo::passes").observations.is_empty());
    let skipped = outcome(&summary, "demo::gcp_only");
    assert!(matches!(skipped.outcome, Outcome::Skipped { .. }) && skipped.attempts == 0);
    assert!(skipped.observations.is_empty());

    // The events carry the same results.
    for result in &summary.results {
        assert!(events.iter().any(|e| matches!(e, Event::CheckFinished(r) if r == result)), "{result:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn checks_that_never_ran_have_no_observations() {
    let suite = TestSuite { cluster_reachable: false, measure: true, ..Default::default() };
    let (summary, _) = run(suite, options(), CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::PreflightFailed);
    assert_eq!(summary.results.len(), 11);
    assert!(summary.results.iter().all(|r| r.observations.is_empty()), "{:?}", summary.results);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_check_keeps_what_its_attempt_recorded() {
    let suite = TestSuite { cluster_reachable: true, measure: true, ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["measures_then_hangs".into(), "demo::hangs".into()];
    opts.deadline = Some(Duration::from_secs(3));
    let (summary, _) = run(suite, opts, CancellationToken::new()).await;
    assert_eq!(summary.status, RunStatus::Interrupted);
    let interrupted = outcome(&summary, "demo::measures_then_hangs");
    assert!(matches!(&interrupted.outcome, Outcome::Skipped { reason: SkipReason::Interrupted(_) }));
    assert_eq!(interrupted.attempts, 1);
    assert_eq!(interrupted.observations, [observed("expiry_timestamp_seconds", "hanging", 7)]);
    assert!(outcome(&summary, "demo::hangs").observations.is_empty(), "it recorded nothing");
}

#[tokio::test(start_paused = true)]
async fn prepare_gets_the_declarations_of_the_checks_that_will_run() {
    // `fails` is skipped, everything but `passes` and `gcp_only` is filtered out, and
    // `gcp_only` does not apply: only `passes` will run.
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["passes".into(), "fails".into(), "gcp_only".into()];
    opts.selection.skips = vec!["fails".into()];
    let (summary, _) = run(suite, opts.clone(), CancellationToken::new()).await;
    assert_eq!(summary.results.len(), 2, "passes, and gcp_only reported as skipped");
    assert_eq!(journal.prepared(), [(vec![Declaration::Cluster("passes")], opts.timeouts)]);

    // Asked for, a check that does not apply runs, so what it declares is prepared too.
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    opts.selection.ignored = IgnoredMode::Include;
    let (summary, _) = run(suite, opts.clone(), CancellationToken::new()).await;
    assert_eq!(outcome(&summary, "demo::gcp_only").outcome, Outcome::Passed { note: "ran".into() });
    assert_eq!(journal.prepared(), [(vec![Declaration::Cluster("passes"), Declaration::Gcp], opts.timeouts)]);

    // Nothing runs: nothing is needed.
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { journal: Arc::clone(&journal), ..Default::default() };
    opts.selection = Selection { filters: vec!["gcp_only".into()], ..Default::default() };
    run(suite, opts.clone(), CancellationToken::new()).await;
    assert_eq!(journal.prepared(), [(vec![], opts.timeouts)]);
}

#[tokio::test(start_paused = true)]
async fn finish_runs_after_the_checks_and_its_notes_are_reported() {
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["passes".into(), "slow".into()];
    let (report, events) = execute(&Run::new(suite, opts.clone()), CancellationToken::new()).await;
    let report = report.expect("the resources are prepared");
    assert_eq!(report.summary.status, RunStatus::Passed);
    assert_eq!(report.finish_notes, ["2 check bodies ran"]);
    assert_eq!(journal.lines(), ["prepare", "demo::passes ran", "demo::slow ran", "finish"]);
    assert!(matches!(events.last(), Some(Event::RunFinished(s)) if *s == report.summary));

    // An interrupted run is finished too: that is when there is most to clean up.
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    opts.selection.filters = vec!["passes".into(), "hangs".into()];
    let cancel = CancellationToken::new();
    cancel_after(&cancel, Duration::from_secs(1));
    let (report, _) = execute(&Run::new(suite, opts), cancel).await;
    let report = report.expect("the resources are prepared");
    assert_eq!(report.summary.status, RunStatus::Interrupted);
    assert_eq!(report.finish_notes, ["1 check bodies ran"]);
    assert_eq!(journal.lines(), ["prepare", "demo::passes ran", "finish"]);
}

#[tokio::test(start_paused = true)]
async fn evidence_is_gathered_after_the_checks_and_before_finish_when_asked_and_red() {
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    let mut opts = options();
    opts.collect = true;
    opts.selection.filters = vec!["passes".into(), "fails".into()];
    let (report, _) = execute(&Run::new(suite, opts.clone()), CancellationToken::new()).await;
    let report = report.expect("the resources are prepared");
    let evidence = report.evidence.expect("a red run asked to collect has evidence");
    assert_eq!(evidence.files.len(), 1);
    assert_eq!(evidence.files[0].supports, ["demo::fails"], "the red checks only");
    assert_eq!(evidence.files[0].content, b"2", "gathered once both checks ran");
    assert_eq!(evidence.notes, [r#"demo::fails declared Cluster("fails")"#], "each red check with its declaration");
    let lines = journal.lines();
    assert_eq!(lines.first().map(String::as_str), Some("prepare"));
    assert_eq!(lines[lines.len() - 2..], ["collect", "finish"], "{lines:?}");

    // A green run gathers nothing, and neither does a run not asked to.
    for (collect, filters) in [(true, vec!["passes".to_string()]), (false, vec!["passes".into(), "fails".into()])] {
        let journal = Arc::new(Journal::default());
        let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
        let opts = RunOptions { collect, selection: Selection { filters, ..Default::default() }, ..options() };
        let (report, _) = execute(&Run::new(suite, opts), CancellationToken::new()).await;
        assert_eq!(report.expect("prepared").evidence, None);
        assert!(!journal.lines().contains(&"collect".to_string()), "{:?}", journal.lines());
    }
}

#[tokio::test(start_paused = true)]
async fn a_prepare_error_runs_nothing_and_sends_no_event() {
    let journal = Arc::new(Journal::default());
    let suite =
        TestSuite { cluster_reachable: true, prepare_fails: true, journal: Arc::clone(&journal), ..Default::default() };
    let (report, events) = execute(&Run::new(suite, options()), CancellationToken::new()).await;
    let error = report.expect_err("prepare fails");
    assert_eq!(error.to_string(), "no kube context `test` in ~/.kube/config");
    assert!(events.is_empty(), "no event: {events:?}");
    assert_eq!(journal.lines(), ["prepare"], "no check body ran and nothing was finished");
}

#[tokio::test(start_paused = true)]
async fn a_run_executes_again_with_fresh_resources() {
    let journal = Arc::new(Journal::default());
    let suite = TestSuite { cluster_reachable: true, journal: Arc::clone(&journal), ..Default::default() };
    let mut opts = options();
    opts.selection.filters = vec!["flaky".into()];
    opts.retries = 1;
    let run = Run::new(suite, opts);

    let mut reports = Vec::new();
    for _ in 0..2 {
        let (report, events) = execute(&run, CancellationToken::new()).await;
        let report = report.expect("the resources are prepared");
        assert!(matches!(events.first(), Some(Event::RunStarted { checks, .. }) if checks.len() == 1));
        assert!(matches!(events.last(), Some(Event::RunFinished(s)) if *s == report.summary));
        reports.push(report);
    }
    for report in &reports {
        // A flaky counter left over from the first run would make the second pass at once.
        assert_eq!(report.summary.status, RunStatus::Passed);
        let result = outcome(&report.summary, "demo::flaky");
        assert!(matches!(&result.outcome, Outcome::Flaky { failures, .. } if failures.len() == 1), "{result:?}");
        assert_eq!(result.attempts, 2);
        assert_eq!(report.finish_notes, ["2 check bodies ran"]);
    }
    assert_eq!(reports[0].summary, reports[1].summary);
    assert_eq!(journal.prepared().len(), 2, "prepared once per execution");
    let prepares = journal.lines().iter().filter(|line| *line == "prepare").count();
    assert_eq!(prepares, 2);
}
