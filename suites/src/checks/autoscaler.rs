//! `nomad::autoscaler` (when the release runs a Nomad autoscaler): its pod is ready, it has
//! credentials for the cloud's target (Secret `nomad-autoscaler-secret` with `secret.hcl`, whose
//! `target` block is `aws-asg` on AWS and `gce-mig` on GCP, plus `gcp_sa.json` on GCP; or its
//! service account bound to a cloud role), its recent logs hold no authorisation error, and
//! the Nomad clients ready lie within the release's `nomad.auto_scaler.scaling` bounds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use harness::{Check, Diagnosis, SkipReason, Verdict};
use k8s_openapi::api::core::v1::{Pod, Secret};
use realitycheck_config::CloudProvider;

use super::cause::{Because, StatedBy, causes};
use super::nomad::{client_nodes, nomad_failure};
use super::provisioner::{LOG_LINES, ROLE_ANNOTATIONS, cloud_role, refusals_in_logs};
use super::{cluster_check, cluster_failed, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::cluster::Cluster;
use crate::clients::helm::ScalingBounds;
use crate::clients::nomad::nodes::Node;
use crate::clients::pods::component::AUTOSCALER;
use crate::clients::pods::{self, PodState};
use crate::phase;
use crate::resources::cluster::ClusterAccess;

/// The Secret of its credentials.
const CREDENTIALS_SECRET: &str = "nomad-autoscaler-secret";

pub fn autoscaler() -> Check<RealityCheck> {
    let summary = "the Nomad autoscaler, when enabled: ready, credentials for the cloud's target, no authorisation error in its logs, clients within its bounds";
    cluster_check(ids::AUTOSCALER, summary, |access, _| async move {
        let cluster = access.client().await.map_err(cluster_failed)?;
        let all = cluster.pods(None).await.map_err(cluster_failed)?;
        let autoscaler: Vec<Pod> = pods::of_component(&all, AUTOSCALER).into_iter().cloned().collect();
        if autoscaler.is_empty() {
            return Err(Verdict::Skip(SkipReason::NotApplicable(
                "the release runs no Nomad autoscaler (nomad.auto_scaler.enabled is off)".into(),
            )));
        }
        let observed = observe(&access, cluster, &autoscaler).await?;
        Ok(judge_autoscaler(cluster.namespace(), &autoscaler, &observed))
    })
}

/// What the check reads besides the pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Where the credentials come from; `Err` says what is wrong with them.
    pub credentials: Result<String, String>,
    /// Authorisation errors in the recent logs: (pod, line).
    pub refusals: Vec<(String, String)>,
    /// The release's scaling bounds and the clients ready, when the release's values set them.
    pub scaling: Option<Scaling>,
}

/// The bounds the autoscaler keeps the Nomad clients within, and how many are ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaling {
    /// `nomad.auto_scaler.scaling.{min,max}` of the release.
    pub bounds: ScalingBounds,
    /// Clients ready, eligible and not draining; `Err` says why they could not be counted.
    pub ready_clients: Result<usize, String>,
}

/// What the check reads besides the pods; a read refused is the check's skip, another failure
/// its red.
async fn observe(access: &ClusterAccess, cluster: &Cluster, autoscaler: &[Pod]) -> Result<Observed, Verdict> {
    let credentials = match cluster.secret(CREDENTIALS_SECRET).await.map_err(optional_read_failed)? {
        Some(secret) => secret_credentials(&secret, access.cloud_provider()),
        None => cloud_role(cluster, autoscaler).await.map_err(optional_read_failed)?.ok_or_else(|| {
            format!(
                "no Secret {CREDENTIALS_SECRET}, and its service account carries none of {}",
                ROLE_ANNOTATIONS.join(", ")
            )
        }),
    };
    let (refusals, _) = refusals_in_logs(cluster, autoscaler).await.map_err(optional_read_failed)?;
    let release = access.release().await.map_err(cluster_failed)?;
    release.records.as_ref().map_err(optional_read_failed)?;
    let bounds = release.record().and_then(|record| record.autoscaler_scaling);
    let scaling = match bounds {
        Some(bounds) => Some(Scaling { bounds, ready_clients: ready_clients(access).await }),
        None => None,
    };
    Ok(Observed { credentials, refusals, scaling })
}

/// The Nomad clients the autoscaler counts, as `nomad node status` lists them.
async fn ready_clients(access: &ClusterAccess) -> Result<usize, String> {
    let nodes = client_nodes(access).await.map_err(|error| nomad_failure(access.namespace(), &error).summary)?;
    Ok(count_ready(&nodes))
}

