//! `cluster::*`: the Helm release's pods, its newest Helm record, and the cluster's
//! Kubernetes version against the range the release supports.

use harness::{Check, Diagnosis, SkipReason, Verdict};
use k8s_openapi::jiff::Timestamp;

use super::cause::{Because, StatedBy, Values, causes};
use super::{cluster_check, cluster_failed, forbidden_read, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::helm::{ReleaseRecord, SERVER_CHART, UnreadableRecord};
use crate::clients::pods::PodState;
use crate::phase;
use crate::resources::release::{InstalledRelease, InstalledVersion};
use crate::versions::KubernetesVersion;

pub fn pods_ready() -> Check<RealityCheck> {
    cluster_check(ids::PODS_READY, "every pod of the release is Running and Ready", |access, _| async move {
        let cluster = access.client().await.map_err(cluster_failed)?;
        let pods = cluster.pods(None).await.map_err(cluster_failed)?;
        Ok(judge_pods(cluster.namespace(), &pods.iter().map(PodState::of).collect::<Vec<_>>()))
    })
}

pub fn helm_release() -> Check<RealityCheck> {
    let summary = "the newest Helm record of the CircleCI server release is deployed";
    cluster_check(ids::HELM_RELEASE, summary, |access, _| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let records = release.records.as_ref().map_err(optional_read_failed)?;
        let version = release.version.as_ref();
        Ok(judge_release(access.namespace(), records, version, access.expect_chart_version(), Timestamp::now()))
    })
}

pub fn kubernetes_version() -> Check<RealityCheck> {
    let summary = "the cluster runs a Kubernetes version the installation's server release supports";
    cluster_check(ids::KUBERNETES_VERSION, summary, |access, _| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        let version = release.version.as_ref().ok_or_else(|| version_unknown(release))?;
        let cluster = access.client().await.map_err(cluster_failed)?;
        let info = cluster.version_info().await.map_err(cluster_failed)?;
        Ok(judge_kubernetes_version(version, &info.major, &info.minor, &info.git_version))
    })
}

/// The skip of a check that needs the installation's server version when nothing says it.
pub(crate) fn version_unknown(release: &InstalledRelease) -> Verdict {
    Verdict::Skip(SkipReason::NotConfigured(format!(
        "the server version is unknown ({}): set server_version (or --server-version) to the installation's version, like 4.10.0",
        match &release.records {
            Err(error) => forbidden_read(error).unwrap_or_else(|| format!("the Helm release cannot be read: {error}")),
            Ok(_) => format!("no Helm release of chart {SERVER_CHART} and no workload names it"),
        }
    )))
}

