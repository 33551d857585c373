//! Nomad's HTTP API as the servers outside the cluster serve it (CircleCI's Terraform: HTTPS
//! from 4.9, plain HTTP on 4.8, no client certificate asked for, no ACLs, no gossip
//! encryption), answering from the same [`NomadState`] as the CLI in the nomad-server pods (the
//! installation's cluster as the fleet has it at the moment asked,
//! [`crate::execution::fleet::Fleet::nomad_at`]):
//! `/v1/status/leader`, `/v1/status/peers`, `/v1/agent/members`, `/v1/agent/self`, `/v1/nodes`,
//! `/v1/node/:id`, `/v1/jobs` and `/v1/agent/keyring/list`.
//!
//! As Nomad does, a query that needs the leader (every one but the agent's and the keyring's)
//! fails with 500 `No cluster leader` when no server leads, unless it allows a stale answer
//! (`?stale`), which the answering server gives from its own state. Errors are plain text.
//! `X-Nomad-Token` is accepted and ignored.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::render::{self, RPC_PORT};
use tokio::time::Instant;

use super::{MemberStatus, NO_LEADER, NomadServer, NomadState};
use crate::execution::fleet::SharedFleet;
use crate::installation::Installation;
use crate::kube::query::QueryParams;

const INDEX_HEADER: HeaderName = HeaderName::from_static("x-nomad-index");
const KNOWN_LEADER_HEADER: HeaderName = HeaderName::from_static("x-nomad-knownleader");
const LAST_CONTACT_HEADER: HeaderName = HeaderName::from_static("x-nomad-lastcontact");

/// What the API answers from: the installation, and its client group as it grows.
#[derive(Debug, Clone)]
struct Servers {
    installation: Arc<Installation>,
    fleet: SharedFleet,
}

impl Servers {
    /// The cluster now.
    fn nomad(&self) -> NomadState {
        self.fleet.lock().nomad_at(Instant::now())
    }
}

/// The API's routes, answering from `installation`'s Nomad cluster, whose clients and jobs
/// `fleet` has.
pub fn router(installation: Arc<Installation>, fleet: SharedFleet) -> Router {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/keyring/list", get(keyring_list))
        .route("/v1/nodes", get(nodes))
        .route("/v1/node/{id}", get(node))
        .route("/v1/jobs", get(jobs))
        // Nomad's root handler answers any other path 404 with no body.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .method_not_allowed_fallback(|| async { NomadError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method") })
        .with_state(Servers { installation, fleet })
}

/// An error as Nomad's HTTP server writes one: its status and a plain-text message.
#[derive(Debug)]
struct NomadError {
    status: StatusCode,
    message: String,
}

impl NomadError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for NomadError {
    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, "text/plain")], self.message).into_response()
    }
}

/// Whether the query allows a stale answer (`?stale`, `?stale=true`), as Nomad parses it.
fn allows_stale(query: Option<&str>) -> Result<bool, NomadError> {
    match QueryParams::parse(query).first("stale") {
        None => Ok(false),
        Some("" | "1" | "t" | "T" | "true" | "True" | "TRUE") => Ok(true),
        Some("0" | "f" | "F" | "false" | "False" | "FALSE") => Ok(false),
        Some(_) => {
            Err(NomadError::new(StatusCode::BAD_REQUEST, "Expect `true` or `false` for `stale` query string parameter"))
        }
    }
}

/// Fails a query that needs the leader when none leads and it does not allow a stale answer.
fn consistent(nomad: &NomadState, query: Option<&str>) -> Result<(), NomadError> {
    if nomad.leader().is_some() || allows_stale(query)? { Ok(()) } else { Err(NomadError::internal(NO_LEADER)) }
}

/// The server behind the API's address: the first one alive.
fn answering(nomad: &NomadState) -> Result<&NomadServer, NomadError> {
    nomad.answering_server().ok_or_else(|| NomadError::internal(NO_LEADER))
}