/// The clients that take work: ready, eligible, not draining.
fn count_ready(nodes: &[Node]) -> usize {
    nodes.iter().filter(|n| n.status == "ready" && n.eligibility == "eligible" && !n.drain).count()
}

/// What `secret.hcl` (as it is, or base64-encoded as the guide asks) says of the target, judged
/// against the cloud provider.
pub fn secret_credentials(secret: &Secret, cloud: Option<CloudProvider>) -> Result<String, String> {
    let data = secret.data.clone().unwrap_or_default();
    let Some(hcl) = data.get("secret.hcl") else {
        return Err(format!("Secret {CREDENTIALS_SECRET} has no key secret.hcl"));
    };
    let text = String::from_utf8_lossy(&hcl.0).into_owned();
    let decoded = STANDARD.decode(text.trim()).ok().map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let hcl = decoded.filter(|d| d.contains("target")).unwrap_or(text);
    let target =
        ["aws-asg", "gce-mig", "azure-vmss"].into_iter().find(|plugin| hcl.contains(&format!("target \"{plugin}\"")));
    let expected = match cloud {
        Some(CloudProvider::Aws) => Some("aws-asg"),
        Some(CloudProvider::Gcp) => Some("gce-mig"),
        _ => None,
    };
    match (target, expected) {
        (None, _) => Err(format!("secret.hcl of Secret {CREDENTIALS_SECRET} has no target block (aws-asg or gce-mig)")),
        (Some(found), Some(wanted)) if found != wanted => Err(format!(
            "secret.hcl of Secret {CREDENTIALS_SECRET} configures target {found}, but the cloud provider needs {wanted}"
        )),
        (Some("gce-mig"), _) if !data.contains_key("gcp_sa.json") => {
            Err(format!("Secret {CREDENTIALS_SECRET} configures gce-mig but has no gcp_sa.json"))
        }
        (Some(found), _) => Ok(format!("Secret {CREDENTIALS_SECRET}, target {found}")),
    }
}

causes! {
    StatedBy::Checks(&[ids::AUTOSCALER]) => {
        AUTOSCALER_NOT_READY:
            "the autoscaler is not running: Nomad clients do not scale with the load (and from zero, no job runs)",
            "`kubectl -n {namespace} describe pod {pod}` and `kubectl -n {namespace} logs {pod}` say why";
        /// The refused call is `DescribeInstanceRefreshes`, which the install guide's policy lacks.
        INSTANCE_REFRESHES_REFUSED:
            "the cloud refuses the autoscaler's calls: the Nomad client group is not scaled",
            "add `autoscaling:DescribeInstanceRefreshes` to the autoscaler's IAM policy (the install guide's policy lacks it), then restart its pod";
        AUTOSCALER_REFUSED:
            "the cloud refuses the autoscaler's calls: the Nomad client group is not scaled",
            "grant the autoscaler's role the permissions of the install guide's policy on the client group (or renew its keys in secret.hcl), then restart its pod";
        NO_TARGET_CREDENTIALS:
            "without keys or a role for the cloud's target (aws-asg, gce-mig), the autoscaler cannot scale the client group",
            "store secret.hcl with a `target \"aws-asg\"` (AWS) or `target \"gce-mig\"` block (GCP, with gcp_sa.json) in Secret {secret}, or bind its service account to a cloud role";
        BELOW_MINIMUM:
            "the autoscaler does not bring the client group up to its minimum (the cloud refuses it, or it targets another group), or the new instances do not join Nomad",
            "compare the group's desired and running capacity in the cloud (`aws autoscaling describe-auto-scaling-groups`, `gcloud compute instance-groups managed describe`) with the autoscaler's logs; instances that run but never join point at nomad::clients_ready";
        ABOVE_MAXIMUM:
            "clients outside the autoscaler's group joined Nomad, or the autoscaler does not scale in",
            "`nomad node status -verbose` names the clients; remove those that do not belong to the group, or raise nomad.auto_scaler.scaling.max in the release's values";
    }
}

