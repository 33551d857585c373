//! `machine_provisioner::config` (AWS and GCP installs): the machine provisioner's workloads
//! (its `machine-provisioner-*` deployments, found by `app` label or pod name) are ready, it has
//! cloud credentials (Secret `machine-provisioner-secret`, or its service account bound to a
//! cloud role), and its recent logs hold no cloud authorisation error.

use std::collections::BTreeSet;

use harness::{Check, Diagnosis, Verdict};
use k8s_openapi::api::core::v1::Pod;

use super::cause::{Because, StatedBy, causes};
use super::{cluster_failed, ids, machine_provisioner_check, optional_read_failed};
use crate::RealityCheck;
use crate::clients::cluster::{Cluster, ClusterError};
use crate::clients::pods::component::MACHINE_PROVISIONER;
use crate::clients::pods::{self, PodState};
use crate::phase;

/// The Secret of the machine provisioner's cloud keys.
const CREDENTIALS_SECRET: &str = "machine-provisioner-secret";

/// Service account annotations that bind it to a cloud role: IRSA (AWS), Workload Identity (GCP).
pub(crate) const ROLE_ANNOTATIONS: [&str; 2] = ["eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account"];

/// How many of each pod's last log lines are read.
pub(crate) const LOG_LINES: i64 = 200;

/// What cloud APIs say when they refuse a call (AWS, GCP), as the provisioner logs it.
const AUTHORISATION_ERRORS: [&str; 9] = [
    "UnauthorizedOperation",
    "is not authorized to perform",
    "AccessDenied",
    "InvalidClientTokenId",
    "ExpiredToken",
    "SignatureDoesNotMatch",
    "PERMISSION_DENIED",
    "Permission denied on resource",
    "invalid_grant",
];

/// Longest part of a log line a diagnosis quotes: its start (time, level) and its end, where
/// cloud SDKs put the refusal (`api error AccessDenied: ...`).
const QUOTED_HEAD: usize = 80;
const QUOTED_TAIL: usize = 300;

pub fn config() -> Check<RealityCheck> {
    let summary = "the machine provisioner's workloads are ready, it has cloud credentials, and its logs show no cloud authorisation error";
    machine_provisioner_check(ids::MACHINE_PROVISIONER_CONFIG, summary, |access, _| async move {
        let cluster = access.client().await.map_err(cluster_failed)?;
        let pods = cluster.pods(None).await.map_err(cluster_failed)?;
        let provisioner: Vec<Pod> = pods::of_component(&pods, MACHINE_PROVISIONER).into_iter().cloned().collect();
        let observed = observe(cluster, &provisioner).await.map_err(optional_read_failed)?;
        Ok(judge_provisioner(cluster.namespace(), &provisioner, &observed))
    })
}

/// What the check reads besides the pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Where the cloud credentials come from, if anywhere.
    pub credentials: Option<String>,
    /// Authorisation errors in the recent logs: (pod, line).
    pub refusals: Vec<(String, String)>,
    /// How many pods' logs were read.
    pub logs_read: usize,
}

async fn observe(cluster: &Cluster, provisioner: &[Pod]) -> Result<Observed, ClusterError> {
    let credentials = match cluster.secret(CREDENTIALS_SECRET).await? {
        Some(secret) => {
            let keys: Vec<String> = secret.data.unwrap_or_default().into_keys().collect();
            Some(format!("Secret {CREDENTIALS_SECRET} ({})", keys.join(", ")))
        }
        None => cloud_role(cluster, provisioner).await?,
    };
    let (refusals, logs_read) = refusals_in_logs(cluster, provisioner).await?;
    Ok(Observed { credentials, refusals, logs_read })
}

