//! The checks of realitycheck, grouped by suite, and the clients they use: Kubernetes
//! access with native exec (`cluster`), pod states (`pods`), and nomad CLI output parsing
//! (`nomad`), and the CircleCI API client (`circleci`). `plan()` is what the binary runs.

pub mod api;
mod causes;
pub mod checks;
pub mod circleci;
pub mod cluster;
pub mod context;
pub mod nomad;
pub mod pipeline;
pub mod pods;

pub use context::{CallTimeouts, Context};

/// Every check and preflight for `target`, ready for selection.
pub fn plan(target: &realitycheck_config::Target) -> harness::Plan<Context> {
    harness::Plan { checks: checks::all(target), preflights: checks::preflights() }
}
