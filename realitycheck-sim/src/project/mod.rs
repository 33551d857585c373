//! How the simulated server runs the realitycheck CircleCI project (the `realitycheck-project`
//! crate owns its config): pipeline parameters select what runs; `when:` conditions gate the
//! workflows.
//!
//! The simulated server interprets the config as CircleCI's config processing does, for the
//! features the config uses: [`config`] reads it, [`parameters`] checks a trigger's parameters,
//! [`template`] substitutes `<< >>` references, [`condition`] evaluates `when`/`unless`,
//! [`plan`] expands the workflows and jobs of one pipeline, whose [`executor`]s and [`steps`]
//! the execution plane ([`crate::execution`]) then runs.

pub mod condition;
mod config;
pub mod executor;
pub mod parameters;
pub mod plan;
pub mod steps;
pub mod template;

use std::sync::LazyLock;

pub use config::{InvalidConfig, ProjectConfig};

/// The project's config ([`realitycheck_project::CONFIG_YML`]), parsed once. It is part of the binary and its tests parse it, so a failure
/// here is a build defect.
pub fn config() -> &'static ProjectConfig {
    static CONFIG: LazyLock<ProjectConfig> = LazyLock::new(|| {
        ProjectConfig::parse(realitycheck_project::CONFIG_YML).expect("the embedded project config parses")
    });
    &CONFIG
}
