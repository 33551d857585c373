//! `upgrade::*` (`realitycheck upgrade-check --to VERSION`): whether the installation may be
//! upgraded to a target version now, read-only. Each check judges one thing the upgrade guides
//! ask before `helm upgrade` (`crate::upgrades` holds the facts): the path, the cluster's
//! Kubernetes, the release's state, its values, its data stores, its Nomad clients and a recent
//! backup; their pass notes together are the upgrade plan.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use harness::{Check, Diagnosis, SkipReason, Verdict};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;

use super::cause::{Because, StatedBy, Values, causes};
use super::cluster::{judge_release, kubernetes_of, version_unknown};
use super::nomad::{node_details, nomad_failure, runtime_note, unsupported_runtime, unusable_because, version_of};
use super::{CheckOutcome, cluster_check, cluster_failed, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::helm::{ReleaseRecord, SERVER_CHART};
use crate::clients::nomad::nodes::{Node, NodeDetail};
use crate::clients::velero::Backup;
use crate::phase;
use crate::resources::cluster::ClusterAccess;
use crate::resources::release::{InstalledRelease, InstalledVersion, ServersAt};
use crate::upgrades::{
    self, Path, RETENTION_NOTE, RETENTION_RENAMED, Route, TinkMigration, UpgradeTarget, VALUES_CHANGES,
};
use crate::versions::{self, KubernetesVersion, ServerVersion};

/// Every check of `upgrade-check`, judging an upgrade to `target`.
pub fn all(target: &UpgradeTarget) -> Vec<Check<RealityCheck>> {
    let target = Arc::new(target.clone());
    vec![
        path(&target),
        kubernetes(&target),
        release_state(),
        values(&target),
        data_stores(&target),
        nomad_clients(&target),
        backup(),
    ]
}

/// A check of the cluster that judges the upgrade to `target`.
fn targeted_check<F, Fut>(id: &str, summary: &str, target: &Arc<UpgradeTarget>, body: F) -> Check<RealityCheck>
where
    F: Fn(ClusterAccess, Arc<UpgradeTarget>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let target = Arc::clone(target);
    cluster_check(id, summary, move |access, _| body(access, Arc::clone(&target)))
}

fn path(target: &Arc<UpgradeTarget>) -> Check<RealityCheck> {
    let summary = "the installed version may be upgraded to the target directly: one minor version at a time, from its last patch";
    targeted_check(ids::UPGRADE_PATH, summary, target, |access, target| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let installed = release.version.as_ref().ok_or_else(|| version_unknown(release))?;
        Ok(judge_path(&serving(installed, release.record()), &target))
    })
}

fn kubernetes(target: &Arc<UpgradeTarget>) -> Check<RealityCheck> {
    let summary = "the cluster's Kubernetes is one the target supports (else which to upgrade first)";
    targeted_check(ids::UPGRADE_KUBERNETES, summary, target, |access, target| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let installed = release.version.as_ref().ok_or_else(|| version_unknown(release))?;
        let cluster = access.client().await.map_err(cluster_failed)?;
        let info = cluster.version_info().await.map_err(cluster_failed)?;
        let kubernetes = kubernetes_of(&info.major, &info.minor, &info.git_version).map_err(Verdict::Fail)?;
        Ok(judge_kubernetes(&serving(installed, release.record()), &target, kubernetes))
    })
}

fn release_state() -> Check<RealityCheck> {
    let summary = "the Helm release is deployed: no operation pending, the last one not failed";
    cluster_check(ids::UPGRADE_RELEASE_STATE, summary, |access, _| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let records = release.records.as_ref().map_err(optional_read_failed)?;
        Ok(match judge_release(access.namespace(), records, release.version.as_ref(), None, Timestamp::now()) {
            Verdict::Pass(note) => Verdict::Pass(format!("{note}: `helm upgrade` may start from it")),
            verdict => verdict,
        })
    })
}

fn values(target: &Arc<UpgradeTarget>) -> Check<RealityCheck> {
    let summary = "no key of the release's values that the target renamed or removed";
    targeted_check(ids::UPGRADE_VALUES, summary, target, |access, target| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let record = server_record(release)?;
        let installed = release.version.as_ref().map(|version| serving(version, Some(record)).lookup.version);
        Ok(judge_values(record, installed, &target))
    })
}

fn data_stores(target: &Arc<UpgradeTarget>) -> Check<RealityCheck> {
    let summary = "the running MongoDB is as new as the target needs, and contexts use Tink where it must";
    targeted_check(ids::UPGRADE_DATA_STORES, summary, target, |access, target| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let record = server_record(release)?;
        let cluster = access.client().await.map_err(cluster_failed)?;
        let sets = cluster.statefulsets().await.map_err(optional_read_failed)?;
        let stated = access.upgrade_settings().mongodb_version.as_deref();
        let stores = DataStores::read(access.namespace(), record, &sets, stated);
        Ok(judge_data_stores(&stores, &target))
    })
}

fn nomad_clients(target: &Arc<UpgradeTarget>) -> Check<RealityCheck> {
    let summary =
        "the Nomad clients run what the target's Terraform module expects: Docker before 29, cgroups v1 (or Podman)";
    targeted_check(ids::UPGRADE_NOMAD_CLIENTS, summary, target, |access, target| async move {
        let failed = |e| Verdict::Fail(nomad_failure(access.namespace(), &e));
        let release = access.release().await.map_err(cluster_failed)?;
        let servers = access.nomad().await.map_err(failed)?;
        let nodes = servers.nodes().await.map_err(failed)?;
        let details = node_details(servers, &nodes).await.map_err(failed)?;
        let outside = matches!(release.servers(), ServersAt::Outside { .. });
        Ok(judge_clients(&nodes, &details, &target, outside))
    })
}

