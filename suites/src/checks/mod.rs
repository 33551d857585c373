//! The checks of realitycheck, by suite, and the preflights they need. Each suite module
//! holds its checks' bodies, the pure functions that judge what the bodies observed, and the
//! causes of red they state ([`cause`]; all of them: [`causes`]).

pub mod api;
pub mod autoscaler;
pub mod cause;
pub mod cluster;
pub mod contexts;
pub mod executors;
pub mod features;
pub mod ids;
mod jobs;
pub mod mtls;
pub mod nomad;
pub mod oidc;
pub mod pipeline;
pub mod provisioner;
pub mod upgrade;

use std::borrow::Borrow;
use std::future::Future;
use std::sync::Arc;

use harness::{
    Applicability, Check, CheckKind, CheckSpec, Diagnosis, Observation, Preflight, Scope, SkipReason, Tag, Verdict,
};
use realitycheck_config::Target;
use realitycheck_project::Job;

use self::cause::{Because, Cause, StatedBy, causes};
use crate::RealityCheck;
use crate::clients::certs::Certificate;
use crate::clients::circleci::Retry;
use crate::clients::cluster::{Answer, ClusterError};
use crate::phase;
use crate::resources::api::{ApiAccess, ProjectAccess};
use crate::resources::cluster::ClusterAccess;
use crate::resources::pipeline::PipelineAccess;
use crate::resources::{Requires, Resources, applicability};

/// Every check for `target`, in the order reports list them: one `resource_classes::` check
/// per docker resource class the target configures.
pub fn all(target: &Target) -> Vec<Check<RealityCheck>> {
    let mut checks = vec![
        cluster::pods_ready(),
        cluster::helm_release(),
        cluster::kubernetes_version(),
        nomad::servers_alive(),
        nomad::clients_ready(),
        mtls::mtls(),
        nomad::gossip_key(),
        autoscaler::autoscaler(),
        provisioner::config(),
        api::authenticated(),
        api::tls_certificate(),
        api::project(),
        contexts::org_global(),
        contexts::individual_local(),
        pipeline::trigger(),
        executors::docker(),
        executors::machine(),
        executors::remote_docker(),
        executors::runner(target.pipeline.runner_resource_class.as_deref()),
        executors::arm(),
        executors::windows(),
        executors::android(),
        executors::remote_docker_dlc(),
        executors::machine_dlc(),
    ];
    checks.extend(target.pipeline.docker_resource_classes.iter().map(|class| executors::docker_resource_class(class)));
    checks.extend([
        features::contexts(),
        features::workspaces(),
        features::cache(),
        features::artifacts(),
        features::test_results(),
        features::checkout(),
        features::env_subst(),
        oidc::oidc_token(),
    ]);
    checks
}

/// Every cause of red a check can state, with its fix: the catalogue `realitycheck explain`'s
/// tests hold against the checks' pages.
pub fn causes() -> Vec<&'static Cause> {
    [
        CAUSES,
        api::CAUSES,
        autoscaler::CAUSES,
        cluster::CAUSES,
        contexts::CAUSES,
        executors::CAUSES,
        features::CAUSES,
        jobs::CAUSES,
        mtls::CAUSES,
        nomad::CAUSES,
        oidc::CAUSES,
        pipeline::CAUSES,
        provisioner::CAUSES,
        upgrade::CAUSES,
    ]
    .concat()
}

/// Reachability checks run before any check that needs them; a failure ends the run (exit 3).
pub fn preflights() -> Vec<Preflight<RealityCheck>> {
    vec![
        Preflight::new(
            "kubernetes-api",
            Tag::NeedsCluster,
            CheckKind::Cluster,
            |resources: Arc<Resources>| async move {
                let cluster = resources.cluster.client().await.map_err(|e| {
                    format!("{e}; check KUBECONFIG, --kube-context and that the cluster is reachable from here")
                })?;
                let version = cluster.version().await.map_err(|e| {
                    format!("{e}; check the kubeconfig context, VPN or network path, and the API server")
                })?;
                Ok(format!("Kubernetes {version} at {}, namespace {}", cluster.url(), cluster.namespace()))
            },
        ),
        Preflight::new("circleci-api", Tag::NeedsApi, CheckKind::Api, api::preflight),
    ]
}

