//! The checks of realitycheck as a [`harness::Suite`], in three layers: clients
//! ([`clients`]: CircleCI API, Kubernetes and exec, Nomad output parsers), resources
//! ([`resources`]: what the checks of one run share, prepared for the selected checks from
//! what they declare), and checks ([`checks`]: constructors and pure judge functions); above
//! them, the evidence of red checks ([`evidence`]) that the suite gathers before a run ends.
//! The installation's phases ([`phase`]), which diagnoses name, are the suite's.
//! [`RealityCheck`] is what the binary (and `serve`) hands to [`harness::Run`].

pub mod checks;
pub mod clients;
pub mod evidence;
pub mod phase;
pub mod resources;
pub mod versions;

use std::sync::{Arc, Mutex};

use harness::{Applicability, Check, CheckResult, Evidence, Preflight, Suite, Timeouts};
use realitycheck_config::Target;

use crate::clients::circleci::ApiClientError;
use crate::resources::pipeline::Ledger;
use crate::resources::pipeline::run::new_run_id;
use crate::resources::{Requires, Resources};

/// The realitycheck suite for one target.
pub struct RealityCheck {
    target: Arc<Target>,
    setup_contexts: bool,
    /// What the current (or last) run started on the installation.
    ledger: Mutex<Option<Ledger>>,
}

impl RealityCheck {
    /// The suite for `target`; `setup_contexts` creates the contexts and variables the
    /// project's jobs need when they are missing (`run --setup-contexts`).
    pub fn new(target: Target, setup_contexts: bool) -> RealityCheck {
        RealityCheck { target: Arc::new(target), setup_contexts, ledger: Mutex::default() }
    }
}

impl Suite for RealityCheck {
    type Declaration = Requires;
    type Resources = Resources;
    type Error = ApiClientError;

    fn checks(&self) -> Vec<Check<Self>> {
        checks::all(&self.target)
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
        Resources::prepare(Arc::clone(&self.target), selected, timeouts, self.setup_contexts, ledger)
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
