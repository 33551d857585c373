//! The evidence of red checks ([`harness::Suite::collect`]), gathered after the checks and
//! before the run's end cancels its workflows: what each red check implicates, read again while
//! it is still there.
//!
//! - every red check of the cluster, Nomad, the machine provisioner or a job: the release's pods
//!   as `kubectl get pods` sees them;
//! - a red `nomad::` check, a failure in the Nomad phases, or a red job that Nomad clients run
//!   (docker jobs, remote docker): `nomad node status -json` and `nomad server members -json`
//!   as the checks read them; a Nomad server failure also the Nomad server pods;
//! - the machine provisioner (its check, or a job that needs a VM), the Nomad autoscaler: their
//!   pods;
//! - `cluster::pods_ready` and the Helm phase: the pods that are not Running and Ready;
//! - a red pipeline check: the output of every step of its jobs (where the checks read the
//!   failing step's), and the API answers behind its verdict; an API check: those answers.
//!
//! Of each implicated pod: its status (no spec beyond containers and images: environment
//! values may be secrets), the events the API server holds about it, and its last
//! [`LOG_LINES`] log lines. Secrets and Helm records are never read here.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use harness::{CheckKind, CheckResult, Evidence, EvidenceFile, Outcome};
use k8s_openapi::api::core::v1::{Event, Pod};
use realitycheck_project::{Job, Needs};
use serde_json::{Value, json};

use crate::checks::ids;
use crate::clients::circleci::ApiClient;
use crate::clients::cluster::Cluster;
use crate::clients::pods::component::{AUTOSCALER, MACHINE_PROVISIONER};
use crate::clients::pods::{self, PodState};
use crate::phase;
use crate::resources::nomad::NomadRoute;
use crate::resources::{Requires, Resources};

/// How many of an implicated pod's last log lines are gathered.
pub const LOG_LINES: i64 = 500;

/// Bytes of a pod's log or a step's output gathered at most: the end is kept.
pub const MAX_TEXT: usize = 512 * 1024;

/// Implicated pods gathered at most (their status, events and logs).
const MAX_PODS: usize = 24;

/// Steps of one job whose output is gathered at most.
const MAX_STEPS: usize = 30;

/// What one red check implicates.
#[derive(Debug, Default)]
struct Implicated {
    /// Any pod of the release: the pods overview.
    cluster: bool,
    /// The Nomad CLI's outputs.
    nomad: bool,
    /// The Nomad server pods.
    nomad_servers: bool,
    /// Components whose pods are gathered.
    components: Vec<&'static str>,
    /// The pods that are not Running and Ready.
    unready: bool,
    /// Jobs whose steps' output is gathered.
    jobs: Vec<Job>,
    /// The API's answers.
    api: bool,
}

/// What `result` (red) implicates; `requires` is what its check declared (the jobs it waits
/// for).
fn implicated(result: &CheckResult, requires: &Requires) -> Implicated {
    let id = result.spec.id.as_str();
    let failed_in = match &result.outcome {
        Outcome::Failed { diagnosis } => diagnosis.phase,
        _ => None,
    };
    let mut found = Implicated { api: result.spec.kind != CheckKind::Cluster, ..Implicated::default() };
    if let Requires::Pipeline(jobs) = requires {
        found.jobs.clone_from(jobs);
    }
    let servers = matches!(failed_in, Some(&phase::NOMAD_SERVERS | &phase::NOMAD_MTLS));
    found.nomad_servers = servers || (id.starts_with("nomad::") && id != ids::AUTOSCALER);
    let on_nomad = |job: &Job| matches!(job.needs, Needs::NomadClient | Needs::NomadClientAndMachineProvisioner);
    found.nomad = found.nomad_servers
        || id.starts_with("nomad::")
        || failed_in == Some(&phase::NOMAD_CLIENTS)
        || found.jobs.iter().any(on_nomad);
    if id == ids::AUTOSCALER || failed_in == Some(&phase::NOMAD_CLIENTS) {
        found.components.push(AUTOSCALER);
    }
    if id == ids::MACHINE_PROVISIONER_CONFIG || failed_in == Some(&phase::MACHINE_PROVISIONER) {
        found.components.push(MACHINE_PROVISIONER);
    }
    if id == ids::PODS_READY || id == ids::HELM_RELEASE || failed_in == Some(&phase::HELM_INSTALL) {
        found.unready = true;
    }
    found.cluster = result.spec.kind == CheckKind::Cluster
        || found.nomad
        || !found.components.is_empty()
        || found.unready
        || !found.jobs.is_empty();
    found
}