/// The name of the observation of a certificate's end of validity, in Unix seconds, as the
/// certificate checks record it (whatever their verdict) and metrics export it.
pub const CERTIFICATE_EXPIRY: &str = "certificate_expiry_timestamp_seconds";

/// The name of the observation of how long a job waited from queued to started, in whole
/// seconds, as the executor checks record it (subject: the executor) and `serve`'s canary
/// exports it.
pub const JOB_WAIT: &str = "job_wait_seconds";

/// The name of the observation of how long a job ran from started to stopped, in whole
/// seconds, as the executor checks record it (subject: the executor).
pub const JOB_RUN: &str = "job_run_seconds";

/// The observation that the certificate `subject` names (`nomad-mtls cert.pem`, a host) ends
/// its validity at `certificate`'s `not_after`.
pub(crate) fn certificate_expiry(subject: impl Into<String>, certificate: &Certificate) -> Observation {
    Observation::new(CERTIFICATE_EXPIRY, subject, certificate.not_after)
}

/// What a check body ends with: its verdict, or the verdict that ended it early (`?` on a
/// failed call, with the verdict the call's failure stands for). Both are the check's verdict.
pub(crate) type CheckOutcome = Result<Verdict, Verdict>;

/// What the project checks are handed: the API and the project.
#[derive(Clone)]
pub(crate) struct ProjectHandles {
    pub api: ApiAccess,
    pub project: ProjectAccess,
}

/// What the pipeline checks are handed: the jobs they declared, the run's pipeline, and the
/// API and the cluster to correlate a stuck job with its cause.
#[derive(Clone)]
pub(crate) struct PipelineHandles {
    pub jobs: Arc<[Job]>,
    pub pipeline: PipelineAccess,
    pub api: ApiAccess,
    pub project: ProjectAccess,
    pub cluster: ClusterAccess,
}

/// A check of the Kubernetes API (`cluster::`, `nomad::`).
pub(crate) fn cluster_check<F, Fut>(id: &str, summary: &str, body: F) -> Check<RealityCheck>
where
    F: Fn(ClusterAccess, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    kubernetes_check(id, summary, Requires::Cluster, body)
}

/// A check of the machine provisioner's workloads, for AWS and GCP installs.
pub(crate) fn machine_provisioner_check<F, Fut>(id: &str, summary: &str, body: F) -> Check<RealityCheck>
where
    F: Fn(ClusterAccess, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    kubernetes_check(id, summary, Requires::MachineProvisioner, body)
}

/// A check handed the Kubernetes API, that `requires` it (on any install, or on some).
fn kubernetes_check<F, Fut>(id: &str, summary: &str, requires: Requires, body: F) -> Check<RealityCheck>
where
    F: Fn(ClusterAccess, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let spec = CheckSpec::new(id, CheckKind::Cluster, summary).tagged(Tag::NeedsCluster);
    declare(spec, requires, |resources| Some(resources.cluster.clone()), body)
}

/// A check of the CircleCI API alone.
pub(crate) fn api_check<F, Fut>(id: &str, summary: &str, body: F) -> Check<RealityCheck>
where
    F: Fn(ApiAccess, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let spec = CheckSpec::new(id, CheckKind::Api, summary).tagged(Tag::NeedsApi);
    declare(spec, Requires::Api, |resources| resources.api.clone(), body)
}

/// A check of the certificate of the CircleCI API (`https://` hosts).
pub(crate) fn tls_check<F, Fut>(id: &str, summary: &str, body: F) -> Check<RealityCheck>
where
    F: Fn(ApiAccess, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let spec = CheckSpec::new(id, CheckKind::Api, summary).tagged(Tag::NeedsApi);
    declare(spec, Requires::HttpsApi, |resources| resources.api.clone(), body)
}

/// A check of the realitycheck project through the CircleCI API.
pub(crate) fn project_check<F, Fut>(id: &str, summary: &str, body: F) -> Check<RealityCheck>
where
    F: Fn(ProjectHandles, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let spec = CheckSpec::new(id, CheckKind::Api, summary).tagged(Tag::NeedsApi);
    declare(spec, Requires::Project, project_handles, body)
}