fn backup() -> Check<RealityCheck> {
    let summary = "a completed Velero backup of the namespace, recent enough to restore from (skipped, saying so, where Velero is absent)";
    cluster_check(ids::UPGRADE_BACKUP, summary, |access, _| async move {
        let cluster = access.client().await.map_err(cluster_failed)?;
        let settings = access.upgrade_settings();
        let backups = cluster.velero_backups(&settings.velero_namespace).await.map_err(optional_read_failed)?;
        Ok(judge_backup(
            backups.as_deref(),
            access.namespace(),
            &settings.velero_namespace,
            settings.backup_max_age,
            Timestamp::now(),
        ))
    })
}

/// The newest record of the server chart, or the verdict that says why there is none.
fn server_record(release: &InstalledRelease) -> Result<&ReleaseRecord, Verdict> {
    release.records.as_ref().map_err(optional_read_failed)?;
    release.record().ok_or_else(|| {
        Verdict::Skip(SkipReason::NotConfigured(format!(
            "no Helm release of chart {SERVER_CHART} to read the values of (upgrade::release_state says where to look)"
        )))
    })
}

causes! {
    StatedBy::Checks(&[ids::UPGRADE_PATH]) => {
        SKIPS_RELEASES:
            "CircleCI supports upgrades one minor version at a time, each from the last patch of the minor version that runs (4.7 also directly from 4.3 – 4.6); a longer jump skips the migrations of the releases between",
            "upgrade along the path, one `helm upgrade` per step: {route}; run `realitycheck upgrade-check --to {first}` before the first, and again before each next step";
        DOWNGRADE:
            "the target is older than what runs: CircleCI server does not support a downgrade (its data stores may have been migrated)",
            "check --to; to go back to an older release, restore the backup taken before the upgrade (Velero), not `helm upgrade`";
        BROKEN_TARGET:
            "{why}",
            "upgrade to {instead} instead";
    }
    StatedBy::Checks(&[ids::UPGRADE_KUBERNETES]) => {
        KUBERNETES_FIRST:
            "server {target} supports Kubernetes {target_range}, and this cluster runs {kubernetes}; server {installed} supports {installed_range}, so the cluster can be upgraded before the server",
            "upgrade Kubernetes first, one minor version at a time, to {kubernetes_target} (within both ranges), check the installation (`realitycheck run`), then upgrade the server";
        KUBERNETES_BETWEEN:
            "server {target} supports Kubernetes {target_range}, and this cluster runs {kubernetes}; server {installed} supports {installed_range}: no Kubernetes version suits both",
            "alternate: upgrade the server along upgrade::path, and before each step move Kubernetes into the range of both the running and the next server version";
        KUBERNETES_BELOW_RUNNING:
            "server {target}, which runs already, supports Kubernetes {target_range}, and this cluster runs {kubernetes}: the installation runs on a cluster its release does not support",
            "upgrade Kubernetes, one minor version at a time, to {kubernetes_target} or later within {target_range} (cluster::kubernetes_version says the same)";
        KUBERNETES_NEWER_THAN_TARGET:
            "server {target} supports Kubernetes up to {newest}, and this cluster runs {kubernetes}: its chart may use APIs this cluster no longer serves",
            "choose a target that supports Kubernetes {kubernetes}, or wait for one; do not downgrade the cluster";
    }
    StatedBy::Checks(&[ids::UPGRADE_VALUES]) => {
        RENAMED_VALUES:
            "the target's chart renamed or removed these keys: it ignores them, so what they set falls back to the chart's defaults after the upgrade",
            "edit the values file before `helm upgrade`: {fixes}; `helm diff upgrade` (the helm-diff plugin) shows the effect";
    }
    StatedBy::Checks(&[ids::UPGRADE_DATA_STORES]) => {
        MONGODB_TOO_OLD:
            "server {target} needs MongoDB {minimum} or later, and an in-place `helm upgrade` does not change the MongoDB image that runs",
            "migrate MongoDB to {minimum} before the upgrade, one major version at a time, as CircleCI's \"Upgrade MongoDB\" guide shows (its server-scripts repository has the migration scripts); back up first";
        MONGODB_UNREADABLE:
            "the chart's MongoDB StatefulSet is missing, or its image names no version (a digest, a custom tag)",
            "check `kubectl -n {namespace} get statefulsets -l app.kubernetes.io/name=mongodb`; give the version `db.version()` prints in upgrade.mongodb_version (or --mongodb-version)";
        VAULT_NOT_MIGRATED:
            "contexts' secrets are still encrypted with Vault; the upgrade guide of {target} says to migrate to Tink before the backup that precedes the upgrade, or restoring Vault from that backup may fail",
            "migrate to Tink with CircleCI's server-scripts (vault-to-tink), set `tink.enabled: true` in the values, then take the backup and upgrade";
    }
    StatedBy::Checks(&[ids::UPGRADE_BACKUP]) => {
        NO_RECENT_BACKUP:
            "the upgrade guides ask for a recent backup to restore in place should the upgrade fail; the newest completed Velero backup of namespace {namespace} is older than {max_age}, or there is none",
            "take one now: `velero backup create circleci-pre-upgrade-$(date +%Y%m%d%H%M) --include-namespaces {namespace} --wait`, and check that `velero backup describe` says Completed (upgrade.backup_max_age sets how old is too old)";
    }
}

/// The version that serves: the installed one, but when it was read from a newest record that
/// is not deployed (a failed or pending upgrade), the chart of the revision still deployed.
pub fn serving(installed: &InstalledVersion, record: Option<&ReleaseRecord>) -> InstalledVersion {
    let from_record = installed.source.starts_with("chart ");
    let deployed = record.filter(|record| from_record && record.status != "deployed").and_then(|record| {
        let chart = record.deployed_chart_version.as_deref()?;
        let version = ServerVersion::parse(chart)?;
        let source = format!(
            "chart {SERVER_CHART} {chart} of revision {} of release {}, still deployed: revision {} ({}) is {}",
            record.deployed_revision?, record.name, record.revision, record.chart_version, record.status
        );
        Some(InstalledVersion { lookup: versions::lookup(version), source })
    });
    deployed.unwrap_or_else(|| installed.clone())
}

