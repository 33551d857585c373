//! End-to-end tests of the binary against the simulated installation: the demo, a `run`
//! pointed at a separate `realitycheck sim` process, reports, exit codes, and secrets.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::{realitycheck, report_filters, run};

/// The part of the terminal report after the live lines: suites, failures, summary. The
/// live lines come in finish order, which varies; this part follows the plan.
fn closing_part(stdout: &str) -> &str {
    stdout.split_once("------------\n").map_or(stdout, |(_, rest)| rest)
}
use tempfile::TempDir;

#[test]
fn demo_is_green_on_a_healthy_installation() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["demo", "--color", "never"]));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    for id in common::ALL_CHECKS {
        let verdict = if common::NOT_APPLICABLE_IN_DEMO.contains(&id) { "SKIP" } else { "PASS" };
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(verdict) && l.contains(id)),
            "{id} is not {verdict}:\n{}",
            out.stdout
        );
    }
    report_filters().bind(|| insta::assert_snapshot!(closing_part(&out.stdout)));
}

#[test]
fn demo_no_nomad_clients_is_red_with_the_diagnosis() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["demo", "--scenario", "no-nomad-clients", "--color", "never"]));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    // The 14 checks whose docker jobs wait for a Nomad client share one cause, stated once.
    let cause = "cause:      docker jobs run on Nomad clients";
    assert_eq!(out.stdout.matches(cause).count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains("FAIL [14 checks] no-nomad-client-for-docker"), "{}", out.stdout);
    report_filters().bind(|| insta::assert_snapshot!(closing_part(&out.stdout)));
}

#[test]
fn demo_nomad_exec_broken_names_mtls() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["demo", "--scenario", "nomad-exec-broken", "--color", "never"]));
    assert_eq!(out.code, 1);
    report_filters().bind(|| insta::assert_snapshot!(closing_part(&out.stdout)));
}

/// A `realitycheck sim` child process, killed when dropped.
struct Sim {
    child: Child,
    env_file: PathBuf,
}

impl Sim {
    /// Starts the simulation and waits until it says it serves (it writes the env file first).
    fn start(dir: &Path, scenario: &str) -> Sim {
        Sim::start_with(dir, &["--scenario", scenario])
    }

