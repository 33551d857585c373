//! End-to-end tests of `upgrade-check` against the simulated installation: for each upgrade
//! scenario, on the simulated versions, which `upgrade::*` check is red and what its diagnosis
//! says (every other one passes, or is skipped where listed); the green path; the command
//! line's refusals; the plan as JSON.

mod common;

use serde_json::Value;
use tempfile::TempDir;

use common::{realitycheck, report_filters, run};

/// The checks of `upgrade-check`, in report order.
const UPGRADE_CHECKS: [&str; 7] = [
    "upgrade::path",
    "upgrade::kubernetes",
    "upgrade::release_state",
    "upgrade::values",
    "upgrade::data_stores",
    "upgrade::nomad_clients",
    "upgrade::backup",
];

/// One `demo --upgrade-to`: the scenario, the simulated version, the target, and the checks
/// that are red with words of their diagnosis; every other check passes.
struct Case {
    scenario: &'static str,
    version: Option<&'static str>,
    to: &'static str,
    red: &'static [(&'static str, &'static [&'static str])],
}

const CASES: &[Case] = &[
    Case { scenario: "upgrade-ready", version: None, to: "4.10", red: &[] },
    Case { scenario: "upgrade-ready", version: Some("4.8"), to: "4.9", red: &[] },
    Case { scenario: "healthy", version: Some("4.10"), to: "4.10", red: &[] },
    Case {
        scenario: "healthy",
        version: Some("4.9"),
        to: "4.10",
        red: &[("upgrade::data_stores", &["MongoDB 4.4.15 is older than 7.0", "Upgrade MongoDB"])],
    },
    Case {
        scenario: "upgrade-skips-minor",
        version: None,
        to: "4.10",
        red: &[
            ("upgrade::path", &["4.8.3 → 4.8.12 → 4.9.5 → 4.10.0", "upgrade-check --to 4.8.12"]),
            ("upgrade::data_stores", &["MongoDB 3.6.22 is older than 7.0"]),
        ],
    },
    Case {
        scenario: "upgrade-skips-minor",
        version: Some("4.9"),
        to: "4.10",
        red: &[("upgrade::path", &["4.9.2 → 4.9.5 → 4.10.0"]), ("upgrade::data_stores", &["older than 7.0"])],
    },
    Case {
        scenario: "upgrade-kubernetes-too-old",
        version: None,
        to: "4.10",
        red: &[("upgrade::kubernetes", &["Kubernetes 1.32 is outside 1.33 – 1.35", "upgrade Kubernetes first"])],
    },
    Case {
        scenario: "upgrade-pending-release",
        version: None,
        to: "4.10",
        red: &[("upgrade::release_state", &["is pending-upgrade", "locked"])],
    },
    Case {
        scenario: "upgrade-renamed-values",
        version: None,
        to: "4.10",
        red: &[(
            "upgrade::values",
            &[
                "`machine_provisioner.machine_agent_base_url`: renamed `machine_provisioner.agent_base_url`",
                "`docker_provisioner.config_path`: renamed `docker_provisioner.custom_config`",
                "`telegraf.custom_config`: removed in 4.10",
                "`global.tracing.enabled`: renamed `global.otel`",
                "re-apply a custom workflow retention",
            ],
        )],
    },
    Case {
        scenario: "upgrade-mongodb-too-old",
        version: None,
        to: "4.10",
        red: &[("upgrade::data_stores", &["MongoDB 3.6.22 is older than 7.0"])],
    },
    Case {
        scenario: "upgrade-docker-29",
        version: None,
        to: "4.10",
        red: &[("upgrade::nomad_clients", &["Docker 29 or newer", "Docker 29.0.1", "Docker CE 28.1.1"])],
    },
    Case {
        scenario: "upgrade-no-recent-backup",
        version: None,
        to: "4.10",
        red: &[(
            "upgrade::backup",
            &["no completed Velero backup of namespace circleci-server", "velero backup create"],
        )],
    },
];

/// The JSON report of `demo --upgrade-to` for `case`, with its exit code.
fn report(case: &Case) -> (i32, Value) {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("plan.json");
    let mut command = realitycheck(dir.path());
    command.args(["demo", "--scenario", case.scenario, "--upgrade-to", case.to, "--json"]).arg(&json);
    if let Some(version) = case.version {
        command.args(["--server-version", version]);
    }
    let out = run(&mut command);
    let report =
        std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: no report ({e}): {}", case.scenario, out.stderr));
    (out.code, serde_json::from_str(&report).unwrap())
}

fn checks(report: &Value) -> Vec<&Value> {
    report["checks"].as_array().expect("the report lists its checks").iter().collect()
}

