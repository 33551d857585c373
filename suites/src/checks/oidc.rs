//! `features::oidc_token`: the OIDC tokens the installation gives jobs. The project's `oidc`
//! job verifies both of its tokens (`CIRCLE_OIDC_TOKEN`, `CIRCLE_OIDC_TOKEN_V2`) against the
//! issuer's discovery document and key set from inside the job, and prints their header and
//! claims and the result, never a token (a credential). realitycheck compares the claims with
//! the run it triggered and the issuer the release names, and reads the key set itself to
//! confirm the key id. It applies when the release enables OIDC (`oidc_service.isEnabled`).
//!
//! Parsing what the job printed ([`parse_report`]) is apart from judging it ([`judge_reports`]).

use std::time::Duration;

use harness::{Check, Diagnosis, SkipReason, Verdict};
use realitycheck_project::Job;
use realitycheck_project::outputs::{OIDC_STEP, OIDC_TOKEN_VARIABLES, OidcLine};
use serde_json::{Map, Value};

use super::api::api_failed;
use super::cause::{Because, Cause, StatedBy, causes};
use super::features::{blocking_context, unread_step_output};
use super::jobs::{no_job_number, output_of_step, run_jobs};
use super::{PipelineHandles, cluster_failed, ids, pipeline_check, secrets_forbidden};
use crate::RealityCheck;
use crate::clients::circleci::ApiClient;
use crate::clients::helm::{OidcValues, SERVER_CHART};
use crate::phase;
use crate::resources::cluster::ClusterAccess;

/// How long a token may live when the release does not say (`oidc_service.token_max_ttl`).
const DEFAULT_TOKEN_MAX_TTL: Duration = Duration::from_secs(5 * 3600);

/// The claims that name the run, and whether a token must carry them: servers that predate the
/// pipeline, workflow and job claims still issue usable tokens.
const RUN_CLAIMS: [(&str, RunId, bool); 5] = [
    ("aud", RunId::Organization, true),
    ("oidc.circleci.com/project-id", RunId::Project, true),
    ("oidc.circleci.com/pipeline-id", RunId::Pipeline, false),
    ("oidc.circleci.com/workflow-id", RunId::Workflow, false),
    ("oidc.circleci.com/job-id", RunId::Job, false),
];

causes! {
    StatedBy::Checks(&[ids::OIDC_TOKEN]) => {
        TOKEN_MISSING:
            "the release enables OIDC but the job got no token: the OIDC service is not running, or the services did not pick up the release's change",
            "check the OIDC service's pods (`kubectl -n {namespace} get pods | grep oidc`) and their logs; after changing oidc_service in values.yaml, `helm upgrade` restarts the services that hand out tokens";
        TOKEN_MALFORMED:
            "the variable does not hold a JWT (three base64url parts of JSON): the OIDC service or something between it and the job alters tokens",
            "read the OIDC service's logs (`kubectl -n {namespace} logs <oidc pod>`) and report the server version if the service is healthy";
        WRONG_ISSUER:
            "the tokens name another issuer than the release does (oidc_service.base_url, else https:// and global.domainName): cloud providers set up to trust the installation's issuer refuse them",
            "make oidc_service.base_url (or global.domainName) the URL the cloud providers' identity providers trust, `helm upgrade`, and check that `{issuer}/.well-known/openid-configuration` answers";
        ISSUER_UNREACHABLE_FROM_JOB:
            "the job could not read the issuer's discovery document or key set: the executors cannot reach the issuer (DNS, egress rules, a proxy), or do not trust its certificate",
            "from a job, `curl -v {issuer}/.well-known/openid-configuration` shows which; the issuer must be reachable over HTTPS with a certificate the images trust, as cloud providers fetch the same documents";
        KEY_NOT_PUBLISHED:
            "the key set does not publish the key the tokens are signed with (their `kid`): the OIDC service signs with a key its key set lacks",
            "set oidc_service.json_web_keys to one key set holding the signing key, `helm upgrade`, and compare the `kid` of the tokens with `{issuer}/.well-known/openid-configuration`'s jwks_uri";
        NOT_RS256:
            "the tokens are signed with another algorithm than RS256, which the job verifies and cloud providers expect",
            "generate oidc_service.json_web_keys as RSA keys for RS256, then `helm upgrade`";
        BAD_SIGNATURE:
            "the key the key set publishes under the tokens' key id does not verify their signature: the OIDC service signs with another key than it publishes (json_web_keys changed without restarting it, or replicas holding different keys)",
            "give every OIDC service replica the same oidc_service.json_web_keys and restart them (`helm upgrade`, or `kubectl -n {namespace} rollout restart` of the OIDC service); cloud providers refuse tokens until the published key verifies them";
        OTHER_CLAIMS:
            "the token's claims do not name the job's organization, project or run: the OIDC service issues tokens for other ids than the API reports",
            "report the server version and these claims to CircleCI support; cloud providers' trust policies that match on these claims refuse the tokens";
        LIVES_TOO_LONG:
            "the tokens live longer than the release allows (oidc_service.token_max_ttl)",
            "check oidc_service.token_max_ttl in values.yaml and `helm upgrade`; a token that lives longer is a credential exposed longer";
        KEY_SET_UNREADABLE_HERE:
            "realitycheck could not read the issuer's discovery document or key set from where it runs, though cloud providers must: the issuer is not served at the URL the release names",
            "`curl {issuer}/.well-known/openid-configuration` from here shows the failure; the issuer must serve it, and its jwks_uri, to whoever verifies tokens";
        JOB_PRINTED_NOTHING:
            "the job printed no report of its tokens: the project's config is not the one this realitycheck expects",
            "push the config `realitycheck init` writes to the project's default branch (or pipeline.branch)";
    }
}

