//! The suite lifecycle the engine drives: a suite says which checks and preflights it has and
//! whether a check applies from its declaration (what the check needs); for one run it
//! prepares the resources the selected checks need; when a check is red and the run asks for
//! it, it gathers evidence before anything is cleaned up; afterwards it finishes what the run left (cancels
//! what is still running, releases clients). The binary, `serve` and tests only build a
//! [`crate::Run`] and start it.

use std::future::Future;

use crate::check::{Applicability, Check};
use crate::event::CheckResult;
use crate::evidence::Evidence;
use crate::preflight::Preflight;
use crate::timeouts::Timeouts;

/// A product's checks and the resources they share during one run.
pub trait Suite: Send + Sync + Sized + 'static {
    /// What a check declares it needs (its declaration); [`Suite::applicability`],
    /// [`Suite::prepare`] and [`Suite::collect`] read it.
    type Declaration: Send + Sync + 'static;
    /// What the selected checks share during one run, handed to every check body.
    type Resources: Send + Sync + 'static;
    /// Why the resources of a run could not be prepared: nothing ran.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every check, in the order reports list them.
    fn checks(&self) -> Vec<Check<Self>>;

    /// The reachability checks that run before any check carrying their tag.
    fn preflights(&self) -> Vec<Preflight<Self>>;

    /// Whether a check that declares `declaration` applies to the installation under test:
    /// decided once per check, before selection.
    fn applicability(&self, declaration: &Self::Declaration) -> Applicability;

    /// The resources the checks that will run need (`selected`: their declarations), bounded
    /// by `timeouts`.
    fn prepare(&self, selected: &[&Self::Declaration], timeouts: &Timeouts) -> Result<Self::Resources, Self::Error>;

    /// Gathers what an engineer needs to understand the `red` checks, each its result with
    /// its declaration (their workloads' logs, the answers behind each verdict), while
    /// everything the run started is still there: called after the checks and before
    /// [`Suite::finish`], when the run's options ask for it and a check failed. The default
    /// gathers nothing.
    fn collect(
        &self,
        resources: &Self::Resources,
        red: &[(&CheckResult, &Self::Declaration)],
    ) -> impl Future<Output = Evidence> + Send {
        let _ = (resources, red);
        async { Evidence::default() }
    }

    /// Ends what the run started and left unfinished; one line per thing done, for the operator.
    fn finish(&self, resources: &Self::Resources) -> impl Future<Output = Vec<String>> + Send;

    /// What the current run started that may still be running, one line each: what the
    /// operator is told when they stop a run before it finished (a second Ctrl-C).
    fn left_running(&self) -> Vec<String> {
        Vec::new()
    }
}