/// Pass when the autoscaler has a ready pod, credentials for its target, and quiet logs.
pub fn judge_autoscaler(namespace: &str, autoscaler: &[Pod], observed: &Observed) -> Verdict {
    let refs: Vec<&Pod> = autoscaler.iter().collect();
    let states: Vec<PodState> = autoscaler.iter().map(PodState::of).collect();
    if !pods::any_ready(&refs) {
        return Verdict::Fail(
            Diagnosis::new("the Nomad autoscaler has no ready pod")
                .observed_all(states.iter().map(PodState::describe))
                .because(AUTOSCALER_NOT_READY.with(&[("namespace", &namespace), ("pod", &states[0].name)]))
                .phase(&phase::NOMAD_CLIENTS),
        );
    }
    if !observed.refusals.is_empty() {
        let instance_refreshes = observed.refusals.iter().any(|(_, line)| line.contains("DescribeInstanceRefreshes"));
        let cause = if instance_refreshes { &INSTANCE_REFRESHES_REFUSED } else { &AUTOSCALER_REFUSED };
        return Verdict::Fail(
            Diagnosis::new(format!(
                "the Nomad autoscaler's logs show {} cloud authorisation error(s)",
                observed.refusals.len()
            ))
            .observed_all(observed.refusals.iter().take(3).map(|(pod, line)| format!("{pod}: {line}")))
            .because(cause)
            .phase(&phase::NOMAD_CLIENTS),
        );
    }
    if let Some(Scaling { bounds, ready_clients: Ok(ready) }) = &observed.scaling
        && let Some(diagnosis) = out_of_bounds(*ready, *bounds)
    {
        return Verdict::Fail(diagnosis);
    }
    let scaling = match &observed.scaling {
        None => "no scaling bounds in the release's values".to_string(),
        Some(Scaling { bounds, ready_clients: Ok(ready) }) => {
            format!("{ready} clients ready, within scaling min {} and max {}", bounds.min, bounds.max)
        }
        Some(Scaling { bounds, ready_clients: Err(why) }) => {
            format!("scaling min {} and max {}, clients not counted ({why})", bounds.min, bounds.max)
        }
    };
    match &observed.credentials {
        Err(wrong) => Verdict::Fail(
            Diagnosis::new("the Nomad autoscaler has no credentials for its target")
                .observed(wrong.clone())
                .because(NO_TARGET_CREDENTIALS.with(&[("secret", &CREDENTIALS_SECRET)]))
                .phase(&phase::NOMAD_CLIENTS),
        ),
        Ok(credentials) => Verdict::Pass(format!(
            "pod ready; credentials: {credentials}; no cloud authorisation error in the last {LOG_LINES} log lines; {scaling}"
        )),
    }
}