/// Who supports what: for each piece of evidence, the red checks that implicate it.
#[derive(Debug, Default)]
struct Wanted {
    cluster: BTreeSet<String>,
    nomad: BTreeSet<String>,
    nomad_servers: BTreeSet<String>,
    components: BTreeMap<&'static str, BTreeSet<String>>,
    unready: BTreeSet<String>,
    /// By job name: the job and the checks.
    jobs: BTreeMap<String, (Job, BTreeSet<String>)>,
    api: BTreeSet<String>,
}

impl Wanted {
    fn of(red: &[(&CheckResult, &Requires)]) -> Wanted {
        let mut wanted = Wanted::default();
        for (result, requires) in red {
            let id = result.spec.id.clone();
            let found = implicated(result, requires);
            let add = |set: &mut BTreeSet<String>, yes: bool| {
                if yes {
                    set.insert(id.clone());
                }
            };
            add(&mut wanted.cluster, found.cluster);
            add(&mut wanted.nomad, found.nomad);
            add(&mut wanted.nomad_servers, found.nomad_servers);
            add(&mut wanted.unready, found.unready);
            add(&mut wanted.api, found.api);
            for component in found.components {
                wanted.components.entry(component).or_default().insert(id.clone());
            }
            for job in found.jobs {
                wanted.jobs.entry(job.name.clone()).or_insert_with(|| (job, BTreeSet::new())).1.insert(id.clone());
            }
        }
        wanted
    }
}

/// The evidence of the `red` checks, each with what it declared.
pub(crate) async fn gather(resources: &Resources, red: &[(&CheckResult, &Requires)]) -> Evidence {
    let wanted = Wanted::of(red);
    let mut evidence = Evidence::default();
    // The answers behind the verdicts, before this gathering asks anything more.
    let answers = resources.api.as_ref().map(|api| api.client().answers());
    if !wanted.cluster.is_empty() {
        evidence.extend(kubernetes(resources, &wanted).await);
    }
    if !wanted.nomad.is_empty() {
        evidence.extend(nomad(resources, &wanted.nomad).await);
    }
    if !wanted.jobs.is_empty() {
        evidence.extend(jobs(resources, &wanted.jobs).await);
    }
    match answers {
        Some(answers) if !wanted.api.is_empty() => {
            let content = serde_json::to_vec_pretty(&answers).unwrap_or_default();
            evidence.add(EvidenceFile::new(
                "circleci/api-answers.json",
                format!(
                    "the {} latest answers of the CircleCI API during the run, as the checks read them (token and presigned URLs' queries removed)",
                    answers.len()
                ),
                list(&wanted.api),
                content,
            ));
        }
        None if !wanted.api.is_empty() => evidence.note("no CircleCI API answers: the run had no API client"),
        _ => {}
    }
    evidence
}

fn list(ids: &BTreeSet<String>) -> Vec<String> {
    ids.iter().cloned().collect()
}