    /// Starts the simulation with the flags `args` (`--scenario`, `--server-version`).
    fn start_with(dir: &Path, args: &[&str]) -> Sim {
        let env_file = dir.join("sim.env");
        let mut child = realitycheck(dir)
            .arg("sim")
            .args(args)
            .arg("--write-env")
            .arg(&env_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sim starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let serving = lines.by_ref().map_while(Result::ok).find(|line| line.contains("serving the Kubernetes API"));
        assert!(serving.is_some(), "sim never said it serves");
        Sim { child, env_file }
    }

    /// The exports of the env file, as (name, value) pairs.
    fn exports(&self) -> Vec<(String, String)> {
        exports_of(&self.env_file)
    }
}

/// The `export NAME='value'` lines of an env file, as (name, value) pairs.
fn exports_of(env_file: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(env_file)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_string(), value.trim_matches('\'').to_string()))
        .collect()
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn run_against_a_sim_process_writes_junit_and_json() {
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "healthy");
    let exports = sim.exports();
    assert!(exports.iter().any(|(name, _)| name == "KUBECONFIG"), "{exports:?}");
    let junit = dir.path().join("reports/junit.xml");
    let json = dir.path().join("reports/report.json");
    let out =
        run(realitycheck(dir.path()).arg("run").arg("--junit").arg(&junit).arg("--json").arg(&json).envs(exports));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), common::ALL_CHECKS.len(), "{xml}");
    for id in common::ALL_CHECKS {
        assert!(xml.contains(&format!("name=\"{id}\"")), "{id} missing in {xml}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["status"], "passed");
    assert!(
        out.stderr.is_empty() || !out.stderr.contains("cancelled"),
        "a green run leaves no workflow: {}",
        out.stderr
    );
}

#[test]
fn sim_runs_on_the_cloud_its_flag_names_unless_the_scenario_forces_other() {
    let cloud = |exports: Vec<(String, String)>| {
        exports.into_iter().find(|(name, _)| name == "CIRCLE_CLOUD_PROVIDER").map(|(_, value)| value)
    };
    for (args, expected) in [
        (&["--scenario", "healthy"][..], "aws"),
        (&["--scenario", "healthy", "--cloud-provider", "gcp"][..], "gcp"),
        (&["--scenario", "healthy", "--cloud-provider", "other"][..], "other"),
        (&["--scenario", "cloud-provider-other", "--cloud-provider", "gcp"][..], "other"),
    ] {
        let dir = TempDir::new().unwrap();
        let sim = Sim::start_with(dir.path(), args);
        assert_eq!(cloud(sim.exports()).as_deref(), Some(expected), "{args:?}");
    }
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["sim", "--cloud-provider", "azure"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("[possible values: aws, gcp, other]"), "{}", out.stderr);
}

#[test]
fn demo_hands_its_cloud_provider_to_the_checks() {
    let dir = TempDir::new().unwrap();
    let demo = |cloud: &str| {
        run(realitycheck(dir.path()).args([
            "demo",
            "--cloud-provider",
            cloud,
            "--exact",
            "executors::arm",
            "--color",
            "never",
        ]))
    };
    let gcp = demo("gcp");
    assert_eq!(gcp.code, 0, "stdout:\n{}\nstderr:\n{}", gcp.stdout, gcp.stderr);
    assert!(gcp.stdout.contains("not applicable: the cloud provider is gcp"), "{}", gcp.stdout);
    let aws = demo("aws");
    assert_eq!(aws.code, 0, "stdout:\n{}\nstderr:\n{}", aws.stdout, aws.stderr);
    assert!(!aws.stdout.contains("not applicable: the cloud provider is gcp"), "{}", aws.stdout);
}

#[test]
fn a_gcp_install_runs_the_android_job_and_every_check_but_arm_and_windows_is_green() {
    let dir = TempDir::new().unwrap();
    let report = dir.path().join("report.json");
    let out = run(realitycheck(dir.path())
        .args(["demo", "--cloud-provider", "gcp", "--color", "never", "--json"])
        .arg(&report));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let status = |id: &str| {
        let check = checks.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}"));
        (check["status"].as_str().unwrap().to_string(), check.to_string())
    };
    let (android, note) = status("executors::android");
    assert_eq!(android, "passed", "{note}");
    assert!(note.contains("job `android`") && note.contains("on medium (machine executor)"), "{note}");
    for dlc in ["executors::remote_docker_dlc", "executors::machine_dlc"] {
        assert_eq!(status(dlc).0, "passed", "{}", status(dlc).1);
    }
    for check in checks {
        let id = check["id"].as_str().unwrap();
        let expected = if ["executors::arm", "executors::windows"].contains(&id) { "skipped" } else { "passed" };
        assert_eq!(check["status"], expected, "{check}");
    }
}

#[test]
fn a_sim_process_gives_a_run_the_capacity_thresholds_at_its_speed() {
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "capacity-healthy");
    let out = run(realitycheck(dir.path()).args(["config", "check"]).envs(sim.exports()));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    for (key, value) in [("capacity.max_wait_p95", "3s"), ("capacity.autoscaler_reaction", "4s")] {
        let line =
            out.stdout.lines().find(|line| line.trim_start().starts_with(key)).unwrap_or_else(|| panic!("{key}"));
        assert!(line.contains(&format!(" {value} ")), "{line}");
        assert!(line.contains("sim.env.toml"), "from the file sim writes: {line}");
    }
}

#[test]
fn capacity_against_a_sim_process_is_judged_by_the_thresholds_sim_wrote() {
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "autoscaler-at-max");
    let out = run(realitycheck(dir.path()).args(["capacity", "--jobs", "30", "--color", "never"]).envs(sim.exports()));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✗ capacity.autoscaler"), "{}", out.stdout);
    assert!(out.stdout.contains("max of 2 clients"), "{}", out.stdout);
    assert!(out.stdout.contains("> 3.0s"), "judged against the sim's 3s, not 3m: {}", out.stdout);
}

