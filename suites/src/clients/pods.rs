//! A pod reduced to what readiness judgements need: phase, controller, ready containers,
//! the status `kubectl get pods` shows (why a container waits or died, or where the init
//! containers stand), restarts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus, Pod};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub name: String,
    pub phase: String,
    /// Kind of the object that controls the pod (`ReplicaSet`, `StatefulSet`, `Job`...);
    /// `None` when nothing controls it.
    pub controller_kind: Option<String>,
    pub ready_containers: usize,
    pub containers: usize,
    /// The pod's Ready condition is True.
    pub ready: bool,
    /// What kubectl's STATUS column shows instead of the phase, most telling first: the pod's
    /// own reason (`Evicted`, `OutOfcpu`), where initialisation stops (`Init:CrashLoopBackOff`,
    /// `Init:1/2`), or why a container waits or died (`CrashLoopBackOff`, `ImagePullBackOff`, `Error`).
    pub reason: Option<String>,
    /// The init container the pod waits on while it initialises.
    pub init_container: Option<String>,
    /// Restarts of the init containers while the pod initialises, of its containers after.
    pub restarts: i32,
}

/// The init container a pod waits on, and its state as kubectl shows it.
struct InitBlocker {
    container: String,
    status: String,
}

impl PodState {
    pub fn of(pod: &Pod) -> PodState {
        let status = pod.status.clone().unwrap_or_default();
        let conditions = status.conditions.unwrap_or_default();
        let condition_true = |type_: &str| conditions.iter().any(|c| c.type_ == type_ && c.status == "True");
        let init_statuses = status.init_container_statuses.unwrap_or_default();
        let statuses = status.container_statuses.unwrap_or_default();
        let init_specs = pod.spec.as_ref().and_then(|s| s.init_containers.as_deref()).unwrap_or_default();
        let blocker = if condition_true("Initialized") { None } else { init_blocker(init_specs, &init_statuses) };
        let container_reason = statuses.iter().find_map(|c| {
            let state = c.state.as_ref()?;
            state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .or_else(|| state.terminated.as_ref().map(terminated_reason))
        });
        let restarts = if blocker.is_some() { &init_statuses } else { &statuses };
        let controller = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
        PodState {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: status.phase.unwrap_or_else(|| "Unknown".into()),
            controller_kind: controller.map(|o| o.kind.clone()),
            ready_containers: statuses.iter().filter(|c| c.ready).count(),
            containers: pod.spec.as_ref().map_or(statuses.len(), |s| s.containers.len()),
            ready: condition_true("Ready"),
            reason: status
                .reason
                .filter(|r| !r.is_empty())
                .or_else(|| blocker.as_ref().map(|b| b.status.clone()))
                .or(container_reason),
            init_container: blocker.map(|b| b.container),
            restarts: restarts.iter().map(|c| c.restart_count).sum(),
        }
    }

    /// The line an operator reads: `frontend-6c9d7: CrashLoopBackOff, 0/1 ready, 7 restarts`.
    pub fn describe(&self) -> String {
        let state = self.reason.as_deref().unwrap_or(&self.phase);
        let init = self.init_container.as_ref().map(|c| format!(" (init container {c})")).unwrap_or_default();
        let restarts = match self.restarts {
            0 => String::new(),
            1 => ", 1 restart".into(),
            n => format!(", {n} restarts"),
        };
        format!("{}: {state}{init}, {}/{} ready{restarts}", self.name, self.ready_containers, self.containers)
    }
}

/// The first init container that has not finished, as kubectl names its state: its reason
/// (`Init:CrashLoopBackOff`, `Init:Error`) or, while it runs, how many came before (`Init:1/2`).
/// A started sidecar (an init container with restartPolicy Always) does not hold the pod up.
fn init_blocker(specs: &[Container], statuses: &[ContainerStatus]) -> Option<InitBlocker> {
    statuses.iter().enumerate().find_map(|(index, container)| {
        let sidecar = specs.iter().any(|s| s.name == container.name && s.restart_policy.as_deref() == Some("Always"));
        if sidecar && container.started == Some(true) {
            return None;
        }
        let state = container.state.clone().unwrap_or_default();
        let waiting_reason = state.waiting.and_then(|w| w.reason).filter(|r| !r.is_empty() && r != "PodInitializing");
        let status = match (state.terminated, waiting_reason) {
            (Some(terminated), _) if terminated.exit_code == 0 => return None,
            (Some(terminated), _) => format!("Init:{}", terminated_reason(&terminated)),
            (None, Some(reason)) => format!("Init:{reason}"),
            (None, None) => format!("Init:{index}/{}", specs.len().max(statuses.len())),
        };
        Some(InitBlocker { container: container.name.clone(), status })
    })
}

