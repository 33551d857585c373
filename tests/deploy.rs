//! The deployment files of deploy/ (Kubernetes manifests, alert rules, CI snippets), checked
//! with the tools their users run: `kubectl kustomize` renders them, `kubernetes-validate`
//! and `checkov` judge the rendered manifests, `promtool` checks and unit-tests the alert
//! rules, CircleCI's JSON schema judges the CircleCI snippet. YAML is read through python3's
//! PyYAML (turned into JSON for serde_json). A missing tool makes its test say so and pass,
//! unless REALITYCHECK_REQUIRE_TOOLS=1 (set by .ci/run) makes it mandatory.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(relative: &str) -> PathBuf {
    workspace().join("deploy").join(relative)
}

/// Runs a tool; None (the test skipped, saying why) when it cannot be started.
fn tool(command: &mut Command) -> Option<Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    match command.output() {
        Ok(output) => Some(output),
        Err(error) => {
            common::skip_unless_required(&format!("cannot run {program}: {error}"));
            None
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// `kubectl kustomize DIR`: the rendered manifests as YAML.
fn kustomize(dir: &str) -> Option<String> {
    let output = tool(Command::new("kubectl").arg("kustomize").arg(deploy(dir)))?;
    assert_success(&format!("kubectl kustomize deploy/{dir}"), &output);
    Some(text(&output.stdout))
}

/// Every document of a YAML stream, as JSON values (PyYAML's safe_load_all; empty documents
/// dropped). None (skipped) without python3 or PyYAML.
fn yaml_documents(yaml: &str) -> Option<Vec<Value>> {
    const CONVERT: &str = "import sys, json\ntry:\n    import yaml\nexcept ImportError:\n    sys.exit(3)\n\
        json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)\n";
    let child = Command::new("python3")
        .args(["-c", CONVERT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            common::skip_unless_required(&format!("cannot run python3: {error}"));
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.code() == Some(3) {
        common::skip_unless_required("the python3 module yaml is missing (pip install pyyaml)");
        return None;
    }
    assert_success("reading YAML with PyYAML", &output);
    let documents: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    Some(documents)
}

fn yaml_file(relative: &str) -> Option<Value> {
    let yaml = std::fs::read_to_string(deploy(relative)).unwrap();
    let mut documents = yaml_documents(&yaml)?;
    assert_eq!(documents.len(), 1, "deploy/{relative} holds one YAML document");
    documents.pop()
}

/// `kubectl kustomize DIR`, read.
fn rendered(dir: &str) -> Option<Vec<Value>> {
    yaml_documents(&kustomize(dir)?)
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(|object| object["kind"].as_str().unwrap().to_owned()).collect()
}

fn the<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|object| object["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} among the rendered objects");
    found[0]
}

fn namespace(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_else(|| panic!("{} has a namespace", object["kind"]))
}

/// The Role of the README's "Least-privilege Role", and nothing more.
fn least_privilege_rules() -> Value {
    json!([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        {"apiGroups": [""], "resources": ["pods/log", "serviceaccounts"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": [
            "nomad-mtls", "nomad-rpc-mtls", "nomad-gossip-encryption-key", "nomad-autoscaler-secret",
            "machine-provisioner-secret"
        ]},
    ])
}

/// The rule the component `helm-release` adds: list every Secret of the namespace.
fn list_secrets_rule() -> Value {
    json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
}

/// The pod security the Deployment and the CronJob share: the image's user (deploy/Dockerfile
/// says `USER 65534:65534`), no privilege, read-only root, RuntimeDefault seccomp.
fn assert_locked_down(pod: &Value, what: &str) {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    assert!(dockerfile.contains("USER 65534:65534"), "the image runs as 65534");
    assert_eq!(
        pod["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
               "seccompProfile": {"type": "RuntimeDefault"}}),
        "{what}: pod securityContext"
    );
    assert_eq!(pod["automountServiceAccountToken"], true, "{what}: the checks need the service account's token");
    assert_eq!(pod["serviceAccountName"], "realitycheck", "{what}");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{what}: one container");
    let container = &containers[0];
    assert_eq!(
        container["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534, "privileged": false,
               "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
               "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}),
        "{what}: container securityContext"
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}),
        "{what}: resources"
    );
    assert_eq!(container["image"], "registry.example.com/realitycheck:0.1.0", "{what}: the image placeholder");
    // Writable only where an emptyDir is mounted; the config and the token read-only.
    let volumes = pod["volumes"].as_array().unwrap();
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("volume {name}"));
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        let empty_dir = volume(name).get("emptyDir").is_some();
        assert_eq!(mount["readOnly"] != true, empty_dir, "{what}: mount {name} is writable iff an emptyDir");
    }
    let token = volume("circle-token");
    assert_eq!(token["secret"]["secretName"], "realitycheck-circle-token", "{what}");
    let token_mount =
        container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "circle-token").unwrap();
    assert_eq!(token_mount["mountPath"], "/var/run/secrets/realitycheck", "{what}: where token_file points");
    let config_mount = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "config").unwrap();
    assert_eq!(config_mount["mountPath"], "/etc/realitycheck", "{what}");
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(args.contains(&"--config=/etc/realitycheck/realitycheck.toml"), "{what}: {args:?}");
}