#[test]
fn upgrade_check_against_a_sim_process_ready_for_4_10_is_green_with_the_plan() {
    let dir = TempDir::new().unwrap();
    let sim = Sim::start_with(dir.path(), &["--scenario", "upgrade-ready", "--server-version", "4.9"]);
    let json = dir.path().join("plan.json");
    let out =
        run(realitycheck(dir.path()).args(["upgrade-check", "--to", "4.10", "--json"]).arg(&json).envs(sim.exports()));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let notes: Vec<&str> = report["checks"].as_array().unwrap().iter().filter_map(|c| c["note"].as_str()).collect();
    assert_eq!(notes.len(), 7, "{report}");
    assert!(notes[0].contains("4.9.5 is the last patch of 4.9"), "{notes:?}");
    let out = run(realitycheck(dir.path())
        .args(["upgrade-check", "--to", "4.10", "--backup-max-age", "1h"])
        .envs(sim.exports()));
    assert_eq!(out.code, 1, "a backup 2h old is too old for 1h: {}", out.stdout);
    assert!(
        out.stdout.contains("no completed Velero backup of namespace circleci-server in the last 1h"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_release_on_another_chart_version_than_expected_is_red_and_the_https_api_verified() {
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "healthy");
    let selected = ["--exact", "cluster::helm_release", "api::tls_certificate"];
    let out = run(realitycheck(dir.path())
        .arg("run")
        .args(selected)
        .arg("--expect-chart-version=4.10.1")
        .envs(sim.exports()));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("release circleci-server runs chart 4.10.0, not 4.10.1"), "{}", out.stdout);
    assert!(
        out.stdout.contains("PASS") && out.stdout.contains("api::tls_certificate  chain verified"),
        "{}",
        out.stdout
    );
    let out = run(realitycheck(dir.path())
        .arg("run")
        .args(selected)
        .arg("--expect-chart-version=4.10.0")
        .envs(sim.exports()));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

/// Each check's status in a JSON report, in report order.
fn statuses(json: &Path) -> Vec<(String, String)> {
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    checks.iter().map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string())).collect()
}

#[test]
fn run_against_a_sim_process_gives_the_verdicts_of_the_demo() {
    for scenario in ["nomad-clients-draining", "runner-missing"] {
        let dir = TempDir::new().unwrap();
        let sim = Sim::start(dir.path(), scenario);
        let from_run = dir.path().join("run.json");
        let out = run(realitycheck(dir.path()).args(["run", "--json"]).arg(&from_run).envs(sim.exports()));
        assert_eq!(out.code, 1, "{scenario}: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        let from_demo = dir.path().join("demo.json");
        let demo = run(realitycheck(dir.path()).args(["demo", "--scenario", scenario, "--json"]).arg(&from_demo));
        assert_eq!(demo.code, 1, "{scenario}: {}", demo.stderr);
        let run_statuses = statuses(&from_run);
        assert_eq!(run_statuses, statuses(&from_demo), "{scenario}");
        assert!(run_statuses.iter().any(|(_, status)| status == "failed"), "{scenario}: {run_statuses:?}");
    }
}

#[test]
fn an_unreachable_cluster_is_a_preflight_failure_with_every_check_skipped() {
    let dir = TempDir::new().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, common::kubeconfig(&format!("http://{closed_port}"))).unwrap();
    let junit = dir.path().join("junit.xml");
    let out = run(realitycheck(dir.path())
        .args(["run", "--color", "never", "--junit"])
        .arg(&junit)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert_eq!(out.code, 3, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("http://{closed_port}")), "the message names the URL:\n{}", out.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let without_resource_classes = common::ALL_CHECKS.iter().filter(|id| !id.starts_with("resource_classes::")).count();
    assert_eq!(xml.matches("<skipped").count(), without_resource_classes, "{xml}");
}

#[test]
fn a_filter_that_selects_nothing_exits_4() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["demo", "no-such-check"]));
    assert_eq!(out.code, 4);
    assert!(out.stderr.contains("no check matches"), "{}", out.stderr);
}

#[test]
fn filters_follow_libtest_semantics() {
    let dir = TempDir::new().unwrap();
    let listed = |args: &[&str]| {
        let out = run(realitycheck(dir.path()).args(["demo", "--list"]).args(args));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next().filter(|w| w.contains("::")))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&[]), common::ALL_CHECKS);
    assert_eq!(
        listed(&["nomad"]),
        ["nomad::servers_alive", "nomad::clients_ready", "nomad::mtls", "nomad::gossip_key", "nomad::autoscaler"]
    );
    assert_eq!(
        listed(&["nomad", "--skip", "servers", "--skip", "gossip", "--skip", "mtls", "--skip", "autoscaler"]),
        ["nomad::clients_ready"]
    );
    assert!(listed(&["nomad", "--exact"]).is_empty());
    assert_eq!(listed(&["nomad::servers_alive", "--exact"]), ["nomad::servers_alive"]);
}

