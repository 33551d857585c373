//! Nomad server members, from `nomad server members -json` (AgentMember list; the CLI
//! adds `Tags.Leader`), from the table (with `Protocol` before 1.3, `Raft Version` after), or
//! from the HTTP API's `/v1/agent/members` (the same members in an object, without `Leader`:
//! the caller asks each region's leader and marks it as the CLI does).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::ParseError;
use super::table::{self, NotATable};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub address: String,
    pub status: String,
    /// Whether this server is the leader of its region; `None` when the output says nothing.
    pub leader: Option<bool>,
    /// The server's Nomad version (`build`); empty when the output does not say.
    pub version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentMember {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

impl AgentMember {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.as_ref().and_then(|tags| tags.get(key)).map(String::as_str)
    }

    fn into_member(self, leader: Option<bool>) -> Member {
        let version = self.tag("build").unwrap_or_default().to_string();
        Member {
            name: self.name.unwrap_or_default(),
            address: self.addr.unwrap_or_default(),
            status: self.status.unwrap_or_default(),
            leader,
            version,
        }
    }
}

pub fn from_json(text: &str) -> Result<Vec<Member>, ParseError> {
    let members: Option<Vec<AgentMember>> =
        serde_json::from_str(text).map_err(|source| ParseError { command: "nomad server members -json", source })?;
    Ok(members
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let leader = m.tag("Leader").map(|v| v == "true");
            m.into_member(leader)
        })
        .collect())
}

/// The answer of `GET /v1/agent/members` (`ServerMembers`), before the leaders are known.
#[derive(Deserialize)]
pub struct AgentMembers {
    #[serde(rename = "Members", default)]
    members: Option<Vec<AgentMember>>,
}

impl AgentMembers {
    /// The regions whose leader decides who leads: those of the members that have not left
    /// (the CLI asks no leader of a region all of whose members left). `""` when a member does
    /// not say its region: the agent's own.
    pub fn regions(&self) -> BTreeSet<String> {
        let members = self.members.iter().flatten();
        let present = members.filter(|m| m.status.as_deref() != Some("left"));
        present.map(|m| m.tag("region").unwrap_or_default().to_string()).collect()
    }

    /// The members, each the leader when its RPC address (`Addr:Tags.port`) is the one its
    /// region's leader has (`leaders`: region → `/v1/status/leader`); a region without a leader
    /// in `leaders` has none, so each of its members is `Some(false)`.
    pub fn with_leaders(self, leaders: &BTreeMap<String, String>) -> Vec<Member> {
        self.members
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let rpc_address =
                    join_host_port(m.addr.as_deref().unwrap_or_default(), m.tag("port").unwrap_or_default());
                let region = m.tag("region").unwrap_or_default();
                let leader = leaders.get(region).is_some_and(|leader| *leader == rpc_address);
                m.into_member(Some(leader))
            })
            .collect()
    }
}

/// The members of `GET /v1/agent/members`; a missing or null list is empty.
pub fn from_agent_members(text: &str) -> Result<AgentMembers, ParseError> {
    let failed = |source| ParseError { command: "GET /v1/agent/members", source };
    // An object, not the CLI's list (which serde would read as the struct's fields in order).
    let object: Option<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text).map_err(failed)?;
    match object {
        Some(object) => serde_json::from_value(serde_json::Value::Object(object)).map_err(failed),
        None => Ok(AgentMembers { members: None }),
    }
}