/// The app side and the RBAC side of a rendered base or overlay: the Role, exactly the
/// least privilege, in the release's namespace (the one the example configuration names),
/// bound to the ServiceAccount in the app's namespace; nothing cluster-wide.
fn assert_rbac(objects: &[Value]) {
    assert_rbac_with(objects, &least_privilege_rules());
}

/// [`assert_rbac`], with the Role's `rules` exactly `rules`.
fn assert_rbac_with(objects: &[Value], rules: &Value) {
    let kinds = kinds(objects);
    assert!(!kinds.contains("ClusterRole") && !kinds.contains("ClusterRoleBinding"), "{kinds:?}");
    let role = the(objects, "Role");
    assert_eq!(namespace(role), "circleci-server", "the Role lives where the checks read");
    assert_eq!(&role["rules"], rules);
    let config = std::fs::read_to_string(deploy("kubernetes/base/app/realitycheck.toml")).unwrap();
    assert!(
        config.contains("[targets.prod.kubernetes]\n") && config.contains("\nnamespace = \"circleci-server\"\n"),
        "the example configuration names the Role's namespace"
    );
    let binding = the(objects, "RoleBinding");
    assert_eq!(namespace(binding), "circleci-server");
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "realitycheck"})
    );
    let account = the(objects, "ServiceAccount");
    assert_eq!(account["metadata"]["name"], "realitycheck");
    assert_eq!(namespace(account), "realitycheck");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "realitycheck", "namespace": "realitycheck"}])
    );
    for object in objects {
        if !matches!(object["kind"].as_str(), Some("Role" | "RoleBinding")) {
            assert_eq!(namespace(object), "realitycheck", "{}", object["kind"]);
        }
    }
}

