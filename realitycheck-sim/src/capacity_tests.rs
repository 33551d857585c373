//! The capacity workload end to end, in process, on a paused clock: what `realitycheck capacity`
//! triggers and reads (the CircleCI API's job details and v1.1 build, the Nomad servers' node
//! list and jobs through the HTTP API and the `nomad` CLI, the autoscaler's logs through the
//! Kubernetes API), from the routers the simulation serves, sharing one fleet.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::circleci::{self, ApiState};
use crate::execution::fleet::SharedFleet;
use crate::installation::Installation;
use crate::nomad::{self, CommandOutput};
use crate::scenario::Scenario;
use crate::{NAMESPACE, SIM_PROJECT, SIM_TOKEN, clock, kube};

/// How often the measurement samples, as `realitycheck capacity` would.
const SAMPLE: Duration = Duration::from_millis(100);

/// The simulation's three APIs over one installation and one fleet.
struct Apis {
    circleci: Router,
    nomad: Router,
    kube: Router,
    fleet: SharedFleet,
}

impl Apis {
    fn of(scenario: Scenario) -> Self {
        let installation = Arc::new(Installation::new(scenario, clock::now()));
        let state = Arc::new(ApiState::new(Arc::clone(&installation)));
        let fleet = state.fleet();
        Self {
            circleci: circleci::router(Arc::clone(&state)),
            nomad: nomad::http::router(Arc::clone(&installation), fleet.clone()),
            kube: kube::router(installation, fleet.clone()),
            fleet,
        }
    }