/// Pass when `installed` may be upgraded to the target with one `helm upgrade`.
pub fn judge_path(installed: &InstalledVersion, target: &UpgradeTarget) -> Verdict {
    let version = installed.lookup.version;
    let to = target.version;
    let read = format!("server {version} runs (read from {})", installed.source);
    match upgrades::path(version, to, &target.table) {
        Path::AlreadyThere => Verdict::Pass(format!(
            "{read}: it is the target already, nothing to upgrade; the other checks judge it as {to} requires"
        )),
        Path::Direct if version.minor_release() == to.minor_release() => Verdict::Pass(format!(
            "{read}: `helm upgrade --version {to}` is a patch upgrade within {}.{}",
            to.major, to.minor
        )),
        Path::Direct => Verdict::Pass(format!(
            "{read}: `helm upgrade --version {to}` is a supported upgrade from it ({})",
            match target.table.latest(version.minor_release()) {
                _ if to.minor_release() == (4, 7) => format!("4.7 takes 4.3 – 4.6 directly; {}", target.table.source()),
                Some(last) =>
                    format!("{last} is the last patch of {}.{}; {}", last.major, last.minor, target.table.source()),
                None => target.table.source(),
            }
        )),
        Path::Steps(steps) => {
            let route = Route { from: version, steps: &steps };
            let first = steps[0];
            Verdict::Fail(
                Diagnosis::new(format!("server {version} cannot be upgraded to {to} directly: {route}"))
                    .observed(read)
                    .observed(target.table.source())
                    .because(SKIPS_RELEASES.with(&[("route", &route), ("first", &first)]))
                    .phase(&phase::HELM_INSTALL),
            )
        }
        Path::Downgrade => Verdict::Fail(
            Diagnosis::new(format!("{to} is older than server {version}, which runs: that is a downgrade"))
                .observed(read)
                .because(&DOWNGRADE)
                .phase(&phase::HELM_INSTALL),
        ),
        Path::Broken { why, instead } => {
            let instead = instead.map_or_else(|| "the minor version's last patch".to_string(), |v| v.to_string());
            Verdict::Fail(
                Diagnosis::new(format!("{to} is not a release to upgrade to"))
                    .observed(read)
                    .because(BROKEN_TARGET.with(&[("why", &why), ("instead", &instead)]))
                    .phase(&phase::HELM_INSTALL),
            )
        }
        Path::PatchUnknown { needed } => Verdict::Skip(SkipReason::NotConfigured(format!(
            "the installed patch is unknown (server {version}, read from {}), and the upgrade to {to} must start from {needed}: set server_version (or --server-version) to the full version, like {needed}",
            installed.source
        ))),
        Path::MinorUnknown { minor: (major, minor) } => Verdict::Skip(SkipReason::NotConfigured(format!(
            "the path from {version} to {to} goes through {major}.{minor}, whose last patch realitycheck does not know ({}): add it to upgrade.latest_patches",
            target.table.source()
        ))),
    }
}

/// Pass when `kubernetes` is within the target's supported range; else which to upgrade first.
pub fn judge_kubernetes(
    installed: &InstalledVersion,
    target: &UpgradeTarget,
    kubernetes: KubernetesVersion,
) -> Verdict {
    let to = versions::lookup(target.version);
    let (target_range, installed_range) = (to.release.kubernetes, installed.lookup.release.kubernetes);
    let fit = match to.fit {
        versions::Fit::Own => String::new(),
        _ => format!(" ({})", to.describe()),
    };
    if target_range.contains(kubernetes) {
        return Verdict::Pass(format!(
            "Kubernetes {kubernetes} is within {target_range}, which server {}{fit} supports; server {} supports {installed_range}",
            target.version, installed.lookup.version
        ));
    }
    let values: Values<'_> = &[
        ("target", &target.version),
        ("target_range", &target_range),
        ("kubernetes", &kubernetes),
        ("installed", &installed.lookup.version),
        ("installed_range", &installed_range),
        ("newest", &target_range.newest),
        ("kubernetes_target", &target_range.oldest),
    ];
    let same_minor = installed.lookup.version.minor_release() == target.version.minor_release();
    let cause = if kubernetes > target_range.newest {
        KUBERNETES_NEWER_THAN_TARGET.with(values)
    } else if same_minor {
        KUBERNETES_BELOW_RUNNING.with(values)
    } else if installed_range.newest >= target_range.oldest {
        KUBERNETES_FIRST.with(values)
    } else {
        KUBERNETES_BETWEEN.with(values)
    };
    Verdict::Fail(
        Diagnosis::new(format!(
            "Kubernetes {kubernetes} is outside {target_range}, the versions server {} supports",
            target.version
        ))
        .observed(format!(
            "server {} runs (read from {}), which supports {installed_range}",
            installed.lookup.version, installed.source
        ))
        .because(cause)
        .phase(&phase::KUBERNETES_CLUSTER),
    )
}

/// Pass when the release's given values hold no key the target renamed or removed; the plan's
/// note on the workflow retention when the upgrade crosses 4.10.
pub fn judge_values(record: &ReleaseRecord, installed: Option<ServerVersion>, target: &UpgradeTarget) -> Verdict {
    let to = target.version.minor_release();
    let applicable: Vec<_> = VALUES_CHANGES.iter().filter(|change| change.since <= to).collect();
    let found: Vec<(String, &upgrades::ValuesChange)> = record
        .given_keys
        .iter()
        .filter_map(|key| Some((key.clone(), *applicable.iter().find(|change| change.covers(key))?)))
        .collect();
    let crosses_retention = installed.is_none_or(|v| v.minor_release() < RETENTION_RENAMED) && to >= RETENTION_RENAMED;
    let retention = crosses_retention.then_some(RETENTION_NOTE);
    if found.is_empty() {
        let mut note = format!(
            "none of the {} keys given in release {}'s values is one that server {} or an earlier release renamed or removed",
            record.given_keys.len(),
            record.name,
            target.version
        );
        if let Some(retention) = retention {
            note.push_str(&format!("; {retention}"));
        }
        return Verdict::Pass(note);
    }
    let observed: Vec<String> = found
        .iter()
        .map(|(key, change)| match change.replacement {
            Some(replacement) => {
                format!("`{key}`: renamed `{replacement}` in {} ({})", change.release(), change.what_to_do)
            }
            None => format!("`{key}`: removed in {} ({})", change.release(), change.what_to_do),
        })
        .collect();
    let mut fixes: Vec<String> = Vec::new();
    for (_, change) in &found {
        let fix = format!("`{}`: {}", change.key, change.what_to_do);
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    let fixes = fixes.join("; ");
    Verdict::Fail(
        Diagnosis::new(format!(
            "{} key(s) of release {}'s values are renamed or removed by server {}",
            found.len(),
            record.name,
            target.version
        ))
        .observed_all(observed)
        .observed_all(retention.map(|note| format!("also: {note}")))
        .because(RENAMED_VALUES.with(&[("fixes", &fixes)]))
        .phase(&phase::HELM_INSTALL),
    )
}

/// What the installation's data stores are, as the upgrade judges them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStores {
    pub namespace: String,
    pub mongodb: MongoDb,
    pub encryption: Encryption,
}

