//! The Kubernetes side against a container whose command never stops printing (`yes` in the
//! simulation's pods): the exec stops reading at its limit and says so, instead of reading
//! until memory runs out. The test bounds its own time.

use std::time::Duration;

use realitycheck_config::Target;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::clients::cluster::{Cluster, ClusterError, MAX_EXEC_OUTPUT};

#[tokio::test]
async fn endless_exec_output_is_read_up_to_its_limit_only() {
    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let cluster = Cluster::connect(&sim.target("sim").kubernetes, Duration::from_secs(30)).await.unwrap();
    let exec = tokio::time::timeout(Duration::from_secs(30), cluster.exec("nomad-server-0", &["yes"])).await;
    let error = exec.expect("reading stops at the limit").unwrap_err();
    assert!(matches!(error, ClusterError::Exec { .. }), "{error}");
    assert!(error.to_string().contains("`yes`: its stdout is longer than 8 MiB"), "{error}");
    assert_eq!(MAX_EXEC_OUTPUT, 8 * 1024 * 1024);
    let nomad = cluster.exec("nomad-server-0", &["nomad", "server", "members"]).await.unwrap();
    assert_eq!(nomad.exit_code, 0, "a normal command still runs: {}", nomad.stderr);
    sim.shutdown().await;
}

/// A Kubernetes API that answers every exec by upgrading to WebSocket and then `misbehave`s.
async fn exec_server(misbehave: Misbehaviour) -> std::net::SocketAddr {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    use axum::routing::any;
    let exec = move |upgrade: WebSocketUpgrade| async move {
        upgrade.protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"]).on_upgrade(move |mut socket| async move {
            let _ = socket.send(Message::Binary(b"\x01some output\n".to_vec().into())).await;
            match misbehave {
                Misbehaviour::GarbageStatus => {
                    let _ = socket.send(Message::Binary(b"\x03{not json".to_vec().into())).await;
                    // Then stays open, saying nothing more.
                    while let Some(Ok(_)) = socket.recv().await {}
                }
                Misbehaviour::Reset => drop(socket),
            }
        })
    };
    let router = axum::Router::new().route("/api/v1/namespaces/{namespace}/pods/{pod}/exec", any(exec));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[derive(Clone, Copy)]
enum Misbehaviour {
    GarbageStatus,
    Reset,
}

#[tokio::test]
async fn an_exec_that_breaks_off_ends_at_once_saying_how() {
    for (misbehave, says) in [
        (Misbehaviour::GarbageStatus, "ended without an exit status"),
        (Misbehaviour::Reset, "ended without an exit status"),
    ] {
        let addr = exec_server(misbehave).await;
        let (cluster, _dir) = cluster_at(addr).await;
        let started = tokio::time::Instant::now();
        let exec = tokio::time::timeout(Duration::from_secs(10), cluster.exec("p", &["nomad", "node", "status"])).await;
        let error = exec.expect("the exec ends at once, not at the 30 s read timeout").unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

/// A client of the Kubernetes API at `addr` (plain HTTP), namespace `ns`; the directory holds
/// its kubeconfig.
async fn cluster_at(addr: std::net::SocketAddr) -> (Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: h\n  cluster: {{server: 'http://{addr}'}}\nusers:\n- name: h\n  user: {{token: t}}\ncontexts:\n- name: h\n  context: {{cluster: h, user: h, namespace: ns}}\ncurrent-context: h\n"
        ),
    )
    .unwrap();
    let mut kubernetes = Target::with_defaults("hostile").kubernetes;
    kubernetes.kubeconfig = Some(kubeconfig);
    kubernetes.namespace = "ns".into();
    (Cluster::connect(&kubernetes, Duration::from_secs(30)).await.unwrap(), dir)
}

#[tokio::test]
async fn a_refusal_and_a_page_that_is_not_kubernetes_are_told_apart() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use suites::clients::cluster::Answer;
    let garbage = || async { "<html><title>Corporate proxy</title></html>" };
    let forbidden = || async {
        let status = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"rc\" cannot list resource \"pods\" in namespace \"ns\"","reason":"Forbidden","code":403}"#;
        (StatusCode::FORBIDDEN, [("content-type", "application/json")], status).into_response()
    };
    for (route, answer, says) in [
        (get(garbage), Answer::NotKubernetes, "Error deserializing response"),
        (get(forbidden), Answer::Forbidden, "the API server answered 403 Forbidden: pods is forbidden"),
    ] {
        let router = axum::Router::new().route("/api/v1/namespaces/ns/pods", route);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let (cluster, _dir) = cluster_at(addr).await;
        let error = cluster.pods(None).await.unwrap_err();
        let ClusterError::ListPods { answer: found, message, .. } = &error else { panic!("{error}") };
        assert_eq!(*found, answer, "{error}");
        assert!(message.contains(says) && !message.contains("Status {"), "{message}");
    }
}

#[tokio::test]
async fn an_endless_kubernetes_answer_is_read_up_to_its_limit_only() {
    use axum::body::Body;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sent = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&sent);
    let pods = move || {
        let sent = Arc::clone(&counted);
        async move {
            Body::from_stream(futures::stream::repeat_with(move || {
                sent.fetch_add(64 * 1024, Ordering::Relaxed);
                Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])
            }))
        }
    };
    let router = axum::Router::new().route("/api/v1/namespaces/ns/pods", axum::routing::get(pods));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (cluster, _dir) = cluster_at(addr).await;
    let listed = tokio::time::timeout(Duration::from_secs(30), cluster.pods(None)).await;
    let error = listed.expect("reading stops at the limit").unwrap_err();
    assert!(error.to_string().contains("longer than realitycheck reads of one answer"), "{error}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 2 * suites::clients::cluster::MAX_API_BODY, "the client stopped reading: {sent} bytes handed out");
}
