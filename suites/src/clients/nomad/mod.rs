//! Nomad, read two ways into one small model: what the nomad CLI in a Nomad server pod says,
//! and what Nomad's HTTP API answers ([`http`]) for servers that run outside the Kubernetes
//! cluster. Client nodes (`nomad node status`, `GET /v1/nodes`) and one node's versions
//! (`nomad node status -json <id>`, `GET /v1/node/:id`), server members (`nomad server
//! members`, `GET /v1/agent/members`), from `-json` output or, for CLIs without it, from the
//! table; the gossip keys in-cluster servers have installed (`nomad operator gossip keyring
//! list`); the allocations waiting for room (`GET /v1/jobs`). Reading only: judging is in
//! `checks`.

pub mod http;
pub mod jobs;
pub mod keyring;
pub mod members;
pub mod nodes;
pub mod table;

/// Why a parse failed; the check falls back to the table or reports it.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{command}` output as JSON: {source}")]
pub struct ParseError {
    pub command: &'static str,
    #[source]
    pub source: serde_json::Error,
}
