//! The CircleCI server versions the simulation can be (4.4, 4.8, 4.9, 4.10) and where its Nomad
//! servers run (in the cluster, or outside it as CircleCI's Terraform starts them), with the
//! simulation's own description of each version's chart: the release's history, the Nomad
//! servers' count, image and version, the MongoDB image, the chart's defaults, the Kubernetes
//! releases it supports.
//! This description is the stand-in for reality that realitycheck is tested against; it is kept
//! here, apart from what realitycheck expects.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde_json::json;

use crate::nomad::NomadVersion;
use crate::scenario::Scenario;

/// A minor version of CircleCI server, as its chart installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ServerVersion {
    V4_4,
    V4_8,
    V4_9,
    #[default]
    V4_10,
}

/// One chart version of the release, and the server version whose chart it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartRelease {
    pub chart_version: &'static str,
    pub server: ServerVersion,
}

/// A Kubernetes release, as the API server's `/version` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubernetesVersion {
    pub minor: u32,
    pub patch: u32,
    /// The day it was built (`buildDate`).
    pub build_date: &'static str,
    /// The Go release it was built with (`goVersion`).
    pub go_version: &'static str,
}

impl KubernetesVersion {
    /// `v1.<minor>.<patch>`, as `gitVersion` spells it.
    pub fn git_version(&self) -> String {
        format!("v1.{}.{}", self.minor, self.patch)
    }
}

/// Kubernetes 1.25, below every supported range of 4.4 (1.26 – 1.31).
const KUBERNETES_1_25: KubernetesVersion =
    KubernetesVersion { minor: 25, patch: 16, build_date: "2023-11-14T22:21:33Z", go_version: "go1.20.10" };
/// Kubernetes 1.29, within 4.4's supported range.
const KUBERNETES_1_29: KubernetesVersion =
    KubernetesVersion { minor: 29, patch: 15, build_date: "2025-03-12T17:38:43Z", go_version: "go1.23.6" };
/// Kubernetes 1.31, below the range of 4.8 – 4.10 (1.33 – 1.35).
const KUBERNETES_1_31: KubernetesVersion =
    KubernetesVersion { minor: 31, patch: 9, build_date: "2025-05-15T09:45:27Z", go_version: "go1.23.8" };
/// Kubernetes 1.32, below the range of 4.8 – 4.10 and within none of the versions after 4.7.
const KUBERNETES_1_32: KubernetesVersion =
    KubernetesVersion { minor: 32, patch: 7, build_date: "2025-07-15T18:39:34Z", go_version: "go1.23.10" };
/// Kubernetes 1.34, within the range of 4.8 – 4.10.
const KUBERNETES_1_34: KubernetesVersion =
    KubernetesVersion { minor: 34, patch: 2, build_date: "2025-11-11T18:59:13Z", go_version: "go1.24.9" };

/// The Nomad version of CircleCI's Terraform for clients (`nomad_client_version`), and for the
/// servers outside the cluster of the 4.8 and 4.9 modules (one `nomad_version` for both).
const TERRAFORM_NOMAD: NomadVersion = NomadVersion::new(1, 7, 7);
/// The Nomad version of the servers outside the cluster from the 4.10 modules on
/// (`nomad_server_version`), and of the 4.9 and 4.10 charts' server image.
const NOMAD_1_11_3: NomadVersion = NomadVersion::new(1, 11, 3);

/// Where the chart pulls its MongoDB image from (`mongodb.image.registry`, `.repository`).
pub const MONGODB_REGISTRY: &str = "cciserver.azurecr.io";
pub const MONGODB_REPOSITORY: &str = "server-mongodb";

/// A MongoDB release of CircleCI's `server-mongodb` image, as the values references default
/// `mongodb.image.tag`: 3.6 for the charts 4.4 – 4.8, 4.4 for 4.9, 7.0 for 4.10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MongoDb {
    V3_6,
    V4_4,
    V7_0,
}