causes! {
    StatedBy::Checks(&[ids::KUBERNETES_VERSION]) => {
        KUBERNETES_TOO_OLD:
            "server {release} supports Kubernetes {range}: an older cluster lacks what its chart and components were built and tested for, and CircleCI does not support it",
            "upgrade the cluster to a version within {range}, one minor version at a time as your provider allows (the server's upgrade guide has the order), or correct server_version if realitycheck read the wrong version";
        KUBERNETES_TOO_NEW:
            "server {release} supports Kubernetes {range}: a newer cluster may have removed APIs its chart uses, and CircleCI does not support it",
            "upgrade CircleCI server to a release that supports Kubernetes {kubernetes}, or keep the cluster within {range} until then (or correct server_version if realitycheck read the wrong version)";
    }
    StatedBy::Checks(&[ids::KUBERNETES_VERSION, ids::UPGRADE_KUBERNETES]) => {
        UNREADABLE_KUBERNETES_VERSION:
            "the API server's /version answer has no version realitycheck can read: a proxy in front of it, or a distribution that reports its own numbering",
            "`kubectl version` shows what the API server reports; if it is a supported Kubernetes, report the answer to the realitycheck maintainers";
    }
    StatedBy::Checks(&[ids::HELM_RELEASE]) => {
        OTHER_CHART_VERSION:
            "the upgrade to the expected version has not run here, or it ran against another release, namespace or cluster",
            "`helm history {release} -n {namespace}` shows what was deployed; run `helm upgrade {release} oci://cciserver.azurecr.io/circleci-server -n {namespace} --version {expected}` with the release's values, or correct expect_chart_version";
    }
    StatedBy::Checks(&[ids::HELM_RELEASE, ids::UPGRADE_RELEASE_STATE]) => {
        NO_RELEASE:
            "the release is in another namespace, or Helm keeps its records elsewhere (HELM_DRIVER=configmap)",
            "`helm list -A` shows where the release is; check --namespace (now `{namespace}`)";
        UPGRADE_FAILED:
            "the last `helm upgrade` (or install) did not complete: a hook failed, a resource was refused, or it timed out",
            "`helm history {release} -n {namespace}` shows the revisions; fix what Helm says and run the upgrade again, or go back with {rollback}";
        RELEASE_PENDING:
            "a Helm operation is under way, or was interrupted and left the release locked (Helm refuses further upgrades)",
            "if no `helm` command runs now, `helm history {release} -n {namespace}` and {rollback} unlock it";
        RELEASE_IN_OTHER_STATE:
            "the newest record of the release is neither deployed nor an operation under way",
            "`helm history {release} -n {namespace}` shows what happened to the release";
    }
    StatedBy::Checks(&[ids::PODS_READY]) => {
        NO_RUNNING_POD:
            "the namespace is wrong, or the Helm release is not installed in this cluster/context",
            "point --namespace (or kubernetes.namespace) at the release's namespace and --kube-context at the right cluster; `helm list -A` shows where circleci-server is installed";
        IMAGE_PULL:
            "an image cannot be pulled: registry credentials (regcred) or an air-gapped registry without the image",
            "look at why: `kubectl -n {namespace} describe pod {pod}` names the image and the pull error; fix the registry, the image or regcred, then `helm upgrade`";
        INIT_CONTAINER:
            "an init container does not complete: it waits for a dependency (a database, a migration, a secret) or fails on a bad value, so the pod's containers never start",
            "look at why: `kubectl -n {namespace} describe pod {pod}` and `kubectl -n {namespace} logs {pod} -c {container}`; fix the value or dependency it names, then `helm upgrade`";
        CRASHING:
            "a container keeps crashing: usually a bad value in values.yaml, an unreachable database, or a missing secret",
            "look at why: `kubectl -n {namespace} describe pod {pod}` and `kubectl -n {namespace} logs {pod} --previous`; fix the value or dependency it names, then `helm upgrade`";
        POD_FAILED:
            "a pod failed and will not be restarted: its node turned it away or shut down (reasons such as OutOfcpu, NodeAffinity, Shutdown), or its containers exited under a restart policy that does not restart them",
            "look at why: `kubectl -n {namespace} describe pod {pod}` shows the reason and message; when the node is to blame, delete the pod (`kubectl -n {namespace} delete pod {pod}`) and its controller makes a new one, otherwise fix the value it names, then `helm upgrade`";
        NOT_STARTED:
            "a pod cannot be scheduled or started: not enough cluster capacity, an unbound volume, or a missing secret",
            "look at why: the events at the end of `kubectl -n {namespace} describe pod {pod}` name what is missing; add capacity or create it, then `helm upgrade`";
        UNREADY:
            "containers run but fail their readiness probes: a dependency they wait for is not ready",
            "look at why: `kubectl -n {namespace} describe pod {pod}` and `kubectl -n {namespace} logs {pod}`; fix the dependency it names, then `helm upgrade`";
    }
}

