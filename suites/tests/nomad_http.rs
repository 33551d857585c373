//! The client of Nomad's HTTP API against small servers on loopback: over HTTPS with a CA
//! and a certificate for `server.global.nomad` made here (and certificates that must fail:
//! another CA, another name, a client certificate asked for), over plain HTTP as server 4.8's
//! external servers serve it, and servers that misbehave (no leader, 503 then 200,
//! a dropped connection, a body over the limit, no answer, nothing listening).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use harness::Secret;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use suites::clients::certs::Certificate;
use suites::clients::nomad::http::{
    ConnectionFailure, NomadEndpoint, NomadHttp, NomadHttpError, TlsFailure, server_certificate,
};
use suites::clients::nomad::nodes::Driver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const SERVER_NAME: &str = "server.global.nomad";
const TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN: &str = "nomad-secret-token-0042";

/// A CA, as the Terraform modules make one ("Nomad CircleCI CA").
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    fn pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    /// A certificate for `names` and its key, DER, the chain with this CA.
    fn issue(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![certificate.der().clone(), self.issuer.der().clone()];
        (chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())), key)
    }

    /// A client certificate (PEM) and its key (PEM).
    fn client_identity(&self) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["client.global.nomad".to_string()]).unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (certificate.pem().into_bytes(), key.serialize_pem().into_bytes())
    }
}

/// Accepts TCP connections and completes their TLS handshake before axum serves them; a
/// handshake that fails (the client refused the certificate) is skipped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, peer)) = self.tcp.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over HTTPS with a certificate for `names` from `ca`; when `client_ca` is
/// given, only to clients with a certificate it signed. Returns the port.
async fn serve_https(router: Router, ca: &Ca, names: &[&str], client_ca: Option<&Ca>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = match client_ca {
        Some(client_ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(client_ca.issuer.der().clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let (chain, key, _) = ca.issue(names);
    let config = builder.with_single_cert(chain, key).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener { tcp, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) };
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// Serves `router` over plain HTTP; returns the port.
async fn serve_http(router: Router) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn endpoint(url: &str, ca: Option<&Ca>) -> NomadEndpoint {
    NomadEndpoint {
        url: Url::parse(url).unwrap(),
        ca_pem: ca.map(Ca::pem),
        client_identity: None,
        tls_server_name: SERVER_NAME.to_string(),
        token: None,
    }
}

async fn client(endpoint: &NomadEndpoint) -> NomadHttp {
    NomadHttp::new(endpoint, TIMEOUT).await.unwrap()
}

/// How the simulated Nomad servers behave.
#[derive(Clone, Default)]
struct Nomad {
    /// No leader: `/v1/status/leader` answers 500 No cluster leader.
    leaderless: bool,
    /// The ACLs refuse `/v1/nodes` (403, echoing the token), as they do a token without
    /// `node:read`.
    acl_denies_nodes: bool,
    /// The `X-Nomad-Token` of each request.
    tokens: Arc<Mutex<Vec<Option<String>>>>,
}

const MEMBERS: &str = r#"{"ServerName": "nomad-server-1", "ServerRegion": "global", "ServerDC": "dc1", "Members": [
    {"Addr": "10.0.0.8", "Name": "nomad-server-0.global", "Port": 4648, "Status": "alive", "DelegateCur": 4,
     "Tags": {"build": "1.11.3", "port": "4647", "region": "global", "role": "nomad", "rpc_addr": "10.0.0.8"}},
    {"Addr": "10.0.0.9", "Name": "nomad-server-1.global", "Port": 4648, "Status": "alive",
     "Tags": {"build": "1.11.3", "port": "4647", "region": "global", "role": "nomad"}},
    {"Addr": "10.0.0.10", "Name": "nomad-server-2.global", "Port": 4648, "Status": "failed",
     "Tags": {"build": "1.11.3", "port": "4647", "region": "global", "role": "nomad"}}
]}"#;

const NODES: &str = r#"[
    {"ID": "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7", "Name": "i-0a1b2c3d4e5f67890", "Status": "ready",
     "SchedulingEligibility": "eligible", "Drain": false, "NodePool": "default", "Version": "1.7.7",
     "Drivers": {"docker": {"Detected": true, "Healthy": true, "HealthDescription": "Healthy"},
                 "raw_exec": {"Detected": true, "Healthy": true}}},
    {"ID": "1f3f03ea-0000-0000-0000-000000000000", "Name": "i-2", "Status": "down",
     "SchedulingEligibility": "ineligible", "Drain": true, "Drivers": {}}
]"#;

