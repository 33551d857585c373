//! Nomad client nodes, from `nomad node status -json` or the HTTP API's `GET /v1/nodes` (a
//! list of NodeListStub, parsed tolerantly: unknown keys ignored, null or missing lists empty)
//! or from the table (the pre-1.6 layout and the one with `Node Pool`); and one node's details
//! (its versions) from `nomad node status -json <id>` or `GET /v1/node/:id` (a Node).

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

/// What one node says of itself, from its fingerprint's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDetail {
    pub id: String,
    pub name: String,
    /// `nomad.version`.
    pub nomad_version: Option<String>,
    /// `driver.docker.version`: the Docker daemon the docker driver found.
    pub docker_version: Option<String>,
    /// `os.cgroups.version` (`1`, `2`), or `unique.cgroup.version` as Nomad before 1.7 names it.
    pub cgroups_version: Option<String>,
    /// `cpu.numcores`: the vCPUs jobs share.
    pub cpu_cores: Option<u32>,
    /// `memory.totalbytes`, in MiB.
    pub memory_mib: Option<u64>,
    /// `ReservedResources.Memory.MemoryMB`: what the client keeps for itself.
    pub reserved_memory_mib: Option<u64>,
}

impl NodeDetail {
    /// The vCPUs and memory (MiB) the client can give jobs, when its fingerprint says.
    pub fn schedulable(&self) -> Option<(u32, u64)> {
        let memory = self.memory_mib?.saturating_sub(self.reserved_memory_mib.unwrap_or(0));
        Some((self.cpu_cores?, memory))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeJson {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    drivers: Option<BTreeMap<String, Option<DriverAttributes>>>,
    #[serde(default)]
    reserved_resources: Option<ReservedResources>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReservedResources {
    #[serde(default)]
    memory: Option<ReservedMemory>,
}

#[derive(Deserialize)]
struct ReservedMemory {
    #[serde(rename = "MemoryMB", default)]
    memory_mb: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DriverAttributes {
    #[serde(default)]
    attributes: Option<BTreeMap<String, Option<String>>>,
}

/// A node's details, from the Node JSON that `nomad node status -json <id>` prints and
/// `GET /v1/node/:id` answers. An attribute that is absent or empty is `None`; the Docker
/// version is read from the node's attributes, else from its docker driver's.
pub fn detail_from_json(text: &str) -> Result<NodeDetail, ParseError> {
    let node: NodeJson =
        serde_json::from_str(text).map_err(|source| ParseError { command: "nomad node status -json <id>", source })?;
    let attribute = |attributes: Option<&BTreeMap<String, Option<String>>>, key: &str| {
        attributes.and_then(|a| a.get(key)).and_then(|v| v.as_deref()).filter(|v| !v.is_empty()).map(str::to_string)
    };
    let attributes = node.attributes.as_ref();
    let docker_driver = node.drivers.as_ref().and_then(|d| d.get("docker")).and_then(Option::as_ref);
    Ok(NodeDetail {
        nomad_version: attribute(attributes, "nomad.version"),
        docker_version: attribute(attributes, "driver.docker.version").or_else(|| {
            attribute(docker_driver.and_then(|driver| driver.attributes.as_ref()), "driver.docker.version")
        }),
        cgroups_version: attribute(attributes, "os.cgroups.version")
            .or_else(|| attribute(attributes, "unique.cgroup.version")),
        cpu_cores: attribute(attributes, "cpu.numcores").and_then(|cores| cores.parse().ok()),
        memory_mib: attribute(attributes, "memory.totalbytes")
            .and_then(|bytes| bytes.parse::<u64>().ok())
            .map(|bytes| bytes / (1024 * 1024)),
        reserved_memory_mib: node.reserved_resources.and_then(|r| r.memory).and_then(|m| m.memory_mb),
        id: node.id.unwrap_or_default(),
        name: node.name.unwrap_or_default(),
    })
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
    fn a_nodes_versions_from_its_attributes() {
        let text = r#"{
    "ID": "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7", "Name": "i-0a1b2c3d4e5f67890", "Datacenter": "default",
    "Attributes": {"nomad.version": "1.7.7", "driver.docker.version": "28.1.1", "os.cgroups.version": "1",
                   "os.name": "ubuntu", "kernel.name": "linux", "cpu.numcores": "8", "memory.totalbytes": "33554432000"},
    "Drivers": {"docker": {"Attributes": {"driver.docker.version": "27.0.0"}, "Healthy": true}},
    "ReservedResources": {"Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 4096}},
    "Resources": null, "Events": [{"Message": "Node registered"}]
}"#;
        let detail = detail_from_json(text).unwrap();
        assert_eq!(
            detail,
            NodeDetail {
                id: "0f3c9a1e-4b5d-6e7f-8091-a2b3c4d5e6f7".into(),
                name: "i-0a1b2c3d4e5f67890".into(),
                nomad_version: Some("1.7.7".into()),
                docker_version: Some("28.1.1".into()),
                cgroups_version: Some("1".into()),
                cpu_cores: Some(8),
                memory_mib: Some(32000),
                reserved_memory_mib: Some(4096),
            }
        );
        assert_eq!(detail.schedulable(), Some((8, 32000 - 4096)), "what jobs can have: memory less the reserve");

        // Nomad before 1.7 names the cgroups version `unique.cgroup.version`; the driver's own
        // attributes say the Docker version when the node's do not.
        let old = r#"{"ID": "1", "Attributes": {"nomad.version": "1.4.3", "unique.cgroup.version": "v2", "driver.docker.version": ""},
                      "Drivers": {"docker": {"Attributes": {"driver.docker.version": "25.0.2"}}, "raw_exec": null}}"#;
        let old = detail_from_json(old).unwrap();
        assert_eq!(old.cgroups_version.as_deref(), Some("v2"));
        assert_eq!(old.docker_version.as_deref(), Some("25.0.2"));

        let bare = detail_from_json(r#"{"ID": "2", "Attributes": null, "Drivers": {"docker": null}}"#).unwrap();
        assert_eq!(bare.schedulable(), None, "no size without cpu.numcores and memory.totalbytes");
        assert_eq!((bare.nomad_version, bare.docker_version, bare.cgroups_version), (None, None, None));
        assert!(detail_from_json("null").is_err());
        assert!(detail_from_json("node not found").is_err());
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
