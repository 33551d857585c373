//! One layer of configuration: what a file, the environment or the flags say, every field
//! optional. Layers merge key by key, the later one winning.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use harness::Tag;
use serde::{Deserialize, Deserializer};

/// Where the installation runs; decides which executors apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    Aws,
    Gcp,
    Other,
}

impl CloudProvider {
    pub fn parse(value: &str) -> Option<CloudProvider> {
        match value {
            "aws" => Some(CloudProvider::Aws),
            "gcp" => Some(CloudProvider::Gcp),
            "other" => Some(CloudProvider::Other),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloudProvider::Aws => "aws",
            CloudProvider::Gcp => "gcp",
            CloudProvider::Other => "other",
        }
    }
}

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

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetLayer {
    pub host: Option<String>,
    pub token_file: Option<PathBuf>,
    pub cloud_provider: Option<CloudProvider>,
    pub project: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub insecure: Option<bool>,
    #[serde(default)]
    pub kubernetes: KubernetesLayer,
    #[serde(default)]
    pub nomad: NomadLayer,
    #[serde(default)]
    pub pipeline: PipelineLayer,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesLayer {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NomadLayer {
    pub server_selector: Option<String>,
    pub min_clients: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineLayer {
    pub branch: Option<String>,
    pub runner_resource_class: Option<String>,
    pub windows: Option<bool>,
    pub docker_resource_classes: Option<Vec<String>>,
    pub image_registry: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLayer {
    pub retries: Option<u32>,
    pub timeout_scale: Option<f64>,
    #[serde(default, deserialize_with = "duration")]
    pub deadline: Option<Duration>,
    pub concurrency: Option<usize>,
    pub exclude_tags: Option<Vec<Tag>>,
    #[serde(default)]
    pub timeouts: TimeoutsLayer,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsLayer {
    #[serde(default, deserialize_with = "duration")]
    pub cluster: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub api: Option<Duration>,
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
    kubernetes,
    nomad,
    pipeline
});
merge_fields!(PipelineLayer { branch, runner_resource_class, windows, docker_resource_classes, image_registry });
merge_fields!(KubernetesLayer { kubeconfig, context, namespace });
merge_fields!(NomadLayer { server_selector, min_clients });
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
