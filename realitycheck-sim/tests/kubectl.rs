//! The real `kubectl` against a running simulation: `get pods`, `get secrets`, `get
//! statefulsets`, `get backups.velero.io` and `exec`.
//!
//! Skipped (with a message) when `kubectl` is not on `PATH`, unless `REALITYCHECK_REQUIRE_TOOLS=1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::version::{Deployment, ServerVersion};
use tokio::process::Command;

/// The `kubectl` binary on `PATH`, or `None` (with the reason printed) when the test may skip.
fn kubectl_or_skip() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "kubectl is required (REALITYCHECK_REQUIRE_TOOLS=1) but is not on PATH"
        );
        eprintln!("skipping: kubectl is not on PATH (set REALITYCHECK_REQUIRE_TOOLS=1 to require it)");
    }
    found
}

struct KubectlOutput {
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A simulation plus a kubeconfig for it and a private kubectl cache directory.
struct Cluster {
    sim: SimServer,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(scenario: Scenario, kubectl: PathBuf) -> Self {
        Self::start_with(scenario, SimOptions::for_scenario(scenario), kubectl).await
    }

    async fn start_with(scenario: Scenario, options: SimOptions, kubectl: PathBuf) -> Self {
        let sim = SimServer::start_with(scenario, SocketAddr::from(([127, 0, 0, 1], 0)), options).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = sim.write_env(&dir.path().join("env.sh")).unwrap().kubeconfig;
        Self { sim, kubectl, kubeconfig, cache_dir: dir.path().join("kube-cache"), _dir: dir }
    }

    async fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.kubectl_with(&[], args).await
    }

    /// `kubectl` with the variables `env` set.
    async fn kubectl_with(&self, env: &[(&str, &str)], args: &[&str]) -> KubectlOutput {
        let output = Command::new(&self.kubectl)
            .envs(env.iter().copied())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .arg("--request-timeout=30s")
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.cache_dir.parent().unwrap_or(Path::new("/")))
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let result = KubectlOutput {
            exit_code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        eprintln!("$ kubectl {}\n{}{}[exit {:?}]", args.join(" "), result.stdout, result.stderr, result.exit_code);
        result
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_pods_and_execs_nomad() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    // The default deployment: 4.10, its five Nomad servers in the cluster.
    let cluster = Cluster::start(Scenario::Healthy, kubectl).await;

    let pods = cluster.kubectl(&["get", "pods", "-l", "app=nomad-server"]).await;
    assert_eq!(pods.exit_code, Some(0), "{}", pods.stderr);
    let lines: Vec<Vec<&str>> = pods.stdout.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(lines.len(), 6);
    for (ordinal, row) in lines[1..].iter().enumerate() {
        assert_eq!(row[..4], [format!("nomad-server-{ordinal}").as_str(), "1/1", "Running", "0"]);
    }

    let names = cluster.kubectl(&["get", "pods", "-l", "app=nomad-server", "-o", "name"]).await;
    assert_eq!(names.stdout.lines().last(), Some("pod/nomad-server-4"));

    let table = cluster.kubectl(&["exec", "nomad-server-0", "--", "nomad", "node", "status"]).await;
    assert_eq!(table.exit_code, Some(0), "{}", table.stderr);
    let header = table.stdout.lines().next().unwrap();
    assert_eq!(header, "ID        Node Pool  DC       Name                 Class        Drain  Eligibility  Status");
    assert_eq!(table.stdout.lines().count(), 3);

    let json = cluster.kubectl(&["exec", "nomad-server-1", "--", "sh", "-c", "nomad server members -json"]).await;
    assert_eq!(json.exit_code, Some(0), "{}", json.stderr);
    let members: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(members.len(), 5);
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_reports_the_nomad_failure_and_exit_code() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    let cluster = Cluster::start(Scenario::NomadExecBroken, kubectl).await;
    let broken = cluster.kubectl(&["exec", "nomad-server-0", "--", "nomad", "node", "status"]).await;
    assert_eq!(broken.exit_code, Some(1));
    assert_eq!(broken.stdout, "");
    assert!(
        broken.stderr.contains(
            "Error querying node status: Get \"https://127.0.0.1:4646/v1/nodes\": x509: certificate signed by unknown authority"
        ),
        "{}",
        broken.stderr
    );
    assert!(broken.stderr.contains("command terminated with exit code 1"), "{}", broken.stderr);
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_pods_that_are_not_ready() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    let cluster = Cluster::start(Scenario::PodsNotReady, kubectl).await;
    let pods = cluster.kubectl(&["get", "pods"]).await;
    assert_eq!(pods.exit_code, Some(0), "{}", pods.stderr);
    let row = |app: &str| -> Vec<String> {
        pods.stdout
            .lines()
            .find(|line| line.starts_with(&format!("{app}-")))
            .unwrap_or_else(|| panic!("no {app} row in\n{}", pods.stdout))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("frontend")[1..3], ["0/1", "CrashLoopBackOff"]);
    assert_eq!(row("machine-provisioner-provisioner")[1..4], ["0/1", "Running", "0"]);
    assert_eq!(row("machine-provisioner-leader")[1..4], ["1/1", "Running", "0"]);
    assert_eq!(row("api-service")[1..3], ["1/1", "Running"]);
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_the_helm_release_secrets() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    let cluster = Cluster::start(Scenario::HelmUpgradeFailed, kubectl).await;
    let listed = cluster.kubectl(&["get", "secrets", "-l", "owner=helm,status=failed"]).await;
    assert_eq!(listed.exit_code, Some(0), "{}", listed.stderr);
    let lines: Vec<Vec<&str>> = listed.stdout.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "TYPE", "DATA", "AGE"]);
    assert_eq!(lines[1][..3], ["sh.helm.release.v1.circleci-server.v3", "helm.sh/release.v1", "1"]);
    assert_eq!(lines.len(), 2, "{}", listed.stdout);
    let release = cluster
        .kubectl(&["get", "secret", "sh.helm.release.v1.circleci-server.v3", "-o", "jsonpath={.data.release}"])
        .await;
    assert_eq!(release.exit_code, Some(0), "{}", release.stderr);
    assert!(!release.stdout.is_empty());
    cluster.sim.shutdown().await;
}