/// The cloud role the service account of `pods` is bound to (IRSA, Workload Identity), as
/// `service account <name> bound to <role>`.
pub(crate) async fn cloud_role(cluster: &Cluster, pods: &[Pod]) -> Result<Option<String>, ClusterError> {
    let accounts: BTreeSet<String> =
        pods.iter().filter_map(|pod| pod.spec.as_ref()?.service_account_name.clone()).collect();
    for account in accounts {
        let Some(found) = cluster.service_account(&account).await? else { continue };
        let annotations = found.metadata.annotations.unwrap_or_default();
        if let Some(role) = ROLE_ANNOTATIONS.iter().find_map(|key| annotations.get(*key)) {
            return Ok(Some(format!("service account {account} bound to {role}")));
        }
    }
    Ok(None)
}

/// The cloud authorisation errors in the last log lines of `pods` (pod, line), and how many
/// pods' logs were read.
pub(crate) async fn refusals_in_logs(
    cluster: &Cluster,
    pods: &[Pod],
) -> Result<(Vec<(String, String)>, usize), ClusterError> {
    let mut refusals = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let log = cluster.logs(&name, LOG_LINES).await?;
        for line in log.lines().filter(|line| AUTHORISATION_ERRORS.iter().any(|error| line.contains(error))) {
            refusals.push((name.clone(), quoted(line)));
        }
    }
    Ok((refusals, pods.len()))
}

/// `line`, or its start and end around `…` when it is longer than a diagnosis quotes.
pub(crate) fn quoted(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= QUOTED_HEAD + QUOTED_TAIL {
        return line.to_string();
    }
    let head: String = chars[..QUOTED_HEAD].iter().collect();
    let tail: String = chars[chars.len() - QUOTED_TAIL..].iter().collect();
    format!("{head}…{tail}")
}

causes! {
    StatedBy::Checks(&[ids::MACHINE_PROVISIONER_CONFIG]) => {
        PROVISIONER_NOT_INSTALLED:
            "the machine provisioner is not installed (machine_provisioner.providers in values.yaml), or the namespace is wrong",
            "`kubectl -n {namespace} get pods | grep {component}` lists its pods; check --namespace and the machine_provisioner settings of values.yaml";
        PROVISIONER_NOT_READY:
            "part of the machine provisioner is not running: machine, Arm, Windows and remote docker jobs get no VM",
            "`kubectl -n {namespace} get pods | grep {component}`, then `kubectl -n {namespace} describe pod <pod>` and `kubectl -n {namespace} logs <pod>` say why";
        /// The cloud refuses `AssumeRoleWithWebIdentity` or `iam.serviceAccounts.getAccessToken`.
        ROLE_NOT_TAKEN:
            "the cloud does not let service account {account} take its role: the role's trust policy (IRSA) or the Workload Identity binding names another namespace, service account or OIDC provider, so the provisioner has no credentials at all",
            "AWS: the role's trust policy must allow `sts:AssumeRoleWithWebIdentity` for `system:serviceaccount:{namespace}:{account}` from the cluster's OIDC provider; GCP: bind `serviceAccount:<project>.svc.id.goog[{namespace}/{account}]` with roles/iam.workloadIdentityUser; then restart its pods";
        PROVISIONER_REFUSED:
            "the cloud refuses the machine provisioner's calls: its IAM role or service account lacks a permission (ec2:RunInstances, compute.instances.create, ...), or its keys are wrong or expired",
            "grant the permissions of the install guide's machine provisioner policy to its role (or renew its keys in Secret {secret}), then restart its pods";
        NO_CLOUD_CREDENTIALS:
            "without keys or a role bound to its service account, every VM start is refused",
            "bind its service account to a cloud role (IRSA: the `{irsa}` annotation; GCP Workload Identity: `{workload_identity}`), or store keys in Secret {secret}";
    }
}