#[test]
fn the_base_renders_serve_with_its_service_and_the_least_privilege_role() {
    let Some(objects) = rendered("kubernetes/base") else { return };
    assert_eq!(
        kinds(&objects),
        ["ConfigMap", "Deployment", "NetworkPolicy", "Role", "RoleBinding", "Service", "ServiceAccount"]
            .map(String::from)
            .into(),
    );
    assert_rbac(&objects);

    let config_map = the(&objects, "ConfigMap");
    let config_name = config_map["metadata"]["name"].as_str().unwrap();
    assert!(config_name.starts_with("realitycheck-config-"), "generated, with a hash suffix: {config_name}");
    let config = config_map["data"]["realitycheck.toml"].as_str().unwrap();
    assert!(config.contains("token_file = \"/var/run/secrets/realitycheck/circle-token\""), "{config}");

    let deployment = the(&objects, "Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
    let pod = &spec["template"]["spec"];
    assert_locked_down(pod, "Deployment");
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 60, "serve finishes its run on SIGTERM");
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["configMap"]["name"] == config_name), "mounts the generated ConfigMap");
    let container = &pod["containers"][0];
    assert_eq!(
        container["args"],
        json!([
            "serve",
            "--config=/etc/realitycheck/realitycheck.toml",
            "--listen=0.0.0.0:9797",
            "--state-dir=/var/lib/realitycheck/runs",
            "--every=15m",
            "--profile=health"
        ])
    );
    let state = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "state").unwrap();
    assert_eq!(state["mountPath"], "/var/lib/realitycheck", "--state-dir is a directory of the emptyDir");
    assert_eq!(container["ports"], json!([{"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"}]));
    let api_token = volumes.iter().find(|v| v["name"] == "api-token").expect("the API token's volume");
    assert_eq!(
        api_token["secret"],
        json!({"secretName": "realitycheck-api-token", "optional": true, "defaultMode": 0o440}),
        "the pod starts without the API token's Secret"
    );
    let mount = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "api-token").unwrap();
    assert_eq!(mount["mountPath"], "/var/run/secrets/realitycheck-api");
    assert_eq!(container["livenessProbe"]["httpGet"], json!({"path": "/healthz", "port": "http-metrics"}));
    assert_eq!(container["readinessProbe"]["httpGet"], json!({"path": "/readyz", "port": "http-metrics"}));

    let labels = &spec["template"]["metadata"]["labels"];
    let service = the(&objects, "Service");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http-metrics", "port": 9797, "targetPort": "http-metrics", "protocol": "TCP"}])
    );
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[key], value, "the Service selects the pod: {key}");
    }
    let policy = the(&objects, "NetworkPolicy");
    for (key, value) in policy["spec"]["podSelector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[key], value, "the NetworkPolicy selects the pod: {key}");
    }
    assert_eq!(policy["spec"]["ingress"], json!([{"ports": [{"port": 9797, "protocol": "TCP"}]}]));
}

#[test]
fn the_base_role_lists_no_secret_and_the_helm_release_component_adds_only_that() {
    let Some(base) = rendered("kubernetes/base") else { return };
    let rules = the(&base, "Role")["rules"].as_array().unwrap().clone();
    assert!(!rules.contains(&list_secrets_rule()), "the base lets the pod read every Secret: {rules:?}");
    for rule in &rules {
        if rule["resources"] == json!(["secrets"]) {
            assert!(rule["resourceNames"].is_array(), "Secrets only by name in the base: {rule}");
        }
    }

    let Some(objects) = rendered("kubernetes/overlays/helm-release") else { return };
    let mut with_list = least_privilege_rules();
    with_list.as_array_mut().unwrap().push(list_secrets_rule());
    assert_rbac_with(&objects, &with_list);
    let without_role =
        |objects: &[Value]| -> Vec<Value> { objects.iter().filter(|o| o["kind"] != "Role").cloned().collect() };
    assert_eq!(without_role(&objects), without_role(&base), "the component changes the Role only");

    let component = yaml_file("kubernetes/components/helm-release/kustomization.yaml").unwrap();
    assert_eq!(component["kind"], "Component");
    let overlay = yaml_file("kubernetes/overlays/helm-release/kustomization.yaml").unwrap();
    assert_eq!(overlay["components"], json!(["../../components/helm-release"]));
    let readme = std::fs::read_to_string(deploy("kubernetes/components/helm-release/README.md")).unwrap();
    assert!(readme.contains("every* Secret") && readme.contains("cluster::helm_release"), "{readme}");
}

