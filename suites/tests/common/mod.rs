//! What the integration tests of the suites share: the options of a run.

// Each test binary that includes this module uses some of it.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use harness::{RunInfo, RunOptions, Selection, Timeouts};

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
