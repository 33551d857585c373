//! `--baseline` end to end, with `demo`: the reports of a run compared with an earlier run's
//! JSON report (a healthy one, a red one), the exit codes with and without
//! `--fail-on-new-red-only`, and the baselines refused before anything runs.

mod common;

use std::path::Path;

use common::{realitycheck, report_filters, run};
use serde_json::Value;
use tempfile::TempDir;

/// Text put into every field of a baseline that the comparison does not read: no output of the
/// run compared with it may show it.
const BASELINE_ONLY: &str = "BASELINE-ONLY $(touch pwned)";

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes the JSON report of `demo --scenario SCENARIO` to `path`, which exits `code`.
fn demo_report(dir: &Path, scenario: &str, path: &str, code: i32) {
    let out = run(realitycheck(dir).args(["demo", "--scenario", scenario, "--json", path]));
    assert_eq!(out.code, code, "{scenario}: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

/// Each check's mark in a JSON report, in report order.
fn marks(report: &Value) -> Vec<(String, String)> {
    let checks = report["checks"].as_array().unwrap();
    checks
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["baseline"].as_str().unwrap().to_string()))
        .collect()
}

/// The part of the terminal report after the live lines: suites, failures, summary, comparison.
fn closing_part(stdout: &str) -> &str {
    stdout.split_once("------------\n").map_or(stdout, |(_, rest)| rest)
}

#[test]
fn after_a_healthy_baseline_a_red_check_is_new_red_and_fails_the_run_even_with_fail_on_new_red_only() {
    let dir = TempDir::new().unwrap();
    demo_report(dir.path(), "healthy", "before.json", 0);
    // The comparison reads IDs, statuses, the start, target, host and profile; nothing else.
    let mut before = json(&dir.path().join("before.json"));
    for check in before["checks"].as_array_mut().unwrap() {
        check["summary"] = Value::from(BASELINE_ONLY);
        check["note"] = Value::from(BASELINE_ONLY);
    }
    before["stopped_because"] = Value::from(BASELINE_ONLY);
    std::fs::write(dir.path().join("before.json"), serde_json::to_vec(&before).unwrap()).unwrap();

    let out = run(realitycheck(dir.path()).args([
        "demo",
        "--scenario",
        "runner-missing",
        "--color",
        "never",
        "--baseline",
        "before.json",
        "--fail-on-new-red-only",
        "--json",
        "after.json",
        "--junit",
        "after.xml",
    ]));
    assert_eq!(out.code, 1, "a new red fails the run: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAIL [") && out.stdout.contains("executors::runner  [new red] job `runner`"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("still red"), "{}", out.stderr);

    let after = json(&dir.path().join("after.json"));
    common::assert_valid_report(&after);
    let baseline = &after["baseline"];
    assert_eq!(baseline["file"], "before.json");
    assert_eq!(baseline["schema_version"], reports::json::SCHEMA_VERSION);
    assert_eq!(
        (&baseline["target"], &baseline["status"], &baseline["profile"]),
        (&"demo".into(), &"passed".into(), &"laptop".into())
    );
    assert_eq!(baseline["started_at"], before["started_at"]);
    let counts = serde_json::json!({"new_red": 1, "new_green": 0, "still_red": 0, "not_rechecked": 0, "unchanged": 34, "not_compared": 0});
    assert_eq!(baseline["counts"], counts);
    assert_eq!(baseline["not_in_this_run"], serde_json::json!([]));
    let new_red: Vec<String> = marks(&after)
        .into_iter()
        .filter(|(_, mark)| mark != "unchanged")
        .map(|(id, mark)| format!("{id} {mark}"))
        .collect();
    assert_eq!(new_red, ["executors::runner new-red"]);

    let junit = dir.path().join("after.xml");
    common::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<property name="realitycheck.baseline.executors::runner" value="new-red"/>"#), "{xml}");
    assert_eq!(xml.matches("realitycheck.baseline.").count(), common::ALL_CHECKS.len(), "{xml}");

    for (what, text) in
        [("stdout", &out.stdout), ("stderr", &out.stderr), ("json", &after.to_string()), ("junit", &xml)]
    {
        assert!(!text.contains(BASELINE_ONLY), "the baseline's other text reached {what}");
    }
    assert!(!dir.path().join("pwned").exists(), "nothing of the baseline is run");

    let mut filters = report_filters();
    filters.add_filter(r"run \d{4}-\d\d-\d\d \d\d:\d\d UTC", "run [TIME]");
    filters.bind(|| insta::assert_snapshot!(closing_part(&out.stdout)));
}

