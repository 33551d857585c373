//! The CircleCI API client against the simulated server (pagination, retries with
//! Retry-After, error decoding) and against small purpose-built servers for what the
//! simulation does not do (echoing the token, hanging, endless pages, a self-signed HTTPS
//! server). All on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use realitycheck_config::Secret;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::clients::circleci::{ApiClient, ApiClientError, ApiError, ApiSettings, RetryPolicy};
use url::Url;

fn client(base: &str, token: &str) -> ApiClient {
    client_trusting(base, token, None)
}

fn client_trusting(base: &str, token: &str, ca_bundle: Option<&std::path::Path>) -> ApiClient {
    ApiClient::new(&ApiSettings {
        host: Url::parse(base).unwrap(),
        token: Secret::new(token),
        timeout: Duration::from_secs(10),
        ca_bundle: ca_bundle.map(std::path::Path::to_path_buf),
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap()
}

async fn sim(scenario: Scenario) -> (SimServer, ApiClient) {
    let server = SimServer::start(scenario, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = client_trusting(&server.circleci_url(), realitycheck_sim::SIM_TOKEN, Some(server.ca_bundle()));
    (server, client)
}

/// Serves `router` on a loopback port; the server stops with the test's runtime.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test]
async fn reads_the_user_and_the_project() {
    let (_server, client) = sim(Scenario::Healthy).await;
    let me = client.me().await.unwrap();
    assert!(!me.login.is_empty());
    let project = client.project(realitycheck_sim::SIM_PROJECT).await.unwrap();
    assert_eq!(project.slug, realitycheck_sim::SIM_PROJECT);
    assert_eq!(project.organization_id.as_deref(), Some(realitycheck_sim::SIM_ORG_ID));
    assert!(client.retries().is_empty());
    let missing = client.project("gh/realitycheck-sim/nope").await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(missing.to_string().contains("GET /api/v2/project/gh/realitycheck-sim/nope answered 404"), "{missing}");
}

#[tokio::test]
async fn lists_every_page_of_contexts() {
    let (_server, client) = sim(Scenario::Healthy).await;
    let contexts = client.contexts(realitycheck_sim::SIM_ORG_ID).await.unwrap();
    let names: Vec<&str> = contexts.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"org-global") && names.contains(&"individual-local"), "{names:?}");
    assert!(contexts.len() > 2, "the simulation pages by 2; more than one page was read: {names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "no page read twice");
}

#[tokio::test]
async fn context_lifecycle() {
    let (_server, client) = sim(Scenario::ContextsMissing).await;
    let created = client.create_context("rc-lifecycle", realitycheck_sim::SIM_ORG_ID).await.unwrap();
    assert_eq!(created.name, "rc-lifecycle");
    let listed = client.contexts(realitycheck_sim::SIM_ORG_ID).await.unwrap();
    assert!(listed.iter().any(|c| c.id == created.id));
    client.put_context_variable(&created.id, "A_VAR", &Secret::new("value")).await.unwrap();
    let variables = client.context_variables(&created.id).await.unwrap();
    assert_eq!(variables.iter().map(|v| v.variable.as_str()).collect::<Vec<_>>(), ["A_VAR"]);
    client.delete_context_variable(&created.id, "A_VAR").await.unwrap();
    assert!(client.context_variables(&created.id).await.unwrap().is_empty());
    client.delete_context(&created.id).await.unwrap();
    let listed = client.contexts(realitycheck_sim::SIM_ORG_ID).await.unwrap();
    assert!(!listed.iter().any(|c| c.id == created.id));
}

#[tokio::test]
async fn retries_5xx_and_429_and_records_why() {
    let (_server, client) = sim(Scenario::ApiFlaky).await;
    let me = client.scoped();
    me.me().await.expect("the flaky API answers within the retries");
    let retries = me.retries();
    assert!(!retries.is_empty(), "the flaky scenario fails first attempts");
    assert!(retries.iter().all(|r| r.call == "GET /api/v2/me"), "{retries:?}");
    for retry in &retries {
        if retry.reason.starts_with("429") {
            assert!(retry.reason.contains("Retry-After 1s"), "{retry:?}");
            assert_eq!(retry.wait, Duration::from_secs(1), "Retry-After is honoured");
        } else {
            assert!(retry.reason.starts_with("50"), "{retry:?}");
        }
    }
    let contexts = client.scoped();
    contexts.contexts(realitycheck_sim::SIM_ORG_ID).await.expect("every page answers within the retries");
    assert!(
        contexts.retries().iter().all(|r| r.call.starts_with("GET /api/v2/context")),
        "a scope records its own retries only: {:?}",
        contexts.retries()
    );
    assert_eq!(me.retries(), retries, "and the other scope's record is unchanged");
    assert!(client.retries().is_empty(), "the parent's record holds none of its scopes' retries");
}

/// A proxy's 502 page on a read (nginx's, HTML), then the API's answer: the read is retried
/// and the retry recorded with the page's title.
#[tokio::test]
async fn a_read_is_retried_through_a_proxy_s_502_page() {
    let answered = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&answered);
    let router = Router::new().route(
        "/api/v2/me",
        get(move || {
            let seen = Arc::clone(&seen);
            async move {
                match seen.fetch_add(1, Ordering::SeqCst) {
                    0 => (
                        StatusCode::BAD_GATEWAY,
                        [("content-type", "text/html")],
                        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
                    )
                        .into_response(),
                    _ => (StatusCode::OK, [("content-type", "application/json")], r#"{"id":"u-1","login":"through"}"#)
                        .into_response(),
                }
            }
        }),
    );
    let addr = serve(router).await;
    let client = client(&format!("http://{addr}"), "t0ken");
    assert_eq!(client.me().await.expect("the read is retried after the 502").login, "through");
    assert_eq!(answered.load(Ordering::SeqCst), 2, "one 502, one answer");
    let retries = client.retries();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].reason.starts_with("502") && retries[0].reason.contains("502 Bad Gateway"), "{retries:?}");
}

