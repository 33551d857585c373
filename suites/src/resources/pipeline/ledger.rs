//! What a run has started on the installation: its run id (known before the trigger), whether
//! the trigger was sent, the pipeline it created, and the context values it set. Kept outside the checks, so that the end
//! of the run finds a pipeline whose trigger was interrupted in flight, and so that an
//! operator who stops the run twice hears what may still run.

use std::sync::{Arc, Mutex, MutexGuard};

use realitycheck_project::ProjectContext;

/// A pipeline this run created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedPipeline {
    pub id: String,
    pub number: u64,
    /// Its page in the installation's UI.
    pub url: String,
}

/// The run-in-progress marker this run set in a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub context_id: String,
    /// As the API answered the marker's PUT: a later value means another run set it since.
    pub updated_at: Option<String>,
}

/// A context variable this run set to its own value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet {
    pub context: ProjectContext,
    pub context_id: String,
    /// As the API answered the PUT: a later value means something changed it since.
    pub updated_at: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    trigger_sent: bool,
    pipeline: Option<StartedPipeline>,
    claim: Option<Claim>,
    values_set: Vec<ValueSet>,
}

/// The record of one run; clones share it.
#[derive(Debug, Clone)]
pub struct Ledger {
    run_id: Arc<str>,
    state: Arc<Mutex<State>>,
}

impl Ledger {
    /// The record of the run `run_id`, nothing started yet.
    pub fn new(run_id: String) -> Ledger {
        Ledger { run_id: run_id.into(), state: Arc::default() }
    }

    /// The run id its pipeline is triggered with (parameter `run_id`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The trigger is about to be sent: from now on a pipeline may exist.
    pub fn trigger_sent(&self) {
        self.state().trigger_sent = true;
    }

    /// Whether the trigger was ever sent.
    pub fn was_trigger_sent(&self) -> bool {
        self.state().trigger_sent
    }

    /// The pipeline the trigger created.
    pub fn record(&self, pipeline: StartedPipeline) {
        self.state().pipeline = Some(pipeline);
    }

    /// The run-in-progress marker this run set.
    pub fn claimed(&self, claim: Claim) {
        self.state().claim = Some(claim);
    }

    /// The run-in-progress marker this run set, if any.
    pub fn claim(&self) -> Option<Claim> {
        self.state().claim.clone()
    }

    /// This run set a context variable to its own value.
    pub fn value_set(&self, value: ValueSet) {
        self.state().values_set.push(value);
    }

    /// The context variables this run set, in the order it set them.
    pub fn values_set(&self) -> Vec<ValueSet> {
        self.state().values_set.clone()
    }

    /// The pipeline the run created, when known.
    pub fn pipeline(&self) -> Option<StartedPipeline> {
        self.state().pipeline.clone()
    }

    /// What may still run because of this run, one line each (nothing when nothing started).
    pub fn left_running(&self) -> Vec<String> {
        let state = self.state();
        match (&state.pipeline, state.trigger_sent) {
            (Some(pipeline), _) => {
                vec![format!("pipeline #{} ({}) may still be running", pipeline.number, pipeline.url)]
            }
            (None, true) => vec![format!(
                "a pipeline triggered with run_id {} may have been created and still be running",
                self.run_id
            )],
            (None, false) => Vec::new(),
        }
    }
}