/// The MongoDB the services use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MongoDb {
    /// The chart's StatefulSet runs this image, whose tag names the version.
    InCluster { statefulset: String, image: String, version: (u32, u32, u32) },
    /// The `upgrade.mongodb_version` setting gives the version realitycheck cannot read (`why`).
    Stated { version: (u32, u32, u32), why: String },
    /// Nothing gives the version (`why`); `external` when the release uses a MongoDB outside the
    /// chart (`mongodb.internal: false`), which is expected, not a fault.
    Unknown { why: String, external: bool },
}

/// How contexts' secrets are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// `tink.enabled: true`.
    Tink,
    /// Vault: `tink.enabled` is not true; `workload` is Vault's StatefulSet, if it runs.
    Vault { workload: Option<String> },
}

/// The label the chart's MongoDB StatefulSet carries.
const MONGODB_LABEL: (&str, &str) = ("app.kubernetes.io/name", "mongodb");

impl DataStores {
    /// The data stores of `record`'s values and the StatefulSets `sets` of `namespace`;
    /// `stated_mongodb` is the `upgrade.mongodb_version` setting.
    pub fn read(
        namespace: &str,
        record: &ReleaseRecord,
        sets: &[StatefulSet],
        stated_mongodb: Option<&str>,
    ) -> DataStores {
        let labelled = |set: &&StatefulSet, (key, value): (&str, &str)| {
            set.metadata.labels.as_ref().and_then(|labels| labels.get(key)).is_some_and(|v| v == value)
        };
        let name = |set: &StatefulSet| set.metadata.name.clone().unwrap_or_default();
        let external = record.mongodb_internal == Some(false);
        let found = match sets.iter().find(|set| labelled(set, MONGODB_LABEL) || name(set) == "mongodb") {
            _ if external => Err(
                "the release uses a MongoDB outside the chart (mongodb.internal: false), which realitycheck cannot read"
                    .to_string(),
            ),
            None => Err(format!("the release runs the chart's MongoDB, and namespace {namespace} has no MongoDB StatefulSet")),
            Some(set) => {
                let image = container_image(set, "mongodb").unwrap_or_default();
                match image_version(&image) {
                    Some(version) => Ok(MongoDb::InCluster { statefulset: name(set), image, version }),
                    None => Err(format!("the image of StatefulSet {} ({image}) names no version", name(set))),
                }
            }
        };
        let mongodb = found.unwrap_or_else(|why| match stated_mongodb.and_then(version_of) {
            Some(version) => MongoDb::Stated { version, why },
            None => MongoDb::Unknown { why, external },
        });
        let encryption = match record.tink_enabled {
            Some(true) => Encryption::Tink,
            _ => Encryption::Vault {
                workload: sets
                    .iter()
                    .find(|set| labelled(set, ("app", "vault")) || name(set).contains("vault"))
                    .map(name),
            },
        };
        DataStores { namespace: namespace.to_string(), mongodb, encryption }
    }
}

/// The image of container `name` of `set` (else its first container).
fn container_image(set: &StatefulSet, name: &str) -> Option<String> {
    let containers = &set.spec.template.spec.as_ref()?.containers;
    let container = containers.iter().find(|c| c.name == name).or_else(|| containers.first())?;
    container.image.clone()
}

/// The version at the start of an image's tag: `…/server-mongodb:4.4.15-debian-10-r8` is
/// 4.4.15; `None` for a digest or a tag that does not start with one.
pub fn image_version(image: &str) -> Option<(u32, u32, u32)> {
    let last = image.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    version_of(tag.split('@').next()?)
}