#[test]
fn the_api_token_component_makes_serve_require_the_token_of_the_optional_secret() {
    let Some(base) = rendered("kubernetes/base") else { return };
    let Some(objects) = rendered("kubernetes/overlays/api-token") else { return };
    let args_of =
        |objects: &[Value]| the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    assert!(
        !args_of(&base).to_string().contains("api-token-file"),
        "the base names no token file: its Secret is optional"
    );
    let overlay = yaml_file("kubernetes/overlays/api-token/kustomization.yaml").unwrap();
    assert_eq!(overlay["components"], json!(["../../components/api-token"]));
    let args = &the(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(
        args.as_array().unwrap().last().unwrap(),
        "--api-token-file=/var/run/secrets/realitycheck-api/api-token",
        "the token file of the api-token volume: {args}"
    );
}

#[test]
fn the_cronjob_overlay_replaces_serve_with_a_run_every_15_minutes() {
    let Some(objects) = rendered("kubernetes/overlays/cronjob") else { return };
    assert_eq!(
        kinds(&objects),
        ["ConfigMap", "CronJob", "NetworkPolicy", "Role", "RoleBinding", "ServiceAccount"].map(String::from).into(),
    );
    assert_rbac(&objects);
    let config_name = the(&objects, "ConfigMap")["metadata"]["name"].as_str().unwrap().to_owned();
    let cronjob = the(&objects, "CronJob");
    let spec = &cronjob["spec"];
    assert_eq!(spec["schedule"], "*/15 * * * *");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert!(spec["successfulJobsHistoryLimit"].as_u64().unwrap() <= 5);
    assert!(spec["failedJobsHistoryLimit"].as_u64().unwrap() <= 5);
    let job = &spec["jobTemplate"]["spec"];
    let deadline = job["activeDeadlineSeconds"].as_u64().unwrap();
    assert!(
        (300..900).contains(&deadline),
        "longer than the health profile's 5 minutes, shorter than the schedule: {deadline}"
    );
    assert_eq!(job["backoffLimit"], 0, "a red run is a verdict, not retried");
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_locked_down(pod, "CronJob");
    assert!(pod["volumes"].as_array().unwrap().iter().any(|v| v["configMap"]["name"] == config_name));
    let container = &pod["containers"][0];
    assert_eq!(
        container["args"],
        json!([
            "run",
            "--config=/etc/realitycheck/realitycheck.toml",
            "--profile=health",
            "--junit=/reports/junit.xml"
        ])
    );
    let reports = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "reports").unwrap();
    assert_eq!(reports["mountPath"], "/reports", "the JUnit report's emptyDir");
}

#[test]
fn the_monitoring_objects_scrape_serve_and_carry_the_plain_rule_file() {
    let Some(objects) = rendered("kubernetes/monitoring") else { return };
    let Some(base) = rendered("kubernetes/base") else { return };
    assert_eq!(kinds(&objects), ["PrometheusRule", "ServiceMonitor"].map(String::from).into());
    for object in &objects {
        assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(namespace(object), "realitycheck");
    }
    let service_labels = &the(&base, "Service")["metadata"]["labels"];
    let monitor = the(&objects, "ServiceMonitor");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&service_labels[key], value, "the ServiceMonitor selects the Service: {key}");
    }
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http-metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");

    let Some(pod_monitor) = yaml_file("kubernetes/monitoring/podmonitor.yaml") else { return };
    assert_eq!(pod_monitor["kind"], "PodMonitor");
    let pod_labels = &the(&base, "Deployment")["spec"]["template"]["metadata"]["labels"];
    for (key, value) in pod_monitor["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&pod_labels[key], value, "the PodMonitor selects the pod: {key}");
    }
    assert_eq!(pod_monitor["spec"]["podMetricsEndpoints"][0]["port"], "http-metrics");

    // The PrometheusRule holds the plain file's groups, exactly.
    let Some(plain) = yaml_file("kubernetes/monitoring/realitycheck-alerts.rules.yml") else { return };
    let rule = the(&objects, "PrometheusRule");
    assert_eq!(rule["spec"]["groups"], plain["groups"], "prometheusrule.yaml and realitycheck-alerts.rules.yml differ");
    let alerts: BTreeSet<&str> =
        plain["groups"][0]["rules"].as_array().unwrap().iter().map(|r| r["alert"].as_str().unwrap()).collect();
    assert_eq!(
        alerts,
        [
            "RealitycheckCanaryFailing",
            "RealitycheckCertificateExpiringSoon",
            "RealitycheckCheckFailing",
            "RealitycheckDown",
            "RealitycheckJobsWaitTooLong",
            "RealitycheckNoSuccessfulRun"
        ]
        .into()
    );
}

