//! The API client against servers that misbehave on purpose: lists that never end, bodies
//! that never end, and download URLs that would carry the token over plain HTTP. Each test
//! bounds its own time, so that a client that reads forever fails instead of hanging.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use realitycheck_config::Secret;
use suites::clients::circleci::{ApiClient, ApiError, ApiSettings, Artifact, DEFAULT_MAX_PAGES, RetryPolicy};
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
    assert_eq!(DEFAULT_MAX_PAGES, 500, "the default is generous");
}

#[tokio::test]
async fn an_endless_answer_is_read_up_to_its_limit_only() {
    let sent = Arc::new(AtomicUsize::new(0));
    let me = {
        let sent = Arc::clone(&sent);
        move || async move { endless(sent, &[b' '; 16 * 1024]) }
    };
    let addr = serve(Router::new().route("/api/v2/me", get(me))).await;
    let answered = tokio::time::timeout(BOUND, client(&format!("http://{addr}"), DEFAULT_MAX_PAGES).me()).await;
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
    let downloaded = tokio::time::timeout(BOUND, client(&base, DEFAULT_MAX_PAGES).download_artifact(&artifact)).await;
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
    let client = client(&format!("https://{addr}"), DEFAULT_MAX_PAGES);
    let artifact = Artifact { path: "artifact.txt".into(), node_index: 0, url: format!("http://{addr}/artifact.txt") };
    assert_eq!(client.download_artifact(&artifact).await.unwrap(), b"artifact");
    assert_eq!(*seen.lock().unwrap(), [None], "no Circle-Token over http");
}
