//! The check model: what a check is (a value with an ID, a suite, tags and a body),
//! and what it can conclude (a verdict with a diagnosis or a skip reason).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::observation::Observations;
use crate::suite::Suite;

/// A property of a check that selection, profiles and reports care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tag {
    /// The check changes the installation (triggers pipelines, creates contexts).
    Mutates,
    /// The check needs the Kubernetes API of the installation.
    NeedsCluster,
    /// The check needs the CircleCI API of the installation.
    NeedsApi,
}

impl Tag {
    /// Every tag, in declaration order; [`Tag::parse`] looks names up in it.
    pub const ALL: [Tag; 3] = [Tag::Mutates, Tag::NeedsCluster, Tag::NeedsApi];

    /// The kebab-case name configuration, listings and reports use (`needs-cluster`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Mutates => "mutates",
            Tag::NeedsCluster => "needs-cluster",
            Tag::NeedsApi => "needs-api",
        }
    }

    /// The tag with this kebab-case name, `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|tag| tag.as_str() == name)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a check may take is decided by its kind (see `Timeouts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// A few Kubernetes API calls (list pods, one exec).
    Cluster,
    /// A few CircleCI API calls.
    Api,
    /// Waits for jobs of a pipeline to run.
    Pipeline,
}

impl CheckKind {
    /// The kebab-case name reports print and the profile's `timeouts.<kind>` setting uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Cluster => "cluster",
            CheckKind::Api => "api",
            CheckKind::Pipeline => "pipeline",
        }
    }
}

/// Whether a check applies to the installation under test. Checks that do not apply, or
/// lack a setting they need, are libtest's "ignored" tests: skipped with the reason, unless
/// `--ignored` or `--include-ignored` asks for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability {
    /// The check applies and has what it needs: it runs when selected.
    Applies,
    /// Not for this installation (cloud provider, opt-in feature).
    NotApplicable(String),
    /// A setting the check needs is missing; the reason says which.
    NotConfigured(String),
}

impl Applicability {
    /// Why the check is skipped when not asked for, `None` when it applies.
    pub fn skip_reason(&self) -> Option<SkipReason> {
        match self {
            Applicability::Applies => None,
            Applicability::NotApplicable(why) => Some(SkipReason::NotApplicable(why.clone())),
            Applicability::NotConfigured(why) => Some(SkipReason::NotConfigured(why.clone())),
        }
    }
}

/// Everything about a check except its body: what selection, listing and reports need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckSpec {
    /// Stable ID, `suite::name`; docs, metrics and filters use it.
    pub id: String,
    /// One line: what the check verifies.
    pub summary: String,
    /// Which timeout bounds each attempt (see [`crate::Timeouts`]).
    pub kind: CheckKind,
    /// Sorted and unique; selection, preflights and profiles read them.
    pub tags: Vec<Tag>,
}

impl CheckSpec {
    /// A spec without tags; [`CheckSpec::tagged`] adds them.
    pub fn new(id: impl Into<String>, kind: CheckKind, summary: impl Into<String>) -> Self {
        CheckSpec { id: id.into(), summary: summary.into(), kind, tags: Vec::new() }
    }

    /// Adds `tag`, keeping the tags sorted and unique.
    pub fn tagged(mut self, tag: Tag) -> Self {
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
            self.tags.sort();
        }
        self
    }

    /// The suite is the part of the ID before the first `::`.
    pub fn suite(&self) -> &str {
        self.id.split_once("::").map_or(self.id.as_str(), |(suite, _)| suite)
    }

    /// Whether the check carries `tag`.
    pub fn has_tag(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }
}

/// The part of the installation a fix belongs to. The engine knows no installation: a suite
/// defines its phases as constants, each a stable key and the label reports print, and a
/// diagnosis refers to one (so that it stays small enough to be an error value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Phase {
    key: &'static str,
    label: &'static str,
}

impl Phase {
    /// The phase of stable kebab-case `key` (`nomad-clients`), which reports name `label`
    /// (`Nomad clients`).
    pub const fn new(key: &'static str, label: &'static str) -> Phase {
        Phase { key, label }
    }

    /// The stable kebab-case key.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The name reports print.
    pub fn label(&self) -> &'static str {
        self.label
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label)
    }
}

impl Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label)
    }
}

