//! How many checks ended each way: the counts every report states, overall and per suite,
//! and the grouping of results by suite that the terminal and JUnit reports share.

use harness::{CheckResult, Outcome};

/// Counts of results by outcome; a flaky check is counted as flaky, not as passed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) passed: usize,
    pub(crate) flaky: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
}

impl Tally {
    pub(crate) fn of<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Self {
        let mut tally = Tally::default();
        for result in results {
            match result.outcome {
                Outcome::Passed { .. } => tally.passed += 1,
                Outcome::Flaky { .. } => tally.flaky += 1,
                Outcome::Failed { .. } => tally.failed += 1,
                Outcome::Skipped { .. } => tally.skipped += 1,
            }
        }
        tally
    }

    /// `1 passed, 1 failed`: only the ways some check ended.
    pub(crate) fn nonzero(&self) -> String {
        [(self.passed, "passed"), (self.flaky, "flaky"), (self.failed, "failed"), (self.skipped, "skipped")]
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, word)| format!("{count} {word}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
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
