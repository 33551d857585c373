//! Nomad server members, from `nomad server members -json` (AgentMember list; the CLI
//! adds `Tags.Leader`) or from the table (with `Protocol` before 1.3, `Raft Version` after).

use std::collections::BTreeMap;

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

pub fn from_json(text: &str) -> Result<Vec<Member>, ParseError> {
    let members: Option<Vec<AgentMember>> =
        serde_json::from_str(text).map_err(|source| ParseError { command: "nomad server members -json", source })?;
    Ok(members
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let tag = |key: &str| m.tags.as_ref().and_then(|tags| tags.get(key).cloned());
            Member {
                name: m.name.unwrap_or_default(),
                address: m.addr.unwrap_or_default(),
                status: m.status.unwrap_or_default(),
                leader: tag("Leader").map(|v| v == "true"),
                version: tag("build").unwrap_or_default(),
            }
        })
        .collect())
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