#[test]
fn list_shows_ids_kinds_tags_and_summaries() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["list"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn the_canary_profile_lists_the_job_checks_only_and_a_check_no_suite_has_is_refused() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["list", "--profile", "canary"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<&str> =
        out.stdout.lines().filter_map(|l| l.split_whitespace().next().filter(|w| w.contains("::"))).collect();
    assert_eq!(ids, ["executors::docker", "executors::machine"], "{}", out.stdout);

    std::fs::write(
        dir.path().join("realitycheck.toml"),
        "[profiles.mine]\nchecks = [\"executors::docker\", \"executors::dokcer\"]\n",
    )
    .unwrap();
    let out = run(realitycheck(dir.path()).args(["run", "--profile", "mine"]));
    assert_eq!(out.code, 2, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    for part in [
        "profile `mine`'s checks (",
        "realitycheck.toml, line 2",
        "name `executors::dokcer`, which is no check of target `default`",
        "`realitycheck list --profile laptop` prints the IDs",
    ] {
        assert!(out.stderr.contains(part), "{part}: {}", out.stderr);
    }
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
}

#[test]
fn configuration_errors_exit_2_and_name_the_file() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("realitycheck.toml"), "[defaults]\ncloud_provider = \"azure\"\n").unwrap();
    let out = run(realitycheck(dir.path()).args(["run"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("realitycheck.toml, line 2"), "{}", out.stderr);
    assert!(out.stderr.contains("aws, gcp or other"), "{}", out.stderr);
    let out = run(realitycheck(dir.path()).args(["run", "--config", "missing.toml"]));
    assert_eq!(out.code, 2);
    let out = run(realitycheck(dir.path()).args(["run", "--no-such-flag"]));
    assert_eq!(out.code, 2, "usage errors exit 2");
}

#[test]
fn a_ca_bundle_that_cannot_be_read_is_a_configuration_error_before_any_check() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let out = run(realitycheck(dir.path())
        .args(["run", "--host", "https://circleci.example.com", "--ca-bundle", "absent.pem", "--json"])
        .arg(&json)
        .args(["--exact", "api::authenticated"])
        .env("CIRCLE_TOKEN", "CCIPAT_ca_bundle_test"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("cannot read the CA bundle") && out.stderr.contains("absent.pem"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no check ran: {}", out.stdout);
    assert!(!json.exists(), "no report of a run that never started");
}

#[test]
fn init_writes_the_reference_config_once() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["init", "--dir", "cfg"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(dir.path().join("cfg/realitycheck.toml")).unwrap();
    assert_eq!(written, realitycheck_config::REFERENCE_CONFIG);
    let project = std::fs::read_to_string(dir.path().join("cfg/.circleci/config.yml")).unwrap();
    assert_eq!(project, realitycheck_project::CONFIG_YML);
    let again = run(realitycheck(dir.path()).args(["init", "--dir", "cfg"]));
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let list = run(realitycheck(dir.path()).args(["list", "--config", "cfg/realitycheck.toml"]));
    assert_eq!(list.code, 0, "the written file loads: {}", list.stderr);
}

#[test]
fn the_token_never_reaches_any_output() {
    const WRONG_TOKEN: &str = "CCIPAT_realitycheck_test_secret_4b1d";
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "machine-provisioner-broken");
    // The accepted token (a red run that calls every API endpoint: the pipeline, job details,
    // the artifact download through its redirect, the failed machine jobs' step output), then
    // a rejected one.
    for (token, expected_code) in [(realitycheck_sim::SIM_TOKEN, 1), (WRONG_TOKEN, 3)] {
        let junit = dir.path().join("junit.xml");
        let json = dir.path().join("report.json");
        let out = run(realitycheck(dir.path())
            .args(["-vvv", "run", "--junit"])
            .arg(&junit)
            .arg("--json")
            .arg(&json)
            .envs(sim.exports())
            .env("CIRCLE_TOKEN", token)
            .env("RUST_LOG", "trace"));
        assert_eq!(out.code, expected_code, "stdout:\n{}", out.stdout);
        assert!(out.stderr.contains("TRACE"), "trace logs were on");
        for (what, text) in [
            ("stdout", out.stdout),
            ("stderr", out.stderr),
            ("junit", std::fs::read_to_string(&junit).unwrap()),
            ("json", std::fs::read_to_string(&json).unwrap()),
        ] {
            assert!(!text.contains(token), "the token leaked into {what}");
        }
    }
}

/// NOMAD_TOKEN, sent to Nomad servers outside the cluster, reaches no output either: a red run
/// through their HTTP API (another CA than the mTLS Secret's), with trace logs.
#[test]
fn the_nomad_token_never_reaches_any_output() {
    const NOMAD_TOKEN: &str = "7c1e2f9a-realitycheck-nomad-acl-secret";
    let dir = TempDir::new().unwrap();
    let sim = Sim::start(dir.path(), "nomad-external-ca-mismatch");
    let exports = sim.exports();
    assert!(exports.iter().any(|(name, value)| name == "NOMAD_ADDR" && value.starts_with("https://")), "{exports:?}");
    let (junit, json) = (dir.path().join("junit.xml"), dir.path().join("report.json"));
    let out = run(realitycheck(dir.path())
        .args(["-vvv", "run", "--junit"])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .envs(exports)
        .env("NOMAD_TOKEN", NOMAD_TOKEN)
        .env("RUST_LOG", "trace"));
    assert_eq!(out.code, 1, "stdout:\n{}", out.stdout);
    assert!(out.stdout.contains("not signed by the CA realitycheck was given"), "read through the API: {}", out.stdout);
    let config = run(realitycheck(dir.path()).args(["config", "check"]).env("NOMAD_TOKEN", NOMAD_TOKEN));
    assert!(config.stdout.contains("nomad.token") && config.stdout.contains("env NOMAD_TOKEN"), "{}", config.stdout);
    for (what, text) in [
        ("stdout", out.stdout),
        ("stderr", out.stderr),
        ("junit", std::fs::read_to_string(&junit).unwrap()),
        ("json", std::fs::read_to_string(&json).unwrap()),
        ("config check", config.stdout + &config.stderr),
    ] {
        assert!(!text.contains(NOMAD_TOKEN), "the Nomad token leaked into {what}");
    }
}

#[test]
fn setup_contexts_lets_the_contexts_job_prove_the_values_of_this_run() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let out = run(realitycheck(dir.path())
        .args(["demo", "--scenario", "contexts-missing", "--setup-contexts", "--json"])
        .arg(&json));
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let contexts = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "features::contexts").unwrap();
    assert_eq!(contexts["status"], "passed", "{contexts:#}");
    assert!(contexts.to_string().contains("values realitycheck set for this run"), "{contexts:#}");
}

/// Ctrl-C (SIGINT) or SIGTERM while jobs run: the run's workflows are cancelled, both
/// reports written with the unfinished checks marked, and the exit code is 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_cancels_its_workflows_and_exits_130() {
    for signal in ["-INT", "-TERM"] {
        interrupted_by(signal).await;
    }
}