/// Pass when the newest record of the release of chart `circleci-server` is `deployed` (with
/// chart version `expected`, when given); its age is counted to `now`; the pass note names
/// the server `version`.
pub fn judge_release(
    namespace: &str,
    records: &[Result<ReleaseRecord, UnreadableRecord>],
    version: Option<&InstalledVersion>,
    expected: Option<&str>,
    now: Timestamp,
) -> Verdict {
    let unreadable: Vec<String> = records.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
    let readable: Vec<&ReleaseRecord> = records.iter().filter_map(|r| r.as_ref().ok()).collect();
    let Some(release) = readable.iter().find(|record| record.chart == SERVER_CHART) else {
        let others: Vec<String> =
            readable.iter().map(|r| format!("release {} (chart {} {})", r.name, r.chart, r.chart_version)).collect();
        return Verdict::Fail(
            Diagnosis::new(format!("no Helm release of chart {SERVER_CHART} in namespace `{namespace}`"))
                .observed(if others.is_empty() {
                    "no Helm release records (Secrets labelled owner=helm)".to_string()
                } else {
                    format!("Helm releases found: {}", others.join(", "))
                })
                .observed_all(unreadable)
                .because(NO_RELEASE.with(&[("namespace", &namespace)]))
                .phase(&phase::HELM_INSTALL),
        );
    };
    let ReleaseRecord { name, revision, status, chart_version, description, deployed_revision, .. } = release;
    let deployed = deployed_ago(release, now);
    let rollback = match deployed_revision {
        Some(serving) => format!("`helm rollback {name} {serving} -n {namespace}`"),
        None => format!("`helm rollback {name} <last deployed revision> -n {namespace}`"),
    };
    let values: Values<'_> = &[("release", name), ("namespace", &namespace), ("rollback", &rollback)];
    let serving = match deployed_revision {
        Some(serving) => format!("revision {serving} is still deployed and serves"),
        None => "no revision is marked deployed".to_string(),
    };
    if let Some(expected) = expected.filter(|expected| status == "deployed" && expected != chart_version) {
        return Verdict::Fail(
            Diagnosis::new(format!(
                "release {name} runs chart {chart_version}, not {expected} (kubernetes.expect_chart_version)"
            ))
            .observed(format!("revision {revision}: chart {SERVER_CHART} {chart_version}, deployed{deployed}; Helm says: {description}"))
            .because(OTHER_CHART_VERSION.with(&[("release", name), ("namespace", &namespace), ("expected", &expected)]))
            .phase(&phase::HELM_INSTALL),
        );
    }
    match status.as_str() {
        "deployed" => Verdict::Pass(format!(
            "release {name} revision {revision}: chart {SERVER_CHART} {chart_version}, deployed{deployed}{}",
            version.map_or_else(String::new, |version| format!("; {}", describe_version(version)))
        )),
        "failed" => Verdict::Fail(
            Diagnosis::new(format!("the newest revision {revision} of release {name} (chart {chart_version}) failed"))
                .observed(format!("Helm says: {description}"))
                .observed(serving)
                .because(UPGRADE_FAILED.with(values))
                .phase(&phase::HELM_INSTALL),
        ),
        pending if pending.starts_with("pending-") => Verdict::Fail(
            Diagnosis::new(format!("release {name} is {pending} at revision {revision} (chart {chart_version})"))
                .observed(format!("Helm says: {description}; the operation started{deployed}"))
                .because(RELEASE_PENDING.with(values))
                .phase(&phase::HELM_INSTALL),
        ),
        other => Verdict::Fail(
            Diagnosis::new(format!("release {name} is `{other}` at revision {revision} (chart {chart_version})"))
                .observed(format!("Helm says: {description}"))
                .because(RELEASE_IN_OTHER_STATE.with(values))
                .phase(&phase::HELM_INSTALL),
        ),
    }
}

