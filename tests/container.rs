//! The container image (deploy/Dockerfile: `FROM scratch` and the static binary) built
//! locally and run with testcontainers: `realitycheck sim` inside it, `realitycheck run`
//! outside it. Needs Docker; without it the test says so and passes, unless
//! REALITYCHECK_REQUIRE_TOOLS=1 (set by .ci/run) makes Docker mandatory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use testcontainers::core::WaitFor;
use testcontainers::runners::{AsyncBuilder, AsyncRunner};
use testcontainers::{GenericBuildableImage, ImageExt};

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the static binary the image holds, in its own target directory so that this
/// nested cargo never waits on the one running the tests. The `container-test` profile
/// (unoptimised) builds in half the time of a release build; the image is the same.
fn static_binary() -> PathBuf {
    let target_dir = workspace().join("target/container");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--profile", "container-test", "--locked", "--bin", "realitycheck", "--target", TARGET])
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the static build failed");
    target_dir.join(TARGET).join("container-test/realitycheck")
}

fn docker_available() -> Result<(), String> {
    match Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!("`docker info` failed: {}", String::from_utf8_lossy(&output.stderr).trim())),
        Err(error) => Err(format!("cannot run docker: {error}")),
    }
}

#[tokio::test]
async fn the_simulation_runs_in_the_scratch_image_and_run_judges_it() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        common::skip_unless_required("the image is built for x86_64 Linux (deploy/Dockerfile)");
        return;
    }
    if let Err(why) = docker_available() {
        common::skip_unless_required(&why);
        return;
    }
    let binary = static_binary();
    let image = GenericBuildableImage::new("realitycheck", "test")
        .with_dockerfile(workspace().join("deploy/Dockerfile"))
        .with_file(binary, "./realitycheck")
        .build_image()
        .await
        .expect("the image builds from the local binary");
    // Host networking keeps the simulation on the host's loopback, like every other test.
    let container = image
        .with_wait_for(WaitFor::message_on_stdout("serving the Kubernetes API at"))
        .with_cmd(["sim", "--scenario", "nomad-clients-draining", "--listen", "127.0.0.1:0"])
        .with_network("host")
        .start()
        .await
        .expect("the simulation starts in the container");
    let stdout = String::from_utf8(container.stdout_to_vec().await.unwrap()).unwrap();
    let url = stdout
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in the container's output: {stdout}"));

    let dir = tempfile::TempDir::new().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, common::kubeconfig(url)).unwrap();
    let json = dir.path().join("report.json");
    let out = common::run(
        common::realitycheck(dir.path())
            .args(["run", "--namespace", "circleci-server", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--json")
            .arg(&json),
    );
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let statuses: Vec<(String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        // Only the Kubernetes side is configured: the API checks are skipped as not configured.
        .filter(|(id, _)| id.starts_with("cluster::") || id.starts_with("nomad::"))
        .collect();
    assert_eq!(
        statuses,
        [
            ("cluster::pods_ready".to_string(), "passed".to_string()),
            ("cluster::helm_release".to_string(), "passed".to_string()),
            ("cluster::kubernetes_version".to_string(), "passed".to_string()),
            ("nomad::servers_alive".to_string(), "passed".to_string()),
            ("nomad::clients_ready".to_string(), "failed".to_string()),
            ("nomad::mtls".to_string(), "passed".to_string()),
            ("nomad::gossip_key".to_string(), "passed".to_string()),
            // Draining clients are below the autoscaler's minimum of 1.
            ("nomad::autoscaler".to_string(), "failed".to_string()),
        ]
    );
}
