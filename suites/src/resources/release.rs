//! The installation's Helm release as the checks of one run share it, read once: its newest
//! record, the CircleCI server version (the `server_version` setting, else the record's chart
//! version, else what the chart sets on its workloads) with the row of [`crate::versions`]
//! that judges it, and where its Nomad servers run.

use k8s_openapi::api::core::v1::Pod;

use crate::clients::cluster::{Answer, Cluster, ClusterError};
use crate::clients::helm::{self, ReleaseRecord, SERVER_CHART, UnreadableRecord};
use crate::versions::{self, Lookup, ServerVersion};

/// The label Helm charts conventionally set on their workloads: `<chart>-<version>`.
pub const CHART_LABEL: &str = "helm.sh/chart";

/// What one run knows of the release.
#[derive(Debug)]
pub struct InstalledRelease {
    /// The newest record of each release in the namespace, or the refusal (403) to list them.
    pub records: Result<Vec<Result<ReleaseRecord, UnreadableRecord>>, ClusterError>,
    /// The server version and how it was found; `None` when nothing says.
    pub version: Option<InstalledVersion>,
}

/// The installation's server version, the row that judges it, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledVersion {
    pub lookup: Lookup,
    /// `the server_version setting`, `chart circleci-server 4.10.0 of release circleci-server`,
    /// `label helm.sh/chart of pod frontend-…`.
    pub source: String,
}

/// Where the release runs its Nomad servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServersAt {
    /// In the cluster, as a StatefulSet (`nomad.server.internal`, the default).
    Inside {
        /// The servers the release runs: its `nomad.server.replicas`, else the version's default.
        replicas: Option<u32>,
    },
    /// Outside the cluster (`nomad.server.internal: false`).
    Outside {
        /// `nomad.server.serverHostname`, if set.
        hostname: Option<String>,
        /// `nomad.server.scheme`, if set.
        scheme: Option<String>,
    },
    /// The release cannot be read (the reason says why): nothing says where they run.
    Unknown(String),
}

impl InstalledRelease {
    /// Reads the release of `cluster`'s namespace; `configured` is the `server_version`
    /// setting, which beats what the release says. A refusal to list Secrets is kept (what the
    /// release does not say is then unknown); any other failure is the error, so that the next
    /// check that asks (or a retry) reads again.
    pub async fn read(cluster: &Cluster, configured: Option<&str>) -> Result<InstalledRelease, ClusterError> {
        let records = match cluster.secrets(helm::RECORDS_SELECTOR).await {
            Ok(secrets) => Ok(helm::newest_records(&secrets)),
            Err(error @ ClusterError::ListSecrets { answer: Answer::Forbidden, .. }) => Err(error),
            Err(error) => return Err(error),
        };
        let from_record = match &records {
            Ok(records) => server_record(records).and_then(|record| {
                let version = ServerVersion::parse(&record.chart_version)?;
                Some((version, format!("chart {SERVER_CHART} {} of release {}", record.chart_version, record.name)))
            }),
            Err(_) => None,
        };
        let version = match (configured.and_then(ServerVersion::parse), from_record) {
            (Some(version), _) => Some((version, "the server_version setting".to_string())),
            (None, Some(found)) => Some(found),
            (None, None) => chart_label_version(&cluster.pods(None).await?),
        };
        let version = version.map(|(version, source)| InstalledVersion { lookup: versions::lookup(version), source });
        Ok(InstalledRelease { records, version })
    }

    /// The newest record of chart `circleci-server`, when it could be read.
    pub fn record(&self) -> Option<&ReleaseRecord> {
        self.records.as_ref().ok().and_then(|records| server_record(records))
    }

    /// The row of [`versions::RELEASES`] that judges the installation, when its version is known.
    pub fn release(&self) -> Option<&'static versions::Release> {
        self.version.as_ref().map(|version| version.lookup.release)
    }

    /// Where the Nomad servers run, as the release's values say.
    pub fn servers(&self) -> ServersAt {
        let record = match &self.records {
            Err(error) => return ServersAt::Unknown(format!("the Helm release cannot be read: {error}")),
            Ok(_) => match self.record() {
                Some(record) => record,
                None => return ServersAt::Unknown(format!("no Helm release of chart {SERVER_CHART} was found")),
            },
        };
        let values = &record.nomad_server;
        match values.internal {
            Some(false) => {
                ServersAt::Outside { hostname: values.server_hostname.clone(), scheme: values.scheme.clone() }
            }
            _ => ServersAt::Inside {
                replicas: values
                    .replicas
                    .and_then(|r| u32::try_from(r).ok())
                    .or_else(|| self.release().map(|release| release.nomad_server_replicas)),
            },
        }
    }
}

/// The newest record of chart `circleci-server` among `records`.
fn server_record(records: &[Result<ReleaseRecord, UnreadableRecord>]) -> Option<&ReleaseRecord> {
    records.iter().filter_map(|record| record.as_ref().ok()).find(|record| record.chart == SERVER_CHART)
}

/// The version the first pod labelled `helm.sh/chart=circleci-server-<version>` names, with
/// the pod it was read from: what is left when the records may not be read.
fn chart_label_version(pods: &[Pod]) -> Option<(ServerVersion, String)> {
    pods.iter().find_map(|pod| {
        let label = pod.metadata.labels.as_ref()?.get(CHART_LABEL)?;
        let version = ServerVersion::parse(label.strip_prefix(SERVER_CHART)?.strip_prefix('-')?)?;
        let name = pod.metadata.name.as_deref().unwrap_or("?");
        Some((version, format!("label {CHART_LABEL}={label} of pod {name}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, chart: Option<&str>) -> Pod {
        let labels = chart.map(|chart| serde_json::json!({CHART_LABEL: chart})).unwrap_or(serde_json::json!({}));
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}})).unwrap()
    }

    #[test]
    fn a_workload_s_chart_label_names_the_version() {
        let pods = [
            pod("redis-0", Some("redis-17.3.1")),
            pod("frontend-7d9f", None),
            pod("api-service-5c8b", Some("circleci-server-4.10.0")),
        ];
        let (version, source) = chart_label_version(&pods).unwrap();
        assert_eq!(version.to_string(), "4.10.0");
        assert_eq!(source, "label helm.sh/chart=circleci-server-4.10.0 of pod api-service-5c8b");
        assert_eq!(chart_label_version(&pods[..2]), None, "another chart's label names no server version");
    }
}