/// A node of Nomad 1.7 and later (`os.cgroups.version`).
const NODE: &str = r#"{"ID": "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7", "Name": "i-0a1b2c3d4e5f67890",
    "Attributes": {"nomad.version": "1.7.7", "driver.docker.version": "28.1.1", "os.cgroups.version": "1", "os.name": "ubuntu"},
    "Drivers": {"docker": {"Attributes": {"driver.docker.version": "28.1.1"}, "Healthy": true}}, "Status": "ready"}"#;

/// A node of Nomad before 1.7 (`unique.cgroup.version`).
const OLD_NODE: &str = r#"{"ID": "1f3f03ea-0000-0000-0000-000000000000", "Name": "i-2",
    "Attributes": {"nomad.version": "1.4.3", "driver.docker.version": "25.0.2", "unique.cgroup.version": "v1"}}"#;

impl Nomad {
    fn router(self) -> Router {
        let seen = self.tokens.clone();
        let leaderless = self.leaderless;
        let acl_denies_nodes = self.acl_denies_nodes;
        Router::new()
            .route(
                "/v1/status/leader",
                get(move || async move {
                    if leaderless {
                        (StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader")
                    } else {
                        (StatusCode::OK, r#""10.0.0.9:4647""#)
                    }
                }),
            )
            .route("/v1/status/peers", get(|| async { r#"["10.0.0.8:4647","10.0.0.9:4647","10.0.0.10:4647"]"# }))
            .route("/v1/agent/members", get(|| async { MEMBERS }))
            .route(
                "/v1/nodes",
                get(move |headers: HeaderMap| async move {
                    let token = headers.get("X-Nomad-Token").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    if acl_denies_nodes {
                        (StatusCode::FORBIDDEN, format!("Permission denied for token {token}"))
                    } else {
                        (StatusCode::OK, NODES.to_string())
                    }
                }),
            )
            .route(
                "/v1/node/{id}",
                get(|Path(id): Path<String>| async move {
                    match id.as_str() {
                        "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7" => (StatusCode::OK, NODE),
                        "1f3f03ea-0000-0000-0000-000000000000" => (StatusCode::OK, OLD_NODE),
                        _ => (StatusCode::NOT_FOUND, "node not found"),
                    }
                }),
            )
            .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
                let token = request.headers().get("X-Nomad-Token").and_then(|v| v.to_str().ok()).map(str::to_string);
                seen.lock().unwrap().push(token);
                next.run(request)
            }))
    }
}

#[tokio::test]
async fn over_https_it_reads_the_servers_the_nodes_and_their_versions() {
    let ca = Ca::new("Nomad CircleCI CA");
    // The certificate names server.global.nomad only: the client dials localhost and verifies
    // the name Nomad clients verify.
    let port = serve_https(Nomad::default().router(), &ca, &[SERVER_NAME], None).await;
    let nomad = client(&endpoint(&format!("https://localhost:{port}"), Some(&ca))).await;

    assert_eq!(nomad.leader().await.unwrap().as_deref(), Some("10.0.0.9:4647"));
    assert_eq!(nomad.peers().await.unwrap().len(), 3);

    let members = nomad.members().await.unwrap();
    let seen: Vec<_> = members.iter().map(|m| (m.name.as_str(), m.status.as_str(), m.leader)).collect();
    assert_eq!(
        seen,
        [
            ("nomad-server-0.global", "alive", Some(false)),
            ("nomad-server-1.global", "alive", Some(true)),
            ("nomad-server-2.global", "failed", Some(false)),
        ]
    );
    assert_eq!((members[1].address.as_str(), members[1].version.as_str()), ("10.0.0.9", "1.11.3"));

    let nodes = nomad.nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!((nodes[0].docker.clone(), nodes[0].version.as_str()), (Driver::Healthy, "1.7.7"));
    assert!(nodes[1].drain);

    let node = nomad.node(&nodes[0].id).await.unwrap();
    assert_eq!(node.name, "i-0a1b2c3d4e5f67890");
    assert_eq!(node.nomad_version.as_deref(), Some("1.7.7"));
    assert_eq!(node.docker_version.as_deref(), Some("28.1.1"));
    assert_eq!(node.cgroups_version.as_deref(), Some("1"));
    let old = nomad.node(&nodes[1].id).await.unwrap();
    assert_eq!((old.docker_version.as_deref(), old.cgroups_version.as_deref()), (Some("25.0.2"), Some("v1")));
    let missing = nomad.node("no/such node").await.unwrap_err();
    assert!(
        matches!(&missing, NomadHttpError::Status { status: 404, url, .. } if url == &format!("https://localhost:{port}/v1/node/no%2Fsuch%20node")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn servers_without_a_leader_or_a_gossip_keyring_say_so() {
    let ca = Ca::new("Nomad CircleCI CA");
    let port = serve_https(Nomad { leaderless: true, ..Nomad::default() }.router(), &ca, &[SERVER_NAME], None).await;
    let base = format!("https://127.0.0.1:{port}");
    let nomad = client(&endpoint(&base, Some(&ca))).await;

    let error = nomad.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::NoLeader { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&format!("{base}/v1/status/leader answered 500 No cluster leader")),
        "{error}"
    );
    let members = nomad.members().await.unwrap();
    assert!(members.iter().all(|m| m.leader == Some(false)), "no leader, no member leads: {members:?}");
}

#[tokio::test]
async fn a_certificate_of_another_ca_fails_verification_and_its_chain_is_still_read() {
    let (ours, theirs) = (Ca::new("Nomad CircleCI CA"), Ca::new("Someone else's CA"));
    let port = serve_https(Nomad::default().router(), &theirs, &[SERVER_NAME], None).await;
    let endpoint = endpoint(&format!("https://127.0.0.1:{port}"), Some(&ours));
    let nomad = client(&endpoint).await;

    let error = nomad.members().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Tls { failure: TlsFailure::UnknownIssuer, .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("TLS failure with https://127.0.0.1:{port}/v1/agent/members:")), "{text}");
    assert!(text.contains("not signed by the CA realitycheck was given"), "{text}");

    let chain = server_certificate(&endpoint, TIMEOUT).await.unwrap();
    assert_eq!(chain.len(), 2, "the server's certificate, then its CA");
    let leaf = Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(leaf.dns_names, [SERVER_NAME]);
    let signer = Certificate::from_der(theirs.issuer.der()).unwrap();
    let expected = Certificate::from_der(ours.issuer.der()).unwrap();
    assert!(leaf.signed_by(&signer) && !leaf.signed_by(&expected));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let ca = Ca::new("Nomad CircleCI CA");
    let port = serve_https(Nomad::default().router(), &ca, &["nomad.example.internal", "localhost"], None).await;
    let endpoint = endpoint(&format!("https://localhost:{port}"), Some(&ca));
    let error = client(&endpoint).await.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Tls { failure: TlsFailure::NameMismatch, .. }), "{error:?}");
    assert!(error.to_string().contains("not valid for server.global.nomad"), "{error}");

    let chain = server_certificate(&endpoint, TIMEOUT).await.unwrap();
    assert_eq!(Certificate::from_der(&chain[0]).unwrap().dns_names, ["nomad.example.internal", "localhost"]);
}

#[tokio::test]
async fn a_server_that_asks_for_a_client_certificate_gets_the_one_given() {
    let ca = Ca::new("Nomad CircleCI CA");
    let port = serve_https(Nomad::default().router(), &ca, &[SERVER_NAME], Some(&ca)).await;
    let mut endpoint = endpoint(&format!("https://127.0.0.1:{port}"), Some(&ca));

    let error = client(&endpoint).await.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Tls { failure: TlsFailure::ClientCertificateRequired, .. }), "{error:?}");
    assert!(error.to_string().contains("nomad.client_cert"), "{error}");

    endpoint.client_identity = Some(ca.client_identity());
    assert_eq!(client(&endpoint).await.leader().await.unwrap().as_deref(), Some("10.0.0.9:4647"));
    assert!(!format!("{endpoint:?}").contains("PRIVATE KEY"), "{endpoint:?}");
}

