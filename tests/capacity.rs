//! End-to-end tests of `capacity` through `demo --jobs N` (the simulation runs 60× faster than
//! a real installation, and its target's thresholds say so): each capacity scenario's verdict
//! and exit code, the JSON report valid against its schema with the picture beside it, the
//! JUnit report with a case per measure, the terminal report (snapshot, figures that vary from
//! run to run filtered), the refusals of the command line, and the token in no output.

mod common;

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use common::{Ran, realitycheck, run};

fn demo(dir: &Path, args: &[&str]) -> Ran {
    run(realitycheck(dir).args(["demo", "--color", "never"]).args(args))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The verdict of each measure in a JSON report, by ID.
fn verdicts(report: &Value) -> Vec<(String, Value)> {
    report["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|measure| (measure["id"].as_str().unwrap().to_owned(), measure["passed"].clone()))
        .collect()
}

fn assert_valid_capacity_report(report: &Value) {
    let path = format!("{}/capacity/schema/capacity-v1.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(report).map(|error| error.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["schema"], "realitycheck.capacity/v1");
}

/// The terminal report with what changes from run to run replaced: seconds, times, ports; a
/// message's continuation lines are joined, since its wrapping follows the figures' widths.
fn filters() -> insta::Settings {
    let mut settings = common::report_filters();
    settings.add_filter(r"\n {40,}", " ");
    settings.add_filter(r"\d+\.\d+s", "[s]");
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[time]");
    settings
}

#[test]
fn a_healthy_installation_passes_with_reports_and_the_picture_beside_the_json() {
    let dir = TempDir::new().unwrap();
    let (json_path, junit_path) = (dir.path().join("out/capacity.json"), dir.path().join("out/capacity.xml"));
    let out = demo(
        dir.path(),
        &["--jobs", "50", "--json", json_path.to_str().unwrap(), "--junit", junit_path.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report = json(&json_path);
    assert_valid_capacity_report(&report);
    assert!(verdicts(&report).iter().all(|(_, passed)| *passed == Value::Bool(true)), "{:?}", verdicts(&report));
    assert_eq!(report["summary"]["started"], 50);
    assert!(report["summary"]["first_scale_out"].is_number(), "the autoscaler scaled out: {}", report["summary"]);
    let svg = std::fs::read_to_string(dir.path().join("out/capacity.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("containers waiting"), "{}", &svg[..200.min(svg.len())]);
    let junit = std::fs::read_to_string(&junit_path).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 4, "{junit}");
    assert!(junit.contains("name=\"capacity.max_wait_p95\""), "{junit}");
    common::assert_valid_junit(&junit_path);
    assert!(out.stderr.contains("capacity.svg"), "says where the picture went: {}", out.stderr);
    filters().bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn an_autoscaler_at_its_max_fails_naming_the_max_and_the_setting() {
    let dir = TempDir::new().unwrap();
    let json_path = dir.path().join("capacity.json");
    let out =
        demo(dir.path(), &["--jobs", "50", "--scenario", "autoscaler-at-max", "--json", json_path.to_str().unwrap()]);
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report = json(&json_path);
    assert_valid_capacity_report(&report);
    let red: Vec<String> =
        verdicts(&report).into_iter().filter(|(_, passed)| *passed == Value::Bool(false)).map(|(id, _)| id).collect();
    assert_eq!(red, ["capacity.max_wait_p95", "capacity.autoscaler"], "{}", out.stdout);
    assert!(out.stdout.contains("max of 2 clients"), "{}", out.stdout);
    assert!(out.stdout.contains("nomad.auto_scaler.scaling.max"), "{}", out.stdout);
}

#[test]
fn a_stuck_autoscaler_fails_quoting_its_log() {
    let dir = TempDir::new().unwrap();
    let out = demo(dir.path(), &["--jobs", "50", "--scenario", "autoscaler-stuck"]);
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✗ capacity.autoscaler"), "{}", out.stdout);
    assert!(out.stdout.contains("no client was added"), "{}", out.stdout);
    assert!(out.stdout.contains("level=error"), "the autoscaler's log line is quoted: {}", out.stdout);
}

#[test]
fn a_class_no_client_can_hold_fails_at_once_and_a_smaller_one_runs() {
    let dir = TempDir::new().unwrap();
    let json_path = dir.path().join("capacity.json");
    let out =
        demo(dir.path(), &["--jobs", "10", "--scenario", "clients-too-small", "--resource-class", "xlarge", "--json"]);
    assert_eq!(out.code, 2, "--json needs its file: {}", out.stderr);
    let out = demo(
        dir.path(),
        &[
            "--jobs",
            "10",
            "--scenario",
            "clients-too-small",
            "--resource-class",
            "xlarge",
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report = json(&json_path);
    assert_eq!(report["measurement"]["ending"]["kind"], "not_started", "nothing was triggered: {report}");
    assert_eq!(report["measurement"]["pipeline"], Value::Null);
    assert!(out.stdout.contains("no Nomad client can hold xlarge (8 vCPU, 16384 MiB)"), "{}", out.stdout);
    let medium = demo(dir.path(), &["--jobs", "4", "--scenario", "clients-too-small"]);
    assert_eq!(medium.code, 0, "medium fits a t3a.xlarge: {}", medium.stdout);
}

#[test]
fn machine_containers_are_measured_without_nomad() {
    let dir = TempDir::new().unwrap();
    let out = demo(dir.path(), &["--jobs", "5", "--executor", "machine"]);
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("5 × medium on machine"), "{}", out.stdout);
    assert!(out.stdout.contains("– capacity.autoscaler"), "{}", out.stdout);
}

#[test]
fn the_command_line_refuses_a_workload_it_cannot_start() {
    let dir = TempDir::new().unwrap();
    let too_many = demo(dir.path(), &["--jobs", "51"]);
    assert_eq!(too_many.code, 2, "{}", too_many.stderr);
    assert!(too_many.stderr.contains("capacity.max_jobs allows 50"), "{}", too_many.stderr);
    let hold = demo(dir.path(), &["--jobs", "5", "--hold", "1.5s"]);
    assert_eq!(hold.code, 2, "{}", hold.stderr);
    assert!(hold.stderr.contains("whole seconds"), "{}", hold.stderr);
    let without_jobs = run(realitycheck(dir.path()).args(["capacity", "--host", "https://circleci.example.com"]));
    assert_eq!(without_jobs.code, 2, "{}", without_jobs.stderr);
    assert!(without_jobs.stderr.contains("--jobs N"), "{}", without_jobs.stderr);
    let upgrade_too = demo(dir.path(), &["--jobs", "5", "--upgrade-to", "4.10"]);
    assert_eq!(upgrade_too.code, 2, "{}", upgrade_too.stderr);
}

#[test]
fn the_token_is_in_no_output() {
    let dir = TempDir::new().unwrap();
    let json_path = dir.path().join("capacity.json");
    let junit_path = dir.path().join("capacity.xml");
    let out = demo(
        dir.path(),
        &["--jobs", "3", "--json", json_path.to_str().unwrap(), "--junit", junit_path.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = realitycheck_sim::SIM_TOKEN;
    for (what, text) in [
        ("stdout", out.stdout),
        ("stderr", out.stderr),
        ("json", std::fs::read_to_string(&json_path).unwrap()),
        ("junit", std::fs::read_to_string(&junit_path).unwrap()),
        ("svg", std::fs::read_to_string(json_path.with_extension("svg")).unwrap()),
    ] {
        assert!(!text.contains(token), "the token is in {what}");
    }
}