/// The pods overview and each implicated pod's status, events and log.
async fn kubernetes(resources: &Resources, wanted: &Wanted) -> Evidence {
    let mut evidence = Evidence::default();
    let cluster = match resources.cluster.client().await {
        Ok(cluster) => cluster,
        Err(error) => {
            evidence.note(format!("nothing gathered from Kubernetes: {error}"));
            return evidence;
        }
    };
    let all = match cluster.pods(None).await {
        Ok(all) => all,
        Err(error) => {
            evidence.note(format!("nothing gathered from Kubernetes: {error}"));
            return evidence;
        }
    };
    let overview: String = all.iter().map(|pod| format!("{}\n", PodState::of(pod).describe())).collect();
    evidence.add(EvidenceFile::new(
        "kubernetes/pods.txt",
        format!("the {} pods of namespace {}: state, ready containers, restarts", all.len(), cluster.namespace()),
        list(&wanted.cluster),
        overview.into_bytes(),
    ));

    let mut implicated: BTreeMap<String, (&Pod, BTreeSet<String>)> = BTreeMap::new();
    for (component, ids) in &wanted.components {
        implicate(&mut implicated, pods::of_component(&all, component), ids);
    }
    if !wanted.unready.is_empty() {
        let unready = all.iter().filter(|pod| {
            let state = PodState::of(pod);
            state.phase != "Succeeded" && !(state.phase == "Running" && state.ready)
        });
        implicate(&mut implicated, unready, &wanted.unready);
    }
    if !wanted.nomad_servers.is_empty() {
        let selector = resources.cluster.nomad_settings().server_selector.as_str();
        match cluster.pods(Some(selector)).await {
            Ok(servers) => {
                let names: BTreeSet<Option<String>> = servers.iter().map(|p| p.metadata.name.clone()).collect();
                let servers = all.iter().filter(|p| names.contains(&p.metadata.name));
                implicate(&mut implicated, servers, &wanted.nomad_servers);
            }
            Err(error) => evidence.note(format!("the Nomad server pods (`{selector}`) could not be listed: {error}")),
        }
    }
    if implicated.len() > MAX_PODS {
        evidence.note(format!(
            "{} pods are implicated; the status, events and log of the first {MAX_PODS} by name are gathered",
            implicated.len()
        ));
    }
    let gathered = join_all(
        implicated.into_iter().take(MAX_PODS).map(|(name, (pod, supports))| of_pod(cluster, name, pod, supports)),
    )
    .await;
    for pod_evidence in gathered {
        evidence.extend(pod_evidence);
    }
    evidence
}

/// Adds `pods` to the `implicated` ones, supporting the checks `ids`.
fn implicate<'a>(
    implicated: &mut BTreeMap<String, (&'a Pod, BTreeSet<String>)>,
    pods: impl IntoIterator<Item = &'a Pod>,
    ids: &BTreeSet<String>,
) {
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (_, supports) = implicated.entry(name).or_insert_with(|| (pod, BTreeSet::new()));
        supports.extend(ids.iter().cloned());
    }
}