/// Why a container ended: its reason, else its signal or exit code (`Signal:9`, `ExitCode:1`).
fn terminated_reason(terminated: &ContainerStateTerminated) -> String {
    match (&terminated.reason, terminated.signal) {
        (Some(reason), _) if !reason.is_empty() => reason.clone(),
        (_, Some(signal)) if signal != 0 => format!("Signal:{signal}"),
        _ => format!("ExitCode:{}", terminated.exit_code),
    }
}

/// The pods of a component of the release (the machine provisioner, the docker provisioner),
/// whatever its deployments are called and however they are labelled: a pod belongs to
/// `component` when its workload ([`workload_of`]) is the component's name, or that name and a
/// part (`machine-provisioner-leader`).
pub fn of_component<'a>(pods: &'a [Pod], component: &str) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|pod| {
            workload_of(pod).strip_prefix(component).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .collect()
}

/// The components of the installation realitycheck looks for by name (an [`of_component`]
/// argument).
pub mod component {
    /// The machine provisioner: the workloads that start VMs for machine and remote-docker jobs.
    pub const MACHINE_PROVISIONER: &str = "machine-provisioner";
    /// The Nomad autoscaler, which adds and removes Nomad clients.
    pub const AUTOSCALER: &str = "nomad-autoscaler";
}

/// The pods of `component` by workload, workloads in name order.
pub fn workloads_of<'a>(pods: &'a [Pod], component: &str) -> BTreeMap<String, Vec<&'a Pod>> {
    let mut workloads: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in of_component(pods, component) {
        workloads.entry(workload_of(pod)).or_default().push(pod);
    }
    workloads
}

/// Whether `pods` has one Running and Ready.
pub fn any_ready(pods: &[&Pod]) -> bool {
    pods.iter().map(|pod| PodState::of(pod)).any(|pod| pod.phase == "Running" && pod.ready)
}

/// The workload a pod belongs to: its `app` or `app.kubernetes.io/name` label when one starts
/// like its name, else its name without what its controller appends (a ReplicaSet's
/// `-<template hash>-<suffix>`, a StatefulSet's `-<ordinal>`).
pub fn workload_of(pod: &Pod) -> String {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let labels = pod.metadata.labels.as_ref();
    let label = ["app", "app.kubernetes.io/name"]
        .iter()
        .find_map(|key| labels.and_then(|l| l.get(*key)).filter(|value| name.starts_with(value.as_str())));
    if let Some(label) = label {
        return label.clone();
    }
    let controller = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    let generated_parts = match controller.map(|o| o.kind.as_str()) {
        Some("ReplicaSet") => 2,
        Some("StatefulSet" | "DaemonSet" | "Job") => 1,
        _ => 0,
    };
    let mut workload = name.as_str();
    for _ in 0..generated_parts {
        workload = workload.rsplit_once('-').map_or(workload, |(head, _)| head);
    }
    workload.to_string()
}

#[cfg(test)]
mod tests {

    fn named(name: &str, labels: serde_json::Value, controller: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": controller, "name": "owner", "uid": "u", "controller": true}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_component_is_found_by_label_or_by_name_whatever_its_parts() {
        let pods = [
            named(
                "machine-provisioner-leader-7d9f8b6c4d-x2k8p",
                serde_json::json!({"app": "machine-provisioner-leader"}),
                "ReplicaSet",
            ),
            named(
                "machine-provisioner-provisioner-5c6d7e8f9a-q1w2e",
                serde_json::json!({"component": "provisioner"}),
                "ReplicaSet",
            ),
            named(
                "machine-provisioner-0",
                serde_json::json!({"app.kubernetes.io/name": "machine-provisioner"}),
                "StatefulSet",
            ),
            named("machine-provisioners-cleanup-28711440-abcde", serde_json::json!({}), "Job"),
            named(
                "docker-provisioner-leader-6b5c4d3e2f-zz9yy",
                serde_json::json!({"app": "docker-provisioner-leader"}),
                "ReplicaSet",
            ),
        ];
        let found: Vec<String> = of_component(&pods, "machine-provisioner").into_iter().map(workload_of).collect();
        assert_eq!(found, ["machine-provisioner-leader", "machine-provisioner-provisioner", "machine-provisioner"]);
        assert_eq!(workload_of(&pods[3]), "machine-provisioners-cleanup-28711440", "a Job's pod drops its suffix only");
        assert_eq!(of_component(&pods, "docker-provisioner").len(), 1);
        assert!(of_component(&pods, "machine-provisioners-cleanup-2871").is_empty(), "a name ends at a dash");
    }
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> PodState {
        PodState::of(&serde_json::from_value(value).expect("a valid Pod"))
    }

