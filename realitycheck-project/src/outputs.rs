//! What the project's jobs store or print, for realitycheck to read back through the API and
//! compare: the artifact's path and content, the test cases of the JUnit file, the step that
//! prints the commit the `checkout` job checked out, the text `circleci env subst` renders,
//! the image the Docker layer caching jobs build, and the lines the `oidc` job prints of its
//! tokens.

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

/// The name of the `env_subst` job's step that renders its template with `circleci env subst`
/// and prints the result.
pub const ENV_SUBST_STEP: &str = "Render a template with circleci env subst";

/// What the `env_subst` job of run `run_id` prints: its template `run ${REALITYCHECK_RUN_ID}:
/// $REALITYCHECK_GREETING` rendered from the job's `environment`.
pub fn env_subst_rendered(run_id: &str) -> String {
    format!("run {run_id}: rendered by circleci env subst\n")
}

/// The name of the step of both Docker layer caching jobs (`remote_docker_dlc`, `machine_dlc`)
/// that builds the image and runs it. Its output holds the build's (where a layer reused from
/// the cache says `CACHED` with BuildKit, `Using cache` with the classic builder), then the run
/// id the image prints as its last line.
pub const DLC_BUILD_STEP: &str = "Build an image with Docker layer caching";

/// The name of the `oidc` job's step.
pub const OIDC_STEP: &str = "Verify the job's OIDC tokens";

/// The first line of the `oidc` job's program (`python3 -`), which names it.
pub const OIDC_PROGRAM_FIRST_LINE: &str = "# realitycheck: verify the job's OIDC tokens (prints claims, never a token)";

/// The variables whose tokens the `oidc` job verifies, in order.
pub const OIDC_TOKEN_VARIABLES: [&str; 2] = ["CIRCLE_OIDC_TOKEN", "CIRCLE_OIDC_TOKEN_V2"];

/// What the `oidc` job prints of one token, one line each, as `oidc <variable> <word>` then
/// the rest: ` <json>` after `header` and `claims` (Python's `json.dumps(..., sort_keys=True)`:
/// `", "` and `": "` separators), `: <text>` after the others. A verified token prints
/// `header`, `claims`, `verified`; a failed one stops at the word that says why. The job fails
/// unless both tokens are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcLine {
    /// The variable is not set or empty.
    Missing,
    /// Not three base64url parts of JSON.
    Malformed,
    /// The token's header (`alg`, `kid`, `typ`).
    Header,
    /// The token's claims.
    Claims,
    /// The signature could not be checked: another algorithm than RS256, the issuer's
    /// discovery document or key set not readable, or no key of the token's `kid` in it.
    Unverified,
    /// The key of the token's `kid` does not verify the signature.
    BadSignature,
    /// The key of the token's `kid` verifies the signature: `: key <kid> of <jwks_uri>`.
    Verified,
}

impl OidcLine {
    /// Every word, in the order a token's lines can come.
    pub const ALL: [OidcLine; 7] = [
        OidcLine::Missing,
        OidcLine::Malformed,
        OidcLine::Header,
        OidcLine::Claims,
        OidcLine::Unverified,
        OidcLine::BadSignature,
        OidcLine::Verified,
    ];

    /// The word after the variable's name.
    pub fn word(self) -> &'static str {
        match self {
            OidcLine::Missing => "missing",
            OidcLine::Malformed => "malformed",
            OidcLine::Header => "header",
            OidcLine::Claims => "claims",
            OidcLine::Unverified => "unverified",
            OidcLine::BadSignature => "bad-signature",
            OidcLine::Verified => "verified",
        }
    }
}