/// The status, events and log of one implicated pod.
async fn of_pod(cluster: &Cluster, name: String, pod: &Pod, supports: BTreeSet<String>) -> Evidence {
    let mut evidence = Evidence::default();
    let supports = list(&supports);
    let dir = format!("kubernetes/pods/{name}");
    let status = json!({
        "metadata": {
            "name": pod.metadata.name,
            "namespace": pod.metadata.namespace,
            "labels": pod.metadata.labels,
            "ownerReferences": pod.metadata.owner_references,
            "creationTimestamp": pod.metadata.creation_timestamp,
        },
        "spec": {
            "nodeName": pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            "serviceAccountName": pod.spec.as_ref().and_then(|s| s.service_account_name.clone()),
            "containers": pod.spec.as_ref().map(|s| containers(&s.containers)),
            "initContainers": pod.spec.as_ref().and_then(|s| s.init_containers.as_deref()).map(containers),
        },
        "status": pod.status,
    });
    evidence.add(EvidenceFile::new(
        format!("{dir}/status.json"),
        format!("pod {name}: its status, node, service account and images (no environment: it may hold secrets)"),
        supports.clone(),
        serde_json::to_vec_pretty(&status).unwrap_or_default(),
    ));
    let (events, log) = tokio::join!(cluster.pod_events(&name), cluster.logs(&name, LOG_LINES));
    match events {
        Ok(events) => evidence.add(EvidenceFile::new(
            format!("{dir}/events.json"),
            match events.len() {
                0 => format!(
                    "no event the API server holds about pod {name}: nothing happened to the pod within its event retention (an hour by default)"
                ),
                n => format!("the {n} events the API server holds about pod {name} (it keeps them an hour by default)"),
            },
            supports.clone(),
            serde_json::to_vec_pretty(&events.iter().map(event).collect::<Vec<_>>()).unwrap_or_default(),
        )),
        Err(error) => evidence.note(format!("the events of pod {name} were not read: {error}")),
    }
    match log {
        Ok(log) => {
            let lines = log.lines().count();
            let (kept, cut) = tail(&log, MAX_TEXT);
            let mut file = EvidenceFile::new(
                format!("{dir}/log.txt"),
                format!("the last {lines} lines pod {name} logged (at most {LOG_LINES})"),
                supports,
                kept.into_bytes(),
            );
            if cut {
                file = file.truncated(format!("the last {MAX_TEXT} bytes of the log's last {LOG_LINES} lines"));
            } else if lines as i64 >= LOG_LINES {
                file = file.truncated(format!("the last {LOG_LINES} lines of the log"));
            }
            evidence.add(file);
        }
        Err(error) => evidence.note(format!("the log of pod {name} was not read: {error}")),
    }
    evidence
}

fn containers(containers: &[k8s_openapi::api::core::v1::Container]) -> Value {
    containers.iter().map(|c| json!({"name": c.name, "image": c.image})).collect()
}

/// An event as `kubectl describe` lists it.
fn event(event: &Event) -> Value {
    json!({
        "type": event.type_,
        "reason": event.reason,
        "message": event.message,
        "count": event.count,
        "firstTimestamp": event.first_timestamp,
        "lastTimestamp": event.last_timestamp,
        "source": event.source.as_ref().and_then(|s| s.component.clone()),
        "object": event.involved_object.field_path,
    })
}

/// The end of `text`, at most `max` bytes from a line's start; whether it was cut.
fn tail(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let from = text[start..].find('\n').map_or(start, |newline| start + newline + 1);
    (text[from..].to_string(), true)
}

/// `nomad node status -json` and `nomad server members -json` in a Nomad server pod; with
/// servers outside the cluster, a note of where their API is (the checks' reads of it are in
/// their diagnoses).
async fn nomad(resources: &Resources, supports: &BTreeSet<String>) -> Evidence {
    let mut evidence = Evidence::default();
    let access = &resources.cluster;
    let servers = match access.nomad().await {
        Ok(servers) => servers,
        Err(error) => {
            evidence.note(format!(
                "no nomad CLI output gathered: {}",
                crate::checks::nomad::nomad_failure(access.namespace(), &error).summary
            ));
            return evidence;
        }
    };
    let (cluster, pod) = match servers.route {
        NomadRoute::Pod(pod) => (servers.cluster, pod.as_str()),
        NomadRoute::Http { .. } => {
            evidence.note(format!(
                "the Nomad servers run outside the cluster: no nomad CLI output gathered; `NOMAD_ADDR={} NOMAD_CACERT=ca.pem NOMAD_TLS_SERVER_NAME=server.global.nomad nomad node status -json` (ca.pem of Secret nomad-mtls) shows the nodes",
                servers.route.describe()
            ));
            return evidence;
        }
    };
    for (file, args) in [("node-status", ["node", "status"]), ("server-members", ["server", "members"])] {
        let command = ["nomad", args[0], args[1], "-json"];
        let shown = command.join(" ");
        match cluster.exec(pod, &command).await {
            Ok(output) if output.exit_code == 0 => evidence.add(EvidenceFile::new(
                format!("nomad/{file}.json"),
                format!("`{shown}` in pod {pod}, as the nomad:: checks read it"),
                list(supports),
                output.stdout.into_bytes(),
            )),
            Ok(output) => evidence.add(EvidenceFile::new(
                format!("nomad/{file}.txt"),
                format!("`{shown}` in pod {pod} exited with code {}: its output", output.exit_code),
                list(supports),
                format!(
                    "exit code {}\n--- stdout\n{}\n--- stderr\n{}\n",
                    output.exit_code, output.stdout, output.stderr
                )
                .into_bytes(),
            )),
            Err(error) => evidence.note(format!("`{shown}` in pod {pod} failed: {error}")),
        }
    }
    evidence
}