    async fn circleci(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let request = Request::builder().method(method).uri(uri).header("Circle-Token", SIM_TOKEN);
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
        let (status, text) = send(&self.circleci, request.body(body).unwrap()).await;
        assert!(status.is_success(), "{uri}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn nomad(&self, uri: &str) -> Value {
        let (status, text) = send(&self.nomad, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `nomad` with `arguments` in a nomad-server pod, as `kubectl exec` runs it.
    fn nomad_cli(&self, arguments: &str) -> CommandOutput {
        let argv: Vec<String> = format!("nomad {arguments}").split(' ').map(str::to_owned).collect();
        nomad::run_command(&self.fleet.lock().nomad_at(tokio::time::Instant::now()), &argv)
    }

    async fn autoscaler_log(&self) -> String {
        let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
        let (_, list) = send(&self.kube, Request::get(&pods).body(Body::empty()).unwrap()).await;
        let list: Value = serde_json::from_str(&list).unwrap();
        let pod = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pod| pod["metadata"]["name"].as_str().unwrap().to_owned())
            .find(|name| name.starts_with("nomad-autoscaler-"))
            .unwrap();
        let (status, log) =
            send(&self.kube, Request::get(format!("{pods}/{pod}/log")).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        log
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn timestamp(value: &Value) -> Timestamp {
    value.as_str().unwrap_or_else(|| panic!("not a time: {value}")).parse().unwrap()
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    from.duration_until(to).as_secs_f64()
}

/// The nearest-rank `p`th percentile of `sorted`.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p).div_ceil(100).max(1) - 1]
}

/// What one capacity measurement saw.
#[derive(Debug)]
struct Measured {
    /// Each started container's wait from the job's `queued_at` to its first step, sorted.
    waits: Vec<f64>,
    containers_started: usize,
    /// Clients in the node list at each sample, and the most Nomad jobs queued at once.
    clients: Vec<usize>,
    most_queued_allocations: u64,
    /// When the node list first grew, from the trigger.
    first_scale_out: Option<f64>,
    /// How long containers waited, sample to sample, while the clients were at the release's max.
    waited_at_max: f64,
    workflow: String,
}

/// Runs `capacity --jobs <containers> --resource-class <class> --hold 60s` against `apis`,
/// sampling until every container started or `limit` passed.
async fn measure(apis: &Apis, containers: usize, class: &str, max: usize, limit: Duration) -> Measured {
    let trigger = json!({"parameters": {
        "run_id": "capacity", "docker": false, "features": false, "capacity_executor": "docker",
        "capacity_jobs": containers, "capacity_resource_class": class, "capacity_hold_seconds": 60
    }});
    let pipeline = apis.circleci(Method::POST, &format!("/api/v2/project/{SIM_PROJECT}/pipeline"), Some(trigger)).await;
    let triggered = timestamp(&pipeline["created_at"]);
    let pipeline_id = pipeline["id"].as_str().unwrap().to_owned();
    let workflows = apis.circleci(Method::GET, &format!("/api/v2/pipeline/{pipeline_id}/workflow"), None).await;
    assert_eq!(workflows["items"].as_array().unwrap().len(), 1, "{workflows}");
    let workflow = workflows["items"][0]["id"].as_str().unwrap().to_owned();
    let (mut clients, mut most_queued_allocations, mut first_scale_out, mut waited_at_max) = (Vec::new(), 0, None, 0.0);
    let mut elapsed = Duration::ZERO;
    let mut build = Value::Null;
    let mut details = Value::Null;
    while elapsed <= limit {
        let jobs = apis.circleci(Method::GET, &format!("/api/v2/workflow/{workflow}/job"), None).await;
        assert_eq!(jobs["items"].as_array().unwrap().len(), 1);
        if let Some(number) = jobs["items"][0]["job_number"].as_u64() {
            details = apis.circleci(Method::GET, &format!("/api/v2/project/{SIM_PROJECT}/job/{number}"), None).await;
            let path = format!("/api/v1.1/project/github/{}/{number}", SIM_PROJECT.trim_start_matches("gh/"));
            build = apis.circleci(Method::GET, &path, None).await;
        }
        // The node list as the HTTP API and the CLI give it agree at every sample.
        let nodes = apis.nomad("/v1/nodes").await.as_array().unwrap().len();
        let listed: Vec<Value> = serde_json::from_str(&apis.nomad_cli("node status -json").stdout).unwrap();
        assert_eq!(listed.len(), nodes, "at {elapsed:?}");
        let queued: u64 = apis
            .nomad("/v1/jobs")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|job| job["JobSummary"]["Summary"]["build"]["Queued"].as_u64().unwrap())
            .sum();
        let cli_jobs: Vec<Value> = serde_json::from_str(&apis.nomad_cli("operator api /v1/jobs").stdout).unwrap();
        let cli_queued: u64 =
            cli_jobs.iter().map(|job| job["JobSummary"]["Summary"]["build"]["Queued"].as_u64().unwrap()).sum();
        assert_eq!(cli_queued, queued, "at {elapsed:?}");
        most_queued_allocations = most_queued_allocations.max(queued);
        if first_scale_out.is_none() && clients.first().is_some_and(|first| nodes > *first) {
            first_scale_out = Some(elapsed.as_secs_f64());
        }
        let runs = details["parallel_runs"].as_array().cloned().unwrap_or_default();
        if nodes >= max && runs.iter().any(|run| run["status"] == "queued") {
            waited_at_max += SAMPLE.as_secs_f64();
        }
        clients.push(nodes);
        if !runs.is_empty() && runs.iter().all(|run| run["status"] != "queued") {
            break;
        }
        tokio::time::advance(SAMPLE).await;
        elapsed += SAMPLE;
    }
    assert_eq!(details["parallelism"], containers);
    let queued_at = timestamp(&details["queued_at"]);
    assert!(seconds(triggered, queued_at) < 0.001, "the job queues as the pipeline starts");
    let spin_up = build["steps"].as_array().and_then(|steps| steps.first()).cloned().unwrap_or(Value::Null);
    let actions = spin_up["actions"].as_array().cloned().unwrap_or_default();
    let mut waits: Vec<f64> =
        actions.iter().map(|action| seconds(queued_at, timestamp(&action["start_time"]))).collect();
    waits.sort_by(f64::total_cmp);
    Measured {
        containers_started: actions.len(),
        waits,
        clients,
        most_queued_allocations,
        first_scale_out,
        waited_at_max,
        workflow,
    }
}

#[tokio::test(start_paused = true)]
async fn capacity_healthy_scales_out_and_starts_fifty_containers_within_seconds() {
    let apis = Apis::of(Scenario::CapacityHealthy);
    let measured = measure(&apis, 50, "medium", 15, Duration::from_secs(60)).await;
    eprintln!("capacity-healthy: {measured:?}");
    assert_eq!(measured.containers_started, 50);
    let p95 = percentile(&measured.waits, 95);
    // An evaluation within a second, a client's boot in a second more, after the dispatch.
    assert!(p95 < 2.5, "p95 wait {p95:.3}s: {measured:?}");
    assert!(percentile(&measured.waits, 50) > 1.0, "most wait for the clients the autoscaler adds: {measured:?}");
    assert_eq!(measured.clients.first(), Some(&2));
    let peak = *measured.clients.iter().max().unwrap();
    assert!((3..15).contains(&peak), "a scale-out below the max: {measured:?}");
    assert!(measured.first_scale_out.is_some_and(|at| at <= 2.3), "{measured:?}");
    assert_eq!(measured.waited_at_max, 0.0);
    assert_eq!(measured.most_queued_allocations, 42, "two clients hold eight of fifty");
    let log = apis.autoscaler_log().await;
    let scaled: Vec<&str> = log.lines().filter(|line| line.contains("msg=\"scaling target\"")).collect();
    assert_eq!(scaled.len(), 1, "{log}");
    assert!(scaled[0].contains(&format!("from=2 to={peak}")), "{log}");
    assert!(!log.contains("level=error"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn at_the_autoscalers_max_the_clients_stay_and_waits_grow() {
    let apis = Apis::of(Scenario::AutoscalerAtMax);
    let measured = measure(&apis, 50, "medium", 2, Duration::from_secs(120)).await;
    eprintln!("autoscaler-at-max: {measured:?}");
    assert_eq!(measured.containers_started, 50);
    assert!(measured.clients.iter().all(|clients| *clients == 2), "{measured:?}");
    assert_eq!(measured.first_scale_out, None);
    let p95 = percentile(&measured.waits, 95);
    assert!(p95 > 8.0, "p95 wait {p95:.3}s: seven waves of eight: {measured:?}");
    assert!(measured.waited_at_max > 8.0, "{measured:?}");
    assert!(!apis.autoscaler_log().await.contains("scaling target"));
}

#[tokio::test(start_paused = true)]
async fn a_stuck_autoscaler_logs_an_error_at_each_evaluation_and_adds_no_client() {
    let apis = Apis::of(Scenario::AutoscalerStuck);
    let measured = measure(&apis, 50, "medium", 5, Duration::from_secs(120)).await;
    eprintln!("autoscaler-stuck: {measured:?}");
    assert_eq!(measured.containers_started, 50);
    assert!(measured.clients.iter().all(|clients| *clients == 2), "{measured:?}");
    let p95 = percentile(&measured.waits, 95);
    assert!(p95 > 8.0, "p95 wait {p95:.3}s: {measured:?}");
    let log = apis.autoscaler_log().await;
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("level=error")).collect();
    // One evaluation a second while containers wait, from the first to the last wave.
    let last_wait = *measured.waits.last().unwrap();
    assert!((last_wait.floor() as usize..=last_wait.ceil() as usize + 1).contains(&errors.len()), "{log}");
    assert!(errors.iter().all(|line| line.contains("api error ValidationError: New SetDesiredCapacity")), "{log}");
    assert!(!log.contains("AccessDenied") && !log.contains("is not authorized"), "not an authorisation refusal");
}

#[tokio::test(start_paused = true)]
async fn on_clients_too_small_xlarge_waits_in_nomad_until_cancelled_and_medium_runs() {
    let apis = Apis::of(Scenario::ClientsTooSmall);
    let node = apis.nomad("/v1/nodes").await[0]["ID"].as_str().unwrap().to_owned();
    let details = apis.nomad(&format!("/v1/node/{node}")).await;
    assert_eq!(details["Attributes"]["cpu.numcores"], "4");
    assert_eq!(details["Attributes"]["memory.totalbytes"], (16_384_u64 << 20).to_string());
    assert_eq!(details["ReservedResources"]["Memory"]["MemoryMB"], 4_096);
    assert_eq!(details["Attributes"]["platform.aws.instance-type"], "t3a.xlarge");
    let cli: Value = serde_json::from_str(&apis.nomad_cli(&format!("node status -json {node}")).stdout).unwrap();
    assert_eq!(cli["Attributes"], details["Attributes"]);

    let xlarge = measure(&apis, 10, "xlarge", 5, Duration::from_secs(30)).await;
    eprintln!("clients-too-small, xlarge: {xlarge:?}");
    assert_eq!(xlarge.containers_started, 0);
    assert_eq!(xlarge.most_queued_allocations, 10);
    assert!(xlarge.clients.iter().all(|clients| *clients == 2), "the autoscaler adds no client for them");
    let cancel = format!("/api/v2/workflow/{}/cancel", xlarge.workflow);
    assert_eq!(apis.circleci(Method::POST, &cancel, None).await, json!({"message": "Accepted."}));
    tokio::time::advance(SAMPLE).await;
    let jobs = apis.nomad("/v1/jobs").await;
    assert!(jobs.as_array().unwrap().iter().all(|job| job["Status"] == "dead" && job["Stop"] == true), "{jobs}");

    let medium = measure(&apis, 10, "medium", 5, Duration::from_secs(60)).await;
    eprintln!("clients-too-small, medium: {medium:?}");
    assert_eq!(medium.containers_started, 10);
    assert_eq!(medium.most_queued_allocations, 6, "a t3a.xlarge holds two medium containers");
    assert!(medium.clients.iter().max().is_some_and(|peak| *peak > 2), "the autoscaler adds clients: {medium:?}");
}

#[tokio::test(start_paused = true)]
async fn v1_builds_show_an_action_per_started_container_with_its_output() {
    let apis = Apis::of(Scenario::AutoscalerAtMax);
    let measured = measure(&apis, 10, "medium", 2, Duration::ZERO).await;
    assert_eq!(measured.containers_started, 0, "nothing started at the trigger");
    // Eight start once the job reaches Nomad; two wait for the first to end.
    tokio::time::advance(Duration::from_millis(400)).await;
    let jobs = apis.circleci(Method::GET, &format!("/api/v2/workflow/{}/job", measured.workflow), None).await;
    let number = jobs["items"][0]["job_number"].as_u64().unwrap();
    let path = format!("/api/v1.1/project/github/{}/{number}", SIM_PROJECT.trim_start_matches("gh/"));
    let build = apis.circleci(Method::GET, &path, None).await;
    assert_eq!((build["parallel"].clone(), build["status"].clone()), (json!(10), json!("running")));
    let spin_up = build["steps"][0]["actions"].as_array().unwrap();
    let indexes: Vec<u64> = spin_up.iter().map(|action| action["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5, 6, 7]);
    let details = apis.circleci(Method::GET, &format!("/api/v2/project/{SIM_PROJECT}/job/{number}"), None).await;
    let runs: Vec<(u64, &str)> = details["parallel_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| (run["index"].as_u64().unwrap(), run["status"].as_str().unwrap()))
        .collect();
    assert_eq!(runs[7], (7, "running"));
    assert_eq!(runs[8..], [(8, "queued"), (9, "queued")]);

    tokio::time::advance(Duration::from_secs(30)).await;
    let build = apis.circleci(Method::GET, &path, None).await;
    assert_eq!(build["status"], "success");
    let hold = &build["steps"][1];
    assert_eq!(hold["name"], "Hold the executor");
    let actions = hold["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 10);
    let first_start = timestamp(&actions[0]["start_time"]);
    let last_start = timestamp(&actions[9]["start_time"]);
    assert!(seconds(first_start, last_start) > 1.0, "container 9 ran after a first wave ended");
    for (index, action) in actions.iter().enumerate() {
        assert_eq!((action["index"].as_u64(), action["status"].as_str()), (Some(index as u64), Some("success")));
        // The sleep of 60 s takes a second.
        assert!(action["run_time_millis"].as_u64().unwrap() >= 1_000, "{action}");
        let url = action["output_url"].as_str().unwrap().strip_prefix("https://localhost").unwrap();
        let (status, output) = send(&apis.circleci, Request::get(url).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let output: Value = serde_json::from_str(&output).unwrap();
        let expected = format!("realitycheck capacity container {index} of 10 holds medium\r\n");
        assert_eq!(output[0]["message"], expected.as_str());
    }
}