/// Pass when the provisioner's workloads all have a ready pod, it has credentials, and its
/// recent logs hold no authorisation error.
pub fn judge_provisioner(namespace: &str, provisioner: &[Pod], observed: &Observed) -> Verdict {
    let refs: Vec<&Pod> = provisioner.iter().collect();
    let workloads = pods::workloads_of(provisioner, MACHINE_PROVISIONER);
    let found: Vec<&str> = workloads.keys().map(String::as_str).collect();
    if workloads.is_empty() {
        return Verdict::Fail(
            Diagnosis::new(format!("no workload of the machine provisioner in namespace `{namespace}`"))
                .observed(format!("no pod's `app` label or name starts with {MACHINE_PROVISIONER}"))
                .because(
                    PROVISIONER_NOT_INSTALLED.with(&[("namespace", &namespace), ("component", &MACHINE_PROVISIONER)]),
                )
                .phase(&phase::MACHINE_PROVISIONER),
        );
    }
    let unready: Vec<&String> = workloads.iter().filter(|(_, pods)| !pods::any_ready(pods)).map(|(w, _)| w).collect();
    if !unready.is_empty() {
        let names: Vec<&str> = unready.iter().map(|w| w.as_str()).collect();
        return Verdict::Fail(
            Diagnosis::new(format!("the machine provisioner has no ready pod in {}", names.join(", ")))
                .observed(format!("workloads found: {}", found.join(", ")))
                .observed_all(
                    refs.iter()
                        .map(|pod| PodState::of(pod))
                        .filter(|p| !(p.phase == "Running" && p.ready))
                        .map(|p| p.describe()),
                )
                .because(PROVISIONER_NOT_READY.with(&[("namespace", &namespace), ("component", &MACHINE_PROVISIONER)]))
                .phase(&phase::MACHINE_PROVISIONER),
        );
    }
    if !observed.refusals.is_empty() {
        let diagnosis = Diagnosis::new(format!(
            "the machine provisioner's logs show {} cloud authorisation error(s)",
            observed.refusals.len()
        ))
        .observed_all(observed.refusals.iter().take(3).map(|(pod, line)| format!("{pod}: {line}")))
        .phase(&phase::MACHINE_PROVISIONER);
        let identity_refused = observed.refusals.iter().any(|(_, line)| {
            line.contains("AssumeRoleWithWebIdentity") || line.contains("iam.serviceAccounts.getAccessToken")
        });
        let account = provisioner
            .iter()
            .find_map(|pod| pod.spec.as_ref()?.service_account_name.clone())
            .unwrap_or_else(|| MACHINE_PROVISIONER.to_string());
        return Verdict::Fail(if identity_refused {
            diagnosis.because(ROLE_NOT_TAKEN.with(&[("account", &account), ("namespace", &namespace)]))
        } else {
            diagnosis.because(PROVISIONER_REFUSED.with(&[("secret", &CREDENTIALS_SECRET)]))
        });
    }
    let Some(credentials) = &observed.credentials else {
        return Verdict::Fail(
            Diagnosis::new("the machine provisioner has no cloud credentials")
                .observed(format!(
                    "no Secret {CREDENTIALS_SECRET}, and its service account carries none of {}",
                    ROLE_ANNOTATIONS.join(", ")
                ))
                .because(NO_CLOUD_CREDENTIALS.with(&[
                    ("irsa", &ROLE_ANNOTATIONS[0]),
                    ("workload_identity", &ROLE_ANNOTATIONS[1]),
                    ("secret", &CREDENTIALS_SECRET),
                ]))
                .phase(&phase::MACHINE_PROVISIONER),
        );
    };
    Verdict::Pass(format!(
        "{} workloads ready ({}); credentials: {credentials}; no cloud authorisation error in the last {LOG_LINES} log lines of {} pods",
        found.len(),
        found.join(", "),
        observed.logs_read
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_pod(name: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{name}-5c6d7e8f9a-q1w2e"), "labels": {"app": name}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap()
    }

    fn observed(credentials: Option<&str>) -> Observed {
        Observed { credentials: credentials.map(String::from), refusals: Vec::new(), logs_read: 2 }
    }

    #[test]
    fn ready_workloads_with_credentials_pass() {
        let pods = [ready_pod("machine-provisioner-leader"), ready_pod("machine-provisioner-provisioner")];
        let verdict =
            judge_provisioner("ns", &pods, &observed(Some("Secret machine-provisioner-secret (accessKey, secretKey)")));
        assert_eq!(
            verdict,
            Verdict::Pass("2 workloads ready (machine-provisioner-leader, machine-provisioner-provisioner); credentials: Secret machine-provisioner-secret (accessKey, secretKey); no cloud authorisation error in the last 200 log lines of 2 pods".into())
        );
    }

    #[test]
    fn no_credentials_and_no_workload_are_red() {
        let pods = [ready_pod("machine-provisioner-leader")];
        let Verdict::Fail(missing) = judge_provisioner("ns", &pods, &observed(None)) else { panic!() };
        assert_eq!(missing.summary, "the machine provisioner has no cloud credentials");
        assert!(missing.remediation.contains("eks.amazonaws.com/role-arn"), "{missing:?}");
        let Verdict::Fail(absent) = judge_provisioner("ns", &[ready_pod("frontend")], &observed(None)) else {
            panic!()
        };
        assert_eq!(absent.summary, "no workload of the machine provisioner in namespace `ns`");
    }

    #[test]
    fn a_workload_without_a_ready_pod_is_red_naming_only_the_unready_pods() {
        let mut unready = ready_pod("machine-provisioner-provisioner");
        unready.status = Some(
            serde_json::from_value(serde_json::json!({
                "phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]
            }))
            .unwrap(),
        );
        let pods = [ready_pod("machine-provisioner-leader"), unready];
        let Verdict::Fail(diagnosis) = judge_provisioner("ns", &pods, &observed(Some("IRSA"))) else { panic!() };
        assert_eq!(diagnosis.summary, "the machine provisioner has no ready pod in machine-provisioner-provisioner");
        assert_eq!(diagnosis.observed.len(), 2, "{diagnosis:?}");
        assert!(diagnosis.observed[1].starts_with("machine-provisioner-provisioner-5c6d7e8f9a-q1w2e"), "{diagnosis:?}");
    }

    #[test]
    fn a_refused_web_identity_points_at_the_roles_trust_policy() {
        let mut pod = ready_pod("machine-provisioner-provisioner");
        pod.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            service_account_name: Some("machine-provisioner".into()),
            ..Default::default()
        });
        let refused = "level=error error=\"operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403, api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\"";
        let trust_refused = Observed {
            refusals: vec![("machine-provisioner-provisioner-5c6d7e8f9a-q1w2e".into(), refused.into())],
            ..observed(Some("service account machine-provisioner bound to arn:aws:iam::1:role/mp"))
        };
        let Verdict::Fail(diagnosis) = judge_provisioner("circleci-server", &[pod], &trust_refused) else { panic!() };
        assert!(
            diagnosis.cause.contains("does not let service account machine-provisioner take its role"),
            "{diagnosis:?}"
        );
        assert!(
            diagnosis.remediation.contains("`system:serviceaccount:circleci-server:machine-provisioner`"),
            "{diagnosis:?}"
        );
        let permission = Observed {
            refusals: vec![(
                "p".into(),
                "api error UnauthorizedOperation: not authorized to perform: ec2:RunInstances".into(),
            )],
            ..observed(None)
        };
        let Verdict::Fail(diagnosis) = judge_provisioner("ns", &[ready_pod("machine-provisioner-leader")], &permission)
        else {
            panic!()
        };
        assert!(diagnosis.remediation.contains("install guide's machine provisioner policy"), "{diagnosis:?}");
    }

    #[test]
    fn long_log_lines_keep_their_start_and_the_refusal_at_their_end() {
        let line = format!("time=x level=error {} api error AccessDenied: Not authorized", "y".repeat(400));
        let quote = quoted(&line);
        assert!(quote.starts_with("time=x level=error"), "{quote}");
        assert!(quote.ends_with("api error AccessDenied: Not authorized"), "{quote}");
        assert_eq!(quote.chars().count(), QUOTED_HEAD + 1 + QUOTED_TAIL);
        assert_eq!(quoted("short"), "short");
    }
}
