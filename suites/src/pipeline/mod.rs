//! One pipeline of the realitycheck project per run: the parameters it is triggered with
//! (`parameters`), the jobs checks wait for and what each needs to run (`jobs`), the one
//! shared poller that follows the pipeline's workflows and jobs (`poller`), and the run
//! that ties them together (`run`).

pub mod jobs;
pub mod parameters;
pub mod poller;
pub mod run;

pub use jobs::{JobSpec, Needs};
pub use parameters::RunParameters;
pub use poller::{PollEnd, PollIntervals, Snapshot, WorkflowState};
pub use run::{ContextValues, PipelineRun, TriggerError};
