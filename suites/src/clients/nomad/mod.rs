//! What the nomad CLI in the Nomad server pod says, parsed into a small model: client
//! nodes (`nomad node status`) and server members (`nomad server members`), from `-json`
//! output or, for CLIs without it, from the table; the gossip keys the servers have installed
//! (`nomad operator gossip keyring list`). Parsing only: judging is in `checks`.

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
