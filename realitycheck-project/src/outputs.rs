//! What the project's feature jobs store or print, for realitycheck to read back through the
//! API and compare: the artifact's path and content, the test cases of the JUnit file, and the
//! step that prints the commit the `checkout` job checked out.

/// The name of the `checkout` job's step that prints the commit checked out (`git rev-parse
/// HEAD`), after the `checkout` step.
pub const CHECKOUT_STEP: &str = "Print the commit checked out";

/// The path the `artifacts` job stores its artifact under.
pub const ARTIFACT_PATH: &str = "realitycheck.txt";

/// The content of the artifact the `artifacts` job of run `run_id` stores.
pub fn artifact_content(run_id: &str) -> String {
    format!("realitycheck artifact {run_id}\n")
}

/// A test case the `test_results` job stores.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestCase {
    /// The JUnit `classname`.
    pub classname: String,
    /// The JUnit `name`; it carries the run id.
    pub name: String,
    /// The result as the API reports it (`success`, `skipped`, ...).
    pub result: String,
}

/// The test cases the `test_results` job of run `run_id` stores.
pub fn test_cases(run_id: &str) -> Vec<TestCase> {
    let case = |name: String, result: &str| TestCase {
        classname: "realitycheck.features".to_string(),
        name,
        result: result.to_string(),
    };
    vec![case(format!("run {run_id} passes"), "success"), case(format!("run {run_id} skips"), "skipped")]
}
