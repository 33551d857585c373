//! The checks of realitycheck as a [`harness::Suite`], in three layers: clients
//! ([`clients`]: CircleCI API, Kubernetes and exec, Nomad output parsers), resources
//! ([`resources`]: what the checks of one run share, prepared for the selected checks from
//! what they declare), and checks ([`checks`]: constructors and pure judge functions); above
//! them, the evidence of red checks ([`evidence`]) that the suite gathers before a run ends.
//! The installation's phases ([`phase`]), which diagnoses name, are the suite's.
//! [`RealityCheck`] is what the binary (and `serve`) hands to [`harness::Run`].

pub mod capacity;
pub mod checks;
pub mod clients;
pub mod evidence;
pub mod phase;
pub mod resources;
pub mod upgrades;
pub mod versions;

use std::sync::{Arc, Mutex};

use harness::{Applicability, Check, CheckResult, Evidence, Preflight, Suite, Timeouts};
use realitycheck_config::Target;

use crate::clients::circleci::ApiClientError;
use crate::resources::pipeline::Ledger;
use crate::resources::pipeline::run::new_run_id;
use crate::resources::{Requires, Resources};
use crate::upgrades::UpgradeTarget;

/// The realitycheck suite for one target: the checks of `run`, or those of `upgrade-check`.
pub struct RealityCheck {
    target: Arc<Target>,
    checks: Checks,
    /// What the current (or last) run started on the installation.
    ledger: Mutex<Option<Ledger>>,
}

/// Which checks the suite runs.
enum Checks {
    /// Whether the installation works (`run`); `setup_contexts` creates the contexts and
    /// variables the project's jobs need when they are missing.
    Installation { setup_contexts: bool },
    /// Whether it may be upgraded to a version now (`upgrade-check`): read-only.
    Upgrade(UpgradeTarget),
}

impl RealityCheck {
    /// The suite for `target`; `setup_contexts` creates the contexts and variables the
    /// project's jobs need when they are missing (`run --setup-contexts`).
    pub fn new(target: Target, setup_contexts: bool) -> RealityCheck {
        RealityCheck::of(target, Checks::Installation { setup_contexts })
    }

    /// The `upgrade::*` suite for `target`, judging an upgrade to `to`.
    pub fn upgrade(target: Target, to: UpgradeTarget) -> RealityCheck {
        RealityCheck::of(target, Checks::Upgrade(to))
    }

    fn of(target: Target, checks: Checks) -> RealityCheck {
        RealityCheck { target: Arc::new(target), checks, ledger: Mutex::default() }
    }
}

impl Suite for RealityCheck {
    type Declaration = Requires;
    type Resources = Resources;
    type Error = ApiClientError;

    fn checks(&self) -> Vec<Check<Self>> {
        match &self.checks {
            Checks::Installation { .. } => checks::all(&self.target),
            Checks::Upgrade(to) => checks::upgrade::all(to),
        }
    }

    fn preflights(&self) -> Vec<Preflight<Self>> {
        checks::preflights()
    }

    fn applicability(&self, requires: &Requires) -> Applicability {
        resources::applicability(&self.target, requires)
    }

    fn prepare(&self, selected: &[&Requires], timeouts: &Timeouts) -> Result<Resources, ApiClientError> {
        let ledger = Ledger::new(new_run_id());
        *self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ledger.clone());
        let setup_contexts = matches!(self.checks, Checks::Installation { setup_contexts: true });
        Resources::prepare(Arc::clone(&self.target), selected, timeouts, setup_contexts, ledger)
    }

    async fn collect(&self, resources: &Resources, red: &[(&CheckResult, &Requires)]) -> Evidence {
        evidence::gather(resources, red).await
    }

    async fn finish(&self, resources: &Resources) -> Vec<String> {
        resources.finish().await
    }

    fn left_running(&self) -> Vec<String> {
        let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger.as_ref().map(Ledger::left_running).unwrap_or_default()
    }
}