#[test]
fn kubernetes_validate_accepts_every_rendered_manifest() {
    let Some(base) = kustomize("kubernetes/base") else { return };
    let Some(cronjob) = kustomize("kubernetes/overlays/cronjob") else { return };
    let Some(monitoring) = kustomize("kubernetes/monitoring") else { return };
    let Some(helm_release) = kustomize("kubernetes/overlays/helm-release") else { return };
    let Some(api_token) = kustomize("kubernetes/overlays/api-token") else { return };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [
        ("base.yaml", &base),
        ("cronjob.yaml", &cronjob),
        ("monitoring.yaml", &monitoring),
        ("helm-release.yaml", &helm_release),
        ("api-token.yaml", &api_token),
    ]
    .into_iter()
    .map(|(name, yaml)| {
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    })
    .collect();
    // The oldest Kubernetes a CircleCI server 4.x release of this era supports, and a recent one.
    // --strict: an unknown field (a typo) fails too.
    for version in ["1.27.0", "1.32.0"] {
        let Some(output) = tool(Command::new("kubernetes-validate").args(["--strict", "-k", version]).args(&files))
        else {
            return;
        };
        assert_success(&format!("kubernetes-validate -k {version}"), &output);
        let said = text(&output.stdout) + &text(&output.stderr);
        for kind in
            ["serviceaccount", "role", "rolebinding", "configmap", "service", "deployment", "networkpolicy", "cronjob"]
        {
            assert!(
                said.contains(&format!("passed for resource {kind}/")),
                "{kind} validated against {version}:\n{said}"
            );
        }
        // The Prometheus Operator's kinds have no schema in kubernetes-validate (it knows the
        // built-in API only): they are warned about, not validated; the structural test above
        // and promtool judge them.
        for line in said.lines().filter(|line| line.contains("monitoring.yaml")) {
            assert!(
                line.contains("Couldn't find schema for kind") && line.contains("monitoring.coreos.com/v1"),
                "{line}"
            );
        }
    }
    // The tool is not vacuous: a typo in a field fails under --strict.
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, base.replacen("  replicas: 1\n", "  replica: 1\n", 1)).unwrap();
    let output = tool(Command::new("kubernetes-validate").args(["--strict", "-k", "1.27.0"]).arg(&typo)).unwrap();
    assert!(!output.status.success(), "kubernetes-validate --strict accepts `replica:`");
}

/// The checks checkov is told to skip, with where and why (`checkov.io/skipN` annotations
/// on the objects themselves).
const ALLOWED_SKIPS: [&str; 2] = [
    "CKV_K8S_38", // the service account token: the checks call the Kubernetes API with it
    "CKV_K8S_43", // an image digest: the image is a placeholder each installation sets
];