/// A cause that the failures of several checks may share (one missing part of the
/// installation makes each of them red). Reports state it once, with its evidence, what to do
/// and the phase, and list the checks it explains; the engine knows no cause, only its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedCause {
    /// Stable kebab-case key (`no-nomad-client-for-docker`): diagnoses carrying the same key
    /// stand for the same cause, and carry the same summary, cause, remediation and phase.
    pub id: String,
    /// One line naming the cause for every check it explains.
    pub summary: String,
    /// How many of the diagnosis's first observed lines are the check's own (what its job
    /// did); the lines after them are the cause's evidence.
    pub own_lines: usize,
}

/// Why a failed check failed, in the terms an operator acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// One line: what is wrong.
    pub summary: String,
    /// What was observed: nodes, pods, states, output lines.
    pub observed: Vec<String>,
    /// The likely cause.
    pub cause: String,
    /// What to do about it.
    pub remediation: String,
    /// The part of the installation the fix belongs to.
    pub phase: Option<&'static Phase>,
    /// The cause this failure shares with other checks' failures, if it stands for one
    /// (see [`Diagnosis::shared_cause`]); `None` for a cause of the check's own. Boxed, so that
    /// a diagnosis stays small enough to be an error value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_cause: Option<Box<SharedCause>>,
}

impl Diagnosis {
    /// A diagnosis that only says what is wrong; the other methods add the rest.
    pub fn new(summary: impl Into<String>) -> Self {
        Diagnosis {
            summary: summary.into(),
            observed: Vec::new(),
            cause: String::new(),
            remediation: String::new(),
            phase: None,
            shared_cause: None,
        }
    }

    /// Adds one observed line.
    pub fn observed(mut self, line: impl Into<String>) -> Self {
        self.observed.push(line.into());
        self
    }

    /// Adds several observed lines, in order.
    pub fn observed_all<I: IntoIterator<Item = S>, S: Into<String>>(mut self, lines: I) -> Self {
        self.observed.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Sets the likely cause.
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = cause.into();
        self
    }

    /// Sets what the operator should do about it.
    pub fn remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = remediation.into();
        self
    }

    /// Sets the part of the installation the fix belongs to.
    pub fn phase(mut self, phase: &'static Phase) -> Self {
        self.phase = Some(phase);
        self
    }

    /// Marks the failure as one of those a cause shared with other checks explains, under the
    /// stable kebab-case key `id`, `summary` naming the cause. The lines observed so far are the
    /// check's own (what its job did); those observed after this call are the cause's evidence.
    pub fn shared_cause(mut self, id: impl Into<String>, summary: impl Into<String>) -> Self {
        let own_lines = self.observed.len();
        self.shared_cause = Some(Box::new(SharedCause { id: id.into(), summary: summary.into(), own_lines }));
        self
    }

    /// The observed lines about this check alone: all of them without a shared cause.
    pub fn own_observed(&self) -> &[String] {
        let own = self.shared_cause.as_ref().map_or(self.observed.len(), |shared| shared.own_lines);
        &self.observed[..own.min(self.observed.len())]
    }

    /// The observed lines that are the shared cause's evidence: empty without a shared cause.
    pub fn cause_evidence(&self) -> &[String] {
        &self.observed[self.own_observed().len()..]
    }
}

/// Why a check did not run to a pass or a fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum SkipReason {
    /// The check does not apply to this installation (cloud provider, opt-in feature).
    NotApplicable(String),
    /// Something the check needs is not configured.
    NotConfigured(String),
    /// A preflight check failed, so nothing that needs it ran.
    PreflightFailed {
        /// The name of the preflight that failed.
        preflight: String,
        /// Why it failed.
        message: String,
    },
    /// Another check's failure makes this one meaningless.
    Blocked {
        /// The ID of the check whose failure blocks this one.
        by: String,
        /// What went wrong there.
        reason: String,
    },
    /// The run was interrupted (signal or global deadline) before the check finished.
    Interrupted(String),
}

impl SkipReason {
    /// The kebab-case name of the reason without its detail, as the JSON and JUnit reports
    /// print it (`preflight-failed`).
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::NotApplicable(_) => "not-applicable",
            SkipReason::NotConfigured(_) => "not-configured",
            SkipReason::PreflightFailed { .. } => "preflight-failed",
            SkipReason::Blocked { .. } => "blocked",
            SkipReason::Interrupted(_) => "interrupted",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotApplicable(why) => write!(f, "not applicable: {why}"),
            SkipReason::NotConfigured(why) => write!(f, "not configured: {why}"),
            SkipReason::PreflightFailed { preflight, message } => write!(f, "preflight {preflight} failed: {message}"),
            SkipReason::Blocked { by, reason } => write!(f, "blocked by {by}: {reason}"),
            SkipReason::Interrupted(why) => write!(f, "interrupted: {why}"),
        }
    }
}

