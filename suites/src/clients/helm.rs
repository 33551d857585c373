//! Helm's release records as its `secrets` storage driver keeps them: one Secret per revision
//! (labels `owner=helm`, `name=<release>`, `version=<revision>`), whose `release` key holds the
//! release JSON gzip-compressed and base64-encoded. Reading only; judging is the checks'.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::GzDecoder;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

/// The label selector of Helm's release records.
pub const RECORDS_SELECTOR: &str = "owner=helm";

/// The chart of CircleCI server; its release may have any name.
pub const SERVER_CHART: &str = "circleci-server";

/// Largest release JSON read from a record (a release's manifest can be large; what is read
/// here sits at its start).
const MAX_RELEASE_BYTES: u64 = 16 * 1024 * 1024;

/// One revision of a release, as `helm history` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// The release's name.
    pub name: String,
    /// The revision number.
    pub revision: u32,
    /// `deployed`, `failed`, `pending-upgrade`, `superseded`, ...
    pub status: String,
    /// The chart's name.
    pub chart: String,
    /// The chart's version.
    pub chart_version: String,
    /// When this revision was deployed (RFC 3339), if Helm says.
    pub last_deployed: Option<String>,
    /// Helm's description of what happened (`Upgrade complete`, the failure).
    pub description: String,
    /// The revision of the same release that Helm's labels mark `deployed`, if any.
    pub deployed_revision: Option<u32>,
    /// The chart version of that revision, when it is not this one and can be read.
    pub deployed_chart_version: Option<String>,
    /// `nomad.auto_scaler.scaling.{min,max}` of the release's values (the values given at
    /// install or upgrade over the chart's defaults), when both are set. Nothing else of the
    /// values is kept: they hold credentials.
    pub autoscaler_scaling: Option<ScalingBounds>,
    /// `nomad.server.*` of the release's values that say where its Nomad servers run.
    pub nomad_server: NomadServerValues,
    /// The keys (dotted, down to each value or list) of the values given at install or
    /// upgrade; not their values.
    pub given_keys: Vec<String>,
    /// `tink.enabled`: contexts encrypted with Tink instead of Vault.
    pub tink_enabled: Option<bool>,
    /// `mongodb.internal`: `false` when the services use a MongoDB outside the chart.
    pub mongodb_internal: Option<bool>,
    /// `oidc_service.*` and `global.domainName`: whether jobs get OIDC tokens, and from which
    /// issuer. The signing keys (`oidc_service.json_web_keys`) are never kept.
    pub oidc: OidcValues,
}

/// What the release says of the OIDC tokens jobs get: each value from the given values, else
/// from the chart's defaults; `None` where neither says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcValues {
    /// `oidc_service.isEnabled` (off by default).
    pub enabled: Option<bool>,
    /// `oidc_service.base_url`: the issuer, when it is not the installation's domain.
    pub base_url: Option<String>,
    /// `global.domainName`: the issuer is `https://` and it, unless `base_url` says otherwise.
    pub domain_name: Option<String>,
    /// `oidc_service.token_max_ttl` as the release gives it (`5h`).
    pub token_max_ttl: Option<String>,
}

impl OidcValues {
    /// The issuer the tokens must name (`iss`): `base_url`, else `https://<domainName>`,
    /// without a trailing `/`.
    pub fn issuer(&self) -> Option<String> {
        let issuer = match (&self.base_url, &self.domain_name) {
            (Some(base_url), _) => base_url.clone(),
            (None, Some(domain)) => format!("https://{domain}"),
            (None, None) => return None,
        };
        Some(issuer.trim_end_matches('/').to_string())
    }
}

/// `nomad.server.{internal,serverHostname,replicas,scheme}` as the release uses them: each
/// from the given values, else from the chart's defaults; `None` where neither says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NomadServerValues {
    /// `internal`: `false` when the servers run outside the cluster (server 4.8 and later).
    pub internal: Option<bool>,
    /// `serverHostname`: where the clients (and the chart's services) reach external servers.
    pub server_hostname: Option<String>,
    /// `replicas`: in-cluster servers.
    pub replicas: Option<u64>,
    /// `scheme`: `http` or `https`, the external servers' HTTP API.
    pub scheme: Option<String>,
}