#[tokio::test]
async fn a_rejected_token_is_a_typed_401_with_the_server_message() {
    let (server, client) = sim(Scenario::BadToken).await;
    let error = client.me().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(matches!(&error, ApiError::Status { message, .. } if message == "You must log in first."), "{error}");
    assert!(error.url().starts_with(&server.circleci_url()));
    assert!(client.retries().is_empty(), "a 401 is not retried");
}

#[tokio::test]
async fn the_token_is_redacted_from_echoed_error_bodies() {
    const TOKEN: &str = "CCIPAT_echo_me_9f8e";
    async fn echo(headers: HeaderMap) -> impl IntoResponse {
        let token = headers.get("circle-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (StatusCode::BAD_REQUEST, format!(r#"{{"message":"bad request for token {token}"}}"#))
    }
    let addr = serve(Router::new().route("/api/v2/me", get(echo))).await;
    let error = client(&format!("http://{addr}"), TOKEN).me().await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("bad request for token [redacted]"), "{text}");
}

#[tokio::test]
async fn unreachable_and_hanging_servers_fail_with_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let impatient = ApiClient::new(&ApiSettings {
        host: Url::parse(&format!("http://{closed}")).unwrap(),
        token: Secret::new("test-token-0042"),
        timeout: Duration::from_secs(10),
        ca_bundle: None,
        insecure: false,
        // Reads given up after a second: the second attempt, half a second after the first, is the last.
        retry: RetryPolicy { read_budget: Duration::from_secs(1), ..RetryPolicy::default() },
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap();
    let error = impatient.me().await.unwrap_err();
    assert!(matches!(error, ApiError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains(&format!("http://{closed}/api/v2/me")), "{error}");
    assert!(error.to_string().contains("still failing after 2 attempts over "), "{error}");

    async fn hang() -> &'static str {
        std::future::pending::<()>().await;
        "never"
    }
    let addr = serve(Router::new().route("/api/v2/me", get(hang))).await;
    let slow = ApiClient::new(&ApiSettings {
        host: Url::parse(&format!("http://{addr}")).unwrap(),
        token: Secret::new("test-token-0042"),
        timeout: Duration::from_millis(200),
        ca_bundle: None,
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap();
    let error = slow.me().await.unwrap_err();
    assert!(matches!(error, ApiError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn a_long_retry_after_is_not_waited_for() {
    async fn throttled() -> impl IntoResponse {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], "Rate limited.")
    }
    let addr = serve(Router::new().route("/api/v2/me", get(throttled))).await;
    let client = client(&format!("http://{addr}"), "test-token-0042");
    let error = client.me().await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert!(error.to_string().contains("Rate limited."), "{error}");
    assert!(client.retries().is_empty());

    // Under the one-minute cap, but longer than a call may take (10 s): not waited either.
    async fn throttled_20s() -> impl IntoResponse {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "20")], "Rate limited.")
    }
    let addr = serve(Router::new().route("/api/v2/me", get(throttled_20s))).await;
    let patient = client_trusting(&format!("http://{addr}"), "test-token-0042", None);
    let started = std::time::Instant::now();
    let error = patient.me().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "not waited: {:?}", started.elapsed());
    assert!(
        error
            .to_string()
            .ends_with("answered 429: Rate limited. (Retry-After 20s: longer than realitycheck waits, 10s)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_page_token_seen_twice_ends_the_walk() {
    async fn endless() -> &'static str {
        r#"{"items":[{"id":"1","name":"a"}],"next_page_token":"same"}"#
    }
    let addr = serve(Router::new().route("/api/v2/context", get(endless))).await;
    let error = client(&format!("http://{addr}"), "test-token-0042").contexts("org").await.unwrap_err();
    assert!(error.to_string().contains("repeated a next_page_token"), "{error}");
}

/// Serves `GET /api/v2/me` over HTTPS with a self-signed certificate for `localhost`, on a
/// loopback port; returns the port and the certificate's PEM.
async fn serve_https() -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, pki_types::PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = r#"{"id":"u-tls","login":"tls-user"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, certified.cert.pem())
}

