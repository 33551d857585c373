//! The scenario matrix: for every scenario of the simulated installation and every check,
//! the expected verdict and the key words of its diagnosis, skip reason or note; for every
//! scenario, the causes its failures are grouped under. Every scenario runs on the demo's
//! default deployment (server 4.10, the Nomad servers where the scenario needs them); the
//! version dimension adds the runs of [`VERSION_RUNS`]: each healthy deployment the tool must
//! pass on, and the scenarios whose judgement depends on the version or on where the Nomad
//! servers run. One libtest-mimic trial per run and check, one per run for its causes; each
//! run's demo starts once and its JSON report is shared.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

/// One demo of the matrix: a scenario, on the default deployment or on a server version with
/// its Nomad servers (`internal` or `external`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Run {
    scenario: &'static str,
    deployment: Option<(&'static str, &'static str)>,
}

impl Run {
    /// `healthy`, or `healthy@4.8-external`.
    fn name(&self) -> String {
        match self.deployment {
            None => self.scenario.to_string(),
            Some((version, servers)) => format!("{}@{version}-{servers}", self.scenario),
        }
    }

    /// Whether the Nomad servers run outside the cluster in this run.
    fn external(&self) -> bool {
        match self.deployment {
            Some((_, servers)) => servers == "external",
            None => self
                .scenario
                .parse::<realitycheck_sim::scenario::Scenario>()
                .is_ok_and(|s| s.needs_nomad_servers() == Some(realitycheck_sim::version::NomadServers::External)),
        }
    }
}

/// The runs besides every scenario on the default deployment: the five deployments the tool
/// must be green on (and 4.9), and the scenarios whose verdicts depend on the version or on
/// where the Nomad servers run.
const VERSION_RUNS: [(&str, &str, &str); 11] = [
    ("healthy", "4.4", "internal"),
    ("healthy", "4.8", "internal"),
    ("healthy", "4.8", "external"),
    ("healthy", "4.9", "internal"),
    ("healthy", "4.10", "external"),
    ("kubernetes-unsupported", "4.4", "internal"),
    ("nomad-version-skew", "4.4", "internal"),
    ("nomad-servers-no-quorum", "4.10", "external"),
    ("nomad-clients-docker-29", "4.8", "external"),
    ("mtls-wrong-ca", "4.10", "external"),
    ("secrets-forbidden", "4.10", "external"),
];

/// Every run of the matrix.
fn runs() -> Vec<Run> {
    let defaults = realitycheck_sim::scenario::Scenario::ALL
        .iter()
        .map(|scenario| Run { scenario: scenario.name(), deployment: None });
    let versions =
        VERSION_RUNS.iter().map(|&(scenario, version, servers)| Run { scenario, deployment: Some((version, servers)) });
    defaults.chain(versions).collect()
}

/// What a check must conclude in a scenario: its status and words its diagnosis contains.
struct Expected {
    scenario: &'static str,
    check: &'static str,
    status: &'static str,
    words: &'static [&'static str],
}

/// The checks whose jobs run in docker on a Nomad client.
const DOCKER_JOB_CHECKS: [&str; 12] = [
    "executors::docker",
    "resource_classes::docker_small",
    "resource_classes::docker_medium",
    "resource_classes::docker_large",
    "features::contexts",
    "features::workspaces",
    "features::cache",
    "features::artifacts",
    "features::test_results",
    "features::checkout",
    "features::env_subst",
    "features::oidc_token",
];

/// The checks whose jobs need a machine from the machine provisioner.
const MACHINE_JOB_CHECKS: [&str; 5] = [
    "executors::machine",
    "executors::remote_docker",
    "executors::arm",
    "executors::remote_docker_dlc",
    "executors::machine_dlc",
];

/// The checks whose jobs run in docker on a Nomad client and then reach a remote Docker
/// engine on a VM.
const REMOTE_DOCKER_JOB_CHECKS: [&str; 2] = ["executors::remote_docker", "executors::remote_docker_dlc"];