impl MongoDb {
    /// The image, `<registry>/<repository>:<tag>`.
    pub fn image(self) -> &'static str {
        match self {
            MongoDb::V3_6 => "cciserver.azurecr.io/server-mongodb:3.6.22-debian-9-r38",
            MongoDb::V4_4 => "cciserver.azurecr.io/server-mongodb:4.4.15-debian-10-r8",
            MongoDb::V7_0 => "cciserver.azurecr.io/server-mongodb:7.0.15-debian-12-r2",
        }
    }

    /// The image's tag (`3.6.22-debian-9-r38`).
    pub fn tag(self) -> &'static str {
        self.image().rsplit_once(':').map_or("", |(_, tag)| tag)
    }
}

impl ServerVersion {
    pub const ALL: &'static [ServerVersion] =
        &[ServerVersion::V4_4, ServerVersion::V4_8, ServerVersion::V4_9, ServerVersion::V4_10];

    pub fn name(self) -> &'static str {
        match self {
            ServerVersion::V4_4 => "4.4",
            ServerVersion::V4_8 => "4.8",
            ServerVersion::V4_9 => "4.9",
            ServerVersion::V4_10 => "4.10",
        }
    }

    /// The release's history on a healthy installation: the chart it was installed with, then
    /// the one it was upgraded to (4.10 is reached from the latest 4.9, as its guide requires).
    pub fn chart_history(self) -> [ChartRelease; 2] {
        let release = |chart_version, server| ChartRelease { chart_version, server };
        match self {
            ServerVersion::V4_4 => [release("4.4.6", self), release("4.4.7", self)],
            ServerVersion::V4_8 => [release("4.8.10", self), release("4.8.12", self)],
            ServerVersion::V4_9 => [release("4.9.3", self), release("4.9.5", self)],
            ServerVersion::V4_10 => [release("4.9.5", ServerVersion::V4_9), release("4.10.0", self)],
        }
    }

    /// A history that stops short of the version's last patch (installed, then upgraded to a
    /// patch before the last): `None` for 4.10, whose 4.10.0 is its only release.
    pub fn earlier_patch_history(self) -> Option<[ChartRelease; 2]> {
        let release = |chart_version| ChartRelease { chart_version, server: self };
        match self {
            ServerVersion::V4_4 => Some([release("4.4.1"), release("4.4.3")]),
            ServerVersion::V4_8 => Some([release("4.8.0"), release("4.8.3")]),
            ServerVersion::V4_9 => Some([release("4.9.0"), release("4.9.2")]),
            ServerVersion::V4_10 => None,
        }
    }

    /// The next patch of the version, which the `helm-upgrade-failed` scenario fails to upgrade to.
    pub fn next_patch(self) -> ChartRelease {
        let chart_version = match self {
            ServerVersion::V4_4 => "4.4.8",
            ServerVersion::V4_8 => "4.8.13",
            ServerVersion::V4_9 => "4.9.6",
            ServerVersion::V4_10 => "4.10.1",
        };
        ChartRelease { chart_version, server: self }
    }

    /// The chart's default `nomad.server.replicas`.
    pub fn nomad_server_replicas(self) -> u8 {
        match self {
            ServerVersion::V4_4 => 3,
            ServerVersion::V4_8 | ServerVersion::V4_9 | ServerVersion::V4_10 => 5,
        }
    }

    /// The chart's default `nomad.server.image`: CircleCI's build on 4.4, HashiCorp's later.
    pub fn nomad_server_image(self) -> &'static str {
        match self {
            ServerVersion::V4_4 => "cciserver.azurecr.io/nomad:1.7.7-cci.1",
            ServerVersion::V4_8 => "hashicorp/nomad:1.10.0",
            ServerVersion::V4_9 | ServerVersion::V4_10 => "hashicorp/nomad:1.11.3",
        }
    }

    /// The Nomad version of the servers the chart runs in the cluster.
    pub fn nomad_server_version(self) -> NomadVersion {
        match self {
            ServerVersion::V4_4 => TERRAFORM_NOMAD,
            ServerVersion::V4_8 => NomadVersion::new(1, 10, 0),
            ServerVersion::V4_9 | ServerVersion::V4_10 => NOMAD_1_11_3,
        }
    }

    /// The chart's default MongoDB (`mongodb.image.tag`), which a healthy installation runs: 4.10
    /// is reached from 4.9 with the migration its guide requires.
    pub fn mongodb(self) -> MongoDb {
        match self {
            ServerVersion::V4_4 | ServerVersion::V4_8 => MongoDb::V3_6,
            ServerVersion::V4_9 => MongoDb::V4_4,
            ServerVersion::V4_10 => MongoDb::V7_0,
        }
    }

    /// The MongoDB the next minor needs, migrated to before upgrading: 4.5 – 4.7 need no newer
    /// than 4.4's 3.6, 4.9 needs 4.4, 4.10 needs 7.0 (and 4.10 keeps its 7.0).
    pub fn mongodb_for_next_minor(self) -> MongoDb {
        match self {
            ServerVersion::V4_4 => MongoDb::V3_6,
            ServerVersion::V4_8 => MongoDb::V4_4,
            ServerVersion::V4_9 | ServerVersion::V4_10 => MongoDb::V7_0,
        }
    }

    /// The MongoDB of an installation upgraded in place to this version without the migration
    /// the version (or its next minor) needs: 3.6 from 4.8 on 4.8 and 4.9, 4.4 from 4.9 on 4.10.
    pub fn mongodb_without_migration(self) -> MongoDb {
        match self {
            ServerVersion::V4_4 | ServerVersion::V4_8 | ServerVersion::V4_9 => MongoDb::V3_6,
            ServerVersion::V4_10 => MongoDb::V4_4,
        }
    }

    /// Whether the chart can use Nomad servers outside the cluster (`nomad.server.internal:
    /// false`): from 4.8 on.
    pub fn supports_external_nomad_servers(self) -> bool {
        self >= ServerVersion::V4_8
    }

    /// The Nomad version CircleCI's Terraform installs on the servers outside the cluster.
    pub fn external_nomad_server_version(self) -> NomadVersion {
        match self {
            ServerVersion::V4_10 => NOMAD_1_11_3,
            ServerVersion::V4_4 | ServerVersion::V4_8 | ServerVersion::V4_9 => TERRAFORM_NOMAD,
        }
    }

    /// Whether the servers outside the cluster serve their HTTP API over HTTPS (`tls.http`,
    /// from the 4.9 modules on); 4.8's serve plain HTTP.
    pub fn external_nomad_https(self) -> bool {
        self >= ServerVersion::V4_9
    }

    /// The Kubernetes minor versions the version supports.
    pub fn supported_kubernetes(self) -> RangeInclusive<u32> {
        match self {
            ServerVersion::V4_4 => 26..=31,
            ServerVersion::V4_8 | ServerVersion::V4_9 | ServerVersion::V4_10 => 33..=35,
        }
    }

    /// The Kubernetes release a healthy installation of the version runs on.
    pub fn kubernetes(self) -> KubernetesVersion {
        match self {
            ServerVersion::V4_4 => KUBERNETES_1_29,
            ServerVersion::V4_8 | ServerVersion::V4_9 | ServerVersion::V4_10 => KUBERNETES_1_34,
        }
    }

    /// A Kubernetes release just below the supported range: 1.25 for 4.4, 1.31 for 4.8 – 4.10.
    pub fn unsupported_kubernetes(self) -> KubernetesVersion {
        match self {
            ServerVersion::V4_4 => KUBERNETES_1_25,
            ServerVersion::V4_8 | ServerVersion::V4_9 | ServerVersion::V4_10 => KUBERNETES_1_31,
        }
    }

    /// A Kubernetes release below the range of the next minor (and of this one): 1.25 for 4.4
    /// (4.5 supports 1.26 – 1.31), 1.32 for 4.8 – 4.10.
    pub fn kubernetes_too_old_for_next_minor(self) -> KubernetesVersion {
        match self {
            ServerVersion::V4_4 => KUBERNETES_1_25,
            ServerVersion::V4_8 | ServerVersion::V4_9 | ServerVersion::V4_10 => KUBERNETES_1_32,
        }
    }

    /// The chart's defaults (`chart.values` of Helm's records), kept to what the simulation
    /// models: the Nomad servers, the autoscaler's bounds, MongoDB (in the cluster, its image)
    /// and Tink (off).
    pub fn chart_values(self) -> serde_json::Value {
        json!({
            "nomad": {
                "server": {
                    "replicas": self.nomad_server_replicas(),
                    "internal": true,
                    "image": self.nomad_server_image(),
                },
                "auto_scaler": {"scaling": {"min": 1, "max": 5}},
            },
            "mongodb": {
                "internal": true,
                "image": {
                    "registry": MONGODB_REGISTRY,
                    "repository": MONGODB_REPOSITORY,
                    "tag": self.mongodb().tag(),
                },
            },
            "tink": {"enabled": false},
        })
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A server version the simulation does not model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown server version `{given}`; the simulation models {}", names(ServerVersion::ALL.iter().map(|v| v.name())))]
pub struct UnknownServerVersion {
    pub given: String,
}

impl FromStr for ServerVersion {
    type Err = UnknownServerVersion;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ServerVersion::ALL
            .iter()
            .copied()
            .find(|version| version.name() == name)
            .ok_or_else(|| UnknownServerVersion { given: name.to_owned() })
    }
}

