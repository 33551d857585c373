//! The capacity workload against a running simulation: the Nomad servers' CLI (through `exec`
//! in a nomad-server pod) and HTTP API (outside the cluster) show the jobs of the containers the
//! CircleCI API started, and a cancellation stops them. Jobs reach an executor at once (no queue
//! time) and the containers hold their clients for a simulated hour (a minute here), so what
//! each read finds does not depend on how fast it runs.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use realitycheck_sim::execution::JobTiming;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::version::{Deployment, NomadServers, ServerVersion};
use realitycheck_sim::{KUBE_CONTEXT, NAMESPACE, SIM_PROJECT, SIM_TOKEN};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// `scenario` on `deployment`, its jobs reaching an executor the moment they queue.
async fn start(scenario: Scenario, deployment: Deployment) -> SimServer {
    let options = SimOptions { timing: JobTiming::instant(), deployment, ..SimOptions::for_scenario(scenario) };
    SimServer::start_with(scenario, SocketAddr::from(([127, 0, 0, 1], 0)), options).await.unwrap()
}

/// The CircleCI API of `sim`, trusting its CA.
struct CircleCi {
    client: reqwest::Client,
    base: String,
}

impl CircleCi {
    fn of(sim: &SimServer) -> Self {
        let ca = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap();
        Self { client: reqwest::Client::builder().add_root_certificate(ca).build().unwrap(), base: sim.circleci_url() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).header("Circle-Token", SIM_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// Triggers `containers` medium containers holding their clients for an hour; returns the
    /// workflow's id.
    async fn capacity(&self, containers: u32) -> String {
        let body = json!({"parameters": {
            "run_id": "capacity", "docker": false, "features": false, "capacity_executor": "docker",
            "capacity_jobs": containers, "capacity_resource_class": "medium", "capacity_hold_seconds": 3_600
        }});
        let created =
            self.call(reqwest::Method::POST, &format!("/api/v2/project/{SIM_PROJECT}/pipeline"), Some(body)).await;
        let id = created["id"].as_str().unwrap();
        let workflows = self.call(reqwest::Method::GET, &format!("/api/v2/pipeline/{id}/workflow"), None).await;
        workflows["items"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn cancel(&self, workflow: &str) {
        self.call(reqwest::Method::POST, &format!("/api/v2/workflow/{workflow}/cancel"), None).await;
    }
}

/// The queued, running and stopped jobs of a `/v1/jobs` answer.
fn summary(jobs: &Value) -> (u64, u64, usize) {
    let jobs = jobs.as_array().unwrap();
    let count =
        |state: &str| jobs.iter().map(|job| job["JobSummary"]["Summary"]["build"][state].as_u64().unwrap()).sum();
    (count("Queued"), count("Running"), jobs.iter().filter(|job| job["Stop"] == true).count())
}

async fn nomad_in_pod(client: &Client, arguments: &[&str]) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let command = ["nomad"].iter().chain(arguments).copied();
    let mut attached = pods.exec("nomad-server-0", command, &AttachParams::default()).await.unwrap();
    let mut stdout = String::new();
    attached.stdout().unwrap().read_to_string(&mut stdout).await.unwrap();
    attached.join().await.unwrap();
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_in_a_nomad_server_pod_shows_the_containers_jobs_until_they_are_cancelled() {
    let sim = start(Scenario::CapacityHealthy, Deployment::default()).await;
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).unwrap();
    let options = KubeConfigOptions { context: Some(KUBE_CONTEXT.to_owned()), ..KubeConfigOptions::default() };
    let client = Client::try_from(Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap()).unwrap();
    let before: Value = serde_json::from_str(&nomad_in_pod(&client, &["operator", "api", "/v1/jobs"]).await).unwrap();
    assert_eq!(before, json!([]));

    let api = CircleCi::of(&sim);
    let workflow = api.capacity(20).await;
    // Two clients hold eight at once; the others wait for the autoscaler's clients, or run on them.
    let jobs: Value = serde_json::from_str(&nomad_in_pod(&client, &["operator", "api", "/v1/jobs"]).await).unwrap();
    let (queued, running, stopped) = summary(&jobs);
    assert_eq!((queued + running, stopped), (20, 0));
    assert!(running >= 8, "{jobs}");
    let nodes: Vec<Value> = serde_json::from_str(&nomad_in_pod(&client, &["node", "status", "-json"]).await).unwrap();
    assert!(nodes.len() >= 2);

    api.cancel(&workflow).await;
    let jobs: Value = serde_json::from_str(&nomad_in_pod(&client, &["operator", "api", "/v1/jobs"]).await).unwrap();
    assert_eq!(summary(&jobs), (0, 0, 20), "{jobs}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_nomad_http_api_outside_the_cluster_shows_the_same_jobs() {
    let external = Deployment { server_version: ServerVersion::V4_10, nomad_servers: NomadServers::External };
    let sim = start(Scenario::AutoscalerAtMax, external).await;
    // Whose certificate this is, sim.rs's tests hold; here only what the servers say matters.
    let nomad = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let jobs_url = format!("{}/v1/jobs", sim.nomad_url().unwrap());
    let api = CircleCi::of(&sim);
    let workflow = api.capacity(12).await;
    let jobs: Value = nomad.get(&jobs_url).send().await.unwrap().json().await.unwrap();
    // The release's max is the two clients there are: eight run, four wait for an hour.
    assert_eq!(summary(&jobs), (4, 8, 0), "{jobs}");
    let nodes: Value =
        nomad.get(format!("{}/v1/nodes", sim.nomad_url().unwrap())).send().await.unwrap().json().await.unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    api.cancel(&workflow).await;
    let jobs: Value = nomad.get(&jobs_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary(&jobs), (0, 0, 12), "{jobs}");
    assert!(jobs.as_array().unwrap().iter().all(|job| job["Status"] == "dead"));
    sim.shutdown().await;
}
