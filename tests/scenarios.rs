//! The scenario matrix: for every scenario of the simulated installation and every check,
//! the expected verdict and the key words of its diagnosis, skip reason or note; for every
//! scenario, the causes its failures are grouped under. One libtest-mimic trial per scenario
//! and check, one per scenario for its causes; each scenario's demo runs once and its JSON
//! report is shared.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

/// What a check must conclude in a scenario: its status and words its diagnosis contains.
struct Expected {
    scenario: &'static str,
    check: &'static str,
    status: &'static str,
    words: &'static [&'static str],
}

/// The checks whose jobs run in docker on a Nomad client.
const DOCKER_JOB_CHECKS: [&str; 10] = [
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
];

/// The checks whose jobs need a machine from the machine provisioner.
const MACHINE_JOB_CHECKS: [&str; 3] = ["executors::machine", "executors::remote_docker", "executors::arm"];

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
        DOCKER_JOB_CHECKS.into_iter().chain(["executors::remote_docker"]).map(move |check| Expected {
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
            "revision 3 of release circleci-server (chart 4.4.8) failed",
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
    deviations.extend(["executors::docker", "executors::remote_docker", "resource_classes::docker_medium"].map(
        |check| Expected {
            scenario: "resource-class-mismatch",
            check,
            status: "failed",
            words: &["ran on resource class large instead of medium", "executor docker, resource class large"],
        },
    ));
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
    let proven: [(&'static str, &'static [&'static str]); 18] = [
        ("cluster::pods_ready", &["48 of 48 pods ready"]),
        ("cluster::helm_release", &["release circleci-server revision 2: chart circleci-server 4.4.7, deployed"]),
        ("nomad::servers_alive", &["3 servers alive, leader nomad-server-0.global"]),
        ("nomad::clients_ready", &["2 of 2 clients ready and eligible, docker healthy; 1 needed"]),
        ("nomad::mtls", &["CN=Nomad CircleCI CA", "key.pem is its key", "base64 of PEM"]),
        ("nomad::gossip_key", &["a base64 key of 32 bytes, the key the Nomad servers use"]),
        ("machine_provisioner::config", &["4 workloads ready", "bound to arn:aws:iam::123456789012:role/"]),
        ("api::authenticated", &["authenticated as realitycheck-bot"]),
        ("contexts::org_global", &["context `org-global` has CONTEXT_END_TO_END_TEST_VAR"]),
        ("contexts::individual_local", &["context `individual-local` has MULTI_CONTEXT_END_TO_END_VAR"]),
        ("pipeline::trigger", &["started workflows docker, docker_resource_classes, machine, arm, runner, features"]),
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
        words: &["1 Nomad client(s) run a newer Nomad than the servers (1.7.7)", "Nomad 1.8.2", "nomad_version"],
    });
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
    deviations
}

fn expectations() -> Vec<Expected> {
    let deviations = deviations();
    realitycheck_sim::scenario::Scenario::ALL
        .iter()
        .flat_map(|scenario| common::ALL_CHECKS.iter().map(move |check| (scenario.name(), *check)))
        .map(|(scenario, check)| {
            // A rejected token stops the run at the preflight: every check is skipped with why.
            let preflight_failed = Expected {
                scenario,
                check,
                status: "skipped",
                words: &["preflight-failed", "the token was rejected", "personal API token"],
            };
            if scenario == "bad-token" {
                return preflight_failed;
            }
            if let Some(e) = deviations.iter().find(|e| e.scenario == scenario && e.check == check) {
                return Expected { scenario: e.scenario, check: e.check, status: e.status, words: e.words };
            }
            if common::NOT_APPLICABLE_IN_DEMO.contains(&check) {
                return Expected { scenario, check, status: "skipped", words: &["not-applicable", "opt-in"] };
            }
            Expected { scenario, check, status: "passed", words: &[] }
        })
        .collect()
}

/// A preflight failure exits 3, a failed check 1, a green run 0.
fn expected_exit_code(scenario: &str) -> i32 {
    if scenario == "bad-token" {
        3
    } else if deviations().iter().any(|e| e.scenario == scenario && e.status == "failed") {
        1
    } else {
        0
    }
}

/// The exit code and JSON report of the demo of `scenario`, run once per test process.
fn report(scenario: &str) -> &'static (i32, Value) {
    static REPORTS: OnceLock<HashMap<&'static str, OnceLock<(i32, Value)>>> = OnceLock::new();
    let reports = REPORTS.get_or_init(|| {
        realitycheck_sim::scenario::Scenario::ALL.iter().map(|s| (s.name(), OnceLock::new())).collect()
    });
    reports[scenario].get_or_init(|| {
        let dir = tempfile::TempDir::new().unwrap();
        let json = dir.path().join("report.json");
        let out =
            common::run(common::realitycheck(dir.path()).args(["demo", "--scenario", scenario, "--json"]).arg(&json));
        let report =
            std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no report for {scenario} ({e}): {}", out.stderr));
        (out.code, serde_json::from_str(&report).unwrap())
    })
}

fn verify(expected: &Expected) -> Result<(), Failed> {
    let (code, report) = report(expected.scenario);
    let want_code = expected_exit_code(expected.scenario);
    if *code != want_code {
        return Err(format!("demo --scenario {} exited {code}, expected {want_code}", expected.scenario).into());
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
/// in: the docs name no scenario that does not show the check red, and miss none that does.
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
            .filter(|e| e.status == "failed" && family.contains(&e.check))
            .map(|e| e.scenario)
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
    let docker_jobs = || DOCKER_JOB_CHECKS.into_iter().chain(["executors::remote_docker"]).collect();
    match scenario {
        "no-nomad-clients" | "nomad-clients-draining" | "nomad-docker-unhealthy" => {
            vec![("no-nomad-client-for-docker", docker_jobs())]
        }
        "pods-not-ready" => vec![("machine-provisioner-not-ready", MACHINE_JOB_CHECKS.into())],
        "machine-provisioner-broken" | "machine-provisioner-forbidden" => {
            vec![("machine-provisioner-cannot-start-vms", MACHINE_JOB_CHECKS.into())]
        }
        _ => Vec::new(),
    }
}

/// Every failed check of the scenario's report refers to a cause that lists it, and says the
/// cause, remediation and phase of that cause: diagnoses sharing a key say the same. The
/// causes several checks share are exactly those `shared_causes` expects.
fn verify_causes(scenario: &'static str) -> Result<(), Failed> {
    let (_, report) = report(scenario);
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
        .map(|expected| Trial::test(format!("{}::{}", expected.scenario, expected.check), move || verify(&expected)));
    let causes = realitycheck_sim::scenario::Scenario::ALL
        .iter()
        .map(|scenario| scenario.name())
        .map(|scenario| Trial::test(format!("{scenario}::causes"), move || verify_causes(scenario)));
    let docs = Trial::test(
        "docs::pages_name_the_scenarios_that_show_each_check_red",
        pages_name_the_scenarios_that_show_each_check_red,
    );
    libtest_mimic::run(&arguments, checks.chain(causes).chain([docs]).collect()).exit();
}
