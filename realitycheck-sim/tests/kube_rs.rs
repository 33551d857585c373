//! kube-rs (and a raw WebSocket client, for `v4.channel.k8s.io`) against a running simulation.

use std::net::SocketAddr;

use axum::http::header::{ACCEPT, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderValue, Request};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::version::{Deployment, NomadServers, ServerVersion};
use realitycheck_sim::{KUBE_CONTEXT, NAMESPACE};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn client_for(sim: &SimServer) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).unwrap();
    let options = KubeConfigOptions { context: Some(KUBE_CONTEXT.to_owned()), ..KubeConfigOptions::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    assert_eq!(config.default_namespace, NAMESPACE);
    Client::try_from(config).unwrap()
}

/// What an exec through kube-rs produced.
struct Executed {
    stdout: String,
    stderr: String,
    status: Status,
}

async fn exec(client: &Client, pod: &str, command: &[&str]) -> Executed {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let mut attached = pods.exec(pod, command.iter().copied(), &AttachParams::default().stderr(true)).await.unwrap();
    let mut stdout_reader = attached.stdout().unwrap();
    let mut stderr_reader = attached.stderr().unwrap();
    let status = attached.take_status().unwrap();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let (stdout_read, stderr_read) =
        tokio::join!(stdout_reader.read_to_string(&mut stdout), stderr_reader.read_to_string(&mut stderr));
    stdout_read.unwrap();
    stderr_read.unwrap();
    let status = status.await.expect("a status on channel 3");
    attached.join().await.unwrap();
    Executed { stdout, stderr, status }
}

fn exit_code(status: &Status) -> Option<&str> {
    status
        .details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|cause| cause.reason.as_deref() == Some("ExitCode"))?
        .message
        .as_deref()
}

/// The default deployment, 4.10, runs the chart's five Nomad servers in the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_gets_pods_by_label_namespace_and_name() {
    let sim = SimServer::start(Scenario::Healthy, loopback()).await.unwrap();
    assert_eq!(sim.server_version().name(), "4.10");
    let client = client_for(&sim).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);

    let nomad_servers = pods.list(&ListParams::default().labels("app=nomad-server,layer=execution")).await.unwrap();
    let names: Vec<String> = nomad_servers.items.iter().map(|pod| pod.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["nomad-server-0", "nomad-server-1", "nomad-server-2", "nomad-server-3", "nomad-server-4"]);
    for pod in &nomad_servers.items {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(status.container_statuses.as_ref().unwrap()[0].ready);
    }

    let data_stores = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name in (postgresql,mongodb,rabbitmq)"))
        .await
        .unwrap();
    assert_eq!(data_stores.items.len(), 3);
    let not_running = pods.list(&ListParams::default().fields("status.phase!=Running")).await.unwrap();
    assert!(not_running.items.is_empty());

    let frontend = pods.list(&ListParams::default().labels("app=frontend")).await.unwrap();
    let frontend_name = frontend.items[0].metadata.name.clone().unwrap();
    assert!(frontend_name.starts_with("frontend-"));
    let fetched = pods.get(&frontend_name).await.unwrap();
    assert_eq!(fetched.metadata.labels.unwrap()["layer"], "application");

    match pods.get("no-such-pod").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.reason, "NotFound");
            assert_eq!(status.message, "pods \"no-such-pod\" not found");
        }
        other => panic!("expected a NotFound status, got {other:?}"),
    }
    match pods.list(&ListParams::default().labels("app in (frontend")).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 400),
        other => panic!("expected a BadRequest status, got {other:?}"),
    }

    let elsewhere: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert!(elsewhere.list(&ListParams::default()).await.unwrap().items.is_empty());
    sim.shutdown().await;
}

