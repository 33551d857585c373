//! The StatefulSets of the release (its data stores and, in the cluster, the Nomad servers) and
//! how each renders as an `apps/v1` StatefulSet, its status counted from the pods it selects.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use crate::pods::{PodHealth, RELEASE_AGE, ReleasePod};
use crate::{NAMESPACE, ids};

/// One StatefulSet of the release, running one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseStatefulSet {
    pub name: String,
    /// The one label of `spec.selector.matchLabels`.
    pub selector: (String, String),
    /// The labels of the StatefulSet and of its pod template.
    pub labels: BTreeMap<String, String>,
    pub container: String,
    /// The image of the pod template's container.
    pub image: String,
    /// `spec.replicas`.
    pub replicas: u8,
    /// `metadata.generation`: one more for each change of the spec since the install.
    pub generation: i64,
    pub resource_version: u64,
}

impl ReleaseStatefulSet {
    /// Whether the StatefulSet selects `pod`.
    pub fn selects(&self, pod: &ReleasePod) -> bool {
        pod.label(&self.selector.0) == Some(self.selector.1.as_str())
    }

    /// The value of label `key`, if the StatefulSet has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The StatefulSet as the Kubernetes API serves it: created with the release, relative to
    /// `started_at`; its status counts `pods` it selects (ready, and on its template's image),
    /// omitting the counts that are zero as the API server does (all but `replicas` and
    /// `availableReplicas`, which it always sends).
    pub fn to_statefulset(&self, pods: &[ReleasePod], started_at: Timestamp) -> StatefulSet {
        let selected: Vec<&ReleasePod> = pods.iter().filter(|pod| self.selects(pod)).collect();
        let count = |predicate: &dyn Fn(&ReleasePod) -> bool| {
            i32::try_from(selected.iter().filter(|pod| predicate(pod)).count()).unwrap_or(i32::MAX)
        };
        let replicas = count(&|_| true);
        let ready = count(&|pod| pod.health == PodHealth::Ready);
        let updated = count(&|pod| pod.image == self.image);
        // Pods on another image than the template's are those of the revision not rolled yet.
        let current_image = selected.iter().find(|pod| pod.image != self.image).map_or(&self.image, |pod| &pod.image);
        let current = if updated == replicas { replicas } else { replicas - updated };
        let nonzero = |value: i32| (value > 0).then_some(value);
        StatefulSet {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(NAMESPACE.to_owned()),
                uid: Some(ids::uuid(&format!("statefulset/{}", self.name))),
                resource_version: Some(self.resource_version.to_string()),
                generation: Some(self.generation),
                creation_timestamp: Some(Time(started_at - RELEASE_AGE)),
                labels: Some(self.labels.clone()),
                ..ObjectMeta::default()
            },
            spec: StatefulSetSpec {
                replicas: Some(i32::from(self.replicas)),
                selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([self.selector.clone()])),
                    ..LabelSelector::default()
                },
                service_name: Some(self.name.clone()),
                pod_management_policy: Some("OrderedReady".to_owned()),
                revision_history_limit: Some(10),
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(0),
                        ..RollingUpdateStatefulSetStrategy::default()
                    }),
                }),
                persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                }),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(self.labels.clone()), ..ObjectMeta::default() }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: self.container.clone(),
                            image: Some(self.image.clone()),
                            image_pull_policy: Some("IfNotPresent".to_owned()),
                            ..Container::default()
                        }],
                        restart_policy: Some("Always".to_owned()),
                        ..PodSpec::default()
                    }),
                },
                ..StatefulSetSpec::default()
            },
            status: Some(StatefulSetStatus {
                observed_generation: Some(self.generation),
                replicas,
                ready_replicas: nonzero(ready),
                available_replicas: Some(ready),
                current_replicas: nonzero(current),
                updated_replicas: nonzero(updated),
                current_revision: Some(self.revision(current_image)),
                update_revision: Some(self.revision(&self.image)),
                collision_count: Some(0),
                ..StatefulSetStatus::default()
            }),
        }
    }

    /// The ControllerRevision of the template that runs `image`.
    fn revision(&self, image: &str) -> String {
        format!("{}-{}", self.name, ids::kubernetes_suffix(&format!("{}/{image}", self.name), 10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::{release_pods, release_statefulsets};
    use crate::version::{Deployment, NomadServers, ServerVersion};

    fn started_at() -> Timestamp {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn each_deployment_has_its_data_stores_and_in_cluster_nomad_servers() {
        let names = |deployment| {
            release_statefulsets(deployment).into_iter().map(|set| (set.name, set.replicas)).collect::<Vec<_>>()
        };
        let internal = Deployment { server_version: ServerVersion::V4_8, nomad_servers: NomadServers::Internal };
        assert_eq!(
            names(internal),
            [
                ("nomad-server".to_owned(), 5),
                ("mongodb".to_owned(), 1),
                ("postgresql".to_owned(), 1),
                ("rabbitmq".to_owned(), 1),
                ("redis".to_owned(), 1),
                ("circleci-vault".to_owned(), 1),
            ]
        );
        let external = Deployment { nomad_servers: NomadServers::External, ..internal };
        assert_eq!(names(external)[0].0, "mongodb");
        let four_four = Deployment { server_version: ServerVersion::V4_4, nomad_servers: NomadServers::Internal };
        assert_eq!(names(four_four)[0], ("nomad-server".to_owned(), 3));
    }

    #[test]
    fn each_statefulset_selects_its_pods_and_counts_them() {
        for &version in ServerVersion::ALL {
            let deployment = Deployment { server_version: version, nomad_servers: NomadServers::Internal };
            let pods = release_pods(deployment);
            for set in release_statefulsets(deployment) {
                let selected: Vec<&ReleasePod> = pods.iter().filter(|pod| set.selects(pod)).collect();
                assert_eq!(selected.len(), usize::from(set.replicas), "{version} {}", set.name);
                for (ordinal, pod) in selected.iter().enumerate() {
                    assert_eq!(pod.name, format!("{}-{ordinal}", set.name), "{version}");
                    assert_eq!(
                        (pod.image.as_str(), pod.container.as_str()),
                        (set.image.as_str(), set.container.as_str())
                    );
                    let mut template_labels = pod.labels.clone();
                    assert_eq!(template_labels.remove("statefulset.kubernetes.io/pod-name"), Some(pod.name.clone()));
                    assert_eq!(template_labels, set.labels, "the pod has the template's labels and its name's");
                }
                let status = set.to_statefulset(&pods, started_at()).status.unwrap();
                let replicas = i32::from(set.replicas);
                assert_eq!(status.replicas, replicas);
                assert_eq!(
                    (status.ready_replicas, status.current_replicas, status.updated_replicas),
                    (Some(replicas), Some(replicas), Some(replicas))
                );
                assert_eq!(status.current_revision, status.update_revision);
            }
        }
    }

    #[test]
    fn renders_the_spec_and_counts_unready_and_unrolled_pods() {
        let deployment = Deployment { server_version: ServerVersion::V4_9, nomad_servers: NomadServers::Internal };
        let mut pods = release_pods(deployment);
        let nomad = release_statefulsets(deployment).remove(0);
        for pod in pods.iter_mut().filter(|pod| nomad.selects(pod)).take(2) {
            pod.image = "hashicorp/nomad:1.10.0".to_owned();
        }
        pods.iter_mut().find(|pod| pod.name == "nomad-server-4").unwrap().health = PodHealth::NotReady;
        let rendered = nomad.to_statefulset(&pods, started_at());
        assert_eq!(
            rendered.metadata.creation_timestamp.unwrap().0,
            "2025-02-17T09:00:00Z".parse::<Timestamp>().unwrap()
        );
        let spec = rendered.spec;
        assert_eq!(spec.replicas, Some(5));
        let match_labels = spec.selector.match_labels.unwrap();
        assert_eq!(match_labels, BTreeMap::from([("app".to_owned(), "nomad-server".to_owned())]));
        let container = &spec.template.spec.unwrap().containers[0];
        assert_eq!(
            (container.name.as_str(), container.image.as_deref()),
            ("nomad-server", Some("hashicorp/nomad:1.11.3"))
        );
        assert_eq!(spec.template.metadata.unwrap().labels.unwrap()["layer"], "execution");
        let status = rendered.status.unwrap();
        assert_eq!(status.replicas, 5);
        assert_eq!(status.ready_replicas, Some(4));
        assert_eq!((status.current_replicas, status.updated_replicas), (Some(2), Some(3)));
        assert_ne!(status.current_revision, status.update_revision);

        let none_ready: Vec<ReleasePod> =
            pods.iter().map(|pod| ReleasePod { health: PodHealth::NotReady, ..pod.clone() }).collect();
        let status = nomad.to_statefulset(&none_ready, started_at()).status.unwrap();
        assert_eq!((status.replicas, status.ready_replicas, status.available_replicas), (5, None, Some(0)));
    }
}