/// Pass when the MongoDB is as new as the target needs and contexts use Tink where the target's
/// guide requires it.
pub fn judge_data_stores(stores: &DataStores, target: &UpgradeTarget) -> Verdict {
    let row = upgrades::minor_of(target.version);
    let minimum = row.and_then(|row| row.mongodb_minimum);
    let tink = row.map_or(TinkMigration::NotAsked, |row| row.tink);
    let namespace = stores.namespace.as_str();
    let shown = |(major, minor, patch): (u32, u32, u32)| format!("{major}.{minor}.{patch}");
    let mut notes = Vec::new();
    let mut failures: Vec<(String, Vec<String>, super::cause::Stated)> = Vec::new();
    let mongodb_version = match &stores.mongodb {
        MongoDb::InCluster { statefulset, image, version } => {
            notes.push(format!("MongoDB {} (StatefulSet {statefulset}, image {image})", shown(*version)));
            Ok(*version)
        }
        MongoDb::Stated { version, why } => {
            notes.push(format!("MongoDB {} as upgrade.mongodb_version states it ({why})", shown(*version)));
            Ok(*version)
        }
        MongoDb::Unknown { why, .. } => Err(why.clone()),
    };
    match (minimum, &mongodb_version) {
        (Some((major, minor)), Ok(version)) if (version.0, version.1) < (major, minor) => {
            let minimum = format!("{major}.{minor}");
            failures.push((
                format!("MongoDB {} is older than {minimum}, which server {} needs", shown(*version), target.version),
                notes.clone(),
                MONGODB_TOO_OLD.with(&[("target", &target.version), ("minimum", &minimum)]),
            ));
        }
        (Some((major, minor)), Err(why)) if matches!(stores.mongodb, MongoDb::Unknown { external: false, .. }) => {
            failures.push((
                format!(
                    "the MongoDB version cannot be read, and server {} needs {major}.{minor} or later",
                    target.version
                ),
                vec![why.clone()],
                MONGODB_UNREADABLE.with(&[("namespace", &namespace)]),
            ))
        }
        _ => {}
    }
    match (&stores.encryption, tink) {
        (Encryption::Tink, _) => notes.push("contexts encrypted with Tink".into()),
        (Encryption::Vault { workload }, TinkMigration::Required) => failures.push((
            format!("contexts are encrypted with Vault, and server {}'s upgrade guide requires Tink first", target.version),
            vec![match workload {
                Some(set) => format!("tink.enabled is not true in the release's values; StatefulSet {set} runs"),
                None => "tink.enabled is not true in the release's values".to_string(),
            }],
            VAULT_NOT_MIGRATED.with(&[("target", &target.version)]),
        )),
        (Encryption::Vault { .. }, TinkMigration::Recommended) => notes.push(format!(
            "contexts are encrypted with Vault: server {}'s guide recommends migrating to Tink (server-scripts' vault-to-tink) before the backup",
            target.version
        )),
        (Encryption::Vault { .. }, TinkMigration::NotAsked) => notes.push("contexts encrypted with Vault".into()),
    }
    if let Some((summary, observed, cause)) = failures.first().cloned() {
        let mut diagnosis = Diagnosis::new(summary).observed_all(observed);
        for (summary, observed, _) in failures.iter().skip(1) {
            diagnosis = diagnosis.observed(format!("also: {summary}")).observed_all(observed.clone());
        }
        return Verdict::Fail(
            diagnosis
                .because_all(std::iter::once(cause).chain(failures.into_iter().skip(1).map(|(_, _, c)| c)))
                .phase(&phase::DATA_STORES),
        );
    }
    match (minimum, mongodb_version) {
        (Some((major, minor)), Err(why)) => Verdict::Skip(SkipReason::NotConfigured(format!(
            "{why}; server {} needs MongoDB {major}.{minor} or later: give its version in upgrade.mongodb_version (or --mongodb-version){}",
            target.version,
            notes.iter().map(|n| format!("; {n}")).collect::<String>()
        ))),
        (minimum, _) => {
            let need = minimum.map_or_else(
                || format!("server {} asks no MongoDB migration", target.version),
                |(major, minor)| format!("server {} needs MongoDB {major}.{minor} or later", target.version),
            );
            Verdict::Pass(format!("{}; {need}", notes.join(", ")))
        }
    }
}

/// Pass when no Docker client runs Docker 29 or later or cgroups v2; the note says what the
/// target's Terraform module installs and which tag to move the modules to.
pub fn judge_clients(nodes: &[Node], details: &[NodeDetail], target: &UpgradeTarget, servers_outside: bool) -> Verdict {
    let usable = nodes.iter().filter(|node| unusable_because(node).is_none()).count();
    if nodes.is_empty() || usable == 0 {
        return Verdict::Skip(SkipReason::NotApplicable(format!(
            "no Nomad client is ready to be judged ({} registered): nomad::clients_ready (`realitycheck run`) says why",
            nodes.len()
        )));
    }
    let row = upgrades::minor_of(target.version);
    let modules = if servers_outside { "nomad-client and nomad-server modules" } else { "nomad-client module" };
    let move_to = match row.and_then(|row| row.terraform_tag) {
        Some(tag) => format!("move the {modules} to server-terraform tag {tag} before the upgrade"),
        None => format!(
            "move the {modules} to the server-terraform release that server {}.{}'s upgrade guide links (server-terraform had no tag of it as of {})",
            target.version.major,
            target.version.minor,
            upgrades::TERRAFORM_AS_OF
        ),
    };
    let mut running: Vec<&str> = details.iter().filter_map(|d| d.nomad_version.as_deref()).collect();
    running.sort_unstable();
    running.dedup();
    let nomad = match (row.and_then(|row| row.terraform_nomad), running.as_slice()) {
        (Some(expected), [only]) if only.trim_start_matches('v').starts_with(expected) => {
            format!("they run Nomad {only}, what the module installs")
        }
        (Some(expected), []) => format!("the module installs Nomad {expected}"),
        (Some(expected), running) => format!(
            "they run Nomad {}; the module installs {expected}, replacing the clients when applied",
            running.join(" and ")
        ),
        (None, []) => String::new(),
        (None, running) => format!("they run Nomad {}", running.join(" and ")),
    };
    if let Some(diagnosis) = unsupported_runtime(nodes, details) {
        let installs = match row.and_then(|row| row.terraform_nomad) {
            Some(_) => format!(
                "server {}'s Terraform module installs Docker CE 28.1.1 with cgroups v1 (or Podman, from 4.10)",
                target.version
            ),
            None => format!("server {}'s Terraform module", target.version),
        };
        return Verdict::Fail(diagnosis.observed(format!("{installs}: {move_to}")));
    }
    let nomad = if nomad.is_empty() { String::new() } else { format!("; {nomad}") };
    let clients = if usable == 1 { "1 client".to_string() } else { format!("{usable} clients") };
    Verdict::Pass(format!("{clients} ready{}{nomad}; {move_to}", runtime_note(details)))
}