pub fn oidc_token() -> Check<RealityCheck> {
    let summary = "a job's OIDC tokens verify against the installation's issuer and name its run (OIDC enabled)";
    pipeline_check(ids::OIDC_TOKEN, summary, vec![Job::oidc()], |handles, scope| async move {
        let issuer = expected_issuer(&handles.cluster).await?;
        let namespace = handles.cluster.namespace().to_string();
        let (run, jobs) = match run_jobs(&handles, &scope).await {
            Err(Verdict::Fail(failed)) => return Err(failed_job(&handles, failed, &issuer, &namespace).await),
            ran => ran?,
        };
        let (workflow, job) = &jobs[0];
        let number = job.job_number.ok_or_else(|| no_job_number(&handles.jobs[0]))?;
        let client = handles.api.client();
        let output = output_of_step(client, &run.slug, number, OIDC_STEP)
            .await
            .map_err(|error| Verdict::Fail(unread_step_output(&Job::oidc(), number, error)))?;
        let project = handles.project.project().await.map_err(|error| api_failed(&*error))?;
        let ids = RunIds {
            organization: project.value.organization_id.clone(),
            project: project.value.id.clone(),
            pipeline: Some(run.id.clone()),
            workflow: Some(workflow.id.clone()),
            job: Some(job.id.clone()),
        };
        let reports = parse_report(&output);
        let published = published_key_ids(client, &issuer.issuer).await;
        let judged = Judged { number, issuer: &issuer, ids: &ids, namespace: &namespace };
        Ok(judge_reports(&judged, &reports, &published))
    })
}

/// The issuer and the longest lifetime the release allows its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// The `iss` the tokens must carry, without a trailing `/`.
    pub issuer: String,
    /// How long a token may live.
    pub max_ttl: Duration,
    /// Where `max_ttl` comes from, for notes.
    pub max_ttl_source: String,
}

impl Issuer {
    /// The issuer of `values`, which must enable OIDC; `release` names the release in reasons.
    fn of(values: &OidcValues, release: &str) -> Result<Issuer, Verdict> {
        if values.enabled != Some(true) {
            let state = values.enabled.map_or("unset (off by default)".to_string(), |enabled| enabled.to_string());
            return Err(Verdict::Skip(SkipReason::NotApplicable(format!(
                "release {release} does not enable OIDC (oidc_service.isEnabled is {state}): jobs get no token"
            ))));
        }
        let issuer = values.issuer().ok_or_else(|| {
            Verdict::Skip(SkipReason::NotConfigured(format!(
                "release {release} enables OIDC but sets neither oidc_service.base_url nor global.domainName: the issuer is unknown"
            )))
        })?;
        let (max_ttl, max_ttl_source) = match values.token_max_ttl.as_deref() {
            None => (DEFAULT_TOKEN_MAX_TTL, "the default oidc_service.token_max_ttl, 5h".to_string()),
            Some(text) => match humantime::parse_duration(text) {
                Ok(ttl) => (ttl, format!("oidc_service.token_max_ttl {text}")),
                Err(_) => (
                    DEFAULT_TOKEN_MAX_TTL,
                    format!("the default 5h: oidc_service.token_max_ttl `{text}` is not a duration realitycheck reads"),
                ),
            },
        };
        Ok(Issuer { issuer, max_ttl, max_ttl_source })
    }
}