#[tokio::test]
async fn plain_http_serves_server_4_8_and_the_wrong_scheme_says_which_is_right() {
    let port = serve_http(Nomad::default().router()).await;
    let nomad = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await;
    assert_eq!(nomad.members().await.unwrap().iter().filter(|m| m.leader == Some(true)).count(), 1);
    assert_eq!(nomad.nodes().await.unwrap().len(), 2);

    let ca = Ca::new("Nomad CircleCI CA");
    let error = client(&endpoint(&format!("https://127.0.0.1:{port}"), Some(&ca))).await.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Tls { failure: TlsFailure::NotTls, .. }), "{error:?}");
    assert!(error.to_string().contains("use http://"), "{error}");
    let error = server_certificate(&endpoint(&format!("https://127.0.0.1:{port}"), None), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Tls { failure: TlsFailure::NotTls, .. }), "{error:?}");

    // Go's HTTPS server answers a plain request with 400.
    let https_only = answer_each(vec![
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n".to_string(),
    ])
    .await;
    let error = client(&endpoint(&format!("http://127.0.0.1:{https_only}"), None)).await.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::HttpsExpected { .. }), "{error:?}");
    assert!(error.to_string().contains("use https://"), "{error}");
}

#[tokio::test]
async fn the_token_is_sent_and_never_shown() {
    let nomad = Nomad { acl_denies_nodes: true, ..Nomad::default() };
    let tokens = nomad.tokens.clone();
    let router = nomad.router();
    let ca = Ca::new("Nomad CircleCI CA");
    let port = serve_https(router, &ca, &[SERVER_NAME], None).await;
    let mut endpoint = endpoint(&format!("https://127.0.0.1:{port}"), Some(&ca));
    endpoint.token = Some(Secret::new(TOKEN));
    let nomad = client(&endpoint).await;

    nomad.leader().await.unwrap();
    let error = nomad.nodes().await.unwrap_err();
    assert_eq!(*tokens.lock().unwrap(), [Some(TOKEN.to_string()), Some(TOKEN.to_string())]);
    assert!(matches!(error, NomadHttpError::AclDenied { .. }), "{error:?}");
    for shown in [error.to_string(), format!("{error:?}"), format!("{nomad:?}"), format!("{endpoint:?}")] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
    assert!(error.to_string().contains("Permission denied for token [redacted]"), "{error}");
    assert!(error.to_string().contains("NOMAD_TOKEN"), "{error}");

    endpoint.token = Some(Secret::new("two\nlines"));
    let error = NomadHttp::new(&endpoint, TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::TokenNotAHeader), "{error:?}");
    assert!(!error.to_string().contains("two"), "{error}");
}