/// How many Nomad clients the autoscaler keeps, at least and at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingBounds {
    /// `scaling.min`.
    pub min: u64,
    /// `scaling.max`.
    pub max: u64,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Helm record `{secret}` cannot be read: {message}")]
pub struct UnreadableRecord {
    /// The Secret's name.
    pub secret: String,
    /// What went wrong.
    pub message: String,
}

#[derive(Deserialize)]
struct Release {
    name: String,
    version: u32,
    #[serde(default)]
    info: Info,
    #[serde(default)]
    chart: Chart,
    /// The values given at install or upgrade (`-f values.yaml`, `--set`).
    #[serde(default)]
    config: serde_json::Value,
}

#[derive(Default, Deserialize)]
struct Info {
    #[serde(default)]
    status: String,
    #[serde(default)]
    last_deployed: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Default, Deserialize)]
struct Chart {
    #[serde(default)]
    metadata: ChartMetadata,
    /// The chart's default values.
    #[serde(default)]
    values: serde_json::Value,
}

#[derive(Default, Deserialize)]
struct ChartMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
}

/// The newest record of each release among `secrets` (Helm's records), decoded.
pub fn newest_records(secrets: &[Secret]) -> Vec<Result<ReleaseRecord, UnreadableRecord>> {
    let label = |secret: &Secret, key: &str| secret.metadata.labels.as_ref().and_then(|l| l.get(key)).cloned();
    let mut newest: Vec<(String, u32, &Secret)> = Vec::new();
    for secret in secrets {
        let (Some(name), Some(revision)) = (label(secret, "name"), label(secret, "version")) else { continue };
        let Ok(revision) = revision.parse::<u32>() else { continue };
        match newest.iter_mut().find(|(release, _, _)| *release == name) {
            Some(entry) if entry.1 < revision => *entry = (name, revision, secret),
            Some(_) => {}
            None => newest.push((name, revision, secret)),
        }
    }
    let deployed = |release: &str| {
        secrets
            .iter()
            .filter(|s| {
                label(s, "name").as_deref() == Some(release) && label(s, "status").as_deref() == Some("deployed")
            })
            .filter_map(|s| Some((label(s, "version")?.parse::<u32>().ok()?, s)))
            .max_by_key(|(revision, _)| *revision)
    };
    newest
        .into_iter()
        .map(|(release, revision, secret)| {
            let serving = deployed(&release);
            let deployed_chart_version = serving
                .filter(|(deployed, _)| *deployed != revision)
                .and_then(|(_, secret)| decode(secret).ok())
                .map(|record| record.chart_version);
            decode(secret).map(|record| ReleaseRecord {
                deployed_revision: serving.map(|(revision, _)| revision),
                deployed_chart_version,
                ..record
            })
        })
        .collect()
}

/// The release record a Secret of Helm's driver holds.
pub fn decode(secret: &Secret) -> Result<ReleaseRecord, UnreadableRecord> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let failed = |message: String| UnreadableRecord { secret: name.clone(), message };
    let stored =
        secret.data.as_ref().and_then(|data| data.get("release")).ok_or_else(|| failed("no `release` key".into()))?;
    let compressed = STANDARD.decode(&stored.0).map_err(|e| failed(format!("not base64: {e}")))?;
    let mut json = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .take(MAX_RELEASE_BYTES)
        .read_to_end(&mut json)
        .map_err(|e| failed(format!("not gzip: {e}")))?;
    let release: Release = serde_json::from_slice(&json).map_err(|e| failed(format!("not a release: {e}")))?;
    Ok(ReleaseRecord {
        name: release.name,
        revision: release.version,
        status: release.info.status,
        chart: release.chart.metadata.name,
        chart_version: release.chart.metadata.version,
        last_deployed: release.info.last_deployed,
        description: release.info.description,
        deployed_revision: None,
        deployed_chart_version: None,
        autoscaler_scaling: autoscaler_scaling(&release.config, &release.chart.values),
        nomad_server: nomad_server_values(&release.config, &release.chart.values),
        given_keys: keys(&release.config),
        tink_enabled: value_of(&release.config, &release.chart.values, "/tink/enabled").and_then(|v| v.as_bool()),
        mongodb_internal: value_of(&release.config, &release.chart.values, "/mongodb/internal")
            .and_then(|v| v.as_bool()),
        oidc: oidc_values(&release.config, &release.chart.values),
    })
}