/// The issuer of the installation's release, or the verdict of a check that cannot know it:
/// skipped when the release does not enable OIDC or cannot be read (the Role rule to add).
async fn expected_issuer(cluster: &ClusterAccess) -> Result<Issuer, Verdict> {
    let release = cluster.release().await.map_err(|error| cluster_failed(&*error))?;
    if let Err(error) = &release.records {
        return Err(secrets_forbidden(error).unwrap_or_else(|| cluster_failed(error)));
    }
    let record = release.record().ok_or_else(|| {
        Verdict::Skip(SkipReason::NotConfigured(format!(
            "no readable Helm release of chart {SERVER_CHART} in namespace `{}`: whether it enables OIDC is unknown",
            cluster.namespace()
        )))
    })?;
    Issuer::of(&record.oidc, &record.name)
}

/// The ids a token of this run must name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunIds {
    pub organization: Option<String>,
    pub project: Option<String>,
    pub pipeline: Option<String>,
    pub workflow: Option<String>,
    pub job: Option<String>,
}

/// One of [`RunIds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunId {
    Organization,
    Project,
    Pipeline,
    Workflow,
    Job,
}

impl RunIds {
    fn get(&self, id: RunId) -> Option<&str> {
        match id {
            RunId::Organization => self.organization.as_deref(),
            RunId::Project => self.project.as_deref(),
            RunId::Pipeline => self.pipeline.as_deref(),
            RunId::Workflow => self.workflow.as_deref(),
            RunId::Job => self.job.as_deref(),
        }
    }
}

/// What the job printed of one token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenReport {
    /// `CIRCLE_OIDC_TOKEN` or `CIRCLE_OIDC_TOKEN_V2`.
    pub variable: &'static str,
    /// The token's header.
    pub header: Option<Map<String, Value>>,
    /// The token's claims.
    pub claims: Option<Map<String, Value>>,
    /// The line that ended the report (`verified`, or why not), with its text.
    pub end: Option<(OidcLine, String)>,
}

impl TokenReport {
    fn header_text(&self, name: &str) -> Option<&str> {
        self.header.as_ref()?.get(name)?.as_str()
    }

    fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.as_ref()?.get(name)
    }
}

/// The reports of both tokens (in [`OIDC_TOKEN_VARIABLES`]' order) in the output of the job's
/// step; a token the output says nothing of has an empty report. Lines that are not the job's
/// (`oidc <variable> <word>`) are ignored, as is a `header` or `claims` line that is not JSON.
pub fn parse_report(output: &str) -> Vec<TokenReport> {
    let mut reports: Vec<TokenReport> =
        OIDC_TOKEN_VARIABLES.iter().map(|variable| TokenReport { variable, ..TokenReport::default() }).collect();
    for line in output.lines().map(str::trim_end) {
        let Some(rest) = line.strip_prefix("oidc ") else { continue };
        let Some((variable, rest)) = rest.split_once(' ') else { continue };
        let Some(report) = reports.iter_mut().find(|report| report.variable == variable) else { continue };
        let (word, text) = rest.split_once([' ', ':']).map_or((rest, ""), |(word, text)| (word, text));
        let Some(kind) = OidcLine::ALL.into_iter().find(|kind| kind.word() == word) else { continue };
        let text = text.trim_start_matches(':').trim();
        let json = || serde_json::from_str::<Map<String, Value>>(text).ok();
        match kind {
            OidcLine::Header => report.header = json(),
            OidcLine::Claims => report.claims = json(),
            end => report.end = Some((end, text.to_string())),
        }
    }
    reports
}

/// The key ids the issuer publishes, as realitycheck reads them, with the key set's URL; or
/// why they could not be read.
pub type Published = Result<(String, Vec<String>), String>;