/// The output of every step of the red pipeline checks' jobs.
async fn jobs(resources: &Resources, wanted: &BTreeMap<String, (Job, BTreeSet<String>)>) -> Evidence {
    let mut evidence = Evidence::default();
    let (Some(api), Some(run)) = (&resources.api, resources.pipeline.as_ref().and_then(|p| p.started())) else {
        evidence.note("no step output gathered: the run's pipeline was not created");
        return evidence;
    };
    let snapshot = run.latest();
    let mut numbered = Vec::new();
    for (name, (_, supports)) in wanted {
        match snapshot.job(name).map(|(_, job)| (job.job_number, job.status.as_str())) {
            Some((Some(number), _)) => numbered.push((name, number, supports)),
            Some((None, status)) => {
                evidence.note(format!("job `{name}` of pipeline #{} has no output: it is {status}", run.number));
            }
            None => evidence.note(format!("job `{name}` is not in pipeline #{}", run.number)),
        }
    }
    let gathered = join_all(
        numbered.into_iter().map(|(name, number, supports)| steps(api.client(), &run.slug, name, number, supports)),
    )
    .await;
    for job_evidence in gathered {
        evidence.extend(job_evidence);
    }
    evidence
}

/// The output of each step of job `name` (#`number`), from its v1.1 details.
async fn steps(client: &ApiClient, slug: &str, name: &str, number: u64, supports: &BTreeSet<String>) -> Evidence {
    let mut evidence = Evidence::default();
    let details = match client.build_details(slug, number).await {
        Ok(details) => details,
        Err(error) => {
            evidence.note(format!("the steps of job `{name}` (#{number}) were not read: {error}"));
            return evidence;
        }
    };
    let with_output: Vec<(usize, String, Option<String>, String)> = details
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            let action = step.actions.first()?;
            Some((index + 1, step.name.clone(), action.status.clone(), action.output_url.clone()?))
        })
        .collect();
    if with_output.len() > MAX_STEPS {
        evidence.note(format!(
            "job `{name}` (#{number}) has {} steps with output; the first {MAX_STEPS} are gathered",
            with_output.len()
        ));
    }
    let outputs = join_all(with_output.iter().take(MAX_STEPS).map(|(_, _, _, url)| client.step_output(url))).await;
    for ((index, step, status, _), output) in with_output.iter().zip(outputs) {
        let status = status.as_deref().unwrap_or("unknown");
        match output {
            Ok(lines) => {
                let text: String = lines.iter().map(|line| line.message.as_str()).collect();
                let (kept, cut) = tail(&text, MAX_TEXT);
                let mut file = EvidenceFile::new(
                    format!("circleci/jobs/{name}-{number}/{index:02}-{}.txt", file_name(step)),
                    format!("the output of step `{step}` ({status}) of job `{name}` (#{number})"),
                    list(supports),
                    kept.into_bytes(),
                );
                if cut {
                    file = file.truncated(format!("the last {MAX_TEXT} bytes of the step's output"));
                }
                evidence.add(file);
            }
            Err(error) => {
                evidence.note(format!("the output of step `{step}` of job `{name}` (#{number}) was not read: {error}"))
            }
        }
    }
    evidence
}

