//! Nomad client nodes, from `nomad node status -json` (a list of NodeListStub, parsed
//! tolerantly: unknown keys ignored, null or missing lists empty) or from the table (the
//! pre-1.6 layout and the one with `Node Pool`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ParseError;
use super::table::{self, NotATable};

/// What a task driver of a node (`raw_exec`, `docker`) reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    Healthy,
    Unhealthy(String),
    /// The node reports drivers, but not this one.
    NotDetected,
    /// The output does not say (table output).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub status: String,
    pub eligibility: String,
    pub drain: bool,
    pub class: String,
    pub pool: String,
    /// The driver CircleCI's clients run jobs with.
    pub raw_exec: Driver,
    /// The Docker daemon the jobs use, where the client has one (not on Podman clients).
    pub docker: Driver,
    /// The Nomad version of the client; empty when the output does not say.
    pub version: String,
}

impl Node {
    /// The first 8 characters of the ID, as the CLI prints it.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeStub {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    scheduling_eligibility: Option<String>,
    #[serde(default)]
    drain: Option<bool>,
    #[serde(default)]
    node_class: Option<String>,
    #[serde(default)]
    node_pool: Option<String>,
    #[serde(default)]
    drivers: Option<BTreeMap<String, Option<DriverInfo>>>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DriverInfo {
    #[serde(default)]
    detected: Option<bool>,
    #[serde(default)]
    healthy: Option<bool>,
    #[serde(default)]
    health_description: Option<String>,
}

pub fn from_json(text: &str) -> Result<Vec<Node>, ParseError> {
    let stubs: Option<Vec<NodeStub>> =
        serde_json::from_str(text).map_err(|source| ParseError { command: "nomad node status -json", source })?;
    Ok(stubs.unwrap_or_default().into_iter().map(Node::from).collect())
}

impl From<NodeStub> for Node {
    fn from(stub: NodeStub) -> Node {
        let driver = |name: &str| match &stub.drivers {
            None => Driver::Unknown,
            Some(drivers) => match drivers.get(name) {
                None | Some(None) => Driver::NotDetected,
                Some(Some(driver)) if driver.healthy == Some(true) => Driver::Healthy,
                Some(Some(driver)) if driver.detected == Some(false) && driver.health_description.is_none() => {
                    Driver::NotDetected
                }
                Some(Some(driver)) => Driver::Unhealthy(driver.health_description.clone().unwrap_or_default()),
            },
        };
        let (raw_exec, docker) = (driver("raw_exec"), driver("docker"));
        Node {
            id: stub.id.unwrap_or_default(),
            name: stub.name.unwrap_or_default(),
            status: stub.status.unwrap_or_default(),
            eligibility: stub.scheduling_eligibility.unwrap_or_default(),
            drain: stub.drain.unwrap_or(false),
            class: stub.node_class.unwrap_or_default(),
            pool: stub.node_pool.unwrap_or_default(),
            raw_exec,
            docker,
            version: stub.version.unwrap_or_default(),
        }
    }
}

/// What the CLI prints instead of the table when no client has registered.
const NO_NODES: &str = "No nodes registered";

/// The list table; both layouts map by header name. The table does not show drivers.
pub fn from_table(text: &str) -> Result<Vec<Node>, NotATable> {
    if text.trim() == NO_NODES {
        return Ok(Vec::new());
    }
    Ok(table::parse(text, &["ID", "Status"])?
        .into_iter()
        .map(|row| Node {
            id: row.get("ID").to_string(),
            name: row.get("Name").to_string(),
            status: row.get("Status").to_string(),
            eligibility: row.get("Eligibility").to_string(),
            drain: row.get("Drain") == "true",
            class: row.get("Class").to_string(),
            pool: row.get("Node Pool").to_string(),
            raw_exec: Driver::Unknown,
            docker: Driver::Unknown,
            version: String::new(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_unknown_keys_nulls_and_driver_health() {
        let text = r#"[
    {
        "Address": "10.0.1.5",
        "CreateIndex": 7,
        "Datacenter": "default",
        "Drain": false,
        "Drivers": {
            "docker": {"Attributes": null, "Detected": true, "HealthDescription": "Healthy", "Healthy": true, "UpdateTime": "2026-01-01T00:00:00Z"},
            "raw_exec": null
        },
        "ID": "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7",
        "LastDrain": null,
        "Name": "i-0a1b2c3d4e5f67890",
        "NodeClass": "linux-64bit",
        "NodePool": "default",
        "SchedulingEligibility": "eligible",
        "SomethingNew": {"nested": [1, 2]},
        "Status": "ready"
    },
    {
        "ID": "1f3f03ea-0000-0000-0000-000000000000",
        "Name": "i-2",
        "Drain": true,
        "Drivers": {"docker": {"Detected": false, "HealthDescription": "Failed to connect to docker daemon", "Healthy": false}},
        "SchedulingEligibility": "ineligible",
        "Status": "down"
    },
    {"ID": "2", "Drivers": {}, "Status": "initializing"},
    {"ID": "3", "Status": "ready"}
]"#;
        let nodes = from_json(text).unwrap();
        assert_eq!(nodes.len(), 4);
        assert_eq!(nodes[0].short_id(), "0f3c9a1e");
        assert_eq!(nodes[0].docker, Driver::Healthy);
        assert_eq!(nodes[0].pool, "default");
        assert!(nodes[1].drain);
        assert_eq!(nodes[1].docker, Driver::Unhealthy("Failed to connect to docker daemon".into()));
        assert_eq!(nodes[2].docker, Driver::NotDetected);
        assert_eq!(nodes[2].short_id(), "2");
        assert_eq!(nodes[3].docker, Driver::Unknown);
    }

    #[test]
    fn empty_and_null_lists() {
        assert!(from_json("[]").unwrap().is_empty());
        assert!(from_json("null").unwrap().is_empty());
        assert!(from_json("No nodes registered").is_err());
    }

    #[test]
    fn pre_1_6_table() {
        let text = "ID        DC       Name              Class        Drain  Eligibility  Status\n\
                    132ed55b  default  ip-192-168-44-29  linux-64bit  false  eligible     ready\n\
                    9a1b2c3d  default  ip-192-168-44-30  <none>       true   ineligible   ready\n";
        let nodes = from_table(text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].name, "ip-192-168-44-29");
        assert_eq!(nodes[0].eligibility, "eligible");
        assert_eq!(nodes[0].pool, "");
        assert_eq!(nodes[1].class, "");
        assert!(nodes[1].drain);
        assert_eq!(nodes[1].docker, Driver::Unknown);
    }

    #[test]
    fn node_pool_table_with_padded_names() {
        let text = "ID        Node Pool  DC       Name                 Class        Drain  Eligibility  Status\n\
                    0f3c9a1e  default    default  EC2AMAZ-975J5MS      linux-64bit  false  eligible     ready\n\
                    1f3f03ea  dev        dc1      i-0a1b2c3d4e5f67890  <none>       false  ineligible   down\n";
        let nodes = from_table(text).unwrap();
        assert_eq!(nodes[0].pool, "default");
        assert_eq!(nodes[0].name, "EC2AMAZ-975J5MS");
        assert_eq!(nodes[1].pool, "dev");
        assert_eq!(nodes[1].status, "down");
    }

    #[test]
    fn a_table_without_nodes_or_without_a_table() {
        assert_eq!(from_table("No nodes registered\n"), Ok(Vec::new()));
        let html = "<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n";
        assert_eq!(from_table(html).unwrap_err().first_line, "<!DOCTYPE html>");
        let error = "Error: unknown command \"node status\"\n";
        assert_eq!(from_table(error).unwrap_err().first_line, "Error: unknown command \"node status\"");
        assert!(from_table("").is_err());
    }
}