/// A check that waits for `jobs` of the run's pipeline (none: for the pipeline itself).
pub(crate) fn pipeline_check<F, Fut>(id: &str, summary: &str, jobs: Vec<Job>, body: F) -> Check<RealityCheck>
where
    F: Fn(PipelineHandles, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let declared: Arc<[Job]> = jobs.clone().into();
    let pick = move |resources: &Resources| {
        let ProjectHandles { api, project } = project_handles(resources)?;
        let (pipeline, cluster) = (resources.pipeline.clone()?, resources.cluster.clone());
        Some(PipelineHandles { jobs: Arc::clone(&declared), pipeline, api, project, cluster })
    };
    declare(pipeline_spec(id, summary), Requires::Pipeline(jobs), pick, body)
}

/// A pipeline check whose job needs a setting that is absent (`reason` says which): it is
/// not configured, and says so when asked for anyway.
pub(crate) fn unconfigured_pipeline_check(id: &str, summary: &str, reason: String) -> Check<RealityCheck> {
    declare(
        pipeline_spec(id, summary),
        Requires::UnconfiguredJob(reason),
        |_| None::<()>,
        |(), _| async { Err(Verdict::Fail(Diagnosis::new("the check ran without its setting").because(&BUG))) },
    )
}

/// The kind and tags of a pipeline check.
fn pipeline_spec(id: &str, summary: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Pipeline, summary).tagged(Tag::Mutates).tagged(Tag::NeedsApi)
}

fn project_handles(resources: &Resources) -> Option<ProjectHandles> {
    Some(ProjectHandles { api: resources.api.clone()?, project: resources.project.clone()? })
}

/// The most a check keeps of its time to report after its API reads stopped retrying.
const REPORT_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The one place where a check's declaration meets the run's resources: a check whose
/// settings are missing is skipped as not configured (also when `--include-ignored` asks for
/// it); any other gets the typed handles its declaration promised, the verdict its body ended
/// with, early or not, and API reads that stop retrying before its deadline.
fn declare<T, P, F, Fut>(spec: CheckSpec, requires: Requires, pick: P, body: F) -> Check<RealityCheck>
where
    T: Send + 'static,
    P: Fn(&Resources) -> Option<T> + Send + Sync + 'static,
    F: Fn(T, Scope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    let declared = requires.clone();
    let body = Arc::new(body);
    let pick = Arc::new(pick);
    Check::new(spec, requires, move |resources: Arc<Resources>, scope| {
        let (body, pick) = (Arc::clone(&body), Arc::clone(&pick));
        let handed = match applicability(resources.target(), &declared) {
            Applicability::NotConfigured(why) => Err(Verdict::Skip(SkipReason::NotConfigured(why))),
            _ => pick(&resources).ok_or_else(|| {
                Verdict::Fail(Diagnosis::new("the run prepared no resources for the check").because(&BUG))
            }),
        };
        // The check keeps a tenth of its time (5 s at most) to report: its API reads stop
        // retrying before then.
        let calls_until = scope.deadline.checked_sub((scope.timeout / 10).min(REPORT_MARGIN)).unwrap_or(scope.deadline);
        let checked = async move {
            let outcome = match handed {
                Ok(handed) => body(handed, scope).await,
                Err(verdict) => Err(verdict),
            };
            outcome.unwrap_or_else(|ended_early| ended_early)
        };
        crate::clients::circleci::calls_until(calls_until, checked)
    })
}

/// ` (after 2 retries: GET /api/v2/me 503: ..., ...)` for a pass note, empty without retries.
pub(crate) fn retries_note(retries: &[Retry]) -> String {
    match retries {
        [] => String::new(),
        _ => {
            let list: Vec<String> = retries
                .iter()
                .map(|r| format!("{} {} (waited {})", r.call, r.reason, harness::humanize(r.wait)))
                .collect();
            let count = if retries.len() == 1 { "1 retry".to_string() } else { format!("{} retries", retries.len()) };
            format!(" (after {count}: {})", list.join("; "))
        }
    }
}

/// The skip of a check that may not read Secrets (403): the Role rule to add, and how to check
/// it. Reading Secrets is optional: never a red.
pub(crate) fn secrets_forbidden(error: &ClusterError) -> Option<Verdict> {
    forbidden_read(error).map(|reason| Verdict::Skip(SkipReason::NotConfigured(reason)))
}

