//! The API's response bodies, decoded tolerantly: unknown keys ignored, optional fields
//! `Option`, so that older and newer servers both read.

use serde::Deserialize;

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /project/{project-slug}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub organization_slug: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub vcs_info: Option<VcsInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VcsInfo {
    #[serde(default)]
    pub vcs_url: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// An item of `GET /context`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Context {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// An item of `GET /context/{id}/environment-variable` (the value is never returned).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContextVariable {
    pub variable: String,
    #[serde(default)]
    pub context_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// An item of v1.1 `GET /projects`: a project the user behind the token follows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FollowedProject {
    #[serde(default)]
    pub vcs_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub reponame: Option<String>,
    #[serde(default)]
    pub vcs_type: Option<String>,
}

/// The VCS type the API v1.1 names (`github`, `bitbucket`) for the prefix of a project slug
/// (`gh`, `bb`); any other prefix (`circleci`, or a type already spelt out) as it is.
pub fn vcs_type(prefix: &str) -> &str {
    match prefix {
        "gh" => "github",
        "bb" => "bitbucket",
        other => other,
    }
}

impl FollowedProject {
    /// Whether this is the project of `slug` (`gh/org/repo`, `github/org/repo`, `bb/...`).
    pub fn is(&self, slug: &str) -> bool {
        let mut parts = slug.split('/');
        let (Some(vcs), Some(org), Some(repo)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let vcs = vcs_type(vcs);
        let same =
            |field: &Option<String>, value: &str| field.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(value));
        same(&self.username, org)
            && same(&self.reponame, repo)
            && self.vcs_type.as_deref().is_none_or(|kind| kind.eq_ignore_ascii_case(vcs))
    }
}

/// An item of the runner API's `GET /api/v3/runner`: a self-hosted runner that connected.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Runner {
    pub resource_class: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub last_connected: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

/// The runner API's `GET /api/v3/runner/tasks`: jobs of a class waiting for a runner.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnclaimedTasks {
    pub unclaimed_task_count: u64,
}

/// The runner API's lists: `{"items": [...]}`, unpaginated.
#[derive(Debug, Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

/// One page of a list: `{"items": [...], "next_page_token": string | null}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// An OIDC discovery document (`/.well-known/openid-configuration`): the fields realitycheck
/// reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OidcDiscovery {
    #[serde(default)]
    pub issuer: Option<String>,
    pub jwks_uri: String,
}

/// A JSON Web Key Set as an OIDC issuer publishes it: the public keys, by key id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeySet {
    pub keys: Vec<PublishedKey>,
}

/// One key of a [`KeySet`]: what names it (its key material is not read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PublishedKey {
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub kty: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn followed(vcs_type: Option<&str>, username: &str, reponame: &str) -> FollowedProject {
        FollowedProject {
            vcs_url: None,
            username: Some(username.into()),
            reponame: Some(reponame.into()),
            vcs_type: vcs_type.map(Into::into),
        }
    }

    #[test]
    fn a_followed_project_matches_its_slug_in_either_spelling() {
        let project = followed(Some("github"), "Example-Org", "realitycheck");
        assert!(project.is("gh/example-org/realitycheck"));
        assert!(project.is("github/example-org/realitycheck"));
        assert!(!project.is("bb/example-org/realitycheck"));
        assert!(!project.is("gh/example-org/other"));
        assert!(!project.is("gh/example-org"));
        assert!(followed(None, "o", "r").is("gh/o/r"), "an unknown VCS type does not rule it out");
    }
}
