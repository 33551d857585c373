//! The CircleCI server API client: API v2 (and v1.1 where v2 has no equivalent), with
//! the `Circle-Token` header, pagination by `next_page_token`, retries that honour
//! `Retry-After` (reads within a time budget, writes a fixed number of times), a timeout on every call, error bodies decoded into typed errors, the latest
//! answers kept for the evidence of red checks, and the token redacted from everything it
//! could reach.

mod client;
pub(crate) mod error;
mod journal;
pub(crate) mod limits;
mod model;
mod pipeline_model;
mod pipelines;

pub use client::{ApiClient, ApiSettings, Retry, RetryPolicy, calls_until};
pub use error::{ApiClientError, ApiError};
pub use journal::Answer;
pub use model::{
    Context, ContextVariable, FollowedProject, KeySet, OidcDiscovery, Project, PublishedKey, Runner, UnclaimedTasks,
    User, VcsInfo, vcs_type,
};
pub use pipeline_model::{
    Artifact, BuildAction, BuildDetails, BuildStep, Executor, JobDetails, JobStatus, NamedContext, OutputLine,
    Pipeline, PipelineCreation, PipelineError, PipelineState, PipelineVcs, TestCase, Workflow, WorkflowJob,
    WorkflowStatus,
};
