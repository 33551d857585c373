//! `serve`'s scheduler and HTTP interface against a fake suite whose checks the test steers:
//! turns on tokio's paused clock (no overlap, overruns, requests answered 409 while a run
//! goes on), the shutdown of a run in progress, the state dir across restarts, the API, the
//! metrics (checked by Prometheus's own `promtool` where it is installed), and webhooks
//! delivered to a receiver on loopback with retries, in order, a retried one superseded by a
//! newer one of its check dropped.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::{
    Applicability, CancellationToken, Check, CheckKind, CheckSpec, Diagnosis, IgnoredMode, Observation, Preflight, Run,
    RunInfo, RunOptions, Selection, Suite, Timeouts, Verdict,
};
use realitycheck_serve::state::WebhookCounts;
use realitycheck_serve::{
    Canary, RunResult, Schedule, Service, ServiceParts, Store, Watch, Webhook, WebhookFormat, http, start,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, oneshot};
use tower::ServiceExt;

/// What the test steers and what the suite saw.
struct Controls {
    /// `fake::flip` fails in the scheduled runs while this is set.
    broken: AtomicBool,
    /// `fake::flip` fails in the canaries while this is set.
    canary_broken: AtomicBool,
    /// `fake::gate` waits for a permit while this is set.
    gated: AtomicBool,
    gate: Semaphore,
    /// `fake::job` (the canary's) waits for a permit while this is set.
    job_gated: AtomicBool,
    job_gate: Semaphore,
    /// What `fake::job` measures: seconds its job waited in the queue.
    job_wait: AtomicI64,
    /// Runs whose checks started.
    started: AtomicU32,
    /// Runs going on now (prepared, not finished), and the most ever seen at once.
    running: Mutex<(u32, u32)>,
    /// `finish` calls.
    finished: AtomicU32,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            broken: AtomicBool::new(false),
            canary_broken: AtomicBool::new(false),
            gated: AtomicBool::new(false),
            gate: Semaphore::new(0),
            job_gated: AtomicBool::new(false),
            job_gate: Semaphore::new(0),
            job_wait: AtomicI64::new(20),
            started: AtomicU32::new(0),
            running: Mutex::new((0, 0)),
            finished: AtomicU32::new(0),
        }
    }
}

/// The fake suite of the scheduled runs, or (`canary`) of the canaries, both steered by the
/// same controls.
struct FakeSuite {
    controls: Arc<Controls>,
    canary: bool,
}

/// What a run of the fake suite prepared: the controls, and whether it is a canary.
struct Prepared {
    controls: Arc<Controls>,
    canary: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

/// Waits for a permit of `gate` while `gated` is set, or for the run's cancellation.
async fn held(gated: &AtomicBool, gate: &Semaphore, cancel: &CancellationToken) {
    if gated.load(Ordering::SeqCst) {
        tokio::select! {
            permit = gate.acquire() => permit.unwrap().forget(),
            () = cancel.cancelled() => {}
        }
    }
}

impl Suite for FakeSuite {
    type Declaration = ();
    type Resources = Prepared;
    type Error = Never;

    fn checks(&self) -> Vec<Check<Self>> {
        let spec = |id: &str| CheckSpec::new(id, CheckKind::Cluster, format!("{id} works"));
        vec![
            Check::new(spec("fake::steady"), (), |prepared: Arc<Prepared>, _| async move {
                prepared.controls.started.fetch_add(1, Ordering::SeqCst);
                Verdict::Pass("steady as ever".into())
            }),
            Check::new(spec("fake::flip"), (), |prepared: Arc<Prepared>, _| async move {
                let broken = if prepared.canary { &prepared.controls.canary_broken } else { &prepared.controls.broken };
                if broken.load(Ordering::SeqCst) {
                    Verdict::Fail(
                        Diagnosis::new("the flip is broken <b>")
                            .observed("flip = off")
                            .cause("someone turned it off")
                            .remediation("turn it on"),
                    )
                } else {
                    Verdict::Pass("flip is on".into())
                }
            }),
            Check::new(spec("fake::cert"), (), |_, scope| async move {
                scope.observations.record(Observation::new(
                    "certificate_expiry_timestamp_seconds",
                    "fake ca.pem",
                    4_000_000_000,
                ));
                Verdict::Pass("certificate read".into())
            }),
            Check::new(spec("fake::gate"), (), |prepared: Arc<Prepared>, scope| async move {
                held(&prepared.controls.gated, &prepared.controls.gate, &scope.cancel).await;
                Verdict::Pass("gate open".into())
            }),
            Check::new(spec("fake::job"), (), |prepared: Arc<Prepared>, scope| async move {
                let controls = &prepared.controls;
                held(&controls.job_gated, &controls.job_gate, &scope.cancel).await;
                let wait = controls.job_wait.load(Ordering::SeqCst);
                scope.observations.record(Observation::new("job_wait_seconds", "docker", wait));
                scope.observations.record(Observation::new("job_run_seconds", "docker", 30));
                Verdict::Pass(format!("job docker waited {wait}s"))
            }),
        ]
    }

    fn preflights(&self) -> Vec<Preflight<Self>> {
        Vec::new()
    }

    fn applicability(&self, _: &()) -> Applicability {
        Applicability::Applies
    }

    fn prepare(&self, _: &[&()], _: &Timeouts) -> Result<Prepared, Never> {
        let mut running = self.controls.running.lock().unwrap();
        running.0 += 1;
        running.1 = running.1.max(running.0);
        Ok(Prepared { controls: Arc::clone(&self.controls), canary: self.canary })
    }