/// Checks not listed for a scenario must pass (or, for [`common::NOT_APPLICABLE_IN_DEMO`], be
/// skipped as not applicable).
fn deviations() -> Vec<Expected> {
    let mut deviations = vec![
        Expected {
            scenario: "no-nomad-clients",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["no Nomad client has joined", "retry_join", "mTLS"],
        },
        Expected {
            scenario: "nomad-clients-draining",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["draining", "ineligible", "nomad node eligibility -enable"],
        },
        Expected {
            scenario: "nomad-docker-unhealthy",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["docker driver unhealthy", "Failed to connect to docker daemon", "systemctl status docker"],
        },
        Expected {
            scenario: "nomad-exec-broken",
            check: "nomad::servers_alive",
            status: "failed",
            words: &["x509", "mTLS", "exited with code 1"],
        },
        Expected {
            scenario: "nomad-exec-broken",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["x509", "mTLS", "exited with code 1"],
        },
        Expected {
            scenario: "nomad-exec-broken",
            check: "nomad::gossip_key",
            status: "failed",
            words: &["x509", "mTLS", "keyring list", "exited with code 1"],
        },
        Expected {
            scenario: "pods-not-ready",
            check: "cluster::pods_ready",
            status: "failed",
            words: &["frontend", "CrashLoopBackOff", "kubectl -n circleci-server describe pod"],
        },
        Expected {
            scenario: "contexts-missing",
            check: "contexts::org_global",
            status: "failed",
            words: &["`org-global` does not exist", "--setup-contexts", "circleci context create"],
        },
        Expected {
            scenario: "contexts-missing",
            check: "contexts::individual_local",
            status: "failed",
            words: &["`individual-local` does not exist", "--setup-contexts", "circleci context store-secret"],
        },
        Expected {
            scenario: "contexts-missing",
            check: "features::contexts",
            status: "skipped",
            words: &["blocked", "contexts::org_global", "could not see it"],
        },
        Expected {
            scenario: "api-flaky",
            check: "api::authenticated",
            status: "passed",
            words: &["after 1 retry", "503"],
        },
        Expected {
            scenario: "api-flaky",
            check: "contexts::org_global",
            status: "passed",
            words: &["retries", "429 Retry-After 1s: Rate limited.", "500: Internal server error."],
        },
        Expected { scenario: "api-flaky", check: "pipeline::trigger", status: "passed", words: &["retries", "503"] },
        Expected {
            scenario: "runner-missing",
            check: "executors::runner",
            status: "failed",
            words: &[
                "no runner is registered for resource class `realitycheck-sim/linux-runner`",
                "queued",
                "wait for a runner",
            ],
        },
    ];
    let no_client = |scenario, words| {
        DOCKER_JOB_CHECKS.into_iter().chain(REMOTE_DOCKER_JOB_CHECKS).map(move |check| Expected {
            scenario,
            check,
            status: "failed",
            words,
        })
    };
    deviations.extend(no_client("no-nomad-clients", &["Nomad has no client", "lists no node", "queued"]));
    deviations.extend(no_client("nomad-clients-draining", &["Nomad has no client", "draining", "ineligible"]));
    deviations.extend(no_client("nomad-docker-unhealthy", &["Nomad has no client", "docker driver unhealthy"]));
    deviations.extend(MACHINE_JOB_CHECKS.into_iter().map(|check| Expected {
        scenario: "pods-not-ready",
        check,
        status: "failed",
        words: &["machine provisioner has no ready pod in machine-provisioner-provisioner", "queued"],
    }));
    for scenario in ["machine-provisioner-broken", "machine-provisioner-forbidden"] {
        deviations.extend(MACHINE_JOB_CHECKS.into_iter().map(|check| Expected {
            scenario,
            check,
            status: "failed",
            words: &["ended infrastructure_fail", "last lines of step", "machine provisioner could not provide a VM"],
        }));
    }
    deviations.push(Expected {
        scenario: "helm-upgrade-failed",
        check: "cluster::helm_release",
        status: "failed",
        words: &[
            "revision 3 of release circleci-server (chart 4.10.1) failed",
            "context deadline exceeded",
            "helm rollback circleci-server 2",
        ],
    });
    deviations.extend([
        Expected {
            scenario: "mtls-expiring",
            check: "nomad::mtls",
            status: "failed",
            words: &[
                "cert.pem of Secret nomad-mtls expires in 9 days",
                "nomad.mtls_min_days = 30",
                "nomad tls cert create",
            ],
        },
        Expected {
            scenario: "mtls-key-mismatch",
            check: "nomad::mtls",
            status: "failed",
            words: &["key.pem of Secret nomad-mtls is not the key of cert.pem", "belongs to another certificate"],
        },
        Expected {
            scenario: "mtls-wrong-ca",
            check: "nomad::mtls",
            status: "failed",
            words: &["was not signed by the CA in ca.pem", "CN=Nomad CircleCI CA"],
        },
        Expected {
            scenario: "mtls-swapped",
            check: "nomad::mtls",
            status: "failed",
            words: &["ca.pem and cert.pem of Secret nomad-mtls are swapped", "the wrong way round"],
        },
        Expected {
            scenario: "secrets-forbidden",
            check: "nomad::mtls",
            status: "skipped",
            words: &["not-configured", "may not read Secret `nomad-mtls`", "kubectl auth can-i get secret/nomad-mtls"],
        },
    ]);
    deviations.extend([
        Expected {
            scenario: "machine-provisioner-broken",
            check: "machine_provisioner::config",
            status: "failed",
            words: &[
                "cloud authorisation error",
                "api error UnauthorizedOperation",
                "machine-provisioner-provisioner-",
            ],
        },
        Expected {
            scenario: "machine-provisioner-forbidden",
            check: "machine_provisioner::config",
            status: "failed",
            words: &[
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                "does not let service account machine-provisioner take its role",
                "`system:serviceaccount:circleci-server:machine-provisioner`",
            ],
        },
        Expected {
            scenario: "pods-not-ready",
            check: "machine_provisioner::config",
            status: "failed",
            words: &[
                "no ready pod in machine-provisioner-provisioner",
                "workloads found: machine-provisioner-externalapi",
            ],
        },
        Expected {
            scenario: "cloud-provider-other",
            check: "machine_provisioner::config",
            status: "skipped",
            words: &["not-applicable", "the machine provisioner runs on aws or gcp installs only"],
        },
        Expected {
            scenario: "secrets-forbidden",
            check: "machine_provisioner::config",
            status: "skipped",
            words: &["not-configured", "may not read Secret `machine-provisioner-secret`"],
        },
    ]);
    deviations.extend([
        Expected {
            scenario: "autoscaler-forbidden",
            check: "nomad::autoscaler",
            status: "failed",
            words: &[
                "autoscaler's logs show 1 cloud authorisation error",
                "DescribeInstanceRefreshes",
                "the install guide's policy lacks it",
            ],
        },
        Expected {
            scenario: "no-nomad-clients",
            check: "nomad::autoscaler",
            status: "failed",
            words: &["0 Nomad client(s) ready, fewer than the autoscaler's minimum of 1", "min 1, max 5"],
        },
        Expected {
            scenario: "nomad-clients-draining",
            check: "nomad::autoscaler",
            status: "failed",
            words: &["0 Nomad client(s) ready, fewer than the autoscaler's minimum of 1"],
        },
        Expected {
            scenario: "healthy",
            check: "nomad::autoscaler",
            status: "passed",
            words: &["target aws-asg", "2 clients ready, within scaling min 1 and max 5"],
        },
        Expected {
            scenario: "nomad-exec-broken",
            check: "nomad::autoscaler",
            status: "passed",
            words: &["scaling min 1 and max 5, clients not counted", "exited with code 1"],
        },
        Expected {
            scenario: "secrets-forbidden",
            check: "nomad::autoscaler",
            status: "skipped",
            words: &["not-configured", "may not read Secret `nomad-autoscaler-secret`"],
        },
    ]);
    deviations.extend([
        Expected {
            scenario: "tls-expiring",
            check: "api::tls_certificate",
            status: "failed",
            words: &["expires in 12 days", "tls_min_days = 30", "renew the certificate", "CN=realitycheck-sim CA"],
        },
        Expected {
            scenario: "healthy",
            check: "api::tls_certificate",
            status: "passed",
            words: &["chain verified", "issued by CN=realitycheck-sim CA", "(in 366 days)"],
        },
    ]);
    deviations.extend([
        Expected {
            scenario: "checkout-key-missing",
            check: "features::checkout",
            status: "failed",
            words: &[
                "job `checkout`",
                "ended failed",
                "Permission denied (publickey)",
                "refuses the project's checkout key",
                "SSH Keys",
            ],
        },
        Expected {
            scenario: "healthy",
            check: "features::checkout",
            status: "passed",
            words: &["checked out", "of branch main, the commit the pipeline built"],
        },
    ]);
    // A fault for each comparison a check makes: exactly that check is red, saying what it compared.
    deviations.extend([
        Expected {
            scenario: "project-not-followed",
            check: "api::project",
            status: "failed",
            words: &[
                "exists but the token's user does not follow it",
                "/api/v1.1/project/github/realitycheck-sim/realitycheck/follow",
            ],
        },
        Expected {
            scenario: "test-result-dropped",
            check: "features::test_results",
            status: "failed",
            words: &["do not match what the job stored", "read back (1):", "skips: skipped"],
        },
        Expected {
            scenario: "healthy",
            check: "features::test_results",
            status: "passed",
            words: &["stored 2 test cases; all read back as stored (1 success, 1 skipped)"],
        },
        Expected {
            scenario: "healthy",
            check: "features::artifacts",
            status: "passed",
            words: &["stored realitycheck.txt; downloaded,", "bytes as written"],
        },
        Expected { scenario: "healthy", check: "api::project", status: "passed", words: &["found and followed"] },
    ]);
    deviations.push(Expected {
        scenario: "artifact-corrupted",
        check: "features::artifacts",
        status: "failed",
        words: &["does not hold what the job wrote", "downloaded", "object storage"],
    });
    deviations.push(Expected {
        scenario: "pipeline-config-error",
        check: "pipeline::trigger",
        status: "failed",
        words: &["pipeline #1 errored", "Unable to fetch the config from GitHub", "reach the VCS"],
    });
    deviations.extend(DOCKER_JOB_CHECKS.into_iter().chain(MACHINE_JOB_CHECKS).chain(["executors::runner"]).map(
        |check| Expected {
            scenario: "pipeline-config-error",
            check,
            status: "skipped",
            words: &["blocked", "pipeline::trigger", "pipeline #1 errored: Unable to fetch the config"],
        },
    ));
    deviations.push(Expected {
        scenario: "no-workflows",
        check: "pipeline::trigger",
        status: "failed",
        words: &["pipeline #1 started no workflow in", "workflows-conductor"],
    });
    deviations.extend(DOCKER_JOB_CHECKS.into_iter().chain(MACHINE_JOB_CHECKS).chain(["executors::runner"]).map(
        |check| Expected {
            scenario: "no-workflows",
            check,
            status: "skipped",
            words: &["blocked", "pipeline::trigger", "pipeline #1 ran no workflow"],
        },
    ));
    deviations.push(Expected {
        scenario: "context-value-changed",
        check: "features::contexts",
        status: "failed",
        words: &[
            "context digest mismatch",
            "CONTEXT_END_TO_END_TEST_VAR in `org-global` was changed at",
            "after this run set it at",
            "something other than realitycheck changed a context variable",
            "audit log",
        ],
    });
    deviations.extend(
        [
            "executors::docker",
            "executors::remote_docker",
            "executors::remote_docker_dlc",
            "resource_classes::docker_medium",
        ]
        .map(|check| Expected {
            scenario: "resource-class-mismatch",
            check,
            status: "failed",
            words: &["ran on resource class large instead of medium", "executor docker, resource class large"],
        }),
    );
    deviations.extend(["executors::docker", "resource_classes::docker_small", "resource_classes::docker_large"].map(
        |check| Expected {
            scenario: "healthy",
            check,
            status: "passed",
            words: if check == "resource_classes::docker_small" {
                &["on small (docker executor)"]
            } else if check == "resource_classes::docker_large" {
                &["on large (docker executor)"]
            } else {
                &["on medium (docker executor)"]
            },
        },
    ));
    // What a healthy run proves, check by check: the facts of each pass note.
    let proven: [(&'static str, &'static [&'static str]); 19] = [
        ("cluster::pods_ready", &["56 of 56 pods ready"]),
        (
            "cluster::helm_release",
            &["release circleci-server revision 2: chart circleci-server 4.10.0, deployed", "server 4.10.0"],
        ),
        ("cluster::kubernetes_version", &["Kubernetes 1.34 (v1.34.2), within 1.33 – 1.35: server 4.10.0"]),
        ("nomad::servers_alive", &["5 servers alive, leader nomad-server-0.global; read in pod nomad-server-0"]),
        ("nomad::clients_ready", &["2 of 2 clients ready and eligible, docker healthy, Docker 28.1.1, cgroups v1"]),
        ("nomad::mtls", &["CN=Nomad CircleCI CA", "key.pem is its key", "base64 of PEM"]),
        ("nomad::gossip_key", &["a base64 key of 32 bytes, the key the Nomad servers use"]),
        ("machine_provisioner::config", &["4 workloads ready", "bound to arn:aws:iam::123456789012:role/"]),
        ("api::authenticated", &["authenticated as realitycheck-bot"]),
        ("contexts::org_global", &["context `org-global` has CONTEXT_END_TO_END_TEST_VAR"]),
        ("contexts::individual_local", &["context `individual-local` has MULTI_CONTEXT_END_TO_END_VAR"]),
        (
            "pipeline::trigger",
            &["started workflows docker, docker_resource_classes, machine, arm, dlc, oidc, runner, features"],
        ),
        ("executors::machine", &["on medium (machine executor)"]),
        ("executors::remote_docker", &["on medium (docker executor)"]),
        ("executors::arm", &["on arm.medium (machine executor)"]),
        ("executors::runner", &["on realitycheck-sim/linux-runner (machine executor)"]),
        ("resource_classes::docker_medium", &["on medium (docker executor)"]),
        ("features::contexts", &["saw both context variables set"]),
        ("features::workspaces", &["persisted a workspace", "attached it and read this run's id"]),
    ];
    deviations.extend(proven.into_iter().map(|(check, words)| Expected {
        scenario: "healthy",
        check,
        status: "passed",
        words,
    }));
    deviations.push(Expected {
        scenario: "healthy",
        check: "features::cache",
        status: "passed",
        words: &["saved a cache", "restored it and read this run's id"],
    });
    deviations.push(Expected {
        scenario: "nomad-version-skew",
        check: "nomad::clients_ready",
        status: "failed",
        words: &["1 Nomad client(s) run a newer Nomad than the servers (1.11.3)", "Nomad 1.12.2", "nomad_version"],
    });
    deviations.extend(new_deviations());
    deviations.push(Expected {
        scenario: "gossip-key-invalid",
        check: "nomad::gossip_key",
        status: "failed",
        words: &["is not a usable key", "holds 8 bytes", "openssl rand -base64 32"],
    });
    deviations.push(Expected {
        scenario: "gossip-key-not-rolled-out",
        check: "nomad::gossip_key",
        status: "failed",
        words: &[
            "not the key the Nomad servers use",
            "none of them this one",
            "rollout restart statefulset/nomad-server",
        ],
    });
    deviations.push(Expected {
        scenario: "secrets-forbidden",
        check: "nomad::gossip_key",
        status: "skipped",
        words: &[
            "not-configured",
            "may not read Secret `nomad-gossip-encryption-key`",
            "resourceNames",
            "kubectl auth can-i get secret/nomad-gossip-encryption-key",
        ],
    });
    deviations.push(Expected {
        scenario: "secrets-forbidden",
        check: "cluster::kubernetes_version",
        status: "skipped",
        words: &["not-configured", "the server version is unknown", "may not list Secrets", "set server_version"],
    });
    deviations.push(Expected {
        scenario: "secrets-forbidden",
        check: "cluster::helm_release",
        status: "skipped",
        words: &[
            "not-configured",
            "may not list Secrets",
            "add the Role rule",
            "kubectl auth can-i list secrets -n circleci-server",
        ],
    });
    deviations.extend(MACHINE_JOB_CHECKS.into_iter().map(|check| Expected {
        scenario: "cloud-provider-other",
        check,
        status: "skipped",
        words: &["not-applicable", "the cloud provider is other"],
    }));
    deviations.extend(job_feature_deviations());
    deviations
}

/// The layer caching jobs, `circleci env subst` and the OIDC tokens: red in their scenarios,
/// what their pass notes say on a healthy installation, and how the OIDC check skips.
fn job_feature_deviations() -> Vec<Expected> {
    let mut deviations: Vec<Expected> = ["executors::remote_docker_dlc", "executors::machine_dlc"]
        .into_iter()
        .map(|check| Expected {
            scenario: "dlc-not-granted",
            check,
            status: "failed",
            words: &[
                "ended infrastructure_fail",
                "could not attach a layer cache volume",
                "did not give the job a Docker layer cache",
                "S3 bucket with versioning enabled",
            ],
        })
        .collect();
    deviations.extend([
        Expected {
            scenario: "env-subst-missing",
            check: "features::env_subst",
            status: "failed",
            words: &["ended failed", "Run 'circleci env --help' for usage.", "has no `env subst`"],
        },
        Expected {
            scenario: "oidc-wrong-issuer",
            check: "features::oidc_token",
            status: "failed",
            words: &["claim `iss` of CIRCLE_OIDC_TOKEN", "https://circleci-old.example.com", "oidc_service.base_url"],
        },
        Expected {
            scenario: "oidc-bad-signature",
            check: "features::oidc_token",
            status: "failed",
            words: &["the signature of CIRCLE_OIDC_TOKEN does not verify", "bad-signature", "json_web_keys"],
        },
        Expected {
            scenario: "healthy",
            check: "features::oidc_token",
            status: "passed",
            words: &["verified CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2", "tokens live 1h (at most 5h"],
        },
        Expected {
            scenario: "healthy",
            check: "features::env_subst",
            status: "passed",
            words: &["rendered its template", "rendered by circleci env subst"],
        },
        Expected {
            scenario: "healthy",
            check: "executors::machine_dlc",
            status: "passed",
            words: &["its image printed this run's id", "layer cache"],
        },
        Expected {
            scenario: "secrets-forbidden",
            check: "features::oidc_token",
            status: "skipped",
            words: &["not-configured", "may not list Secrets"],
        },
        Expected {
            scenario: "oidc-disabled",
            check: "features::oidc_token",
            status: "skipped",
            words: &["not-applicable", "does not enable OIDC (oidc_service.isEnabled is false): jobs get no token"],
        },
        Expected {
            scenario: "oidc-disabled",
            check: "pipeline::trigger",
            status: "passed",
            words: &["started workflows docker, docker_resource_classes, machine, arm, dlc, runner, features"],
        },
        Expected {
            scenario: "contexts-missing",
            check: "features::oidc_token",
            status: "skipped",
            words: &["blocked", "contexts::org_global"],
        },
    ]);
    deviations
}

/// The scenarios of server versions and of Nomad servers outside the cluster, on the default
/// deployment (4.10; the `nomad-external-*` ones with external servers), and the `upgrade-*`
/// scenarios (4.9.5 by default) whose state `run` judges red too.
fn new_deviations() -> Vec<Expected> {
    let mut deviations = vec![
        Expected {
            scenario: "upgrade-kubernetes-too-old",
            check: "cluster::kubernetes_version",
            status: "failed",
            words: &["Kubernetes 1.32 is outside 1.33 – 1.35, the versions server 4.9 supports", "v1.32.7"],
        },
        Expected {
            scenario: "upgrade-pending-release",
            check: "cluster::helm_release",
            status: "failed",
            words: &["release circleci-server is pending-upgrade at revision 3 (chart 4.9.5)", "Preparing upgrade"],
        },
        Expected {
            scenario: "upgrade-docker-29",
            check: "nomad::clients_ready",
            status: "failed",
            words: &[
                "1 Nomad client(s) run what CircleCI server does not support: Docker 29 or newer",
                "Docker 29.0.1",
            ],
        },
        Expected {
            scenario: "kubernetes-unsupported",
            check: "cluster::kubernetes_version",
            status: "failed",
            words: &[
                "Kubernetes 1.31 is outside 1.33 – 1.35, the versions server 4.10 supports",
                "v1.31",
                "upgrade the cluster",
            ],
        },
        Expected {
            scenario: "nomad-clients-docker-29",
            check: "nomad::clients_ready",
            status: "failed",
            words: &[
                "2 Nomad client(s) run what CircleCI server does not support: Docker 29 or newer",
                "Docker 29.0.1",
                "Docker v29 is not supported",
                "28.1.1",
            ],
        },
        Expected {
            scenario: "nomad-clients-cgroups-v2",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["cgroups v2 with Docker", "CgroupsV2 is currently unsupported", "cgroups v1"],
        },
        Expected {
            scenario: "nomad-servers-no-quorum",
            check: "nomad::servers_alive",
            status: "failed",
            words: &[
                "2 of 5 Nomad servers alive: no quorum (3 needed)",
                "failed",
                "5 servers expected (the release's nomad.server.replicas)",
            ],
        },
        Expected {
            scenario: "nomad-servers-no-quorum",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["No cluster leader", "the servers have no leader", "see nomad::servers_alive"],
        },
        Expected {
            scenario: "nomad-external-unreachable",
            check: "nomad::servers_alive",
            status: "failed",
            words: &["cannot connect to https://127.0.0.1:", "refused", "set nomad.address (or NOMAD_ADDR)"],
        },
        Expected {
            scenario: "nomad-external-unreachable",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["cannot connect to https://127.0.0.1:", "/v1/nodes", "port 4646"],
        },
        Expected {
            scenario: "nomad-external-unreachable",
            check: "nomad::mtls",
            status: "passed",
            words: &["client.global.nomad", "the servers' certificate was not read", "refused"],
        },
        Expected {
            scenario: "nomad-external-ca-mismatch",
            check: "nomad::mtls",
            status: "failed",
            words: &[
                "present a certificate the CA of Secret nomad-mtls did not sign: clients cannot join",
                "another key",
                "one CA",
            ],
        },
        Expected {
            scenario: "nomad-external-ca-mismatch",
            check: "nomad::servers_alive",
            status: "failed",
            words: &["not signed by the CA realitycheck was given", "/v1/agent/members", "see nomad::mtls"],
        },
        Expected {
            scenario: "nomad-external-ca-mismatch",
            check: "nomad::clients_ready",
            status: "failed",
            words: &["not signed by the CA realitycheck was given", "/v1/nodes", "see nomad::mtls"],
        },
    ];
    deviations.extend(DOCKER_JOB_CHECKS.into_iter().chain(REMOTE_DOCKER_JOB_CHECKS).map(|check| Expected {
        scenario: "nomad-servers-no-quorum",
        check,
        status: "failed",
        words: &["queued and the Nomad servers have no leader", "No cluster leader", "bring a majority"],
    }));
    deviations
}

/// What runs on other deployments than the default conclude where it differs from their
/// scenario's default: the version and the servers in the pass notes, and what the version or
/// the servers' place changes.
fn run_deviations() -> Vec<(Run, Expected)> {
    let run = |scenario, version, servers| Run { scenario, deployment: Some((version, servers)) };
    let at = |run: Run, check, status, words| (run, Expected { scenario: run.scenario, check, status, words });
    let v4_4 = run("healthy", "4.4", "internal");
    let v4_8 = run("healthy", "4.8", "internal");
    let v4_8_external = run("healthy", "4.8", "external");
    let v4_9 = run("healthy", "4.9", "internal");
    let v4_10_external = run("healthy", "4.10", "external");
    let forbidden = run("secrets-forbidden", "4.10", "external");
    vec![
        at(v4_4, "cluster::helm_release", "passed", &["chart circleci-server 4.4.7", "server 4.4.7"]),
        at(v4_4, "cluster::kubernetes_version", "passed", &["Kubernetes 1.29", "within 1.26 – 1.31"]),
        at(v4_4, "nomad::servers_alive", "passed", &["3 servers alive, leader nomad-server-0.global"]),
        at(v4_4, "nomad::gossip_key", "passed", &["the key the Nomad servers use"]),
        at(v4_8, "cluster::helm_release", "passed", &["chart circleci-server 4.8.12", "server 4.8.12"]),
        at(v4_8, "nomad::servers_alive", "passed", &["5 servers alive, leader nomad-server-0.global"]),
        at(
            v4_8_external,
            "nomad::servers_alive",
            "passed",
            &["3 servers alive, leader ip-10-0-1-10.global", "read from http://127.0.0.1:", "over plain HTTP"],
        ),
        at(
            v4_8_external,
            "nomad::clients_ready",
            "passed",
            &["2 of 2 clients ready and eligible", "Docker 28.1.1, cgroups v1"],
        ),
        at(
            v4_8_external,
            "nomad::mtls",
            "passed",
            &["client.global.nomad", "plain HTTP (server 4.8's external servers)"],
        ),
        at(v4_9, "cluster::helm_release", "passed", &["chart circleci-server 4.9.5", "server 4.9.5"]),
        at(v4_9, "cluster::kubernetes_version", "passed", &["within 1.33 – 1.35: server 4.9.5"]),
        at(
            v4_10_external,
            "nomad::servers_alive",
            "passed",
            &["3 servers alive, leader ip-10-0-1-10.global; read from https://127.0.0.1:"],
        ),
        at(
            v4_10_external,
            "nomad::mtls",
            "passed",
            &["client.global.nomad", "present a certificate for server.global.nomad signed by the same CA"],
        ),
        at(v4_10_external, "cluster::pods_ready", "passed", &["51 of 51 pods ready"]),
        at(
            run("kubernetes-unsupported", "4.4", "internal"),
            "cluster::kubernetes_version",
            "failed",
            &["Kubernetes 1.25 is outside 1.26 – 1.31, the versions server 4.4 supports", "upgrade the cluster"],
        ),
        at(
            run("nomad-version-skew", "4.4", "internal"),
            "nomad::clients_ready",
            "failed",
            &["run a newer Nomad than the servers (1.7.7)", "Nomad 1.8.2"],
        ),
        at(
            run("nomad-servers-no-quorum", "4.10", "external"),
            "nomad::servers_alive",
            "failed",
            &["1 of 3 Nomad servers alive: no quorum (2 needed)", "3 servers listed"],
        ),
        at(
            run("nomad-servers-no-quorum", "4.10", "external"),
            "nomad::clients_ready",
            "failed",
            &["500 No cluster leader", "/v1/nodes"],
        ),
        at(
            run("nomad-clients-docker-29", "4.8", "external"),
            "nomad::clients_ready",
            "failed",
            &["Docker 29.0.1", "Docker v29 is not supported"],
        ),
        at(
            run("mtls-wrong-ca", "4.10", "external"),
            "nomad::mtls",
            "failed",
            &["cert.pem of Secret nomad-mtls was not signed by the CA in ca.pem"],
        ),
        at(
            forbidden,
            "cluster::kubernetes_version",
            "skipped",
            &["not-configured", "server version is unknown", "set server_version"],
        ),
        at(
            forbidden,
            "nomad::servers_alive",
            "failed",
            &["no CA to verify the Nomad servers", "NOMAD_CACERT", "nomad-mtls"],
        ),
        at(forbidden, "nomad::clients_ready", "failed", &["no CA to verify the Nomad servers", "NOMAD_CACERT"]),
    ]
}

/// What a check must conclude in one run.
struct RunExpected {
    run: Run,
    check: &'static str,
    status: &'static str,
    words: &'static [&'static str],
}

/// The expectations of every run: a run's own deviation, else its scenario's (on another
/// deployment than the default, a scenario's pass notes are left out: they name the default's
/// version and counts), else the gossip key check not applicable with external servers, else
/// pass (or not applicable in the demo).
fn expectations() -> Vec<RunExpected> {
    let deviations = deviations();
    let run_deviations = run_deviations();
    runs()
        .into_iter()
        .flat_map(|run| common::ALL_CHECKS.iter().map(move |check| (run, *check)))
        .map(|(run, check)| {
            let found = |status, words| RunExpected { run, check, status, words };
            // A rejected token stops the run at the preflight: every check is skipped with why.
            if run.scenario == "bad-token" {
                return found("skipped", &["preflight-failed", "the token was rejected", "personal API token"]);
            }
            if let Some((_, e)) = run_deviations.iter().find(|(r, e)| *r == run && e.check == check) {
                return found(e.status, e.words);
            }
            if let Some(e) = deviations.iter().find(|e| {
                e.scenario == run.scenario && e.check == check && (run.deployment.is_none() || e.status != "passed")
            }) {
                return found(e.status, e.words);
            }
            if run.external() && check == "nomad::gossip_key" {
                return found("skipped", &["not-applicable", "outside the cluster", "nomad.server.internal: false"]);
            }
            if check == "executors::android" {
                return found("skipped", &["not-applicable", "the machine provisioner of a gcp install"]);
            }
            if common::NOT_APPLICABLE_IN_DEMO.contains(&check) {
                return found("skipped", &["not-applicable", "opt-in"]);
            }
            found("passed", &[])
        })
        .collect()
}

/// A preflight failure exits 3, a failed check 1, a green run 0.
fn expected_exit_code(run: Run) -> i32 {
    if run.scenario == "bad-token" {
        3
    } else if expectations().iter().any(|e| e.run == run && e.status == "failed") {
        1
    } else {
        0
    }
}

/// The exit code and JSON report of the demo of `run`, run once per test process.
fn report(run: Run) -> &'static (i32, Value) {
    static REPORTS: OnceLock<HashMap<Run, OnceLock<(i32, Value)>>> = OnceLock::new();
    let reports = REPORTS.get_or_init(|| runs().into_iter().map(|run| (run, OnceLock::new())).collect());
    reports[&run].get_or_init(|| {
        let dir = tempfile::TempDir::new().unwrap();
        let json = dir.path().join("report.json");
        let mut command = common::realitycheck(dir.path());
        command.args(["demo", "--scenario", run.scenario, "--json"]).arg(&json);
        if let Some((version, servers)) = run.deployment {
            command.args(["--server-version", version, "--nomad-servers", servers]);
        }
        let out = common::run(&mut command);
        let report = std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("no report for {} ({e}): {}", run.name(), out.stderr));
        (out.code, serde_json::from_str(&report).unwrap())
    })
}