async fn published_key_ids(client: &ApiClient, issuer: &str) -> Published {
    let discovery = client.oidc_discovery(issuer).await.map_err(|error| error.to_string())?;
    let keys = client.oidc_key_set(&discovery.jwks_uri).await.map_err(|error| error.to_string())?;
    Ok((discovery.jwks_uri, keys.keys.into_iter().filter_map(|key| key.kid).collect()))
}

/// What one run's reports are judged against.
pub struct Judged<'a> {
    /// The job's number.
    pub number: u64,
    pub issuer: &'a Issuer,
    pub ids: &'a RunIds,
    /// The installation's namespace, for the fixes.
    pub namespace: &'a str,
}

impl Judged<'_> {
    fn fail(&self, report: &TokenReport, summary: String, cause: &'static Cause) -> Verdict {
        let values: &[(&str, &dyn std::fmt::Display)] =
            &[("issuer", &self.issuer.issuer), ("namespace", &self.namespace)];
        let printed = |name: &str, value: &Option<Map<String, Value>>| {
            value.as_ref().map(|value| format!("{} {name}: {}", report.variable, Value::Object(value.clone())))
        };
        let ended = report.end.as_ref().map(|(kind, text)| format!("{} {}: {text}", report.variable, kind.word()));
        Verdict::Fail(
            Diagnosis::new(format!("job `oidc` (#{}): {summary}", self.number))
                .observed_all(printed("header", &report.header))
                .observed_all(printed("claims", &report.claims))
                .observed_all(ended)
                .because(cause.with(values))
                .phase(&phase::OIDC_SERVICE),
        )
    }
}

/// Pass when both tokens were verified in the job, name the release's issuer and this run's
/// organization, project (and pipeline, workflow and job, where the token carries them), live
/// no longer than the release allows, and their key id is one the issuer publishes
/// (`published`). Red names the first claim or step that failed.
pub fn judge_reports(judged: &Judged<'_>, reports: &[TokenReport], published: &Published) -> Verdict {
    let mut absent: Vec<&str> = Vec::new();
    let mut lifetimes: Vec<u64> = Vec::new();
    for report in reports {
        if let Some(red) = judge_token(judged, report, &mut absent, &mut lifetimes) {
            return red;
        }
    }
    let kids: Vec<&str> = reports.iter().filter_map(|report| report.header_text("kid")).collect();
    let (jwks_uri, keys) = match published {
        Ok((jwks_uri, keys)) => (jwks_uri, keys),
        Err(why) => {
            return judged.fail(
                &reports[0],
                format!("the tokens verified in the job, but realitycheck could not read the key set itself: {why}"),
                &KEY_SET_UNREADABLE_HERE,
            );
        }
    };
    if let Some(report) = reports.iter().find(|r| r.header_text("kid").is_none_or(|kid| !keys.iter().any(|k| k == kid)))
    {
        let kid = report.header_text("kid").unwrap_or("(none)");
        return judged.fail(
            report,
            format!(
                "{} is signed with key {kid}, which the key set {jwks_uri} does not publish as realitycheck reads it (it publishes {})",
                report.variable,
                if keys.is_empty() { "no key".to_string() } else { keys.join(", ") }
            ),
            &KEY_NOT_PUBLISHED,
        );
    }
    absent.sort_unstable();
    absent.dedup();
    let unnamed = match absent.as_slice() {
        [] => String::new(),
        claims => format!("; the tokens carry no {}", claims.join(", ")),
    };
    pass_note(judged, reports, &kids, jwks_uri, &lifetimes, &unnamed)
}

/// The pass note: the tokens verified, their key ids and key set, the issuer, the run claims a
/// token lacks (`unnamed`) and the longest lifetime.
fn pass_note(
    judged: &Judged<'_>,
    reports: &[TokenReport],
    kids: &[&str],
    jwks_uri: &str,
    lifetimes: &[u64],
    unnamed: &str,
) -> Verdict {
    let mut kids = kids.to_vec();
    kids.dedup();
    let variables: Vec<&str> = reports.iter().map(|report| report.variable).collect();
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    Verdict::Pass(format!(
        "job `oidc` (#{}) verified {} with key {} of {jwks_uri} (published, as realitycheck read it too); issuer {}, audience and ids of this run's organization, project and job{unnamed}; tokens live {} (at most {}, {})",
        judged.number,
        variables.join(" and "),
        kids.join(", "),
        judged.issuer.issuer,
        harness::humanize(Duration::from_secs(longest)),
        harness::humanize(judged.issuer.max_ttl),
        judged.issuer.max_ttl_source
    ))
}

