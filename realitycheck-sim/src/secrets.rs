//! The Secrets of the release's namespace: what Phase 3 of the install creates by hand (the
//! Nomad gossip key), and the records Helm keeps of the CircleCI server release, stored as
//! Helm's `secrets` storage driver stores them (one Secret per revision, type
//! `helm.sh/release.v1`, labels `owner=helm`, `name`, `status`, `version`; data key `release`:
//! the release JSON, gzip-compressed, base64-encoded).

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use realitycheck_project::CloudProvider;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::installation::Autoscaler;
use crate::nomad::EXTERNAL_SERVER_HOSTNAME;
use crate::version::{ChartRelease, Deployment, NomadServers, ServerVersion};
use crate::{NAMESPACE, ids};

/// The release name of the server install (`helm upgrade circleci-server ...`).
pub const RELEASE: &str = "circleci-server";

/// One Secret of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSecret {
    pub name: String,
    pub type_: String,
    pub labels: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
    /// How long before the simulation started it was created.
    pub age: SignedDuration,
    pub resource_version: u64,
}

impl SimSecret {
    /// The Secret as the API serves it, its creation time relative to `started_at`.
    pub fn to_secret(&self, started_at: Timestamp) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(NAMESPACE.to_owned()),
                uid: Some(ids::uuid(&format!("secret/{}", self.name))),
                resource_version: Some(self.resource_version.to_string()),
                creation_timestamp: Some(Time(started_at - self.age)),
                labels: Some(self.labels.clone()),
                ..ObjectMeta::default()
            },
            type_: Some(self.type_.clone()),
            data: Some(self.data.iter().map(|(key, value)| (key.clone(), ByteString(value.clone()))).collect()),
            ..Secret::default()
        }
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// The Secret that holds the Nomad gossip encryption key, and its key.
pub const GOSSIP_SECRET: (&str, &str) = ("nomad-gossip-encryption-key", "gossip-key");

/// A gossip encryption key as Nomad takes it (base64 of 32 bytes), made from `seed`.
pub fn gossip_key(seed: &str) -> String {
    STANDARD.encode(Sha256::digest(format!("realitycheck-sim gossip key {seed}").as_bytes()))
}

/// A Secret created by hand as the install guide says (`kubectl create secret generic`), with
/// the annotations and label that hand it to the release.
pub fn by_hand(name: &str, data: &[(&str, &[u8])]) -> SimSecret {
    SimSecret {
        name: name.to_owned(),
        type_: "Opaque".to_owned(),
        labels: BTreeMap::from([("app.kubernetes.io/managed-by".to_owned(), "Helm".to_owned())]),
        data: data.iter().map(|(key, value)| ((*key).to_owned(), value.to_vec())).collect(),
        age: SignedDuration::from_hours(12 * 24 + 4),
        resource_version: 2_100,
    }
}

/// The Secret of the Nomad autoscaler's credentials.
pub const AUTOSCALER_SECRET: &str = "nomad-autoscaler-secret";

/// The autoscaler's Secret on `cloud`, its keys base64-encoded as the guide asks: its
/// `secret.hcl` with the `aws-asg` target (AWS, and where the machines are not the cloud's), or
/// the `gce-mig` target and the service account's `gcp_sa.json` (GCP).
pub fn autoscaler_secret(cloud: CloudProvider) -> SimSecret {
    let encode = |text: &str| STANDARD.encode(text).into_bytes();
    let data = match cloud {
        CloudProvider::Gcp => vec![
            (
                "secret.hcl",
                encode(
                    "target \"gce-mig\" {\n  driver = \"gce-mig\"\n  config = {\n    credentials = \"/etc/nomad-autoscaler/gcp_sa.json\"\n  }\n}\n",
                ),
            ),
            (
                "gcp_sa.json",
                encode(
                    "{\"type\": \"service_account\", \"project_id\": \"realitycheck-sim\", \"client_email\": \"nomad-autoscaler@realitycheck-sim.iam.gserviceaccount.com\"}",
                ),
            ),
        ],
        CloudProvider::Aws | CloudProvider::Other => vec![(
            "secret.hcl",
            encode(
                "target \"aws-asg\" {\n  driver = \"aws-asg\"\n  config = {\n    aws_region = \"us-east-1\"\n  }\n}\n",
            ),
        )],
    };
    let data: Vec<(&str, &[u8])> = data.iter().map(|(key, value)| (*key, value.as_slice())).collect();
    by_hand(AUTOSCALER_SECRET, &data)
}