async fn interrupted_by(signal: &str) {
    use realitycheck_sim::execution::JobTiming;
    use realitycheck_sim::scenario::Scenario;
    use realitycheck_sim::sim::{SimOptions, SimServer};

    let slow_jobs = JobTiming {
        run_min: std::time::Duration::from_secs(600),
        run_max: std::time::Duration::from_secs(600),
        ..JobTiming::default()
    };
    let options = SimOptions { timing: slow_jobs, ..SimOptions::for_scenario(Scenario::Healthy) };
    let sim = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let dir = TempDir::new().unwrap();
    let env_file = dir.path().join("sim.env");
    sim.write_env(&env_file).unwrap();
    let (json, junit) = (dir.path().join("report.json"), dir.path().join("junit.xml"));
    let mut child = realitycheck(dir.path())
        .args(["run", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .envs(exports_of(&env_file))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The event to wait for: the pipeline's docker job runs.
    let running = |summaries: &[realitycheck_sim::execution::PipelineSummary]| {
        summaries
            .iter()
            .flat_map(|p| &p.workflows)
            .flat_map(|w| &w.jobs)
            .any(|(name, status)| name == "docker" && *status == "running")
    };
    while !running(&sim.circleci_state().pipeline_summaries()) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its jobs ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let interrupted = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "kill {signal}: {stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"executors::docker\"") && xml.contains("interrupted"), "kill {signal}: {xml}");
    assert!(stderr.contains("cancelled workflow `docker`"), "{stderr}");
    let summaries = sim.circleci_state().pipeline_summaries();
    let statuses: Vec<&str> = summaries.iter().flat_map(|p| &p.workflows).map(|w| w.status).collect();
    assert!(!statuses.is_empty() && statuses.iter().all(|s| *s == "canceled"), "{statuses:?}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let docker = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "executors::docker").unwrap();
    assert!(docker.to_string().contains("interrupted"), "{docker:#}");
    sim.shutdown().await;
}

/// A job that is never picked up, with no cause realitycheck can see, is reported shortly
/// before the pipeline timeout with what was seen, not as a bare timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_never_picked_up_is_reported_before_the_timeout() {
    use realitycheck_sim::execution::JobTiming;
    use realitycheck_sim::scenario::Scenario;
    use realitycheck_sim::sim::{SimOptions, SimServer};

    let never_dequeued = JobTiming { queue: std::time::Duration::from_secs(3600), ..JobTiming::default() };
    let options = SimOptions { timing: never_dequeued, ..SimOptions::for_scenario(Scenario::Healthy) };
    let sim = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let dir = TempDir::new().unwrap();
    let env_file = dir.path().join("sim.env");
    sim.write_env(&env_file).unwrap();
    std::fs::write(dir.path().join("realitycheck.toml"), "[profiles.laptop.timeouts]\npipeline = \"3s\"\n").unwrap();
    let json = dir.path().join("report.json");
    let mut command = realitycheck(dir.path());
    command.args(["run", "executors::docker", "--json"]).arg(&json).envs(exports_of(&env_file));
    // The run blocks; the simulation serves on the runtime's other thread meanwhile.
    let out = common::ran(tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap());
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let docker = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "executors::docker").unwrap();
    let text = docker.to_string();
    for words in [
        "did not finish within 2.7s",
        "(the pipeline timeout is 3s)",
        ": queued",
        "never picked up",
        "grep -e docker-provisioner -e machine-provisioner",
    ] {
        assert!(text.contains(words), "`{words}` missing: {docker:#}");
    }
    assert!(out.stderr.contains("cancelled workflow `docker`"), "{}", out.stderr);
    sim.shutdown().await;
}