fn rpc_address(server: &NomadServer) -> String {
    format!("{}:{RPC_PORT}", server.address)
}

/// The query metadata Nomad sends with the answers of its state store, whose latest change is
/// `index`.
fn query_meta(nomad: &NomadState, index: u64) -> [(HeaderName, String); 3] {
    [
        (INDEX_HEADER, index.to_string()),
        (KNOWN_LEADER_HEADER, nomad.leader().is_some().to_string()),
        (LAST_CONTACT_HEADER, "0".to_owned()),
    ]
}

/// `GET /v1/status/leader`: the leader's RPC address; `""` for a stale read without a leader.
async fn leader(State(servers): State<Servers>, RawQuery(query): RawQuery) -> Result<Json<String>, NomadError> {
    let nomad = &servers.nomad();
    consistent(nomad, query.as_deref())?;
    Ok(Json(nomad.leader().map(rpc_address).unwrap_or_default()))
}

/// `GET /v1/status/peers`: the RPC addresses of the raft configuration's servers, failed or not.
async fn peers(State(servers): State<Servers>, RawQuery(query): RawQuery) -> Result<Json<Vec<String>>, NomadError> {
    let nomad = &servers.nomad();
    consistent(nomad, query.as_deref())?;
    Ok(Json(nomad.servers.iter().filter(|server| server.status != MemberStatus::Left).map(rpc_address).collect()))
}

/// `GET /v1/agent/members`: the servers as serf knows them, leader or not.
async fn members(State(servers): State<Servers>) -> Result<Json<Value>, NomadError> {
    let nomad = &servers.nomad();
    Ok(Json(render::agent_members(nomad, answering(nomad)?)))
}

/// `GET /v1/agent/self`: the answering server's configuration, member and stats.
async fn agent_self(State(servers): State<Servers>) -> Result<Json<Value>, NomadError> {
    let nomad = &servers.nomad();
    let https = servers.installation.deployment.server_version.external_nomad_https();
    Ok(Json(render::agent_self(nomad, answering(nomad)?, https)))
}

/// `GET /v1/agent/keyring/list`: the gossip keys the alive servers have installed, or serf's
/// failure when they run without gossip encryption (as CircleCI's Terraform leaves them).
async fn keyring_list(State(servers): State<Servers>) -> Result<Json<Value>, NomadError> {
    let nomad = &servers.nomad();
    let alive = nomad.servers.iter().filter(|server| server.status == MemberStatus::Alive).count();
    if nomad.gossip_keys.is_empty() {
        return Err(NomadError::internal(format!("{alive}/{alive} nodes reported failure")));
    }
    let keys: serde_json::Map<String, Value> =
        nomad.gossip_keys.iter().map(|key| (key.clone(), json!(alive))).collect();
    Ok(Json(json!({"Keys": keys, "Messages": {}, "NumNodes": alive})))
}

/// `GET /v1/nodes` (`?prefix=` filters by ID prefix): the node stubs.
async fn nodes(State(servers): State<Servers>, RawQuery(query): RawQuery) -> Result<Response, NomadError> {
    let nomad = &servers.nomad();
    consistent(nomad, query.as_deref())?;
    let params = QueryParams::parse(query.as_deref());
    let stubs = render::node_stubs(nomad, params.first("prefix").unwrap_or_default());
    Ok((query_meta(nomad, nodes_index(nomad)), Json(stubs)).into_response())
}

