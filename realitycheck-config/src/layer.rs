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
    #[serde(default)]
    pub serve: ServeLayer,
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
    /// `token_env`: name of the environment variable that holds this target's API token
    /// (instead of CIRCLE_TOKEN), not yet checked.
    pub token_env: Option<String>,
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
    /// `collect`: write an evidence bundle when a check is red.
    pub collect: Option<bool>,
    /// `collect_dir`: where evidence bundles go, as written.
    pub collect_dir: Option<PathBuf>,
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

/// What one source says about `realitycheck serve`: the `[serve]` table of a file, or the
/// flags of `serve`. Validated only once merged, into a `ServeSettings`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeLayer {
    /// `profile`: profile of the scheduled runs, not yet looked up.
    pub profile: Option<String>,
    /// `every`: time between the starts of two runs of one target, not yet range-checked.
    #[serde(default, deserialize_with = "duration")]
    pub every: Option<Duration>,
    /// `listen`: address and port of the HTTP server, as written (`127.0.0.1:9797`).
    pub listen: Option<String>,
    /// `history`: runs kept per target, not yet range-checked.
    pub history: Option<usize>,
    /// `state_dir`: directory keeping the history across restarts, as written.
    pub state_dir: Option<PathBuf>,
    /// `webhook`: URL to POST to on every change of a check's state, as written.
    pub webhook: Option<String>,
    /// `webhook_format`: body of those POSTs.
    pub webhook_format: Option<WebhookFormat>,
    /// `api_token_file`: file holding the bearer token `POST /api/v1/runs` requires, as written.
    pub api_token_file: Option<PathBuf>,
}

/// The webhook's URL is a secret (a Slack URL's path is its key): shown as set or unset only.
impl std::fmt::Debug for ServeLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeLayer")
            .field("profile", &self.profile)
            .field("every", &self.every)
            .field("listen", &self.listen)
            .field("history", &self.history)
            .field("state_dir", &self.state_dir)
            .field("webhook", &self.webhook.as_ref().map(|_| "[redacted]"))
            .field("webhook_format", &self.webhook_format)
            .field("api_token_file", &self.api_token_file)
            .finish()
    }
}

/// The body of the POSTs `realitycheck serve` sends to its webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// realitycheck's own JSON document (`json`).
    #[default]
    Json,
    /// A Slack incoming-webhook message (`slack`).
    Slack,
}

impl WebhookFormat {
    /// Every format, in the order messages list them.
    pub const ALL: [WebhookFormat; 2] = [WebhookFormat::Json, WebhookFormat::Slack];

    /// The format of a lowercase name (`json`, `slack`).
    pub fn parse(value: &str) -> Option<WebhookFormat> {
        WebhookFormat::ALL.into_iter().find(|format| format.as_str() == value)
    }

    /// The lowercase name the configuration and the `--webhook-format` flag use.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
        }
    }
}

impl std::fmt::Display for WebhookFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

merge_fields!(FileLayer { profile, default_target, defaults, targets, profiles, serve });
merge_fields!(TargetLayer {
    host,
    token_file,
    token_env,
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
merge_fields!(ProfileLayer {
    retries,
    timeout_scale,
    deadline,
    concurrency,
    exclude_tags,
    timeouts,
    collect,
    collect_dir
});
merge_fields!(TimeoutsLayer { cluster, api, pipeline });
merge_fields!(ServeLayer { profile, every, listen, history, state_dir, webhook, webhook_format, api_token_file });

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
    fn webhook_formats_read_as_the_file_and_the_flag_write_them() {
        for format in WebhookFormat::ALL {
            assert_eq!(WebhookFormat::parse(format.as_str()), Some(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!(WebhookFormat::parse("xml"), None);
        assert_eq!(WebhookFormat::default(), WebhookFormat::Json);
        let base = ServeLayer { every: Some(Duration::from_secs(60)), history: Some(5), ..Default::default() };
        let over = ServeLayer { history: Some(7), webhook_format: Some(WebhookFormat::Slack), ..Default::default() };
        let merged = base.merge(over);
        assert_eq!(
            (merged.every, merged.history, merged.webhook_format),
            (Some(Duration::from_secs(60)), Some(7), Some(WebhookFormat::Slack))
        );
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
