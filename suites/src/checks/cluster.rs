//! `cluster::*`: the Helm release's pods.

use std::sync::Arc;

use harness::{Check, CheckKind, CheckSpec, Diagnosis, Tag, Verdict};

use super::cluster_failure;
use crate::context::Context;
use crate::pods::PodState;

pub fn pods_ready() -> Check<Context> {
    let spec =
        CheckSpec::new("cluster::pods_ready", CheckKind::Cluster, "every pod of the release is Running and Ready")
            .tagged(Tag::NeedsCluster);
    Check::new(spec, |ctx: Arc<Context>| async move {
        let cluster = match ctx.cluster.get().await {
            Ok(cluster) => cluster,
            Err(e) => return Verdict::Fail(cluster_failure(&e)),
        };
        match cluster.pods(None).await {
            Ok(pods) => judge_pods(cluster.namespace(), &pods.iter().map(PodState::of).collect::<Vec<_>>()),
            Err(e) => Verdict::Fail(cluster_failure(&e)),
        }
    })
}

/// Pass when the namespace has pods and all of them are Running and Ready (or Succeeded).
pub fn judge_pods(namespace: &str, pods: &[PodState]) -> Verdict {
    if pods.is_empty() {
        return Verdict::Fail(
            Diagnosis::new(format!("no pods in namespace `{namespace}`"))
                .cause("the namespace is wrong, or the Helm release is not installed in this cluster/context")
                .remediation("point --namespace (or kubernetes.namespace) at the release's namespace and --kube-context at the right cluster; `helm list -A` shows where circleci-server is installed")
                .phase("Helm install (phase 2)"),
        );
    }
    let unhealthy: Vec<&PodState> = pods.iter().filter(|p| !p.is_healthy()).collect();
    if unhealthy.is_empty() {
        return Verdict::Pass(format!("{} of {} pods ready", pods.len(), pods.len()));
    }
    let first = unhealthy[0].name.as_str();
    let reasons: Vec<&str> = unhealthy.iter().filter_map(|p| p.reason.as_deref()).collect();
    let cause = if reasons.iter().any(|r| r.contains("ImagePull") || r.contains("ErrImage")) {
        "an image cannot be pulled: registry credentials (regcred) or an air-gapped registry without the image"
    } else if reasons.iter().any(|r| *r == "CrashLoopBackOff" || *r == "Error") {
        "a container keeps crashing: usually a bad value in values.yaml, an unreachable database, or a missing secret"
    } else if unhealthy.iter().any(|p| p.phase == "Pending") {
        "a pod cannot be scheduled or started: not enough cluster capacity, an unbound volume, or a missing secret"
    } else {
        "containers run but fail their readiness probes: a dependency they wait for is not ready"
    };
    Verdict::Fail(
        Diagnosis::new(format!("{} of {} pods in `{namespace}` are not ready", unhealthy.len(), pods.len()))
            .observed_all(unhealthy.iter().map(|p| p.describe()))
            .cause(cause)
            .remediation(format!(
                "look at why: `kubectl -n {namespace} describe pod {first}` and `kubectl -n {namespace} logs {first} --previous`; fix the value or dependency it names, then `helm upgrade`"
            ))
            .phase("Helm install (phase 2)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, ready: bool, reason: Option<&str>, restarts: i32) -> PodState {
        PodState {
            name: name.into(),
            phase: phase.into(),
            ready_containers: usize::from(ready),
            containers: 1,
            ready,
            reason: reason.map(Into::into),
            restarts,
        }
    }

    #[test]
    fn all_ready_or_completed_passes() {
        let pods = [
            pod("api-service-1", "Running", true, None, 0),
            pod("migrate-1", "Succeeded", false, Some("Completed"), 0),
        ];
        assert_eq!(judge_pods("circleci-server", &pods), Verdict::Pass("2 of 2 pods ready".into()));
    }

    #[test]
    fn crashing_and_unready_pods_are_named() {
        let pods = [
            pod("api-service-1", "Running", true, None, 0),
            pod("frontend-6c9d7", "Running", false, Some("CrashLoopBackOff"), 7),
            pod("machine-provisioner-5f4", "Running", false, None, 0),
        ];
        let Verdict::Fail(diagnosis) = judge_pods("circleci-server", &pods) else { panic!("must fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn an_empty_namespace_points_at_the_namespace() {
        let Verdict::Fail(diagnosis) = judge_pods("circleci", &[]) else { panic!("must fail") };
        assert!(diagnosis.remediation.contains("--namespace"));
    }
}