#[test]
fn checks_still_red_alone_pass_with_fail_on_new_red_only_and_a_fixed_one_is_new_green() {
    let dir = TempDir::new().unwrap();
    demo_report(dir.path(), "runner-missing", "red.json", 1);
    let still_red = ["demo", "--scenario", "runner-missing", "--baseline", "red.json", "--json", "again.json"];

    let without = run(realitycheck(dir.path()).args(still_red));
    assert_eq!(without.code, 1, "any red fails a run without --fail-on-new-red-only: {}", without.stderr);
    assert!(without.stdout.contains("executors::runner  [still red] job"), "{}", without.stdout);

    let only_new = run(realitycheck(dir.path()).args(still_red).arg("--fail-on-new-red-only"));
    assert_eq!(only_new.code, 0, "still red alone: stdout:\n{}\nstderr:\n{}", only_new.stdout, only_new.stderr);
    assert!(
        only_new
            .stderr
            .contains("note: 1 check is still red (red in the baseline red.json too) and none newly red: exit 0"),
        "{}",
        only_new.stderr
    );
    let again = json(&dir.path().join("again.json"));
    assert_eq!(again["status"], "failed", "the report still says what failed");
    assert_eq!(again["baseline"]["counts"]["still_red"], 1);

    let fixed = run(realitycheck(dir.path()).args([
        "demo",
        "--baseline",
        "red.json",
        "--fail-on-new-red-only",
        "--json",
        "fixed.json",
    ]));
    assert_eq!(fixed.code, 0, "stdout:\n{}\nstderr:\n{}", fixed.stdout, fixed.stderr);
    assert!(fixed.stdout.contains("executors::runner  [new green] job `runner`"), "{}", fixed.stdout);
    assert!(fixed.stdout.contains("1 new green"), "{}", fixed.stdout);
    let fixed = json(&dir.path().join("fixed.json"));
    common::assert_valid_report(&fixed);
    assert!(marks(&fixed).contains(&("executors::runner".to_string(), "new-green".to_string())), "{fixed:#}");
}

#[test]
fn a_baseline_that_is_no_report_is_a_usage_error_before_anything_runs() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("junit.xml"), "<testsuites/>\n").unwrap();
    std::fs::write(dir.path().join("record.json"), r#"{"schema_version": "realitycheck.run/v1"}"#).unwrap();
    std::fs::write(dir.path().join("edited.json"), r#"{"schema_version": "realitycheck.report/v2", "checks": 3}"#)
        .unwrap();
    std::fs::File::create(dir.path().join("huge.json")).unwrap().set_len(reports::baseline::MAX_BYTES + 1).unwrap();
    let refused = [
        ("absent.json", "cannot read the baseline absent.json: "),
        ("junit.xml", "the baseline junit.xml is not JSON (expected value at line 1 column 1)"),
        ("record.json", "the baseline record.json, field `schema_version`: `realitycheck.run/v1`, not one of"),
        ("edited.json", "the baseline edited.json, field `started_at`: missing"),
        ("huge.json", "the baseline huge.json is larger than 32 MiB"),
    ];
    for (file, message) in refused {
        for command in ["run", "demo"] {
            let out = run(realitycheck(dir.path()).args([command, "--baseline", file, "--json", "report.json"]));
            assert_eq!(out.code, 2, "{command} --baseline {file}: stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
            assert!(out.stderr.contains(message), "{command} --baseline {file}: {}", out.stderr);
            assert!(out.stderr.contains("`realitycheck run --json before.json`"), "what to do: {}", out.stderr);
            assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
            assert!(!dir.path().join("report.json").exists(), "no report of a run that never started");
        }
    }
    let out = run(realitycheck(dir.path()).args(["demo", "--fail-on-new-red-only"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--baseline <FILE>"), "{}", out.stderr);
}

/// A run whose preflight fails keeps its exit code 3 with `--fail-on-new-red-only`; the checks
/// it skipped that were red in the baseline are not rechecked.
#[test]
fn a_failed_preflight_keeps_its_exit_code_with_a_baseline() {
    let dir = TempDir::new().unwrap();
    let before = serde_json::json!({
        "schema_version": "realitycheck.report/v1",
        "target": "default",
        "host": "elsewhere",
        "profile": "laptop",
        "started_at": "2026-12-07T15:02:09.250Z",
        "status": "failed",
        "checks": [{"id": "cluster::pods_ready", "status": "failed"}, {"id": "nomad::mtls", "status": "passed"}],
    });
    std::fs::write(dir.path().join("before.json"), before.to_string()).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, common::kubeconfig(&format!("http://{closed_port}"))).unwrap();
    let out = run(realitycheck(dir.path())
        .args(["run", "--color", "never", "--baseline", "before.json", "--fail-on-new-red-only", "--kubeconfig"])
        .arg(&kubeconfig));
    assert_eq!(out.code, 3, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("cluster::pods_ready  [not rechecked] preflight kubernetes-api failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("compared with before.json (run 2026-12-07 15:02 UTC, target default): 0 new red"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Warning the baseline checked default (elsewhere), this run default ("),
        "{}",
        out.stdout
    );
}
