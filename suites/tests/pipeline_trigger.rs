//! `pipeline::trigger` against a server whose project config is older than realitycheck: the
//! trigger is refused (400, undeclared parameters) and the check says to push the current config.

use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use harness::{CancellationToken, EventSink, Outcome, Run, RunInfo, RunOptions, Selection, Timeouts};
use realitycheck_config::{Secret, Target};
use serde_json::json;
use suites::RealityCheck;
use url::Url;

const SLUG: &str = "gh/example-org/realitycheck";

/// An API with the user, the project, no contexts, and a trigger that refuses the parameters.
async fn server_with_an_old_project_config() -> String {
    let router = Router::new()
        .route("/api/v2/me", get(|| async { Json(json!({"id": "u", "login": "operator", "name": "Operator"})) }))
        .route(
            "/api/v2/project/gh/example-org/realitycheck",
            get(|| async {
                Json(json!({"slug": SLUG, "name": "realitycheck", "id": "p", "organization_name": "example-org",
                    "organization_slug": "gh/example-org", "organization_id": "4c9e2b7a-1f3d-4a85-9b6e-0d27c5a8f314",
                    "vcs_info": {"vcs_url": "https://github.com/example-org/realitycheck", "provider": "GitHub", "default_branch": "main"}}))
            }),
        )
        .route("/api/v2/context", get(|| async { Json(json!({"items": [], "next_page_token": null})) }))
        .route(
            "/api/v2/project/gh/example-org/realitycheck/pipeline",
            post(|| async {
                (StatusCode::BAD_REQUEST, Json(json!({"message": "Unexpected argument(s): docker, features"})))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_refused_trigger_asks_for_the_current_project_config_and_blocks_the_jobs() {
    let host = server_with_an_old_project_config().await;
    let mut target = Target::with_defaults("old");
    target.host = Some(Url::parse(&host).unwrap());
    target.token = Some(Secret::new("CCIPAT_trigger_test"));
    target.project = Some(SLUG.into());
    let ten = Duration::from_secs(10);
    let options = RunOptions {
        info: RunInfo { target: "old".into(), host, profile: "test".into(), started_at: SystemTime::UNIX_EPOCH },
        selection: Selection { filters: vec!["pipeline::".into(), "executors::docker".into()], ..Default::default() },
        timeouts: Timeouts { cluster: ten, api: ten, pipeline: ten },
        deadline: None,
        retries: 0,
        retry_delay: Duration::ZERO,
        concurrency: 4,
        collect: false,
    };
    let (sink, _events) = EventSink::channel();
    let run = Run::new(RealityCheck::new(target, false), options);
    let summary = run.execute(&sink, CancellationToken::new()).await.unwrap().summary;
    let outcome = |id: &str| &summary.results.iter().find(|r| r.spec.id == id).unwrap().outcome;
    let Outcome::Failed { diagnosis } = outcome("pipeline::trigger") else {
        panic!("pipeline::trigger: {:?}", outcome("pipeline::trigger"));
    };
    assert!(diagnosis.summary.contains("Unexpected argument(s): docker, features"), "{diagnosis:?}");
    assert!(diagnosis.cause.contains("does not declare the pipeline parameters"), "{diagnosis:?}");
    assert!(diagnosis.remediation.contains("realitycheck init"), "{diagnosis:?}");
    let Outcome::Skipped { reason } = outcome("executors::docker") else {
        panic!("executors::docker: {:?}", outcome("executors::docker"));
    };
    assert!(reason.to_string().contains("blocked by pipeline::trigger"), "{reason}");
}