fn verify(expected: &RunExpected) -> Result<(), Failed> {
    let (code, report) = report(expected.run);
    let want_code = expected_exit_code(expected.run);
    if *code != want_code {
        return Err(format!("the demo of {} exited {code}, expected {want_code}", expected.run.name()).into());
    }
    let check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == expected.check))
        .ok_or_else(|| format!("{} is not in the report", expected.check))?;
    if check["status"] != expected.status {
        return Err(
            format!("{} is {}, expected {}: {check:#}", expected.check, check["status"], expected.status).into()
        );
    }
    // The words may be in the diagnosis, the skip reason or the pass note.
    let text = check.to_string();
    for word in expected.words {
        if !text.contains(word) {
            return Err(format!("the report of {} lacks `{word}`: {text}", expected.check).into());
        }
    }
    Ok(())
}

/// The scenarios each check's page (docs/checks) lists under "Seen red in the demo", as
/// `- \`realitycheck demo --scenario NAME\`` items, must be those this matrix expects it red
/// in on the default deployment: the docs name no scenario that does not show the check red,
/// and miss none that does.
fn pages_name_the_scenarios_that_show_each_check_red() -> Result<(), Failed> {
    let mut wrong = Vec::new();
    for check in common::ALL_CHECKS {
        let stem = page_stem(check);
        let path = format!("{}/docs/checks/{stem}.md", env!("CARGO_MANIFEST_DIR"));
        let page = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let section = page
            .split("\n## Seen red in the demo\n")
            .nth(1)
            .ok_or(format!("{path} has no `## Seen red in the demo`"))?;
        let section = section.split("\n## ").next().unwrap_or(section);
        let listed: std::collections::BTreeSet<&str> = section
            .lines()
            .filter_map(|line| line.strip_prefix("- `realitycheck demo --scenario "))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        let family: Vec<&str> = common::ALL_CHECKS.iter().copied().filter(|c| page_stem(c) == stem).collect();
        let red: std::collections::BTreeSet<&str> = expectations()
            .into_iter()
            .filter(|e| e.run.deployment.is_none() && e.status == "failed" && family.contains(&e.check))
            .map(|e| e.run.scenario)
            .collect();
        if listed != red {
            wrong.push(format!("{path}: lists {listed:?}, the matrix has {check} red in {red:?}"));
        }
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong.join("\n").into()) }
}