    async fn finish(&self, prepared: &Prepared) -> Vec<String> {
        prepared.controls.running.lock().unwrap().0 -= 1;
        prepared.controls.finished.fetch_add(1, Ordering::SeqCst);
        vec!["cancelled workflow fake-1".into()]
    }
}

/// The scheduled run of target `name`: every check but the canary's job.
fn run(name: &str, controls: &Arc<Controls>) -> Run<FakeSuite> {
    fake_run(name, controls, false)
}

/// The canary of target `name`: its job and `fake::flip`, whose state must stay apart from the
/// scheduled runs' `fake::flip`.
fn canary(name: &str, controls: &Arc<Controls>, every: Duration) -> Canary<FakeSuite> {
    Canary { run: fake_run(name, controls, true), every, max_wait: Duration::from_secs(180) }
}

fn fake_run(name: &str, controls: &Arc<Controls>, canary: bool) -> Run<FakeSuite> {
    let timeout = Duration::from_secs(3600);
    let (skips, only) = match canary {
        true => (vec![], vec!["fake::job".to_string(), "fake::flip".to_string()]),
        false => (vec!["fake::job".to_string()], vec![]),
    };
    Run::new(
        FakeSuite { controls: Arc::clone(controls), canary },
        RunOptions {
            info: RunInfo {
                target: name.into(),
                host: format!("https://{name}.example.com"),
                profile: if canary { "canary" } else { "health" }.into(),
                started_at: SystemTime::now(),
            },
            selection: Selection {
                filters: vec![],
                skips,
                exact: true,
                ignored: IgnoredMode::Report,
                excluded_tags: vec![],
                only,
            },
            timeouts: Timeouts { cluster: timeout, api: timeout, pipeline: timeout },
            deadline: None,
            retries: 0,
            retry_delay: Duration::ZERO,
            concurrency: 4,
            collect: false,
        },
    )
}

fn schedule(every: Duration) -> Schedule {
    Schedule { every, history: 10, jitter: Duration::ZERO, stagger: Duration::ZERO }
}

/// Waits (on whatever clock runs: paused or real) until `condition` holds, ten minutes at most.
async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..60_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited in vain for {what}");
}

fn runs_of(service: &Service, target: &str) -> Vec<Arc<realitycheck_serve::RunRecord>> {
    service.snapshot().into_iter().find(|t| t.name == target).unwrap().history.into_iter().collect()
}