/// The red of one token's report, if any; the run claims it lacks (those a token may lack)
/// are added to `absent`, its lifetime in seconds to `lifetimes`.
fn judge_token(
    judged: &Judged<'_>,
    report: &TokenReport,
    absent: &mut Vec<&'static str>,
    lifetimes: &mut Vec<u64>,
) -> Option<Verdict> {
    let variable = report.variable;
    let text = report.end.as_ref().map_or("", |(_, text)| text.as_str());
    match report.end.as_ref().map(|(kind, _)| *kind) {
        Some(OidcLine::Missing) => {
            return Some(judged.fail(report, format!("the job got no {variable}"), &TOKEN_MISSING));
        }
        Some(OidcLine::Malformed) => {
            return Some(judged.fail(report, format!("{variable} is not a JWT: {text}"), &TOKEN_MALFORMED));
        }
        _ => {}
    }
    if let Some(red) = wrong_issuer(judged, report) {
        return Some(red);
    }
    match report.end.as_ref().map(|(kind, _)| *kind) {
        Some(OidcLine::Verified) => {}
        Some(OidcLine::BadSignature) => {
            return Some(judged.fail(
                report,
                format!("the signature of {variable} does not verify: {text}"),
                &BAD_SIGNATURE,
            ));
        }
        Some(OidcLine::Unverified) => {
            let cause = if text.contains("has no key") {
                &KEY_NOT_PUBLISHED
            } else if text.starts_with("algorithm") {
                &NOT_RS256
            } else {
                &ISSUER_UNREACHABLE_FROM_JOB
            };
            return Some(judged.fail(report, format!("{variable} could not be verified in the job: {text}"), cause));
        }
        _ => {
            return Some(judged.fail(
                report,
                format!("the job did not say whether {variable} verifies (step `{OIDC_STEP}`)"),
                &JOB_PRINTED_NOTHING,
            ));
        }
    }
    for (claim, id, required) in RUN_CLAIMS {
        let expected = judged.ids.get(id);
        match (report.claim(claim), expected) {
            (None, _) if !required => absent.push(claim),
            (_, None) => {}
            (found, Some(expected)) if !names(found, expected) => {
                let found = found.map_or("nothing".to_string(), Value::to_string);
                return Some(judged.fail(
                    report,
                    format!("claim `{claim}` of {variable} is {found}, not this run's {expected}"),
                    &OTHER_CLAIMS,
                ));
            }
            _ => {}
        }
    }
    let time = |claim: &str| report.claim(claim).and_then(Value::as_u64);
    let lifetime = match (time("iat"), time("exp")) {
        (Some(iat), Some(exp)) if exp > iat => exp - iat,
        (iat, exp) => {
            return Some(judged.fail(
                report,
                format!(
                    "claims `iat` ({}) and `exp` ({}) of {variable} give no lifetime",
                    iat.map_or("absent".into(), |t| t.to_string()),
                    exp.map_or("absent".into(), |t| t.to_string())
                ),
                &OTHER_CLAIMS,
            ));
        }
    };
    if lifetime > judged.issuer.max_ttl.as_secs() {
        return Some(judged.fail(
            report,
            format!(
                "{variable} lives {} (`exp` − `iat`), longer than {} ({})",
                harness::humanize(Duration::from_secs(lifetime)),
                harness::humanize(judged.issuer.max_ttl),
                judged.issuer.max_ttl_source
            ),
            &LIVES_TOO_LONG,
        ));
    }
    lifetimes.push(lifetime);
    None
}

/// The red of a token whose `iss` is not the release's issuer (a trailing `/` aside).
fn wrong_issuer(judged: &Judged<'_>, report: &TokenReport) -> Option<Verdict> {
    let found = report.claim("iss")?;
    let expected = &judged.issuer.issuer;
    if found.as_str().is_some_and(|iss| iss.trim_end_matches('/') == expected) {
        return None;
    }
    Some(judged.fail(
        report,
        format!("claim `iss` of {} is {found}, not the release's issuer \"{expected}\"", report.variable),
        &WRONG_ISSUER,
    ))
}