/// `/version` follows the server version (4.4 on Kubernetes 1.29, later ones on 1.34), and
/// `kubernetes-unsupported` reports a release below the version's range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reads_each_versions_kubernetes_release() {
    for (scenario, version, git_version) in [
        (Scenario::Healthy, ServerVersion::V4_4, "v1.29.15"),
        (Scenario::Healthy, ServerVersion::V4_8, "v1.34.2"),
        (Scenario::Healthy, ServerVersion::V4_10, "v1.34.2"),
        (Scenario::KubernetesUnsupported, ServerVersion::V4_4, "v1.25.16"),
        (Scenario::KubernetesUnsupported, ServerVersion::V4_9, "v1.31.9"),
    ] {
        let deployment = Deployment { server_version: version, nomad_servers: NomadServers::Internal };
        let options = SimOptions { deployment, ..SimOptions::for_scenario(scenario) };
        let sim = SimServer::start_with(scenario, loopback(), options).await.unwrap();
        let client = client_for(&sim).await;
        let info = client.apiserver_version().await.unwrap();
        assert_eq!(info.git_version, git_version, "{scenario} on {version}");
        assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", &git_version[3..5]));
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let servers = pods.list(&ListParams::default().labels("app=nomad-server")).await.unwrap().items.len();
        assert_eq!(servers, usize::from(version.nomad_server_replicas()), "{version}");
        sim.shutdown().await;
    }
}