async fn get(service: &Arc<Service>, uri: &str) -> (StatusCode, String) {
    send(service, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn send(service: &Arc<Service>, request: Request<Body>) -> (StatusCode, String) {
    send_to(service, IpAddr::V4(Ipv4Addr::LOCALHOST), request).await
}

/// `request` to the router of `service` listening on `listen`.
async fn send_to(service: &Arc<Service>, listen: IpAddr, request: Request<Body>) -> (StatusCode, String) {
    let response = http::router(Arc::clone(service), listen).oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn post(uri: &str, bearer: Option<&str>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

/// `serve` of one target, `prod`, run by the fake suite steered by `controls`.
fn start_one(
    controls: &Arc<Controls>,
    every: Duration,
    parts: ServiceParts,
) -> (Arc<Service>, tokio::task::JoinHandle<()>, CancellationToken) {
    let shutdown = CancellationToken::new();
    let (service, done) = start(vec![run("prod", controls).into()], schedule(every), "9.9.9", parts, shutdown.clone());
    (service, done, shutdown)
}

/// `serve` of one target, `prod`, with its canary every `canary_every`.
fn start_with_canary(
    controls: &Arc<Controls>,
    every: Duration,
    canary_every: Duration,
    parts: ServiceParts,
) -> (Arc<Service>, tokio::task::JoinHandle<()>, CancellationToken) {
    let shutdown = CancellationToken::new();
    let watch = Watch { run: run("prod", controls), canary: Some(canary("prod", controls, canary_every)) };
    let (service, done) = start(vec![watch], schedule(every), "9.9.9", parts, shutdown.clone());
    (service, done, shutdown)
}

fn canaries_of(service: &Service, target: &str) -> Vec<Arc<realitycheck_serve::RunRecord>> {
    service.snapshot().into_iter().find(|t| t.name == target).unwrap().canary.history.into_iter().collect()
}

#[tokio::test(start_paused = true)]
async fn runs_start_at_their_turns_and_never_overlap() {
    let controls = Arc::new(Controls::default());
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(60), ServiceParts::default());
    until("the first run", || runs_of(&service, "prod").len() == 1).await;
    tokio::time::sleep(Duration::from_secs(50)).await;
    assert_eq!(runs_of(&service, "prod").len(), 1, "the next turn is 60s after the first");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(runs_of(&service, "prod").len(), 2);

    // A run held at its gate for three intervals: no other run starts, a request is refused.
    controls.gated.store(true, Ordering::SeqCst);
    until("the held run", || service.snapshot()[0].running.is_some()).await;
    let held = service.snapshot()[0].running.unwrap().id;
    tokio::time::sleep(Duration::from_secs(180)).await;
    let (status, body) = send(&service, post("/api/v1/runs?target=prod", None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(&format!("run {held} going on")), "{body}");
    assert_eq!(runs_of(&service, "prod").len(), 2);
    let (status, body) = get(&service, &format!("/api/v1/runs/{held}")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(body.contains("\"state\":\"running\""), "{body}");
    let (_, body) = get(&service, "/api/v1/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["targets"][0]["running"]["id"], held);
    conforms(&status, "status-v1.schema.json");

    controls.gated.store(false, Ordering::SeqCst);
    controls.gate.add_permits(1);
    until("the held run's end and the late turn", || runs_of(&service, "prod").len() == 4).await;
    let runs = runs_of(&service, "prod");
    assert!(runs[2].overran, "the held run took longer than the interval");
    assert!(!runs[3].overran);
    assert!(runs[3].started_at_ms >= runs[2].finished_at_ms(), "the late turn starts after, not alongside");
    assert_eq!(controls.running.lock().unwrap().1, 1, "never two runs at once");
    assert_eq!(service.snapshot()[0].overruns, 1);

    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_canary_runs_at_its_own_turns_and_never_alongside_a_run() {
    let controls = Arc::new(Controls::default());
    let minute = Duration::from_secs(60);
    let (service, done, shutdown) = start_with_canary(&controls, minute, minute * 5 / 2, ServiceParts::default());
    // The first canary right after the first run; then runs at 60 s, 120 s, ..., canaries at
    // 150 s and 300 s (after the run of that turn).
    until("the first canary", || canaries_of(&service, "prod").len() == 1).await;
    let (runs, canaries) = (runs_of(&service, "prod"), canaries_of(&service, "prod"));
    assert_eq!(runs.len(), 1);
    assert!(canaries[0].started_at_ms >= runs[0].finished_at_ms(), "the canary waits for the first run to end");
    assert!((canaries[0].canary, canaries[0].profile.as_str()) == (true, "canary") && !runs[0].canary);
    tokio::time::sleep(Duration::from_secs(145)).await;
    assert_eq!((runs_of(&service, "prod").len(), canaries_of(&service, "prod").len()), (3, 1));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!((runs_of(&service, "prod").len(), canaries_of(&service, "prod").len()), (3, 2), "at 155 s");
    tokio::time::sleep(Duration::from_secs(150)).await;
    assert_eq!((runs_of(&service, "prod").len(), canaries_of(&service, "prod").len()), (6, 3), "at 305 s");
    let runs = runs_of(&service, "prod");
    assert!(canaries_of(&service, "prod")[2].started_at_ms >= runs[5].finished_at_ms(), "the run of 300 s went first");

    // A canary held for two minutes from 450 s: the runs of 480 s and 540 s wait for it, a
    // request is refused, and then one run starts, not two.
    tokio::time::sleep(Duration::from_secs(140)).await;
    controls.job_gated.store(true, Ordering::SeqCst);
    until("the held canary", || service.snapshot()[0].running.is_some_and(|r| r.canary)).await;
    let held = service.snapshot()[0].running.unwrap().id;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(runs_of(&service, "prod").len(), 8, "no run alongside the canary");
    let (status, body) = send(&service, post("/api/v1/runs?target=prod", None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(&format!("run {held} going on")), "{body}");
    controls.job_gated.store(false, Ordering::SeqCst);
    controls.job_gate.add_permits(1);
    until("the run after the canary", || runs_of(&service, "prod").len() == 9).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(runs_of(&service, "prod").len(), 9, "the turns the canary delayed are one run, not two");
    let canary = canaries_of(&service, "prod").into_iter().find(|c| c.id == held).unwrap();
    assert!(!canary.overran, "two minutes is within the canary's interval");
    assert!(runs_of(&service, "prod")[8].started_at_ms >= canary.finished_at_ms(), "after the canary, not alongside");

    // A run held across the canary's turn of 750 s: the canary starts when it ends.
    tokio::time::sleep(Duration::from_secs(60)).await;
    controls.gated.store(true, Ordering::SeqCst);
    until("a held run", || service.snapshot()[0].running.is_some_and(|r| !r.canary)).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(canaries_of(&service, "prod").len(), 5, "the canary of 750 s waits for the run");
    controls.gated.store(false, Ordering::SeqCst);
    controls.gate.add_permits(1);
    until("the late canary", || canaries_of(&service, "prod").len() == 6).await;
    let held_run = runs_of(&service, "prod").into_iter().find(|r| r.overran).expect("the held run overran");
    assert!(canaries_of(&service, "prod")[5].started_at_ms >= held_run.finished_at_ms());
    assert_eq!(controls.running.lock().unwrap().1, 1, "never two runs of the target at once");

    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_jitter_of_a_turn_never_carries_over_to_the_next() {
    let controls = Arc::new(Controls::default());
    let shutdown = CancellationToken::new();
    let every = Duration::from_secs(60);
    let schedule = Schedule { every, history: 20, jitter: Duration::from_secs(10), stagger: Duration::ZERO };
    let (service, done) =
        start(vec![run("prod", &controls).into()], schedule, "test", ServiceParts::default(), shutdown.clone());
    // Turn k starts within [60k s, 60k + 10 s): at 599 s turns 0 to 9 have run, at 611 s turn 10 too.
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert_eq!(runs_of(&service, "prod").len(), 10);
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(runs_of(&service, "prod").len(), 11, "ten jitters did not add up");
    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_cancels_the_run_going_on_and_records_it() {
    let controls = Arc::new(Controls::default());
    controls.gated.store(true, Ordering::SeqCst);
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(60), ServiceParts::default());
    until("the held run", || service.snapshot()[0].running.is_some()).await;
    shutdown.cancel();
    done.await.unwrap();
    let runs = runs_of(&service, "prod");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].result, RunResult::Interrupted);
    assert_eq!(runs[0].finish_notes, vec!["cancelled workflow fake-1".to_string()], "the suite finished the run");
    assert_eq!(controls.finished.load(Ordering::SeqCst), 1);
    assert!(!service.ready(), "not ready once shutting down");
    assert_eq!(service.request_run("prod"), Err(realitycheck_serve::RequestError::ShuttingDown));
}

#[tokio::test(start_paused = true)]
async fn one_slow_target_does_not_delay_another() {
    let (slow, quick) = (Arc::new(Controls::default()), Arc::new(Controls::default()));
    slow.gated.store(true, Ordering::SeqCst);
    let shutdown = CancellationToken::new();
    let (service, done) = start(
        vec![run("slow", &slow).into(), run("quick", &quick).into()],
        Schedule {
            every: Duration::from_secs(60),
            history: 10,
            jitter: Duration::ZERO,
            stagger: Duration::from_secs(30),
        },
        "test",
        ServiceParts::default(),
        shutdown.clone(),
    );
    tokio::time::sleep(Duration::from_secs(60 * 5 + 20)).await;
    assert!(runs_of(&service, "slow").is_empty(), "the slow target's first run is still held");
    assert_eq!(runs_of(&service, "quick").len(), 6, "the quick target ran at each of its turns (15s, 75s, ... 315s)");
    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test]
async fn the_api_and_the_metrics_tell_what_the_runs_found() {
    let controls = Arc::new(Controls::default());
    let parts = ServiceParts { api_token: Some(harness::Secret::new("s3cret-api-token")), ..Default::default() };
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), parts);
    until("the first run", || runs_of(&service, "prod").len() == 1).await;

    controls.broken.store(true, Ordering::SeqCst);
    assert_eq!(send(&service, post("/api/v1/runs", None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&service, post("/api/v1/runs", Some("wrong-api-token"))).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&service, post("/api/v1/runs?target=nope", Some("s3cret-api-token"))).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = send(&service, post("/api/v1/runs?target=prod", Some("s3cret-api-token"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = id["id"].as_u64().unwrap();
    until("the requested run", || service.run(id).is_some()).await;

    let (status, body) = get(&service, &format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let record: serde_json::Value = serde_json::from_str(&body).unwrap();
    conforms(&record, "run-v1.schema.json");
    assert_eq!(record["schema_version"], "realitycheck.run/v1");
    assert_eq!(record["trigger"], "request");
    assert_eq!(record["result"], "failed");
    let flip = record["checks"].as_array().unwrap().iter().find(|c| c["id"] == "fake::flip").unwrap();
    assert_eq!(flip["diagnosis"]["remediation"], "turn it on");

    let (_, body) = get(&service, "/api/v1/runs?target=prod").await;
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<u64> = list["runs"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![id, id - 1], "newest first");
    assert_eq!(get(&service, "/api/v1/runs/999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&service, "/api/v1/runs/x").await.0, StatusCode::BAD_REQUEST);

    let (_, body) = get(&service, "/api/v1/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    conforms(&status, "status-v1.schema.json");
    assert_eq!(status["schema_version"], "realitycheck.status/v1");
    let target = &status["targets"][0];
    assert_eq!((target["name"].as_str(), target["health"].as_str()), (Some("prod"), Some("failing")));
    let flip = target["checks"].as_array().unwrap().iter().find(|c| c["id"] == "fake::flip").unwrap();
    assert_eq!(flip["diagnosis"], "the flip is broken <b>");
    assert_eq!(flip["consecutive_failures"], 1);

    let (status, metrics) = get(&service, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "realitycheck_build_info{version=\"9.9.9\"} 1",
        "realitycheck_check_success{target=\"prod\",suite=\"fake\",check=\"fake::flip\"} 0",
        "realitycheck_check_success{target=\"prod\",suite=\"fake\",check=\"fake::steady\"} 1",
        "realitycheck_check_consecutive_failures{target=\"prod\",suite=\"fake\",check=\"fake::flip\"} 1",
        "realitycheck_runs_total{target=\"prod\",result=\"passed\"} 1",
        "realitycheck_runs_total{target=\"prod\",result=\"failed\"} 1",
        "realitycheck_run_interval_seconds{target=\"prod\"} 3600",
        "realitycheck_run_in_progress{target=\"prod\"} 0",
        "realitycheck_certificate_expiry_timestamp_seconds{target=\"prod\",check=\"fake::cert\",certificate=\"fake ca.pem\"} 4000000000",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in\n{metrics}");
    }
    assert!(metrics.contains(
        "realitycheck_check_last_success_timestamp_seconds{target=\"prod\",suite=\"fake\",check=\"fake::flip\"}"
    ));
    assert!(!metrics.contains("broken"), "no diagnosis text in the metrics");
    promtool_check_metrics(&metrics);

    let (status, page) = get(&service, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<details class=\"check failed\"><summary>fake::flip — the flip is broken &lt;b&gt;</summary>"),
        "{page}"
    );
    assert!(!page.contains("<script"), "the page works without JavaScript");
    let (status, run_page) = get(&service, &format!("/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(run_page.contains("turn it on"), "{run_page}");
    for (uri, expected) in
        [("/healthz", StatusCode::OK), ("/readyz", StatusCode::OK), ("/runs/77", StatusCode::NOT_FOUND)]
    {
        assert_eq!(get(&service, uri).await.0, expected, "{uri}");
    }
    for uri in
        ["/", "/metrics", "/api/v1/status", "/api/v1/runs", &format!("/api/v1/runs/{id}"), &format!("/runs/{id}")]
    {
        assert!(!get(&service, uri).await.1.contains("s3cret-api-token"), "{uri} shows the API token");
    }

    shutdown.cancel();
    done.await.unwrap();
    assert_eq!(get(&service, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

/// The value of the sample of `family` with exactly `labels`, if the exposition has one.
fn sample(metrics: &str, family: &str, labels: &str) -> Option<String> {
    metrics.lines().find_map(|line| line.strip_prefix(&format!("{family}{{{labels}}} ")).map(str::to_string))
}

#[tokio::test(start_paused = true)]
async fn the_canary_s_waits_become_metrics_and_its_failures_leave_the_health_checks_alone() {
    let controls = Arc::new(Controls::default());
    controls.job_wait.store(200, Ordering::SeqCst);
    let (service, done, shutdown) =
        start_with_canary(&controls, Duration::from_secs(600), Duration::from_secs(1000), ServiceParts::default());
    until("the first canary", || canaries_of(&service, "prod").len() == 1).await;
    let (_, metrics) = get(&service, "/metrics").await;
    let docker = "target=\"prod\",executor=\"docker\"";
    let canary_flip = "target=\"prod\",suite=\"fake\",check=\"fake::flip\"";
    for (family, labels, value) in [
        ("realitycheck_job_wait_seconds", docker, "200"),
        ("realitycheck_job_run_seconds", docker, "30"),
        ("realitycheck_job_wait_consecutive_over_threshold", docker, "1"),
        ("realitycheck_job_wait_threshold_seconds", "target=\"prod\"", "180"),
        ("realitycheck_canary_interval_seconds", "target=\"prod\"", "1000"),
        ("realitycheck_canary_runs_total", "target=\"prod\",result=\"passed\"", "1"),
        ("realitycheck_canary_check_success", "target=\"prod\",suite=\"fake\",check=\"fake::job\"", "1"),
        ("realitycheck_runs_total", "target=\"prod\",result=\"passed\"", "1"),
    ] {
        assert_eq!(sample(&metrics, family, labels).as_deref(), Some(value), "{family}{{{labels}}} in\n{metrics}");
    }
    assert!(metrics.contains("realitycheck_job_measured_timestamp_seconds{target=\"prod\",executor=\"docker\"} "));
    assert!(
        sample(&metrics, "realitycheck_check_success", "target=\"prod\",suite=\"fake\",check=\"fake::job\"").is_none(),
        "the canary's checks are not the scheduled runs'"
    );
    promtool_check_metrics(&metrics);

    // The canary of 1000 s fails its fake::flip and measures another wait over 3m; the
    // scheduled runs' fake::flip passes throughout, its state untouched.
    controls.canary_broken.store(true, Ordering::SeqCst);
    controls.job_wait.store(400, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1005)).await;
    assert_eq!((runs_of(&service, "prod").len(), canaries_of(&service, "prod").len()), (2, 2));
    let (_, metrics) = get(&service, "/metrics").await;
    let health_flip = sample(&metrics, "realitycheck_check_success", canary_flip);
    assert_eq!(health_flip.as_deref(), Some("1"), "the canary's failure is not the scheduled runs'\n{metrics}");
    for (family, labels, value) in [
        ("realitycheck_check_consecutive_failures", canary_flip, "0"),
        ("realitycheck_runs_total", "target=\"prod\",result=\"failed\"", "0"),
        ("realitycheck_canary_check_success", canary_flip, "0"),
        ("realitycheck_canary_check_consecutive_failures", canary_flip, "1"),
        ("realitycheck_canary_runs_total", "target=\"prod\",result=\"failed\"", "1"),
        ("realitycheck_job_wait_seconds", docker, "400"),
        ("realitycheck_job_wait_consecutive_over_threshold", docker, "2"),
    ] {
        assert_eq!(sample(&metrics, family, labels).as_deref(), Some(value), "{family}{{{labels}}} in\n{metrics}");
    }
    let target = service.snapshot().remove(0);
    assert_eq!(target.checks["fake::flip"].health, Some(realitycheck_serve::state::Health::Passing));
    assert_eq!(target.last_run().unwrap().result, RunResult::Passed, "the last run is the scheduled one");

    // A scheduled run that fails leaves the canary's state alone, the other way round.
    controls.broken.store(true, Ordering::SeqCst);
    service.request_run("prod").unwrap();
    until("the failed run", || runs_of(&service, "prod").len() == 3).await;
    let target = service.snapshot().remove(0);
    assert_eq!(target.canary.checks["fake::flip"].consecutive_failures, 1);
    assert_eq!(target.checks["fake::flip"].consecutive_failures, 1);

    // The status API, the runs and the page say it; the canary of 2000 s waits 12 s and ends
    // the row.
    let (_, body) = get(&service, "/api/v1/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    conforms(&status, "status-v1.schema.json");
    let canary = &status["targets"][0]["canary"];
    assert_eq!((canary["profile"].as_str(), canary["health"].as_str()), (Some("canary"), Some("failing")));
    assert_eq!(canary["jobs"][0]["wait_seconds"], 400);
    assert_eq!(canary["jobs"][0]["consecutive_over_threshold"], 2);
    let id = canary["last_run"]["id"].as_u64().unwrap();
    let (_, body) = get(&service, &format!("/api/v1/runs/{id}")).await;
    let record: serde_json::Value = serde_json::from_str(&body).unwrap();
    conforms(&record, "run-v1.schema.json");
    assert_eq!((record["canary"].as_bool(), record["profile"].as_str()), (Some(true), Some("canary")));
    let (_, body) = get(&service, "/api/v1/runs?target=prod").await;
    let runs: serde_json::Value = serde_json::from_str(&body).unwrap();
    let canaries = runs["runs"].as_array().unwrap().iter().filter(|run| run["canary"] == true).count();
    assert_eq!(canaries, 2, "{runs:#}");
    let (_, page) = get(&service, "/").await;
    assert!(page.contains("<span class=\"badge failing\">CANARY FAILING</span>"), "{page}");
    assert!(page.contains("6m 40s (longer than 3m; 2 canaries in a row)"), "{page}");

    controls.canary_broken.store(false, Ordering::SeqCst);
    controls.job_wait.store(12, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1000)).await;
    assert_eq!(canaries_of(&service, "prod").len(), 3);
    let (_, metrics) = get(&service, "/metrics").await;
    assert_eq!(sample(&metrics, "realitycheck_job_wait_seconds", docker).as_deref(), Some("12"));
    assert_eq!(sample(&metrics, "realitycheck_job_wait_consecutive_over_threshold", docker).as_deref(), Some("0"));
    promtool_check_metrics(&metrics);

    shutdown.cancel();
    done.await.unwrap();
}

/// Asserts that `document` is valid against the schema in `realitycheck-serve/schema/`, and
/// that the schema itself is a valid JSON Schema.
fn conforms(document: &serde_json::Value, schema: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(schema);
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(jsonschema::meta::is_valid(&schema), "{} is a valid JSON Schema", path.display());
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(document).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{} against {}:\n{}\n{document:#}", path.display(), schema["$id"], errors.join("\n"));
}

/// Runs `promtool check metrics` on `exposition` where promtool is installed (mandatory with
/// REALITYCHECK_REQUIRE_TOOLS=1, as in CI).
fn promtool_check_metrics(exposition: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            assert!(
                std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "required by REALITYCHECK_REQUIRE_TOOLS=1: promtool (Debian's prometheus package): {error}"
            );
            eprintln!("skipped: promtool is not installed (Debian's prometheus package)");
            return;
        }
    };
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}\n{exposition}");
}

#[tokio::test(start_paused = true)]
async fn the_state_dir_keeps_the_history_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let controls = Arc::new(Controls::default());
    controls.broken.store(true, Ordering::SeqCst);
    for restart in 0..2 {
        let (store, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.records.len(), restart);
        let parts = ServiceParts { store: Some((store, restored.records)), ..Default::default() };
        let (service, done, shutdown) = start_one(&controls, Duration::from_secs(60), parts);
        until("a run", || runs_of(&service, "prod").len() == restart + 1).await;
        let state = service.snapshot().remove(0);
        assert_eq!(
            state.checks["fake::flip"].consecutive_failures,
            u32::try_from(restart).unwrap() + 1,
            "counted across the restart"
        );
        let ids: Vec<u64> = runs_of(&service, "prod").iter().map(|r| r.id).collect();
        assert_eq!(ids, (1..=u64::try_from(restart).unwrap() + 1).collect::<Vec<_>>(), "IDs go on after a restart");
        shutdown.cancel();
        done.await.unwrap();
    }
}

/// A webhook receiver on loopback that answers 500 to the first `failures` POSTs.
async fn receiver(failures: u32) -> (url::Url, Arc<Mutex<Vec<serde_json::Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = Arc::clone(&received);
            move |axum::Json(body): axum::Json<serde_json::Value>| async move {
                if attempts.fetch_add(1, Ordering::SeqCst) < failures {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                received.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn a_change_of_state_is_posted_to_the_webhook_with_retries() {
    let (url, received) = receiver(2).await;
    let webhook =
        Webhook::new(url, WebhookFormat::Json, Duration::from_secs(5), vec![Duration::from_millis(10); 3]).unwrap();
    let controls = Arc::new(Controls::default());
    let parts = ServiceParts { webhook: Some(webhook), ..Default::default() };
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), parts);
    until("the first run", || runs_of(&service, "prod").len() == 1).await;
    controls.broken.store(true, Ordering::SeqCst);
    let broke = service.request_run("prod").unwrap();
    until("the failing run's notification", || received.lock().unwrap().len() == 1).await;
    controls.broken.store(false, Ordering::SeqCst);
    until("the failing run's end", || service.run(broke).is_some()).await;
    service.request_run("prod").unwrap();
    until("the passing run's notification", || received.lock().unwrap().len() == 2).await;

    let received = received.lock().unwrap().clone();
    assert_eq!(received[0]["check"], "fake::flip");
    assert_eq!((received[0]["from"].as_str(), received[0]["to"].as_str()), (Some("passing"), Some("failing")));
    assert_eq!(received[0]["diagnosis"]["summary"], "the flip is broken <b>");
    assert_eq!(received[0]["host"], "https://prod.example.com");
    assert_eq!((received[1]["from"].as_str(), received[1]["to"].as_str()), (Some("failing"), Some("passing")));
    assert_eq!(received[1]["note"], "flip is on");
    until("the counters", || service.snapshot()[0].webhooks == delivered(2)).await;
    shutdown.cancel();
    done.await.unwrap();
}

/// Counts of `n` notifications delivered, none else.
fn delivered(n: u64) -> WebhookCounts {
    WebhookCounts { delivered: n, ..Default::default() }
}

/// A webhook receiver on loopback that holds its first POST until the test answers it
/// ([`HeldReceiver::answer_first`]) and answers the others 200 at once.
struct HeldReceiver {
    url: url::Url,
    /// POSTs arrived.
    arrived: Arc<AtomicU32>,
    /// Each POST's body and the status answered, in the order of the answers.
    answered: Arc<Mutex<Vec<(serde_json::Value, u16)>>>,
    first: Option<oneshot::Sender<StatusCode>>,
}

impl HeldReceiver {
    async fn start() -> HeldReceiver {
        let arrived = Arc::new(AtomicU32::new(0));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let (first, held) = oneshot::channel::<StatusCode>();
        let held = Arc::new(tokio::sync::Mutex::new(Some(held)));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let (arrived, answered) = (Arc::clone(&arrived), Arc::clone(&answered));
                move |axum::Json(body): axum::Json<serde_json::Value>| async move {
                    let status = match arrived.fetch_add(1, Ordering::SeqCst) {
                        0 => held.lock().await.take().unwrap().await.unwrap(),
                        _ => StatusCode::OK,
                    };
                    answered.lock().unwrap().push((body, status.as_u16()));
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HeldReceiver { url, arrived, answered, first: Some(first) }
    }

    fn answer_first(&mut self, status: StatusCode) {
        self.first.take().unwrap().send(status).unwrap();
    }

    /// What was answered: (check, canary, to, run, status) of each POST.
    fn answered(&self) -> Vec<(String, bool, String, u64, u16)> {
        let answered = self.answered.lock().unwrap();
        answered
            .iter()
            .map(|(body, status)| {
                let text = |key: &str| body[key].as_str().unwrap().to_string();
                (
                    text("check"),
                    body["canary"].as_bool().unwrap(),
                    text("to"),
                    body["run_id"].as_u64().unwrap(),
                    *status,
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn a_notification_being_retried_is_dropped_when_a_newer_one_of_its_check_comes_and_never_lands_after_it() {
    let mut receiver = HeldReceiver::start().await;
    // Retries close together: on a delivery of each its own, run 2's →failing would land after
    // run 3's →passing.
    let backoff = vec![Duration::from_millis(10); 3];
    let webhook = Webhook::new(receiver.url.clone(), WebhookFormat::Json, Duration::from_secs(60), backoff).unwrap();
    let controls = Arc::new(Controls::default());
    let parts = ServiceParts { webhook: Some(webhook), ..Default::default() };
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), parts);
    until("the first run", || runs_of(&service, "prod").len() == 1).await;
    controls.broken.store(true, Ordering::SeqCst);
    let failing = service.request_run("prod").unwrap();
    until("the failing run's notification, held", || receiver.arrived.load(Ordering::SeqCst) == 1).await;
    controls.broken.store(false, Ordering::SeqCst);
    let passing = service.request_run("prod").unwrap();
    until("the passing run", || service.run(passing).is_some()).await;
    // The passing run's notification is queued behind the failing one's first attempt, which
    // fails now: it is not retried.
    receiver.answer_first(StatusCode::INTERNAL_SERVER_ERROR);
    let counts = WebhookCounts { delivered: 1, superseded: 1, ..Default::default() };
    until("the counters", || service.snapshot()[0].webhooks == counts).await;

    let (_, metrics) = get(&service, "/metrics").await;
    let dropped = |reason: &str| {
        sample(
            &metrics,
            "realitycheck_webhook_transitions_dropped_total",
            &format!("target=\"prod\",reason=\"{reason}\""),
        )
    };
    assert_eq!(
        (dropped("superseded").as_deref(), dropped("queue-full").as_deref()),
        (Some("1"), Some("0")),
        "{metrics}"
    );
    promtool_check_metrics(&metrics);
    shutdown.cancel();
    done.await.unwrap();
    let flip = |to: &str, run: u64, status: u16| ("fake::flip".to_string(), false, to.to_string(), run, status);
    assert_eq!(receiver.answered(), [flip("failing", failing, 500), flip("passing", passing, 200)]);
    assert_eq!(receiver.arrived.load(Ordering::SeqCst), 2, "run {failing}'s notification never retried");
}

#[tokio::test]
async fn notifications_of_different_checks_are_delivered_in_the_order_their_runs_ended() {
    let mut receiver = HeldReceiver::start().await;
    let webhook = Webhook::new(receiver.url.clone(), WebhookFormat::Json, Duration::from_secs(60), vec![]).unwrap();
    let controls = Arc::new(Controls::default());
    controls.broken.store(true, Ordering::SeqCst);
    controls.canary_broken.store(true, Ordering::SeqCst);
    let parts = ServiceParts { webhook: Some(webhook), ..Default::default() };
    let hour = Duration::from_secs(3600);
    let (service, done, shutdown) = start_with_canary(&controls, hour, hour, parts);
    // The first run's →failing is held at the receiver; the canary's (right after it), then a
    // requested run's →passing of the first run's check wait behind it.
    until("the first run's notification, held", || receiver.arrived.load(Ordering::SeqCst) >= 1).await;
    until("the canary", || canaries_of(&service, "prod").len() == 1).await;
    controls.broken.store(false, Ordering::SeqCst);
    let passing = service.request_run("prod").unwrap();
    until("the passing run", || service.run(passing).is_some()).await;
    assert_eq!(receiver.arrived.load(Ordering::SeqCst), 1, "the others wait behind the first");
    // Delivered at its first attempt, after the passing run was queued: it is not dropped,
    // and lands first.
    receiver.answer_first(StatusCode::OK);
    until("the counters", || service.snapshot()[0].webhooks == delivered(3)).await;
    shutdown.cancel();
    done.await.unwrap();
    let (first, canary) = (runs_of(&service, "prod")[0].id, canaries_of(&service, "prod")[0].id);
    let flip = |canary: bool, to: &str, run: u64| ("fake::flip".to_string(), canary, to.to_string(), run, 200);
    assert_eq!(
        receiver.answered(),
        [flip(false, "failing", first), flip(true, "failing", canary), flip(false, "passing", passing)]
    );
}

#[tokio::test]
async fn a_failing_canary_is_announced_as_the_canary_s_and_restored_apart_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(0).await;
    let webhook = Webhook::new(url, WebhookFormat::Json, Duration::from_secs(5), vec![]).unwrap();
    let controls = Arc::new(Controls::default());
    controls.canary_broken.store(true, Ordering::SeqCst);
    let (store, _) = Store::open(dir.path(), 100).unwrap();
    let parts = ServiceParts { webhook: Some(webhook), store: Some((store, vec![])), ..Default::default() };
    let hour = Duration::from_secs(3600);
    let (service, done, shutdown) = start_with_canary(&controls, hour, hour, parts);
    until("the canary's notification", || received.lock().unwrap().len() == 1).await;
    until("the delivery counted", || service.snapshot()[0].webhooks == delivered(1)).await;
    let received = received.lock().unwrap().clone();
    assert_eq!((received[0]["check"].as_str(), received[0]["canary"].as_bool()), (Some("fake::flip"), Some(true)));
    assert_eq!(received[0]["to"], "failing");
    shutdown.cancel();
    done.await.unwrap();

    let (store, restored) = Store::open(dir.path(), 100).unwrap();
    assert_eq!(restored.records.iter().map(|r| r.canary).collect::<Vec<_>>(), [false, true]);
    let parts = ServiceParts { store: Some((store, restored.records)), ..Default::default() };
    let shutdown = CancellationToken::new();
    let (service, done) = start(vec![run("prod", &controls).into()], schedule(hour), "9.9.9", parts, shutdown.clone());
    let target = service.snapshot().remove(0);
    assert_eq!(target.checks["fake::flip"].health, Some(realitycheck_serve::state::Health::Passing));
    assert_eq!(target.canary.checks["fake::flip"].health, Some(realitycheck_serve::state::Health::Failing));
    assert!(target.canary.schedule.is_none() && target.canary.shown(), "off now, its kept canaries still shown");
    let (_, metrics) = get(&service, "/metrics").await;
    assert!(
        !metrics.contains("realitycheck_job_wait_consecutive_over_threshold{")
            && !metrics.contains("realitycheck_canary_check_success{"),
        "no canary, no canary samples to hold an alert:\n{metrics}"
    );
    let (_, page) = get(&service, "/").await;
    assert!(page.contains("off: the canaries kept from before"), "{page}");
    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test]
async fn an_undeliverable_notification_is_counted_and_changes_no_verdict() {
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/hook", unused.local_addr().unwrap())).unwrap();
    drop(unused);
    let webhook =
        Webhook::new(url, WebhookFormat::Slack, Duration::from_secs(2), vec![Duration::from_millis(5); 2]).unwrap();
    let controls = Arc::new(Controls::default());
    controls.broken.store(true, Ordering::SeqCst);
    let parts = ServiceParts { webhook: Some(webhook), ..Default::default() };
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), parts);
    until("the failed delivery", || {
        service.snapshot()[0].webhooks == WebhookCounts { failed: 1, ..Default::default() }
    })
    .await;
    let state = service.snapshot().remove(0);
    assert_eq!(state.last_run().unwrap().result, RunResult::Failed);
    assert_eq!(state.runs_by_result.len(), 1);
    shutdown.cancel();
    done.await.unwrap();
}

#[tokio::test]
async fn off_loopback_without_a_token_runs_are_refused_and_reads_answer() {
    let controls = Arc::new(Controls::default());
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), ServiceParts::default());
    let open: IpAddr = "0.0.0.0".parse().unwrap();
    let (status, body) = send_to(&service, open, post("/api/v1/runs?target=prod", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("not loopback") && body.contains("api_token_file"), "says why and what to do: {body}");
    for uri in ["/healthz", "/metrics", "/api/v1/status", "/api/v1/runs", "/"] {
        let (status, body) = send_to(&service, open, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let (status, body) = send(&service, post("/api/v1/runs?target=prod", None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "loopback without a token starts runs as before: {body}");
    shutdown.cancel();
    done.await.unwrap();

    let parts = ServiceParts { api_token: Some(harness::Secret::new("s3cret-api-token")), ..Default::default() };
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), parts);
    let (status, body) = send_to(&service, open, post("/api/v1/runs?target=prod", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = send_to(&service, open, post("/api/v1/runs?target=prod", Some("s3cret-api-token"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    shutdown.cancel();
    done.await.unwrap();
}

/// A raw `GET path` to `address`, and the answer read to its end (the request closes).
async fn raw_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn idle_and_half_sent_connections_beyond_the_cap_are_closed_and_healthz_answers() {
    let controls = Arc::new(Controls::default());
    let (service, done, shutdown) = start_one(&controls, Duration::from_secs(3600), ServiceParts::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = http::Limits { max_connections: 4, header_read_timeout: Duration::from_secs(1) };
    let server = tokio::spawn(http::serve(listener, Arc::clone(&service), shutdown.clone(), limits));

    let mut held = Vec::new();
    for n in 0..12 {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        if n % 3 == 0 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.unwrap();
        }
        held.push(stream);
    }
    let answer = tokio::time::timeout(Duration::from_secs(60), raw_get(address, "/healthz"))
        .await
        .expect("/healthz answers while idle connections hold the cap");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"), "{answer}");

    for (n, stream) in held.iter_mut().enumerate() {
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("serve never closed idle connection {n}"));
        // A close, or a reset; a half-sent header may get a 408 first.
        if read.is_ok() {
            let answer = String::from_utf8_lossy(&buffer);
            assert!(buffer.is_empty() || answer.starts_with("HTTP/1.1 408"), "connection {n}: {answer}");
        }
    }
    shutdown.cancel();
    server.await.unwrap().unwrap();
    done.await.unwrap();
}

#[test]
fn the_connection_cap_stays_under_the_soft_limit_of_open_files() {
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max open files            256                  524288               files     \n";
    assert_eq!(http::soft_nofile(limits), Some(256));
    assert_eq!(http::max_connections(Some(256)), 128);
    assert_eq!(http::max_connections(Some(100)), 8, "a floor, however low the limit");
    assert_eq!(http::max_connections(None), http::DEFAULT_MAX_CONNECTIONS);
    assert_eq!(http::soft_nofile("Max open files            unlimited            unlimited            files"), None);
}
