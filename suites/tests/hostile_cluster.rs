//! The Kubernetes side against a container whose command never stops printing (`yes` in the
//! simulation's pods): the exec stops reading at its limit and says so, instead of reading
//! until memory runs out. The test bounds its own time.

use std::time::Duration;

use realitycheck_config::Kubernetes;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::clients::cluster::{Cluster, ClusterError, MAX_EXEC_OUTPUT};

#[tokio::test]
async fn endless_exec_output_is_read_up_to_its_limit_only() {
    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = sim.write_env(&dir.path().join("env.sh")).unwrap().kubeconfig;
    let kubernetes = Kubernetes {
        kubeconfig: Some(kubeconfig),
        context: Some(realitycheck_sim::KUBE_CONTEXT.into()),
        namespace: realitycheck_sim::NAMESPACE.into(),
        expect_chart_version: None,
    };
    let cluster = Cluster::connect(&kubernetes, Duration::from_secs(30)).await.unwrap();
    let exec = tokio::time::timeout(Duration::from_secs(30), cluster.exec("nomad-server-0", &["yes"])).await;
    let error = exec.expect("reading stops at the limit").unwrap_err();
    assert!(matches!(error, ClusterError::Exec { .. }), "{error}");
    assert!(error.to_string().contains("`yes`: its stdout is longer than 8 MiB"), "{error}");
    assert_eq!(MAX_EXEC_OUTPUT, 8 * 1024 * 1024);
    let nomad = cluster.exec("nomad-server-0", &["nomad", "server", "members"]).await.unwrap();
    assert_eq!(nomad.exit_code, 0, "a normal command still runs: {}", nomad.stderr);
    sim.shutdown().await;
}
