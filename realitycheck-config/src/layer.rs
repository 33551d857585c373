//! One layer of configuration: what a file, the environment or the flags say, every field
//! optional. Layers merge key by key, the later one winning.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use harness::Tag;
pub use realitycheck_project::CloudProvider;
use serde::{Deserialize, Deserializer};

/// The whole file: the top-level keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLayer {
    pub profile: Option<String>,
    pub default_target: Option<String>,
    #[serde(default)]
    pub defaults: TargetLayer,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetLayer>,
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileLayer>,
}

/// What one source says about a target: `[defaults]` or `[targets.NAME]` in a file, or the
/// environment, or the flags. Validated only once merged, into a `Target`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetLayer {
    /// `host`: base URL of the installation, not yet normalised.
    pub host: Option<String>,
    /// `token_file`: file that holds the API token, as written.
    pub token_file: Option<PathBuf>,
    /// `cloud_provider`.
    pub cloud_provider: Option<CloudProvider>,
    /// `project`: slug of the realitycheck CircleCI project, not yet checked.
    pub project: Option<String>,
    /// `ca_bundle`: PEM file of the CA certificates, as written.
    pub ca_bundle: Option<PathBuf>,
    /// `insecure`: accept any TLS certificate.
    pub insecure: Option<bool>,
    /// `tls_min_days`: an installation certificate expiring sooner is red.
    pub tls_min_days: Option<u32>,
    /// `max_pages`: pages of one API list read at most.
    pub max_pages: Option<u32>,
    /// The `kubernetes` table.
    #[serde(default)]
    pub kubernetes: KubernetesLayer,
    /// The `nomad` table.
    #[serde(default)]
    pub nomad: NomadLayer,
    /// The `pipeline` table.
    #[serde(default)]
    pub pipeline: PipelineLayer,
}

/// What one source says about reaching the cluster: a target's `kubernetes` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesLayer {
    /// `kubeconfig`: kubeconfig file, as written.
    pub kubeconfig: Option<PathBuf>,
    /// `context`: kubeconfig context.
    pub context: Option<String>,
    /// `namespace`: namespace of the CircleCI server Helm release.
    pub namespace: Option<String>,
    /// `expect_chart_version`: the chart version the release must run.
    pub expect_chart_version: Option<String>,
}

/// What one source says about Nomad: a target's `nomad` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NomadLayer {
    /// `server_selector`: label selector of the Nomad server pods.
    pub server_selector: Option<String>,
    /// `min_clients`: Nomad clients that must be ready.
    pub min_clients: Option<u32>,
    /// `mtls_min_days`: a Nomad mTLS certificate expiring sooner is red.
    pub mtls_min_days: Option<u32>,
}

/// What one source says about the pipeline realitycheck triggers: a target's `pipeline`
/// table, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineLayer {
    /// `branch`: branch to build.
    pub branch: Option<String>,
    /// `runner_resource_class`: self-hosted runner resource class (`namespace/name`).
    pub runner_resource_class: Option<String>,
    /// `windows`: run the Windows job.
    pub windows: Option<bool>,
    /// `docker_resource_classes`: docker resource classes to check one by one.
    pub docker_resource_classes: Option<Vec<String>>,
    /// `image_registry`: prefix of every docker image of the project.
    pub image_registry: Option<String>,
}

/// What one source says about how a run behaves: a `[profiles.NAME]` table, or the
/// environment or flags (only `timeout_scale`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLayer {
    /// `retries`: times a failed check runs again.
    pub retries: Option<u32>,
    /// `timeout_scale`: multiplier of every timeout and the deadline, not yet range-checked.
    pub timeout_scale: Option<f64>,
    /// `deadline`: when the whole run stops.
    #[serde(default, deserialize_with = "duration")]
    pub deadline: Option<Duration>,
    /// `concurrency`: checks that run at once.
    pub concurrency: Option<usize>,
    /// `exclude_tags`: checks carrying one of these tags are left out.
    pub exclude_tags: Option<Vec<Tag>>,
    /// The `timeouts` table.
    #[serde(default)]
    pub timeouts: TimeoutsLayer,
}

/// What one source says about the timeout of one attempt of a check, by kind of check: a
/// profile's `timeouts` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsLayer {
    /// `cluster`: one attempt of a Kubernetes check.
    #[serde(default, deserialize_with = "duration")]
    pub cluster: Option<Duration>,
    /// `api`: one attempt of a CircleCI API check.
    #[serde(default, deserialize_with = "duration")]
    pub api: Option<Duration>,
    /// `pipeline`: a check that waits for pipeline jobs to run.
    #[serde(default, deserialize_with = "duration")]
    pub pipeline: Option<Duration>,
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a duration ({e})")))
}

/// Merging: `over` wins wherever it says something.
pub trait Merge {
    fn merge(self, over: Self) -> Self;
}

impl<T> Merge for Option<T> {
    fn merge(self, over: Self) -> Self {
        over.or(self)
    }
}

impl<V: Merge + Default> Merge for BTreeMap<String, V> {
    fn merge(mut self, over: Self) -> Self {
        for (name, layer) in over {
            let merged = self.remove(&name).unwrap_or_default().merge(layer);
            self.insert(name, merged);
        }
        self
    }
}

macro_rules! merge_fields {
    ($type:ident { $($field:ident),* $(,)? }) => {
        impl Merge for $type {
            fn merge(self, over: Self) -> Self {
                $type { $($field: self.$field.merge(over.$field)),* }
            }
        }
    };
}

merge_fields!(FileLayer { profile, default_target, defaults, targets, profiles });
merge_fields!(TargetLayer {
    host,
    token_file,
    cloud_provider,
    project,
    ca_bundle,
    insecure,
    tls_min_days,
    max_pages,
    kubernetes,
    nomad,
    pipeline
});
merge_fields!(PipelineLayer { branch, runner_resource_class, windows, docker_resource_classes, image_registry });
merge_fields!(KubernetesLayer { kubeconfig, context, namespace, expect_chart_version });
merge_fields!(NomadLayer { server_selector, min_clients, mtls_min_days });
merge_fields!(ProfileLayer { retries, timeout_scale, deadline, concurrency, exclude_tags, timeouts });
merge_fields!(TimeoutsLayer { cluster, api, pipeline });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_layer_wins_key_by_key() {
        let base = TargetLayer {
            host: Some("https://a.example.com".into()),
            kubernetes: KubernetesLayer { namespace: Some("circleci-server".into()), ..Default::default() },
            ..Default::default()
        };
        let over = TargetLayer {
            kubernetes: KubernetesLayer { context: Some("prod".into()), ..Default::default() },
            ..Default::default()
        };
        let merged = base.merge(over);
        assert_eq!(merged.host.as_deref(), Some("https://a.example.com"));
        assert_eq!(merged.kubernetes.namespace.as_deref(), Some("circleci-server"));
        assert_eq!(merged.kubernetes.context.as_deref(), Some("prod"));
    }

    #[test]
    fn maps_merge_by_name() {
        let base = BTreeMap::from([(
            "ci".to_string(),
            ProfileLayer { retries: Some(1), concurrency: Some(4), ..Default::default() },
        )]);
        let over = BTreeMap::from([
            ("ci".to_string(), ProfileLayer { retries: Some(3), ..Default::default() }),
            ("mine".to_string(), ProfileLayer { concurrency: Some(2), ..Default::default() }),
        ]);
        let merged = base.merge(over);
        assert_eq!(merged["ci"].retries, Some(3));
        assert_eq!(merged["ci"].concurrency, Some(4));
        assert_eq!(merged["mine"].concurrency, Some(2));
    }
}
