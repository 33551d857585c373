//! The causes of a run's failures. Failures whose diagnoses carry the same shared-cause key
//! (`harness::SharedCause`) are grouped under it; every other failure is a cause of its own,
//! named by its check's ID. The terminal report states a cause shared by several checks once
//! and lists the checks it explains, the JSON report lists every cause, and the JUnit report
//! names a shared cause in the message of each failure it explains.

use harness::{CheckResult, Diagnosis, Outcome};

/// One cause of failures, and the failed checks it explains.
pub(crate) struct Cause<'a> {
    /// The shared cause's key, or the ID of the one check whose cause it is.
    pub(crate) id: &'a str,
    /// One line naming it: the shared cause's summary, or the diagnosis's.
    pub(crate) summary: &'a str,
    /// The failed checks it explains, with their diagnoses, in plan order; never empty.
    pub(crate) checks: Vec<(&'a CheckResult, &'a Diagnosis)>,
}

impl<'a> Cause<'a> {
    /// The diagnosis of the first check it explains, whose cause, remediation and phase stand
    /// for all of them (diagnoses sharing a key say the same).
    pub(crate) fn first(&self) -> &'a Diagnosis {
        self.checks[0].1
    }

    /// Whether several checks' failures share it, so that reports state it once.
    pub(crate) fn is_shared(&self) -> bool {
        self.checks.len() > 1
    }

    /// What shows the cause: for a shared cause, the evidence the first check observed (the
    /// checks' own lines stay with each check); for a cause of its own, everything observed.
    pub(crate) fn evidence(&self) -> &'a [String] {
        let first = self.first();
        if first.shared_cause.is_some() { first.cause_evidence() } else { &first.observed }
    }

    /// Whether the checks it explains observed other evidence than the first did (then reports
    /// say whose evidence they state).
    pub(crate) fn evidence_differs(&self) -> bool {
        self.checks.iter().any(|(_, diagnosis)| diagnosis.cause_evidence() != self.first().cause_evidence())
    }
}

/// The causes of the failed checks among `results`, in the order of the first check each
/// explains.
pub(crate) fn of(results: &[CheckResult]) -> Vec<Cause<'_>> {
    let mut causes: Vec<Cause<'_>> = Vec::new();
    for result in results {
        let Outcome::Failed { diagnosis } = &result.outcome else { continue };
        let (id, summary) = match &diagnosis.shared_cause {
            Some(shared) => (shared.id.as_str(), shared.summary.as_str()),
            None => (result.spec.id.as_str(), diagnosis.summary.as_str()),
        };
        match causes.iter_mut().find(|cause| cause.id == id) {
            Some(cause) => cause.checks.push((result, diagnosis)),
            None => causes.push(Cause { id, summary, checks: vec![(result, diagnosis)] }),
        }
    }
    causes
}

/// The cause that explains the failed check `id`, if any.
pub(crate) fn of_check<'c, 'a>(causes: &'c [Cause<'a>], id: &str) -> Option<&'c Cause<'a>> {
    causes.iter().find(|cause| cause.checks.iter().any(|(result, _)| result.spec.id == id))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use harness::{CheckKind, CheckSpec};

    use super::*;

    fn failed(id: &str, diagnosis: Diagnosis) -> CheckResult {
        CheckResult {
            spec: CheckSpec::new(id, CheckKind::Pipeline, "x"),
            outcome: Outcome::Failed { diagnosis },
            duration: Duration::ZERO,
            attempts: 1,
            observations: Vec::new(),
        }
    }

    fn queued(job: &str, nodes: &str) -> Diagnosis {
        Diagnosis::new(format!("job {job} is queued"))
            .observed(format!("job {job} (#1) is queued"))
            .shared_cause("no-client", "no client can run docker jobs")
            .observed(nodes)
    }

    #[test]
    fn failures_sharing_a_key_are_one_cause_the_others_their_own() {
        let passed =
            CheckResult { outcome: Outcome::Passed { note: String::new() }, ..failed("a::passed", queued("p", "n")) };
        let results = vec![
            failed("nomad::clients", Diagnosis::new("no client joined").observed("no node")),
            passed,
            failed("executors::docker", queued("docker", "no node")),
            failed("features::cache", queued("cache", "no node")),
            failed(
                "executors::runner",
                Diagnosis::new("no runner").shared_cause("no-runner", "no runner").observed("0"),
            ),
        ];
        let causes = of(&results);
        let ids: Vec<(&str, usize, bool)> = causes.iter().map(|c| (c.id, c.checks.len(), c.is_shared())).collect();
        assert_eq!(ids, [("nomad::clients", 1, false), ("no-client", 2, true), ("no-runner", 1, false)]);
        assert_eq!(causes[0].summary, "no client joined");
        assert_eq!(causes[0].evidence(), ["no node"]);
        assert_eq!(causes[1].summary, "no client can run docker jobs");
        assert_eq!(causes[1].evidence(), ["no node"]);
        assert!(!causes[1].evidence_differs());
        assert_eq!(causes[2].evidence(), ["0"]);
        assert_eq!(of_check(&causes, "features::cache").map(|c| c.id), Some("no-client"));
        assert!(of_check(&causes, "a::passed").is_none());
    }

    #[test]
    fn evidence_is_the_first_checks_and_says_when_others_differ() {
        let results = vec![
            failed("executors::machine", queued("machine", "vm medium")),
            failed("executors::arm", queued("arm", "vm arm")),
        ];
        let causes = of(&results);
        assert_eq!(causes[0].evidence(), ["vm medium"]);
        assert!(causes[0].evidence_differs());
    }
}