#[tokio::test]
async fn a_body_over_the_limit_stops_the_read() {
    let router = Router::new().route("/v1/nodes", get(|| async { vec![b' '; 4 * 1024 * 1024 + 1] }));
    let port = serve_http(router).await;
    let error = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await.nodes().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::TooLarge { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&format!("http://127.0.0.1:{port}/v1/nodes sent more than 4 MiB")),
        "{error}"
    );
}

#[tokio::test]
async fn a_503_then_a_200_is_tried_again() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let router = Router::new().route(
        "/v1/status/peers",
        get(move || async move {
            match counted.fetch_add(1, Ordering::SeqCst) {
                0 => (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable"),
                _ => (StatusCode::OK, r#"["10.0.0.8:4647"]"#),
            }
        }),
    );
    let port = serve_http(router).await;
    let nomad = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await;
    assert_eq!(nomad.peers().await.unwrap(), ["10.0.0.8:4647"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_500_is_not_tried_again() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let router = Router::new().route(
        "/v1/status/peers",
        get(move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (StatusCode::INTERNAL_SERVER_ERROR, "rpc error: Permission denied, not quite")
        }),
    );
    let port = serve_http(router).await;
    let error = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await.peers().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Status { status: 500, .. }), "{error:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A raw HTTP server: connection n reads a request and writes `answers[n]` (an empty answer
/// closes the connection without one), then closes. Returns the port.
async fn answer_each(answers: Vec<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    port
}

#[tokio::test]
async fn a_dropped_connection_is_tried_again() {
    let body = r#""10.0.0.8:4647""#;
    let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    let port = answer_each(vec![String::new(), answer]).await;
    let nomad = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await;
    assert_eq!(nomad.leader().await.unwrap().as_deref(), Some("10.0.0.8:4647"));
}

#[tokio::test]
async fn a_refused_connection_names_the_url() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let nomad = client(&endpoint(&format!("http://127.0.0.1:{port}"), None)).await;
    let error = nomad.members().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Connection { failure: ConnectionFailure::Refused, .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot connect to http://127.0.0.1:{port}/v1/agent/members: the connection was refused"
        )),
        "{text}"
    );
    assert!(text.contains("nomad.address"), "{text}");

    let error = server_certificate(&endpoint(&format!("https://127.0.0.1:{port}"), None), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Connection { failure: ConnectionFailure::Refused, .. }), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let router = Router::new().route("/v1/status/leader", get(std::future::pending::<&'static str>));
    let port = serve_http(router).await;
    let endpoint = endpoint(&format!("http://127.0.0.1:{port}"), None);
    let nomad = NomadHttp::new(&endpoint, Duration::from_millis(300)).await.unwrap();
    let error = nomad.leader().await.unwrap_err();
    assert!(matches!(error, NomadHttpError::Timeout { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&format!("no answer from http://127.0.0.1:{port}/v1/status/leader within")),
        "{error}"
    );
}

#[tokio::test]
async fn what_cannot_be_used_is_refused_before_any_call() {
    let error = NomadHttp::new(&endpoint("https://127.0.0.1:4646", None), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::CaRequired { .. }), "{error:?}");
    assert!(error.to_string().contains("nomad.ca_cert"), "{error}");

    let mut garbage = endpoint("https://127.0.0.1:4646", None);
    garbage.ca_pem = Some(b"not a certificate".to_vec());
    let error = NomadHttp::new(&garbage, TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::BadTlsMaterial { .. }), "{error:?}");

    let ca = Ca::new("Nomad CircleCI CA");
    let mut keyless = endpoint("https://127.0.0.1:4646", Some(&ca));
    keyless.client_identity = Some((ca.client_identity().0, b"no key".to_vec()));
    let error = NomadHttp::new(&keyless, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(&error, NomadHttpError::BadTlsMaterial { what, .. } if what.contains("nomad.client_key")),
        "{error:?}"
    );

    let mut by_ip = endpoint("https://127.0.0.1:4646", Some(&ca));
    by_ip.tls_server_name = "10.0.0.8".to_string();
    let error = NomadHttp::new(&by_ip, TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::BadServerName { .. }), "{error:?}");

    let error = NomadHttp::new(&endpoint("ftp://127.0.0.1:4646", None), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::BadAddress { .. }), "{error:?}");
    let error = server_certificate(&endpoint("http://127.0.0.1:4646", None), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, NomadHttpError::BadAddress { .. }), "{error:?}");

    // `.invalid` never resolves (RFC 6761); without DNS at all the lookup may time out instead.
    let error = NomadHttp::new(&endpoint("http://nomad.invalid:4646", None), Duration::from_secs(5)).await.unwrap_err();
    assert!(
        matches!(
            error,
            NomadHttpError::Connection { failure: ConnectionFailure::UnknownHost | ConnectionFailure::TimedOut, .. }
        ),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("cannot connect to http://nomad.invalid:4646/"), "{error}");
}
