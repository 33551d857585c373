//! Velero's `Backup` resources (`velero.io/v1`), as far as an upgrade needs them: which
//! namespaces a backup holds, its phase and when it completed. Reading only.

use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde::Deserialize;

/// The API resource of Velero's backups.
pub fn backups_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("velero.io", "v1", "Backup"), "backups")
}

/// One Velero backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub name: String,
    /// `spec.includedNamespaces`; empty or `*` means every namespace.
    pub included_namespaces: Vec<String>,
    /// `spec.excludedNamespaces`.
    pub excluded_namespaces: Vec<String>,
    /// `status.phase`: `Completed`, `PartiallyFailed`, `Failed`, `InProgress`, ...; empty when
    /// Velero has not looked at it yet.
    pub phase: String,
    /// `status.completionTimestamp`.
    pub completed: Option<Timestamp>,
    /// `status.startTimestamp`, else `metadata.creationTimestamp`.
    pub started: Option<Timestamp>,
}

impl Backup {
    /// The backup a `Backup` resource describes.
    pub fn of(object: &DynamicObject) -> Backup {
        let parsed: BackupJson = serde_json::from_value(object.data.clone()).unwrap_or_default();
        let time = |text: Option<&str>| text.and_then(|t| t.parse::<Timestamp>().ok());
        Backup {
            name: object.metadata.name.clone().unwrap_or_default(),
            included_namespaces: parsed.spec.included_namespaces,
            excluded_namespaces: parsed.spec.excluded_namespaces,
            phase: parsed.status.phase,
            completed: time(parsed.status.completion_timestamp.as_deref()),
            started: time(parsed.status.start_timestamp.as_deref())
                .or_else(|| object.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        }
    }

    /// Whether the backup holds `namespace`.
    pub fn covers(&self, namespace: &str) -> bool {
        let included =
            self.included_namespaces.is_empty() || self.included_namespaces.iter().any(|n| n == "*" || n == namespace);
        included && !self.excluded_namespaces.iter().any(|n| n == namespace)
    }
}

#[derive(Default, Deserialize)]
struct BackupJson {
    #[serde(default)]
    spec: SpecJson,
    #[serde(default)]
    status: StatusJson,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecJson {
    #[serde(default)]
    included_namespaces: Vec<String>,
    #[serde(default)]
    excluded_namespaces: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    #[serde(default)]
    phase: String,
    completion_timestamp: Option<String>,
    start_timestamp: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_backup_reads_its_namespaces_phase_and_times() {
        let backup = Backup::of(&object(serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "daily-20261207", "namespace": "velero", "creationTimestamp": "2026-12-07T01:00:00Z"},
            "spec": {"includedNamespaces": ["circleci-server"], "ttl": "720h0m0s"},
            "status": {"phase": "Completed", "startTimestamp": "2026-12-07T01:00:01Z", "completionTimestamp": "2026-12-07T01:04:30Z"}
        })));
        assert_eq!(backup.name, "daily-20261207");
        assert_eq!(backup.phase, "Completed");
        assert_eq!(backup.completed, Some("2026-12-07T01:04:30Z".parse().unwrap()));
        assert_eq!(backup.started, Some("2026-12-07T01:00:01Z".parse().unwrap()));
        assert!(backup.covers("circleci-server"));
        assert!(!backup.covers("other"));
    }

    #[test]
    fn every_namespace_unless_excluded_and_a_fresh_backup_has_no_status() {
        let all = Backup::of(&object(serde_json::json!({
            "metadata": {"name": "all", "creationTimestamp": "2026-12-07T01:00:00Z"},
            "spec": {"excludedNamespaces": ["kube-system"]}
        })));
        assert!(all.covers("circleci-server"));
        assert!(!all.covers("kube-system"));
        assert_eq!(all.phase, "");
        assert_eq!(all.completed, None);
        assert_eq!(all.started, Some("2026-12-07T01:00:00Z".parse().unwrap()));
        let star =
            Backup::of(&object(serde_json::json!({"metadata": {"name": "s"}, "spec": {"includedNamespaces": ["*"]}})));
        assert!(star.covers("circleci-server"));
    }
}