/// `host:port`, an IPv6 host in brackets, as Go's `net.JoinHostPort` writes it.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// The members table. With no members the CLI prints nothing here (its message goes to stderr).
pub fn from_table(text: &str) -> Result<Vec<Member>, NotATable> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(table::parse(text, &["Name", "Status"])?
        .into_iter()
        .map(|row| Member {
            name: row.get("Name").to_string(),
            address: row.get("Address").to_string(),
            status: row.get("Status").to_string(),
            leader: row.has("Leader").then(|| row.get("Leader") == "true"),
            version: row.get("Build").to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_the_leader_tag() {
        let text = r#"[
    {"Addr": "10.0.0.8", "DelegateCur": 4, "Name": "nomad-server-0.global", "Port": 4648, "Status": "alive",
     "Tags": {"Leader": "true", "build": "1.7.7", "region": "global", "role": "nomad"}},
    {"Addr": "10.0.0.9", "Name": "nomad-server-1.global", "Status": "failed", "Tags": {"Leader": "false"}},
    {"Addr": "10.0.0.10", "Name": "nomad-server-2.global", "Status": "alive", "Tags": null}
]"#;
        let members = from_json(text).unwrap();
        assert_eq!((members[0].leader, members[0].version.as_str()), (Some(true), "1.7.7"));
        assert_eq!(members[1].status, "failed");
        assert_eq!(members[2].leader, None);
        assert!(from_json("null").unwrap().is_empty());
    }

    #[test]
    fn the_apis_members_lead_when_their_rpc_address_is_their_regions_leader() {
        let text = r#"{"ServerName": "nomad-server-0", "ServerRegion": "global", "ServerDC": "dc1", "Members": [
    {"Addr": "10.0.0.8", "Name": "nomad-server-0.global", "Port": 4648, "Status": "alive",
     "Tags": {"build": "1.11.3", "port": "4647", "region": "global", "role": "nomad"}},
    {"Addr": "10.0.0.9", "Name": "nomad-server-1.global", "Port": 4648, "Status": "alive",
     "Tags": {"build": "1.11.3", "port": "4647", "region": "global"}},
    {"Addr": "fd00::7", "Name": "nomad-eu-0.eu", "Status": "alive", "Tags": {"port": "4647", "region": "eu"}},
    {"Addr": "10.9.0.1", "Name": "gone.apac", "Status": "left", "Tags": {"port": "4647", "region": "apac"}},
    {"Name": "bare", "Tags": null}
]}"#;
        let members = from_agent_members(text).unwrap();
        assert_eq!(members.regions().into_iter().collect::<Vec<_>>(), ["", "eu", "global"]);
        let leaders = BTreeMap::from([
            ("global".to_string(), "10.0.0.9:4647".to_string()),
            ("eu".to_string(), "[fd00::7]:4647".to_string()),
        ]);
        let members = members.with_leaders(&leaders);
        let leading: Vec<_> = members.iter().map(|m| (m.name.as_str(), m.leader)).collect();
        assert_eq!(
            leading,
            [
                ("nomad-server-0.global", Some(false)),
                ("nomad-server-1.global", Some(true)),
                ("nomad-eu-0.eu", Some(true)),
                ("gone.apac", Some(false)),
                ("bare", Some(false)),
            ]
        );
        assert_eq!((members[0].address.as_str(), members[0].version.as_str()), ("10.0.0.8", "1.11.3"));
        assert_eq!(members[4].status, "");
        for empty in ["null", "{}", r#"{"Members": null}"#] {
            assert!(from_agent_members(empty).unwrap().with_leaders(&BTreeMap::new()).is_empty(), "{empty}");
        }
        assert!(from_agent_members("[]").is_err(), "the CLI's list is not the API's object");
    }

    #[test]
    fn old_table_layout_with_protocol() {
        let text = "Name            Address   Port  Status  Leader  Protocol  Build  Datacenter  Region\n\
                    nomad-a.global  10.1.0.4  4648  alive   false   2         1.1.3  dc1         global\n\
                    nomad-b.global  10.1.0.5  4648  alive   true    2         1.1.3  dc1         global\n";
        let members = from_table(text).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].leader, Some(true));
        assert_eq!(members[0].address, "10.1.0.4");
    }

    #[test]
    fn no_members_or_no_table() {
        assert_eq!(from_table(""), Ok(Vec::new()));
        let error = from_table("Error querying servers: Unexpected response code: 403 (Permission denied)\n");
        assert_eq!(
            error.unwrap_err().first_line,
            "Error querying servers: Unexpected response code: 403 (Permission denied)"
        );
    }
}