/// The dotted keys of `values` down to each value that is not a table (a list is one key),
/// in order.
fn keys(values: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, prefix: &str, keys: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(table) if !table.is_empty() => {
                for (key, value) in table {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(value, &path, keys);
                }
            }
            _ if !prefix.is_empty() => keys.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    walk(values, "", &mut keys);
    keys
}

/// `nomad.server.*` as the release uses them: each from the given values, else from the
/// chart's defaults.
fn nomad_server_values(given: &serde_json::Value, defaults: &serde_json::Value) -> NomadServerValues {
    let value = |name: &str| value_of(given, defaults, &format!("/nomad/server/{name}"));
    let text = |name: &str| value(name).and_then(|v| v.as_str()).filter(|t| !t.is_empty()).map(str::to_string);
    NomadServerValues {
        internal: value("internal").and_then(serde_json::Value::as_bool),
        server_hostname: text("serverHostname"),
        replicas: value("replicas").and_then(serde_json::Value::as_u64),
        scheme: text("scheme"),
    }
}

/// The value at `pointer` as the release uses it: from the given values, else from the
/// chart's defaults.
fn value_of<'a>(
    given: &'a serde_json::Value,
    defaults: &'a serde_json::Value,
    pointer: &str,
) -> Option<&'a serde_json::Value> {
    given.pointer(pointer).or_else(|| defaults.pointer(pointer))
}

/// `oidc_service.{isEnabled,base_url,token_max_ttl}` and `global.domainName` as the release
/// uses them: each from the given values, else from the chart's defaults; empty text is unset.
fn oidc_values(given: &serde_json::Value, defaults: &serde_json::Value) -> OidcValues {
    let text = |pointer: &str| {
        value_of(given, defaults, pointer).and_then(|v| v.as_str()).filter(|t| !t.trim().is_empty()).map(str::to_string)
    };
    OidcValues {
        enabled: value_of(given, defaults, "/oidc_service/isEnabled").and_then(serde_json::Value::as_bool),
        base_url: text("/oidc_service/base_url"),
        domain_name: text("/global/domainName"),
        token_max_ttl: text("/oidc_service/token_max_ttl"),
    }
}

