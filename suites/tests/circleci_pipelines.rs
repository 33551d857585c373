//! The pipeline side of the client against a small loopback server with spec-shaped
//! bodies (the simulated execution plane comes with the pipeline checks): request shape,
//! pagination, decoding, and where the token goes (never to object storage or presigned URLs).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Json, Router};
use realitycheck_config::Secret;
use serde_json::{Value, json};
use suites::clients::circleci::{ApiClient, ApiSettings, JobStatus, PipelineState, RetryPolicy, WorkflowStatus};
use url::Url;

const TOKEN: &str = "CCIPAT_pipeline_tests_77aa";

/// What the servers saw: (path, whether a Circle-Token header came with it, body).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, bool, Value)>>>);

impl Seen {
    fn record(&self, path: &str, headers: &HeaderMap, body: Value) {
        self.0.lock().unwrap().push((path.to_string(), headers.contains_key("circle-token"), body));
    }

    fn token_sent_to(&self, path: &str) -> Option<bool> {
        self.0.lock().unwrap().iter().find(|(p, _, _)| p == path).map(|(_, token, _)| *token)
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn page(items: Value, next: Option<&str>) -> Json<Value> {
    Json(json!({ "items": items, "next_page_token": next }))
}

/// Object storage on another host: serves blobs and step output, recording the headers.
async fn storage(seen: Seen) -> SocketAddr {
    let router = Router::new()
        .route(
            "/blob",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.record("/blob", &headers, Value::Null);
                "artifact content"
            }),
        )
        .route(
            "/output",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.record("/output", &headers, Value::Null);
                Json(json!([{"message": "make: *** [all] Error 2\r\n", "time": "2026-01-01T00:00:00Z", "type": "err"}]))
            }),
        )
        .with_state(seen);
    serve(router).await
}