/// A run of some checks starts only the workflows they wait for: for `executors::docker`,
/// the docker job alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_only_the_workflows_the_selected_checks_need() {
    use realitycheck_sim::scenario::Scenario;
    use realitycheck_sim::sim::SimServer;

    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let dir = TempDir::new().unwrap();
    let env_file = dir.path().join("sim.env");
    sim.write_env(&env_file).unwrap();
    std::fs::write(
        dir.path().join("realitycheck.toml"),
        "[defaults.pipeline]\ndocker_resource_classes = [\"small\"]\n",
    )
    .unwrap();
    let mut command = realitycheck(dir.path());
    command.args(["run", "executors::docker"]).envs(exports_of(&env_file));
    let out = common::ran(tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap());
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let summaries = sim.circleci_state().pipeline_summaries();
    let workflows: Vec<&str> = summaries.iter().flat_map(|p| &p.workflows).map(|w| w.name.as_str()).collect();
    assert_eq!(workflows, ["docker"]);
    sim.shutdown().await;
}

#[test]
fn what_would_mislead_or_mutate_against_the_profile_is_refused_with_exit_2() {
    let dir = TempDir::new().unwrap();
    let health = run(realitycheck(dir.path()).args(["run", "--profile", "health", "--setup-contexts"]));
    assert_eq!(health.code, 2, "stdout:\n{}\nstderr:\n{}", health.stdout, health.stderr);
    assert!(health.stderr.contains("profile `health` runs nothing that mutates"), "{}", health.stderr);
    let blank = run(realitycheck(dir.path())
        .arg("run")
        .env("CIRCLE_HOSTNAME", "https://ci.example.com")
        .env("CIRCLE_TOKEN", " "));
    assert_eq!(blank.code, 2, "stdout:\n{}\nstderr:\n{}", blank.stdout, blank.stderr);
    assert!(
        blank.stderr.contains("CIRCLE_TOKEN, field `CIRCLE_TOKEN`: the variable is set but empty"),
        "{}",
        blank.stderr
    );
    let namespace = run(realitycheck(dir.path()).args(["run", "--namespace", "../kube-system"]));
    assert_eq!(namespace.code, 2, "{}", namespace.stderr);
    assert!(namespace.stderr.contains("`../kube-system` is not a Kubernetes namespace name"), "{}", namespace.stderr);
}

#[test]
fn two_reports_in_one_file_are_refused_before_the_run() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("real.xml"), "").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("real.xml"), dir.path().join("link.json")).unwrap();
    let same = run(realitycheck(dir.path()).args(["run", "--junit", "r.xml", "--json", "./r.xml"]));
    assert_eq!(same.code, 2, "stdout:\n{}\nstderr:\n{}", same.stdout, same.stderr);
    assert!(same.stderr.contains("--junit and --json both name r.xml"), "{}", same.stderr);
    #[cfg(unix)]
    {
        let linked = run(realitycheck(dir.path()).args(["run", "--junit", "real.xml", "--json", "link.json"]));
        assert_eq!(linked.code, 2, "a symlink to the other report: {}", linked.stderr);
    }
}

