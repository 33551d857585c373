//! The API client against servers that misbehave on purpose: lists that never end, bodies
//! that never end, download URLs that would carry the token over plain HTTP, and answers that
//! fail for a while (reads retried within their budget, writes a fixed number of times). Each
//! test bounds its own time, so that a client that reads forever fails instead of hanging.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use realitycheck_config::Secret;
use suites::clients::circleci::{ApiClient, ApiError, ApiSettings, Artifact, RetryPolicy, calls_until};
use url::Url;

const TOKEN: &str = "CCIPAT_hostile_4b1d";

/// Long enough for a bounded client, far too short to read an endless body.
const BOUND: Duration = Duration::from_secs(20);

fn client(base: &str, max_pages: u32) -> ApiClient {
    ApiClient::new(&ApiSettings {
        host: Url::parse(base).unwrap(),
        token: Secret::new(TOKEN),
        timeout: Duration::from_secs(60),
        ca_bundle: None,
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages,
    })
    .unwrap()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// A body of `chunk`s without end (and without a length), counting the bytes handed out.
fn endless(sent: Arc<AtomicUsize>, chunk: &'static [u8]) -> Body {
    Body::from_stream(futures::stream::repeat_with(move || {
        sent.fetch_add(chunk.len(), Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk)
    }))
}

#[tokio::test]
async fn a_list_that_never_ends_stops_at_max_pages() {
    let requests = Arc::new(AtomicUsize::new(0));
    async fn page(State(requests): State<Arc<AtomicUsize>>) -> String {
        let n = requests.fetch_add(1, Ordering::Relaxed);
        format!(r#"{{"items":[{{"id":"{n}","name":"c{n}"}}],"next_page_token":"token-{n}"}}"#)
    }
    let addr = serve(Router::new().route("/api/v2/context", get(page)).with_state(Arc::clone(&requests))).await;
    let listed = tokio::time::timeout(BOUND, client(&format!("http://{addr}"), 7).contexts("org")).await;
    let error = listed.expect("the walk ends").unwrap_err();
    assert!(matches!(error, ApiError::TooManyPages { pages: 7, .. }), "{error}");
    assert_eq!(requests.load(Ordering::Relaxed), 7, "exactly max_pages requests");
    assert!(error.to_string().contains("did not end after 7 pages (max_pages)"), "{error}");
    assert_eq!(default_max_pages(), 500, "the default is generous");
}

#[tokio::test]
async fn an_endless_answer_is_read_up_to_its_limit_only() {
    let sent = Arc::new(AtomicUsize::new(0));
    let me = {
        let sent = Arc::clone(&sent);
        move || async move { endless(sent, &[b' '; 16 * 1024]) }
    };
    let addr = serve(Router::new().route("/api/v2/me", get(me))).await;
    let answered = tokio::time::timeout(BOUND, client(&format!("http://{addr}"), default_max_pages()).me()).await;
    let error = answered.expect("reading stops").unwrap_err();
    assert!(matches!(error, ApiError::TooLarge { limit: 4194304, .. }), "{error}");
    assert!(error.to_string().contains("sent more than 4 MiB (an API answer, the most realitycheck reads)"), "{error}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 16 * 1024 * 1024, "the client stopped reading: the server handed out {sent} bytes");
}

#[tokio::test]
async fn an_endless_artifact_is_read_up_to_its_limit_only() {
    let sent = Arc::new(AtomicUsize::new(0));
    let artifact = {
        let sent = Arc::clone(&sent);
        move || async move { endless(sent, &[b'a'; 64 * 1024]) }
    };
    let addr = serve(Router::new().route("/artifact.txt", get(artifact))).await;
    let base = format!("http://{addr}");
    let artifact = Artifact { path: "artifact.txt".into(), node_index: 0, url: format!("{base}/artifact.txt") };
    let downloaded = tokio::time::timeout(BOUND, client(&base, default_max_pages()).download_artifact(&artifact)).await;
    let error = downloaded.expect("reading stops").unwrap_err();
    assert!(matches!(error, ApiError::TooLarge { what: "a download", .. }), "{error}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 32 * 1024 * 1024, "the client stopped reading: the server handed out {sent} bytes");
}

#[tokio::test]
async fn the_token_never_goes_to_the_same_host_over_plain_http() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |headers: HeaderMap| async move {
            let token = headers.get("circle-token").map(|v| v.to_str().unwrap_or_default().to_string());
            seen.lock().unwrap().push(token);
            "artifact"
        }
    };
    let addr = serve(Router::new().route("/artifact.txt", get(record))).await;
    // The installation is https on this host and port; the artifact URL is http there.
    let client = client(&format!("https://{addr}"), default_max_pages());
    let artifact = Artifact { path: "artifact.txt".into(), node_index: 0, url: format!("http://{addr}/artifact.txt") };
    assert_eq!(client.download_artifact(&artifact).await.unwrap(), b"artifact");
    assert_eq!(*seen.lock().unwrap(), [None], "no Circle-Token over http");
}

/// A server that closes its first `drops` connections without an answer, then answers every
/// request with `body`; counts the connections.
async fn dropping_server(drops: usize, body: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                if n < drops {
                    return; // closed without an answer, as a reset load balancer does
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, connections)
}

/// Settings for `base` with retries 10 ms apart.
fn quick_settings(base: &str) -> ApiSettings {
    ApiSettings {
        host: Url::parse(base).unwrap(),
        token: Secret::new(TOKEN),
        timeout: Duration::from_secs(10),
        ca_bundle: None,
        insecure: false,
        retry: RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        max_pages: default_max_pages(),
    }
}

fn quick_client(base: &str) -> ApiClient {
    ApiClient::new(&quick_settings(base)).unwrap()
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_reads_and_never_for_a_trigger() {
    let (addr, connections) = dropping_server(1, r#"{"id":"u-1","login":"retried"}"#).await;
    let client = quick_client(&format!("http://{addr}"));
    assert_eq!(client.me().await.unwrap().login, "retried");
    assert_eq!(connections.load(Ordering::Relaxed), 2);
    let retries = client.retries();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].call == "GET /api/v2/me" && retries[0].reason.starts_with("connection failed: "), "{retries:?}");

    let (addr, connections) = dropping_server(1, r#"{"id":"p-1","number":1,"state":"created","created_at":"x"}"#).await;
    let client = quick_client(&format!("http://{addr}"));
    let triggered = client.trigger_pipeline("gh/o/r", None, &serde_json::Map::new()).await;
    assert!(matches!(triggered, Err(ApiError::Unreachable { .. })), "{triggered:?}");
    assert_eq!(connections.load(Ordering::Relaxed), 1, "a trigger is never sent twice blindly");
}

/// Settings for `base` with retries 10 ms apart and reads given up after `read_budget`.
fn budgeted_settings(base: &str, read_budget: Duration) -> ApiSettings {
    let settings = quick_settings(base);
    ApiSettings { retry: RetryPolicy { read_budget, ..settings.retry.clone() }, ..settings }
}

#[tokio::test]
async fn a_server_that_drops_every_connection_is_read_until_the_budget_and_written_to_four_times() {
    let (addr, connections) = dropping_server(usize::MAX, "{}").await;
    let client = ApiClient::new(&budgeted_settings(&format!("http://{addr}"), Duration::from_millis(300))).unwrap();
    let error = tokio::time::timeout(BOUND, client.me()).await.expect("the budget ends the read").unwrap_err();
    assert!(matches!(error, ApiError::Unreachable { .. }), "{error:?}");
    let tried = connections.load(Ordering::Relaxed);
    assert!(tried > 1 + 3, "more than the old fixed three retries within 300ms, 10ms apart: {tried}");
    assert_eq!(client.retries().len(), tried - 1, "each retry is recorded");
    let text = error.to_string();
    assert!(text.contains(&format!("still failing after {tried} attempts over ")), "{text}");
    assert!(text.contains("(reads are retried for 300ms at most): check the CircleCI API's pods"), "{text}");

    // A write (PUT) keeps its fixed number of retries.
    let (addr, connections) = dropping_server(usize::MAX, "{}").await;
    let client = quick_client(&format!("http://{addr}"));
    let error = client.put_context_variable("c-1", "NAME", &Secret::new("value")).await.unwrap_err();
    assert!(matches!(error, ApiError::Unreachable { .. }), "{error:?}");
    assert_eq!(connections.load(Ordering::Relaxed), 1 + 3, "the first attempt and three retries, no more");
    assert_eq!(client.retries().len(), 3);
    assert!(!error.to_string().contains("still failing after"), "{error}");
}

/// The API of pipeline `p-1`, created (number 7), whose workflow list `workflows` answers.
fn created_pipeline<H: axum::handler::Handler<T, ()>, T: 'static>(workflows: H) -> Router {
    Router::new()
        .route("/api/v2/pipeline/p-1", get(|| async { r#"{"id":"p-1","number":7,"state":"created"}"# }))
        .route("/api/v2/pipeline/p-1/workflow", get(workflows))
}

/// A pipeline API whose workflow list answers 503 to its first `failures` requests (all of
/// them with `None`), then one finished workflow.
async fn flaky_pipeline_api(failures: Option<usize>) -> SocketAddr {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let calls = Arc::new(AtomicUsize::new(0));
    let workflows = move || {
        let calls = Arc::clone(&calls);
        async move {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            if failures.is_none_or(|failures| n < failures) {
                return (StatusCode::SERVICE_UNAVAILABLE, r#"{"message":"upstream unavailable"}"#).into_response();
            }
            r#"{"items":[{"id":"w-1","name":"docker","status":"success"}],"next_page_token":null}"#.into_response()
        }
    };
    let router = created_pipeline(workflows)
        .route("/api/v2/workflow/w-1/job", get(|| async { r#"{"items":[],"next_page_token":null}"# }));
    serve(router).await
}

/// Runs the poller of pipeline `p-1` at `addr` to its end, with these graces (and 30 s for a
/// created pipeline to show a workflow unless `no_workflow_grace` says otherwise).
async fn poll_to_the_end(
    addr: SocketAddr,
    failure_budget: Duration,
    setup_grace: Duration,
    no_workflow_grace: Option<Duration>,
) -> (ApiClient, suites::resources::pipeline::Snapshot) {
    use suites::resources::pipeline::{PollIntervals, poller};
    // The client sends each request once: the poller's own retries are what is counted.
    let client =
        ApiClient::new(&ApiSettings { retry: RetryPolicy::none(), ..quick_settings(&format!("http://{addr}")) })
            .unwrap();
    let intervals = PollIntervals {
        min: Duration::from_millis(5),
        max: Duration::from_millis(5),
        no_workflow_grace: no_workflow_grace.unwrap_or(Duration::from_secs(30)),
        failure_budget,
        setup_grace,
    };
    let (publish, mut snapshots) = tokio::sync::watch::channel(Arc::default());
    tokio::spawn(poller::poll(client.clone(), "p-1".into(), intervals, publish));
    let ended = tokio::time::timeout(BOUND, snapshots.wait_for(|s| s.end.is_some())).await;
    let snapshot = ended.expect("the poller ends").unwrap().as_ref().clone();
    (client, snapshot)
}

#[tokio::test]
async fn failed_polls_within_the_budget_are_retries_not_the_end() {
    use suites::resources::pipeline::PollEnd;
    let (client, snapshot) =
        poll_to_the_end(flaky_pipeline_api(Some(6)).await, Duration::from_secs(15), Duration::from_secs(15), None)
            .await;
    assert!(matches!(snapshot.end, Some(PollEnd::Finished)), "{:?}", snapshot.end);
    let polls: Vec<_> = client.retries().into_iter().filter(|r| r.call == "poll of pipeline p-1").collect();
    assert_eq!(polls.len(), 6, "6 failed requests, one per poll: {polls:?}");
    assert!(polls[0].reason.contains("503: upstream unavailable"), "{polls:?}");

    let (_, snapshot) =
        poll_to_the_end(flaky_pipeline_api(None).await, Duration::from_millis(50), Duration::from_secs(15), None).await;
    let Some(PollEnd::ApiFailed { failing_for, failed_polls, error }) = snapshot.end else {
        panic!("{:?}", snapshot.end)
    };
    assert!(failing_for > Duration::from_millis(50) && failed_polls > 1, "{failing_for:?} {failed_polls}");
    assert_eq!(error.status(), Some(503));
}

#[tokio::test]
async fn a_login_page_or_a_redirect_is_named_for_what_it_is() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let login = || async {
        axum::response::Html("<!DOCTYPE html>\n<html><head><title>Sign in – Okta\n</title></head><body>…</body></html>")
    };
    let moved = || async {
        (StatusCode::MOVED_PERMANENTLY, [("location", "https://circleci.example.com/api/v2/me")], "").into_response()
    };
    let addr = serve(Router::new().route("/api/v2/me", get(login)).route("/api/v2/context", get(moved))).await;
    let client = quick_client(&format!("http://{addr}"));
    let error = client.me().await.unwrap_err();
    assert!(matches!(error, ApiError::NotTheApi { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "GET /api/v2/me: not the CircleCI API at http://{addr}/api/v2/me: an HTML page answered (title: Sign in – Okta)"
        )
    );
    let error = client.contexts("org").await.unwrap_err();
    assert!(error.to_string().ends_with("redirects (301) to https://circleci.example.com/api/v2/me"), "{error}");
}

#[tokio::test]
async fn a_pipeline_that_never_leaves_setup_ends_the_poll_saying_so() {
    use suites::resources::pipeline::PollEnd;
    let router = Router::new()
        .route("/api/v2/pipeline/p-1", get(|| async { r#"{"id":"p-1","number":7,"state":"setup"}"# }))
        .route("/api/v2/pipeline/p-1/workflow", get(|| async { r#"{"items":[],"next_page_token":null}"# }));
    let addr = serve(router).await;
    let (_, snapshot) = poll_to_the_end(addr, Duration::from_secs(15), Duration::from_millis(60), None).await;
    let Some(PollEnd::NotCreated { state, waited }) = snapshot.end else { panic!("{:?}", snapshot.end) };
    assert_eq!(state, "setup");
    assert!(waited > Duration::from_millis(60), "{waited:?}");
}

#[tokio::test]
async fn a_finished_workflows_jobs_are_read_once() {
    use suites::resources::pipeline::PollEnd;
    let (lists, finished_reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = Arc::clone(&lists);
    // w-1 has finished; w-2 runs for the first three polls.
    let workflows = move || {
        let n = counted.fetch_add(1, Ordering::Relaxed);
        let second = if n < 3 { "running" } else { "success" };
        async move {
            format!(
                r#"{{"items":[{{"id":"w-1","name":"docker","status":"success"}},{{"id":"w-2","name":"machine","status":"{second}"}}],"next_page_token":null}}"#
            )
        }
    };
    let counted = Arc::clone(&finished_reads);
    let finished_jobs = move || {
        counted.fetch_add(1, Ordering::Relaxed);
        async { r#"{"items":[{"id":"j-1","name":"docker","status":"success","type":"build"}],"next_page_token":null}"# }
    };
    let router = created_pipeline(workflows)
        .route("/api/v2/workflow/w-1/job", get(finished_jobs))
        .route("/api/v2/workflow/w-2/job", get(|| async { r#"{"items":[],"next_page_token":null}"# }));
    let addr = serve(router).await;
    let (_, snapshot) = poll_to_the_end(addr, Duration::from_secs(15), Duration::from_secs(15), None).await;
    assert!(matches!(snapshot.end, Some(PollEnd::Finished)), "{:?}", snapshot.end);
    assert_eq!(lists.load(Ordering::Relaxed), 4, "four polls");
    assert_eq!(finished_reads.load(Ordering::Relaxed), 1, "w-1's jobs read at the first poll only");
    let second = snapshot.workflows.iter().find(|w| w.workflow.id == "w-2").unwrap();
    assert!(second.jobs.is_empty(), "w-2 keeps its own (empty) job list: {:?}", second.jobs);
}

#[tokio::test]
async fn a_created_pipeline_without_workflows_ends_the_poll_after_its_grace_and_not_before() {
    use suites::resources::pipeline::PollEnd;
    let router = created_pipeline(|| async { r#"{"items":[],"next_page_token":null}"# });
    let addr = serve(router).await;
    let grace = Duration::from_millis(60);
    let (_, snapshot) = poll_to_the_end(addr, Duration::from_secs(15), Duration::from_secs(15), Some(grace)).await;
    let Some(PollEnd::NoWorkflows { waited }) = snapshot.end else { panic!("{:?}", snapshot.end) };
    assert!(waited >= grace, "{waited:?}");

    // Workflows that appear a poll later, within the grace, are waited for.
    let lists = Arc::new(AtomicUsize::new(0));
    let workflows = move || {
        let first = lists.fetch_add(1, Ordering::Relaxed) == 0;
        async move {
            if first {
                r#"{"items":[],"next_page_token":null}"#
            } else {
                r#"{"items":[{"id":"w-1","name":"docker","status":"success"}],"next_page_token":null}"#
            }
        }
    };
    let router = created_pipeline(workflows)
        .route("/api/v2/workflow/w-1/job", get(|| async { r#"{"items":[],"next_page_token":null}"# }));
    let addr = serve(router).await;
    let (_, snapshot) = poll_to_the_end(addr, Duration::from_secs(15), Duration::from_secs(15), None).await;
    assert!(matches!(snapshot.end, Some(PollEnd::Finished)), "{:?}", snapshot.end);
}

/// A server that always answers `status` (with `Retry-After` when given) to `GET /api/v2/me`
/// and `POST /api/v2/context`, counting requests.
async fn always(status: u16, retry_after: Option<&'static str>) -> (SocketAddr, Arc<AtomicUsize>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    let answer = move || {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            let status = StatusCode::from_u16(status).unwrap();
            match retry_after {
                Some(seconds) => (status, [("retry-after", seconds)], "Rate limited.").into_response(),
                None => (status, "Service Unavailable").into_response(),
            }
        }
    };
    let router = Router::new().route("/api/v2/me", get(answer.clone())).route("/api/v2/context", post(answer));
    (serve(router).await, requests)
}

#[tokio::test]
async fn a_write_answered_503_is_tried_exactly_four_times_and_a_429_waits_its_retry_after() {
    let (addr, requests) = always(503, None).await;
    let client = quick_client(&format!("http://{addr}"));
    let error = client.create_context("rc", "org").await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(requests.load(Ordering::Relaxed), 1 + 3, "the first attempt and three retries, no more");
    assert_eq!(client.retries().len(), 3, "each retry is recorded for the pass note: {:?}", client.retries());
    assert_eq!(error.to_string(), "POST /api/v2/context answered 503: Service Unavailable");

    let (addr, requests) = always(429, Some("2")).await;
    let client = ApiClient::new(&ApiSettings {
        // A Retry-After exactly at the cap is still waited; a second one would pass the budget.
        retry: RetryPolicy {
            read_budget: Duration::from_secs(3),
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        ..quick_settings(&format!("http://{addr}"))
    })
    .unwrap();
    let started = std::time::Instant::now();
    let error = client.me().await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(error.status(), Some(429));
    assert_eq!(requests.load(Ordering::Relaxed), 2);
    let retries = client.retries();
    assert_eq!(retries[0].wait, Duration::from_secs(2), "Retry-After: 2 is what is waited: {retries:?}");
    assert!(retries[0].reason.starts_with("429 Retry-After 2s: Rate limited."), "{retries:?}");
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(10), "{waited:?}");
    assert!(error.to_string().contains("still failing after 2 attempts over 2"), "{error}");
}

/// The page nginx sends for a 502.
const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// A `GET /api/v2/me` that fails `failures` times in a row, a 502 page, a 503 and a 429 in
/// turn, then answers; counts requests.
async fn failing_for_a_while(failures: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    use axum::http::StatusCode;
    use axum::response::{Html, IntoResponse};
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    let me = move || {
        let n = counted.fetch_add(1, Ordering::Relaxed);
        async move {
            match n {
                n if n >= failures => r#"{"id":"u-1","login":"patient"}"#.into_response(),
                n if n % 3 == 0 => (StatusCode::BAD_GATEWAY, Html(NGINX_502)).into_response(),
                n if n % 3 == 1 => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
                _ => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "Rate limited.").into_response(),
            }
        }
    };
    (serve(Router::new().route("/api/v2/me", get(me))).await, requests)
}

#[tokio::test]
async fn a_read_failing_five_times_in_a_row_is_retried_to_its_answer_within_the_budget() {
    let (addr, requests) = failing_for_a_while(5).await;
    let client = quick_client(&format!("http://{addr}"));
    let me = tokio::time::timeout(BOUND, client.me()).await.expect("the read ends");
    assert_eq!(me.unwrap().login, "patient");
    assert_eq!(requests.load(Ordering::Relaxed), 6);
    let reasons: Vec<String> = client.retries().into_iter().map(|r| r.reason).collect();
    assert_eq!(
        reasons,
        [
            "502: an HTML page titled `502 Bad Gateway`",
            "503: Service Unavailable",
            "429 Retry-After 0ms: Rate limited.",
            "502: an HTML page titled `502 Bad Gateway`",
            "503: Service Unavailable",
        ]
    );
}

#[tokio::test]
async fn a_read_failing_past_its_budget_ends_naming_its_attempts_and_time() {
    let (addr, requests) = failing_for_a_while(usize::MAX).await;
    let client = ApiClient::new(&budgeted_settings(&format!("http://{addr}"), Duration::from_millis(300))).unwrap();
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(BOUND, client.me()).await.expect("the budget ends the read").unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(290), "{:?}", started.elapsed());
    let tried = requests.load(Ordering::Relaxed);
    assert!(tried > 4, "more than the old fixed three retries within 300ms, 10ms apart: {tried}");
    assert!(error.status().is_some(), "the last answer's status: {error}");
    let text = error.to_string();
    assert!(text.starts_with("GET /api/v2/me answered "), "{text}");
    assert!(text.contains(&format!("; still failing after {tried} attempts over ")), "{text}");
    assert!(
        text.ends_with(
            "(reads are retried for 300ms at most): check the CircleCI API's pods and any proxy or load balancer in front of it"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_read_stops_retrying_before_the_deadline_of_its_check() {
    let (addr, requests) = always(503, None).await;
    // The default budget (a minute), within a check that has 300ms left.
    let client = quick_client(&format!("http://{addr}"));
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    let error = tokio::time::timeout(BOUND, calls_until(until, client.me())).await.expect("the deadline ends the read");
    let error = error.unwrap_err();
    assert!(tokio::time::Instant::now() <= until + Duration::from_millis(200), "no retry starts after the deadline");
    assert!(requests.load(Ordering::Relaxed) > 1, "retried until then");
    assert!(error.to_string().contains("(the check's time was running out)"), "{error}");
}

/// The configuration's default `max_pages`.
fn default_max_pages() -> u32 {
    realitycheck_config::Target::with_defaults("hostile").max_pages
}
