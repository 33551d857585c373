//! The run's one timeout model: the time one attempt of a check may take, by its kind.

use std::time::Duration;

use crate::check::CheckKind;

/// Time allowed to one attempt of a check, by kind: the run's one timeout model. The
/// configuration scales it once; checks and the clients they use read it from here (a check
/// body through its [`crate::Scope`], a suite's clients through [`crate::Suite::prepare`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// A check of a few Kubernetes API calls; also one Kubernetes call.
    pub cluster: Duration,
    /// A check of a few CircleCI API calls; also one API call.
    pub api: Duration,
    /// A check that waits for jobs of a pipeline.
    pub pipeline: Duration,
}

impl Timeouts {
    /// The timeout of a check of `kind`.
    pub fn for_kind(&self, kind: CheckKind) -> Duration {
        match kind {
            CheckKind::Cluster => self.cluster,
            CheckKind::Api => self.api,
            CheckKind::Pipeline => self.pipeline,
        }
    }
}