/// 4.4 runs on Kubernetes 1.29: kubectl's 1.29 (which a version dispatcher picks for it) runs
/// `exec` over SPDY unless told to use WebSocket, the only way the simulation speaks, with the
/// variable the simulation's exports set for such a cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_a_4_4_cluster() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    let deployment = Deployment { server_version: ServerVersion::V4_4, ..Deployment::default() };
    let options = SimOptions { deployment, ..SimOptions::for_scenario(Scenario::Healthy) };
    let cluster = Cluster::start_with(Scenario::Healthy, options, kubectl).await;
    let version = cluster.kubectl(&["version", "-o", "json"]).await;
    assert_eq!(version.exit_code, Some(0), "{}", version.stderr);
    let version: serde_json::Value = serde_json::from_str(&version.stdout).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.29.15");
    let names = cluster.kubectl(&["get", "pods", "-l", "app=nomad-server", "-o", "name"]).await;
    assert_eq!(
        names.stdout.lines().collect::<Vec<_>>(),
        ["pod/nomad-server-0", "pod/nomad-server-1", "pod/nomad-server-2"]
    );
    let websocket = [("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "true")];
    let dir = tempfile::tempdir().unwrap();
    cluster.sim.write_env(&dir.path().join("env.sh")).unwrap();
    let exports = std::fs::read_to_string(dir.path().join("env.sh")).unwrap();
    assert!(exports.contains("export KUBECTL_REMOTE_COMMAND_WEBSOCKETS='true'\n"), "{exports}");
    let table = cluster.kubectl_with(&websocket, &["exec", "nomad-server-0", "--", "nomad", "server", "members"]).await;
    assert_eq!(table.exit_code, Some(0), "{}", table.stderr);
    assert!(table.stdout.lines().nth(1).unwrap().contains("  1.7.7  "), "{}", table.stdout);
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_statefulsets_and_velero_backups() {
    let Some(kubectl) = kubectl_or_skip() else {
        return;
    };
    let cluster = Cluster::start(Scenario::UpgradeNoRecentBackup, kubectl).await;
    let sets = cluster.kubectl(&["get", "statefulsets"]).await;
    assert_eq!(sets.exit_code, Some(0), "{}", sets.stderr);
    let lines: Vec<Vec<&str>> = sets.stdout.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "READY", "AGE"]);
    assert_eq!(lines[1][..2], ["nomad-server", "5/5"]);
    assert!(lines.iter().any(|row| row[..2] == ["mongodb", "1/1"]), "{}", sets.stdout);
    let image = cluster
        .kubectl(&[
            "get",
            "sts",
            "-l",
            "app.kubernetes.io/name=mongodb",
            "-o",
            "jsonpath={.items[0].spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image.exit_code, Some(0), "{}", image.stderr);
    assert_eq!(image.stdout, "cciserver.azurecr.io/server-mongodb:7.0.15-debian-12-r2");

    let backups = cluster.kubectl(&["get", "backups.velero.io", "-n", "velero"]).await;
    assert_eq!(backups.exit_code, Some(0), "{}", backups.stderr);
    let lines: Vec<Vec<&str>> = backups.stdout.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "AGE"]);
    assert_eq!(lines.len(), 7, "{}", backups.stdout);
    assert!(lines[1][0].starts_with("circleci-server-daily-"), "{}", backups.stdout);
    assert_eq!(lines[1][1], "24h");
    let phases = cluster.kubectl(&["get", "backups", "-n", "velero", "-o", "jsonpath={.items[*].status.phase}"]).await;
    assert_eq!(phases.exit_code, Some(0), "{}", phases.stderr);
    assert_eq!(phases.stdout, "Failed Completed Completed Completed Completed PartiallyFailed");
    cluster.sim.shutdown().await;
}