#[test]
fn credentials_in_a_kubeconfig_or_a_host_are_never_echoed() {
    const SECRET: &str = "sekrit-bearer-4e7f";
    let dir = TempDir::new().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:6443'}}\nusers:\n- name: u\n  user:\n    token: [{SECRET}, 5]\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let (junit, json) = (dir.path().join("r.xml"), dir.path().join("r.json"));
    let out = run(realitycheck(dir.path())
        .arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json));
    assert_eq!(out.code, 3, "the kubeconfig cannot be read: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("failed to parse kubeconfig YAML"), "{}", out.stdout);
    let reports = [std::fs::read_to_string(&junit).unwrap(), std::fs::read_to_string(&json).unwrap()];
    for text in [&out.stdout, &out.stderr, &reports[0], &reports[1]] {
        assert!(!text.contains(SECRET), "the kubeconfig's token leaked: {text}");
    }
    let host = run(realitycheck(dir.path()).args(["run", "--host", "ftp://admin:hunter2@ci.example.com"]));
    assert_eq!(host.code, 2, "{}", host.stderr);
    assert!(!host.stdout.contains("hunter2") && !host.stderr.contains("hunter2"), "{}", host.stderr);
}

#[test]
fn the_https_api_needs_its_ca_and_insecure_warns() {
    let (dir, other) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let sim = Sim::start(dir.path(), "healthy");
    let exports = sim.exports();
    let ca = |exports: &[(String, String)]| {
        exports.iter().find(|(name, _)| name == "REALITYCHECK_CA_BUNDLE").map(|(_, value)| value.clone()).unwrap()
    };
    let without_ca: Vec<(String, String)> =
        exports.iter().filter(|(name, _)| name != "REALITYCHECK_CA_BUNDLE").cloned().collect();
    let authenticated = ["run", "--exact", "api::authenticated"];

    let right = run(realitycheck(dir.path()).args(authenticated).envs(exports.clone()));
    assert_eq!(right.code, 0, "the simulation's CA: stdout:\n{}\nstderr:\n{}", right.stdout, right.stderr);

    let wrong_ca = ca(&Sim::start(other.path(), "healthy").exports());
    let wrong = run(realitycheck(dir.path())
        .args(authenticated)
        .envs(without_ca.clone())
        .env("REALITYCHECK_CA_BUNDLE", &wrong_ca));
    assert_eq!(wrong.code, 3, "another CA: stdout:\n{}\nstderr:\n{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stdout.contains("TLS failure") && wrong.stdout.contains("--ca-bundle FILE"), "{}", wrong.stdout);

    let insecure = run(realitycheck(dir.path()).args(authenticated).arg("--insecure").envs(without_ca));
    assert_eq!(insecure.code, 0, "--insecure accepts it: {}", insecure.stderr);
    assert!(insecure.stderr.contains("warning: TLS certificate verification is OFF"), "{}", insecure.stderr);
}

/// A second Ctrl-C while the run cleans up (here: cancelling hangs) exits at once, saying what
/// may still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_interrupt_exits_at_once_naming_what_may_still_run() {
    use realitycheck_sim::circleci::{ApiBehaviour, Fault, FaultPlan};
    use realitycheck_sim::execution::JobTiming;
    use realitycheck_sim::scenario::Scenario;
    use realitycheck_sim::sim::{SimOptions, SimServer};

    let slow_jobs = JobTiming {
        run_min: std::time::Duration::from_secs(600),
        run_max: std::time::Duration::from_secs(600),
        ..JobTiming::default()
    };
    let hung_cancel = FaultPlan::repeating(1, [(1, Fault::AnswerAfter(std::time::Duration::from_secs(120)))])
        .only("POST /api/v2/workflow/");
    let api = ApiBehaviour { delay: std::time::Duration::ZERO, faults: hung_cancel };
    let options = SimOptions { api, timing: slow_jobs, ..SimOptions::for_scenario(Scenario::Healthy) };
    let sim = SimServer::start_with(Scenario::Healthy, ([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let dir = TempDir::new().unwrap();
    let env_file = dir.path().join("sim.env");
    sim.write_env(&env_file).unwrap();
    let mut child = realitycheck(dir.path())
        .args(["run", "--exact", "executors::docker"])
        .envs(exports_of(&env_file))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while sim.circleci_state().pipeline_summaries().iter().all(|p| p.workflows.is_empty()) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its pipeline ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let interrupt = || {
        let sent = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    };
    interrupt();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let second = std::time::Instant::now();
    interrupt();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(second.elapsed() < std::time::Duration::from_secs(5), "exited {:?} after the second", second.elapsed());
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted again: exiting at once"), "{stderr}");
    let url = format!("{}/pipelines/{}/1", sim.circleci_url(), realitycheck_sim::SIM_PROJECT);
    assert!(stderr.contains(&format!("note: pipeline #1 ({url}) may still be running")), "{stderr}");
    sim.shutdown().await;
}

/// A run whose JSON report cannot be written (`/proc/self` takes no file, even for root): the
/// checks are green, but a lost report must not pass for a green run.
#[test]
fn a_green_run_whose_report_cannot_be_written_exits_2() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args([
        "demo",
        "--exact",
        "api::authenticated",
        "--json",
        "/proc/self/report.json",
    ]));
    assert_eq!(out.code, 2, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 passed"), "the checks themselves passed: {}", out.stdout);
    assert!(out.stderr.contains("cannot write the JSON report to /proc/self/report.json"), "{}", out.stderr);
}

/// Colour follows the terminal (a pseudo-terminal from util-linux `script`) unless NO_COLOR
/// is set; `--color always` beats NO_COLOR.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        common::skip_unless_required("util-linux `script` (a pseudo-terminal) is not installed");
        return;
    }
    let dir = TempDir::new().unwrap();
    let binary = env!("CARGO_BIN_EXE_realitycheck");
    let on_a_terminal = |extra: &str, no_color: bool| {
        let mut command = std::process::Command::new("script");
        command
            .args(["-qec", &format!("{binary} demo --exact api::authenticated{extra}"), "/dev/null"])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env_remove("CI")
            .env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        run(&mut command)
    };
    let coloured = on_a_terminal("", false);
    assert_eq!(coloured.code, 0, "{}", coloured.stdout);
    assert!(coloured.stdout.contains("\u{1b}[32m"), "green on a terminal: {:?}", coloured.stdout);
    let plain = on_a_terminal("", true);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert!(!plain.stdout.contains("\u{1b}[3"), "NO_COLOR: no colour: {:?}", plain.stdout);
    let forced = on_a_terminal(" --color always", true);
    assert!(forced.stdout.contains("\u{1b}[32m"), "--color always beats NO_COLOR: {:?}", forced.stdout);
}