/// What one attempt of a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Passed; the note says what was seen ("3 of 3 clients ready").
    Pass(String),
    /// Failed; the diagnosis tells the operator why and what to do.
    Fail(Diagnosis),
    /// Did not run to a pass or a fail, for this reason.
    Skip(SkipReason),
}

/// What a check body is handed besides the run's resources: its own time budget and the
/// run's cancellation, so that it never recomputes them, and where to record what it measured.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The time this attempt may take (the check kind's timeout, already scaled).
    pub timeout: Duration,
    /// When this attempt is called red for taking too long.
    pub deadline: Instant,
    /// Cancelled when the run is interrupted (signal or global deadline).
    pub cancel: CancellationToken,
    /// Where this attempt records what it measured besides its verdict; recorded whatever the
    /// verdict, and kept in the [`crate::CheckResult`] when this is the check's last attempt.
    pub observations: Observations,
}

/// The body of a check: an async function of the run's resources and its [`Scope`].
pub type CheckBody<S> = Arc<dyn Fn(Arc<<S as Suite>::Resources>, Scope) -> BoxFuture<'static, Verdict> + Send + Sync>;

/// A check: its spec, its declaration (what it needs) and its body. Checks are values: a
/// suite builds them, selection picks them, the runner runs them as often as asked.
pub struct Check<S: Suite> {
    /// ID, kind, tags and summary.
    pub spec: CheckSpec,
    /// What the check needs; the suite decides from it whether the check applies and what to
    /// prepare for it.
    pub declaration: S::Declaration,
    /// What the check does.
    pub body: CheckBody<S>,
}

impl<S: Suite> Check<S> {
    /// A check of `spec` that declares `declaration` and runs `body`.
    pub fn new<F, Fut>(spec: CheckSpec, declaration: S::Declaration, body: F) -> Self
    where
        F: Fn(Arc<S::Resources>, Scope) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Verdict> + Send + 'static,
    {
        Check { spec, declaration, body: Arc::new(move |resources, scope| Box::pin(body(resources, scope))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_is_the_id_prefix() {
        let spec = CheckSpec::new("nomad::clients_ready", CheckKind::Cluster, "x");
        assert_eq!(spec.suite(), "nomad");
        let bare = CheckSpec::new("lonely", CheckKind::Api, "x");
        assert_eq!(bare.suite(), "lonely");
    }

    #[test]
    fn a_shared_cause_splits_own_lines_from_its_evidence() {
        let alone = Diagnosis::new("x").observed("a").observed("b");
        assert_eq!(alone.own_observed(), ["a", "b"]);
        assert!(alone.cause_evidence().is_empty());
        let shared = Diagnosis::new("job queued")
            .observed("job `docker` is queued")
            .shared_cause("no-client", "no client can run it")
            .observed_all(["node a: down", "node b: down"]);
        let cause = shared.shared_cause.as_ref().unwrap();
        assert_eq!(
            (cause.id.as_str(), cause.summary.as_str(), cause.own_lines),
            ("no-client", "no client can run it", 1)
        );
        assert_eq!(shared.own_observed(), ["job `docker` is queued"]);
        assert_eq!(shared.cause_evidence(), ["node a: down", "node b: down"]);
        let all_evidence = Diagnosis::new("api failed").shared_cause("api", "the API failed").observed("500");
        assert!(all_evidence.own_observed().is_empty());
        assert_eq!(all_evidence.cause_evidence(), ["500"]);
    }

    #[test]
    fn tags_are_sorted_and_unique() {
        let spec = CheckSpec::new("a::b", CheckKind::Api, "x")
            .tagged(Tag::NeedsApi)
            .tagged(Tag::Mutates)
            .tagged(Tag::NeedsApi);
        assert_eq!(spec.tags, vec![Tag::Mutates, Tag::NeedsApi]);
        assert_eq!(Tag::parse("needs-cluster"), Some(Tag::NeedsCluster));
        assert_eq!(Tag::parse("nope"), None);
    }
}