/// Where the Nomad servers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NomadServers {
    /// In the cluster: the chart's nomad-server StatefulSet.
    #[default]
    Internal,
    /// Outside the cluster, on VMs CircleCI's Terraform starts (`nomad.server.internal: false`).
    External,
}

impl NomadServers {
    pub const ALL: &'static [NomadServers] = &[NomadServers::Internal, NomadServers::External];

    pub fn name(self) -> &'static str {
        match self {
            NomadServers::Internal => "internal",
            NomadServers::External => "external",
        }
    }

    /// `inside` or `outside`, as in "Nomad servers outside the cluster".
    pub fn relative_to_the_cluster(self) -> &'static str {
        match self {
            NomadServers::Internal => "inside",
            NomadServers::External => "outside",
        }
    }
}

impl fmt::Display for NomadServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is neither `internal` nor `external`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Nomad servers `{given}`; give internal or external")]
pub struct UnknownNomadServers {
    pub given: String,
}

impl FromStr for NomadServers {
    type Err = UnknownNomadServers;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        NomadServers::ALL
            .iter()
            .copied()
            .find(|servers| servers.name() == name)
            .ok_or_else(|| UnknownNomadServers { given: name.to_owned() })
    }
}

/// What was installed: the server version and where its Nomad servers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Deployment {
    pub server_version: ServerVersion,
    pub nomad_servers: NomadServers,
}

