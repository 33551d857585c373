//! Synthetic event streams, as the runner would emit them, with a fixed start time and fixed
//! durations so that every report is deterministic; and baselines, the reports of earlier runs
//! that some of them are compared with.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::{
    CheckKind, CheckResult, CheckSpec, Diagnosis, Event, Observation, Outcome, Phase, RunInfo, RunStatus, RunSummary,
    SkipReason, Tag,
};
use reports::Baseline;
use serde_json::json;

/// The phases the scenarios' diagnoses name, as a suite defines them: a key and the label
/// reports print.
const NOMAD_CLIENTS: Phase = Phase::new("nomad-clients", "Nomad clients");
const NOMAD_MTLS: Phase = Phase::new("nomad-mtls", "Nomad mTLS");
const MACHINE_PROVISIONER: Phase = Phase::new("machine-provisioner", "machine provisioner");
const RUNNER: Phase = Phase::new("runner", "runner");

/// A scenario's name (for snapshot names) and its events.
pub type Scenario = (&'static str, Vec<Event>);

pub fn all() -> Vec<Scenario> {
    vec![
        ("failed", failed_run()),
        ("shared_causes", shared_causes_run()),
        ("preflight_failed", preflight_failed_run()),
        ("interrupted", interrupted_run()),
        ("nothing_selected", nothing_selected_run()),
        ("expiring_certificate", expiring_certificate_run()),
    ]
}

/// A scenario compared with a baseline: its name, its events and the baseline.
pub type Compared = (&'static str, Vec<Event>, Arc<Baseline>);

pub fn compared() -> Vec<Compared> {
    vec![
        ("compared_after_upgrade", failed_run(), after_upgrade_baseline()),
        ("compared_with_another_installation", shared_causes_run(), another_installation_baseline()),
    ]
}

/// Text the baselines carry besides what a comparison reads (summaries, notes, diagnoses): no
/// report of the run compared with them may show it.
pub const BASELINE_ONLY: &str = "BASELINE-ONLY";

/// The baseline of a report of `schema` with the run's fields and `checks` (ID and status),
/// each check carrying its summary, note or diagnosis, which the comparison never reads.
fn baseline(schema: &str, run: [(&str, &str); 5], checks: &[(&str, &str)]) -> Arc<Baseline> {
    let mut report = json!({
        "schema_version": schema,
        "duration_ms": 1000,
        "stopped_because": null,
        "counts": {"passed": 0, "failed": 0, "skipped": 0, "flaky": 0},
        "causes": [],
    });
    for (field, value) in run {
        report[field] = json!(value);
    }
    report["checks"] = checks
        .iter()
        .map(|(id, status)| {
            json!({
                "id": id,
                "status": status,
                "summary": format!("{BASELINE_ONLY} summary of {id}"),
                "note": format!("{BASELINE_ONLY} note of {id}"),
                "diagnosis": {"summary": format!("{BASELINE_ONLY} diagnosis"), "observed": [], "cause": "", "remediation": "", "phase": null},
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&report).unwrap();
    Arc::new(Baseline::parse(Path::new("before.json"), &bytes).unwrap())
}

/// The failed run's target a day earlier, with another profile: one check red that passed then,
/// one red both times, two green that were red (one flaky now), one blocked now that was red,
/// one new to the run and one it skips that passed then, and two checks the run did not select.
fn after_upgrade_baseline() -> Arc<Baseline> {
    let run = [
        ("target", "prod"),
        ("host", "https://circleci.example.com"),
        ("profile", "laptop"),
        ("started_at", "2026-03-01T09:30:00.250Z"),
        ("status", "failed"),
    ];
    baseline(
        "realitycheck.report/v2",
        run,
        &[
            ("cluster::pods_ready", "passed"),
            ("nomad::servers_alive", "passed"),
            ("nomad::clients_ready", "passed"),
            ("api::authenticated", "flaky"),
            ("pipeline::trigger", "passed"),
            ("executors::docker", "failed"),
            ("executors::machine", "skipped"),
            ("executors::remote_docker", "failed"),
            ("executors::runner", "passed"),
            ("executors::arm", "passed"),
            ("executors::windows", "skipped"),
            ("features::cache", "failed"),
            ("features::contexts", "failed"),
        ],
    )
}

/// A version 1 report of an interrupted run of another installation: the shared causes run
/// against it has checks still red, new red, and red where the baseline had none.
fn another_installation_baseline() -> Arc<Baseline> {
    let run = [
        ("target", "staging"),
        ("host", "https://circleci.staging.example.com"),
        ("profile", "ci"),
        ("started_at", "2026-03-02T08:15:42.000+01:00"),
        ("status", "interrupted"),
    ];
    baseline(
        "realitycheck.report/v1",
        run,
        &[
            ("nomad::clients_ready", "failed"),
            ("api::authenticated", "passed"),
            ("executors::docker", "failed"),
            ("executors::machine", "passed"),
            ("features::cache", "skipped"),
        ],
    )
}

/// 2026-03-02T09:30:00.250Z
fn started_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_772_443_800_250)
}

fn info() -> RunInfo {
    RunInfo {
        target: "prod".to_string(),
        host: "https://circleci.example.com".to_string(),
        profile: "ci".to_string(),
        started_at: started_at(),
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn cluster(id: &str, summary: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Cluster, summary).tagged(Tag::NeedsCluster)
}

fn api(id: &str, summary: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Api, summary).tagged(Tag::NeedsApi)
}

fn pipeline(id: &str, summary: &str) -> CheckSpec {
    CheckSpec::new(id, CheckKind::Pipeline, summary).tagged(Tag::NeedsApi).tagged(Tag::Mutates)
}

fn result(spec: &CheckSpec, outcome: Outcome, duration: Duration, attempts: u32) -> CheckResult {
    CheckResult { spec: spec.clone(), outcome, duration, attempts, observations: Vec::new() }
}

fn passed(spec: &CheckSpec, note: &str, duration: Duration) -> CheckResult {
    result(spec, Outcome::Passed { note: note.to_string() }, duration, 1)
}

fn skipped(spec: &CheckSpec, reason: SkipReason) -> CheckResult {
    result(spec, Outcome::Skipped { reason }, Duration::ZERO, 0)
}

fn started(spec: &CheckSpec) -> Event {
    Event::CheckStarted { id: spec.id.clone() }
}

fn preflight_passed(name: &str, note: &str) -> Event {
    Event::PreflightPassed { name: name.to_string(), note: note.to_string() }
}

/// Ends the run with the results of the `CheckFinished` events so far, in plan order.
fn finish(plan: &[CheckSpec], events: &mut Vec<Event>, status: RunStatus, duration: Duration, stopped: Option<&str>) {
    let mut results: Vec<CheckResult> = events
        .iter()
        .filter_map(|event| match event {
            Event::CheckFinished(result) => Some(result.clone()),
            _ => None,
        })
        .collect();
    results.sort_by_key(|result| plan.iter().position(|spec| spec.id == result.spec.id));
    events.push(Event::RunFinished(RunSummary {
        status,
        results,
        duration,
        stopped_because: stopped.map(str::to_string),
    }));
}

/// A run with every kind of line: passes, two failures (one with a full multi-line
/// diagnosis, one sparse), skips (not applicable, not configured, blocked), a retry that
/// ends flaky, and a slow check.
pub fn failed_run() -> Vec<Event> {
    let pods = cluster("cluster::pods_ready", "every pod of the release is Running and Ready");
    let servers = cluster("nomad::servers_alive", "all Nomad servers alive, exactly one leader");
    let clients = cluster("nomad::clients_ready", "enough Nomad clients ready, eligible, with a healthy docker driver");
    let authenticated = api("api::authenticated", "GET /api/v2/me accepts the token");
    let project = api("api::project", "the project exists and is followed");
    let trigger = pipeline("pipeline::trigger", "a pipeline is created and its workflows appear");
    let docker = pipeline("executors::docker", "a docker job succeeds on the resource class asked for");
    let machine = pipeline("executors::machine", "a Linux machine job succeeds");
    let remote_docker =
        pipeline("executors::remote_docker", "a docker job with setup_remote_docker builds and runs an image");
    let runner = pipeline("executors::runner", "a job on the self-hosted runner resource class succeeds");
    let cache = pipeline("features::cache", "save_cache / restore_cache round-trips");
    let workspaces = pipeline("features::contexts", "a job saw the context values realitycheck set");
    let plan = vec![
        pods.clone(),
        servers.clone(),
        clients.clone(),
        authenticated.clone(),
        project.clone(),
        trigger.clone(),
        docker.clone(),
        machine.clone(),
        remote_docker.clone(),
        runner.clone(),
        cache.clone(),
        workspaces.clone(),
    ];

    let clients_diagnosis = Diagnosis::new("1 of 3 Nomad clients can run jobs; at least 3 are required")
        .observed_all([
            "nomad-client-7f3a  ready  eligible    docker healthy",
            "nomad-client-91c2  ready  draining    docker healthy",
            "nomad-client-c44e  ready  ineligible  docker healthy",
        ])
        .cause("two clients are draining or ineligible, so docker jobs only fit on the remaining one")
        .remediation(
            "for an ineligible client: nomad node eligibility -enable <node-id>\n\
             for a stuck drain: nomad node drain -disable <node-id>",
        )
        .phase(&NOMAD_CLIENTS);
    let remote_docker_diagnosis = Diagnosis::new("job `remote_docker` (#8) of pipeline #128 ended infrastructure_fail")
        .observed("workflow `machine`: failed")
        .observed("last lines of step `Setup a remote Docker engine`:")
        .observed("  Allocating a remote Docker Engine")
        .observed("  failed to provision the VM: operation error EC2: RunInstances, api error UnauthorizedOperation")
        .cause("the machine provisioner could not provide a VM for the job")
        .remediation(
            "read the machine provisioner's logs (`kubectl -n circleci-server get pods | grep machine-provisioner`, then `kubectl -n circleci-server logs <pod>`): its cloud credentials and IAM permissions, quotas, the VM image and the subnet decide whether VMs start",
        )
        .phase(&MACHINE_PROVISIONER);
    let cache_failure = Diagnosis::new("job `restore_cache` (#16) of pipeline #128 ended failed")
        .observed("workflow `features`: failing")
        .observed("last lines of step `Restoring Cache`:")
        .observed("  No cache is found for key: realitycheck-rc-1772443800-250-42")
        .cause("a step of the job failed: its output above says which and why")
        .remediation("read the step output; image pulls need Docker Hub or the mirror named by pipeline.image_registry")
        .phase(&NOMAD_CLIENTS);

    let mut events = vec![
        Event::RunStarted { info: info(), checks: plan.clone() },
        preflight_passed("kubernetes-api", "Kubernetes v1.32.1, namespace circleci-server"),
        preflight_passed("circleci-api", "token accepted for ops-bot"),
        Event::CheckFinished(skipped(
            &machine,
            SkipReason::NotApplicable(
                "the cloud provider is other: this job needs the machine provisioner of an aws or gcp install".to_string(),
            ),
        )),
        Event::CheckFinished(skipped(
            &runner,
            SkipReason::NotConfigured(
                "no runner resource class configured: set pipeline.runner_resource_class (or REALITYCHECK_RUNNER_RESOURCE_CLASS) to namespace/name".to_string(),
            ),
        )),
        started(&pods),
        started(&servers),
        started(&clients),
        started(&authenticated),
        Event::CheckFinished(passed(&authenticated, "authenticated as ops-bot", ms(212))),
        started(&project),
        Event::CheckFinished(passed(&pods, "27 of 27 pods ready", ms(412))),
        Event::CheckFinished(passed(
            &project,
            "gh/acme/realitycheck found and followed (organization acme, default branch main)",
            ms(305),
        )),
        Event::CheckFinished(passed(&servers, "3 servers alive, leader nomad-server-1", ms(1_034))),
        Event::CheckFinished(result(&clients, Outcome::Failed { diagnosis: clients_diagnosis }, ms(1_120), 1)),
        started(&trigger),
        Event::CheckFinished(passed(
            &trigger,
            "pipeline #128 on branch main (run rc-1772443800-250-42) started workflows docker, machine, features",
            ms(2_480),
        )),
        started(&docker),
        started(&remote_docker),
        started(&cache),
        Event::CheckRetrying { id: cache.id.clone(), next_attempt: 2, failure: cache_failure.clone() },
        Event::CheckSlow { id: docker.id.clone(), elapsed: ms(150_000), timeout: ms(300_000) },
        Event::CheckFinished(result(
            &cache,
            Outcome::Flaky {
                note: "job `save_cache` (#13) saved a cache; job `restore_cache` (#16) restored it and read this run's id"
                    .to_string(),
                failures: vec![cache_failure],
            },
            ms(48_310),
            2,
        )),
        Event::CheckFinished(passed(
            &docker,
            "job `docker` (#1) of pipeline #128 succeeded in 2m38s on medium (docker executor)",
            ms(161_207),
        )),
        Event::CheckFinished(result(
            &remote_docker,
            Outcome::Failed { diagnosis: remote_docker_diagnosis },
            ms(300_004),
            1,
        )),
        Event::CheckFinished(skipped(
            &workspaces,
            SkipReason::Blocked {
                by: "contexts::org_global".to_string(),
                reason: "context `org-global` lacks CONTEXT_END_TO_END_TEST_VAR, so the job could not see it".to_string(),
            },
        )),
    ];
    finish(&plan, &mut events, RunStatus::Failed, ms(305_913), None);
    events
}

/// No Nomad client can run docker jobs and the machine provisioner cannot start VMs: each
/// cause makes several checks red (the docker ones observed the same nodes, the machine ones
/// different step output); the runner's cause is marked shared but only its check failed, and
/// the Nomad clients check has a cause of its own.
pub fn shared_causes_run() -> Vec<Event> {
    let clients = cluster("nomad::clients_ready", "enough Nomad clients ready, eligible, with a healthy docker driver");
    let authenticated = api("api::authenticated", "GET /api/v2/me accepts the token");
    let docker = pipeline("executors::docker", "a docker job succeeds on the resource class asked for");
    let machine = pipeline("executors::machine", "a Linux machine job succeeds");
    let runner = pipeline("executors::runner", "a job on the self-hosted runner resource class succeeds");
    let arm = pipeline("executors::arm", "an Arm machine job succeeds");
    let small = pipeline("resource_classes::docker_small", "a docker job on resource class small succeeds");
    let cache = pipeline("features::cache", "save_cache / restore_cache round-trips");
    let plan = vec![
        clients.clone(),
        authenticated.clone(),
        docker.clone(),
        machine.clone(),
        runner.clone(),
        arm.clone(),
        small.clone(),
        cache.clone(),
    ];
    let no_client = |job: &str, number: u32, workflow: &str| {
        Diagnosis::new(format!("job `{job}` is queued and Nomad has no client that can run it"))
            .observed(format!("job `{job}` (#{number}) of workflow `{workflow}` is queued (seen so in 2 polls)"))
            .shared_cause("no-nomad-client-for-docker", "Nomad has no client that can run docker jobs")
            .observed_all(["nomad-client-7f3a (7f3a1c2e): draining", "nomad-client-91c2 (91c2d4f0): ineligible"])
            .cause(
                "docker jobs run on Nomad clients, and none is ready, eligible, undrained with a healthy docker driver",
            )
            .remediation("see nomad::clients_ready: enable or undrain a client (`nomad node eligibility -enable <id>`)")
            .phase(&NOMAD_CLIENTS)
    };
    let no_vm = |job: &str, number: u32, class: &str| {
        Diagnosis::new(format!("job `{job}` (#{number}) of pipeline #128 ended infrastructure_fail"))
            .observed(format!("workflow `{job}`: failed"))
            .shared_cause(
                "machine-provisioner-cannot-start-vms",
                "the machine provisioner cannot start VMs for the jobs that need one",
            )
            .observed("last lines of step `Spin up environment`:")
            .observed(format!("  Error: could not start a VM of resource class {class}: UnauthorizedOperation"))
            .cause("the machine provisioner could not provide a VM for the job")
            .remediation("read the machine provisioner's logs (`kubectl -n circleci-server logs <pod>`)")
            .phase(&MACHINE_PROVISIONER)
    };
    let clients_diagnosis = Diagnosis::new("0 of 2 Nomad clients can run docker jobs; 1 needed")
        .observed_all(["nomad-client-7f3a (7f3a1c2e): draining", "nomad-client-91c2 (91c2d4f0): ineligible"])
        .cause("the clients are draining or ineligible")
        .remediation("nomad node eligibility -enable <node-id>; nomad node drain -disable <node-id>")
        .phase(&NOMAD_CLIENTS);
    let no_runner =
        Diagnosis::new("job `runner` is queued and no runner is registered for resource class `acme/linux`")
            .observed("job `runner` (#10) of workflow `runner` is queued (seen so in 2 polls)")
            .shared_cause("no-runner-registered", "no runner is registered for resource class `acme/linux`")
            .observed("1 job(s) of `acme/linux` wait for a runner to claim them")
            .cause("no self-hosted runner of this resource class has connected to the installation")
            .remediation("install a machine or container runner with a token of `acme/linux`")
            .phase(&RUNNER);
    let failed = |spec: &CheckSpec, diagnosis: Diagnosis, millis| {
        Event::CheckFinished(result(spec, Outcome::Failed { diagnosis }, ms(millis), 1))
    };
    let mut events = vec![
        Event::RunStarted { info: info(), checks: plan.clone() },
        preflight_passed("kubernetes-api", "Kubernetes v1.32.1, namespace circleci-server"),
        preflight_passed("circleci-api", "token accepted for ops-bot"),
    ];
    events.extend(plan.iter().map(started));
    events.extend([
        failed(&clients, clients_diagnosis, 151),
        Event::CheckFinished(passed(&authenticated, "authenticated as ops-bot", ms(212))),
        failed(&docker, no_client("docker", 1, "docker"), 413),
        failed(&small, no_client("docker_resource_class-small", 2, "docker_resource_classes"), 767),
        failed(&cache, no_client("save_cache", 13, "features"), 513),
        failed(&machine, no_vm("machine", 7, "medium"), 710),
        failed(&arm, no_vm("arm", 9, "arm.medium"), 707),
        failed(&runner, no_runner, 530),
    ]);
    finish(&plan, &mut events, RunStatus::Failed, ms(1_844), None);
    events
}

/// The certificate checks: the Nomad mTLS certificate expires soon (red), the installation's
/// certificate is fine; both report the expiry of every certificate they read.
pub fn expiring_certificate_run() -> Vec<Event> {
    let mtls =
        cluster("nomad::mtls", "the Nomad mTLS Secret: a CA, a certificate it signed, its key, not expiring soon");
    let tls = api("api::tls_certificate", "the installation's TLS certificate: its chain verifies, not expiring soon");
    let plan = vec![mtls.clone(), tls.clone()];
    let expiry = |subject: &str, value| Observation::new("certificate_expiry_timestamp_seconds", subject, value);
    let expiring =
        Diagnosis::new("cert.pem of Secret nomad-mtls expires in 9 days, on 2026-03-11 (nomad.mtls_min_days = 30)")
            .observed("ca.pem: CN=Nomad CircleCI CA (CA: yes)")
            .observed("cert.pem: CN=nomad-server issued by CN=Nomad CircleCI CA (CA: no)")
            .cause("once it expires, the Nomad clients and servers refuse each other: no docker job runs")
            .phase(&NOMAD_MTLS);
    let mut mtls_result = result(&mtls, Outcome::Failed { diagnosis: expiring }, ms(96), 1);
    mtls_result.observations =
        vec![expiry("nomad-mtls ca.pem", 4_926_715_800), expiry("nomad-mtls cert.pem", 1_773_221_400)];
    let mut tls_result = passed(
        &tls,
        "chain verified; CN=circleci.example.com, issued by CN=Example CA; expires 2027-03-12 (in 375 days)",
        ms(54),
    );
    tls_result.observations = vec![expiry("https://circleci.example.com", 1_804_847_400)];
    let mut events = vec![
        Event::RunStarted { info: info(), checks: plan.clone() },
        preflight_passed("kubernetes-api", "Kubernetes v1.32.1, namespace circleci-server"),
        preflight_passed("circleci-api", "token accepted for ops-bot"),
        started(&mtls),
        started(&tls),
        Event::CheckFinished(tls_result),
        Event::CheckFinished(mtls_result),
    ];
    finish(&plan, &mut events, RunStatus::Failed, ms(160), None);
    events
}

/// The token is rejected: every check is skipped with the preflight's message.
pub fn preflight_failed_run() -> Vec<Event> {
    let plan = vec![
        cluster("cluster::pods_ready", "every pod of the release is Running and Ready"),
        api("api::authenticated", "GET /api/v2/me accepts the token"),
        pipeline("executors::docker", "a docker job succeeds on the resource class asked for"),
    ];
    let message = "GET /api/v2/me answered 401 Unauthorized: the token was rejected";
    let mut events = vec![
        Event::RunStarted { info: info(), checks: plan.clone() },
        preflight_passed("kubernetes-api", "Kubernetes v1.32.1, namespace circleci-server"),
        Event::PreflightFailed { name: "circleci-api".to_string(), message: message.to_string() },
    ];
    events.extend(plan.iter().map(|spec| {
        Event::CheckFinished(skipped(
            spec,
            SkipReason::PreflightFailed { preflight: "circleci-api".to_string(), message: message.to_string() },
        ))
    }));
    finish(&plan, &mut events, RunStatus::PreflightFailed, ms(1_502), Some(message));
    events
}

/// Ctrl-C while the docker job runs: the unfinished check is skipped as interrupted.
pub fn interrupted_run() -> Vec<Event> {
    let pods = cluster("cluster::pods_ready", "every pod of the release is Running and Ready");
    let docker = pipeline("executors::docker", "a docker job succeeds on the resource class asked for");
    let plan = vec![pods.clone(), docker.clone()];
    let reason = "the run was cancelled (signal)";
    let mut interrupted = skipped(&docker, SkipReason::Interrupted(reason.to_string()));
    interrupted.duration = ms(95_020);
    let mut events = vec![
        Event::RunStarted { info: info(), checks: plan.clone() },
        preflight_passed("kubernetes-api", "Kubernetes v1.32.1, namespace circleci-server"),
        preflight_passed("circleci-api", "token accepted for ops-bot"),
        started(&pods),
        started(&docker),
        Event::CheckFinished(passed(&pods, "27 of 27 pods ready", ms(412))),
        Event::CheckSlow { id: docker.id.clone(), elapsed: ms(90_000), timeout: ms(180_000) },
        Event::CheckFinished(interrupted),
    ];
    finish(&plan, &mut events, RunStatus::Interrupted, ms(95_020), Some(reason));
    events
}

/// The filter matched no check.
pub fn nothing_selected_run() -> Vec<Event> {
    let mut events = vec![Event::RunStarted { info: info(), checks: Vec::new() }];
    finish(&[], &mut events, RunStatus::NothingSelected, ms(3), None);
    events
}