/// Pass when the API server's version (`major`, `minor`, else `git_version`) is within the
/// Kubernetes range of the release that judges `version`.
pub fn judge_kubernetes_version(version: &InstalledVersion, major: &str, minor: &str, git_version: &str) -> Verdict {
    let release = version.lookup.release;
    let range = release.kubernetes;
    let kubernetes = match kubernetes_of(major, minor, git_version) {
        Ok(kubernetes) => kubernetes,
        Err(diagnosis) => return Verdict::Fail(diagnosis),
    };
    if range.contains(kubernetes) {
        return Verdict::Pass(format!(
            "Kubernetes {kubernetes} ({git_version}), within {range}: {}",
            describe_version(version)
        ));
    }
    let values: Values<'_> = &[("release", &release.name()), ("range", &range), ("kubernetes", &kubernetes)];
    let cause =
        if kubernetes < range.oldest { KUBERNETES_TOO_OLD.with(values) } else { KUBERNETES_TOO_NEW.with(values) };
    Verdict::Fail(
        Diagnosis::new(format!(
            "Kubernetes {kubernetes} is outside {range}, the versions server {} supports",
            release.name()
        ))
        .observed(format!("the API server reports {git_version}"))
        .observed(format!("the installation runs {} (read from {})", version.lookup.describe(), version.source))
        .observed_all(release.kubernetes_earlier.filter(|(earlier, _)| earlier.contains(kubernetes)).map(
            |(earlier, until)| {
                format!(
                    "CircleCI's docs gave {earlier} for server {} until {until}: this cluster was supported then",
                    release.name()
                )
            },
        ))
        .because(cause)
        .phase(&phase::KUBERNETES_CLUSTER),
    )
}

/// The Kubernetes version `/version` answers (`major` and `minor`, else `git_version`), or the
/// diagnosis that it says none.
pub(crate) fn kubernetes_of(major: &str, minor: &str, git_version: &str) -> Result<KubernetesVersion, Diagnosis> {
    KubernetesVersion::of(major, minor).or_else(|| KubernetesVersion::of_git_version(git_version)).ok_or_else(|| {
        Diagnosis::new("the API server does not say which Kubernetes version it runs")
            .observed(format!("/version answered major `{major}`, minor `{minor}`, gitVersion `{git_version}`"))
            .because(&UNREADABLE_KUBERNETES_VERSION)
            .phase(&phase::KUBERNETES_CLUSTER)
    })
}

/// `server 4.10.0`, with how the row that judges it was chosen, and where the version was
/// read when it was not this record's chart.
fn describe_version(version: &InstalledVersion) -> String {
    match version.source.starts_with("chart ") {
        true => version.lookup.describe(),
        false => format!("{} (from {})", version.lookup.describe(), version.source),
    }
}

/// ` 2d5h ago`, or nothing when Helm gives no readable time.
fn deployed_ago(record: &ReleaseRecord, now: Timestamp) -> String {
    let Some(deployed) = record.last_deployed.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) else {
        return String::new();
    };
    let minutes = now.duration_since(deployed).as_secs().max(0) / 60;
    let (days, hours, minutes) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!(" {minutes}m ago"),
        (0, _) => format!(" {hours}h{minutes}m ago"),
        _ => format!(" {days}d{hours}h ago"),
    }
}

/// How a pod counts for `cluster::pods_ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Ready,
    NotReady,
    /// Phase Succeeded: done, not meant to run again.
    Finished,
    /// A failed run of a Job (a Helm hook, a CronJob's run): the Job reports its own outcome.
    FailedJobRun,
    /// Removed by the kubelet to free its node; the pod's controller has replaced it.
    Evicted,
}

fn standing(pod: &PodState) -> Standing {
    match pod.phase.as_str() {
        "Succeeded" => Standing::Finished,
        "Failed" if pod.reason.as_deref() == Some("Evicted") => Standing::Evicted,
        "Failed" if pod.controller_kind.as_deref() == Some("Job") => Standing::FailedJobRun,
        "Running" if pod.ready => Standing::Ready,
        _ => Standing::NotReady,
    }
}

/// Why a pod is not ready, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Trouble {
    ImagePull,
    InitContainer,
    Crashing,
    Failed,
    NotStarted,
    Unready,
}