    fn status(name: &str, state: serde_json::Value, restarts: i32) -> serde_json::Value {
        json!({"name": name, "image": "img", "imageID": "img", "ready": false, "restartCount": restarts, "state": state})
    }

    #[test]
    fn a_pod_stuck_in_an_init_container_shows_it() {
        let stuck = pod(json!({
            "metadata": {"name": "api-service-7d9f", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-service-7d", "uid": "1", "controller": true}
            ]},
            "spec": {"initContainers": [{"name": "wait-for-postgres"}], "containers": [{"name": "api-service"}]},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "Initialized", "status": "False"}, {"type": "Ready", "status": "False"}],
                "initContainerStatuses": [status("wait-for-postgres", json!({"waiting": {"reason": "CrashLoopBackOff"}}), 5)],
                "containerStatuses": [status("api-service", json!({"waiting": {"reason": "PodInitializing"}}), 0)]
            }
        }));
        assert_eq!(stuck.reason.as_deref(), Some("Init:CrashLoopBackOff"));
        assert_eq!(stuck.controller_kind.as_deref(), Some("ReplicaSet"));
        assert_eq!(
            stuck.describe(),
            "api-service-7d9f: Init:CrashLoopBackOff (init container wait-for-postgres), 0/1 ready, 5 restarts"
        );
    }

    #[test]
    fn init_progress_exit_codes_and_sidecars_read_like_kubectl() {
        let initialising = |init_statuses: serde_json::Value| {
            pod(json!({
                "metadata": {"name": "p"},
                "spec": {
                    "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "migrate"}, {"name": "seed"}],
                    "containers": [{"name": "app"}]
                },
                "status": {"phase": "Pending", "initContainerStatuses": init_statuses}
            }))
        };
        let mut proxy = status("proxy", json!({"running": {}}), 0);
        proxy["started"] = json!(true);
        let done = status("migrate", json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), 0);
        let running = initialising(json!([proxy.clone(), done, status("seed", json!({"running": {}}), 0)]));
        assert_eq!(running.reason.as_deref(), Some("Init:2/3"));
        assert_eq!(running.init_container.as_deref(), Some("seed"));
        let failed = initialising(json!([proxy, status("migrate", json!({"terminated": {"exitCode": 3}}), 2)]));
        assert_eq!(failed.reason.as_deref(), Some("Init:ExitCode:3"));
        assert_eq!(failed.restarts, 2);
    }

    #[test]
    fn an_initialised_pod_reads_its_containers() {
        let crashing = pod(json!({
            "metadata": {"name": "frontend-6c9d7"},
            "spec": {"initContainers": [{"name": "wait"}], "containers": [{"name": "frontend"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
                "initContainerStatuses": [status("wait", json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), 1)],
                "containerStatuses": [status("frontend", json!({"waiting": {"reason": "CrashLoopBackOff"}}), 7)]
            }
        }));
        assert_eq!(crashing.describe(), "frontend-6c9d7: CrashLoopBackOff, 0/1 ready, 7 restarts");
    }

    #[test]
    fn the_pods_own_reason_and_controller_come_first() {
        let evicted = pod(json!({
            "metadata": {"name": "frontend-6c9d7-x2k4p", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "frontend-6c9d7", "uid": "1", "controller": true}
            ]},
            "spec": {"containers": [{"name": "frontend"}]},
            "status": {
                "phase": "Failed",
                "reason": "Evicted",
                "containerStatuses": [status("frontend", json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}}), 0)]
            }
        }));
        assert_eq!(evicted.reason.as_deref(), Some("Evicted"));
        assert_eq!(evicted.controller_kind.as_deref(), Some("ReplicaSet"));
        let job_run = pod(json!({
            "metadata": {"name": "realitycheck-29012345-abcde", "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "realitycheck-29012345", "uid": "2", "controller": true}
            ]},
            "spec": {"containers": [{"name": "realitycheck"}]},
            "status": {"phase": "Failed", "containerStatuses": [status("realitycheck", json!({"terminated": {"exitCode": 1, "signal": 0}}), 0)]}
        }));
        assert_eq!(job_run.controller_kind.as_deref(), Some("Job"));
        assert_eq!(job_run.reason.as_deref(), Some("ExitCode:1"));
    }
}