#[test]
fn each_upgrade_scenario_is_red_on_its_check_with_what_to_do() {
    let mut failures = Vec::new();
    for case in CASES {
        let name = format!("{}@{}→{}", case.scenario, case.version.unwrap_or("default"), case.to);
        let (code, report) = report(case);
        let expected_code = if case.red.is_empty() { 0 } else { 1 };
        if code != expected_code {
            failures.push(format!("{name}: exit {code}, expected {expected_code}"));
        }
        let checks = checks(&report);
        let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
        if ids != UPGRADE_CHECKS {
            failures.push(format!("{name}: checks {ids:?}"));
        }
        for check in checks {
            let id = check["id"].as_str().unwrap_or_default();
            let status = check["status"].as_str().unwrap_or_default();
            let text = check.to_string();
            match case.red.iter().find(|(red, _)| *red == id) {
                Some((_, words)) => {
                    if status != "failed" {
                        failures.push(format!("{name}: {id} is {status}, expected failed"));
                    }
                    for word in *words {
                        if !text.contains(word) {
                            failures.push(format!("{name}: {id} does not say `{word}`: {text}"));
                        }
                    }
                }
                None if status != "passed" => failures.push(format!("{name}: {id} is {status}: {text}")),
                None => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn what_rbac_refuses_is_skipped_with_the_rule_to_add_not_red() {
    let case = Case { scenario: "upgrade-forbidden", version: None, to: "4.10", red: &[] };
    let (code, report) = report(&case);
    assert_eq!(code, 0, "{report}");
    for (id, rule) in [
        ("upgrade::data_stores", r#"{apiGroups: [\"apps\"], resources: [\"statefulsets\"], verbs: [\"list\"]}"#),
        ("upgrade::backup", r#"{apiGroups: [\"velero.io\"], resources: [\"backups\"], verbs: [\"list\"]}"#),
    ] {
        let check = checks(&report).into_iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(check["status"], "skipped", "{check}");
        assert!(check.to_string().contains(rule), "{id} names its rule: {check}");
    }
}

#[test]
fn the_green_path_is_the_plan_in_its_pass_notes() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args([
        "demo",
        "--server-version",
        "4.9",
        "--upgrade-to",
        "4.10",
        "--color",
        "never",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut settings = report_filters();
    settings.add_filter(r"deployed \d+d\d+h ago", "deployed [AGE] ago");
    settings.add_filter(r"completed \d+h( \d+m)? ago", "completed [AGE] ago");
    settings.add_filter(r"circleci-pre-upgrade-\S+", "[BACKUP]");
    settings.add_filter(r"(backup|from-backup) [a-z0-9-]+-\d{14}", "$1 [BACKUP]");
    settings.bind(|| insta::assert_snapshot!(in_report_order(&out.stdout)));
}

/// The terminal report with the checks' lines in report order: they print as the checks end,
/// which is not always the same order (they run concurrently).
fn in_report_order(stdout: &str) -> String {
    let position = |line: &str| UPGRADE_CHECKS.iter().position(|id| line.contains(&format!("] {id}  ")));
    let mut lines: Vec<&str> = stdout.lines().collect();
    let checks: Vec<usize> = (0..lines.len()).filter(|&i| position(lines[i]).is_some()).collect();
    let mut ordered: Vec<&str> = checks.iter().map(|&i| lines[i]).collect();
    ordered.sort_by_key(|line| position(line));
    for (&i, line) in checks.iter().zip(ordered) {
        lines[i] = line;
    }
    lines.join("\n")
}

#[test]
fn a_target_realitycheck_does_not_know_is_refused_with_the_setting_that_adds_it() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["upgrade-check", "--to", "4.11"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("upgrade.latest_patches") && out.stderr.contains("4.0 – 4.10"), "{}", out.stderr);
    let out = run(realitycheck(dir.path()).args(["upgrade-check", "--to", "latest"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`latest` is not a server version"), "{}", out.stderr);
    std::fs::write(dir.path().join("realitycheck.toml"), "[defaults.upgrade]\nlatest_patches = [\"4.9\"]\n").unwrap();
    let out = run(realitycheck(dir.path()).args(["upgrade-check", "--list"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("upgrade.latest_patches") && out.stderr.contains("not a full server version"),
        "{}",
        out.stderr
    );
}

#[test]
fn upgrade_check_lists_its_seven_checks_and_runs_no_job() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args(["upgrade-check", "--list"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<&str> =
        out.stdout.lines().filter_map(|line| line.split_whitespace().next()).filter(|id| id.contains("::")).collect();
    assert_eq!(ids, UPGRADE_CHECKS);
    assert!(!out.stdout.contains("mutates"), "read-only: {}", out.stdout);
}