/// A revision of the release, as `helm history` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub number: u32,
    pub status: &'static str,
    pub chart: ChartRelease,
    pub description: &'static str,
    /// How long before the simulation started it was deployed.
    pub age: SignedDuration,
}

/// The release's history on a healthy installation of `version`: installed, then upgraded
/// ([`ServerVersion::chart_history`]).
pub fn healthy_history(version: ServerVersion) -> Vec<Revision> {
    history_of(version.chart_history())
}

/// The release installed with the first chart, then upgraded to the second.
pub fn history_of([installed, upgraded]: [ChartRelease; 2]) -> Vec<Revision> {
    vec![
        Revision {
            number: 1,
            status: "superseded",
            chart: installed,
            description: "Install complete",
            age: SignedDuration::from_hours(12 * 24 + 3),
        },
        Revision {
            number: 2,
            status: "deployed",
            chart: upgraded,
            description: "Upgrade complete",
            age: SignedDuration::from_hours(2 * 24 + 5),
        },
    ]
}

/// After an upgrade to the next patch of `version` that timed out: Helm left the previous
/// revision deployed and marked the new one failed.
pub fn failed_upgrade_history(version: ServerVersion) -> Vec<Revision> {
    let mut history = healthy_history(version);
    history.push(Revision {
        number: 3,
        status: "failed",
        chart: version.next_patch(),
        description: "Upgrade \"circleci-server\" failed: context deadline exceeded",
        age: SignedDuration::from_mins(40),
    });
    history
}

/// A `helm upgrade` of `version`'s release to the chart it runs was interrupted: Helm stored the
/// new revision `pending-upgrade` and left the previous one `deployed` (it supersedes it only
/// once the new one is deployed).
pub fn pending_upgrade_history(version: ServerVersion) -> Vec<Revision> {
    let mut history = healthy_history(version);
    history.push(Revision {
        number: 3,
        status: "pending-upgrade",
        chart: version.chart_history()[1],
        description: "Preparing upgrade",
        age: SignedDuration::from_mins(25),
    });
    history
}

/// The values the user gave at install (a record's `config`): the autoscaler's bounds and group
/// (its keys come from Secret nomad-autoscaler-secret), Tink on (its keyset, a secret, left out
/// of the simulation) and, with Nomad servers outside the cluster, where they are (4.8's serve
/// plain HTTP, so its values say so).
pub fn user_values(deployment: Deployment, autoscaler: &Autoscaler) -> serde_json::Value {
    let mut nomad = json!({"auto_scaler": {
        "enabled": autoscaler.enabled,
        "scaling": {"min": autoscaler.min, "max": autoscaler.max},
        "aws": {"enabled": true, "region": "us-east-1", "autoScalingGroup": "circleci-server-nomad-clients"},
    }});
    if deployment.nomad_servers == NomadServers::External {
        let mut server = json!({"internal": false, "serverHostname": EXTERNAL_SERVER_HOSTNAME});
        if !deployment.server_version.external_nomad_https() {
            server["scheme"] = json!("http");
        }
        nomad["server"] = server;
    }
    json!({"nomad": nomad, "tink": {"enabled": true}})
}