/// `name` with every character but letters, digits, `.`, `_` and `-` made a `-`.
fn file_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() { "step".to_string() } else { trimmed.chars().take(60).collect() }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use harness::{CheckSpec, Diagnosis, Phase};
    use realitycheck_project::Workflow;

    use super::*;

    fn red(id: &str, kind: CheckKind, phase: Option<&'static Phase>) -> CheckResult {
        let mut diagnosis = Diagnosis::new("red");
        diagnosis.phase = phase;
        CheckResult {
            spec: CheckSpec::new(id, kind, "a check"),
            outcome: Outcome::Failed { diagnosis },
            duration: Duration::ZERO,
            attempts: 1,
            observations: Vec::new(),
        }
    }

    fn machine_job_of() -> Job {
        Job {
            name: "machine".into(),
            resource_class: "medium".into(),
            needs: Needs::MachineProvisioner,
            workflow: Workflow::Machine,
        }
    }

    #[test]
    fn each_red_check_implicates_what_its_diagnosis_points_at() {
        let provisioner = implicated(
            &red(ids::MACHINE_PROVISIONER_CONFIG, CheckKind::Cluster, Some(&phase::MACHINE_PROVISIONER)),
            &Requires::MachineProvisioner,
        );
        assert_eq!(provisioner.components, [MACHINE_PROVISIONER]);
        assert!(provisioner.cluster && !provisioner.nomad && !provisioner.api);

        let machine_job = Job {
            name: "machine".into(),
            resource_class: "medium".into(),
            needs: Needs::MachineProvisioner,
            workflow: Workflow::Machine,
        };
        let machine = implicated(
            &red(ids::MACHINE, CheckKind::Pipeline, Some(&phase::MACHINE_PROVISIONER)),
            &Requires::Pipeline(vec![machine_job]),
        );
        assert_eq!(machine.components, [MACHINE_PROVISIONER]);
        assert_eq!(machine.jobs.len(), 1);
        assert!(machine.api && machine.cluster && !machine.nomad, "a VM's job never meets Nomad");
        let remote_docker_job =
            Job { name: "remote_docker".into(), needs: Needs::NomadClientAndMachineProvisioner, ..machine_job_of() };
        let remote = implicated(
            &red(ids::REMOTE_DOCKER, CheckKind::Pipeline, Some(&phase::MACHINE_PROVISIONER)),
            &Requires::Pipeline(vec![remote_docker_job]),
        );
        assert!(remote.nomad && !remote.nomad_servers, "a docker job with a remote engine runs on a Nomad client");

        let servers =
            implicated(&red(ids::SERVERS_ALIVE, CheckKind::Cluster, Some(&phase::NOMAD_SERVERS)), &Requires::Cluster);
        assert!(servers.nomad && servers.nomad_servers && servers.components.is_empty());
        let docker = implicated(
            &red(ids::DOCKER, CheckKind::Pipeline, Some(&phase::NOMAD_CLIENTS)),
            &Requires::Pipeline(Vec::new()),
        );
        assert!(docker.nomad && !docker.nomad_servers);
        assert_eq!(docker.components, [AUTOSCALER], "clients that never came may be the autoscaler's");
        let pods =
            implicated(&red(ids::PODS_READY, CheckKind::Cluster, Some(&phase::HELM_INSTALL)), &Requires::Cluster);
        assert!(pods.unready && !pods.nomad);
        let token = implicated(&red(ids::AUTHENTICATED, CheckKind::Api, Some(&phase::CIRCLECI_API)), &Requires::Api);
        assert!(token.api && !token.cluster);
    }

    #[test]
    fn long_texts_keep_their_end_from_a_line_start() {
        assert_eq!(tail("short", 10), ("short".to_string(), false));
        assert_eq!(tail("first line\nsecond\nthird\n", 12), ("third\n".to_string(), true));
        assert_eq!(file_name("Spin up environment"), "Spin-up-environment");
        assert_eq!(file_name("/// "), "step");
    }
}
