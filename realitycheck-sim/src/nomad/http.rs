//! Nomad's HTTP API as the servers outside the cluster serve it (CircleCI's Terraform: HTTPS
//! from 4.9, plain HTTP on 4.8, no client certificate asked for, no ACLs, no gossip
//! encryption), answering from the same [`NomadState`] as the CLI in the nomad-server pods:
//! `/v1/status/leader`, `/v1/status/peers`, `/v1/agent/members`, `/v1/agent/self`, `/v1/nodes`,
//! `/v1/node/:id` and `/v1/agent/keyring/list`.
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
use super::{MemberStatus, NO_LEADER, NomadServer, NomadState};
use crate::installation::Installation;
use crate::kube::query::QueryParams;

const INDEX_HEADER: HeaderName = HeaderName::from_static("x-nomad-index");
const KNOWN_LEADER_HEADER: HeaderName = HeaderName::from_static("x-nomad-knownleader");
const LAST_CONTACT_HEADER: HeaderName = HeaderName::from_static("x-nomad-lastcontact");

/// The API's routes, answering from `installation`'s Nomad cluster.
pub fn router(installation: Arc<Installation>) -> Router {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/keyring/list", get(keyring_list))
        .route("/v1/nodes", get(nodes))
        .route("/v1/node/{id}", get(node))
        // Nomad's root handler answers any other path 404 with no body.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .method_not_allowed_fallback(|| async { NomadError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method") })
        .with_state(installation)
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

/// The query metadata Nomad sends with the answers of its state store.
fn query_meta(nomad: &NomadState) -> [(HeaderName, String); 3] {
    let index = nomad.clients.iter().map(|client| client.modify_index).max().unwrap_or(1);
    [
        (INDEX_HEADER, index.to_string()),
        (KNOWN_LEADER_HEADER, nomad.leader().is_some().to_string()),
        (LAST_CONTACT_HEADER, "0".to_owned()),
    ]
}

/// `GET /v1/status/leader`: the leader's RPC address; `""` for a stale read without a leader.
async fn leader(
    State(installation): State<Arc<Installation>>,
    RawQuery(query): RawQuery,
) -> Result<Json<String>, NomadError> {
    let nomad = &installation.nomad;
    consistent(nomad, query.as_deref())?;
    Ok(Json(nomad.leader().map(rpc_address).unwrap_or_default()))
}

/// `GET /v1/status/peers`: the RPC addresses of the raft configuration's servers, failed or not.
async fn peers(
    State(installation): State<Arc<Installation>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<String>>, NomadError> {
    let nomad = &installation.nomad;
    consistent(nomad, query.as_deref())?;
    Ok(Json(nomad.servers.iter().filter(|server| server.status != MemberStatus::Left).map(rpc_address).collect()))
}

/// `GET /v1/agent/members`: the servers as serf knows them, leader or not.
async fn members(State(installation): State<Arc<Installation>>) -> Result<Json<Value>, NomadError> {
    let nomad = &installation.nomad;
    Ok(Json(render::agent_members(nomad, answering(nomad)?)))
}

/// `GET /v1/agent/self`: the answering server's configuration, member and stats.
async fn agent_self(State(installation): State<Arc<Installation>>) -> Result<Json<Value>, NomadError> {
    let nomad = &installation.nomad;
    let https = installation.deployment.server_version.external_nomad_https();
    Ok(Json(render::agent_self(nomad, answering(nomad)?, https)))
}

/// `GET /v1/agent/keyring/list`: the gossip keys the alive servers have installed, or serf's
/// failure when they run without gossip encryption (as CircleCI's Terraform leaves them).
async fn keyring_list(State(installation): State<Arc<Installation>>) -> Result<Json<Value>, NomadError> {
    let nomad = &installation.nomad;
    let alive = nomad.servers.iter().filter(|server| server.status == MemberStatus::Alive).count();
    if nomad.gossip_keys.is_empty() {
        return Err(NomadError::internal(format!("{alive}/{alive} nodes reported failure")));
    }
    let keys: serde_json::Map<String, Value> =
        nomad.gossip_keys.iter().map(|key| (key.clone(), json!(alive))).collect();
    Ok(Json(json!({"Keys": keys, "Messages": {}, "NumNodes": alive})))
}

/// `GET /v1/nodes` (`?prefix=` filters by ID prefix): the node stubs.
async fn nodes(
    State(installation): State<Arc<Installation>>,
    RawQuery(query): RawQuery,
) -> Result<Response, NomadError> {
    let nomad = &installation.nomad;
    consistent(nomad, query.as_deref())?;
    let params = QueryParams::parse(query.as_deref());
    let stubs = render::node_stubs(nomad, params.first("prefix").unwrap_or_default());
    Ok((query_meta(nomad), Json(stubs)).into_response())
}

/// `GET /v1/node/:id`: the node of that full ID, or 404 `node not found`.
async fn node(
    State(installation): State<Arc<Installation>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, NomadError> {
    let nomad = &installation.nomad;
    consistent(nomad, query.as_deref())?;
    let client = nomad.client(&id).ok_or_else(|| NomadError::new(StatusCode::NOT_FOUND, "node not found"))?;
    Ok((query_meta(nomad), Json(render::node(nomad, client))).into_response())
}