/// A deployment the simulation cannot make, alone or with a scenario; the message says what works.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedDeployment {
    #[error(
        "Nomad servers outside the cluster need CircleCI server 4.8 or later ({version} runs them in the cluster \
         only): choose server version 4.8, 4.9 or 4.10, or internal Nomad servers"
    )]
    ExternalServersBefore4_8 { version: ServerVersion },
    #[error(
        "scenario {scenario} needs Nomad servers {} the cluster: leave the Nomad servers unset or choose {needed}",
        .needed.relative_to_the_cluster()
    )]
    NomadServers { scenario: Scenario, needed: NomadServers },
    #[error(
        "scenario {scenario} needs the external Nomad servers' HTTPS API, which CircleCI's Terraform serves from \
         4.9 on (4.8's is plain HTTP): choose server version 4.9 or 4.10"
    )]
    NeedsHttps { scenario: Scenario },
    #[error("scenario {scenario} cannot be made on server {version}: {why}; choose server version {choose}")]
    NotOnVersion { scenario: Scenario, version: ServerVersion, why: &'static str, choose: String },
}

/// Why `scenario` cannot be made on `version`, if it cannot.
fn version_refusal(scenario: Scenario, version: ServerVersion) -> Option<&'static str> {
    match (scenario, version) {
        (Scenario::UpgradeSkipsMinor, ServerVersion::V4_10) => {
            Some("4.10.0 is the only release of 4.10, so no earlier patch can be deployed")
        }
        (Scenario::UpgradeMongodbTooOld, ServerVersion::V4_4) => {
            Some("4.5, the next minor, needs no newer MongoDB than the 3.6 that 4.4 runs")
        }
        _ => None,
    }
}