/// The installation's API.
async fn api(seen: Seen, storage: SocketAddr) -> SocketAddr {
    let workflow = |id: &str, status: &str| {
        json!({"id": id, "name": format!("wf-{id}"), "status": status, "pipeline_id": "p-1", "pipeline_number": 9,
               "project_slug": "gh/org/repo", "started_by": "u", "created_at": "2026-01-01T00:00:00Z", "stopped_at": null})
    };
    let job = |id: &str, number: Option<u64>, status: &str| {
        json!({"id": id, "name": format!("job-{id}"), "status": status, "type": "build", "job_number": number,
               "dependencies": [], "project_slug": "gh/org/repo", "started_at": null})
    };
    let router = Router::new()
        .route(
            "/api/v2/project/gh/org/repo/pipeline",
            post(|State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>| async move {
                seen.record("trigger", &headers, body);
                (StatusCode::CREATED, Json(json!({"id": "p-1", "number": 9, "state": "pending", "created_at": "2026-01-01T00:00:00Z"})))
            }),
        )
        .route(
            "/api/v2/pipeline/{id}",
            get(|Path(id): Path<String>| async move {
                Json(json!({"id": id, "number": 9, "state": "errored", "project_slug": "gh/org/repo", "created_at": "2026-01-01T00:00:00Z",
                            "errors": [{"type": "config", "message": "Unknown parameter: nope"}],
                            "trigger": {"type": "api", "received_at": "2026-01-01T00:00:00Z", "actor": {"login": "bot", "avatar_url": null}}}))
            }),
        )
        .route(
            "/api/v2/pipeline/{id}/workflow",
            get(move |Query(query): Query<std::collections::HashMap<String, String>>| async move {
                match query.get("page-token").map(String::as_str) {
                    None => page(json!([workflow("w-1", "running")]), Some("opaque-2")),
                    Some("opaque-2") => page(json!([workflow("w-2", "on_hold")]), None),
                    Some(_) => page(json!([]), None),
                }
            }),
        )
        .route(
            "/api/v2/workflow/{id}/job",
            get(move |Query(query): Query<std::collections::HashMap<String, String>>| async move {
                match query.get("page-token").map(String::as_str) {
                    None => page(json!([job("j-1", Some(41), "queued"), job("approve", None, "on_hold")]), Some("t2")),
                    _ => page(json!([job("j-2", Some(42), "infrastructure_fail")]), None),
                }
            }),
        )
        .route("/api/v2/workflow/{id}/cancel", post(|| async { (StatusCode::ACCEPTED, Json(json!({"message": "Accepted."}))) }))
        .route(
            "/api/v2/project/gh/org/repo/job/{number}",
            get(|Path(number): Path<u64>| async move {
                Json(json!({"number": number, "name": "docker-medium", "status": "success", "executor": {"resource_class": "medium", "type": "docker"},
                            "contexts": [{"name": "org-global"}], "duration": 4321, "web_url": "https://ci.example.com/x",
                            "project": {"slug": "gh/org/repo", "name": "repo", "external_url": "https://github.com/org/repo"},
                            "organization": {"name": "org"}, "parallel_runs": [{"index": 0, "status": "success"}],
                            "latest_workflow": {"id": "w-1", "name": "wf"}, "pipeline": {"id": "p-1"}, "parallelism": 1, "messages": [],
                            "created_at": "2026-01-01T00:00:00Z", "queued_at": "2026-01-01T00:00:00Z", "started_at": "2026-01-01T00:00:01Z"}))
            }),
        )
        .route(
            "/api/v2/project/gh/org/repo/{number}/artifacts",
            get(move |headers: HeaderMap, State(seen): State<Seen>| async move {
                seen.record("artifacts", &headers, Value::Null);
                let api = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
                page(
                    json!([
                        {"path": "local.txt", "node_index": 0, "url": format!("http://{api}/artifact/local.txt")},
                        {"path": "remote.txt", "node_index": 0, "url": format!("http://{api}/artifact/remote.txt")}
                    ]),
                    None,
                )
            }),
        )
        .route(
            "/artifact/local.txt",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                seen.record("/artifact/local.txt", &headers, Value::Null);
                "served by the API host"
            }),
        )
        .route("/artifact/remote.txt", get(move || async move { Redirect::temporary(&format!("http://{storage}/blob")) }))
        .route(
            "/api/v2/project/gh/org/repo/{number}/tests",
            get(|| async {
                page(json!([{"message": null, "source": "unknown", "run_time": 0.25, "file": null, "result": "success",
                             "name": "contexts digest matches", "classname": "realitycheck.features"}]), None)
            }),
        )
        .route(
            "/api/v1.1/project/github/org/repo/{number}",
            get(move |Path(number): Path<u64>| async move {
                Json(json!({"build_num": number, "status": "failed", "outcome": "failed", "steps": [
                    {"name": "Spin up environment", "actions": [{"name": "Spin up environment", "status": "success", "index": 0, "step": 0}]},
                    {"name": "make", "actions": [{"name": "make", "status": "failed", "exit_code": 2, "index": 0, "step": 101,
                      "has_output": true, "output_url": format!("http://{storage}/output?X-Amz-Signature=secret")}]}
                ]}))
            }),
        )
        .with_state(seen);
    serve(router).await
}