/// `values` with the keys an older values file still gives, which later charts renamed or
/// dropped: the machine provisioner's agent URL (`agent_base_url` since 4.7), the docker
/// provisioner's `config_path` (`custom_config` since 4.8), Telegraf's (gone in 4.10) and
/// `global.tracing` (OpenTelemetry replaces it in 4.9).
pub fn with_obsolete_values(mut values: serde_json::Value) -> serde_json::Value {
    let leftovers = json!({
        "machine_provisioner": {"machine_agent_base_url": "https://circleci-binary-releases.s3.amazonaws.com/circleci-launch-agent"},
        "docker_provisioner": {"config_path": "/etc/circleci/docker-provisioner/config.yaml"},
        "telegraf": {"custom_config": "[[outputs.prometheus_client]]\n  listen = \":9273\"\n"},
        "global": {"tracing": {"enabled": true, "collector_host": "otel-collector.observability.svc.cluster.local"}},
    });
    if let (Some(values), serde_json::Value::Object(leftovers)) = (values.as_object_mut(), leftovers) {
        values.extend(leftovers);
    }
    values
}

/// The Secrets Helm stores for `history`, each with its chart's defaults and `config` (the
/// user's values), at the times relative to `started_at`.
pub fn helm_release_secrets(history: &[Revision], config: &serde_json::Value, started_at: Timestamp) -> Vec<SimSecret> {
    let first_deployed = history.first().map_or(started_at, |first| started_at - first.age);
    history
        .iter()
        .map(|revision| {
            let deployed = started_at - revision.age;
            let chart_version = revision.chart.chart_version;
            let release = json!({
                "name": RELEASE,
                "namespace": NAMESPACE,
                "version": revision.number,
                "info": {
                    "first_deployed": first_deployed.to_string(),
                    "last_deployed": deployed.to_string(),
                    "deleted": "",
                    "description": revision.description,
                    "status": revision.status,
                },
                "chart": {
                    "metadata": {
                        "name": "circleci-server",
                        "version": chart_version,
                        "appVersion": chart_version,
                        "apiVersion": "v2",
                        "type": "application",
                    },
                    "values": revision.chart.server.chart_values(),
                },
                "config": config,
                "manifest": "",
            });
            SimSecret {
                name: format!("sh.helm.release.v1.{RELEASE}.v{}", revision.number),
                type_: "helm.sh/release.v1".to_owned(),
                labels: BTreeMap::from([
                    ("owner".to_owned(), "helm".to_owned()),
                    ("name".to_owned(), RELEASE.to_owned()),
                    ("status".to_owned(), revision.status.to_owned()),
                    ("version".to_owned(), revision.number.to_string()),
                ]),
                data: BTreeMap::from([("release".to_owned(), encode_release(&release))]),
                age: revision.age,
                resource_version: 3_000 + u64::from(revision.number),
            }
        })
        .collect()
}

/// What Helm's driver stores: the JSON, gzip-compressed, base64-encoded.
fn encode_release(release: &serde_json::Value) -> Vec<u8> {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(release.to_string().as_bytes()).expect("writing to memory does not fail");
    let compressed = gzip.finish().expect("writing to memory does not fail");
    STANDARD.encode(compressed).into_bytes()
}