#[tokio::test]
async fn an_unknown_certificate_is_a_tls_failure_and_its_ca_bundle_mends_it() {
    let (port, pem) = serve_https().await;
    let base = format!("https://localhost:{port}");
    let error = client(&base, "test-token-0042").me().await.unwrap_err();
    assert!(matches!(error, ApiError::Tls { .. }), "{error}");
    assert!(error.to_string().contains(&format!("{base}/api/v2/me")), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, pem).unwrap();
    let trusting = client_trusting(&base, "test-token-0042", Some(&bundle));
    assert_eq!(trusting.me().await.unwrap().login, "tls-user");
}

#[tokio::test]
async fn the_served_certificate_is_read_over_a_verified_connection_even_when_insecure() {
    let server = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let trusting = client_trusting(&server.circleci_url(), realitycheck_sim::SIM_TOKEN, Some(server.ca_bundle()));
    let der = trusting.served_certificate().await.unwrap();
    let leaf = x509_parser::parse_x509_certificate(&der).unwrap().1;
    assert_eq!(leaf.issuer().to_string(), "CN=realitycheck-sim CA, O=realitycheck");

    let insecure = ApiClient::new(&ApiSettings {
        host: Url::parse(&server.circleci_url()).unwrap(),
        token: Secret::new(realitycheck_sim::SIM_TOKEN),
        timeout: Duration::from_secs(10),
        ca_bundle: None,
        insecure: true,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap();
    assert_eq!(insecure.me().await.unwrap().login, "realitycheck-bot", "insecure calls accept the certificate");
    let error = insecure.served_certificate().await.unwrap_err();
    assert!(matches!(error, ApiError::Tls { .. }), "the probe verifies whatever insecure says: {error}");
    server.shutdown().await;
}

#[test]
fn a_ca_bundle_that_is_no_certificate_is_a_typed_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let settings = |ca_bundle| ApiSettings {
        host: Url::parse("https://circleci.example.com").unwrap(),
        token: Secret::new("test-token-0042"),
        timeout: Duration::from_secs(10),
        ca_bundle: Some(ca_bundle),
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    };
    let missing = dir.path().join("absent.pem");
    let error = ApiClient::new(&settings(missing.clone())).unwrap_err();
    assert!(matches!(&error, ApiClientError::UnreadableCaBundle { path, .. } if *path == missing), "{error}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = ApiClient::new(&settings(empty.clone())).unwrap_err();
    assert!(matches!(&error, ApiClientError::EmptyCaBundle { path } if *path == empty), "{error}");
    assert!(error.to_string().contains("empty.pem"), "{error}");
}

/// `realitycheck init` asks whether a host answers like CircleCI before it has a token: the
/// API's 401 JSON does; a web page, another status or nothing at all does not, and says so.
#[tokio::test]
async fn the_probe_tells_the_api_from_what_is_not_it() {
    let (server, _) = sim(Scenario::Healthy).await;
    let anonymous = client_trusting(&server.circleci_url(), "", Some(server.ca_bundle()));
    anonymous.probe().await.unwrap();
    async fn page() -> impl IntoResponse {
        ([("content-type", "text/html")], "<html><head><title>Sign in</title></head></html>")
    }
    async fn teapot() -> impl IntoResponse {
        (StatusCode::IM_A_TEAPOT, "{\"message\":\"short and stout\"}")
    }
    let web = serve(Router::new().route("/api/v2/me", get(page))).await;
    let error = client(&format!("http://{web}"), "").probe().await.unwrap_err();
    assert!(matches!(&error, ApiError::NotTheApi { title: Some(t), .. } if t == "Sign in"), "{error}");
    let other = serve(Router::new().route("/api/v2/me", get(teapot))).await;
    let error = client(&format!("http://{other}"), "").probe().await.unwrap_err();
    assert_eq!(error.status(), Some(418), "{error}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let error = client(&format!("http://{closed}"), "").probe().await.unwrap_err();
    assert!(matches!(error, ApiError::Unreachable { .. }), "{error}");
    server.shutdown().await;
}
