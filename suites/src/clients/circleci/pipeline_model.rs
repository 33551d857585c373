//! Response bodies of the pipeline side of the API: pipelines, workflows, jobs, job
//! details, artifacts, test metadata, and the v1.1 job details whose steps lead to the step
//! output. Status enums keep unknown values instead of failing on a newer server.

use serde::Deserialize;

/// Declares a status enum read from a string, with the values of the spec and an
/// `Unknown` arm that keeps what a newer server may send.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(from = "String")]
        pub enum $name {
            $($variant,)*
            Unknown(String),
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($text => $name::$variant,)*
                    _ => $name::Unknown(text),
                }
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(text) => text,
                }
            }
        }
    };
}

status_enum!(
    /// `Pipeline.state`.
    PipelineState {
        Created = "created",
        Errored = "errored",
        SetupPending = "setup-pending",
        Setup = "setup",
        Pending = "pending",
    }
);

status_enum!(
    /// `Workflow.status`.
    WorkflowStatus {
        Success = "success",
        Running = "running",
        NotRun = "not_run",
        Failed = "failed",
        Error = "error",
        Failing = "failing",
        OnHold = "on_hold",
        Canceled = "canceled",
        Unauthorized = "unauthorized",
    }
);

status_enum!(
    /// `Job.status`, in workflow job lists and job details.
    JobStatus {
        Success = "success",
        Running = "running",
        NotRun = "not_run",
        Failed = "failed",
        Retried = "retried",
        Queued = "queued",
        NotRunning = "not_running",
        InfrastructureFail = "infrastructure_fail",
        Timedout = "timedout",
        OnHold = "on_hold",
        TerminatedUnknown = "terminated-unknown",
        Blocked = "blocked",
        Canceled = "canceled",
        Unauthorized = "unauthorized",
    }
);

impl JobStatus {
    /// The job will not change any more (a retried job is replaced by its rerun).
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self,
            JobStatus::Running
                | JobStatus::Queued
                | JobStatus::NotRunning
                | JobStatus::OnHold
                | JobStatus::Blocked
                | JobStatus::Unknown(_)
        )
    }

    /// The job waits for an executor to take it.
    pub fn is_waiting_for_capacity(&self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::NotRunning)
    }
}

impl WorkflowStatus {
    /// The workflow will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            WorkflowStatus::Success
                | WorkflowStatus::NotRun
                | WorkflowStatus::Failed
                | WorkflowStatus::Error
                | WorkflowStatus::Canceled
                | WorkflowStatus::Unauthorized
        )
    }
}

/// `POST /project/{slug}/pipeline` (201).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PipelineCreation {
    pub id: String,
    pub number: u64,
    pub state: PipelineState,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `GET /pipeline/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub number: u64,
    pub state: PipelineState,
    #[serde(default)]
    pub errors: Vec<PipelineError>,
    #[serde(default)]
    pub project_slug: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub vcs: Option<PipelineVcs>,
    /// The parameters it was triggered with.
    #[serde(default)]
    pub trigger_parameters: serde_json::Map<String, serde_json::Value>,
}

/// What a pipeline built: `vcs` of `GET /pipeline/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PipelineVcs {
    /// The commit (SHA-1).
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PipelineError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// `GET /workflow/{id}` and the items of `GET /pipeline/{id}/workflow`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub name: String,
    pub status: WorkflowStatus,
    #[serde(default)]
    pub pipeline_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

/// An item of `GET /workflow/{id}/job`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkflowJob {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    #[serde(rename = "type")]
    pub kind: String,
    /// Absent for approval jobs and for jobs not yet scheduled.
    #[serde(default)]
    pub job_number: Option<u64>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

/// `GET /project/{slug}/job/{number}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobDetails {
    pub number: u64,
    pub name: String,
    /// Untyped (and sometimes null) on older servers.
    #[serde(default)]
    pub status: Option<JobStatus>,
    pub executor: Executor,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    /// Milliseconds.
    #[serde(default)]
    pub duration: Option<u64>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub queued_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
    /// How many containers the job runs (1 without `parallelism`).
    #[serde(default)]
    pub parallelism: Option<u32>,
    /// Each container's status, by index.
    #[serde(default)]
    pub parallel_runs: Vec<ParallelRun>,
}

/// One container of a job, as v2 job details list it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParallelRun {
    pub index: u32,
    /// A free string (`running`, `success`, …).
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Executor {
    pub resource_class: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedContext {
    pub name: String,
}

/// An item of `GET /project/{slug}/{number}/artifacts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Artifact {
    pub path: String,
    pub node_index: u64,
    pub url: String,
}

/// An item of `GET /project/{slug}/{number}/tests`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestCase {
    pub name: String,
    #[serde(default)]
    pub classname: Option<String>,
    pub result: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub run_time: Option<f64>,
}

/// `GET /api/v1.1/project/{vcs}/{org}/{repo}/{build_num}`: only what leads to step output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildDetails {
    #[serde(default)]
    pub build_num: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub steps: Vec<BuildStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildStep {
    pub name: String,
    #[serde(default)]
    pub actions: Vec<BuildAction>,
}

/// One action of a step, per parallel container.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildAction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub step: Option<u64>,
    #[serde(default)]
    pub has_output: Option<bool>,
    /// Presigned: fetched without the token.
    #[serde(default)]
    pub output_url: Option<String>,
    /// When the step began and ended on this container (RFC 3339).
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
}

/// A line of step output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutputLine {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_are_kept() {
        let job: WorkflowJob = serde_json::from_str(
            r#"{"id":"j","name":"build","status":"waiting-for-godot","type":"build","dependencies":[],"project_slug":"gh/o/r"}"#,
        )
        .unwrap();
        assert_eq!(job.status, JobStatus::Unknown("waiting-for-godot".into()));
        assert_eq!(job.status.as_str(), "waiting-for-godot");
        assert_eq!(job.job_number, None, "approval and unscheduled jobs have no number");
        assert_eq!(JobStatus::from("infrastructure_fail".to_string()), JobStatus::InfrastructureFail);
    }

    #[test]
    fn job_details_with_null_status_and_no_project_id() {
        let details: JobDetails = serde_json::from_str(
            r#"{"number":12,"name":"docker","status":null,"executor":{"resource_class":"medium","type":"docker"},
                "contexts":[{"name":"org-global"}],"duration":65359,"project":{"slug":"gh/o/r","name":"r"},
                "parallel_runs":[{"index":0,"status":"success"}],"messages":[]}"#,
        )
        .unwrap();
        assert_eq!(details.status, None);
        assert_eq!(details.executor.resource_class, "medium");
        assert_eq!(details.contexts[0].name, "org-global");
    }

    #[test]
    fn v1_1_steps_and_output_lines() {
        let build: BuildDetails = serde_json::from_str(
            r#"{"build_num":7,"status":"failed","steps":[{"name":"make","actions":[{"name":"make","status":"failed",
                "exit_code":2,"index":0,"step":101,"has_output":true,"output_url":"https://o.example.com/x?sig=1"}]}]}"#,
        )
        .unwrap();
        assert_eq!(build.steps[0].actions[0].step, Some(101));
        let lines: Vec<OutputLine> =
            serde_json::from_str(r#"[{"message":"boom\r\n","time":"2026-01-01T00:00:00Z","type":"err"}]"#).unwrap();
        assert_eq!(lines[0].stream.as_deref(), Some("err"));
    }
}