/// The release JSON of a Helm record, as Helm reads it back.
#[cfg(test)]
pub(crate) fn decode(secret: &SimSecret) -> serde_json::Value {
    use std::io::Read;
    let compressed = STANDARD.decode(&secret.data["release"]).unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice()).read_to_string(&mut json).unwrap();
    serde_json::from_str(&json).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_records_decode_as_helm_stores_them() {
        let config = user_values(
            Deployment { server_version: ServerVersion::V4_4, ..Deployment::default() },
            &Autoscaler::default(),
        );
        let secrets =
            helm_release_secrets(&failed_upgrade_history(ServerVersion::V4_4), &config, Timestamp::UNIX_EPOCH);
        let newest = secrets.last().unwrap();
        assert_eq!(newest.name, "sh.helm.release.v1.circleci-server.v3");
        assert_eq!((newest.label("status"), newest.label("version")), (Some("failed"), Some("3")));
        let release = decode(newest);
        assert_eq!(release["info"]["status"], "failed");
        assert_eq!(release["chart"]["metadata"]["version"], "4.4.8");
        assert_eq!(release["chart"]["values"]["nomad"]["server"]["replicas"], 3);
        assert_eq!(release["config"]["nomad"]["auto_scaler"]["scaling"]["max"], 5);
        assert!(release["config"]["nomad"].get("server").is_none(), "the user left the servers in the cluster");
    }

    #[test]
    fn an_interrupted_upgrade_leaves_the_previous_revision_deployed() {
        let config = user_values(
            Deployment { server_version: ServerVersion::V4_9, ..Deployment::default() },
            &Autoscaler::default(),
        );
        let secrets =
            helm_release_secrets(&pending_upgrade_history(ServerVersion::V4_9), &config, Timestamp::UNIX_EPOCH);
        let statuses: Vec<Option<&str>> = secrets.iter().map(|secret| secret.label("status")).collect();
        assert_eq!(statuses, [Some("superseded"), Some("deployed"), Some("pending-upgrade")]);
        let newest = decode(&secrets[2]);
        assert_eq!(newest["info"]["status"], "pending-upgrade");
        assert_eq!(newest["info"]["description"], "Preparing upgrade");
        assert_eq!(newest["chart"]["metadata"]["version"], decode(&secrets[1])["chart"]["metadata"]["version"]);
        assert_eq!(newest["chart"]["metadata"]["version"], "4.9.5");
    }

    #[test]
    fn the_users_values_enable_tink_and_may_keep_obsolete_keys() {
        let values = user_values(
            Deployment { server_version: ServerVersion::V4_9, ..Deployment::default() },
            &Autoscaler::default(),
        );
        assert_eq!(values["tink"], json!({"enabled": true}));
        let keys = |values: &serde_json::Value| values.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&values), ["nomad", "tink"]);
        let old = with_obsolete_values(values.clone());
        assert_eq!(keys(&old), ["docker_provisioner", "global", "machine_provisioner", "nomad", "telegraf", "tink"]);
        assert!(old["machine_provisioner"]["machine_agent_base_url"].is_string());
        assert!(old["docker_provisioner"]["config_path"].is_string());
        assert!(old["telegraf"]["custom_config"].is_string());
        assert_eq!(old["global"]["tracing"]["enabled"], true);
        assert!(old["global"]["tracing"]["collector_host"].is_string());
        assert_eq!(old["nomad"], values["nomad"]);
    }

    #[test]
    fn each_version_records_its_history_chart_defaults_and_the_users_values() {
        let charts = |version: ServerVersion, nomad_servers: NomadServers| {
            let deployment = Deployment { server_version: version, nomad_servers };
            let secrets = helm_release_secrets(
                &healthy_history(version),
                &user_values(deployment, &Autoscaler::default()),
                Timestamp::UNIX_EPOCH,
            );
            secrets.iter().map(decode).collect::<Vec<_>>()
        };
        let records = charts(ServerVersion::V4_10, NomadServers::Internal);
        let versions: Vec<&str> = records.iter().map(|r| r["chart"]["metadata"]["version"].as_str().unwrap()).collect();
        assert_eq!(versions, ["4.9.5", "4.10.0"]);
        assert_eq!(records[1]["info"]["status"], "deployed");
        let server = &records[1]["chart"]["values"]["nomad"]["server"];
        assert_eq!((server["replicas"].as_u64(), server["internal"].as_bool()), (Some(5), Some(true)));
        assert_eq!(server["image"], "hashicorp/nomad:1.11.3");
        assert_eq!(records[1]["chart"]["values"]["nomad"]["auto_scaler"]["scaling"]["min"], 1);

        let external = charts(ServerVersion::V4_9, NomadServers::External);
        let users_server = &external[1]["config"]["nomad"]["server"];
        assert_eq!(users_server["internal"], false);
        assert_eq!(users_server["serverHostname"], "nomad.circleci-sim.internal");
        assert!(users_server.get("scheme").is_none(), "4.9's servers serve HTTPS");
        let plain = charts(ServerVersion::V4_8, NomadServers::External);
        assert_eq!(plain[1]["config"]["nomad"]["server"]["scheme"], "http");
        assert_eq!(plain[1]["chart"]["values"]["nomad"]["server"]["image"], "hashicorp/nomad:1.10.0");
        assert_eq!(plain[0]["chart"]["metadata"]["version"], "4.8.10");
    }
}