/// Pass when a completed backup of `namespace` in `velero_namespace` is at most `max_age` old
/// at `now`; a skip, not a red, when Velero is not installed (`None`).
pub fn judge_backup(
    backups: Option<&[Backup]>,
    namespace: &str,
    velero_namespace: &str,
    max_age: Duration,
    now: Timestamp,
) -> Verdict {
    let Some(backups) = backups else {
        return Verdict::Skip(SkipReason::NotApplicable(format!(
            "Velero is not installed (the API server serves no backups.velero.io): realitycheck cannot verify a backup; take one with the tool you use, holding namespace {namespace} and its volumes, before the upgrade"
        )));
    };
    let age = |at: Timestamp| Duration::from_secs(u64::try_from(now.as_second() - at.as_second()).unwrap_or(0));
    let ago = |at: Timestamp| format!("{} ago", harness::humanize(age(at)));
    let covering: Vec<&Backup> = backups.iter().filter(|backup| backup.covers(namespace)).collect();
    let newest_completed = covering
        .iter()
        .filter(|backup| backup.phase == "Completed")
        .filter_map(|backup| Some((*backup, backup.completed?)))
        .max_by_key(|(_, completed)| *completed);
    if let Some((backup, completed)) = newest_completed.filter(|(_, completed)| age(*completed) <= max_age) {
        return Verdict::Pass(format!(
            "Velero backup {} of namespace {namespace} completed {} (at most {} old); restore in place with `velero restore create --from-backup {}` should the upgrade fail",
            backup.name,
            ago(completed),
            harness::humanize(max_age),
            backup.name
        ));
    }
    let mut observed = vec![match newest_completed {
        Some((backup, completed)) => {
            format!("newest completed backup of {namespace}: {} ({})", backup.name, ago(completed))
        }
        None => {
            format!("no completed backup of {namespace} among the {} in namespace {velero_namespace}", backups.len())
        }
    }];
    let newer_failures = covering.iter().filter(|backup| {
        backup.phase != "Completed"
            && newest_completed.is_none_or(|(_, completed)| backup.started.is_some_and(|s| s > completed))
    });
    observed.extend(newer_failures.take(3).map(|backup| {
        let when = backup.started.map_or_else(String::new, |started| format!(", started {}", ago(started)));
        let phase = if backup.phase.is_empty() { "New" } else { backup.phase.as_str() };
        format!("backup {}: {phase}{when} (`velero backup describe {} --details` says why)", backup.name, backup.name)
    }));
    let max_age_shown = harness::humanize(max_age);
    Verdict::Fail(
        Diagnosis::new(format!("no completed Velero backup of namespace {namespace} in the last {max_age_shown}"))
            .observed_all(observed)
            .because(NO_RECENT_BACKUP.with(&[("namespace", &namespace), ("max_age", &max_age_shown)]))
            .phase(&phase::BACKUP),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::nomad::nodes::Driver;

    fn installed(version: &str) -> InstalledVersion {
        let version = ServerVersion::parse(version).unwrap();
        InstalledVersion { lookup: versions::lookup(version), source: "chart circleci-server".into() }
    }

    fn to(version: &str) -> UpgradeTarget {
        UpgradeTarget::resolve(Some(version), &[]).unwrap()
    }

    fn failed(verdict: Verdict) -> Diagnosis {
        match verdict {
            Verdict::Fail(diagnosis) => diagnosis,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn passed(verdict: Verdict) -> String {
        match verdict {
            Verdict::Pass(note) => note,
            other => panic!("expected a pass, got {other:?}"),
        }
    }

    #[test]
    fn the_path_names_every_step_when_the_upgrade_skips_one() {
        let diagnosis = failed(judge_path(&installed("4.8.3"), &to("4.10")));
        assert_eq!(
            diagnosis.summary,
            "server 4.8.3 cannot be upgraded to 4.10.0 directly: 4.8.3 → 4.8.12 → 4.9.5 → 4.10.0"
        );
        let fix = diagnosis.remediation;
        assert!(fix.contains("`realitycheck upgrade-check --to 4.8.12`"), "{fix}");
        assert!(passed(judge_path(&installed("4.9.5"), &to("4.10"))).contains("supported upgrade"));
        assert!(passed(judge_path(&installed("4.10.0"), &to("4.10"))).contains("nothing to upgrade"));
        assert!(passed(judge_path(&installed("4.10.0"), &to("4.10.1"))).contains("patch upgrade within 4.10"));
        assert!(failed(judge_path(&installed("4.10.0"), &to("4.9"))).summary.contains("downgrade"));
        assert!(failed(judge_path(&installed("4.6.6"), &to("4.7.7"))).remediation.contains("4.7.15"));
        let Verdict::Skip(SkipReason::NotConfigured(why)) = judge_path(&installed("4.9"), &to("4.10")) else {
            panic!("an unknown patch is said")
        };
        assert!(why.contains("like 4.9.5"), "{why}");
    }

    #[test]
    fn a_failed_upgrade_s_path_starts_from_the_revision_still_deployed() {
        let failed_upgrade = ReleaseRecord {
            name: "circleci-server".into(),
            revision: 3,
            status: "failed".into(),
            chart_version: "4.10.1".into(),
            deployed_revision: Some(2),
            deployed_chart_version: Some("4.10.0".into()),
            ..Default::default()
        };
        let read = InstalledVersion {
            source: "chart circleci-server 4.10.1 of release circleci-server".into(),
            ..installed("4.10.1")
        };
        let serving = serving(&read, Some(&failed_upgrade));
        assert_eq!(serving.lookup.version, ServerVersion::parse("4.10.0").unwrap());
        assert!(
            serving
                .source
                .contains("revision 2 of release circleci-server, still deployed: revision 3 (4.10.1) is failed"),
            "{}",
            serving.source
        );
        assert!(passed(judge_path(&serving, &to("4.10.1"))).contains("patch upgrade within 4.10"));
        let set = InstalledVersion { source: "the server_version setting".into(), ..installed("4.10.1") };
        assert_eq!(super::serving(&set, Some(&failed_upgrade)), set, "the setting beats the records");
    }

    #[test]
    fn kubernetes_says_which_to_upgrade_first() {
        let k = |minor| KubernetesVersion { major: 1, minor };
        assert!(passed(judge_kubernetes(&installed("4.9.5"), &to("4.10"), k(34))).contains("within 1.33 – 1.35"));
        let first = failed(judge_kubernetes(&installed("4.7.15"), &to("4.8"), k(32)));
        assert!(first.remediation.starts_with("upgrade Kubernetes first"), "{first:?}");
        assert!(first.remediation.contains("to 1.33"), "{first:?}");
        let between = failed(judge_kubernetes(&installed("4.4.7"), &to("4.10"), k(29)));
        assert!(between.cause.contains("no Kubernetes version suits both"), "{between:?}");
        let running = failed(judge_kubernetes(&installed("4.10.0"), &to("4.10.1"), k(32)));
        assert!(running.cause.contains("which runs already"), "{running:?}");
        let newer = failed(judge_kubernetes(&installed("4.9.5"), &to("4.10"), k(36)));
        assert!(newer.cause.contains("up to 1.35"), "{newer:?}");
    }

    fn record(keys: &[&str]) -> ReleaseRecord {
        ReleaseRecord {
            name: "circleci-server".into(),
            chart: SERVER_CHART.into(),
            given_keys: keys.iter().map(|k| k.to_string()).collect(),
            tink_enabled: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn renamed_and_removed_values_are_named_with_what_replaces_them() {
        let given = record(&[
            "global.domainName",
            "machine_provisioner.machine_agent_base_url",
            "telegraf.custom_config",
            "global.tracing.enabled",
            "unknown.key",
        ]);
        let installed = ServerVersion::parse("4.9.5");
        let diagnosis = failed(judge_values(&given, installed, &to("4.10")));
        assert!(diagnosis.summary.starts_with("3 key(s)"), "{diagnosis:?}");
        let observed = diagnosis.observed.join("\n");
        assert!(
            observed.contains(
                "`machine_provisioner.machine_agent_base_url`: renamed `machine_provisioner.agent_base_url` in 4.7"
            ),
            "{observed}"
        );
        assert!(observed.contains("`telegraf.custom_config`: removed in 4.10"), "{observed}");
        assert!(observed.contains("also: after the upgrade, re-apply a custom workflow retention"), "{observed}");
        assert!(!observed.contains("unknown.key"), "unknown keys are not red");
        let to_4_9 = failed(judge_values(&given, ServerVersion::parse("4.8.12"), &to("4.9")));
        assert!(to_4_9.summary.starts_with("2 key(s)"), "telegraf stays until 4.10: {to_4_9:?}");
        assert!(!to_4_9.observed.join(" ").contains("retention"), "4.9 keeps the retention key");
        let clean = passed(judge_values(&record(&["global.domainName"]), installed, &to("4.10")));
        assert!(clean.contains("none of the 1 keys") && clean.contains("re-apply"), "{clean}");
        let already = passed(judge_values(&record(&[]), ServerVersion::parse("4.10.0"), &to("4.10.1")));
        assert!(!already.contains("re-apply"), "{already}");
    }

    fn statefulset(name: &str, labels: serde_json::Value, image: &str) -> StatefulSet {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "circleci-server", "labels": labels},
            "spec": {"selector": {}, "serviceName": name, "template": {"spec": {"containers": [{"name": name, "image": image}]}}}
        }))
        .unwrap()
    }

    fn mongodb(tag: &str) -> StatefulSet {
        statefulset(
            "mongodb",
            serde_json::json!({"app.kubernetes.io/name": "mongodb"}),
            &format!("cciserver.azurecr.io/server-mongodb:{tag}"),
        )
    }

    #[test]
    fn the_running_mongodb_image_decides_not_the_chart() {
        let stores = DataStores::read("circleci-server", &record(&[]), &[mongodb("4.4.15-debian-10-r8")], None);
        assert_eq!(stores.namespace, "circleci-server");
        let diagnosis = failed(judge_data_stores(&stores, &to("4.10")));
        assert_eq!(diagnosis.summary, "MongoDB 4.4.15 is older than 7.0, which server 4.10.0 needs");
        assert!(diagnosis.remediation.contains("migrate MongoDB to 7.0"));
        let note = passed(judge_data_stores(&stores, &to("4.9")));
        assert!(note.contains("MongoDB 4.4.15 (StatefulSet mongodb") && note.contains("Tink"), "{note}");
        let ready = DataStores::read("circleci-server", &record(&[]), &[mongodb("7.0.15-debian-12-r2")], None);
        assert!(passed(judge_data_stores(&ready, &to("4.10"))).contains("needs MongoDB 7.0 or later"));
        assert_eq!(image_version("registry.local:5000/mongo@sha256:abc"), None);
        assert_eq!(image_version("registry.local:5000/server-mongodb:7.0.15-debian-12-r2"), Some((7, 0, 15)));
    }

    #[test]
    fn an_external_mongodb_is_stated_or_cannot_be_told() {
        let mut external = record(&[]);
        external.mongodb_internal = Some(false);
        let unknown = DataStores::read("circleci-server", &external, &[], None);
        let Verdict::Skip(SkipReason::NotConfigured(why)) = judge_data_stores(&unknown, &to("4.10")) else {
            panic!("cannot tell")
        };
        assert!(why.contains("upgrade.mongodb_version"), "{why}");
        let stated = DataStores::read("circleci-server", &external, &[], Some("6.0.4"));
        assert!(failed(judge_data_stores(&stated, &to("4.10"))).summary.contains("MongoDB 6.0.4 is older than 7.0"));
        let missing = DataStores::read("circleci-server", &record(&[]), &[], None);
        let diagnosis = failed(judge_data_stores(&missing, &to("4.10")));
        assert!(diagnosis.summary.contains("cannot be read"), "{diagnosis:?}");
        assert!(diagnosis.remediation.contains("kubectl -n circleci-server get statefulsets"), "{diagnosis:?}");
        let digest =
            statefulset("mongodb", serde_json::json!({"app.kubernetes.io/name": "mongodb"}), "mongo@sha256:abc");
        let stated = DataStores::read("circleci-server", &record(&[]), &[digest], Some("7.0.12"));
        let note = passed(judge_data_stores(&stated, &to("4.10")));
        assert!(
            note.contains("MongoDB 7.0.12 as upgrade.mongodb_version states it (the image of StatefulSet mongodb"),
            "{note}"
        );
        let running =
            DataStores::read("circleci-server", &record(&[]), &[mongodb("4.4.15-debian-10-r8")], Some("7.0.12"));
        assert!(
            matches!(judge_data_stores(&running, &to("4.10")), Verdict::Fail(_)),
            "the running image beats the setting"
        );
    }

    #[test]
    fn vault_must_be_migrated_before_4_9_and_should_be_before_4_7() {
        let mut vault = record(&[]);
        vault.tink_enabled = Some(false);
        let sets =
            [mongodb("7.0.15-debian-12-r2"), statefulset("vault", serde_json::json!({"app": "vault"}), "vault:1.13")];
        let stores = DataStores::read("circleci-server", &vault, &sets, None);
        assert_eq!(stores.encryption, Encryption::Vault { workload: Some("vault".into()) });
        let diagnosis = failed(judge_data_stores(&stores, &to("4.10")));
        assert!(diagnosis.summary.contains("Vault") && diagnosis.observed.join(" ").contains("StatefulSet vault runs"));
        let older = DataStores::read("circleci-server", &vault, &[mongodb("3.6.22-debian-9-r38")], None);
        let both = failed(judge_data_stores(&older, &to("4.10")));
        assert!(
            both.observed.iter().any(|line| line.starts_with("also: contexts are encrypted with Vault")),
            "{both:?}"
        );
        let note = passed(judge_data_stores(&DataStores::read("circleci-server", &vault, &sets, None), &to("4.8")));
        assert!(note.contains("recommends migrating to Tink"), "{note}");
    }

    fn node(name: &str, docker: Driver) -> Node {
        Node {
            id: format!("{name}-0000-0000"),
            name: name.into(),
            status: "ready".into(),
            eligibility: "eligible".into(),
            drain: false,
            class: String::new(),
            pool: "default".into(),
            raw_exec: Driver::Healthy,
            docker,
            version: "1.7.7".into(),
        }
    }

    fn detail(node: &Node, docker: &str, cgroups: &str) -> NodeDetail {
        NodeDetail {
            id: node.id.clone(),
            name: node.name.clone(),
            nomad_version: Some("1.7.7".into()),
            docker_version: Some(docker.into()),
            cgroups_version: Some(cgroups.into()),
            ..NodeDetail::default()
        }
    }

    #[test]
    fn clients_with_docker_29_or_cgroups_v2_are_red_with_the_module_to_move_to() {
        let (a, b) = (node("client-a", Driver::Healthy), node("client-b", Driver::Healthy));
        let good = [detail(&a, "28.1.1", "1"), detail(&b, "28.1.1", "1")];
        let note = passed(judge_clients(&[a.clone(), b.clone()], &good, &to("4.9"), false));
        assert!(note.contains("server-terraform tag 4.9.1") && note.contains("what the module installs"), "{note}");
        let outside = passed(judge_clients(&[a.clone(), b.clone()], &good, &to("4.10"), true));
        assert!(outside.contains("nomad-client and nomad-server modules"), "{outside}");
        let bad = [detail(&a, "29.0.1", "1"), detail(&b, "28.1.1", "2")];
        let diagnosis = failed(judge_clients(&[a.clone(), b.clone()], &bad, &to("4.10"), false));
        assert!(diagnosis.summary.contains("Docker 29 or newer, cgroups v2"), "{diagnosis:?}");
        assert!(diagnosis.observed.iter().any(|line| line.contains("Docker CE 28.1.1")), "{diagnosis:?}");
        let podman = node("podman", Driver::NotDetected);
        assert!(matches!(
            judge_clients(std::slice::from_ref(&podman), &[detail(&podman, "", "2")], &to("4.10"), false),
            Verdict::Pass(_)
        ));
        assert!(matches!(judge_clients(&[], &[], &to("4.10"), false), Verdict::Skip(SkipReason::NotApplicable(_))));
    }

    fn backup(name: &str, phase: &str, completed: Option<&str>, started: &str, namespaces: &[&str]) -> Backup {
        Backup {
            name: name.into(),
            included_namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            excluded_namespaces: Vec::new(),
            phase: phase.into(),
            completed: completed.map(|t| t.parse().unwrap()),
            started: Some(started.parse().unwrap()),
        }
    }

    #[test]
    fn a_recent_completed_backup_of_the_namespace_passes() {
        let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
        let day = Duration::from_secs(24 * 3600);
        let fresh = [
            backup(
                "daily-1207",
                "Completed",
                Some("2026-12-07T10:05:00Z"),
                "2026-12-07T10:00:00Z",
                &["circleci-server"],
            ),
            backup("other", "Completed", Some("2026-12-07T11:05:00Z"), "2026-12-07T11:00:00Z", &["monitoring"]),
        ];
        let note = passed(judge_backup(Some(&fresh), "circleci-server", "velero", day, now));
        assert!(
            note.starts_with("Velero backup daily-1207 of namespace circleci-server completed 1h 55m ago"),
            "{note}"
        );
        assert!(note.contains("velero restore create --from-backup daily-1207"), "{note}");
        let stale = [
            backup("daily-1206", "Failed", None, "2026-12-06T10:00:00Z", &["circleci-server"]),
            backup(
                "daily-1204",
                "Completed",
                Some("2026-12-04T10:05:00Z"),
                "2026-12-04T10:00:00Z",
                &["circleci-server"],
            ),
        ];
        let diagnosis = failed(judge_backup(Some(&stale), "circleci-server", "velero", day, now));
        assert_eq!(diagnosis.summary, "no completed Velero backup of namespace circleci-server in the last 1d");
        assert!(diagnosis.observed[0].contains("daily-1204 (3d 1h ago)"), "{diagnosis:?}");
        assert!(diagnosis.observed[1].contains("daily-1206: Failed"), "{diagnosis:?}");
        assert!(diagnosis.remediation.contains("--include-namespaces circleci-server"));
        assert!(
            failed(judge_backup(Some(&[]), "circleci-server", "velero", day, now)).observed[0]
                .contains("no completed backup")
        );
        assert!(matches!(
            judge_backup(None, "circleci-server", "velero", day, now),
            Verdict::Skip(SkipReason::NotApplicable(_))
        ));
    }
}