#[test]
fn checkov_finds_no_failed_check_in_the_rendered_manifests() {
    let Some(base) = kustomize("kubernetes/base") else { return };
    let Some(cronjob) = kustomize("kubernetes/overlays/cronjob") else { return };
    let Some(helm_release) = kustomize("kubernetes/overlays/helm-release") else { return };
    // Not tempfile's default `.tmpXXXX`: checkov leaves hidden directories out.
    let dir = tempfile::Builder::new().prefix("realitycheck-checkov-").tempdir().unwrap();
    std::fs::write(dir.path().join("base.yaml"), &base).unwrap();
    std::fs::write(dir.path().join("cronjob.yaml"), &cronjob).unwrap();
    std::fs::write(dir.path().join("helm-release.yaml"), &helm_release).unwrap();
    // One run for both (checkov takes some 15 s to start); --skip-download: no network.
    let Some(output) = tool(
        Command::new("checkov")
            .args(["--framework", "kubernetes", "--skip-download", "--output", "json", "--directory"])
            .arg(dir.path())
            .env("BC_SKIP_MAPPING", "TRUE"),
    ) else {
        return;
    };
    let stdout = text(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("checkov's JSON ({error}):\n{stdout}\n{}", text(&output.stderr)));
    let report = match report {
        Value::Array(mut reports) => {
            assert_eq!(reports.len(), 1, "one framework");
            reports.pop().unwrap()
        }
        report => report,
    };
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .map(|checks| {
            checks.iter().map(|c| format!("{} {} on {}", c["check_id"], c["check_name"], c["resource"])).collect()
        })
        .unwrap_or_default();
    assert!(failed.is_empty(), "checkov failed checks:\n{}", failed.join("\n"));
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(summary["passed"].as_u64().unwrap() > 100, "checkov checked the Deployment and the CronJob: {summary}");
    assert!(output.status.success(), "checkov exited with {}", output.status);
    for skipped in report["results"]["skipped_checks"].as_array().unwrap() {
        let id = skipped["check_id"].as_str().unwrap();
        let resource = skipped["resource"].as_str().unwrap();
        assert!(ALLOWED_SKIPS.contains(&id), "{id} skipped on {resource} without a reason listed here");
        assert!(resource.starts_with("Deployment.") || resource.starts_with("CronJob."), "{id} skipped on {resource}");
        let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 30, "{id} on {resource}: the annotation gives a reason: {reason:?}");
    }
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let dir = deploy("kubernetes/monitoring");
    let Some(output) =
        tool(Command::new("promtool").args(["check", "rules", "realitycheck-alerts.rules.yml"]).current_dir(&dir))
    else {
        return;
    };
    assert_success("promtool check rules", &output);
    assert!(text(&output.stdout).contains("SUCCESS: 7 rules found"), "{}", text(&output.stdout));
    let output =
        tool(Command::new("promtool").args(["test", "rules", "realitycheck-alerts.test.yml"]).current_dir(&dir))
            .unwrap();
    assert_success("promtool test rules", &output);

    // Every alert is tested firing and not firing.
    let Some(tests) = yaml_file("kubernetes/monitoring/realitycheck-alerts.test.yml") else { return };
    let cases: Vec<&Value> =
        tests["tests"].as_array().unwrap().iter().flat_map(|t| t["alert_rule_test"].as_array().unwrap()).collect();
    for alert in [
        "RealitycheckCheckFailing",
        "RealitycheckCertificateExpiringSoon",
        "RealitycheckNoSuccessfulRun",
        "RealitycheckJobsWaitTooLong",
        "RealitycheckCanaryFailing",
        "RealitycheckDown",
    ] {
        let expected: Vec<usize> = cases
            .iter()
            .filter(|case| case["alertname"] == alert)
            .map(|case| case["exp_alerts"].as_array().map_or(0, Vec::len))
            .collect();
        assert!(expected.contains(&0), "{alert} is tested not firing");
        assert!(expected.iter().any(|&n| n > 0), "{alert} is tested firing");
    }
}

