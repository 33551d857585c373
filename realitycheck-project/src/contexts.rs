//! The CircleCI contexts the project's `contexts` job runs with, and the variable it reads from
//! each (the names the install guide's Reality Check step uses).

/// A context the project's jobs use, and the variable they read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectContext {
    /// The context's name, unique across an installation.
    pub name: &'static str,
    /// The environment variable the `contexts` job reads from it.
    pub variable: &'static str,
}

/// The organization-wide context.
pub const ORG_GLOBAL: ProjectContext = ProjectContext { name: "org-global", variable: "CONTEXT_END_TO_END_TEST_VAR" };

/// The second context, proving that a job can use several.
pub const INDIVIDUAL_LOCAL: ProjectContext =
    ProjectContext { name: "individual-local", variable: "MULTI_CONTEXT_END_TO_END_VAR" };

/// The contexts of the `contexts` job, in the order it reads their variables (and so the order
/// of the values in [`crate::context_digest`]).
pub const CONTEXTS: [ProjectContext; 2] = [ORG_GLOBAL, INDIVIDUAL_LOCAL];

/// A variable in each context realitycheck creates; its presence is the record that
/// realitycheck may change the context.
pub const CREATED_MARKER: &str = "REALITYCHECK_CREATED_THIS_CONTEXT";
