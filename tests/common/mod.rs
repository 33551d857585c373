//! Helpers shared by the end-to-end tests: the binary under test in a hermetic
//! environment (no CircleCI or kube settings of the machine leak in), and output capture.

#![allow(dead_code, reason = "each test binary uses a different subset of these helpers")]

use std::path::Path;
use std::process::{Command, Output};

/// Every check of the demo's configuration, in plan order: a configuration without docker
/// resource classes has all but the `resource_classes::` ones.
pub const ALL_CHECKS: [&str; 35] = [
    "cluster::pods_ready",
    "cluster::helm_release",
    "cluster::kubernetes_version",
    "nomad::servers_alive",
    "nomad::clients_ready",
    "nomad::mtls",
    "nomad::gossip_key",
    "nomad::autoscaler",
    "machine_provisioner::config",
    "api::authenticated",
    "api::tls_certificate",
    "api::project",
    "contexts::org_global",
    "contexts::individual_local",
    "pipeline::trigger",
    "executors::docker",
    "executors::machine",
    "executors::remote_docker",
    "executors::runner",
    "executors::arm",
    "executors::windows",
    "executors::android",
    "executors::remote_docker_dlc",
    "executors::machine_dlc",
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

/// The checks the demo skips as not applicable to its configuration (Windows is opt-in, the
/// Android image is GCP's and the demo's cloud is AWS by default).
pub const NOT_APPLICABLE_IN_DEMO: [&str; 2] = ["executors::windows", "executors::android"];

/// Environment variables kube-rs and the terminal read; with every variable of the registry of
/// settings, cleared for every test run.
const LEAKY_VARS: &[&str] =
    &["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "RUST_LOG", "NO_COLOR"];

/// The binary, run in `dir`, with a clean environment and HOME pointing at `dir` (so no
/// ~/.kube/config is found).
pub fn realitycheck(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_realitycheck"));
    command.current_dir(dir).env("HOME", dir);
    let settings = realitycheck_config::registry::environment().into_iter();
    for var in settings.chain(LEAKY_VARS.iter().copied()) {
        command.env_remove(var);
    }
    command
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn ran(output: Output) -> Ran {
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn run(command: &mut Command) -> Ran {
    ran(command.output().expect("the realitycheck binary runs"))
}

/// Snapshot settings that replace what changes from run to run in a terminal report
/// (durations, ports, temporary paths): `report_filters().bind(|| assert_snapshot!(..))`.
pub fn report_filters() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\[\s*\d+(\.\d+)?m?s\]", "[ DURATION ]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT");
    settings.add_filter(r"/tmp/[^\s,;)']+", "[TMP]");
    settings
}

/// Skips a test that needs an outside tool, saying why; with REALITYCHECK_REQUIRE_TOOLS=1
/// (CI) a missing tool fails the test instead.
pub fn skip_unless_required(why: &str) {
    assert!(
        std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "required by REALITYCHECK_REQUIRE_TOOLS=1: {why}"
    );
    eprintln!("skipped: {why}");
}

/// A kubeconfig whose only context points at `server`, without credentials.
pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: target\n  cluster:\n    server: {server}\n\
         contexts:\n- name: target\n  context:\n    cluster: target\n    user: nobody\ncurrent-context: target\n\
         users:\n- name: nobody\n  user: {{}}\n"
    )
}

/// Asserts that `report` validates against the schema of the JSON reports this realitycheck
/// writes (`reports/schema/report-v3.schema.json` for `realitycheck.report/v3`).
pub fn assert_valid_report(report: &serde_json::Value) {
    let version = reports::json::SCHEMA_VERSION.rsplit('/').next().unwrap();
    let path = format!("{}/reports/schema/report-{version}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(report).map(|error| error.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["schema_version"], reports::json::SCHEMA_VERSION);
}

/// Asserts that the JUnit report at `junit` validates against the Ant and Jenkins XSDs, which
/// `../shared/reference` holds; skips, saying why, without them or python3's xmlschema
/// (mandatory in CI).
pub fn assert_valid_junit(junit: &Path) {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/validators/junit-xsd");
    if !xsd.is_dir() {
        skip_unless_required(&format!("{} is absent", xsd.display()));
        return;
    }
    let validate = "import sys\ntry:\n    import xmlschema\nexcept ImportError:\n    sys.exit(3)\nfor xsd in sys.argv[1:3]:\n    xmlschema.XMLSchema(xsd).validate(sys.argv[3])\n";
    let checked = Command::new("python3")
        .args(["-c", validate])
        .arg(xsd.join("windyroad-JUnit.xsd"))
        .arg(xsd.join("xunit-plugin-junit-10.xsd"))
        .arg(junit)
        .output();
    match checked {
        Ok(output) if output.status.code() == Some(3) => {
            skip_unless_required("the python3 module xmlschema is missing (pip install xmlschema)")
        }
        Ok(output) => assert!(output.status.success(), "invalid JUnit:\n{}", String::from_utf8_lossy(&output.stderr)),
        Err(error) => skip_unless_required(&format!("cannot run python3: {error}")),
    }
}
