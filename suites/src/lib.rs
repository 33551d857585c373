//! The checks of realitycheck, grouped by suite, and the clients they use: Kubernetes
//! access with native exec (`cluster`), pod states (`pods`), and nomad CLI output parsing
//! (`nomad`). `plan()` is what the binary runs.

pub mod checks;
pub mod cluster;
pub mod context;
pub mod nomad;
pub mod pods;

pub use context::Context;

/// Every check and preflight, ready for selection.
pub fn plan() -> harness::Plan<Context> {
    harness::Plan { checks: checks::all(), preflights: checks::preflights() }
}