#[test]
fn the_example_configuration_is_one_realitycheck_reads() {
    // The token_file of the pod's Secret, pointed at a file here.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("circle-token");
    std::fs::write(&token, "not-a-real-token\n").unwrap();
    let original = std::fs::read_to_string(deploy("kubernetes/base/app/realitycheck.toml")).unwrap();
    let pod_token = "\"/var/run/secrets/realitycheck/circle-token\"";
    assert!(original.contains(pod_token), "the token_file of the Secret's mount");
    let config = dir.path().join("realitycheck.toml");
    std::fs::write(&config, original.replace(pod_token, &format!("{:?}", token.to_str().unwrap()))).unwrap();
    let ran =
        common::run(common::realitycheck(dir.path()).args(["list", "--profile", "health", "--config"]).arg(&config));
    assert_eq!(ran.code, 0, "realitycheck list with deploy's configuration:\n{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("nomad::mtls"), "{}", ran.stdout);
}

/// The commands of a job's `run` steps (CircleCI's `run.command`, GitHub's `run`), joined.
fn run_commands(steps: &[Value]) -> String {
    let command = |step: &Value| step["run"]["command"].as_str().or_else(|| step["run"].as_str()).map(str::to_string);
    steps.iter().filter_map(command).collect::<Vec<_>>().join("\n")
}

/// The run before the upgrade writes the baseline and passes when red (exit 1) but not when it
/// could not check; the run after compares with it and fails only on new reds.
fn assert_before_and_after(before: &str, after: &str) {
    for expected in [
        "realitycheck run",
        "--profile ci",
        "--json reports/before.json",
        r#"if [ "$code" -gt 1 ]; then exit "$code"; fi"#,
    ] {
        assert!(before.contains(expected), "the run before the upgrade has {expected}:\n{before}");
    }
    assert!(!before.contains("--baseline") && !before.contains("--expect-chart-version"), "{before}");
    for expected in ["realitycheck upgrade-check", "--to \"", "--json reports/upgrade-plan.json", "upgrade-check.xml"] {
        assert!(before.contains(expected), "the job before the upgrade checks it is ready with {expected}:\n{before}");
    }
    for expected in [
        "--baseline reports/before.json",
        "--fail-on-new-red-only",
        "--junit test-results/realitycheck.xml",
        "--json test-results/after.json",
    ] {
        assert!(after.contains(expected), "the run after the upgrade has {expected}:\n{after}");
    }
}

/// The CircleCI snippet against CircleCI's JSON schemas (the official language-server schema
/// and SchemaStore's last full one), which ../shared/reference holds when it is there.
#[test]
fn the_circleci_snippet_is_a_valid_config_that_stores_the_junit() {
    let Some(config) = yaml_file("ci/circleci.yml") else { return };
    let schemas = workspace().join("../shared/reference/validators/circleci-config-schema");
    if schemas.is_dir() {
        for name in ["circleci-yaml-language-server-schema.json", "schemastore-circleciconfig.full-pre-2025-06.json"] {
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(schemas.join(name)).unwrap()).unwrap();
            let validator = jsonschema::options().build(&schema).unwrap();
            let errors: Vec<String> =
                validator.iter_errors(&config).map(|error| format!("{} at {}", error, error.instance_path())).collect();
            assert!(errors.is_empty(), "deploy/ci/circleci.yml against {name}: {errors:#?}");
            // Not vacuous: a job key the schema does not know fails.
            let mut broken = config.clone();
            let job = broken["jobs"]["realitycheck"].as_object_mut().unwrap();
            let executor = job.remove("docker").unwrap();
            job.insert("dockerr".into(), executor);
            assert!(!validator.is_valid(&broken), "{name} accepts a job with `dockerr:`");
        }
    } else {
        common::skip_unless_required(&format!("{} is absent: the snippet is not schema-validated", schemas.display()));
    }
    let job = &config["jobs"]["realitycheck"];
    let steps = job["steps"].as_array().unwrap();
    let commands = run_commands(steps);
    for expected in
        ["realitycheck run", "--profile ci", "--expect-chart-version", "--junit test-results/realitycheck.xml"]
    {
        assert!(commands.contains(expected), "the job runs {expected}:\n{commands}");
    }
    assert!(steps.iter().any(|s| s["store_test_results"]["path"] == "test-results"), "store_test_results");
    assert!(steps.iter().any(|s| s["store_artifacts"]["path"] == "test-results"), "store_artifacts");
    let last = steps.last().unwrap()["run"]["command"].as_str().unwrap();
    assert!(last.contains("exit \"$code\""), "the verdict comes after the reports are stored: {last}");
    let workflow_jobs = config["workflows"]["upgrade-circleci-server"]["jobs"].as_array().unwrap();
    let requires = |name: &str| workflow_jobs.iter().find_map(|j| j.get(name)).unwrap()["requires"].clone();
    assert_eq!(requires("realitycheck"), json!(["helm-upgrade"]), "runs after helm upgrade");
    assert_eq!(requires("helm-upgrade"), json!(["realitycheck-before"]), "the upgrade waits for the baseline");

    // The baseline: written before the upgrade, stored, and handed to the run after it.
    let before = config["jobs"]["realitycheck-before"]["steps"].as_array().unwrap();
    assert_before_and_after(&run_commands(before), &commands);
    let persisted = before.iter().find_map(|s| s.get("persist_to_workspace")).expect("the baseline is persisted");
    assert_eq!((&persisted["root"], &persisted["paths"]), (&json!("reports"), &json!(["before.json"])));
    let attached = steps.iter().find_map(|s| s.get("attach_workspace")).expect("the baseline is attached");
    assert_eq!(attached["at"], "reports");
    for steps in [before, steps] {
        assert!(steps.iter().any(|s| s["store_artifacts"]["path"] == "reports/before.json"), "the baseline is stored");
    }
    let setup = &config["commands"]["realitycheck-setup"]["steps"];
    assert!(run_commands(setup.as_array().unwrap()).contains("docker cp realitycheck-binary:/realitycheck"), "{setup}");
}