/// What a read refused with 403 lacks, with the Role rule to add and the line that verifies it;
/// `None` when the read failed otherwise.
pub(crate) fn forbidden_read(error: &ClusterError) -> Option<String> {
    Some(match error {
        ClusterError::ListSecrets { namespace, answer: Answer::Forbidden, .. } => format!(
            "this identity may not list Secrets in namespace `{namespace}`: add the Role rule `{{apiGroups: [\"\"], resources: [\"secrets\"], verbs: [\"list\"]}}` in that namespace (check: `kubectl auth can-i list secrets -n {namespace}`)"
        ),
        ClusterError::GetSecret { name, namespace, answer: Answer::Forbidden, .. } => format!(
            "this identity may not read Secret `{name}` in namespace `{namespace}`: add the Role rule `{{apiGroups: [\"\"], resources: [\"secrets\"], resourceNames: [\"{name}\"], verbs: [\"get\"]}}` in that namespace (check: `kubectl auth can-i get secret/{name} -n {namespace}`)"
        ),
        ClusterError::Read { what, namespace, rule, answer: Answer::Forbidden, .. } => format!(
            "this identity may not read {what} in namespace `{namespace}`: add the Role rule `{rule}` in that namespace"
        ),
        _ => return None,
    })
}

/// The verdict of a failed read that a check may be refused (Secrets, logs, service
/// accounts): the skip of [`secrets_forbidden`] on a 403, else the failure.
pub(crate) fn optional_read_failed(error: impl Borrow<ClusterError>) -> Verdict {
    secrets_forbidden(error.borrow()).unwrap_or_else(|| cluster_failed(error))
}

/// The verdict of a Kubernetes API failure: [`cluster_failure`].
pub(crate) fn cluster_failed(error: impl Borrow<ClusterError>) -> Verdict {
    Verdict::Fail(cluster_failure(error.borrow()))
}

causes! {
    StatedBy::Shared("Kubernetes access") => {
        PODS_REFUSED:
            "the API refused the pod list: this identity lacks the RBAC permission",
            "grant `list` on pods in the namespace to this identity (`kubectl auth can-i list pods -n {namespace}`)";
        NO_NAMESPACE:
            "the namespace `{namespace}` does not exist on this cluster",
            "`kubectl get namespaces` lists them; give the release's namespace with --namespace, or pick the right cluster with --kube-context";
        NOT_KUBERNETES:
            "what answered at {url} is not a Kubernetes API server: a proxy, a login page or another service",
            "check the server address of the kubeconfig's cluster (`kubectl config view --minify`) and any proxy in between";
        PODS_FAILED:
            "the API server failed the pod list",
            "`kubectl -n {namespace} get pods` shows whether the API server answers; check its health and the network path";
        EXEC_FAILED:
            "the exec into the pod failed: missing RBAC permission, or the pod or container went away",
            "grant `get` and `create` on pods/exec in the namespace (`kubectl auth can-i create pods/exec -n {namespace}`), and check the pod";
        READ_FAILED:
            "the API failed the read",
            "check that namespace {namespace} exists and that the API server is healthy (`kubectl get namespace {namespace}`, then the read the summary names, with kubectl)";
        CLUSTER_UNUSABLE:
            "the Kubernetes API could not be used",
            "check KUBECONFIG, --kube-context and the network path to the API server";
    }
    StatedBy::Shared("A bug in realitycheck") => {
        /// A check met a state its code holds impossible: nothing in the installation is to blame.
        BUG: "a bug in realitycheck", "";
    }
}