impl Deployment {
    /// `scenario`'s deployment when nothing is asked: its own version
    /// ([`Scenario::default_server_version`]: 4.8 or 4.9 for the `upgrade-*` scenarios) or 4.10,
    /// with the Nomad servers where the scenario needs them (outside the cluster for
    /// `nomad-external-*`), in the cluster otherwise.
    pub fn for_scenario(scenario: Scenario) -> Deployment {
        Deployment {
            server_version: scenario.default_server_version().unwrap_or_default(),
            nomad_servers: scenario.needs_nomad_servers().unwrap_or_default(),
        }
    }

    /// The deployment of `scenario` with what was asked (`None`: the default), or why it
    /// cannot be made.
    pub fn resolve(
        scenario: Scenario,
        server_version: Option<ServerVersion>,
        nomad_servers: Option<NomadServers>,
    ) -> Result<Deployment, UnsupportedDeployment> {
        let default = Deployment::for_scenario(scenario);
        let deployment = Deployment {
            server_version: server_version.unwrap_or(default.server_version),
            nomad_servers: nomad_servers.unwrap_or(default.nomad_servers),
        };
        deployment.check(scenario)?;
        Ok(deployment)
    }

    /// Whether the simulation can make `scenario` on this deployment.
    pub fn check(self, scenario: Scenario) -> Result<(), UnsupportedDeployment> {
        if self.nomad_servers == NomadServers::External && !self.server_version.supports_external_nomad_servers() {
            return Err(UnsupportedDeployment::ExternalServersBefore4_8 { version: self.server_version });
        }
        if let Some(needed) = scenario.needs_nomad_servers()
            && needed != self.nomad_servers
        {
            return Err(UnsupportedDeployment::NomadServers { scenario, needed });
        }
        if scenario == Scenario::NomadExternalCaMismatch && !self.server_version.external_nomad_https() {
            return Err(UnsupportedDeployment::NeedsHttps { scenario });
        }
        if let Some(why) = version_refusal(scenario, self.server_version) {
            let possible = ServerVersion::ALL.iter().filter(|&&version| version_refusal(scenario, version).is_none());
            let mut possible: Vec<&str> = possible.map(|version| version.name()).collect();
            let last = possible.pop().unwrap_or_default();
            let choose =
                if possible.is_empty() { last.to_owned() } else { format!("{} or {last}", possible.join(", ")) };
            return Err(UnsupportedDeployment::NotOnVersion { scenario, version: self.server_version, why, choose });
        }
        Ok(())
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server {}, Nomad servers {}", self.server_version, self.nomad_servers)
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_defaults_are_4_10_with_internal_servers() {
        for &version in ServerVersion::ALL {
            assert_eq!(version.name().parse::<ServerVersion>(), Ok(version));
            assert_eq!(version.to_string(), version.name());
        }
        for &servers in NomadServers::ALL {
            assert_eq!(servers.name().parse::<NomadServers>(), Ok(servers));
        }
        assert_eq!(ServerVersion::default(), ServerVersion::V4_10);
        assert_eq!(NomadServers::default(), NomadServers::Internal);
        let unknown = "4.5".parse::<ServerVersion>().unwrap_err().to_string();
        assert_eq!(unknown, "unknown server version `4.5`; the simulation models 4.4, 4.8, 4.9, 4.10");
        assert!("outside".parse::<NomadServers>().is_err());
    }

    #[test]
    fn each_version_describes_its_chart() {
        let history = |version: ServerVersion| version.chart_history().map(|release| release.chart_version).to_vec();
        assert_eq!(history(ServerVersion::V4_4), ["4.4.6", "4.4.7"]);
        assert_eq!(history(ServerVersion::V4_8), ["4.8.10", "4.8.12"]);
        assert_eq!(history(ServerVersion::V4_9), ["4.9.3", "4.9.5"]);
        assert_eq!(history(ServerVersion::V4_10), ["4.9.5", "4.10.0"]);
        assert_eq!(ServerVersion::V4_10.chart_history()[0].server, ServerVersion::V4_9);
        assert_eq!(ServerVersion::V4_10.next_patch().chart_version, "4.10.1");
        assert_eq!(ServerVersion::V4_4.next_patch().chart_version, "4.4.8");
        let replicas: Vec<u8> = ServerVersion::ALL.iter().map(|v| v.nomad_server_replicas()).collect();
        assert_eq!(replicas, [3, 5, 5, 5]);
        assert_eq!(ServerVersion::V4_8.nomad_server_image(), "hashicorp/nomad:1.10.0");
        assert_eq!(ServerVersion::V4_10.chart_values()["nomad"]["server"]["image"], "hashicorp/nomad:1.11.3");
        assert_eq!(ServerVersion::V4_4.chart_values()["nomad"]["server"]["replicas"], 3);
        assert_eq!(ServerVersion::V4_9.chart_values()["nomad"]["server"]["internal"], true);
        assert_eq!(ServerVersion::V4_9.external_nomad_server_version(), NomadVersion::new(1, 7, 7));
        assert_eq!(ServerVersion::V4_10.external_nomad_server_version(), NomadVersion::new(1, 11, 3));
        for &version in ServerVersion::ALL {
            let supported = version.supported_kubernetes();
            assert!(supported.contains(&version.kubernetes().minor), "{version}");
            assert!(!supported.contains(&version.unsupported_kubernetes().minor), "{version}");
        }
        assert_eq!(ServerVersion::V4_4.kubernetes().git_version(), "v1.29.15");
        assert_eq!(ServerVersion::V4_10.unsupported_kubernetes().minor, 31);
        assert_eq!(ServerVersion::V4_4.unsupported_kubernetes().minor, 25);
    }

    #[test]
    fn each_version_knows_its_mongodb_and_what_the_next_minor_needs() {
        let tags =
            |of: fn(ServerVersion) -> MongoDb| ServerVersion::ALL.iter().map(|&v| of(v).tag()).collect::<Vec<_>>();
        assert_eq!(
            tags(ServerVersion::mongodb),
            ["3.6.22-debian-9-r38", "3.6.22-debian-9-r38", "4.4.15-debian-10-r8", "7.0.15-debian-12-r2"]
        );
        assert_eq!(
            tags(ServerVersion::mongodb_for_next_minor),
            ["3.6.22-debian-9-r38", "4.4.15-debian-10-r8", "7.0.15-debian-12-r2", "7.0.15-debian-12-r2"]
        );
        assert_eq!(
            tags(ServerVersion::mongodb_without_migration),
            ["3.6.22-debian-9-r38", "3.6.22-debian-9-r38", "3.6.22-debian-9-r38", "4.4.15-debian-10-r8"]
        );
        for mongodb in [MongoDb::V3_6, MongoDb::V4_4, MongoDb::V7_0] {
            assert_eq!(mongodb.image(), format!("{MONGODB_REGISTRY}/{MONGODB_REPOSITORY}:{}", mongodb.tag()));
        }
        let image = &ServerVersion::V4_9.chart_values()["mongodb"];
        assert_eq!(image["internal"], true);
        assert_eq!(
            image["image"],
            json!({"registry": "cciserver.azurecr.io", "repository": "server-mongodb", "tag": "4.4.15-debian-10-r8"})
        );
        assert_eq!(ServerVersion::V4_10.chart_values()["tink"]["enabled"], false);
    }

    #[test]
    fn upgrade_scenarios_have_their_versions_histories_and_kubernetes() {
        let history = |version: ServerVersion| {
            version.earlier_patch_history().map(|charts| charts.map(|release| release.chart_version))
        };
        assert_eq!(history(ServerVersion::V4_8), Some(["4.8.0", "4.8.3"]));
        assert_eq!(history(ServerVersion::V4_9), Some(["4.9.0", "4.9.2"]));
        assert_eq!(history(ServerVersion::V4_4), Some(["4.4.1", "4.4.3"]));
        assert_eq!(history(ServerVersion::V4_10), None);
        for &version in ServerVersion::ALL {
            let old = version.kubernetes_too_old_for_next_minor();
            assert!(!version.supported_kubernetes().contains(&old.minor), "{version}");
        }
        assert_eq!(ServerVersion::V4_9.kubernetes_too_old_for_next_minor().git_version(), "v1.32.7");
        assert_eq!(ServerVersion::V4_4.kubernetes_too_old_for_next_minor().minor, 25);

        let version_of = |scenario| Deployment::for_scenario(scenario).server_version;
        assert_eq!(version_of(Scenario::UpgradeSkipsMinor), ServerVersion::V4_8);
        for &scenario in Scenario::UPGRADES.iter().filter(|&&s| s != Scenario::UpgradeSkipsMinor) {
            assert_eq!(version_of(scenario), ServerVersion::V4_9, "{scenario}");
            assert_eq!(Deployment::for_scenario(scenario).nomad_servers, NomadServers::Internal, "{scenario}");
        }
        assert_eq!(version_of(Scenario::Healthy), ServerVersion::V4_10);

        let resolve = |scenario, version: &str| Deployment::resolve(scenario, Some(version.parse().unwrap()), None);
        assert_eq!(
            resolve(Scenario::UpgradeSkipsMinor, "4.10").unwrap_err().to_string(),
            "scenario upgrade-skips-minor cannot be made on server 4.10: 4.10.0 is the only release of 4.10, so no \
             earlier patch can be deployed; choose server version 4.4, 4.8 or 4.9"
        );
        assert_eq!(
            resolve(Scenario::UpgradeMongodbTooOld, "4.4").unwrap_err().to_string(),
            "scenario upgrade-mongodb-too-old cannot be made on server 4.4: 4.5, the next minor, needs no newer \
             MongoDB than the 3.6 that 4.4 runs; choose server version 4.8, 4.9 or 4.10"
        );
        assert!(resolve(Scenario::UpgradeSkipsMinor, "4.9").is_ok());
        assert!(resolve(Scenario::UpgradeReady, "4.10").is_ok());
        assert!(Deployment::resolve(Scenario::UpgradeDocker29, None, Some(NomadServers::External)).is_ok());
    }

    #[test]
    fn scenarios_place_the_nomad_servers_and_refuse_what_cannot_be() {
        assert_eq!(Deployment::for_scenario(Scenario::Healthy), Deployment::default());
        let external = Deployment::for_scenario(Scenario::NomadExternalUnreachable);
        assert_eq!((external.server_version, external.nomad_servers), (ServerVersion::V4_10, NomadServers::External));
        let resolve = |scenario, version: Option<&str>, servers: Option<&str>| {
            Deployment::resolve(scenario, version.map(|v| v.parse().unwrap()), servers.map(|s| s.parse().unwrap()))
        };
        assert_eq!(
            resolve(Scenario::Healthy, Some("4.8"), Some("external")),
            Ok(Deployment { server_version: ServerVersion::V4_8, nomad_servers: NomadServers::External })
        );
        let old = resolve(Scenario::Healthy, Some("4.4"), Some("external")).unwrap_err().to_string();
        assert!(old.contains("need CircleCI server 4.8 or later") && old.contains("internal Nomad servers"), "{old}");
        let gossip = resolve(Scenario::GossipKeyInvalid, None, Some("external")).unwrap_err().to_string();
        assert_eq!(
            gossip,
            "scenario gossip-key-invalid needs Nomad servers inside the cluster: leave the Nomad servers unset or \
             choose internal"
        );
        let inside = resolve(Scenario::NomadExternalUnreachable, None, Some("internal")).unwrap_err().to_string();
        assert!(inside.contains("needs Nomad servers outside the cluster"), "{inside}");
        let http = resolve(Scenario::NomadExternalCaMismatch, Some("4.8"), None).unwrap_err().to_string();
        assert!(http.contains("choose server version 4.9 or 4.10"), "{http}");
        assert!(resolve(Scenario::NomadExternalCaMismatch, Some("4.9"), None).is_ok());
        assert!(resolve(Scenario::NomadExternalUnreachable, Some("4.8"), None).is_ok());
        assert!(resolve(Scenario::NomadServersNoQuorum, Some("4.4"), None).is_ok());
        for &scenario in Scenario::ALL {
            assert_eq!(Deployment::for_scenario(scenario).check(scenario), Ok(()), "{scenario}");
        }
    }
}
