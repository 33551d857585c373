//! `api::*`: the token and the project, and the preflight that the API answers at all.

use std::sync::Arc;

use harness::{Check, Diagnosis, Phase, Verdict};

use super::{ProjectHandles, api_check, ids, project_check, retries_note};
use crate::RealityCheck;
use crate::clients::circleci::ApiError;
use crate::resources::Resources;
use crate::resources::api::ApiAccess;

/// The preflight: `GET /me` answers and accepts the token. Its message names what failed,
/// the URL, and what to check.
pub async fn preflight(resources: Arc<Resources>) -> Result<String, String> {
    let Some(api) = &resources.api else {
        return Err("no CircleCI API configured".into());
    };
    match api.me().await {
        Ok(me) => Ok(format!("authenticated as {} at {}{}", me.value.login, api.host(), retries_note(&me.retries))),
        Err(error) => Err(preflight_message(api, &error)),
    }
}

fn preflight_message(api: &ApiAccess, error: &ApiError) -> String {
    let host = api.host();
    match error {
        ApiError::Unreachable { .. } => format!(
            "{error}; check that {host} is the installation's base URL (CIRCLE_HOSTNAME) and that it is reachable from here (DNS, VPN, firewall, load balancer)"
        ),
        ApiError::Tls { .. } => format!(
            "{error}; give the CA that signs the installation's certificate with --ca-bundle FILE (or ca_bundle), or, for a self-signed test install only, --insecure"
        ),
        ApiError::Timeout { .. } => {
            format!(
                "{error}; the API is too slow or a proxy swallows the request; raise timeouts.api if it is merely slow"
            )
        }
        ApiError::Status { status: 401 | 403, .. } => format!(
            "the token was rejected: {error}; CIRCLE_TOKEN must be a personal API token (not a project token), made at {host}/settings/user/tokens"
        ),
        ApiError::Status { status: 404, .. } => {
            format!("{error}; no CircleCI API answers there: is {host} the installation's base URL?")
        }
        ApiError::Status { .. } | ApiError::Decode { .. } => {
            format!("{error}; the API is not healthy: check the api-service and frontend pods")
        }
    }
}

/// A failed API call met by a check after the preflight passed.
pub(crate) fn api_failure(error: &ApiError) -> Diagnosis {
    let diagnosis = Diagnosis::new(error.to_string()).phase(Phase::CircleciApi);
    match error.status() {
        Some(401 | 403) => diagnosis
            .cause("the token lacks the permission (it must be a personal API token of a member of the organization)")
            .remediation(
                "create a personal API token as a user of the project's organization and export it as CIRCLE_TOKEN",
            ),
        Some(429) => diagnosis
            .cause("the API keeps rate limiting this client")
            .remediation("run again later, or raise the frontend's rate limit"),
        Some(status) if status >= 500 => diagnosis
            .cause("the API failed on its side")
            .remediation("check the api-service, contexts-service and frontend pods and their logs"),
        _ => diagnosis
            .cause("the API did not answer as expected")
            .remediation("run again with -vv to see the calls; check the api-service and frontend pods"),
    }
}

pub fn authenticated() -> Check<RealityCheck> {
    api_check(ids::AUTHENTICATED, "GET /api/v2/me accepts the token", |api, _| async move {
        match api.me().await {
            Ok(me) => Verdict::Pass(format!("authenticated as {}{}", me.value.login, retries_note(&me.retries))),
            Err(error) => Verdict::Fail(api_failure(&error)),
        }
    })
}

pub fn project() -> Check<RealityCheck> {
    project_check(
        ids::PROJECT,
        "the realitycheck project exists on the installation and is followed",
        |ProjectHandles { api, project }, _| async move {
            let slug = project.slug();
            match project.project().await {
                Ok(found) => {
                    let organization = found.value.organization_name.as_deref().unwrap_or("unknown organization");
                    let branch =
                        found.value.vcs_info.as_ref().and_then(|v| v.default_branch.as_deref()).unwrap_or("unknown");
                    let client = api.client().scoped();
                    let followed = match client.followed_projects().await {
                        Ok(followed) if followed.iter().any(|p| p.is(&found.value.slug)) => "followed".to_string(),
                        Ok(followed) => return Verdict::Fail(not_followed(&api, &found.value.slug, followed.len())),
                        Err(error) => format!("whether it is followed is unknown: {error}"),
                    };
                    let mut retries = found.retries.clone();
                    retries.extend(client.retries());
                    Verdict::Pass(format!(
                        "{} found and {followed} (organization {organization}, default branch {branch}){}",
                        found.value.slug,
                        retries_note(&retries)
                    ))
                }
                Err(error) if error.status() == Some(404) => Verdict::Fail(
                    Diagnosis::new(format!("project {slug} not found: {error}"))
                        .cause("the project is not set up on this installation, the slug is misspelt, or the token's user cannot see it")
                        .remediation(format!(
                            "push the realitycheck project to your VCS, set it up in the CircleCI UI ({}/projects), and check REALITYCHECK_PROJECT = {slug}",
                            api.host()
                        ))
                        .phase(Phase::RealitycheckProject),
                ),
                Err(error) => Verdict::Fail(api_failure(&error)),
            }
        },
    )
}

fn not_followed(api: &ApiAccess, slug: &str, followed: usize) -> Diagnosis {
    let (vcs, rest) = slug.split_once('/').unwrap_or(("gh", slug));
    let vcs = match vcs {
        "gh" => "github",
        "bb" => "bitbucket",
        other => other,
    };
    Diagnosis::new(format!("project {slug} exists but the token's user does not follow it"))
        .observed(format!("the user follows {followed} other project(s) (GET /api/v1.1/projects)"))
        .cause("CircleCI builds a project only once it is set up and followed; the token's user never followed it")
        .remediation(format!(
            "follow it in the CircleCI UI ({}/projects, Set Up Project), or `curl -X POST -H \"Circle-Token: $CIRCLE_TOKEN\" {}/api/v1.1/project/{vcs}/{rest}/follow`",
            api.host(),
            api.host()
        ))
        .phase(Phase::RealitycheckProject)
}