/// A Kubernetes API failure met by a check after the preflight passed (RBAC, a pod gone).
pub(crate) fn cluster_failure(error: &ClusterError) -> Diagnosis {
    let diagnosis = Diagnosis::new(error.to_string()).phase(&phase::KUBERNETES_ACCESS);
    diagnosis.because(match error {
        ClusterError::ListPods { namespace, answer: Answer::Unauthorized | Answer::Forbidden, .. } => {
            PODS_REFUSED.with(&[("namespace", namespace)])
        }
        ClusterError::ListPods { namespace, answer: Answer::NotFound, .. } => {
            NO_NAMESPACE.with(&[("namespace", namespace)])
        }
        ClusterError::ListPods { url, answer: Answer::NotKubernetes, .. } => NOT_KUBERNETES.with(&[("url", url)]),
        ClusterError::ListPods { namespace, answer: Answer::Failed, .. } => {
            PODS_FAILED.with(&[("namespace", namespace)])
        }
        ClusterError::Exec { namespace, .. } => EXEC_FAILED.with(&[("namespace", namespace)]),
        ClusterError::ListSecrets { namespace, .. }
        | ClusterError::GetSecret { namespace, .. }
        | ClusterError::Read { namespace, .. } => READ_FAILED.with(&[("namespace", namespace)]),
        ClusterError::Config { .. } | ClusterError::Unreachable { .. } => CLUSTER_UNUSABLE.with(&[]),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn retry(call: &str, reason: &str, wait_ms: u64) -> Retry {
        Retry { call: call.into(), attempt: 1, reason: reason.into(), wait: Duration::from_millis(wait_ms) }
    }

    #[test]
    fn the_retries_note_lists_every_retry_with_its_wait() {
        assert_eq!(retries_note(&[]), "");
        assert_eq!(
            retries_note(&[retry("GET /api/v2/me", "503: upstream unavailable", 500)]),
            " (after 1 retry: GET /api/v2/me 503: upstream unavailable (waited 500ms))"
        );
        let two = [
            retry("GET /api/v2/me", "503: upstream unavailable", 500),
            retry("GET /api/v2/context", "429 Retry-After 1s: Rate limited.", 1000),
        ];
        assert_eq!(
            retries_note(&two),
            " (after 2 retries: GET /api/v2/me 503: upstream unavailable (waited 500ms); GET /api/v2/context 429 Retry-After 1s: Rate limited. (waited 1s))"
        );
    }

    fn skip_reason(error: &ClusterError) -> Option<String> {
        match secrets_forbidden(error) {
            Some(Verdict::Skip(SkipReason::NotConfigured(reason))) => Some(reason),
            None => None,
            other => panic!("not a not-configured skip: {other:?}"),
        }
    }

    #[test]
    fn a_forbidden_secret_read_is_a_skip_naming_the_rule_and_other_failures_are_not() {
        let (namespace, url, message) = ("circleci-server".to_string(), "https://k8s".to_string(), "403".to_string());
        let list = |answer| ClusterError::ListSecrets {
            namespace: namespace.clone(),
            url: url.clone(),
            message: message.clone(),
            answer,
        };
        let get = |answer| ClusterError::GetSecret {
            name: "nomad-mtls".into(),
            namespace: namespace.clone(),
            url: url.clone(),
            message: message.clone(),
            answer,
        };
        let log = |answer| ClusterError::Read {
            what: "the log of pod nomad-autoscaler-0".into(),
            namespace: namespace.clone(),
            message: message.clone(),
            answer,
            rule: "{apiGroups: [\"\"], resources: [\"pods/log\"], verbs: [\"get\"]}".into(),
        };
        let reason = skip_reason(&list(Answer::Forbidden)).unwrap();
        assert!(reason.contains("verbs: [\"list\"]"), "{reason}");
        assert!(reason.contains("kubectl auth can-i list secrets -n circleci-server"), "{reason}");
        let reason = skip_reason(&get(Answer::Forbidden)).unwrap();
        assert!(reason.contains("resourceNames: [\"nomad-mtls\"]"), "{reason}");
        assert!(reason.contains("kubectl auth can-i get secret/nomad-mtls -n circleci-server"), "{reason}");
        let reason = skip_reason(&log(Answer::Forbidden)).unwrap();
        assert!(reason.starts_with("this identity may not read the log of pod nomad-autoscaler-0"), "{reason}");
        assert!(reason.contains("resources: [\"pods/log\"]"), "{reason}");

        for answer in [Answer::Unauthorized, Answer::NotFound, Answer::NotKubernetes, Answer::Failed] {
            for error in [list(answer), get(answer), log(answer)] {
                assert_eq!(skip_reason(&error), None, "{error}");
            }
        }
    }
}