/// With the Nomad servers outside the cluster there is no nomad-server pod to exec into.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_nomad_servers_have_no_pods() {
    let deployment = Deployment { server_version: ServerVersion::V4_10, nomad_servers: NomadServers::External };
    let options = SimOptions { deployment, ..SimOptions::default() };
    let sim = SimServer::start_with(Scenario::Healthy, loopback(), options).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client_for(&sim).await, NAMESPACE);
    assert!(pods.list(&ListParams::default().labels("app=nomad-server")).await.unwrap().items.is_empty());
    assert!(!pods.list(&ListParams::default().labels("app=frontend")).await.unwrap().items.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tables_discovery_and_status_errors() {
    let sim = SimServer::start(Scenario::PodsNotReady, loopback()).await.unwrap();
    let client = client_for(&sim).await;

    let version: Value = client.request(Request::get("/version").body(Vec::new()).unwrap()).await.unwrap();
    let minor: u32 = version["minor"].as_str().unwrap().parse().unwrap();
    assert!(version["gitVersion"].as_str().unwrap().starts_with("v1."));
    assert!(minor >= 32);
    let core: Value = client.request(Request::get("/api/v1").body(Vec::new()).unwrap()).await.unwrap();
    let resources: Vec<&str> =
        core["resources"].as_array().unwrap().iter().map(|resource| resource["name"].as_str().unwrap()).collect();
    for expected in ["namespaces", "pods", "pods/exec", "pods/log"] {
        assert!(resources.contains(&expected), "{resources:?}");
    }

    let table: Value = client
        .request(
            Request::get(format!("/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app%3Dfrontend"))
                .header(ACCEPT, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|column| column["priority"] == 0)
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Ready", "Status", "Restarts", "Age"]);
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "CrashLoopBackOff");
    assert!(cells[3].as_str().unwrap().starts_with("7 ("));
    assert_eq!(cells[4], "12d");

    match client.request_text(Request::get("/apis/apps/v1/deployments").body(Vec::new()).unwrap()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.reason, "NotFound");
        }
        other => panic!("expected a NotFound status, got {other:?}"),
    }

    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let frontend = table["rows"][0]["cells"][0].as_str().unwrap().to_owned();
    match pods.exec(&frontend, ["nomad", "node", "status"], &AttachParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 400);
            assert_eq!(status.message, "container not found (\"frontend\")");
        }
        Err(other) => panic!("expected a BadRequest status, got {other}"),
        Ok(_) => panic!("exec into a crash-looping container must be refused"),
    }
    let log = pods.logs(&frontend, &Default::default()).await.unwrap();
    assert!(log.contains("level=fatal"), "{log}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_nomad_in_the_nomad_server_pods() {
    let sim = SimServer::start(Scenario::Healthy, loopback()).await.unwrap();
    let client = client_for(&sim).await;

    let nodes = exec(&client, "nomad-server-0", &["nomad", "node", "status", "-json"]).await;
    assert_eq!(nodes.status.status.as_deref(), Some("Success"));
    assert_eq!(nodes.stderr, "");
    let nodes: Vec<Value> = serde_json::from_str(&nodes.stdout).unwrap();
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        assert_eq!(node["Status"], "ready");
        assert_eq!(node["SchedulingEligibility"], "eligible");
        assert_eq!(node["Drivers"]["docker"]["Healthy"], true);
    }

    let members = exec(&client, "nomad-server-2", &["sh", "-c", "nomad server members -json"]).await;
    let members: Vec<Value> = serde_json::from_str(&members.stdout).unwrap();
    assert_eq!(members.len(), 5, "4.10's five servers");
    assert_eq!(members.iter().filter(|m| m["Tags"]["Leader"] == "true").count(), 1);

    let usage = exec(&client, "nomad-server-0", &["nomad", "node", "status", "-bogus"]).await;
    assert_eq!(usage.status.reason.as_deref(), Some("NonZeroExitCode"));
    assert_eq!(exit_code(&usage.status), Some("1"));
    assert!(usage.stderr.contains("flag provided but not defined: -bogus"));

    let frontend = Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default().labels("app=frontend"))
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    let missing = exec(&client, &frontend, &["nomad", "node", "status"]).await;
    assert_eq!(exit_code(&missing.status), Some("126"));
    assert!(missing.status.message.unwrap().contains("executable file not found in $PATH"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_nomad_failures_with_their_exit_code() {
    let sim = SimServer::start(Scenario::NomadExecBroken, loopback()).await.unwrap();
    let client = client_for(&sim).await;
    let broken = exec(&client, "nomad-server-1", &["nomad", "node", "status", "-json"]).await;
    assert_eq!(broken.stdout, "");
    assert!(broken.stderr.starts_with("Error querying node status: Get \"https://127.0.0.1:4646/v1/nodes\": x509: "));
    assert_eq!(broken.status.status.as_deref(), Some("Failure"));
    assert_eq!(exit_code(&broken.status), Some("1"));
    assert_eq!(
        broken.status.message.as_deref(),
        Some(
            "command terminated with non-zero exit code: error executing command [nomad node status -json], exit code 1"
        )
    );
    sim.shutdown().await;
}

/// Frames of one exec over a raw WebSocket, and how the server closed it.
struct RawExec {
    protocol: String,
    stdout: Vec<u8>,
    status: Value,
    close_code: Option<CloseCode>,
}

async fn raw_exec(sim: &SimServer, offered_protocols: &str, query: &str) -> RawExec {
    let url = format!("ws://{}/api/v1/namespaces/{NAMESPACE}/pods/nomad-server-0/exec?{query}", sim.local_addr());
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(offered_protocols).unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    let protocol = response.headers()[SEC_WEBSOCKET_PROTOCOL].to_str().unwrap().to_owned();
    let mut stdout = Vec::new();
    let mut status = Value::Null;
    let mut close_code = None;
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Binary(frame) => match frame.split_first() {
                Some((1, payload)) => stdout.extend_from_slice(payload),
                Some((3, payload)) => status = serde_json::from_slice(payload).unwrap(),
                other => panic!("unexpected frame {other:?}"),
            },
            Message::Close(frame) => close_code = frame.map(|frame| frame.code),
            other => panic!("unexpected message {other:?}"),
        }
    }
    RawExec { protocol, stdout, status, close_code }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_websocket_clients_get_the_protocol_they_prefer() {
    let sim = SimServer::start(Scenario::Healthy, loopback()).await.unwrap();
    let query = "command=nomad&command=server&command=members&stdout=true&stderr=true";

    let v4 = raw_exec(&sim, "v4.channel.k8s.io", query).await;
    assert_eq!(v4.protocol, "v4.channel.k8s.io");
    assert!(String::from_utf8(v4.stdout).unwrap().starts_with("Name "));
    assert_eq!(v4.status, serde_json::json!({ "metadata": {}, "status": "Success" }));
    assert_eq!(v4.close_code, Some(CloseCode::Normal));

    let v4_first = raw_exec(&sim, "v4.channel.k8s.io, v5.channel.k8s.io", query).await;
    assert_eq!(v4_first.protocol, "v4.channel.k8s.io");
    let v5_first = raw_exec(&sim, "v5.channel.k8s.io, v4.channel.k8s.io", query).await;
    assert_eq!(v5_first.protocol, "v5.channel.k8s.io");

    let stderr_only =
        raw_exec(&sim, "v5.channel.k8s.io", "command=nomad&command=node&command=status&stderr=true").await;
    assert!(stderr_only.stdout.is_empty(), "stdout was not asked for");
    assert_eq!(stderr_only.status["status"], "Success");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_accepts_a_websocket_handshake_sent_with_post() {
    let sim = SimServer::start(Scenario::Healthy, loopback()).await.unwrap();
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let request = format!(
        "POST /api/v1/namespaces/{NAMESPACE}/pods/nomad-server-0/exec?command=nomad&command=node&command=status&stdout=true HTTP/1.1\r\n\
         Host: {}\r\n\
         Connection: Upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\
         Content-Length: 0\r\n\r\n",
        sim.local_addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "connection closed early");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    assert!(head.contains("sec-websocket-protocol: v4.channel.k8s.io"), "{head}");
    assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    drop(stream);
    sim.shutdown().await;
}

/// StatefulSets through their typed API, and Velero's Backups found through discovery, as a
/// client of custom resources finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reads_statefulsets_and_velero_backups() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use kube::api::{DynamicObject, GroupVersionKind};
    use realitycheck_sim::velero::VELERO_NAMESPACE;

    let sim = SimServer::start(Scenario::UpgradeReady, loopback()).await.unwrap();
    assert_eq!(sim.server_version(), ServerVersion::V4_9);
    let client = client_for(&sim).await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let mongodb = statefulsets.list(&ListParams::default().labels("app.kubernetes.io/name=mongodb")).await.unwrap();
    assert_eq!(mongodb.items.len(), 1);
    let template = mongodb.items[0].spec.template.spec.as_ref().unwrap();
    assert_eq!(
        template.containers[0].image.as_deref(),
        Some("cciserver.azurecr.io/server-mongodb:7.0.15-debian-12-r2")
    );
    let nomad = statefulsets.get("nomad-server").await.unwrap();
    let status = nomad.status.unwrap();
    assert_eq!((nomad.spec.replicas, status.replicas, status.ready_replicas), (Some(5), 5, Some(5)));
    match statefulsets.get("cassandra").await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("expected a NotFound status, got {other:?}"),
    }

    let gvk = GroupVersionKind::gvk("velero.io", "v1", "Backup");
    let (resource, _) = kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
    assert_eq!(resource.plural, "backups");
    let backups: Api<DynamicObject> = Api::namespaced_with(client, VELERO_NAMESPACE, &resource);
    let listed = backups.list(&ListParams::default().labels("velero.io/schedule-name")).await.unwrap();
    assert_eq!(listed.items.len(), 7);
    let newest = &listed.items[0];
    assert_eq!(newest.data["status"]["phase"], "Completed");
    assert_eq!(newest.data["spec"]["includedNamespaces"][0], NAMESPACE);
    let name = newest.metadata.name.clone().unwrap();
    assert_eq!(backups.get(&name).await.unwrap().metadata.name, Some(name));
    sim.shutdown().await;
}