/// The file stem of `check`'s page in docs/checks: the resource class checks share one.
fn page_stem(check: &str) -> String {
    if check.starts_with("resource_classes::docker_") {
        "resource_classes.docker_class".to_string()
    } else {
        check.replace("::", ".")
    }
}

/// The causes that must make several checks red at once in a scenario, each with the checks
/// it explains: a key of `suites`' shared causes.
fn shared_causes(scenario: &str) -> Vec<(&'static str, Vec<&'static str>)> {
    let docker_jobs = || DOCKER_JOB_CHECKS.into_iter().chain(REMOTE_DOCKER_JOB_CHECKS).collect();
    match scenario {
        "no-nomad-clients" | "nomad-clients-draining" | "nomad-docker-unhealthy" => {
            vec![("no-nomad-client-for-docker", docker_jobs())]
        }
        "nomad-servers-no-quorum" => vec![("nomad-has-no-leader", docker_jobs())],
        "pods-not-ready" => vec![("machine-provisioner-not-ready", MACHINE_JOB_CHECKS.into())],
        "machine-provisioner-broken" | "machine-provisioner-forbidden" => {
            vec![("machine-provisioner-cannot-start-vms", MACHINE_JOB_CHECKS.into())]
        }
        "dlc-not-granted" => vec![("dlc-not-granted", vec!["executors::remote_docker_dlc", "executors::machine_dlc"])],
        _ => Vec::new(),
    }
}