/// `nomad.auto_scaler.scaling.{min,max}` as the release uses them: each from the given
/// values, else from the chart's defaults.
fn autoscaler_scaling(given: &serde_json::Value, defaults: &serde_json::Value) -> Option<ScalingBounds> {
    let bound = |name: &str| {
        value_of(given, defaults, &format!("/nomad/auto_scaler/scaling/{name}")).and_then(serde_json::Value::as_u64)
    };
    Some(ScalingBounds { min: bound("min")?, max: bound("max")? })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use k8s_openapi::ByteString;

    use super::*;

    fn record(name: &str, revision: u32, status: &str) -> Secret {
        let json = serde_json::json!({
            "name": name, "version": revision,
            "info": {"status": status, "description": "Upgrade complete", "last_deployed": "2026-11-28T10:00:00Z"},
            "chart": {"metadata": {"name": "circleci-server", "version": format!("4.4.{revision}")}},
        });
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(json.to_string().as_bytes()).unwrap();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("sh.helm.release.v1.{name}.v{revision}"),
                "labels": {"owner": "helm", "name": name, "version": revision.to_string(), "status": status}},
            "data": {"release": ByteString(STANDARD.encode(gzip.finish().unwrap()).into_bytes())},
        }))
        .unwrap()
    }

    #[test]
    fn the_newest_revision_of_each_release_is_decoded() {
        let secrets = [
            record("circleci-server", 2, "deployed"),
            record("circleci-server", 10, "failed"),
            record("other", 1, "deployed"),
        ];
        let records: Vec<ReleaseRecord> = newest_records(&secrets).into_iter().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].revision, records[0].status.as_str(), records[0].chart_version.as_str()),
            (10, "failed", "4.4.10")
        );
        assert_eq!(records[0].deployed_revision, Some(2), "the revision Helm still serves");
        assert_eq!(records[0].deployed_chart_version.as_deref(), Some("4.4.2"), "its chart");
        assert_eq!(records[1].deployed_chart_version, None, "the newest is the one deployed");
        assert_eq!(records[1].name, "other");
    }

    #[test]
    fn scaling_bounds_come_from_the_given_values_over_the_charts_defaults() {
        let defaults = serde_json::json!({"nomad": {"auto_scaler": {"scaling": {"min": 1, "max": 3}}}});
        let given =
            serde_json::json!({"nomad": {"auto_scaler": {"scaling": {"max": 8}, "aws": {"secretKey": "s3cr3t"}}}});
        assert_eq!(autoscaler_scaling(&given, &defaults), Some(ScalingBounds { min: 1, max: 8 }));
        assert_eq!(autoscaler_scaling(&given, &serde_json::Value::Null), None, "min unknown");
        assert_eq!(autoscaler_scaling(&serde_json::Value::Null, &serde_json::Value::Null), None);
    }

    #[test]
    fn nomad_server_values_come_from_the_given_values_over_the_charts_defaults() {
        let defaults =
            serde_json::json!({"nomad": {"server": {"internal": true, "replicas": 5, "serverHostname": ""}}});
        let given =
            serde_json::json!({"nomad": {"server": {"internal": false, "serverHostname": "nomad.example.internal"}}});
        assert_eq!(
            nomad_server_values(&given, &defaults),
            NomadServerValues {
                internal: Some(false),
                server_hostname: Some("nomad.example.internal".into()),
                replicas: Some(5),
                scheme: None
            }
        );
        assert_eq!(
            nomad_server_values(&serde_json::Value::Null, &defaults).server_hostname,
            None,
            "an empty host name is none"
        );
    }

    #[test]
    fn oidc_values_name_the_issuer_from_the_base_url_else_the_domain_and_keep_no_key() {
        let defaults = serde_json::json!({"oidc_service": {"isEnabled": false, "token_max_ttl": "5h", "base_url": ""}});
        let given = serde_json::json!({
            "global": {"domainName": "ci.example.com"},
            "oidc_service": {"isEnabled": true, "json_web_keys": "eyJrZXlzIjpbXX0="},
        });
        let values = oidc_values(&given, &defaults);
        assert_eq!(
            values,
            OidcValues {
                enabled: Some(true),
                base_url: None,
                domain_name: Some("ci.example.com".into()),
                token_max_ttl: Some("5h".into())
            }
        );
        assert_eq!(values.issuer().as_deref(), Some("https://ci.example.com"));
        assert!(!format!("{values:?}").contains("eyJrZXlz"), "the signing keys are not kept");
        let based = OidcValues { base_url: Some("https://oidc.example.com/".into()), ..values };
        assert_eq!(based.issuer().as_deref(), Some("https://oidc.example.com"), "base_url wins, without its `/`");
        assert_eq!(oidc_values(&serde_json::Value::Null, &serde_json::Value::Null).issuer(), None);
    }

    #[test]
    fn the_given_values_keep_their_keys_down_to_each_value_not_the_values() {
        let given = serde_json::json!({
            "global": {"tracing": {"enabled": true, "collector_host": "otel:4317"}},
            "telegraf": {"args": ["--config", "x"]},
            "mongodb": {"auth": {"rootPassword": "s3cr3t"}},
            "empty": {}
        });
        assert_eq!(
            keys(&given),
            [
                "empty",
                "global.tracing.collector_host",
                "global.tracing.enabled",
                "mongodb.auth.rootPassword",
                "telegraf.args"
            ]
        );
        assert!(keys(&serde_json::Value::Null).is_empty());
    }

    #[test]
    fn a_record_that_is_not_helms_says_why() {
        let mut broken = record("circleci-server", 1, "deployed");
        broken.data = Some([("release".to_string(), ByteString(b"H4sIAAAA!!".to_vec()))].into());
        let error = decode(&broken).unwrap_err();
        assert!(
            error.to_string().contains("sh.helm.release.v1.circleci-server.v1") && error.message.contains("base64"),
            "{error}"
        );
    }
}