/// With an explicit kubeconfig of two contexts, `--kube-context` picks the second: the
/// first points at nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_context_picks_a_context_of_an_explicit_kubeconfig() {
    use realitycheck_sim::scenario::Scenario;
    use realitycheck_sim::sim::SimServer;

    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let dir = TempDir::new().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kubeconfig = dir.path().join("two-contexts");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster: {{server: 'http://{closed}'}}\n- name: sim\n  cluster: {{server: '{}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: first\n  context: {{cluster: nowhere, user: u}}\n- name: second\n  context: {{cluster: sim, user: u}}\ncurrent-context: first\n",
            sim.kube_url()
        ),
    )
    .unwrap();
    let mut command = realitycheck(dir.path());
    command
        .args(["run", "--exact", "cluster::pods_ready", "--namespace", "circleci-server", "--kubeconfig"])
        .arg(&kubeconfig);
    let mut second = realitycheck(dir.path());
    second
        .args([
            "run",
            "--exact",
            "cluster::pods_ready",
            "--namespace",
            "circleci-server",
            "--kube-context",
            "second",
            "--kubeconfig",
        ])
        .arg(&kubeconfig);
    let (first, second) = tokio::task::spawn_blocking(move || (run(&mut command), run(&mut second))).await.unwrap();
    assert_eq!(first.code, 3, "the current context points at nothing: {}", first.stdout);
    assert_eq!(second.code, 0, "--kube-context second: stdout:\n{}\nstderr:\n{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("56 of 56 pods ready"), "{}", second.stdout);
    sim.shutdown().await;
}

/// The reports of a real demo run (passes, failures, skips): the JSON validates against its
/// schema, the JUnit against the Ant and Jenkins XSDs (which `../shared/reference` holds;
/// skipped without them or python3's xmlschema, mandatory in CI).
#[test]
fn the_reports_of_a_real_run_validate_against_their_schemas() {
    let dir = TempDir::new().unwrap();
    let (json, junit) = (dir.path().join("report.json"), dir.path().join("junit.xml"));
    let out = run(realitycheck(dir.path())
        .args(["demo", "--scenario", "machine-provisioner-broken", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    common::assert_valid_report(&report);
    let statuses: std::collections::BTreeSet<&str> =
        report["checks"].as_array().unwrap().iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(statuses, ["failed", "passed", "skipped"].into(), "the run has every kind of verdict");
    common::assert_valid_junit(&junit);
}