async fn setup() -> (ApiClient, Seen) {
    let seen = Seen::default();
    let storage = storage(seen.clone()).await;
    let api = api(seen.clone(), storage).await;
    let client = ApiClient::new(&ApiSettings {
        host: Url::parse(&format!("http://{api}")).unwrap(),
        token: Secret::new(TOKEN),
        timeout: Duration::from_secs(10),
        ca_bundle: None,
        insecure: false,
        // Reads given up after a second: a read of a closed port fails in half of one.
        retry: RetryPolicy { read_budget: Duration::from_secs(1), ..RetryPolicy::default() },
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap();
    (client, seen)
}

#[tokio::test]
async fn triggers_with_branch_and_parameters() {
    let (client, seen) = setup().await;
    let mut parameters = serde_json::Map::new();
    parameters.insert("run_id".into(), json!("rc-1"));
    parameters.insert("windows".into(), json!(false));
    let created = client.trigger_pipeline("gh/org/repo", Some("main"), &parameters).await.unwrap();
    assert_eq!((created.id.as_str(), created.number, created.state), ("p-1", 9, PipelineState::Pending));
    let sent = seen.0.lock().unwrap().iter().find(|(p, _, _)| p == "trigger").cloned().unwrap();
    assert!(sent.1, "the API call carries the token");
    assert_eq!(sent.2, json!({"branch": "main", "parameters": {"run_id": "rc-1", "windows": false}}));
}

#[tokio::test]
async fn follows_pipeline_workflows_and_jobs_through_every_page() {
    let (client, _) = setup().await;
    let pipeline = client.pipeline("p-1").await.unwrap();
    assert_eq!(pipeline.state, PipelineState::Errored);
    assert_eq!(pipeline.errors[0].message, "Unknown parameter: nope");
    let workflows = client.pipeline_workflows("p-1").await.unwrap();
    let statuses: Vec<_> = workflows.iter().map(|w| w.status.clone()).collect();
    assert_eq!(statuses, [WorkflowStatus::Running, WorkflowStatus::OnHold]);
    let jobs = client.workflow_jobs("w-1").await.unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[1].job_number, None, "the approval job has no number");
    assert_eq!(jobs[2].status, JobStatus::InfrastructureFail);
    assert_eq!(client.cancel_workflow("w-1").await.unwrap(), "Accepted.");
}

#[tokio::test]
async fn reads_job_details_tests_and_artifacts_without_leaking_the_token() {
    let (client, seen) = setup().await;
    let details = client.job_details("gh/org/repo", 41).await.unwrap();
    assert_eq!(details.executor.resource_class, "medium");
    assert_eq!(details.status, Some(JobStatus::Success));
    assert_eq!(details.duration, Some(4321));
    let tests = client.job_tests("gh/org/repo", 41).await.unwrap();
    assert_eq!(tests[0].name, "contexts digest matches");
    assert_eq!(tests[0].file, None);

    let artifacts = client.job_artifacts("gh/org/repo", 41).await.unwrap();
    assert_eq!(client.download_artifact(&artifacts[0]).await.unwrap(), b"served by the API host");
    assert_eq!(seen.token_sent_to("/artifact/local.txt"), Some(true), "the installation's own host gets the token");
    assert_eq!(client.download_artifact(&artifacts[1]).await.unwrap(), b"artifact content");
    assert_eq!(seen.token_sent_to("/blob"), Some(false), "object storage never sees the token");
}

#[tokio::test]
async fn reads_a_failed_steps_output_through_v1_1_without_the_token() {
    let (client, seen) = setup().await;
    let build = client.build_details("gh/org/repo", 42).await.unwrap();
    let failed = build.steps.iter().flat_map(|s| &s.actions).find(|a| a.status.as_deref() == Some("failed")).unwrap();
    assert_eq!(failed.step, Some(101));
    let lines = client.step_output(failed.output_url.as_deref().unwrap()).await.unwrap();
    assert_eq!(lines[0].message, "make: *** [all] Error 2\r\n");
    assert_eq!(seen.token_sent_to("/output"), Some(false), "presigned URLs are fetched without the token");
}

#[tokio::test]
async fn presigned_signatures_stay_out_of_errors() {
    let (client, _) = setup().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let missing = client.step_output(&format!("http://{closed}/gone?X-Amz-Signature=abc")).await.unwrap_err();
    assert!(missing.to_string().contains(&format!("http://{closed}/gone")), "{missing}");
    assert!(missing.to_string().contains("still failing after 2 attempts"), "retried like an API read: {missing}");
    let status =
        serve(Router::new().route("/gone", get(|| async { (StatusCode::FORBIDDEN, "<Error>expired</Error>") }))).await;
    let expired = client.step_output(&format!("http://{status}/gone?X-Amz-Signature=abc")).await.unwrap_err();
    assert_eq!(expired.status(), Some(403));
    assert!(!expired.to_string().contains("X-Amz-Signature"), "{expired}");
    assert!(!missing.to_string().contains("X-Amz-Signature"), "{missing}");
}
