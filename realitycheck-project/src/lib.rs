//! The realitycheck CircleCI project: the config users push as `.circleci/config.yml`
//! ([`CONFIG_YML`]), the pipeline parameters realitycheck triggers it with ([`Parameters`]),
//! the jobs checks wait for and the workflow each runs in ([`Job`]), the contexts its jobs read
//! ([`ProjectContext`]) and what its jobs store for realitycheck to read back ([`outputs`]).
//!
//! The checks (`suites`) and the simulated installation (`realitycheck-sim`) both depend on
//! this crate, so that the config, the parameters and the expectations cannot drift apart:
//! `tests/config.rs` holds the table against the YAML, and the simulation's execution plane
//! runs the YAML and must produce [`outputs`].

#![warn(missing_docs)]

mod cloud;
mod contexts;
mod jobs;
pub mod outputs;
mod parameters;

pub use cloud::CloudProvider;
pub use contexts::{CONTEXTS, CREATED_MARKER, INDIVIDUAL_LOCAL, ORG_GLOBAL, ProjectContext};
pub use jobs::{DOCKER_RESOURCE_CLASSES, FeatureJob, Job, Needs, Workflow, docker_class_size};
pub use parameters::{
    CapacityExecutor, CapacityWorkload, ParameterSwitches, Parameters, context_digest, context_value,
};

/// The project's configuration, as `realitycheck init` writes it.
pub const CONFIG_YML: &str = include_str!("config.yml");

/// Where the configuration goes in the project's repository.
pub const CONFIG_PATH: &str = ".circleci/config.yml";