fn trouble(pod: &PodState) -> Trouble {
    let reason = pod.reason.as_deref().unwrap_or_default();
    if reason.contains("ImagePull") || reason.contains("ErrImage") {
        Trouble::ImagePull
    } else if pod.phase == "Failed" {
        Trouble::Failed
    } else if reason.starts_with("Init:") {
        Trouble::InitContainer
    } else if ["CrashLoopBackOff", "Error", "OOMKilled"].contains(&reason)
        || reason.starts_with("ExitCode:")
        || reason.starts_with("Signal:")
    {
        Trouble::Crashing
    } else if pod.phase == "Pending" {
        Trouble::NotStarted
    } else {
        Trouble::Unready
    }
}

/// `2 evicted pods and 1 failed job pod left over`, or `None` when there are none.
fn leftover_note(evicted: usize, failed_job_runs: usize) -> Option<String> {
    let counts: Vec<String> = [(evicted, "evicted pod"), (failed_job_runs, "failed job pod")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, noun)| count_of(n, noun))
        .collect();
    (!counts.is_empty()).then(|| format!("{} left over", counts.join(" and ")))
}

/// `1 evicted pod`, `2 evicted pods`.
fn count_of(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Pass when the namespace has pods that should run and all of them are Running and Ready.
/// Finished pods, failed runs of Jobs and evicted pods do not count; the pass note mentions
/// the last two.
pub fn judge_pods(namespace: &str, pods: &[PodState]) -> Verdict {
    let phase = &phase::HELM_INSTALL;
    let standings: Vec<(&PodState, Standing)> = pods.iter().map(|p| (p, standing(p))).collect();
    let count = |wanted: Standing| standings.iter().filter(|(_, s)| *s == wanted).count();
    let meant_to_run = count(Standing::Ready) + count(Standing::NotReady);
    let leftovers = leftover_note(count(Standing::Evicted), count(Standing::FailedJobRun));
    if meant_to_run == 0 {
        let summary = if pods.is_empty() {
            format!("no pods in namespace `{namespace}`")
        } else {
            format!(
                "no running pods in namespace `{namespace}`, only {}",
                count_of(pods.len(), "finished or left-over pod")
            )
        };
        return Verdict::Fail(Diagnosis::new(summary).because(&NO_RUNNING_POD).phase(phase));
    }
    let not_ready: Vec<&PodState> =
        standings.iter().filter(|(_, s)| *s == Standing::NotReady).map(|(p, _)| *p).collect();
    let Some(worst) = not_ready.iter().copied().min_by_key(|p| trouble(p)) else {
        let note = leftovers.map(|l| format!("; {l}")).unwrap_or_default();
        return Verdict::Pass(format!("{meant_to_run} of {meant_to_run} pods ready{note}"));
    };
    let values: Values<'_> = &[("namespace", &namespace), ("pod", &worst.name)];
    let stated = match trouble(worst) {
        Trouble::ImagePull => IMAGE_PULL.with(values),
        Trouble::InitContainer => {
            let container = worst.init_container.as_deref().unwrap_or("<init container>");
            INIT_CONTAINER.with(&[("namespace", &namespace), ("pod", &worst.name), ("container", &container)])
        }
        Trouble::Crashing => CRASHING.with(values),
        Trouble::Failed => POD_FAILED.with(values),
        Trouble::NotStarted => NOT_STARTED.with(values),
        Trouble::Unready => UNREADY.with(values),
    };
    Verdict::Fail(
        Diagnosis::new(format!("{} of {meant_to_run} pods in `{namespace}` are not ready", not_ready.len()))
            .observed_all(not_ready.iter().map(|p| p.describe()).chain(leftovers))
            .because(stated)
            .phase(phase),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, ready: bool, reason: Option<&str>, restarts: i32) -> PodState {
        PodState {
            name: name.into(),
            phase: phase.into(),
            controller_kind: Some("ReplicaSet".into()),
            ready_containers: usize::from(ready),
            containers: 1,
            ready,
            reason: reason.map(Into::into),
            init_container: None,
            restarts,
        }
    }

    fn job_pod(name: &str, phase: &str, reason: Option<&str>) -> PodState {
        PodState { controller_kind: Some("Job".into()), ..pod(name, phase, false, reason, 0) }
    }

    #[test]
    fn all_ready_or_completed_passes() {
        let pods =
            [pod("api-service-1", "Running", true, None, 0), job_pod("migrate-1", "Succeeded", Some("Completed"))];
        assert_eq!(judge_pods("circleci-server", &pods), Verdict::Pass("1 of 1 pods ready".into()));
    }

    #[test]
    fn failed_job_runs_and_evicted_pods_are_left_overs() {
        let pods = [
            pod("api-service-1", "Running", true, None, 0),
            pod("frontend-1", "Running", true, None, 0),
            pod("frontend-6c9d7-x2k4p", "Failed", false, Some("Evicted"), 0),
            pod("frontend-6c9d7-q8w2z", "Failed", false, Some("Evicted"), 0),
        ];
        assert_eq!(
            judge_pods("circleci-server", &pods),
            Verdict::Pass("2 of 2 pods ready; 2 evicted pods left over".into())
        );
        let with_job_run = [pods[0].clone(), pods[2].clone(), job_pod("realitycheck-29012345-abcde", "Failed", None)];
        assert_eq!(
            judge_pods("circleci-server", &with_job_run),
            Verdict::Pass("1 of 1 pods ready; 1 evicted pod and 1 failed job pod left over".into())
        );
    }

    #[test]
    fn the_trouble_of_a_pod_is_read_from_its_reason_and_phase() {
        let of = |phase: &str, reason: Option<&str>| trouble(&pod("p", phase, false, reason, 0));
        assert_eq!(of("Pending", Some("ImagePullBackOff")), Trouble::ImagePull);
        assert_eq!(of("Pending", Some("ErrImageNeverPull")), Trouble::ImagePull);
        assert_eq!(of("Failed", None), Trouble::Failed);
        assert_eq!(of("Pending", Some("Init:CrashLoopBackOff")), Trouble::InitContainer);
        for crashing in ["CrashLoopBackOff", "Error", "OOMKilled", "ExitCode:137", "Signal:9"] {
            assert_eq!(of("Running", Some(crashing)), Trouble::Crashing, "{crashing}");
        }
        assert_eq!(of("Pending", Some("ContainerCreating")), Trouble::NotStarted);
        assert_eq!(of("Pending", None), Trouble::NotStarted);
        assert_eq!(of("Running", None), Trouble::Unready);
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
    fn a_pod_stuck_in_an_init_container_names_it() {
        let pods = [
            pod("machine-provisioner-5f4", "Running", false, None, 0),
            PodState {
                init_container: Some("wait-for-postgres".into()),
                ..pod("api-service-7d9f", "Pending", false, Some("Init:CrashLoopBackOff"), 5)
            },
            pod("frontend-6c9d7-x2k4p", "Failed", false, Some("Evicted"), 0),
        ];
        let Verdict::Fail(diagnosis) = judge_pods("circleci-server", &pods) else { panic!("must fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn a_failed_pod_not_run_by_a_job_stays_red() {
        let pods = [
            pod("api-service-1", "Running", true, None, 0),
            pod("frontend-6c9d7-x2k4p", "Failed", false, Some("OutOfcpu"), 0),
            job_pod("realitycheck-29012345-abcde", "Failed", Some("Error")),
        ];
        let Verdict::Fail(diagnosis) = judge_pods("circleci-server", &pods) else { panic!("must fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn an_empty_namespace_points_at_the_namespace() {
        let Verdict::Fail(diagnosis) = judge_pods("circleci", &[]) else { panic!("must fail") };
        assert!(diagnosis.remediation.contains("--namespace"));
        let only_left_overs = [job_pod("realitycheck-1", "Succeeded", Some("Completed"))];
        let Verdict::Fail(diagnosis) = judge_pods("circleci", &only_left_overs) else { panic!("must fail") };
        assert_eq!(diagnosis.summary, "no running pods in namespace `circleci`, only 1 finished or left-over pod");
        assert!(diagnosis.remediation.contains("--namespace"));
    }

    fn record(revision: u32, status: &str, description: &str) -> Result<ReleaseRecord, UnreadableRecord> {
        Ok(ReleaseRecord {
            name: "circleci-server".into(),
            revision,
            status: status.into(),
            chart: SERVER_CHART.into(),
            chart_version: format!("4.4.{revision}"),
            last_deployed: Some("2026-11-28T09:30:00Z".into()),
            description: description.into(),
            deployed_revision: (status != "deployed").then_some(revision - 1),
            autoscaler_scaling: None,
            ..Default::default()
        })
    }

    fn now() -> Timestamp {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_deployed_release_passes_with_its_chart_and_age() {
        let verdict = judge_release("circleci-server", &[record(7, "deployed", "Upgrade complete")], None, None, now());
        assert_eq!(
            verdict,
            Verdict::Pass("release circleci-server revision 7: chart circleci-server 4.4.7, deployed 2d2h ago".into())
        );
    }

    fn installed(text: &str) -> InstalledVersion {
        InstalledVersion {
            lookup: crate::versions::lookup(crate::versions::ServerVersion::parse(text).unwrap()),
            source: format!("chart circleci-server {text} of release circleci-server"),
        }
    }

    #[test]
    fn kubernetes_within_the_releases_range_passes() {
        assert_eq!(
            judge_kubernetes_version(&installed("4.10.0"), "1", "34+", "v1.34.2-eks-b1f6f9a"),
            Verdict::Pass("Kubernetes 1.34 (v1.34.2-eks-b1f6f9a), within 1.33 – 1.35: server 4.10.0".into())
        );
        assert!(matches!(judge_kubernetes_version(&installed("4.4.7"), "1", "31", "v1.31.0"), Verdict::Pass(_)));
        assert!(
            matches!(judge_kubernetes_version(&installed("4.10.0"), "", "", "v1.35.1"), Verdict::Pass(_)),
            "the gitVersion says when major and minor are blank"
        );
    }

    #[test]
    fn kubernetes_outside_the_range_names_the_range_and_the_version() {
        let Verdict::Fail(old) = judge_kubernetes_version(&installed("4.10.0"), "1", "31", "v1.31.4") else { panic!() };
        insta::assert_debug_snapshot!(old);
        let Verdict::Fail(earlier) = judge_kubernetes_version(&installed("4.8.12"), "1", "32", "v1.32.4") else {
            panic!()
        };
        assert_eq!(
            earlier.observed.last().map(String::as_str),
            Some("CircleCI's docs gave 1.31 – 1.33 for server 4.8 until 2026-02-09: this cluster was supported then")
        );
        let Verdict::Fail(new) = judge_kubernetes_version(&installed("4.4.7"), "1", "33", "v1.33.1") else { panic!() };
        assert_eq!(new.observed.len(), 2, "4.4's range never changed: {new:?}");
        assert_eq!(new.summary, "Kubernetes 1.33 is outside 1.26 – 1.31, the versions server 4.4 supports");
        assert!(
            new.remediation.contains("upgrade CircleCI server to a release that supports Kubernetes 1.33"),
            "{new:?}"
        );
        let Verdict::Fail(unreadable) = judge_kubernetes_version(&installed("4.10.0"), "", "", "unknown") else {
            panic!()
        };
        assert!(unreadable.cause.contains("no version realitycheck can read"), "{unreadable:?}");
    }

    #[test]
    fn the_pass_note_names_the_server_version_and_how_it_is_judged() {
        let version = |text: &str, source: &str| InstalledVersion {
            lookup: crate::versions::lookup(crate::versions::ServerVersion::parse(text).unwrap()),
            source: source.into(),
        };
        let records = [record(7, "deployed", "Upgrade complete")];
        let note = |version: &InstalledVersion| match judge_release("ns", &records, Some(version), None, now()) {
            Verdict::Pass(note) => note,
            other => panic!("{other:?}"),
        };
        assert!(
            note(&version("4.4.7", "chart circleci-server 4.4.7 of release circleci-server"))
                .ends_with("ago; server 4.4.7")
        );
        assert!(
            note(&version("4.11.0", "the server_version setting")).ends_with(
                "; server 4.11.0, newer than any version realitycheck knows: judged as 4.10 (from the server_version setting)"
            ),
            "{}",
            note(&version("4.11.0", "the server_version setting"))
        );
    }

    #[test]
    fn a_release_on_another_chart_version_than_expected_is_red() {
        let deployed = [record(7, "deployed", "Upgrade complete")];
        assert!(matches!(judge_release("ns", &deployed, None, Some("4.4.7"), now()), Verdict::Pass(_)));
        let Verdict::Fail(diagnosis) = judge_release("ns", &deployed, None, Some("4.4.8"), now()) else { panic!() };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn a_failed_upgrade_names_helms_reason_and_the_rollback() {
        let records = [record(8, "failed", "Upgrade \"circleci-server\" failed: context deadline exceeded")];
        let Verdict::Fail(diagnosis) = judge_release("circleci-server", &records, None, None, now()) else { panic!() };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn an_interrupted_upgrade_is_red_with_how_to_unlock_it() {
        let Verdict::Fail(diagnosis) =
            judge_release("ns", &[record(9, "pending-upgrade", "Preparing upgrade")], None, None, now())
        else {
            panic!()
        };
        assert!(diagnosis.summary.contains("is pending-upgrade at revision 9"), "{diagnosis:?}");
        assert!(diagnosis.remediation.contains("`helm rollback circleci-server 8 -n ns` unlock it"), "{diagnosis:?}");
    }

    #[test]
    fn a_release_in_any_other_state_says_so() {
        let Verdict::Fail(diagnosis) =
            judge_release("ns", &[record(9, "superseded", "Upgrade complete")], None, None, now())
        else {
            panic!()
        };
        assert_eq!(diagnosis.summary, "release circleci-server is `superseded` at revision 9 (chart 4.4.9)");
        assert!(diagnosis.cause.contains("neither deployed nor an operation under way"), "{diagnosis:?}");
    }

    #[test]
    fn the_age_of_a_release_is_in_minutes_hours_or_days() {
        let at = |deployed: &str| ReleaseRecord {
            last_deployed: Some(deployed.into()),
            ..record(7, "deployed", "").unwrap()
        };
        assert_eq!(deployed_ago(&at("2026-11-30T11:58:30Z"), now()), " 1m ago");
        assert_eq!(deployed_ago(&at("2026-11-30T09:15:00Z"), now()), " 2h45m ago");
        assert_eq!(deployed_ago(&at("2026-11-29T12:00:00Z"), now()), " 1d0h ago");
        assert_eq!(deployed_ago(&at("2026-11-27T08:00:00Z"), now()), " 3d4h ago");
        assert_eq!(deployed_ago(&at("2026-12-01T00:00:00Z"), now()), " 0m ago", "a clock ahead of ours");
        assert_eq!(deployed_ago(&at("yesterday"), now()), "");
        let unknown = ReleaseRecord { last_deployed: None, ..record(7, "deployed", "").unwrap() };
        assert_eq!(deployed_ago(&unknown, now()), "");
    }

    #[test]
    fn no_server_release_says_where_to_look() {
        let other = Ok(ReleaseRecord {
            chart: "ingress-nginx".into(),
            name: "ingress".into(),
            ..record(1, "deployed", "").unwrap()
        });
        let unreadable = Err(UnreadableRecord { secret: "sh.helm.release.v1.x.v1".into(), message: "not gzip".into() });
        let Verdict::Fail(diagnosis) = judge_release("ns", &[other, unreadable], None, None, now()) else { panic!() };
        insta::assert_debug_snapshot!(diagnosis);
        let Verdict::Fail(empty) = judge_release("ns", &[], None, None, now()) else { panic!() };
        assert!(empty.observed[0].contains("no Helm release records"), "{empty:?}");
    }
}