/// Every failed check of the scenario's report refers to a cause that lists it, and says the
/// cause, remediation and phase of that cause: diagnoses sharing a key say the same. The
/// causes several checks share are exactly those `shared_causes` expects.
fn verify_causes(run: Run) -> Result<(), Failed> {
    let scenario = run.scenario;
    let (_, report) = report(run);
    let checks = report["checks"].as_array().ok_or("the report has no checks")?;
    let causes = report["causes"].as_array().ok_or("the report has no causes")?;
    for check in checks.iter().filter(|check| check["status"] == "failed") {
        let cause = causes
            .iter()
            .find(|cause| cause["id"] == check["cause"])
            .ok_or_else(|| format!("{} refers to no cause: {check:#}", check["id"]))?;
        if !cause["checks"].as_array().is_some_and(|ids| ids.contains(&check["id"])) {
            return Err(format!("cause {} does not list {}", cause["id"], check["id"]).into());
        }
        for field in ["cause", "remediation", "phase"] {
            if cause[field] != check["diagnosis"][field] {
                return Err(format!(
                    "{} of {} differs from its cause {}: {} vs {}",
                    field, check["id"], cause["id"], check["diagnosis"][field], cause[field]
                )
                .into());
            }
        }
    }
    let shared: Vec<(&str, Vec<&str>)> = causes
        .iter()
        .filter(|cause| cause["checks"].as_array().is_some_and(|ids| ids.len() > 1))
        .map(|cause| {
            let mut ids: Vec<&str> =
                cause["checks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            ids.sort_unstable();
            (cause["id"].as_str().unwrap_or_default(), ids)
        })
        .collect();
    let mut expected = shared_causes(scenario);
    expected.iter_mut().for_each(|(_, ids)| ids.sort_unstable());
    if shared != expected {
        return Err(format!("shared causes {shared:?}, expected {expected:?}").into());
    }
    Ok(())
}

fn main() {
    let arguments = Arguments::from_args();
    let checks = expectations()
        .into_iter()
        .map(|expected| Trial::test(format!("{}::{}", expected.run.name(), expected.check), move || verify(&expected)));
    let causes =
        runs().into_iter().map(|run| Trial::test(format!("{}::causes", run.name()), move || verify_causes(run)));
    let docs = Trial::test(
        "docs::pages_name_the_scenarios_that_show_each_check_red",
        pages_name_the_scenarios_that_show_each_check_red,
    );
    libtest_mimic::run(&arguments, checks.chain(causes).chain([docs]).collect()).exit();
}