#[test]
fn the_github_actions_workflow_parses_and_uploads_the_junit_whatever_the_verdict() {
    let Some(workflow) = yaml_file("ci/github-actions.yml") else { return };
    // YAML 1.1 reads the key `on` as true.
    assert!(workflow.get("on").or_else(|| workflow.get("true")).is_some(), "a trigger");
    let job = &workflow["jobs"]["realitycheck"];
    assert_eq!(job["needs"], "helm-upgrade", "runs after helm upgrade");
    assert_eq!(workflow["jobs"]["helm-upgrade"]["needs"], "realitycheck-before", "the upgrade waits for the baseline");
    let steps = job["steps"].as_array().unwrap();
    let runs = run_commands(steps);
    for expected in
        ["realitycheck run", "--profile ci", "--expect-chart-version", "--junit test-results/realitycheck.xml"]
    {
        assert!(runs.contains(expected), "the job runs {expected}:\n{runs}");
    }
    let before = workflow["jobs"]["realitycheck-before"]["steps"].as_array().unwrap();
    assert_before_and_after(&run_commands(before), &runs);
    for steps in [before, steps] {
        assert!(
            !run_commands(steps).contains("${{"),
            "no expression is expanded into a shell script (inputs go through env)"
        );
    }
    let uses = |steps: &[Value], action: &str| -> Value {
        let step = steps.iter().find(|s| s["uses"].as_str().is_some_and(|uses| uses.starts_with(action)));
        step.unwrap_or_else(|| panic!("a step that uses {action}")).clone()
    };
    let upload = uses(steps, "actions/upload-artifact@");
    assert!(upload["if"].as_str().unwrap().contains("always()"), "uploads on failure too");
    assert_eq!(upload["with"]["path"], "test-results/");
    let baseline = uses(before, "actions/upload-artifact@");
    assert_eq!(
        (&baseline["with"]["name"], &baseline["with"]["path"]),
        (&json!("realitycheck-before"), &json!("reports/before.json"))
    );
    let download = uses(steps, "actions/download-artifact@");
    assert_eq!(
        (&download["with"]["name"], &download["with"]["path"]),
        (&json!("realitycheck-before"), &json!("reports"))
    );
}