/// Red when the ready clients lie outside the autoscaler's bounds.
fn out_of_bounds(ready: usize, bounds: ScalingBounds) -> Option<Diagnosis> {
    let ready_u64 = ready as u64;
    let observed = format!(
        "`nomad node status`: {ready} client(s) ready, eligible, not draining; the release's nomad.auto_scaler.scaling: min {}, max {}",
        bounds.min, bounds.max
    );
    let (summary, cause) = if ready_u64 < bounds.min {
        (
            format!("{ready} Nomad client(s) ready, fewer than the autoscaler's minimum of {}", bounds.min),
            &BELOW_MINIMUM,
        )
    } else if ready_u64 > bounds.max {
        (format!("{ready} Nomad client(s) ready, more than the autoscaler's maximum of {}", bounds.max), &ABOVE_MAXIMUM)
    } else {
        return None;
    };
    Some(Diagnosis::new(summary).observed(observed).because(cause).phase(&phase::NOMAD_CLIENTS))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;

    use super::*;
    use crate::clients::nomad::nodes::Driver;

    fn secret(entries: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(entries.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Secret::default()
        }
    }

    #[test]
    fn the_target_must_match_the_cloud() {
        let aws = STANDARD.encode("target \"aws-asg\" {\n  driver = \"aws-asg\"\n}\n");
        assert_eq!(
            secret_credentials(&secret(&[("secret.hcl", &aws)]), Some(CloudProvider::Aws)),
            Ok("Secret nomad-autoscaler-secret, target aws-asg".into())
        );
        let wrong = secret_credentials(&secret(&[("secret.hcl", &aws)]), Some(CloudProvider::Gcp)).unwrap_err();
        assert!(wrong.contains("configures target aws-asg, but the cloud provider needs gce-mig"), "{wrong}");
        let gcp = "target \"gce-mig\" { driver = \"gce-mig\" }";
        assert!(
            secret_credentials(&secret(&[("secret.hcl", gcp)]), Some(CloudProvider::Gcp))
                .unwrap_err()
                .contains("no gcp_sa.json")
        );
        assert!(
            secret_credentials(&secret(&[("secret.hcl", gcp), ("gcp_sa.json", "{}")]), Some(CloudProvider::Gcp))
                .is_ok()
        );
        let on_aws =
            secret_credentials(&secret(&[("secret.hcl", gcp), ("gcp_sa.json", "{}")]), Some(CloudProvider::Aws));
        assert!(on_aws.unwrap_err().contains("configures target gce-mig, but the cloud provider needs aws-asg"));
        assert!(secret_credentials(&secret(&[]), None).unwrap_err().contains("no key secret.hcl"));
    }

    #[test]
    fn only_ready_eligible_undrained_clients_count() {
        let node = |status: &str, eligibility: &str, drain: bool| Node {
            id: "1f3c0a52".into(),
            name: "nomad-client-1".into(),
            status: status.into(),
            eligibility: eligibility.into(),
            drain,
            class: String::new(),
            pool: "default".into(),
            raw_exec: Driver::Healthy,
            docker: Driver::Healthy,
            version: "1.7.7".into(),
        };
        assert_eq!(count_ready(&[]), 0);
        let nodes = [
            node("ready", "eligible", false),
            node("ready", "eligible", false),
            node("down", "eligible", false),
            node("ready", "ineligible", false),
            node("ready", "eligible", true),
            node("initializing", "ineligible", true),
        ];
        assert_eq!(count_ready(&nodes), 2);
    }

    fn autoscaler_pod(ready: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "nomad-autoscaler-7d9f-x2k4q"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [
                    {"name": "autoscaler", "ready": ready, "restartCount": 0, "image": "", "imageID": ""}
                ]
            }
        }))
        .unwrap()
    }

    fn quiet() -> Observed {
        Observed {
            credentials: Ok("Secret nomad-autoscaler-secret, target aws-asg".into()),
            refusals: Vec::new(),
            scaling: Some(Scaling { bounds: ScalingBounds { min: 1, max: 3 }, ready_clients: Ok(2) }),
        }
    }

    #[test]
    fn the_autoscaler_is_judged_on_its_pod_its_logs_its_bounds_and_its_credentials() {
        let ready = [autoscaler_pod(true)];
        let Verdict::Pass(note) = judge_autoscaler("circleci-server", &ready, &quiet()) else { panic!() };
        assert!(note.ends_with("2 clients ready, within scaling min 1 and max 3"), "{note}");

        let Verdict::Fail(down) = judge_autoscaler("circleci-server", &[autoscaler_pod(false)], &quiet()) else {
            panic!()
        };
        assert_eq!(down.summary, "the Nomad autoscaler has no ready pod");

        let refused = Observed {
            refusals: vec![("nomad-autoscaler-7d9f-x2k4q".into(), "AccessDenied: DescribeInstanceRefreshes".into())],
            ..quiet()
        };
        let Verdict::Fail(logs) = judge_autoscaler("circleci-server", &ready, &refused) else { panic!() };
        assert_eq!(logs.summary, "the Nomad autoscaler's logs show 1 cloud authorisation error(s)");
        assert!(logs.remediation.contains("autoscaling:DescribeInstanceRefreshes"), "{logs:?}");

        let beyond = Observed {
            scaling: Some(Scaling { bounds: ScalingBounds { min: 3, max: 5 }, ready_clients: Ok(2) }),
            ..quiet()
        };
        let Verdict::Fail(few) = judge_autoscaler("circleci-server", &ready, &beyond) else { panic!() };
        assert!(few.summary.starts_with("2 Nomad client(s) ready, fewer"), "{few:?}");

        let no_keys = Observed { credentials: Err("no Secret nomad-autoscaler-secret".into()), ..quiet() };
        let Verdict::Fail(keys) = judge_autoscaler("circleci-server", &ready, &no_keys) else { panic!() };
        assert_eq!(keys.summary, "the Nomad autoscaler has no credentials for its target");
    }

    #[test]
    fn ready_clients_outside_the_scaling_bounds_are_red() {
        let bounds = ScalingBounds { min: 2, max: 4 };
        assert_eq!(out_of_bounds(2, bounds), None);
        assert_eq!(out_of_bounds(4, bounds), None);
        let below = out_of_bounds(1, bounds).expect("below the minimum");
        insta::assert_debug_snapshot!(below);
        let above = out_of_bounds(5, bounds).expect("above the maximum");
        assert_eq!(above.summary, "5 Nomad client(s) ready, more than the autoscaler's maximum of 4");
        assert!(above.remediation.contains("raise nomad.auto_scaler.scaling.max"), "{above:?}");
    }
}