/// `GET /v1/node/:id`: the node of that full ID, or 404 `node not found`.
async fn node(
    State(servers): State<Servers>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, NomadError> {
    let nomad = &servers.nomad();
    consistent(nomad, query.as_deref())?;
    let client = nomad.client(&id).ok_or_else(|| NomadError::new(StatusCode::NOT_FOUND, "node not found"))?;
    Ok((query_meta(nomad, nodes_index(nomad)), Json(render::node(nomad, client))).into_response())
}

/// `GET /v1/jobs` (`?prefix=` filters by ID prefix): the job stubs with their summaries.
async fn jobs(State(servers): State<Servers>, RawQuery(query): RawQuery) -> Result<Response, NomadError> {
    let nomad = &servers.nomad();
    consistent(nomad, query.as_deref())?;
    let params = QueryParams::parse(query.as_deref());
    let stubs = render::job_stubs(nomad, params.first("prefix").unwrap_or_default());
    let index = nomad.jobs.iter().map(|job| job.modify_index).max().unwrap_or(1);
    Ok((query_meta(nomad, index), Json(stubs)).into_response())
}

/// The latest change to the nodes.
fn nodes_index(nomad: &NomadState) -> u64 {
    nomad.clients.iter().map(|client| client.modify_index).max().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    use super::*;
    use crate::execution::fleet::Fleet;
    use crate::scenario::Scenario;
    use crate::version::{Deployment, NomadServers, ServerVersion};

    struct Answer {
        status: StatusCode,
        content_type: String,
        known_leader: Option<String>,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
        }
    }

    fn app(scenario: Scenario, server_version: ServerVersion) -> Router {
        let deployment = Deployment { server_version, nomad_servers: NomadServers::External };
        let started_at = "2025-03-01T12:00:00Z".parse().unwrap();
        let installation = Installation::deployed(scenario, deployment, started_at).unwrap();
        let fleet = SharedFleet::new(Fleet::new(&installation, Instant::now()));
        router(Arc::new(installation), fleet)
    }

    async fn send(app: &Router, method: Method, uri: &str) -> Answer {
        let request = Request::builder().method(method).uri(uri).header("X-Nomad-Token", "ignored");
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let header = |name: HeaderName| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (status, content_type, known_leader) =
            (response.status(), header(header::CONTENT_TYPE).unwrap_or_default(), header(KNOWN_LEADER_HEADER));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer { status, content_type, known_leader, body: String::from_utf8(bytes.to_vec()).unwrap() }
    }

    async fn get(app: &Router, uri: &str) -> Answer {
        send(app, Method::GET, uri).await
    }

    #[tokio::test]
    async fn a_healthy_cluster_answers_every_endpoint() {
        let app = app(Scenario::Healthy, ServerVersion::V4_10);
        let leader = get(&app, "/v1/status/leader").await;
        assert_eq!((leader.status, leader.body.as_str()), (StatusCode::OK, "\"10.0.1.10:4647\""));
        assert_eq!(leader.content_type, "application/json");
        let peers = get(&app, "/v1/status/peers").await.json();
        assert_eq!(peers, json!(["10.0.1.10:4647", "10.0.2.10:4647", "10.0.3.10:4647"]));

        let members = get(&app, "/v1/agent/members").await.json();
        assert_eq!(members["ServerName"], "ip-10-0-1-10");
        let listed = members["Members"].as_array().unwrap();
        assert_eq!(listed.len(), 3);
        for member in listed {
            assert_eq!((member["Status"].as_str(), member["Port"].as_u64()), (Some("alive"), Some(4648)));
            assert_eq!(member["Tags"]["role"], "nomad");
            assert_eq!(member["Tags"]["port"], "4647");
            assert_eq!(member["Tags"]["build"], "1.11.3");
        }
        let agent = get(&app, "/v1/agent/self").await.json();
        assert_eq!(agent["config"]["Version"]["Version"], "1.11.3");
        assert_eq!(agent["member"]["Name"], "ip-10-0-1-10.global");

        let nodes = get(&app, "/v1/nodes").await;
        assert_eq!(nodes.known_leader.as_deref(), Some("true"));
        let nodes = nodes.json();
        let nodes = nodes.as_array().unwrap();
        assert_eq!(nodes.len(), 2);
        let id = nodes[0]["ID"].as_str().unwrap();
        assert_eq!(nodes[0]["NodePool"], "default");
        assert_eq!(get(&app, &format!("/v1/nodes?prefix={}", &id[..6])).await.json().as_array().unwrap().len(), 1);
        let node = get(&app, &format!("/v1/node/{id}")).await.json();
        assert_eq!(node["ID"], id);
        assert_eq!(node["Attributes"]["driver.docker.version"], "28.1.1");
        assert_eq!(node["Attributes"]["os.cgroups.version"], "1");
        assert_eq!(node["Attributes"]["nomad.version"], "1.7.7");

        let unknown = get(&app, "/v1/node/00000000-0000-0000-0000-000000000000").await;
        assert_eq!((unknown.status, unknown.body.as_str()), (StatusCode::NOT_FOUND, "node not found"));
        assert_eq!(unknown.content_type, "text/plain");
        let short = get(&app, &format!("/v1/node/{}", &id[..8])).await;
        assert_eq!(short.status, StatusCode::NOT_FOUND, "the API wants the full ID");

        let keyring = get(&app, "/v1/agent/keyring/list").await;
        assert_eq!(
            (keyring.status, keyring.body.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "3/3 nodes reported failure")
        );
        let elsewhere = get(&app, "/v1/allocations").await;
        assert_eq!((elsewhere.status, elsewhere.body.as_str()), (StatusCode::NOT_FOUND, ""));
        let posted = send(&app, Method::POST, "/v1/nodes").await;
        assert_eq!((posted.status, posted.body.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "Invalid method"));
    }

    #[tokio::test]
    async fn without_a_leader_queries_fail_unless_stale_and_the_agent_still_answers() {
        let app = app(Scenario::NomadServersNoQuorum, ServerVersion::V4_9);
        for path in ["/v1/status/leader", "/v1/status/peers", "/v1/nodes", "/v1/node/anything", "/v1/jobs"] {
            let answer = get(&app, path).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader"),
                "{path}"
            );
        }
        assert_eq!(get(&app, "/v1/status/leader?stale").await.body, "\"\"");
        assert_eq!(get(&app, "/v1/status/peers?stale=true").await.json().as_array().unwrap().len(), 3);
        assert_eq!(get(&app, "/v1/jobs?stale").await.json(), json!([]));
        let stale_nodes = get(&app, "/v1/nodes?stale=true").await;
        assert_eq!(stale_nodes.known_leader.as_deref(), Some("false"));
        assert_eq!(stale_nodes.json().as_array().unwrap().len(), 2);
        let bad = get(&app, "/v1/nodes?stale=maybe").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        let members = get(&app, "/v1/agent/members").await.json();
        let statuses: Vec<&str> =
            members["Members"].as_array().unwrap().iter().map(|m| m["Status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["alive", "failed", "failed"]);
        let agent = get(&app, "/v1/agent/self").await.json();
        assert_eq!(agent["stats"]["nomad"]["leader_addr"], "");
        assert_eq!(agent["config"]["Version"]["Version"], "1.7.7", "4.9's Terraform installs 1.7.7 on the servers");
        assert_eq!(get(&app, "/v1/agent/keyring/list").await.body, "1/1 nodes reported failure");
    }

    #[tokio::test]
    async fn client_faults_show_in_the_node_attributes() {
        let docker_29 = app(Scenario::NomadClientsDocker29, ServerVersion::V4_10);
        let cgroups_v2 = app(Scenario::NomadClientsCgroupsV2, ServerVersion::V4_10);
        let first_node = |app: Router| async move {
            let nodes = get(&app, "/v1/nodes").await.json();
            let id = nodes[0]["ID"].as_str().unwrap().to_owned();
            get(&app, &format!("/v1/node/{id}")).await.json()
        };
        assert_eq!(first_node(docker_29).await["Attributes"]["driver.docker.version"], "29.0.1");
        assert_eq!(first_node(cgroups_v2).await["Attributes"]["os.cgroups.version"], "2");
    }
}
