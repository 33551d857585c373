//! How many checks ended each way as the terminal states it ([`harness::Counts`] has the
//! counts), and the grouping of results by suite that the terminal and JUnit reports share.

use harness::{CheckResult, Counts};

/// `1 passed, 1 failed`: only the ways some check ended.
pub(crate) fn nonzero(counts: &Counts) -> String {
    [(counts.passed, "passed"), (counts.flaky, "flaky"), (counts.failed, "failed"), (counts.skipped, "skipped")]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, word)| format!("{count} {word}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The results grouped by suite, suites in the order they first appear in the run.
pub(crate) fn by_suite(results: &[CheckResult]) -> Vec<(&str, Vec<&CheckResult>)> {
    let mut suites: Vec<(&str, Vec<&CheckResult>)> = Vec::new();
    for result in results {
        let suite = result.spec.suite();
        match suites.iter_mut().find(|(name, _)| *name == suite) {
            Some((_, members)) => members.push(result),
            None => suites.push((suite, vec![result])),
        }
    }
    suites
}
