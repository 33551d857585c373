//! What the integration tests of the suites share: the simulation as a target, and the
//! options of a run.

// Each test binary that includes this module uses some of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use harness::{RunInfo, RunOptions, Selection, Timeouts};

use realitycheck_config::{Kubernetes, Nomad, Pipeline, Secret, Target};
use realitycheck_sim::sim::SimServer;
use url::Url;

/// The simulation `server` as target `name`: its API (trusting its CA) with its token and
/// project, its cluster through `kubeconfig` (none: the cluster is not reached), no cloud
/// provider, the default pipeline settings.
pub fn sim_target(name: &str, server: &SimServer, kubeconfig: Option<PathBuf>) -> Target {
    let context = kubeconfig.as_ref().map(|_| realitycheck_sim::KUBE_CONTEXT.to_string());
    Target {
        name: name.into(),
        host: Some(Url::parse(&server.circleci_url()).unwrap()),
        token: Some(Secret::new(realitycheck_sim::SIM_TOKEN)),
        cloud_provider: None,
        project: Some(realitycheck_sim::SIM_PROJECT.into()),
        ca_bundle: Some(server.ca_bundle().to_path_buf()),
        insecure: false,
        tls_min_days: 30,
        max_pages: suites::clients::circleci::DEFAULT_MAX_PAGES,
        kubernetes: Kubernetes {
            kubeconfig,
            context,
            namespace: realitycheck_sim::NAMESPACE.into(),
            expect_chart_version: None,
        },
        nomad: Nomad { server_selector: "app=nomad-server".into(), min_clients: 1, mtls_min_days: 30 },
        pipeline: Pipeline::default(),
    }
}

/// The options of a test run `name` of the checks `filters` match (whole IDs when `exact`):
/// no retries, no deadline, timeouts of 30 s (5 min for pipeline checks).
pub fn run_options(name: &str, filters: &[&str], exact: bool) -> RunOptions {
    RunOptions {
        info: RunInfo { target: name.into(), host: name.into(), profile: "test".into(), started_at: SystemTime::now() },
        selection: Selection {
            filters: filters.iter().map(|f| f.to_string()).collect(),
            exact,
            ..Selection::default()
        },
        timeouts: Timeouts {
            cluster: Duration::from_secs(30),
            api: Duration::from_secs(30),
            pipeline: Duration::from_secs(300),
        },
        deadline: None,
        retries: 0,
        retry_delay: Duration::ZERO,
        concurrency: 8,
        collect: false,
    }
}