/// Whether a claim names `expected`: it is that string, or a list holding it (`aud` may be).
fn names(found: Option<&Value>, expected: &str) -> bool {
    match found {
        Some(Value::String(value)) => value == expected,
        Some(Value::Array(values)) => values.iter().any(|value| value.as_str() == Some(expected)),
        _ => false,
    }
}

/// The verdict of a failed `oidc` job: skipped when the context it runs with is unusable;
/// judged from the job's report of its tokens when it printed one; else the job's diagnosis.
async fn failed_job(handles: &PipelineHandles, failed: Diagnosis, issuer: &Issuer, namespace: &str) -> Verdict {
    if let Some(blocked) = blocking_context(handles).await {
        return blocked;
    }
    let Some(run) = handles.pipeline.started() else { return Verdict::Fail(failed) };
    let Some(number) = run.latest().job(&Job::oidc().name).and_then(|(_, job)| job.job_number) else {
        return Verdict::Fail(failed);
    };
    let Ok(output) = output_of_step(handles.api.client(), &run.slug, number, OIDC_STEP).await else {
        return Verdict::Fail(failed);
    };
    let reports = parse_report(&output);
    if reports.iter().all(|report| report.end.is_none()) {
        return Verdict::Fail(failed);
    }
    let ids = RunIds::default();
    let judged = Judged { number, issuer, ids: &ids, namespace };
    let mut absent = Vec::new();
    let red = reports.iter().find_map(|report| judge_token(&judged, report, &mut absent, &mut Vec::new()));
    red.unwrap_or(Verdict::Fail(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://ci.example.com";

    fn issuer() -> Issuer {
        Issuer::of(
            &OidcValues { enabled: Some(true), domain_name: Some("ci.example.com".into()), ..OidcValues::default() },
            "circleci-server",
        )
        .unwrap()
    }

    fn ids() -> RunIds {
        RunIds {
            organization: Some("org-1".into()),
            project: Some("project-1".into()),
            pipeline: Some("pipeline-1".into()),
            workflow: Some("workflow-1".into()),
            job: Some("job-1".into()),
        }
    }

    fn claims(overrides: serde_json::Value) -> serde_json::Value {
        let mut claims = serde_json::json!({
            "aud": "org-1", "exp": 1_800_003_600_u64, "iat": 1_800_000_000_u64, "iss": ISSUER,
            "oidc.circleci.com/job-id": "job-1", "oidc.circleci.com/pipeline-id": "pipeline-1",
            "oidc.circleci.com/project-id": "project-1", "oidc.circleci.com/workflow-id": "workflow-1",
            "sub": "org/org-1/project/project-1/user/u-1",
        });
        for (name, value) in overrides.as_object().unwrap() {
            match value {
                serde_json::Value::Null => claims.as_object_mut().unwrap().remove(name),
                value => claims.as_object_mut().unwrap().insert(name.clone(), value.clone()),
            };
        }
        claims
    }

    /// What the job prints of a token, as Python's `json.dumps(sort_keys=True)` does.
    fn printed(variable: &str, claims: &serde_json::Value, end: &str) -> String {
        let python = |value: &serde_json::Value| value.to_string().replace("\":", "\": ").replace(",\"", ", \"");
        let header = serde_json::json!({"alg": "RS256", "kid": "key-1", "typ": "JWT"});
        format!(
            "oidc {variable} header {}\noidc {variable} claims {}\noidc {variable} {end}\n",
            python(&header),
            python(claims)
        )
    }

    fn output(first: &serde_json::Value, first_end: &str) -> String {
        let verified = "verified: key key-1 of https://ci.example.com/jwks";
        format!(
            "{}{}",
            printed("CIRCLE_OIDC_TOKEN", first, first_end),
            printed("CIRCLE_OIDC_TOKEN_V2", &claims(serde_json::json!({})), verified)
        )
    }

    fn judge(output: &str, published: &Published) -> Verdict {
        let (issuer, ids) = (issuer(), ids());
        let judged = Judged { number: 21, issuer: &issuer, ids: &ids, namespace: "circleci-server" };
        judge_reports(&judged, &parse_report(output), published)
    }

    fn published() -> Published {
        Ok(("https://ci.example.com/jwks".into(), vec!["key-0".into(), "key-1".into()]))
    }

    fn red(verdict: Verdict) -> Diagnosis {
        match verdict {
            Verdict::Fail(diagnosis) => diagnosis,
            other => panic!("not red: {other:?}"),
        }
    }

    const VERIFIED: &str = "verified: key key-1 of https://ci.example.com/jwks";

    #[test]
    fn the_job_s_lines_parse_into_each_token_s_header_claims_and_end() {
        let reports = parse_report(&format!("Python 3.12\r\n{}", output(&claims(serde_json::json!({})), VERIFIED)));
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].variable, "CIRCLE_OIDC_TOKEN");
        assert_eq!(reports[0].header_text("kid"), Some("key-1"));
        assert_eq!(reports[0].claim("aud"), Some(&serde_json::json!("org-1")));
        assert_eq!(reports[0].end, Some((OidcLine::Verified, "key key-1 of https://ci.example.com/jwks".into())));
        let missing = parse_report("oidc CIRCLE_OIDC_TOKEN_V2 missing: the job has no CIRCLE_OIDC_TOKEN_V2\n");
        assert_eq!(
            (missing[0].end.clone(), missing[1].end.clone().map(|(kind, _)| kind)),
            (None, Some(OidcLine::Missing))
        );
        let noise = parse_report(
            "oidc OTHER verified: x\noidc CIRCLE_OIDC_TOKEN claims {not json\noidc CIRCLE_OIDC_TOKEN shrug: x\n",
        );
        assert_eq!(noise[0], TokenReport { variable: "CIRCLE_OIDC_TOKEN", ..TokenReport::default() });
    }

    #[test]
    fn tokens_of_the_release_s_issuer_naming_this_run_pass_with_their_key_and_lifetime() {
        let verdict = judge(&output(&claims(serde_json::json!({})), VERIFIED), &published());
        let Verdict::Pass(note) = verdict else { panic!("{verdict:?}") };
        assert_eq!(
            note,
            "job `oidc` (#21) verified CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2 with key key-1 of https://ci.example.com/jwks (published, as realitycheck read it too); issuer https://ci.example.com, audience and ids of this run's organization, project and job; tokens live 1h (at most 5h, the default oidc_service.token_max_ttl, 5h)"
        );
        let older = claims(serde_json::json!({"oidc.circleci.com/job-id": null, "aud": ["org-1"]}));
        let Verdict::Pass(note) = judge(&output(&older, VERIFIED), &published()) else { panic!() };
        assert!(note.contains("; the tokens carry no oidc.circleci.com/job-id;"), "{note}");
    }

    #[test]
    fn red_names_the_claim_or_the_step_that_failed() {
        let wrong_iss = claims(serde_json::json!({"iss": "https://circleci-old.example.com"}));
        let unreachable = "unverified: reading https://circleci-old.example.com/.well-known/openid-configuration and its key set failed: <urlopen error [Errno -2] Name or service not known>";
        let diagnosis = red(judge(&output(&wrong_iss, unreachable), &published()));
        assert_eq!(
            diagnosis.summary,
            "job `oidc` (#21): claim `iss` of CIRCLE_OIDC_TOKEN is \"https://circleci-old.example.com\", not the release's issuer \"https://ci.example.com\""
        );
        assert_eq!(diagnosis.cause, WRONG_ISSUER.cause());
        assert!(
            diagnosis.remediation.contains("`https://ci.example.com/.well-known/openid-configuration`"),
            "{diagnosis:?}"
        );
        assert!(diagnosis.observed.iter().any(|line| line.contains("Name or service not known")), "{diagnosis:?}");
        assert_eq!(diagnosis.phase.map(|p| p.key()), Some("oidc-service"));

        let fine = claims(serde_json::json!({}));
        let cases: [(&str, &serde_json::Value, &Cause); 7] = [
            ("bad-signature: key key-1 of https://ci.example.com/jwks does not verify it", &fine, &BAD_SIGNATURE),
            ("unverified: the key set https://ci.example.com/jwks has no key key-9", &fine, &KEY_NOT_PUBLISHED),
            ("unverified: algorithm HS256, this job verifies RS256", &fine, &NOT_RS256),
            (
                "unverified: reading x failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]>",
                &fine,
                &ISSUER_UNREACHABLE_FROM_JOB,
            ),
            (VERIFIED, &claims(serde_json::json!({"aud": "org-2"})), &OTHER_CLAIMS),
            (VERIFIED, &claims(serde_json::json!({"oidc.circleci.com/project-id": null})), &OTHER_CLAIMS),
            (VERIFIED, &claims(serde_json::json!({"exp": 1_800_000_000_u64 + 6 * 3600})), &LIVES_TOO_LONG),
        ];
        for (end, claims, cause) in cases {
            let diagnosis = red(judge(&output(claims, end), &published()));
            assert_eq!(diagnosis.cause, cause.cause(), "{end}: {diagnosis:?}");
            assert!(diagnosis.summary.contains("CIRCLE_OIDC_TOKEN "), "{diagnosis:?}");
        }
        let aud = red(judge(&output(&claims(serde_json::json!({"aud": "org-2"})), VERIFIED), &published()));
        assert!(
            aud.summary.ends_with("claim `aud` of CIRCLE_OIDC_TOKEN is \"org-2\", not this run's org-1"),
            "{aud:?}"
        );
        let long = red(judge(
            &output(&claims(serde_json::json!({"exp": 1_800_000_000_u64 + 6 * 3600})), VERIFIED),
            &published(),
        ));
        assert!(long.summary.ends_with("CIRCLE_OIDC_TOKEN lives 6h (`exp` − `iat`), longer than 5h (the default oidc_service.token_max_ttl, 5h)"), "{long:?}");

        let missing = red(judge("oidc CIRCLE_OIDC_TOKEN missing: the job has no CIRCLE_OIDC_TOKEN\n", &published()));
        assert_eq!(missing.cause, TOKEN_MISSING.cause());
        assert!(missing.remediation.contains("kubectl -n circleci-server get pods | grep oidc"), "{missing:?}");
        assert_eq!(red(judge("", &published())).cause, JOB_PRINTED_NOTHING.cause());
    }

    #[test]
    fn the_key_id_must_be_one_realitycheck_reads_in_the_key_set_itself() {
        let fine = output(&claims(serde_json::json!({})), VERIFIED);
        let rotated: Published = Ok(("https://ci.example.com/jwks".into(), vec!["key-2".into()]));
        let diagnosis = red(judge(&fine, &rotated));
        assert_eq!(diagnosis.cause, KEY_NOT_PUBLISHED.cause());
        assert!(diagnosis.summary.contains("signed with key key-1, which the key set https://ci.example.com/jwks does not publish as realitycheck reads it (it publishes key-2)"), "{diagnosis:?}");
        let unreadable = red(judge(&fine, &Err("GET OIDC discovery document: connection refused".into())));
        assert_eq!(unreadable.cause, KEY_SET_UNREADABLE_HERE.cause());
    }

    #[test]
    fn the_release_decides_whether_the_check_applies_and_the_issuer() {
        let off = OidcValues { domain_name: Some("ci.example.com".into()), ..OidcValues::default() };
        assert_eq!(
            Issuer::of(&off, "circleci-server"),
            Err(Verdict::Skip(SkipReason::NotApplicable(
                "release circleci-server does not enable OIDC (oidc_service.isEnabled is unset (off by default)): jobs get no token".into()
            )))
        );
        let disabled = OidcValues { enabled: Some(false), ..off.clone() };
        assert!(
            matches!(Issuer::of(&disabled, "r"), Err(Verdict::Skip(SkipReason::NotApplicable(why))) if why.contains("isEnabled is false"))
        );
        let nameless = OidcValues { enabled: Some(true), ..OidcValues::default() };
        assert!(matches!(Issuer::of(&nameless, "r"), Err(Verdict::Skip(SkipReason::NotConfigured(_)))));
        let set = OidcValues {
            enabled: Some(true),
            base_url: Some("https://oidc.example.com/".into()),
            token_max_ttl: Some("2h".into()),
            ..off.clone()
        };
        assert_eq!(
            Issuer::of(&set, "r"),
            Ok(Issuer {
                issuer: "https://oidc.example.com".into(),
                max_ttl: Duration::from_secs(7200),
                max_ttl_source: "oidc_service.token_max_ttl 2h".into()
            })
        );
        let odd = OidcValues { token_max_ttl: Some("five hours".into()), ..set };
        assert_eq!(Issuer::of(&odd, "r").unwrap().max_ttl, DEFAULT_TOKEN_MAX_TTL);
    }
}
